"""The network search: negamax alpha-beta with a trained network's critic at the leaves and its
policy ordering the moves, leaves evaluated in batched forward passes (`NetSearch`; the player
that wraps it and its spec are `kingme.players.search`).

The search (`NetSearch.search`)
-------------------------------
1. **Negamax alpha-beta** on the core's bitboards (a multi-jump is one ply), values in the
   critic's units from the side to move's view: the critic's V(s) in [-1, 1] (clamped), a loss
   with no legal move at ply p scores ``-(WIN - p * PLY_STEP)`` (``WIN`` = 2, beyond any value),
   so the search prefers the fastest win and the slowest loss.
2. **Batched leaves**: the last ``FRONTIER`` plies (2) above the horizon are not searched move by
   move: a node with that many plies left hands its whole subtree to a compiled kernel
   (`search_tree.tree_values`), which walks it full width, plays out the captures below it (3.) and writes the
   observation of every quiet leaf; the critic evaluates them all in ONE forward pass, and the
   kernel walks the same tree again to back the values up (minimax). Those plies are not
   pruned; in exchange a depth-6 search makes tens of forward passes of about thirty positions
   each instead of one call per leaf, and the Python search above them visits a few hundred
   nodes. (At the root of iterations 1 and 2 the root itself is that node.) The values are
   those of plain alpha-beta to the same depth: only the cost changes with ``FRONTIER``.
3. **Quiescence**: captures are compulsory, so a position whose side to move can capture is never
   evaluated: its captures are played out (all of them, minimax, no stand-pat) until the position
   is quiet; the critic only ever sees quiet positions.
4. **Move ordering**: at a node above the batched plies, the best move of the previous
   iteration there (if any) first, then the others by the policy's logit of their first action
   (the policy's ranking of the moves, as the first action fixes all but the choice between
   multi-jumps sharing it). The policy logits of a node's children are computed in one forward
   pass when the node is expanded (only for children that will themselves need ordering).
   Ordering changes the cost, never the value.
5. **Iterative deepening**: depths 1, 2, ..., DEPTH; the root's moves are ordered by the previous
   iteration's scores; with a time limit (MS, or the clock of the current `Limit`,
   `kingme.players.limits`) the move comes from the deepest completed iteration (the clock never
   cuts depth 1; a stopped `Limit` or its node budget does, and the search then raises `Stopped`)
   or, if the interrupted iteration finished the previous best move (it is searched first), the
   best of the moves it finished. The clock and the limit are read at every interior node (each
   costs a batch or more). A proven win or loss stops the deepening.
6. **Draw rules are ignored inside the search** (like `alphabeta`), but the draw clock is kept in
   the positions the critic sees (the observation has a clock plane).
7. **Determinism**: the caches are cleared for every move, and ties at the root (moves whose
   scores are within ``TIE_EPS`` of the best, each searched with a window just below the best
   so far, so their scores are exact) are broken by the player's seeded generator. With a fixed
   depth the move is a function of the position and the seed.
8. **Other leaves and orderings** (for experiments such as `kingme experiment run learned-eval`;
   the spec always means the defaults): ``leaf="hand"`` evaluates the quiet leaves with
   `alphabeta`'s hand-written evaluation squashed into the critic's range, tanh(score /
   ``HAND_SCALE``) (monotone and odd, so the minimax is that of `alphabeta` to the same depth), in
   a compiled loop instead of a forward pass; ``order="none"`` drops the policy's ordering (the
   previous iteration's best first, then generation order) and its forward passes. Everything
   else (the tree, batching, quiescence, deepening, ties) is the same code.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from kingme.checkers import Board
from kingme.checkers.core import MAX_MOVES, MAX_PATH
from kingme.envs.planes import NUM_ACTIONS, OBS_SHAPE
from kingme.nets import ActorCritic
from kingme.players.limits import Limit, Stopped, current
from kingme.players.search_heads import network_heads
from kingme.players.search_tree import (
    PLY_STEP,
    TREE_LEVELS,
    WIN,
    expand_node,
    hand_values,
    observe_batch,
    tree_values,
)

__all__ = ["FRONTIER", "LEAVES", "ORDERS", "TIE_EPS", "Key", "Kids", "NetSearch", "NetSearchResult"]

TIE_EPS = 1e-6  # root moves scoring within this of the best are ties (broken by the seed)
INF = float("inf")
FRONTIER = 2  # plies below a node that one batch of leaves covers (chosen by measurement)
LEAVES = ("critic", "hand")  # what scores a quiet leaf: the network's critic, or alphabeta's evaluation
ORDERS = ("policy", "none")  # what orders the moves above the batched plies (after the previous best)

# a node: (P, O, K, side, clock) as Python ints, P the side to move's pieces (engine bit layout)
Key = tuple[int, int, int, int, int]
# a node's moves: child keys, first action of each (the policy's index), capture flag
Kids = tuple[list[Key], list[int], bool]


class _Abort(Exception):
    """The clock ran out in the middle of an iteration."""


@dataclass
class NetSearchResult:
    """The outcome of one search."""

    index: int  # the chosen move, in `Board.legal_moves()` order
    score: float  # its value for the side to move (critic units; beyond +-1: a forced result)
    depth: int  # deepest completed iteration
    nodes: int  # nodes visited (interior and frontier), over all iterations
    leaves: int  # quiet positions evaluated by the critic
    evals: int  # positions through the network (critic leaves plus policy orderings)
    batches: int  # forward passes
    aborted: bool  # an iteration was cut by the clock
    ms: float  # wall time of the search
    pv: list[int] = field(default_factory=list)  # principal variation: move indices from the root


class NetSearch:
    """The search with its network, caches and statistics (one per player). ``frontier`` is the
    number of plies below a node that one batch covers (1, 2 or 3; `FRONTIER` by default, see
    the module docstring);
    ``leaf`` (`LEAVES`) what scores the quiet leaves and ``order`` (`ORDERS`) whether the policy
    orders the moves (item 8 of the module docstring)."""

    def __init__(
        self,
        agent: ActorCritic,
        device: str = "cpu",
        frontier: int = FRONTIER,
        leaf: str = "critic",
        order: str = "policy",
    ) -> None:
        if frontier not in (1, 2, 3):
            raise ValueError(f"frontier must be 1, 2 or 3, not {frontier}")
        if leaf not in LEAVES:
            raise ValueError(f"leaf must be one of {', '.join(LEAVES)}, not {leaf!r}")
        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
        self.agent = agent
        self.device = device
        self.frontier = frontier
        self.leaf = leaf
        self.ordering = order
        self._value, self._logits = network_heads(agent)
        self._children = np.empty((MAX_MOVES, 3), dtype=np.uint64)
        self._paths = np.empty((MAX_MOVES, MAX_PATH), dtype=np.int64)
        self._plens = np.empty(MAX_MOVES, dtype=np.int64)
        self._out = np.empty((MAX_MOVES, 6), dtype=np.int64)
        self._mask = np.empty(NUM_ACTIONS, dtype=np.bool_)
        # the tree kernel's work arrays
        self._tchildren = np.empty((TREE_LEVELS, MAX_MOVES, 3), dtype=np.uint64)
        self._tpaths = np.empty((TREE_LEVELS, MAX_MOVES, MAX_PATH), dtype=np.int64)
        self._tplens = np.empty((TREE_LEVELS, MAX_MOVES), dtype=np.int64)
        self._tstate = np.empty((TREE_LEVELS, 5), dtype=np.int64)
        self._tbest = np.empty(TREE_LEVELS, dtype=np.float64)
        self._child_vals = np.empty(MAX_MOVES, dtype=np.float64)
        self._obs = np.empty((1024, *OBS_SHAPE), dtype=np.float32)
        self._nodes = np.empty((1024, 4), dtype=np.int64)  # the quiet leaves' (P, O, K, side)
        self._none = np.empty(0, dtype=np.float64)
        self.deadline = 0.0  # perf_counter seconds, 0.0: none
        self.limit: Limit | None = None  # the current limit of the search in progress
        self.clear()

    def clear(self) -> None:
        """Forget every cached ordering and expansion (done before every search)."""
        self.logits: dict[Key, np.ndarray] = {}
        self.kids: dict[Key, Kids] = {}
        self.best: dict[Key, int] = {}
        self.nodes = self.leaves = self.evals = self.batches = 0

    # -- positions --------------------------------------------------------------------------------

    def expand(self, key: Key) -> Kids:
        """The node's moves (cached): child keys, first actions, whether they are captures."""
        kids = self.kids.get(key)
        if kids is None:
            P, O, K, side, clock = key
            n = expand_node(
                np.uint64(P),
                np.uint64(O),
                np.uint64(K),
                side,
                clock,
                self._children,
                self._paths,
                self._plens,
                self._out,
            )
            rows = self._out[:n].tolist()
            child_side = 1 - side
            kids = (
                [(r[0], r[1], r[2], child_side, r[3]) for r in rows],
                [r[4] for r in rows],
                bool(n and rows[0][5]),
            )
            self.kids[key] = kids
        return kids

    # -- the network ------------------------------------------------------------------------------

    @torch.no_grad()
    def values_of(self, obs: np.ndarray) -> np.ndarray:
        """The critic's values (clamped to [-1, 1], float64) of observations, in one forward pass."""
        self.evals += len(obs)
        self.batches += 1
        v = self._value(torch.from_numpy(obs).to(self.device)).clamp(-1.0, 1.0)
        return v.cpu().numpy().astype(np.float64)

    def leaf_values(self, n: int) -> np.ndarray:
        """The values of the first `n` leaves the tree kernel collected (``leaf`` decides how)."""
        if self.leaf == "hand":
            out = np.empty(n, dtype=np.float64)
            hand_values(self._nodes[:n], out)
            return out
        return self.values_of(self._obs[:n])

    @torch.no_grad()
    def prefetch_logits(self, keys: Sequence[Key]) -> None:
        """Policy logits of the positions not yet seen, in one forward pass (none with
        ``order="none"``: the moves then keep generation order)."""
        if self.ordering != "policy":
            return
        todo = list(dict.fromkeys(k for k in keys if k not in self.logits))
        if not todo:
            return
        nodes = np.array(todo, dtype=np.int64).reshape(len(todo), 5)
        obs = np.empty((len(todo), *OBS_SHAPE), dtype=np.float32)
        observe_batch(nodes, obs, self._mask)
        self.evals += len(todo)
        self.batches += 1
        logits = self._logits(torch.from_numpy(obs).to(self.device)).cpu().numpy()
        self.logits.update(zip(todo, logits))

    def tree(self, key: Key, full: int, ply: int) -> np.ndarray:
        """The backed-up value of each move of a node (its side to move's view): `full` plies
        full width, then captures played out, every quiet leaf through the critic in ONE batch.
        Empty if the node has no legal move."""
        P, O, K, side, clock = key
        args = (np.uint64(P), np.uint64(O), np.uint64(K), side, clock, full, ply)
        work = (self._tchildren, self._tpaths, self._tplens, self._tstate, self._tbest)
        obs = self.leaf == "critic"
        while True:
            nl = tree_values(*args, True, self._none, self._obs, self._nodes, obs, self._mask, self._child_vals, *work)
            if nl != -2:
                break
            self._obs = np.empty((2 * len(self._obs), *OBS_SHAPE), dtype=np.float32)
            self._nodes = np.empty((2 * len(self._nodes), 4), dtype=np.int64)
        if nl == -1:
            return np.empty(0)
        values = self.leaf_values(nl) if nl else self._none
        self.leaves += nl
        if self.limit is not None:
            self.limit.spend(nl)
        tree_values(*args, False, values, self._obs, self._nodes, obs, self._mask, self._child_vals, *work)
        return self._child_vals[: self._tstate[0, 0]].copy()

    # -- negamax ----------------------------------------------------------------------------------

    def _tick(self) -> None:
        """Count an interior node and give up (`_Abort`) past the deadline or when the current
        `Limit` is halted: read at every interior node, as each costs a batch or more."""
        self.nodes += 1
        if self.deadline and time.perf_counter() > self.deadline:
            raise _Abort
        if self.limit is not None:
            self.limit.spend(1)
            if self.limit.halted:
                raise _Abort

    def order(self, key: Key, actions: list[int]) -> list[int]:
        """Move indices in search order: the previous iteration's best, then by policy logit."""
        logits = self.logits.get(key)
        if logits is None:
            idx = list(range(len(actions)))
        else:
            idx = sorted(range(len(actions)), key=lambda i: -float(logits[actions[i]]))
        hint = self.best.get(key)
        if hint is not None and idx[0] != hint:
            idx.remove(hint)
            idx.insert(0, hint)
        return idx

    def negamax(self, key: Key, depth: int, alpha: float, beta: float, ply: int) -> float:
        """Fail-soft negamax alpha-beta value of a node (side to move's view) to `depth` >= 1
        plies plus quiescence."""
        self._tick()
        if depth <= self.frontier:
            vals = self.tree(key, depth, ply)
            if len(vals) == 0:
                return -(WIN - ply * PLY_STEP)
            bi = int(np.argmax(vals))
            self.best[key] = bi
            return float(vals[bi])
        children, actions, _ = self.expand(key)
        if not children:
            return -(WIN - ply * PLY_STEP)
        if depth - 1 > self.frontier:  # the children will order their own moves: logits in one pass
            self.prefetch_logits(children)
        best, bi = -INF, 0
        for i in self.order(key, actions):
            v = -self.negamax(children[i], depth - 1, -beta, -max(alpha, best), ply + 1)
            if v > best:
                best, bi = v, i
                if best >= beta:
                    break
        self.best[key] = bi
        return best

    def principal_variation(self, key: Key, first: int, limit: int, extend: bool = False) -> list[int]:
        """The best line from `key` (move indices) to `limit` plies, starting with move `first`,
        following the best-move table of the last search; with `extend`, where the table ends
        inside the batched plies the line goes on with the best move of a fresh batch there."""
        pv = [first]
        node = self.expand(key)[0][first]
        seen = {key}
        while len(pv) < limit and node not in seen:
            seen.add(node)
            i = self.best.get(node)
            if i is None:
                lim = current()
                if not extend or (lim is not None and lim.stopped):
                    break
                vals = self.tree(node, limit - len(pv), len(pv))
                if len(vals) == 0:
                    break
                i = int(np.argmax(vals))
            pv.append(i)
            node = self.expand(node)[0][i]
        return pv

    def search(
        self, board: Board, max_depth: int, time_ms: float = 0.0, rng: np.random.Generator | None = None
    ) -> NetSearchResult:
        """Iterative-deepening search of a board whose game is not over, cut by ``time_ms`` and
        by the current `Limit` (its clock from the second iteration on, a stop or its node budget
        at once): the deepest completed iteration's move (`Stopped` if the limit cut the first)."""
        start = time.perf_counter()
        self.clear()
        self.deadline = 0.0
        self.limit = limit = current()
        deadline = start + time_ms / 1000.0 if time_ms > 0 else INF
        if limit is not None:
            deadline = min(deadline, limit.deadline)
        P, O = (board.black, board.white) if board.turn == 0 else (board.white, board.black)
        root: Key = (P, O, board.kings, int(board.turn), board.clock)
        children, actions, _ = self.expand(root)
        n = len(children)
        if n == 0:
            raise ValueError(f"no legal move in {board.fen()}")
        if max_depth > self.frontier:
            self.prefetch_logits([root])
        root_order = self.order(root, actions)
        final: list[float] = [0.0] * n
        final_best, reached, aborted = -INF, 0, False
        for depth in range(1, max_depth + 1):
            if depth == 2 and deadline < INF:
                self.deadline = deadline  # depth 1 completes unless the limit is halted
            scores = [-INF] * n
            best = -INF
            done = 0
            try:
                self._tick()
                if depth <= self.frontier:  # the whole iteration is one batch
                    scores = self.tree(root, depth, 0).tolist()
                    best = max(scores)
                else:
                    if depth - 1 > self.frontier:
                        self.prefetch_logits(children)
                    for j in root_order:
                        a = best - TIE_EPS if best > -INF else -INF
                        v = -self.negamax(children[j], depth - 1, -INF, -a, 1)
                        scores[j] = v
                        done += 1
                        if v > best:
                            best = v
            except _Abort:
                aborted = True
                if depth == 1:
                    self.limit = None
                    raise Stopped(limit.reason() if limit is not None else "stopped") from None
                # the moves this iteration finished (the previous best first) were searched
                # deeper: the best of them is the better move
                if done:
                    final, final_best = scores, best
                break
            final, final_best, reached = scores, best, depth
            root_order = sorted(range(n), key=lambda j: -scores[j])
            self.best[root] = root_order[0]
            if abs(best) > 1.5:
                break  # a forced result is proven within this depth
        ties = [j for j in range(n) if final[j] >= final_best - TIE_EPS]
        pick = ties[int(rng.integers(len(ties)))] if rng is not None and len(ties) > 1 else ties[0]
        pv = self.principal_variation(root, pick, reached)
        self.limit = None
        ms = (time.perf_counter() - start) * 1000.0
        return NetSearchResult(
            pick, final[pick], reached, self.nodes, self.leaves, self.evals, self.batches, aborted, ms, pv
        )
