"""`search:policy:MODEL:DEPTH[:MS]`: negamax alpha-beta with a trained network's critic at the
leaves and its policy ordering the moves; leaves are evaluated in batched forward passes.

(``search:default`` and ``search:EVAL_FILE`` are the other engine: the compiled `alphabeta` search
with a small distilled evaluation network, `kingme.players.evalnet`; `specs.search_model` says
which a spec names.)

Spec grammar (parsed by `kingme.players.specs.parse_search`):
- ``search:MODEL:DEPTH``     search DEPTH plies (1..40) and play the best move;
- ``search:MODEL::MS``       iterative deepening under a time limit of MS milliseconds per move;
- ``search:MODEL:DEPTH:MS``  both: at most DEPTH plies, at most MS milliseconds.
MODEL is ``policy:`` followed by what ``policy:`` accepts (``default``, the shipped model; a model
file, a self-play checkpoint or a run folder), or without the prefix a shipped policy other than
``default`` (``v1``, ``v2``) or a policy model file.

The search itself is `kingme.players.search_engine` (`NetSearch`; its compiled kernels are in
`kingme.players.search_tree`, the network's fast pass in `kingme.players.search_heads`).

`SearchPlayer.last` holds the last search's `NetSearchResult` (move, score, depth reached, nodes,
leaves, forward passes, principal variation); ``move_probabilities`` and ``value`` give the raw
policy and critic for the web page's analysis.
"""

from __future__ import annotations

import numpy as np
import torch

from kingme.checkers import Board, Move
from kingme.nets import ActorCritic
from kingme.players.limits import check
from kingme.players.policy import load_model, move_distributions, resolve_model_path, win_draw_loss
from kingme.players.search_engine import FRONTIER, LEAVES, ORDERS, TIE_EPS, Key, NetSearch, NetSearchResult
from kingme.players.search_heads import network_heads
from kingme.players.search_tree import HAND_SCALE, PLY_STEP, WIN, observe_batch
from kingme.players.specs import PlayerSpec, PolicySpec, parse_search

__all__ = [
    "FRONTIER",
    "HAND_SCALE",
    "LEAVES",
    "ORDERS",
    "PLY_STEP",
    "TIE_EPS",
    "WIN",
    "NetSearch",
    "NetSearchResult",
    "SearchPlayer",
    "load_search_player",
    "network_heads",
    "observe_batch",
]


class SearchPlayer:
    """Alpha-beta with a network: `depth` plies, optionally cut at `time_ms` per move (``leaf``
    and ``order``: see `NetSearch`)."""

    def __init__(
        self,
        agent: ActorCritic,
        depth: int,
        time_ms: float = 0.0,
        seed: int = 0,
        name: str | None = None,
        device: str = "cpu",
        frontier: int = FRONTIER,
        leaf: str = "critic",
        order: str = "policy",
    ) -> None:
        self.agent = agent
        self.depth = depth
        self.time_ms = time_ms
        self.device = device
        self.name = name or (f"search:{depth}" + (f":{time_ms:g}" if time_ms else ""))
        self.engine = NetSearch(agent, device, frontier, leaf, order)
        self.rng = np.random.default_rng(seed)
        self.last: NetSearchResult | None = None

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def search(self, board: Board) -> NetSearchResult:
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
        return moves[self.search(board).index]

    def pv_moves(self, board: Board) -> list[Move]:
        """The principal variation of the last search (of `board`) as moves, to its depth."""
        r = self.last
        if r is None:
            return []
        P, O = (board.black, board.white) if board.turn == 0 else (board.white, board.black)
        root: Key = (P, O, board.kings, int(board.turn), board.clock)
        pv = self.engine.principal_variation(root, r.pv[0], r.depth, extend=True) if r.pv else []
        b = board.copy()
        line: list[Move] = []
        for i in pv:
            moves = b.legal_moves()
            if i >= len(moves):
                break
            line.append(moves[i])
            b.push(moves[i])
        return line

    def principal_variation(self, board: Board) -> tuple[list[Move], float]:
        """The best line from ``board`` and its score (the critic's value at the end of the
        line, for the side to move at ``board``, in [-1, 1]), from a search of ``board``."""
        if not board.legal_moves():
            return [], 0.0
        r = self.search(board)
        return self.pv_moves(board), float(r.score)

    # hooks used by the web page's analysis (the raw network, as for `policy:`)
    def move_probabilities(self, board: Board) -> dict[Move, float]:
        """The policy's probability of each legal move of `board`."""
        check()
        return dict(move_distributions(self.agent, [board], 1.0, self.device)[0][0])

    def wdl(self, board: Board) -> tuple[float, float, float] | None:
        """The critic's (win, draw, loss) for `board`, when it predicts them (`win_draw_loss`)."""
        check()
        return win_draw_loss(self.agent, board)

    def value(self, board: Board) -> float:
        """The critic's value of `board` for the side to move, in [-1, 1] (as `PolicyPlayer.value`)."""
        check()
        return float(move_distributions(self.agent, [board], 1.0, self.device)[1][0])


def load_search_player(spec: PlayerSpec | str, seed: int = 0) -> SearchPlayer:
    """The player of a parsed ``search:`` spec naming a policy network (the `search` kind's
    factory), or of ``search:ARGS`` given ARGS."""
    if isinstance(spec, str):
        spec = parse_search(f"search:{spec}", spec)
    assert spec.model is not None and spec.depth is not None
    agent, _ = load_model(resolve_model_path(PolicySpec(spec.model, False, 1.0)))
    torch.set_num_threads(1)  # one core per player, as for `policy:`
    return SearchPlayer(agent, spec.depth, spec.ms or 0.0, seed, name=spec.text)
