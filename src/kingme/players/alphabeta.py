"""`alphabeta:D[:MS]`: negamax alpha-beta search on the core's bitboards, compiled with numba.

The search
----------
Negamax with alpha-beta pruning to a depth of D plies (a multi-jump is one ply), in one compiled
function that keeps its own stack (numba cannot cache recursive functions), with:

1. **Iterative deepening**: depths 1, 2, ..., D; each iteration orders the root moves by the
   previous iteration's scores, and with a time limit (``alphabeta:D:MS``, milliseconds) the move
   comes from the deepest completed iteration (depth 1 always completes).
2. **Move ordering** below the root: killer moves (two per ply, the moves that last caused a
   cut-off there) first, then the history heuristic (a from-to table that a cut-off at remaining
   depth r raises by r * r).
3. **Capture extension** (a quiescence search without stand-pat, as captures are compulsory): a
   position at the horizon whose side to move has a capture is searched on until it is quiet, so
   the evaluation never sees a position in the middle of an exchange. A hard limit of
   ``MAX_PLY`` plies stops the extension.
4. **Terminal positions**: the side to move with no legal move has lost, scored ``-(MATE - ply)``
   (``ply`` from the root), so the search prefers the fastest win and the slowest loss.
5. **Draw rules are ignored inside the search** (the 80-ply rule and threefold repetition): a
   position is scored the same whatever the history. The arena applies them to the actual game.
6. **Ties at the root are broken by the player's seeded generator**: every root move is searched
   with a window just below the best score so far, so every move whose exact score equals the
   best is known, and one of them is drawn with the xorshift generator of ``kingme.checkers.core``.
   With a fixed depth the move is a function of the position and the seed; with a time limit it
   also depends on how far the search got.

The evaluation (``evaluate``), in points from the side to move's view (a man is 100)
-------------------------------------------------------------------------------------
- material: man 100, king 130;
- exchange bonus: ``material * 6 // pieces_on_board``, so the side ahead is drawn to trade down
  (a lead of one man is worth 125 with 24 pieces on the board and 250 with 4);
- advancement: +1 per row a man has advanced from its own back row;
- back-row guard: +5 per man still on its own back row (keeps the opponent's men from crowning);
- centre: +4 per man and +6 per king on the eight central squares 10, 11, 14, 15, 18, 19, 22, 23.
All terms are differences (the side to move's minus the opponent's).

Or a network: ``Searcher(seed, net)`` with an `EvalWeights` (`kingme.players.evalnet`, the
``search:default`` player) scores the quiet leaves with ``round(v(s) * SCALE)`` instead, v(s) in
(-1, 1) the network's value for the side to move (`net_value`, compiled in this module); all the
rest of the search is the same code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import cast

import numpy as np
from numba import njit, objmode

from kingme.checkers import core
from kingme.checkers.core import MAX_MOVES, MAX_PATH, count_moves, generate, jumpers, lsb_index, popcount
from kingme.checkers.interrupt import interruptible, new_control, poll
from kingme.envs.planes import OPP_KINGS, OPP_MEN, OWN_KINGS, OWN_MEN, SQUARES, frame_index_of_bit
from kingme.players.evalnet import SCALE, EvalWeights, Kernel, no_network
from kingme.players.limits import Stopped, current

# the intrinsic, typed for mypy (numba resolves the alias to the same intrinsic)
_popcount = cast(Callable[[np.uint64], int], popcount)
_lsb_index = cast(Callable[[np.uint64], int], lsb_index)

U64 = np.uint64
_ZERO = U64(0)

# ----------------------------------------------------------------------------------------------
# Evaluation constants

MAN = 100
KING = 130
EXCHANGE = 6  # material * EXCHANGE // pieces on the board
ADVANCE = 1  # per row advanced, per man
BACK_ROW = 5  # per man on its own back row
CENTER_MAN = 4
CENTER_KING = 6

MATE = 1_000_000  # a loss at ply p scores -(MATE - p)
INF = 10_000_000
MAX_PLY = 64  # stack depth: nominal depth plus capture extension
NODE_CHECK = 1024  # the control array and the clock are read every NODE_CHECK nodes


def _mask(squares: range | list[int]) -> np.uint64:
    return U64(sum(1 << core.square_to_bit(s) for s in squares))


ROWS = np.array([_mask(range(4 * r + 1, 4 * r + 5)) for r in range(8)], dtype=np.uint64)
CENTER = _mask([10, 11, 14, 15, 18, 19, 22, 23])
BLACK_BACK = ROWS[0]  # squares 1-4
WHITE_BACK = ROWS[7]  # squares 29-32


@njit(inline="always", cache=True)
def _advancement(men: np.uint64, side: int) -> int:
    """Sum over men of rows advanced from their own back row (Black moves down, White up)."""
    total = 0
    for r in range(8):
        c = int(_popcount(men & ROWS[r]))
        total += c * (r if side == 0 else 7 - r)
    return total


@njit(cache=True)
def evaluate(P: np.uint64, O: np.uint64, K: np.uint64, side: int) -> int:
    """Static score of a position from the side to move's view (see the module docstring)."""
    pm = P & ~K
    pk = P & K
    om = O & ~K
    ok = O & K
    n_pm, n_pk = int(_popcount(pm)), int(_popcount(pk))
    n_om, n_ok = int(_popcount(om)), int(_popcount(ok))
    material = MAN * (n_pm - n_om) + KING * (n_pk - n_ok)
    pieces = n_pm + n_pk + n_om + n_ok
    score = material
    if pieces > 0:
        score += material * EXCHANGE // pieces
    score += ADVANCE * (_advancement(pm, side) - _advancement(om, 1 - side))
    own_back = BLACK_BACK if side == 0 else WHITE_BACK
    opp_back = WHITE_BACK if side == 0 else BLACK_BACK
    score += BACK_ROW * (int(_popcount(pm & own_back)) - int(_popcount(om & opp_back)))
    score += CENTER_MAN * (int(_popcount(pm & CENTER)) - int(_popcount(om & CENTER)))
    score += CENTER_KING * (int(_popcount(pk & CENTER)) - int(_popcount(ok & CENTER)))
    return score


