"""What a model thinks of a position: move probabilities and a value, for the web page.

The hook (`Analyzer`) is one method, ``analyze(board) -> Analysis``. `analyzer_for(player)` makes
one from a loaded player, by duck typing, so the players need nothing from this package:

- a player with ``analyze(board)`` returning an `Analysis` is used as it is;
- a player with ``move_probabilities(board) -> Mapping[Move | str, float]`` (the policy's
  distribution over the legal moves of ``board``) is wrapped in `PolicyAnalyzer`; its critic,
  if it has one, is ``value(board) -> float`` (the value head: the side to move's expected
  return, in [-1, 1]);
- a player that searches, ``principal_variation(board) -> (line, score)``, adds its best line and
  score (`search:` through `PolicyAnalyzer`; ``alphabeta:D``, which has no policy, through
  `SearchAnalyzer`: uniform probabilities, labelled "search; no policy", plus the line);
- any other player (``random``, ``greedy``...) has no policy: `UniformAnalyzer` answers
  with the uniform distribution over the legal moves, ``value`` None and ``source``
  ``"uniform (no policy loaded)"``. Nothing is invented: a uniform policy and no value is
  exactly what the server knows without a trained network.

The value is an expected return, not a chance to win: a critic trained with a draw penalty values
a draw below 0, so (v + 1) / 2 is no probability. It is reported as it is, in [-1, 1] (+1: the side
to move wins for sure, -1: it loses). A player whose critic predicts win / draw / loss (``wdl(board)
-> (win, draw, loss)``, the `--value-head wdl` networks) adds those three probabilities.

Probabilities are checked (finite, non-negative, only legal moves, positive total) and
renormalised over the legal moves, so they always sum to one. ``policy`` says whether they are a
policy's (False for the uniform stand-in of a player without one: the page then ranks nothing).

A search's conclusion is its chosen move (``best``, the first move of its line), its line and its
score; `forced_result` reads a score beyond the evaluation's range as a forced win or loss in so
many plies. The static parts (probabilities, the network's value) are computed first and the
search last: when the request's cost bound (`kingme.players.limits`) cuts the search, the answer
keeps the static parts and says ``search_cut``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from kingme.checkers import Board, BoardError, Move
from kingme.players.alphabeta import MATE
from kingme.players.limits import Stopped

UNIFORM_SOURCE = "uniform (no policy loaded)"


@dataclass(frozen=True)
class Analysis:
    """Move probabilities over the legal moves (in `board.legal_moves()` order) and a value."""

    probs: list[tuple[Move, float]]
    value: float | None  # the side to move's expected return, in [-1, 1]; None if unknown
    source: str  # who computed it, e.g. "policy:default" or UNIFORM_SOURCE
    critic: bool = False  # the source has a value head (value is None only at game over then)
    wdl: tuple[float, float, float] | None = None  # (win, draw, loss) for the side to move, if known
    pv: list[Move] | None = None  # a search's best line from the position (None: no search)
    score: float | None = None  # the search's score of the position for the side to move
    score_units: str | None = None  # what the score is measured in
    policy: bool = True  # probs are a policy's (False: the uniform stand-in of a player without one)
    search_cut: bool = False  # the search was cut by the request's cost bound (no pv, no score)

    def to_json(self) -> dict[str, Any]:
        forced = None
        if self.score is not None and self.score_units is not None:
            forced = forced_result(self.score, self.score_units)
        return {
            "moves": [{"move": str(m), "path": list(m.path), "prob": p} for m, p in self.probs],
            "policy": self.policy,
            "best": str(self.pv[0]) if self.pv else None,
            "forced": None if forced is None else {"win": forced[0], "plies": forced[1]},
            "search_cut": self.search_cut,
            "value": self.value,
            "wdl": None if self.wdl is None else dict(zip(("win", "draw", "loss"), self.wdl)),
            "pv": None if self.pv is None else [str(m) for m in self.pv],
            "pv_paths": None if self.pv is None else [list(m.path) for m in self.pv],
            "score": self.score,
            "score_units": self.score_units,
            "source": self.source,
            "critic": self.critic,
        }


@runtime_checkable
class Analyzer(Protocol):
    source: str

    def analyze(self, board: Board) -> Analysis:
        """The analysis of ``board`` (whose game may be over: then ``probs`` is empty)."""
        ...


class UniformAnalyzer:
    """The documented fallback: every legal move equally likely, no value."""

    def __init__(self, source: str = UNIFORM_SOURCE) -> None:
        self.source = source

    def analyze(self, board: Board) -> Analysis:
        moves = board.legal_moves()
        p = 1.0 / len(moves) if moves else 0.0
        return Analysis([(m, p) for m in moves], None, self.source, policy=False)


class PolicyAnalyzer:
    """Wraps a player that exposes ``move_probabilities`` (and maybe a critic, see above)."""

    def __init__(self, player: Any, source: str) -> None:
        self.player = player
        self.source = source
        self.critic = callable(getattr(player, "value", None))

    def analyze(self, board: Board) -> Analysis:
        moves = board.legal_moves()
        if not moves:  # the game is over: nothing to choose, nothing to estimate
            return Analysis([], None, self.source, self.critic)
        raw = self.player.move_probabilities(board.copy())
        probs = normalise(board, raw, self.source)
        value, wdl = self.expected_return(board), self.win_draw_loss(board)  # static: before the search
        pv, score, cut = search_line(self.player, board)
        units = SEARCH_UNITS if pv is not None else None
        return Analysis(probs, value, self.source, self.critic, wdl, pv, score, units, search_cut=cut)

    def win_draw_loss(self, board: Board) -> tuple[float, float, float] | None:
        """(win, draw, loss) from a critic that predicts them (``wdl(board)``), checked; else None."""
        wdl = getattr(self.player, "wdl", None)
        out = wdl(board.copy()) if callable(wdl) else None
        if out is None:
            return None
        w, d, lo = (float(x) for x in out)
        if not all(math.isfinite(x) and x >= 0 for x in (w, d, lo)) or abs(w + d + lo - 1) > 1e-4:
            raise ValueError(f"{self.source}: win/draw/loss {out} is not a distribution")
        return w, d, lo

    def expected_return(self, board: Board) -> float | None:
        """The critic's value of ``board`` for the side to move, in [-1, 1] (None: no critic)."""
        if not self.critic:
            return None
        v = float(self.player.value(board.copy()))
        if not math.isfinite(v):
            raise ValueError(f"{self.source}: value {v} is not a number")
        return min(1.0, max(-1.0, v))  # a linear value head may overshoot the reward range a little


