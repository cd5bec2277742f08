"""Indexing endgame positions: a material signature's positions as the integers 0..size-1.

Every table holds positions with **Black to move**; a position with White to move is read from the
table of its colour-flipped twin (the board turned 180 degrees, colours swapped: square s -> 33 - s),
which has the same value. So one table per material signature ``(bm, bk, wm, wk)`` (Black men,
Black kings, White men, White kings) covers both sides to move, and the tables together hold each
position of the board exactly once, with or without a side to move (the convention of the
published counts, `PUBLISHED_COUNTS`).

Squares here are 0..31 (standard square - 1). A Black man stands on 0..27 (never on its crowning
row 28..31), a White man on 4..31. The index of a position is a mixed-radix number of four
combinatorial (colex) ranks::

    index = ((r_bm * C(28, wm) + r_wm) * C(32 - bm - wm, bk) + r_bk) * C(32 - bm - wm - bk, wk) + r_wk

    r_bm = Σ_i C(s_i, i + 1)            over the Black men's squares s_0 < s_1 < ..., in 0..27
    r_wm = Σ_i C(s_i - 4, i + 1)        over the White men's squares, in 4..31
    r_bk = Σ_i C(t_i, i + 1)            t = the square's rank among the squares no man stands on
    r_wk = Σ_i C(u_i, i + 1)            u = the rank among squares no man or Black king stands on

The men are ranked independently, so an index whose Black and White men share a square names no
position (`INVALID`: a few percent of each table with men of both colours); the kings fill the
squares left exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np
from numba import njit

from kingme.checkers.core import BIT_SQUARES, SQUARE_BITS
from kingme.checkers.core import popcount as _popcount_intrinsic

U64 = np.uint64
popcount = cast(Callable[[np.uint64], int], _popcount_intrinsic)  # typed for mypy
_ONE = U64(1)
_ZERO = U64(0)

MAX_PIECES = 6  # signature arrays are sized for up to this many pieces
DIM = MAX_PIECES + 1  # the offset table's side: counts 0..MAX_PIECES

# Results stored per position (2 bits), from the side to move's point of view.
DRAW = 0  # neither side can force a win (also: not yet resolved, during the build)
WIN = 1
LOSS = 2
INVALID = 3  # the index names no position (men of both colours on one square)

RESULT_NAMES = {WIN: "win", DRAW: "draw", LOSS: "loss"}

# Positions with n pieces on the board, side to move not counted (one-sided positions included):
# J. Schaeffer et al., "Solving checkers" (IJCAI 2005) / "Checkers is solved" (Science 2007), Table 1.
PUBLISHED_COUNTS = {1: 120, 2: 6_972, 3: 261_224, 4: 7_092_774, 5: 148_688_232, 6: 2_503_611_964}


def _binomials(n: int, k: int) -> np.ndarray:
    c = np.zeros((n + 1, k + 1), dtype=np.int64)
    for i in range(n + 1):
        c[i, 0] = 1
        for j in range(1, min(i, k) + 1):
            c[i, j] = c[i - 1, j - 1] + (c[i - 1, j] if j <= i - 1 else 0)
    return c


BINOM = _binomials(32, MAX_PIECES)  # BINOM[n, k] = C(n, k), k <= MAX_PIECES
SQ_BITS = SQUARE_BITS.copy()  # square 0..31 -> padded bit
BIT_SQ = (BIT_SQUARES - 1).copy()  # padded bit -> square 0..31 (-1 for ghost bits)


def table_size(bm: int, bk: int, wm: int, wk: int) -> int:
    """Number of indices of a signature's table (valid positions plus `INVALID` ones)."""
    return int(BINOM[28, bm] * BINOM[28, wm] * BINOM[32 - bm - wm, bk] * BINOM[32 - bm - wm - bk, wk])