# ----------------------------------------------------------------------------------------------
# The evaluation network instead (`kingme.players.evalnet`: the network, its layout, its files).
# Compiled here, beside the search that calls it: numba's cache of `negamax` would not notice an
# edit to a compiled function in another module.

_ONE = U64(1)


@njit(inline="always", cache=True, fastmath=True)
def _add_rows(w1: np.ndarray, h: np.ndarray, bb: np.uint64, plane: int, side: int) -> None:
    while bb != _ZERO:
        b = int(_lsb_index(bb))
        bb &= bb - _ONE
        row = w1[plane * SQUARES + frame_index_of_bit(b, side)]
        for j in range(h.shape[0]):
            h[j] += row[j]


@njit(cache=True, fastmath=True)
def net_value(P: np.uint64, O: np.uint64, K: np.uint64, side: int, net: Kernel) -> float:
    """v(s) of one position (P the side to move's pieces) with a packed network (`pack`)."""
    w1, mid, biases, out, tail, scratch = net
    h = scratch[0]
    h[:] = biases[0]
    _add_rows(w1, h, P & ~K, OWN_MEN, side)
    _add_rows(w1, h, P & K, OWN_KINGS, side)
    _add_rows(w1, h, O & ~K, OPP_MEN, side)
    _add_rows(w1, h, O & K, OPP_KINGS, side)
    width = h.shape[0]
    zero = np.float32(0.0)
    for j in range(width):
        h[j] = max(h[j], zero)
    g = scratch[1]
    for layer in range(int(tail[1]) - 2):
        w = mid[layer]  # (out, in): each output unit's weights are contiguous
        b = biases[layer + 1]
        for j in range(width):
            acc = b[j]
            wj = w[j]
            for i in range(width):
                acc += h[i] * wj[i]
            g[j] = max(acc, zero)
        for j in range(width):
            h[j] = g[j]
    s = tail[0]
    for j in range(width):
        s += h[j] * out[j]
    return math.tanh(s)


@njit(cache=True)
def net_score(P: np.uint64, O: np.uint64, K: np.uint64, side: int, net: Kernel) -> int:
    """The search's integer score of a position: round(v(s) * SCALE)."""
    return int(round(net_value(P, O, K, side, net) * SCALE))


# ----------------------------------------------------------------------------------------------
# Search buffers


