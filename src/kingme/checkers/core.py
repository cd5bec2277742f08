"""The compiled heart of the engine: bitboards, move generation, perft, random games.

Board layout (the "padded 35-bit" layout). Square s (1..32, standard numbering, Black's men start on
1-12 at the top, White's on 21-32) lives at bit ``s - 1 + (s - 1) // 8``::

        col: 0  1  2  3  4  5  6  7          bits
    row 0      1     2     3     4           0  1  2  3
    row 1   5     6     7     8              4  5  6  7      (bit 8 is a ghost)
    row 2      9    10    11    12           9 10 11 12
    row 3  13    14    15    16             13 14 15 16      (bit 17 is a ghost)
    row 4     17    18    19    20          18 19 20 21
    row 5  21    22    23    24             22 23 24 25      (bit 26 is a ghost)
    row 6     25    26    27    28          27 28 29 30
    row 7  29    30    31    32             31 32 33 34

With the ghost bits, every diagonal step is a shift of the whole bitboard by 4 or 5 bits: +4 and +5
go down the board (towards square 32, Black's forward), -4 and -5 go up (White's forward). A step off
the side of the board lands on a ghost bit or outside bits 0..34, which ``VALID`` masks away, so no
per-edge masks are needed.

Directions are numbered ``0: +4, 1: +5, 2: -4, 3: -5``; ``d ^ 2`` is the opposite direction.

A position is four values: ``black``, ``white``, ``kings`` (both colours) and ``side`` (0 = Black
to move, 1 = White). Inside the generator a position is seen from the side to move: ``P`` (its
pieces), ``O`` (the opponent's) and ``K``. Generated children are written as rows ``(P', O', K')``
still from the mover's point of view; the caller swaps P and O for the next ply.

This module imports nothing from the rest of kingme but `kingme.checkers.interrupt` (the control
array its long loops poll, so that Ctrl-C stops them) and never imports torch.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from kingme.checkers.interrupt import POLL, interruptible, new_control, poll

U64 = np.uint64

# ----------------------------------------------------------------------------------------------
# Constants


def square_to_bit(square: int) -> int:
    """Bit index of a standard square number 1..32."""
    return square - 1 + (square - 1) // 8


SQUARE_BITS = np.array([square_to_bit(s) for s in range(1, 33)], dtype=np.int64)  # index s-1
BIT_SQUARES = np.full(35, 0, dtype=np.int64)  # bit -> square (0 for ghost bits)
for _s in range(1, 33):
    BIT_SQUARES[square_to_bit(_s)] = _s

VALID = U64(sum(1 << square_to_bit(s) for s in range(1, 33)))
BLACK_CROWN = U64(sum(1 << square_to_bit(s) for s in range(29, 33)))  # Black men crown on row 7
WHITE_CROWN = U64(sum(1 << square_to_bit(s) for s in range(1, 5)))  # White men crown on row 0
BLACK_START = U64(sum(1 << square_to_bit(s) for s in range(1, 13)))
WHITE_START = U64(sum(1 << square_to_bit(s) for s in range(21, 33)))

# What the capture search writes (see `_captures_from`)
COUNT = 0  # nothing: only count the moves
CHILDREN = 1  # the position after each move
PATHS = 2  # the position and the path of the moving piece

MAX_MOVES = 256  # per position; the most known in reachable play is far below this
MAX_PATH = 12  # squares in one move's path: start plus up to 11 landings (a man can jump at most 9)

_ZERO = U64(0)
_ONE = U64(1)
_S4 = U64(4)
_S5 = U64(5)


# ----------------------------------------------------------------------------------------------
# Bit tricks (LLVM intrinsics: one instruction each on x86-64)


@intrinsic
def popcount(typingctx, x):  # type: ignore[no-untyped-def]
    """Number of set bits of a uint64."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.ctpop(args[0])

    return sig, codegen


