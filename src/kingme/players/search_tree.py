"""The compiled kernels of the network search (`kingme.players.search_engine`): a node's moves as
action indices, observations of many nodes, and the full-width tree below a node whose quiet leaves
are evaluated in one batch (`tree_values`, walked twice: once to collect the leaves, once to back
their values up), plus the hand-written evaluation squashed into the critic's range.

Scores are in the critic's units from the side to move's view: a position with no legal move at
ply p scores ``-(WIN - p * PLY_STEP)``, beyond any critic value in [-1, 1].
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kingme.checkers.core import count_moves, generate, jumpers
from kingme.envs.checkers_vec import write_observation
from kingme.envs.planes import action, frame_direction, frame_index_of_bit
from kingme.players.alphabeta import evaluate

__all__ = ["HAND_SCALE", "PLY_STEP", "TREE_LEVELS", "WIN", "expand_node", "hand_values", "observe_batch", "tree_values"]

WIN = 2.0  # a win at ply p scores WIN - p * PLY_STEP; critic values are clamped to [-1, 1]
PLY_STEP = 1e-3
HAND_SCALE = 300.0  # leaf="hand" scores tanh(points / HAND_SCALE): a man up early (125 points) is 0.39


@njit(cache=True)
def expand_node(
    P: np.uint64,
    O: np.uint64,
    K: np.uint64,
    side: int,
    clock: int,
    children: np.ndarray,
    paths: np.ndarray,
    plens: np.ndarray,
    out: np.ndarray,
) -> int:
    """The legal moves of a node in generation order (`Board.legal_moves()` order): out[i] =
    (child P, child O, child K, child clock, first action, capture), the child seen from its own
    side to move (the opponent). Returns how many."""
    n = generate(P, O, K, side, children, paths, plens)
    for i in range(n):
        a = paths[i, 0]
        b = paths[i, 1]
        delta = b - a
        capture = plens[i] > 2 or abs(delta) > 5
        step = delta // 2 if abs(delta) > 5 else delta
        d = 0 if step == 4 else 1 if step == 5 else 2 if step == -4 else 3
        man = ((K >> np.uint64(a)) & np.uint64(1)) == np.uint64(0)
        out[i, 0] = np.int64(children[i, 1])
        out[i, 1] = np.int64(children[i, 0])
        out[i, 2] = np.int64(children[i, 2])
        out[i, 3] = 0 if (capture or man) else clock + 1
        out[i, 4] = action(frame_index_of_bit(a, side), frame_direction(d, side))
        out[i, 5] = 1 if capture else 0
    return n


@njit(cache=True)
def observe_batch(nodes: np.ndarray, obs: np.ndarray, mask: np.ndarray) -> None:
    """Observations of nodes (rows P, O, K, side, clock) as the environment shows them."""
    for i in range(nodes.shape[0]):
        P = np.uint64(nodes[i, 0])
        O = np.uint64(nodes[i, 1])
        side = int(nodes[i, 3])
        black, white = (P, O) if side == 0 else (O, P)
        write_observation(black, white, np.uint64(nodes[i, 2]), side, -1, int(nodes[i, 4]), obs[i], mask)


TREE_LEVELS = 64  # the kernel's stack: full-width plies plus the capture extension


@njit(inline="always", cache=True)
def _child_clock(K: np.uint64, paths: np.ndarray, plens: np.ndarray, level: int, i: int, clock: int) -> int:
    """The draw clock after move i of a node (reset by a capture or a man move)."""
    a = paths[level, i, 0]
    if plens[level, i] > 2 or abs(paths[level, i, 1] - a) > 5:
        return 0
    if ((K >> np.uint64(a)) & np.uint64(1)) == np.uint64(0):
        return 0
    return clock + 1


@njit(cache=True)
def tree_values(
    P: np.uint64,
    O: np.uint64,
    K: np.uint64,
    side: int,
    clock: int,
    full: int,
    ply0: int,
    collect: bool,
    values: np.ndarray,
    obs: np.ndarray,
    nodes: np.ndarray,
    with_obs: bool,
    mask: np.ndarray,
    child_vals: np.ndarray,
    children: np.ndarray,
    paths: np.ndarray,
    plens: np.ndarray,
    state: np.ndarray,
    best: np.ndarray,
) -> int:
    """The minimax tree of a node: ``full`` plies full width, then every position whose side to
    move must capture is expanded (its captures) until quiet. Walked twice in the same order:
    with ``collect`` it writes each quiet leaf's (P, O, K, side) into ``nodes`` and, with
    ``with_obs``, its observation into ``obs`` (from the leaf's side to move), and returns how
    many (-2 if ``nodes`` is too small); without, it reads the leaves' critic
    values from ``values`` in that order, writes each move's backed-up value (the node's side to
    move's view) into ``child_vals`` and returns the number of leaves read. -1: the node has no
    legal move. A position with no legal move scores ``-(WIN - ply * PLY_STEP)``, ``ply`` counted
    from the search's root (the node is at ``ply0``)."""
    # state[L] = (moves, next, side, clock, kings) of the node at level L
    n = generate(P, O, K, side, children[0], paths[0], plens[0])
    if n == 0:
        return -1
    state[0, 0] = n
    state[0, 1] = 0
    state[0, 2] = side
    state[0, 3] = clock
    state[0, 4] = np.int64(K)
    best[0] = -np.inf
    cap = nodes.shape[0]
    nl = 0
    level = 0
    while True:
        if state[level, 1] < state[level, 0]:
            i = state[level, 1]
            state[level, 1] += 1
            c = children[level, i]
            cP, cO, cK = c[1], c[0], c[2]
            cside = 1 - state[level, 2]
            cclock = _child_clock(np.uint64(state[level, 4]), paths, plens, level, i, state[level, 3])
            nxt = level + 1
            if nxt < TREE_LEVELS - 1 and (nxt < full or jumpers(cP, cO, cK, cside) != np.uint64(0)):
                m = generate(cP, cO, cK, cside, children[nxt], paths[nxt], plens[nxt])
                if m > 0:
                    state[nxt, 0] = m
                    state[nxt, 1] = 0
                    state[nxt, 2] = cside
                    state[nxt, 3] = cclock
                    state[nxt, 4] = np.int64(cK)
                    best[nxt] = -np.inf
                    level = nxt
                    continue
                v = -(WIN - (ply0 + nxt) * PLY_STEP)
            elif count_moves(cP, cO, cK, cside, children[nxt], paths[nxt], plens[nxt]) == 0:
                v = -(WIN - (ply0 + nxt) * PLY_STEP)
            else:
                if collect:
                    if nl >= cap:
                        return -2
                    nodes[nl, 0] = np.int64(cP)
                    nodes[nl, 1] = np.int64(cO)
                    nodes[nl, 2] = np.int64(cK)
                    nodes[nl, 3] = cside
                    if with_obs:
                        black, white = (cP, cO) if cside == 0 else (cO, cP)
                        write_observation(black, white, cK, cside, -1, cclock, obs[nl], mask)
                    v = 0.0
                else:
                    v = values[nl]
                nl += 1
            score = -v
        else:
            v = best[level]
            if level == 0:
                return nl
            level -= 1
            score = -v
            i = state[level, 1] - 1
        if level == 0:
            child_vals[i] = score
        if score > best[level]:
            best[level] = score


@njit(cache=True)
def hand_values(nodes: np.ndarray, out: np.ndarray) -> None:
    """out[i] = tanh(evaluate(leaf i) / HAND_SCALE) for leaves (rows P, O, K, side): the
    hand-written evaluation of `alphabeta`, from the leaf's side to move, in (-1, 1)."""
    for i in range(out.shape[0]):
        P, O, K = np.uint64(nodes[i, 0]), np.uint64(nodes[i, 1]), np.uint64(nodes[i, 2])
        out[i] = np.tanh(evaluate(P, O, K, int(nodes[i, 3])) / HAND_SCALE)