class SearchBuffers:
    """Per-player work arrays for the compiled search (allocated once, about 2 MB)."""

    def __init__(self) -> None:
        self.children = np.empty((MAX_PLY + 1, MAX_MOVES, 3), dtype=np.uint64)
        self.paths = np.empty((MAX_PLY + 1, MAX_MOVES, MAX_PATH), dtype=np.int64)
        self.plens = np.empty((MAX_PLY + 1, MAX_MOVES), dtype=np.int64)
        self.order = np.empty((MAX_PLY + 1, MAX_MOVES), dtype=np.int64)
        self.keys = np.empty((MAX_PLY + 1, MAX_MOVES), dtype=np.int64)
        # per-ply node state: n, next, remaining depth, alpha, beta, best, side
        self.state = np.empty((MAX_PLY + 1, 7), dtype=np.int64)
        self.killers = np.zeros((MAX_PLY + 1, 2), dtype=np.int64)
        self.history = np.zeros(64 * 64, dtype=np.int64)
        self.root_scores = np.empty(MAX_MOVES, dtype=np.int64)
        # nodes, aborted, depth reached, evaluations, nodes at the last poll of the control array
        self.info = np.zeros(5, dtype=np.int64)
        # the compiled functions take the work arrays as one tuple, in this order
        self.bufs: Buffers = (
            self.children,
            self.paths,
            self.plens,
            self.order,
            self.keys,
            self.state,
            self.killers,
            self.history,
            self.info,
        )


# (children, paths, plens, order, keys, state, killers, history, info): see SearchBuffers
Buffers = tuple[np.ndarray, ...]


_N, _NEXT, _REM, _ALPHA, _BETA, _BEST, _SIDE = 0, 1, 2, 3, 4, 5, 6
OPEN, LEAF, QUIET = 0, 1, 2  # what `_enter` found: a node to search, a scored leaf, a quiet leaf to evaluate


@njit(cache=True)
def _now_ms() -> float:
    with objmode(t="float64"):
        t = time.perf_counter() * 1000.0
    return t


@njit(inline="always", cache=True)
def _move_key(paths: np.ndarray, plens: np.ndarray, ply: int, i: int) -> int:
    """A move's from-to code (bits 0..34 each): the key of the killer and history tables."""
    return int(paths[ply, i, 0]) * 64 + int(paths[ply, i, plens[ply, i] - 1])


@njit(cache=True)
def _enter(
    ply: int,
    ply0: int,
    P: np.uint64,
    O: np.uint64,
    K: np.uint64,
    side: int,
    remaining: int,
    alpha: int,
    beta: int,
    bufs: Buffers,
) -> tuple[int, int]:
    """Open a node at stack level ``ply``: return (LEAF, value) for a lost position or the ply
    limit, (QUIET, 0) for a quiet horizon node (the caller evaluates it), or (OPEN, 0) after
    generating and ordering its moves into level ``ply`` of the buffers."""
    children, paths, plens, order, keys, state, killers, history, info = bufs
    info[0] += 1
    J = jumpers(P, O, K, side)
    if (remaining <= 0 and J == _ZERO) or ply + ply0 >= MAX_PLY:
        # a quiet horizon node (or the hard ply limit): terminal check, then the evaluation
        if count_moves(P, O, K, side, children[ply], paths[ply], plens[ply]) == 0:
            return LEAF, -(MATE - (ply + ply0))
        return QUIET, 0
    n = generate(P, O, K, side, children[ply], paths[ply], plens[ply])
    if n == 0:
        return LEAF, -(MATE - (ply + ply0))
    k1 = killers[ply + ply0, 0]
    k2 = killers[ply + ply0, 1]
    for i in range(n):
        key = _move_key(paths, plens, ply, i)
        s = history[key]
        if key == k1:
            s += 1 << 40
        elif key == k2:
            s += 1 << 39
        # insertion sort, descending by s (stable: generation order among equals)
        j = i
        while j > 0 and keys[ply, j - 1] < s:
            keys[ply, j] = keys[ply, j - 1]
            order[ply, j] = order[ply, j - 1]
            j -= 1
        keys[ply, j] = s
        order[ply, j] = i
    state[ply, _N] = n
    state[ply, _NEXT] = 0
    state[ply, _REM] = remaining
    state[ply, _ALPHA] = alpha
    state[ply, _BETA] = beta
    state[ply, _BEST] = -INF
    state[ply, _SIDE] = side
    return OPEN, 0


