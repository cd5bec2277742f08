"""`search:MODEL:DEPTH[:MS]`: negamax alpha-beta with a trained network's critic at the leaves and
its policy ordering the moves; leaves are evaluated in batched forward passes.

Spec grammar (parsed by `kingme.players.registry.parse_search_args`):
- ``search:MODEL:DEPTH``     search DEPTH plies (1..40) and play the best move;
- ``search:MODEL::MS``       iterative deepening under a time limit of MS milliseconds per move;
- ``search:MODEL:DEPTH:MS``  both: at most DEPTH plies, at most MS milliseconds.
MODEL is what ``policy:`` accepts: ``default`` (the shipped model), a model file, a self-play
checkpoint or a run folder.

The search (`NetSearch.search`)
-------------------------------
1. **Negamax alpha-beta** on the core's bitboards (a multi-jump is one ply), values in the
   critic's units from the side to move's view: the critic's V(s) in [-1, 1] (clamped), a loss
   with no legal move at ply p scores ``-(WIN - p * PLY_STEP)`` (``WIN`` = 2, beyond any value),
   so the search prefers the fastest win and the slowest loss.
2. **Batched leaves**: a node one ply above the horizon (a *frontier* node) is not searched move by
   move: every child is first brought to a quiet position (below), all the quiet positions of all
   its children that the search has not yet evaluated go through the critic in ONE forward pass,
   and then the node's value is backed up from those values. (At the root of the depth-1
   iteration the root itself is the frontier node.) The price is that the last ply is not pruned;
   the gain is one torch call per frontier node instead of one per leaf.
3. **Quiescence**: captures are compulsory, so a position whose side to move can capture is never
   evaluated: its captures are played out (all of them, minimax, no stand-pat) until the position
   is quiet; the critic only ever sees quiet positions.
4. **Move ordering**: at a node with two or more plies left, the best move of the previous
   iteration there (if any) first, then the others by the policy's logit of their first action
   (the policy's ranking of the moves, as the first action fixes all but the choice between
   multi-jumps sharing it). The policy logits of a node's children are computed in one forward
   pass when the node is expanded (only for children that will themselves need ordering).
5. **Iterative deepening**: depths 1, 2, ..., DEPTH; the root's moves are ordered by the previous
   iteration's scores; with a time limit the move comes from the deepest completed iteration
   (depth 1 always completes). A proven win or loss stops the deepening.
6. **Draw rules are ignored inside the search** (like `alphabeta`), but the draw clock is kept in
   the positions the critic sees (the observation has a clock plane).
7. **Determinism**: the caches are cleared for every move, and ties at the root (moves whose
   scores are within ``TIE_EPS`` of the best, each searched with a window just below the best
   so far, so their scores are exact) are broken by the player's seeded generator. With a fixed
   depth the move is a function of the position and the seed.

`SearchPlayer.last` holds the last search's `NetSearchResult` (move, score, depth reached, nodes,
leaves, forward passes, principal variation); ``move_probabilities`` and ``value`` give the raw
policy and critic for the web page's analysis.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from numba import njit

from kingme.checkers import Board, Move
from kingme.checkers.core import BIT_SQUARES, MAX_MOVES, MAX_PATH, count_moves, generate, jumpers
from kingme.envs.bridge import NUM_ACTIONS, OBS_SHAPE
from kingme.envs.checkers_vec import write_observation
from kingme.nets import ActorCritic
from kingme.players.policy import load_model, move_distributions, resolve_model_path
from kingme.players.registry import PolicySpec, parse_search_args

__all__ = [
    "PLY_STEP",
    "TIE_EPS",
    "WIN",
    "NetSearch",
    "NetSearchResult",
    "SearchPlayer",
    "load_search_player",
]

WIN = 2.0  # a win at ply p scores WIN - p * PLY_STEP; critic values are clamped to [-1, 1]
PLY_STEP = 1e-3
TIE_EPS = 1e-6  # root moves scoring within this of the best are ties (broken by the seed)
INF = float("inf")
CLOCK_CHECK = 31  # the clock is read every CLOCK_CHECK + 1 nodes

# a node: (P, O, K, side, clock) as Python ints, P the side to move's pieces (engine bit layout)
Key = tuple[int, int, int, int, int]
# a node's moves: child keys, first action of each (the policy's index), capture flag
Kids = tuple[list[Key], list[int], bool]


# ------------------------------------------------------------------------------------------------
# Compiled helpers


@njit(cache=True)
def _expand(
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
        sq = BIT_SQUARES[a]
        csq = sq - 1 if side == 0 else 32 - sq
        man = ((K >> np.uint64(a)) & np.uint64(1)) == np.uint64(0)
        out[i, 0] = np.int64(children[i, 1])
        out[i, 1] = np.int64(children[i, 0])
        out[i, 2] = np.int64(children[i, 2])
        out[i, 3] = 0 if (capture or man) else clock + 1
        out[i, 4] = 4 * csq + (d if side == 0 else d ^ 2)
        out[i, 5] = 1 if capture else 0
    return n


@njit(cache=True)
def _status(
    P: np.uint64, O: np.uint64, K: np.uint64, side: int, children: np.ndarray, paths: np.ndarray, plens: np.ndarray
) -> int:
    """0: no legal move (lost), 1: quiet (moves, no capture), 2: the side to move must capture."""
    if jumpers(P, O, K, side) != np.uint64(0):
        return 2
    return 1 if count_moves(P, O, K, side, children, paths, plens) > 0 else 0


@njit(cache=True)
def _observe_batch(nodes: np.ndarray, obs: np.ndarray, mask: np.ndarray) -> None:
    """Observations of nodes (rows P, O, K, side, clock) as the environment shows them."""
    for i in range(nodes.shape[0]):
        P = np.uint64(nodes[i, 0])
        O = np.uint64(nodes[i, 1])
        side = int(nodes[i, 3])
        black, white = (P, O) if side == 0 else (O, P)
        write_observation(black, white, np.uint64(nodes[i, 2]), side, -1, int(nodes[i, 4]), obs[i], mask)


# ------------------------------------------------------------------------------------------------
# The search


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
    """The search with its network, caches and statistics (one per player)."""

    def __init__(self, agent: ActorCritic, device: str = "cpu") -> None:
        self.agent = agent
        self.device = device
        self._children = np.empty((MAX_MOVES, 3), dtype=np.uint64)
        self._paths = np.empty((MAX_MOVES, MAX_PATH), dtype=np.int64)
        self._plens = np.empty(MAX_MOVES, dtype=np.int64)
        self._out = np.empty((MAX_MOVES, 6), dtype=np.int64)
        self._mask = np.empty(NUM_ACTIONS, dtype=np.bool_)
        self.clear()

    def clear(self) -> None:
        """Forget every cached value, ordering and expansion (done before every search)."""
        self.values: dict[Key, float] = {}
        self.logits: dict[Key, np.ndarray] = {}
        self.kids: dict[Key, Kids] = {}
        self.status: dict[Key, int] = {}
        self.best: dict[Key, int] = {}
        self.nodes = self.leaves = self.evals = self.batches = 0

    # -- positions --------------------------------------------------------------------------------

    def expand(self, key: Key) -> Kids:
        """The node's moves (cached): child keys, first actions, whether they are captures."""
        kids = self.kids.get(key)
        if kids is None:
            P, O, K, side, clock = key
            n = _expand(
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

    def node_status(self, key: Key) -> int:
        """0 lost (no move), 1 quiet, 2 must capture (cached)."""
        s = self.status.get(key)
        if s is None:
            P, O, K, side, _ = key
            s = int(_status(np.uint64(P), np.uint64(O), np.uint64(K), side, self._children, self._paths, self._plens))
            self.status[key] = s
        return s

    # -- the network ------------------------------------------------------------------------------

    def _observe(self, keys: Sequence[Key]) -> torch.Tensor:
        nodes = np.array(keys, dtype=np.int64).reshape(len(keys), 5)
        obs = np.empty((len(keys), *OBS_SHAPE), dtype=np.float32)
        _observe_batch(nodes, obs, self._mask)
        self.evals += len(keys)
        self.batches += 1
        return torch.from_numpy(obs).to(self.device)

    @torch.no_grad()
    def evaluate(self, keys: Sequence[Key]) -> None:
        """Critic values of the quiet positions not yet evaluated, in one forward pass."""
        todo = list(dict.fromkeys(k for k in keys if k not in self.values))
        if not todo:
            return
        v = self.agent.value(self._observe(todo)).clamp(-1.0, 1.0).cpu().numpy().tolist()
        self.leaves += len(todo)
        self.values.update(zip(todo, v))

    @torch.no_grad()
    def prefetch_logits(self, keys: Sequence[Key]) -> None:
        """Policy logits of the positions not yet seen, in one forward pass."""
        todo = list(dict.fromkeys(k for k in keys if k not in self.logits))
        if not todo:
            return
        logits = self.agent.logits(self._observe(todo)).cpu().numpy()
        self.logits.update(zip(todo, logits))

    # -- quiescence -------------------------------------------------------------------------------

    def _collect(self, key: Key, out: list[Key]) -> None:
        """Append the quiet positions that `qvalue(key)` will need to `out`."""
        s = self.node_status(key)
        if s == 1:
            if key not in self.values:
                out.append(key)
        elif s == 2:
            for child in self.expand(key)[0]:
                self._collect(child, out)

    def qvalue(self, key: Key, ply: int) -> float:
        """The value of a node at the horizon: captures played out, then the critic. The quiet
        positions it needs must have been evaluated (`evaluate`)."""
        s = self.node_status(key)
        if s == 1:
            return self.values[key]
        if s == 0:
            return -(WIN - ply * PLY_STEP)
        self.nodes += 1
        return max(-self.qvalue(child, ply + 1) for child in self.expand(key)[0])

    # -- negamax ----------------------------------------------------------------------------------

    def _tick(self) -> None:
        self.nodes += 1
        if self.deadline and (self.nodes & CLOCK_CHECK) == 0 and time.perf_counter() > self.deadline:
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

    def frontier(self, key: Key, ply: int) -> tuple[float, int]:
        """(value, best move) of a node one ply above the horizon: every child's quiet
        descendants evaluated in one batch, then backed up. The node has legal moves."""
        children = self.expand(key)[0]
        need: list[Key] = []
        for child in children:
            self._collect(child, need)
        self.evaluate(need)
        best, bi = -INF, 0
        for i, child in enumerate(children):
            v = -self.qvalue(child, ply + 1)
            if v > best:
                best, bi = v, i
        return best, bi

    def negamax(self, key: Key, depth: int, alpha: float, beta: float, ply: int) -> float:
        """Fail-soft negamax alpha-beta value of a node (side to move's view) to `depth` plies
        plus quiescence."""
        self._tick()
        if depth <= 0:
            need: list[Key] = []
            self._collect(key, need)
            self.evaluate(need)
            return self.qvalue(key, ply)
        children, actions, _ = self.expand(key)
        if not children:
            return -(WIN - ply * PLY_STEP)
        if depth == 1:
            best, bi = self.frontier(key, ply)
            self.best[key] = bi
            return best
        if depth >= 3:  # the children will order their own moves: their logits in one pass
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

    def principal_variation(self, key: Key, first: int, limit: int) -> list[int]:
        """The best line from the root (move indices), following the best-move table."""
        pv = [first]
        node = self.expand(key)[0][first]
        seen = {key}
        while len(pv) < limit and node in self.best and node not in seen:
            seen.add(node)
            i = self.best[node]
            pv.append(i)
            node = self.expand(node)[0][i]
        return pv

    def search(
        self, board: Board, max_depth: int, time_ms: float = 0.0, rng: np.random.Generator | None = None
    ) -> NetSearchResult:
        """Iterative-deepening search of a board whose game is not over."""
        start = time.perf_counter()
        self.clear()
        self.deadline = 0.0
        P, O = (board.black, board.white) if board.turn == 0 else (board.white, board.black)
        root: Key = (P, O, board.kings, int(board.turn), board.clock)
        children, actions, _ = self.expand(root)
        n = len(children)
        if n == 0:
            raise ValueError(f"no legal move in {board.fen()}")
        if max_depth >= 2:
            self.prefetch_logits([root])
        root_order = self.order(root, actions)
        final: list[float] = [0.0] * n
        final_best, reached, aborted = -INF, 0, False
        for depth in range(1, max_depth + 1):
            if depth == 2 and time_ms > 0:
                self.deadline = start + time_ms / 1000.0  # depth 1 always completes
            scores = [0.0] * n
            best = -INF
            try:
                if depth == 1:
                    need: list[Key] = []
                    for child in children:
                        self._collect(child, need)
                    self.evaluate(need)
                if depth >= 3:
                    self.prefetch_logits(children)
                for j in root_order:
                    a = best - TIE_EPS if best > -INF else -INF
                    v = -self.negamax(children[j], depth - 1, -INF, -a, 1)
                    scores[j] = v
                    if v > best:
                        best = v
            except _Abort:
                aborted = True
                break
            final, final_best, reached = scores, best, depth
            root_order = sorted(range(n), key=lambda j: -scores[j])
            if abs(best) > 1.5:
                break  # a forced result is proven within this depth
        ties = [j for j in range(n) if final[j] >= final_best - TIE_EPS]
        pick = ties[int(rng.integers(len(ties)))] if rng is not None and len(ties) > 1 else ties[0]
        pv = self.principal_variation(root, pick, reached)
        ms = (time.perf_counter() - start) * 1000.0
        return NetSearchResult(
            pick, final[pick], reached, self.nodes, self.leaves, self.evals, self.batches, aborted, ms, pv
        )


# ------------------------------------------------------------------------------------------------
# The player


class SearchPlayer:
    """Alpha-beta with a network: `depth` plies, optionally cut at `time_ms` per move."""

    def __init__(
        self,
        agent: ActorCritic,
        depth: int,
        time_ms: float = 0.0,
        seed: int = 0,
        name: str | None = None,
        device: str = "cpu",
    ) -> None:
        self.agent = agent
        self.depth = depth
        self.time_ms = time_ms
        self.device = device
        self.name = name or (f"search:{depth}" + (f":{time_ms:g}" if time_ms else ""))
        self.engine = NetSearch(agent, device)
        self.rng = np.random.default_rng(seed)
        self.last: NetSearchResult | None = None

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def analyse(self, board: Board) -> NetSearchResult:
        """The search's result for `board` (its move, score, depth and principal variation)."""
        r = self.engine.search(board, self.depth, self.time_ms, self.rng)
        self.last = r
        return r

    def choose(self, board: Board) -> Move:
        moves = board.legal_moves()
        if not moves:
            raise ValueError(f"no legal move in {board.fen()}")
        if len(moves) == 1:  # forced: no search (the generator is not consumed either)
            self.last = None
            return moves[0]
        return moves[self.analyse(board).index]

    def pv_moves(self, board: Board, result: NetSearchResult | None = None) -> list[Move]:
        """The principal variation of `result` (default: the last search of `board`) as moves."""
        r = result or self.last
        b = board.copy()
        line: list[Move] = []
        for i in r.pv if r else []:
            moves = b.legal_moves()
            if i >= len(moves):
                break
            line.append(moves[i])
            b.push(moves[i])
        return line

    # hooks used by the web page's analysis (the raw network, as for `policy:`)
    def move_probabilities(self, board: Board) -> dict[Move, float]:
        """The policy's probability of each legal move of `board`."""
        return dict(move_distributions(self.agent, [board], 1.0, self.device)[0][0])

    def value(self, board: Board) -> float:
        """The critic's value of `board` for the side to move, in [-1, 1] (as `PolicyPlayer.value`)."""
        return float(move_distributions(self.agent, [board], 1.0, self.device)[1][0])


def load_search_player(args: str, seed: int = 0) -> SearchPlayer:
    """The player named by ``search:ARGS`` (the `search` kind's factory)."""
    model, depth, ms = parse_search_args(args)
    agent, _ = load_model(resolve_model_path(PolicySpec(model, False, 1.0)))
    torch.set_num_threads(1)  # one core per player, as for `policy:`
    return SearchPlayer(agent, depth, ms, seed, name=f"search:{args}")
