"""The two weakest rungs of the ladder: `random` and `greedy`, plus the `alphabeta` player.

- ``random``: a uniformly random legal move.
- ``greedy``: the move that maximises material after one ply, counted from the mover's side with
  the search's weights (man 100, king 130; so crowning counts), ties broken at random.
- ``alphabeta:D[:MS]``: the compiled search of `kingme.players.alphabeta` to depth D, with an
  optional time limit of MS milliseconds per move; with an evaluation network instead of the
  hand-written evaluation (`kingme.players.evalnet`) it is the ``search:EVAL`` player.
- ``mix:EPS:SPEC``: with probability EPS a uniformly random legal move, else SPEC's move. A
  measuring instrument: the ladder measurement uses ``mix:0.5:alphabeta:2`` and friends to bridge
  the gap between ``greedy`` and ``alphabeta:2``, which is too wide to measure directly.

All draw from a seeded generator; ``reseed`` resets it.
"""

from __future__ import annotations

import math
import time

import numpy as np

from kingme.checkers import Board, Color, Move, core
from kingme.common import mix_seed
from kingme.players.alphabeta import KING, MAN, MATE, Searcher, SearchResult, net_value
from kingme.players.base import Player
from kingme.players.evalnet import SCALE, EvalWeights
from kingme.players.limits import current


class RandomPlayer:
    """A uniformly random legal move."""

    def __init__(self, seed: int = 0, name: str = "random") -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def choose(self, board: Board) -> Move:
        moves = board.legal_moves()
        if not moves:
            raise ValueError(f"no legal move in {board.fen()}")
        return moves[int(self.rng.integers(len(moves)))]


def material(P: int, O: int, K: int) -> int:
    """Material of P minus O (man 100, king 130)."""
    return MAN * ((P & ~K).bit_count() - (O & ~K).bit_count()) + KING * ((P & K).bit_count() - (O & K).bit_count())


class GreedyPlayer:
    """The move that leaves the most material (mover's minus opponent's), ties at random."""

    def __init__(self, seed: int = 0, name: str = "greedy") -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)
        self._children = np.empty((core.MAX_MOVES, 3), dtype=np.uint64)
        self._paths = np.empty((core.MAX_MOVES, core.MAX_PATH), dtype=np.int64)
        self._plens = np.empty(core.MAX_MOVES, dtype=np.int64)

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def scores(self, board: Board) -> list[int]:
        """Material after each legal move, in `board.legal_moves()` order (the core's order)."""
        side = board.turn
        P, O = (board.black, board.white) if side == Color.BLACK else (board.white, board.black)
        n = core.generate(
            np.uint64(P),
            np.uint64(O),
            np.uint64(board.kings),
            int(side),
            self._children,
            self._paths,
            self._plens,
        )
        return [material(int(c[0]), int(c[1]), int(c[2])) for c in self._children[:n]]

    def choose(self, board: Board) -> Move:
        moves = board.legal_moves()
        if not moves:
            raise ValueError(f"no legal move in {board.fen()}")
        scores = self.scores(board)
        best = max(scores)
        ties = [i for i, s in enumerate(scores) if s == best]
        return moves[ties[int(self.rng.integers(len(ties)))]]


class AlphaBetaPlayer:
    """Negamax alpha-beta to ``depth`` plies, optionally cut at ``time_ms`` per move."""

    def __init__(
        self, depth: int, time_ms: float = 0.0, seed: int = 0, name: str | None = None, net: EvalWeights | None = None
    ) -> None:
        self.depth = depth
        self.time_ms = time_ms
        self.name = name or (f"alphabeta:{depth}" + (f":{time_ms:g}" if time_ms else ""))
        self.net = net  # an evaluation network instead of the hand-written evaluation (`search:EVAL`)
        self.searcher = Searcher(seed, net)
        self.last: SearchResult | None = None  # the last search's statistics

    def reseed(self, seed: int) -> None:
        self.searcher.reseed(seed)

    def choose(self, board: Board) -> Move:
        moves = board.legal_moves()
        if not moves:
            raise ValueError(f"no legal move in {board.fen()}")
        if len(moves) == 1:  # forced: no search needed (the generator is not consumed either)
            self.last = SearchResult(0, 0, 0, 0, False)
            return moves[0]
        r = self.searcher.search(board.black, board.white, board.kings, int(board.turn), self.depth, self.time_ms)
        self.last = r
        return moves[r.index]

    @property
    def score_units(self) -> str:
        """What `principal_variation`'s score is measured in (for the web page's analysis)."""
        if self.net is None:
            return "hand-written evaluation for the side to move (a man = 100)"
        return "evaluation network's value for the side to move, -1..1 (beyond +-1: a forced result)"

    def score_value(self, score: int) -> float:
        """A search score in `score_units`: points for the hand-written evaluation; with a network
        its value in [-1, 1], and a forced result at ply p as +-(2 - p / 1000), as `search:` does."""
        if self.net is None:
            return float(score)
        if abs(score) > MATE // 2:
            return math.copysign(2.0 - (MATE - abs(score)) / 1000.0, score)
        return score / SCALE

    def value(self, board: Board) -> float:
        """The evaluation network's v(s) of `board` for the side to move, in (-1, 1) (no search);
        only for a player with a network (`search:EVAL`)."""
        if self.net is None:
            raise ValueError(f"{self.name} has no evaluation network")
        P, O = (board.black, board.white) if board.turn == 0 else (board.white, board.black)
        u = np.uint64
        return float(net_value(u(P), u(O), u(board.kings), int(board.turn), self.searcher.kernel))

    def principal_variation(self, board: Board) -> tuple[list[Move], float]:
        """The search's best line from ``board`` and its score for the side to move, in
        `score_units`. The line is found by searching again after each of its moves, one ply
        shallower each time, with a searcher of its own (the player's random tie-breaks are left as
        they were). It is as long as the first search got (its deepest completed iteration); with a
        time limit of MS the whole line takes at most about 3 MS (the later searches, shallower,
        keep the limit, and the line stops growing after 2 MS), not DEPTH searches of MS each.
        Under a `Limit` the line stops growing once it is spent (the first search honours it)."""
        searcher = Searcher(0, self.net)
        b, line = board.copy(), []
        score: float = 0.0
        length = max(self.depth, 1)
        stop = time.perf_counter() + 2e-3 * self.time_ms if self.time_ms else math.inf
        limit = current()
        for k in range(length):
            moves = b.legal_moves()
            if not moves or k >= length or (k > 0 and (time.perf_counter() > stop or (limit and limit.stopped))):
                break
            r = searcher.search(b.black, b.white, b.kings, int(b.turn), length - k, self.time_ms)
            if k == 0:
                score = self.score_value(r.score)
                length = max(r.depth, 1)
            line.append(moves[r.index])
            b.push(moves[r.index])
        return line, score


class MixPlayer:
    """With probability ``eps`` a uniformly random legal move, else ``base``'s move."""

    def __init__(self, eps: float, base: Player, seed: int = 0, name: str | None = None) -> None:
        self.eps = eps
        self.base = base
        self.name = name or f"mix:{eps:g}:{base.name}"
        self.random = RandomPlayer(seed)
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        self.coin = np.random.default_rng(mix_seed(seed, 1))
        self.random.reseed(mix_seed(seed, 2))
        self.base.reseed(mix_seed(seed, 3))

    def choose(self, board: Board) -> Move:
        if self.coin.random() < self.eps:
            return self.random.choose(board)
        return self.base.choose(board)