@njit(cache=True, nogil=True)  # a search never holds the GIL (the web server keeps answering)
def negamax(
    P: np.uint64,
    O: np.uint64,
    K: np.uint64,
    side: int,
    depth: int,
    alpha: int,
    beta: int,
    ply0: int,
    deadline: float,
    bufs: Buffers,
    net: Kernel,
    ctl: np.ndarray,
) -> int:
    """Fail-soft negamax alpha-beta value of a position (side to move's view), searched ``depth``
    plies plus capture extension; ``ply0`` is its distance from the root (for mate scores and the
    killer table). Every `NODE_CHECK` nodes it polls the control array ``ctl``
    (`kingme.checkers.interrupt`: stopped from another thread, Ctrl-C, a node budget) and, with
    ``deadline`` > 0 (a ``_now_ms`` time), reads the clock; when either says stop it gives up,
    sets ``info[1]`` and returns 0 (the caller must discard the value)."""
    paths, plens, order, state, killers, history, info = (
        bufs[1],
        bufs[2],
        bufs[3],
        bufs[5],
        bufs[6],
        bufs[7],
        bufs[8],
    )
    children = bufs[0]
    use_net = net[0].shape[0] > 0
    kind, v = _enter(0, ply0, P, O, K, side, depth, alpha, beta, bufs)
    if kind == QUIET:
        info[3] += 1
        return net_score(P, O, K, side, net) if use_net else evaluate(P, O, K, side)
    if kind == LEAF:
        return v
    ply = 0
    while True:
        if info[0] - info[4] >= NODE_CHECK:
            info[4] = info[0]
            if poll(ctl, NODE_CHECK) or (deadline > 0.0 and _now_ms() > deadline):
                info[1] = 1
                return 0
        if state[ply, _NEXT] < state[ply, _N]:
            j = order[ply, state[ply, _NEXT]]
            state[ply, _NEXT] += 1
            c = children[ply, j]
            kind, v = _enter(
                ply + 1,
                ply0,
                c[1],
                c[0],
                c[2],
                1 - state[ply, _SIDE],
                state[ply, _REM] - 1,
                -state[ply, _BETA],
                -state[ply, _ALPHA],
                bufs,
            )
            if kind == OPEN:
                ply += 1
                continue
            if kind == QUIET:
                info[3] += 1
                s = 1 - state[ply, _SIDE]
                v = net_score(c[1], c[0], c[2], s, net) if use_net else evaluate(c[1], c[0], c[2], s)
            score = -v
        else:
            v = state[ply, _BEST]
            if ply == 0:
                return v
            ply -= 1
            score = -v
            j = order[ply, state[ply, _NEXT] - 1]
        # fold the child's score into the node at level `ply`
        if score > state[ply, _BEST]:
            state[ply, _BEST] = score
            if score > state[ply, _ALPHA]:
                state[ply, _ALPHA] = score
                if score >= state[ply, _BETA]:
                    key = _move_key(paths, plens, ply, j)
                    r = max(state[ply, _REM], 1)
                    history[key] += r * r
                    lvl = ply + ply0
                    if killers[lvl, 0] != key:
                        killers[lvl, 1] = killers[lvl, 0]
                        killers[lvl, 0] = key
                    state[ply, _NEXT] = state[ply, _N]  # cut-off


@njit(cache=True, nogil=True)  # a search never holds the GIL (the web server keeps answering)
def search_root(
    black: np.uint64,
    white: np.uint64,
    kings: np.uint64,
    side: int,
    max_depth: int,
    time_limit_ms: float,
    rng: np.ndarray,
    bufs: Buffers,
    root_scores: np.ndarray,
    net: Kernel,
    ctl: np.ndarray,
    limit_deadline: float,
) -> tuple[int, int]:
    """Iterative-deepening search of a position; return (index of the chosen move in generation
    order, i.e. ``Board.legal_moves()`` order, its score), or (-1, loss score) with no legal move.

    ``info`` receives [nodes, aborted flag, deepest completed depth, evaluations (quiet leaves
    scored by the evaluation), nodes at the last poll]. The search is cut by ``time_limit_ms``
    (from now; 0: none) and by ``limit_deadline`` (a ``_now_ms`` time; 0: none) from the second
    iteration on, and at any point by the control array ``ctl`` (stop, Ctrl-C, node budget): a cut
    in the first iteration returns (-2, 0). The last level of the buffers holds the root's moves;
    the levels below it serve the child searches."""
    children, paths, plens, killers, history, info = (
        bufs[0],
        bufs[1],
        bufs[2],
        bufs[6],
        bufs[7],
        bufs[8],
    )
    P, O = (black, white) if side == 0 else (white, black)
    info[:] = 0
    killers[:] = 0
    history[:] = 0
    deadline = _now_ms() + time_limit_ms if time_limit_ms > 0.0 else 0.0
    if limit_deadline > 0.0 and (deadline == 0.0 or limit_deadline < deadline):
        deadline = limit_deadline
    R = MAX_PLY  # the root's level in the buffers (child searches use levels 0..MAX_PLY - 1)
    n = generate(P, O, kings, side, children[R], paths[R], plens[R])
    if n == 0:
        return -1, -MATE
    if poll(ctl, 0):
        return -2, 0  # stopped before it started
    root_order = np.arange(n)
    scores = root_scores[:n]
    final = np.zeros(n, dtype=np.int64)
    final_best = -INF
    for depth in range(1, max_depth + 1):
        best = -INF
        for k in range(n):
            j = root_order[k]
            c = children[R, j]
            a = best - 1 if best > -INF else -INF
            # the child is searched with window (-INF, -a): a move that ties the best is exact
            dl = deadline if depth > 1 else 0.0
            v = -negamax(c[1], c[0], c[2], 1 - side, depth - 1, -INF, -a, 1, dl, bufs, net, ctl)
            if info[1] != 0:
                break
            scores[j] = v
            if v > best:
                best = v
        if info[1] != 0:
            if depth == 1:
                return -2, 0  # stopped before any iteration completed
            break
        final[:] = scores
        final_best = best
        info[2] = depth
        # next iteration: best first (stable sort on the negated scores)
        root_order = np.argsort(-scores, kind="mergesort")
        if best >= MATE - depth or best <= -(MATE - depth):
            break  # a forced result is proven within this depth: deeper search cannot change it
    ties = 0
    for j in range(n):
        if final[j] == final_best:
            ties += 1
    pick = core.rand_below(rng, ties)
    for j in range(n):
        if final[j] == final_best:
            if pick == 0:
                return j, final_best
            pick -= 1
    return 0, final_best  # unreachable