def normalise(board: Board, raw: Mapping[Move | str, float], source: str) -> list[tuple[Move, float]]:
    """``raw`` as probabilities over ``board``'s legal moves, in their order, summing to one."""
    moves = board.legal_moves()
    weights = dict.fromkeys(moves, 0.0)
    for key, p in raw.items():
        try:
            m = board.parse_move(key)
        except BoardError as e:
            raise ValueError(f"{source}: probability for a move that is not legal: {e}") from None
        p = float(p)
        if not (math.isfinite(p) and p >= 0.0):
            raise ValueError(f"{source}: probability {p} for {m} is not a non-negative number")
        weights[m] += p
    total = sum(weights.values())
    if not total > 0.0:
        raise ValueError(f"{source}: the probabilities of the legal moves sum to {total}")
    return [(m, weights[m] / total) for m in moves]


SEARCH_UNITS = "critic value for the side to move, -1..1 (beyond +-1: a forced result)"
ALPHABETA_UNITS = "hand-written evaluation for the side to move (a man = 100)"


def forced_result(score: float, units: str) -> tuple[bool, int] | None:
    """(the side to move wins, in how many plies) when a search ``score`` in ``units`` is a forced
    result, else None. Network units (-1..1) score a win at ply p as 2 - p / 1000; the hand-written
    evaluation (points) as MATE - p (losses negated)."""
    a = abs(score)
    if units == ALPHABETA_UNITS:
        plies = MATE - a if a > MATE // 2 else None
    else:
        plies = (2.0 - a) * 1000.0 if a > 1.5 else None
    return None if plies is None else (score > 0, round(plies))


def search_line(player: Any, board: Board) -> tuple[list[Move] | None, float | None, bool]:
    """A searching player's best line and score (``principal_variation(board)``), checked, or
    (None, None) for a player that does not search; the flag: the cost bound cut the search."""
    pv_of = getattr(player, "principal_variation", None)
    if not callable(pv_of):
        return None, None, False
    try:
        line, score = pv_of(board.copy())
    except Stopped:
        return None, None, True
    b = board.copy()
    for m in line:  # the line must be playable from the position
        if m not in b.legal_moves():
            raise ValueError(f"principal variation move {m} is not legal")
        b.push(m)
    if not math.isfinite(float(score)):
        raise ValueError(f"search score {score} is not a number")
    return list(line), float(score), False


class SearchAnalyzer:
    """A search bot with no policy (``alphabeta:D``, ``search:default``): its best line and score
    (in the player's ``score_units``), the uniform distribution over the legal moves (it has no
    probabilities to give), labelled as such, and with an evaluation network its static value."""

    def __init__(self, player: Any, source: str) -> None:
        self.player = player
        self.source = f"{source} (search; no policy)"

    def analyze(self, board: Board) -> Analysis:
        uniform = UniformAnalyzer(self.source).analyze(board)
        if not uniform.probs:
            return uniform
        value = None
        if getattr(self.player, "net", None) is not None:  # a search with an evaluation network
            value = PolicyAnalyzer(self.player, self.source).expected_return(board)
        pv, score, cut = search_line(self.player, board)
        units = str(getattr(self.player, "score_units", ALPHABETA_UNITS)) if pv is not None else None
        return Analysis(
            uniform.probs, value, self.source, value is not None, None, pv, score, units, policy=False, search_cut=cut
        )


def analyzer_for(player: Any) -> Analyzer | None:
    """The analyzer a loaded player provides, or None when it neither has a policy nor searches."""
    name = str(getattr(player, "name", "") or type(player).__name__)
    analyze = getattr(player, "analyze", None)
    if callable(analyze) and isinstance(player, Analyzer):
        return player
    if callable(getattr(player, "move_probabilities", None)):
        return PolicyAnalyzer(player, name)
    if callable(getattr(player, "principal_variation", None)):
        return SearchAnalyzer(player, name)
    return None
