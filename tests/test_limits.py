"""Cost bounds (`kingme.players.limits`): every player kind returns within its `Limit` or raises
`Stopped`, and `Limit.stop` from another thread ends a compiled search."""

from __future__ import annotations

import math
import threading
import time

import pytest

from kingme.checkers import Board
from kingme.players import load_player
from kingme.players.limits import Limit, Stopped, bounded, check, current
from kingme.players.simple import AlphaBetaPlayer

# five kings each: a deep search here explodes (search:policy:default:10 took 11-16 s unbounded)
KINGS = "B:WK1,K2,K3,K4,K5:BK28,K29,K30,K31,K32"
SLACK = 0.1  # seconds beyond the limit allowed for returning (the contract says about 50 ms)


def test_limit_validates_its_numbers() -> None:
    for bad in (0.0, -1.0, 1e-9, math.inf, math.nan, 1e308):
        with pytest.raises(ValueError):
            Limit(seconds=bad)
    for bad_nodes in (0, -5, 10**18):
        with pytest.raises(ValueError):
            Limit(nodes=bad_nodes)
    assert not Limit(seconds=1.0).stopped


def test_bounded_sets_and_restores_the_current_limit() -> None:
    assert current() is None
    outer, inner = Limit(seconds=10.0), Limit(seconds=5.0)
    with bounded(outer):
        assert current() is outer
        with bounded(inner):
            assert current() is inner
        assert current() is outer
    assert current() is None
    check()  # no limit: nothing to raise


def test_stop_and_check() -> None:
    limit = Limit()
    limit.check()
    limit.stop()
    assert limit.stopped and limit.halted
    with pytest.raises(Stopped):
        limit.check()
    expired = Limit(seconds=0.001)
    time.sleep(0.01)
    assert expired.stopped and not expired.halted
    assert "time budget" in expired.reason()


def _warm(player: object) -> None:
    """Compile (or load from numba's cache) outside the clock: a short bounded search."""
    with bounded(Limit(seconds=0.05)):
        player.choose(Board())  # type: ignore[attr-defined]


def _timed(spec: str, fen: str, seconds: float) -> tuple[float, object]:
    player = load_player(spec, seed=1)
    board = Board.from_fen(fen)
    _warm(player)
    start = time.perf_counter()
    with bounded(Limit(seconds=seconds)):
        try:
            result: object = player.choose(board)
        except Stopped as e:
            result = e
    return time.perf_counter() - start, result


@pytest.mark.parametrize("spec", ["alphabeta:40", "search:default:40"])
def test_compiled_search_returns_within_the_limit(spec: str) -> None:
    elapsed, move = _timed(spec, KINGS, 0.2)
    assert elapsed < 0.2 + SLACK, elapsed
    assert move in Board.from_fen(KINGS).legal_moves()


def test_network_search_returns_within_the_limit() -> None:
    """search:policy:default:10 on five kings each took 11-16 s before the search honoured a limit."""
    elapsed, move = _timed("search:policy:default:10", KINGS, 0.2)
    assert elapsed < 0.2 + SLACK, elapsed
    assert move in Board.from_fen(KINGS).legal_moves()


def test_node_budget_cuts_the_search() -> None:
    player = AlphaBetaPlayer(40, seed=1)
    with bounded(Limit(nodes=50_000)) as limit:
        player.choose(Board.from_fen(KINGS))
    assert player.last is not None and player.last.aborted
    assert player.last.nodes < 60_000
    assert limit.stopped


@pytest.mark.parametrize("spec", ["alphabeta:40", "search:policy:default:12"])
def test_stop_from_another_thread_ends_the_search(spec: str) -> None:
    player = load_player(spec, seed=1)
    _warm(player)
    limit = Limit()  # no budget: only stop() ends it
    timer = threading.Timer(0.2, limit.stop)
    start = time.perf_counter()
    timer.start()
    with bounded(limit):
        move = player.choose(Board.from_fen(KINGS))
    elapsed = time.perf_counter() - start
    assert elapsed < 0.2 + SLACK, elapsed
    assert move in Board.from_fen(KINGS).legal_moves()


def test_a_stopped_limit_stops_every_kind_at_once() -> None:
    board = Board.from_fen(KINGS)
    limit = Limit()
    limit.stop()
    for spec in ("alphabeta:8", "search:default:8", "search:policy:default:4", "policy:default"):
        player = load_player(spec, seed=1)
        with bounded(limit), pytest.raises(Stopped):
            player.choose(board)
    policy = load_player("policy:default")
    with bounded(limit):
        for method in ("move_probabilities", "value"):
            with pytest.raises(Stopped):
                getattr(policy, method)(board)


def test_principal_variation_within_the_limit() -> None:
    player = load_player("alphabeta:40", seed=1)
    _warm(player)
    start = time.perf_counter()
    with bounded(Limit(seconds=0.2)):
        line, _ = player.principal_variation(Board.from_fen(KINGS))  # type: ignore[attr-defined]
    assert time.perf_counter() - start < 0.2 + SLACK
    assert line


@pytest.mark.parametrize("name", ["kingme.players", "kingme.players.limits"])
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