# ----------------------------------------------------------------------------------------------
# Python helpers


def seed_state(seed: int) -> np.ndarray:
    """A non-zero xorshift state derived from ``seed`` (splitmix64 of it)."""
    z = (int(seed) + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    z ^= z >> 31
    return np.array([z or 1], dtype=np.uint64)


class SearchResult:
    """The outcome of one search: move index (generation order), score, depth reached, nodes,
    whether the clock cut it, and evaluations (quiet leaves scored)."""

    __slots__ = ("index", "score", "depth", "nodes", "aborted", "evals")

    def __init__(self, index: int, score: int, depth: int, nodes: int, aborted: bool, evals: int = 0) -> None:
        self.index, self.score, self.depth, self.nodes, self.aborted, self.evals = (
            index,
            score,
            depth,
            nodes,
            aborted,
            evals,
        )

    def __repr__(self) -> str:
        return (
            f"SearchResult(index={self.index}, score={self.score}, depth={self.depth}, "
            f"nodes={self.nodes}, aborted={self.aborted}, evals={self.evals})"
        )


class Searcher:
    """The compiled search with its buffers and random generator (one per player)."""

    def __init__(self, seed: int = 0, net: EvalWeights | None = None) -> None:
        self.buffers = SearchBuffers()
        self.rng = seed_state(seed)
        self.net = net
        self.kernel = no_network() if net is None else net.kernel_args()

    def reseed(self, seed: int) -> None:
        self.rng = seed_state(seed)

    def search(
        self, black: int, white: int, kings: int, side: int, depth: int, time_limit_ms: float = 0.0
    ) -> SearchResult:
        """Search a position (see `search_root`) under ``time_limit_ms`` and the current `Limit`
        (`kingme.players.limits`): cut by either, the deepest completed iteration's move; `Stopped`
        if the limit cut the first iteration. Ctrl-C in the main thread ends it within milliseconds
        (KeyboardInterrupt)."""
        b = self.buffers
        limit = current()
        ctl = limit.control if limit is not None else new_control()
        with interruptible(ctl):
            index, score = search_root(
                U64(black),
                U64(white),
                U64(kings),
                int(side),
                int(depth),
                float(time_limit_ms),
                self.rng,
                b.bufs,
                b.root_scores,
                self.kernel,
                ctl,
                limit.deadline_ms if limit is not None else 0.0,
            )
        if index == -2:
            raise Stopped(limit.reason() if limit is not None else "stopped")
        return SearchResult(int(index), int(score), int(b.info[2]), int(b.info[0]), bool(b.info[1]), int(b.info[3]))

    def value(self, black: int, white: int, kings: int, side: int, depth: int) -> int:
        """The alpha-beta value of a position to ``depth`` (full window, no clock): for tests."""
        b = self.buffers
        P, O = (black, white) if side == 0 else (white, black)
        b.info[:] = 0
        b.killers[:] = 0
        b.history[:] = 0
        ctl = new_control()
        value = negamax(U64(P), U64(O), U64(kings), int(side), int(depth), -INF, INF, 0, 0.0, b.bufs, self.kernel, ctl)
        return int(value)