@intrinsic
def lsb_index(typingctx, x):  # type: ignore[no-untyped-def]
    """Index of the lowest set bit of a non-zero uint64."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.cttz(args[0], context.get_constant(types.boolean, True))

    return sig, codegen


@njit(inline="always", cache=True)
def shift(x: np.uint64, d: int) -> np.uint64:
    """Move every bit of ``x`` one diagonal step in direction ``d`` (0: +4, 1: +5, 2: -4, 3: -5)."""
    if d == 0:
        return (x << _S4) & VALID
    if d == 1:
        return (x << _S5) & VALID
    if d == 2:
        return (x >> _S4) & VALID
    return (x >> _S5) & VALID


@njit(inline="always", cache=True)
def crown_row(side: int) -> np.uint64:
    return BLACK_CROWN if side == 0 else WHITE_CROWN


@njit(inline="always", cache=True)
def is_forward(d: int, side: int) -> bool:
    """Black's men move with directions 0 and 1 (down), White's with 2 and 3 (up)."""
    return (d < 2) == (side == 0)


# ----------------------------------------------------------------------------------------------
# Captures


@njit(inline="always", cache=True)
def jumpers(P: np.uint64, O: np.uint64, K: np.uint64, side: int) -> np.uint64:
    """Pieces of the side to move that have at least one capture."""
    empty = VALID & ~(P | O)
    kings = P & K
    out = _ZERO
    for d in range(4):
        movers = P if is_forward(d, side) else kings
        if movers == _ZERO:
            continue
        # a piece can jump in direction d if the next square holds an opponent and the one after is empty
        landing = shift(shift(movers, d) & O, d) & empty
        out |= shift(shift(landing, d ^ 2), d ^ 2)
    return out


@njit(inline="always", cache=True)
def _level_dir(dirs: np.uint64, level: int) -> int:
    """The 3-bit direction counter of one search level packed in ``dirs``."""
    return int((dirs >> U64(3 * level)) & U64(7))


@njit(inline="always", cache=True)
def _write_path(paths: np.ndarray, plens: np.ndarray, n: int, land: np.uint64, dirs: np.uint64, levels: int) -> None:
    """Write one capture's path, rebuilt backwards from ``land`` through the arrival direction of
    each level (the level's counter minus one)."""
    sq = land
    paths[n, levels] = lsb_index(sq)
    for j in range(levels - 1, -1, -1):
        back = (_level_dir(dirs, j) - 1) ^ 2
        sq = shift(shift(sq, back), back)
        paths[n, j] = lsb_index(sq)
    plens[n] = levels + 1


@njit(inline="always", cache=True)
def _captures_from(
    start: np.uint64,
    P: np.uint64,
    O: np.uint64,
    K: np.uint64,
    side: int,
    mode: int,
    children: np.ndarray,
    paths: np.ndarray,
    plens: np.ndarray,
    n: int,
) -> int:
    """Every complete capture sequence of the piece on ``start``, from row ``n`` on; returns the
    new row count. ``mode`` is COUNT (nothing written), CHILDREN (the positions after each capture)
    or PATHS (positions and the squares visited); callers pass it as a constant, and inlining lets
    the compiler drop the branches of the other modes.

    A depth-first search whose whole stack lives in two integers (no recursion, which numba cannot
    cache, and no allocation): ``dirs`` packs a 3-bit "next direction to try" per level, ``found``
    a bit per level saying that some jump continued from it. Going back up a level, the arrival
    direction (the parent's counter minus one) recovers the parent square and the jumped piece.

    Captured pieces stay on the board until the move ends: they cannot be jumped twice, and by
    parity a landing square is never a captured piece's square, so removal timing changes nothing
    else. The mover's starting square counts as empty, so a king's ring capture can end where it
    began; the two directions round a ring are two moves. A man that reaches the far row is
    crowned, and that ends the move.
    """
    is_king = (K & start) != _ZERO
    P_rest = P ^ start
    K_rest = K & ~start
    empty = (VALID & ~(P | O)) | start
    crown = crown_row(side)
    top = 0
    sq = start
    cap = _ZERO
    dirs = _ZERO
    found = _ZERO
    while True:
        d = _level_dir(dirs, top)
        if d == 4:  # every direction tried: a dead end after at least one jump is a complete move
            if (found >> U64(top)) & _ONE == _ZERO and cap != _ZERO:
                if mode != COUNT:
                    children[n, 0] = P_rest | sq
                    children[n, 1] = O & ~cap
                    children[n, 2] = (K_rest & ~cap) | (sq if is_king else _ZERO)
                if mode == PATHS:
                    _write_path(paths, plens, n, sq, dirs, top)
                n += 1
            if top == 0:
                break
            top -= 1
            back = (_level_dir(dirs, top) - 1) ^ 2
            mid = shift(sq, back)
            cap ^= mid
            sq = shift(mid, back)
            continue
        dirs += U64(1) << U64(3 * top)
        if not is_king and not is_forward(d, side):
            continue
        mid = shift(sq, d)
        if mid & O & ~cap == _ZERO:
            continue
        land = shift(mid, d)
        if land & empty == _ZERO:
            continue
        found |= _ONE << U64(top)
        if not is_king and land & crown != _ZERO:
            if mode != COUNT:
                newcap = cap | mid
                children[n, 0] = P_rest | land
                children[n, 1] = O & ~newcap
                children[n, 2] = (K_rest & ~newcap) | land
            if mode == PATHS:
                _write_path(paths, plens, n, land, dirs, top + 1)
            n += 1
            continue
        top += 1
        sq = land
        cap |= mid
        dirs &= ~(U64(7) << U64(3 * top))
        found &= ~(_ONE << U64(top))
    return n


# ----------------------------------------------------------------------------------------------
# Full move generation


@njit(inline="always", cache=True)
def _write_step(
    buf: np.ndarray, n: int, P: np.uint64, O: np.uint64, K: np.uint64, f: np.uint64, t: np.uint64, crown: np.uint64
) -> None:
    """Row n of ``buf`` = (P', O', K') after the quiet step f -> t (a man reaching ``crown`` is crowned)."""
    buf[n, 0] = P ^ f ^ t
    buf[n, 1] = O
    if K & f != _ZERO:
        buf[n, 2] = K ^ f ^ t
    elif t & crown != _ZERO:
        buf[n, 2] = K | t
    else:
        buf[n, 2] = K


@njit(cache=True)
def generate(
    P: np.uint64,
    O: np.uint64,
    K: np.uint64,
    side: int,
    children: np.ndarray,
    paths: np.ndarray,
    plens: np.ndarray,
) -> int:
    """Write every legal move of the side to move; return how many.

    children[i] = (P', O', K') after move i, from the mover's point of view.
    paths[i, :plens[i]] = bit indices visited by the moving piece (start, then each landing).
    Captures are compulsory: if any capture exists, only captures are generated.
    """
    n = 0
    J = jumpers(P, O, K, side)
    if J != _ZERO:
        while J != _ZERO:
            sq = J & (~J + _ONE)
            J ^= sq
            n = _captures_from(sq, P, O, K, side, PATHS, children, paths, plens, n)
        return n
    empty = VALID & ~(P | O)
    kings = P & K
    crown = crown_row(side)
    for d in range(4):
        movers = P if is_forward(d, side) else kings
        targets = shift(movers, d) & empty
        while targets != _ZERO:
            t_idx = lsb_index(targets)
            t = _ONE << t_idx
            targets ^= t
            f = shift(t, d ^ 2)
            _write_step(children, n, P, O, K, f, t, crown)
            paths[n, 0] = lsb_index(f)
            paths[n, 1] = t_idx
            plens[n] = 2
            n += 1
    return n


@njit(inline="always", cache=True)
def count_moves(
    P: np.uint64,
    O: np.uint64,
    K: np.uint64,
    side: int,
    children: np.ndarray,
    paths: np.ndarray,
    plens: np.ndarray,
) -> int:
    """Number of legal moves, without generating them (bulk counting for perft's last ply).

    The buffers are only passed through to the capture search, which does not write to them.
    """
    J = jumpers(P, O, K, side)
    if J != _ZERO:
        total = 0
        while J != _ZERO:
            sq = J & (~J + _ONE)
            J ^= sq
            total += _captures_from(sq, P, O, K, side, COUNT, children, paths, plens, 0)
        return total
    empty = VALID & ~(P | O)
    kings = P & K
    total = 0
    for d in range(4):
        movers = P if is_forward(d, side) else kings
        total += popcount(shift(movers, d) & empty)
    return total


# ----------------------------------------------------------------------------------------------
# Children only (perft and search: no move paths)


@njit(inline="always", cache=True)
def _children_from(P: np.uint64, O: np.uint64, K: np.uint64, side: int, buf: np.ndarray, n: int) -> int:
    """Write the position after every legal move into rows ``n, n+1, ...`` of ``buf`` (from the
    mover's point of view, as `generate`); return the row after the last. No paths are built."""
    J = jumpers(P, O, K, side)
    if J != _ZERO:
        while J != _ZERO:
            sq = J & (~J + _ONE)
            J ^= sq
            # CHILDREN mode never touches the path buffers: ``buf`` only stands in for their types
            n = _captures_from(sq, P, O, K, side, CHILDREN, buf, buf, buf[0], n)
        return n
    empty = VALID & ~(P | O)
    kings = P & K
    crown = crown_row(side)
    for d in range(4):
        movers = P if is_forward(d, side) else kings
        targets = shift(movers, d) & empty
        while targets != _ZERO:
            t = targets & (~targets + _ONE)
            targets ^= t
            f = shift(t, d ^ 2)
            _write_step(buf, n, P, O, K, f, t, crown)
            n += 1
    return n


@njit(inline="always", cache=True)
def _man_jumps(men: np.uint64, O: np.uint64, empty: np.uint64, d: int) -> np.uint64:
    """Landing squares of the single jumps of ``men`` in direction ``d``."""
    return shift(shift(men, d) & O, d) & empty


@njit(inline="always", cache=True)
def _count_captures(P: np.uint64, O: np.uint64, K: np.uint64, side: int, J: np.uint64, buf: np.ndarray) -> int:
    """Number of capture moves, given the jumpers ``J``.

    Most captures by men are one jump that cannot go on, and those are counted by popcount, all
    men at once: a man's next jump goes forward, away from the square it left and the piece it
    took, so whether it can jump again is read off the position as it was. Men whose jump goes on,
    and kings, are walked one by one by the capture search.
    """
    empty = VALID & ~(P | O)
    crown = crown_row(side)
    d0 = 0 if side == 0 else 2  # the men's forward directions are d0 and d0 + 1
    d1 = d0 + 1
    men = J & ~K
    again = _ZERO  # men with a first jump after which they can jump again
    for d in range(d0, d0 + 2):
        land = _man_jumps(men, O, empty, d) & ~crown  # a crowning jump ends the move
        on0 = shift(shift(_man_jumps(land, O, empty, d0), d0 ^ 2), d0 ^ 2)
        on1 = shift(shift(_man_jumps(land, O, empty, d1), d1 ^ 2), d1 ^ 2)
        again |= shift(shift(on0 | on1, d ^ 2), d ^ 2)
    simple = men & ~again
    total = int(popcount(_man_jumps(simple, O, empty, d0)) + popcount(_man_jumps(simple, O, empty, d1)))
    walk = J & (K | again)
    while walk != _ZERO:
        sq = walk & (~walk + _ONE)
        walk ^= sq
        total += _captures_from(sq, P, O, K, side, COUNT, buf, buf, buf[0], 0)
    return total


@njit(inline="always", cache=True)
def _count_legal(P: np.uint64, O: np.uint64, K: np.uint64, side: int, buf: np.ndarray) -> int:
    """Number of legal moves (steps by popcount; capture sequences walked, not written)."""
    J = jumpers(P, O, K, side)
    if J != _ZERO:
        return _count_captures(P, O, K, side, J, buf)
    empty = VALID & ~(P | O)
    kings = P & K
    down = P if side == 0 else kings  # pieces that may step +4/+5 (directions 0 and 1)
    up = kings if side == 0 else P  # pieces that may step -4/-5 (directions 2 and 3)
    return int(
        popcount((down << _S4) & empty)
        + popcount((down << _S5) & empty)
        + popcount((up >> _S4) & empty)
        + popcount((up >> _S5) & empty)
    )


@njit(cache=True)
def generate_children(P: np.uint64, O: np.uint64, K: np.uint64, side: int, children: np.ndarray) -> int:
    """Like `generate`, without the paths: write ``children[i] = (P', O', K')`` for every legal
    move and return how many (a `(MAX_MOVES, 3)` uint64 buffer is always large enough)."""
    return _children_from(P, O, K, side, children, 0)


# ----------------------------------------------------------------------------------------------
# Perft


def perft_kernel(black: np.uint64, white: np.uint64, kings: np.uint64, side: int, depth: int, bulk: bool) -> int:
    """Leaf count of the move tree of ``depth`` plies (bulk counting at the last ply if ``bulk``);
    Ctrl-C stops it within milliseconds (`perft_count` under `interrupt.interruptible`)."""
    with interruptible(new_control()) as ctl:
        n = perft_count(black, white, kings, side, depth, bulk, ctl)
    return int(n)


@njit(cache=True, nogil=True)
def perft_count(
    black: np.uint64, white: np.uint64, kings: np.uint64, side: int, depth: int, bulk: bool, ctl: np.ndarray
) -> int:
    """Leaf count of the move tree of ``depth`` plies (bulk counting at the last ply if ``bulk``),
    or a partial count once the control array ``ctl`` says stop (read every `POLL` interior nodes;
    the caller looks at ``ctl[STATE]``).

    An iterative depth-first walk (numba cannot cache recursive functions) over one stack of
    children: the children of ply ``p`` occupy rows ``lo[p]`` to ``hi[p]`` of ``buf``, and those of
    the child being searched follow right after them. Only positions are generated, never paths.
    """
    P, O = (black, white) if side == 0 else (white, black)
    if depth == 0:
        return 1
    buf = np.empty((depth * MAX_MOVES, 3), dtype=np.uint64)
    if bulk and depth == 1:
        return _count_legal(P, O, kings, side, buf)
    hi = np.empty(depth, dtype=np.int64)  # end of each ply's children in buf
    nxt = np.empty(depth, dtype=np.int64)  # next child to visit at each ply
    hi[0] = _children_from(P, O, kings, side, buf, 0)
    nxt[0] = 0
    last = depth - 2 if bulk else depth - 1  # the ply whose children are counted, not searched
    total = 0
    interior = 0
    ply = 0
    while True:
        if ply == last:
            if bulk:
                child_side = side ^ ((ply + 1) & 1)
                for i in range(nxt[ply], hi[ply]):
                    total += _count_legal(buf[i, 1], buf[i, 0], buf[i, 2], child_side, buf)
            else:
                total += hi[ply] - nxt[ply]
            nxt[ply] = hi[ply]
        if nxt[ply] == hi[ply]:
            if ply == 0:
                break
            ply -= 1
            continue
        i = nxt[ply]
        nxt[ply] = i + 1
        child_side = side ^ ((ply + 1) & 1)
        interior += 1
        if (interior & (POLL - 1)) == 0 and poll(ctl, POLL):
            break
        ply += 1
        nxt[ply] = hi[ply - 1]
        hi[ply] = _children_from(buf[i, 1], buf[i, 0], buf[i, 2], child_side, buf, hi[ply - 1])
    return total


# ----------------------------------------------------------------------------------------------
# Random playouts (benchmarks and tests)


@njit(inline="always", cache=True)
def xorshift(state: np.ndarray) -> np.uint64:
    """xorshift64* step on a one-element uint64 array; returns 64 random bits."""
    x = state[0]
    x ^= x >> U64(12)
    x ^= x << U64(25)
    x ^= x >> U64(27)
    state[0] = x
    return x * U64(0x2545F4914F6CDD1D)


@njit(inline="always", cache=True)
def rand_below(state: np.ndarray, n: int) -> int:
    return int((xorshift(state) >> U64(32)) * U64(n) >> U64(32))


DRAW_PLIES = 80  # consecutive plies with no capture and no man move


@njit(cache=True)
def random_games(n_games: int, seed: int, max_plies: int) -> np.ndarray:
    """Play ``n_games`` uniformly random games from the start; return counts of [black wins,
    white wins, draws, total plies]. Draws: 80 plies without capture or man move, or threefold
    repetition; ``max_plies`` is a safety cap (a game reaching it counts as a draw)."""
    children = np.empty((MAX_MOVES, 3), dtype=np.uint64)
    paths = np.empty((MAX_MOVES, MAX_PATH), dtype=np.int64)
    plens = np.empty(MAX_MOVES, dtype=np.int64)
    hist = np.empty((DRAW_PLIES + 2, 3), dtype=np.uint64)
    state = np.empty(1, dtype=np.uint64)
    state[0] = U64(seed) * U64(0x9E3779B97F4A7C15) | _ONE
    out = np.zeros(4, dtype=np.int64)
    for _ in range(n_games):
        P, O, K, side = BLACK_START, WHITE_START, _ZERO, 0
        quiet = 0  # plies since the last capture or man move
        hlen = 0
        hist[0, 0], hist[0, 1], hist[0, 2] = P, O, K
        hlen = 1
        plies = 0
        result = 2
        while True:
            n = generate(P, O, K, side, children, paths, plens)
            if n == 0:
                result = 1 - side  # the side to move has no move and loses: 0 = black wins
                break
            i = rand_below(state, n)
            c = children[i]
            irreversible = (c[1] != O) or ((P & ~K) & ~c[0]) != _ZERO
            P, O, K, side = c[1], c[0], c[2], 1 - side
            plies += 1
            if irreversible:
                quiet = 0
                hlen = 0
            else:
                quiet += 1
            if quiet >= DRAW_PLIES or plies >= max_plies:
                break
            # threefold repetition: same pieces, same side to move (every other entry back)
            reps = 0
            j = hlen - 2
            while j >= 0:
                if hist[j, 0] == P and hist[j, 1] == O and hist[j, 2] == K:
                    reps += 1
                j -= 2
            if reps >= 2:
                break
            hist[hlen, 0], hist[hlen, 1], hist[hlen, 2] = P, O, K
            hlen += 1
        out[result] += 1
        out[3] += plies
    return out
