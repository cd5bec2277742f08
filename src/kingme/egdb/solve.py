"""Retrograde analysis of one material signature (and its colour flip), in compiled chunks.

A signature S = (bm, bk, wm, wk) is solved together with its flip F = (wm, wk, bm, bk): a quiet move
(a step that neither captures nor crowns) of a Black-to-move position of S leads to a White-to-move
position with the same material, which is the Black-to-move position of F turned round. Every
other move (a capture, a crowning) leads into a table solved earlier (`index.signatures`' order).

The classic algorithm, with a counter per position:

1. **Initialise** (`init_chunk`). For each position p: no legal move -> LOSS in 0 plies. A move into
   an earlier table whose result is LOSS (for the opponent, who moves next) -> WIN in 1. Otherwise
   ``count[p]`` = the number of quiet moves, plus one for each move into an earlier table that is a
   DRAW (such a move is never refuted, so p can then never be lost); if ``count[p]`` is 0 every move
   leads into an earlier table to an opponent's WIN -> LOSS in 1.
2. **Propagate**, level by level (`propagate_chunk`): for each position q resolved at depth d, each
   predecessor p by a quiet move (`unmove`: the opponent's piece steps back, and the step must have
   been legal: captures are compulsory, so p must have no capture) gets: q LOSS -> p WIN at depth
   d + 1; q WIN -> ``count[p] -= 1``, and at 0 p is a LOSS at depth d + 1.
3. Whatever is unresolved when no level is left is a DRAW: neither side can force a result.

Depth is plies to *conversion*: to the end of the game or the first capture or crowning (the
winner takes the fastest route, the loser the slowest). It is not stored on disk; its maximum per
signature is recorded (the 80-ply rule's relevance, docs/endgames.md).

**The 80-ply rule** (kingme draws a game after 80 plies without a capture or a man move): the same
analysis with every man's step counted as an exit too (``zeroing``; the exits' results read from
the solved tables) gives each won or lost position its distance to the next *zeroing* move (a
capture, a crowning or a man's step, the moves that reset the rule's clock), with the winner
hurrying and the loser holding out. If no position's distance exceeds 80 plies, the rule never
changes a result from a position with a fresh clock (`kingme.egdb.build.zeroing`).

Every function works on an index range ``[lo, hi)`` and returns within a fraction of a second, so
the Python driver checks Ctrl-C and draws progress between calls.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kingme.checkers.core import MAX_MOVES, VALID, generate_children, jumpers, shift
from kingme.egdb.index import (
    DRAW,
    INVALID,
    LOSS,
    WIN,
    index_of,
    popcount,
    probe_canonical,
    rotate,
    to_bits,
    to_squares,
    unindex,
)

U64 = np.uint64
_ZERO = U64(0)
_ONE = U64(1)
UNSET = np.uint16(0xFFFF)  # depth of an unresolved position
COUNT_DRAW = 100  # added to a counter by a move into an earlier table's draw: never reaches 0


@njit(cache=True, nogil=True)
def init_chunk(
    val: np.ndarray,
    cnt: np.ndarray,
    dep: np.ndarray,
    sig: np.ndarray,
    flip: np.ndarray,
    data: np.ndarray,
    offsets: np.ndarray,
    lo: int,
    hi: int,
    zeroing: bool,
) -> int:
    """Step 1 for indices lo..hi-1 of the table of ``sig`` (val/cnt/dep: its result, counter and
    depth arrays); ``flip`` is the flipped signature; earlier tables are read from the store
    (``data``, ``offsets``). Returns the number of positions resolved.

    With ``zeroing`` (the 80-ply rule's analysis, `zeroing` below) a man's step is also an exit,
    read from the store, which must then hold this pair's solved tables too."""
    nbm, nbk, nwm, nwk = sig[0], sig[1], sig[2], sig[3]
    buf = np.empty((MAX_MOVES, 3), dtype=np.uint64)
    resolved = 0
    for i in range(lo, hi):
        bm, bk, wm, wk, ok = unindex(i, nbm, nbk, nwm, nwk)
        if not ok:
            val[i] = INVALID
            continue
        black = to_bits(bm | bk)
        white = to_bits(wm | wk)
        kings = to_bits(bk | wk)
        n = generate_children(black, white, kings, 0, buf)
        if n == 0:
            val[i] = LOSS
            dep[i] = 0
            resolved += 1
            continue
        count = 0
        won = False
        for j in range(n):
            # the child from Black's view (P' = Black, O' = White), as its Black-to-move twin
            cb = rotate(buf[j, 1])
            cw = rotate(buf[j, 0])
            ck = rotate(buf[j, 2])
            c_bm = int(popcount(cb & ~ck))
            c_bk = int(popcount(cb & ck))
            c_wm = int(popcount(cw & ~ck))
            c_wk = int(popcount(cw & ck))
            quiet = c_bm == flip[0] and c_bk == flip[1] and c_wm == flip[2] and c_wk == flip[3]
            if quiet and (not zeroing or (buf[j, 0] & ~buf[j, 2]) == (black & ~kings)):
                count += 1  # a quiet move (with ``zeroing``, a king's): resolved by propagation
                continue
            v = probe_canonical(data, offsets, cb, cw, ck)
            if v == LOSS:
                won = True
                break
            if v == DRAW:
                count += COUNT_DRAW
            # v == WIN: a refuted move, not counted (v < 0 cannot happen: the build order)
        if won:
            val[i] = WIN
            dep[i] = 1
            resolved += 1
        elif count == 0:
            val[i] = LOSS
            dep[i] = 1
            resolved += 1
        else:
            cnt[i] = min(count, 255)
    return resolved


@njit(cache=True, nogil=True)
def propagate_chunk(
    src_val: np.ndarray,
    src_dep: np.ndarray,
    src_sig: np.ndarray,
    dst_val: np.ndarray,
    dst_cnt: np.ndarray,
    dst_dep: np.ndarray,
    level: int,
    lo: int,
    hi: int,
    zeroing: bool,
) -> int:
    """Step 2 for the positions q at indices lo..hi-1 of the source table resolved at depth
    ``level``: update their predecessors, which live in the destination table (the flipped
    signature's, possibly the same table). Returns the number of predecessors newly resolved.
    With ``zeroing`` only kings' steps are undone."""
    nbm, nbk, nwm, nwk = src_sig[0], src_sig[1], src_sig[2], src_sig[3]
    lvl = np.uint16(level)
    new = 0
    for i in range(lo, hi):
        if src_dep[i] != lvl:
            continue
        v = src_val[i]
        if v != WIN and v != LOSS:
            continue
        bm, bk, wm, wk, _ = unindex(i, nbm, nbk, nwm, nwk)
        B = to_bits(bm | bk)
        W = to_bits(wm | wk)
        K = to_bits(bk | wk)
        empty = VALID & ~(B | W)
        # White (in q's frame) made the last move: a quiet step of one of its pieces, undone
        pieces = W
        while pieces != _ZERO:
            t = pieces & (~pieces + _ONE)
            pieces ^= t
            is_king = K & t != _ZERO
            if zeroing and not is_king:
                continue
            for d in range(4):
                if not is_king and d >= 2:
                    continue  # a White man came up the board: it stepped from +4 or +5 below
                f = shift(t, d) & empty
                if f == _ZERO:
                    continue
                Wp = W ^ t ^ f
                Kp = (K ^ t ^ f) if is_king else K
                if jumpers(Wp, B, Kp, 1) != _ZERO:
                    continue  # White had a capture there, so this step was not legal
                pb = rotate(Wp)
                pw = rotate(B)
                pk = rotate(Kp)
                j = index_of(to_squares(pb & ~pk), to_squares(pb & pk), to_squares(pw & ~pk), to_squares(pw & pk))
                if dst_dep[j] != np.uint16(0xFFFF):
                    continue  # already resolved
                if v == LOSS:
                    dst_val[j] = WIN
                    dst_dep[j] = lvl + np.uint16(1)
                    new += 1
                else:
                    dst_cnt[j] -= np.uint8(1)
                    if dst_cnt[j] == 0:
                        dst_val[j] = LOSS
                        dst_dep[j] = lvl + np.uint16(1)
                        new += 1
    return new


@njit(cache=True, nogil=True)
def pack_chunk(val: np.ndarray, out: np.ndarray, lo: int, hi: int) -> None:
    """Pack ``val[lo:hi]`` (lo a multiple of 4) at 2 bits an entry into ``out`` (`index.read2`)."""
    for i in range(lo, hi):
        out[i >> 2] |= np.uint8(val[i] & 3) << np.uint8(2 * (i & 3))