def flip_signature(sig: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The signature of the colour-flipped positions: (bm, bk, wm, wk) -> (wm, wk, bm, bk)."""
    bm, bk, wm, wk = sig
    return (wm, wk, bm, bk)


def signatures(max_pieces: int) -> list[tuple[int, int, int, int]]:
    """Every signature with 1..max_pieces pieces, in build order: fewer pieces first, then fewer men
    (a capture removes a piece, a crowning turns a man into a king, so every position a move leads
    to out of its own signature lies in an earlier one), a signature just before its flip."""
    out = []
    for n in range(1, max_pieces + 1):
        for men in range(n + 1):
            for bm in range(men + 1):
                wm = men - bm
                for bk in range(n - men + 1):
                    wk = n - men - bk
                    out.append((bm, bk, wm, wk))
    return out


# ------------------------------------------------------------------------------------------------
# Squares <-> bitboards (numba)


@njit(cache=True)
def to_squares(bb: np.uint64) -> np.uint64:
    """A padded bitboard as a 32-bit mask of squares 0..31."""
    out = _ZERO
    while bb != _ZERO:
        b = bb & (~bb + _ONE)
        bb ^= b
        out |= _ONE << U64(BIT_SQ[int(popcount(b - _ONE))])
    return out


@njit(cache=True)
def to_bits(sq: np.uint64) -> np.uint64:
    """A mask of squares 0..31 as a padded bitboard."""
    out = _ZERO
    while sq != _ZERO:
        b = sq & (~sq + _ONE)
        sq ^= b
        out |= _ONE << U64(SQ_BITS[int(popcount(b - _ONE))])
    return out


@njit(cache=True)
def rotate(bb: np.uint64) -> np.uint64:
    """The padded bitboard turned 180 degrees (square s -> 33 - s)."""
    out = _ZERO
    while bb != _ZERO:
        b = bb & (~bb + _ONE)
        bb ^= b
        s = BIT_SQ[int(popcount(b - _ONE))]
        out |= _ONE << U64(SQ_BITS[31 - s])
    return out


# ------------------------------------------------------------------------------------------------
# Rank and unrank


@njit(cache=True)
def _colex_rank(mask: np.uint64, shift_by: int, below: np.uint64) -> int:
    """Σ_i C(t_i, i+1) over the set squares s_i of ``mask`` (ascending), where t_i = s_i - shift_by
    - (number of squares of ``below`` under s_i)."""
    r = 0
    i = 1
    while mask != _ZERO:
        b = mask & (~mask + _ONE)
        mask ^= b
        s = int(popcount(b - _ONE))
        t = s - shift_by - int(popcount(below & (b - _ONE)))
        r += BINOM[t, i]
        i += 1
    return r


@njit(cache=True)
def index_of(bm: np.uint64, bk: np.uint64, wm: np.uint64, wk: np.uint64) -> int:
    """The index of a Black-to-move position given as square masks (0..31) of each kind of piece,
    in the table of its signature (the counts of the four masks)."""
    nbm = int(popcount(bm))
    nwm = int(popcount(wm))
    nbk = int(popcount(bk))
    nwk = int(popcount(wk))
    men = bm | wm
    r_bm = _colex_rank(bm, 0, _ZERO)
    r_wm = _colex_rank(wm, 4, _ZERO)
    r_bk = _colex_rank(bk, 0, men)
    r_wk = _colex_rank(wk, 0, men | bk)
    idx = r_bm * BINOM[28, nwm] + r_wm
    idx = idx * BINOM[32 - nbm - nwm, nbk] + r_bk
    return idx * BINOM[32 - nbm - nwm - nbk, nwk] + r_wk


@njit(cache=True)
def _colex_unrank(r: int, k: int) -> np.uint64:
    """The k-subset of {0, 1, ...} whose colex rank is r, as a bit mask."""
    out = _ZERO
    for i in range(k, 0, -1):
        p = i - 1
        while BINOM[p + 1, i] <= r:
            p += 1
        r -= BINOM[p, i]
        out |= _ONE << U64(p)
    return out


@njit(cache=True)
def _spread(mask: np.uint64, occupied: np.uint64) -> np.uint64:
    """Map rank t (bit t of ``mask``) to the t-th square (0..31) not in ``occupied``."""
    out = _ZERO
    t = 0
    for s in range(32):
        b = _ONE << U64(s)
        if occupied & b != _ZERO:
            continue
        if mask & (_ONE << U64(t)) != _ZERO:
            out |= b
        t += 1
    return out


@njit(cache=True)
def unindex(
    idx: int, nbm: int, nbk: int, nwm: int, nwk: int
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64, bool]:
    """The square masks (bm, bk, wm, wk) at ``idx`` of a signature's table, and whether the index
    names a position (False: the two colours' men overlap)."""
    c_wk = BINOM[32 - nbm - nwm - nbk, nwk]
    c_bk = BINOM[32 - nbm - nwm, nbk]
    c_wm = BINOM[28, nwm]
    r_wk = idx % c_wk
    idx //= c_wk
    r_bk = idx % c_bk
    idx //= c_bk
    r_wm = idx % c_wm
    r_bm = idx // c_wm
    bm = _colex_unrank(r_bm, nbm)
    wm = _colex_unrank(r_wm, nwm) << U64(4)
    if bm & wm != _ZERO:
        return bm, _ZERO, wm, _ZERO, False
    men = bm | wm
    bk = _spread(_colex_unrank(r_bk, nbk), men) if nbk > 0 else _ZERO
    wk = _spread(_colex_unrank(r_wk, nwk), men | bk) if nwk > 0 else _ZERO
    return bm, bk, wm, wk, True


# ------------------------------------------------------------------------------------------------
# Probing a store of tables


@njit(cache=True)
def read2(data: np.ndarray, offset: int, idx: int) -> int:
    """The 2-bit entry ``idx`` of the packed table starting at byte ``offset`` (4 entries a byte,
    entry i in bits 2*(i % 4)..2*(i % 4)+1 of byte i // 4)."""
    return int((data[offset + (idx >> 2)] >> np.uint8(2 * (idx & 3))) & np.uint8(3))


@njit(cache=True)
def probe_canonical(data: np.ndarray, offsets: np.ndarray, black: np.uint64, white: np.uint64, kings: np.uint64) -> int:
    """Result for the side to move of a Black-to-move position (padded bitboards), or -1 when its
    signature's table is not in the store (``offsets[bm, bk, wm, wk] < 0``)."""
    bm_bb = black & ~kings
    wm_bb = white & ~kings
    nbm = int(popcount(bm_bb))
    nbk = int(popcount(black & kings))
    nwm = int(popcount(wm_bb))
    nwk = int(popcount(white & kings))
    if nbm >= DIM or nbk >= DIM or nwm >= DIM or nwk >= DIM:
        return -1
    off = offsets[nbm, nbk, nwm, nwk]
    if off < 0:
        return -1
    idx = index_of(to_squares(bm_bb), to_squares(black & kings), to_squares(wm_bb), to_squares(white & kings))
    return read2(data, off, idx)


@njit(cache=True)
def probe(
    data: np.ndarray, offsets: np.ndarray, black: np.uint64, white: np.uint64, kings: np.uint64, side: int
) -> int:
    """Result for the side to move (WIN, DRAW, LOSS) of any position, -1 if not covered: a
    White-to-move position is read as its colour-flipped twin."""
    if side == 0:
        return probe_canonical(data, offsets, black, white, kings)
    return probe_canonical(data, offsets, rotate(white), rotate(black), rotate(kings))
