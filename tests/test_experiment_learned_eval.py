"""`kingme experiment run learned-eval` (kingme.experiments.learned_eval) and the search options it
plays: NetSearch with the hand-written evaluation at the leaves, and without the policy's ordering."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from kingme.checkers import Board
from kingme.common import UserError
from kingme.experiments import learned_eval
from kingme.experiments.base import Arm
from kingme.experiments.match_runs import MATCH
from kingme.experiments.registry import get
from kingme.experiments.report import write_folder
from kingme.experiments.runner import run_experiment
from kingme.players.alphabeta import Searcher
from kingme.players.policy import DEFAULT_MODEL, load_model
from kingme.players.search import HAND_SCALE, NetSearch

TWO_FOR_ONE = "W:W17,18,20,21,23,27,28,29,31:B1,3,4,5,6,7,11,12,16"


@pytest.fixture(scope="module")
def agent():  # type: ignore[no-untyped-def]
    return load_model(DEFAULT_MODEL)[0]


def boards(n: int, seed: int) -> list[Board]:
    """Positions from random games, with a choice of moves and the game not over."""
    rng = np.random.default_rng(seed)
    out = [Board(TWO_FOR_ONE)]
    while len(out) < n:
        b = Board()
        for _ in range(int(rng.integers(6, 30))):
            moves = b.legal_moves()
            if not moves or b.outcome() is not None:
                break
            b.push(moves[int(rng.integers(len(moves)))])
        if b.outcome() is None and len(b.legal_moves()) > 1:
            out.append(b)
    return out


# ------------------------------------------------------------------------------------------------
# The search options


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_hand_leaf_is_alphabeta_squashed(agent, depth: int) -> None:  # type: ignore[no-untyped-def]
    """tanh is odd and increasing, so the same search with tanh(points / 300) at its leaves has
    the root value tanh(alphabeta's value / 300) to the same depth."""
    for b in boards(5, seed=depth):
        r = NetSearch(agent, leaf="hand", order="none").search(b, depth)
        want = Searcher(0).value(b.black, b.white, b.kings, int(b.turn), depth)
        assert abs(want) < 100_000  # not a forced result (those are scored differently)
        assert r.score == pytest.approx(math.tanh(want / HAND_SCALE), abs=1e-12)
        assert r.evals == 0 and r.batches == 0  # no network at all


def test_ordering_changes_the_cost_not_the_move(agent) -> None:  # type: ignore[no-untyped-def]
    """At a fixed depth value and value+policy play the same move with the same score (so the
    experiment does not play their fixed-depth matches twice); only the policy costs forward passes."""
    for b in boards(4, seed=7):
        plain = NetSearch(agent, order="none").search(b, 4, rng=np.random.default_rng(3))
        ordered = NetSearch(agent, order="policy").search(b, 4, rng=np.random.default_rng(3))
        assert plain.index == ordered.index
        assert plain.score == pytest.approx(ordered.score, abs=1e-9)
        assert plain.evals == plain.leaves  # every network position a leaf: no orderings
        assert ordered.evals > ordered.leaves


def test_bad_options_are_refused(agent) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="leaf"):
        NetSearch(agent, leaf="material")
    with pytest.raises(ValueError, match="order"):
        NetSearch(agent, order="history")


# ------------------------------------------------------------------------------------------------
# The experiment


def test_crossing_is_interpolated_in_elo() -> None:
    # the policy is +100 Elo against hand:2 and -50 against hand:3: 0 is crossed 2/3 of the way
    assert learned_eval.crossing([(1, 300.0), (2, 100.0), (3, -50.0), (4, -200.0)]) == pytest.approx(2 + 2 / 3)
    assert learned_eval.crossing([(1, 50.0), (4, 0.0)]) == math.inf
    assert learned_eval.crossing([(1, -10.0), (2, -math.inf)]) == -math.inf
    assert math.isnan(learned_eval.crossing([(1, -10.0), (2, 10.0)]))
    points = [(1, 100.0, 20.0, 180.0), (2, -100.0, -180.0, 30.0)]  # (D, Elo, interval)
    text = learned_eval.crossing_sentence(points, "hand", "the hand-written search")
    assert "+100 [+20, +180] at D = 1" in text
    assert "worth about 1.5 plies" in text and "ends: 1.1 to at least 2)" in text


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"a": "value:2", "b": "hand:2", "games": 3}, "even"),
        ({"a": "value", "b": "hand:2"}, "value:DEPTH"),
        ({"a": "value:0", "b": "hand:2"}, "depth"),
        ({"a": "hand:2", "b": "nobody"}, "nobody"),
        ({"a": "hand:2", "b": "hand:2"}, "differ"),
        ({"a": "hand:2", "b": "value:2", "colour": 1}, "colour"),
    ],
)
def test_bad_arms_fail_before_any_game(over: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=message):
        MATCH.config(Arm("x", learned_eval.ENV, over), 1)


def test_tiny_run_report_numbers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    exp = get("learned-eval")
    results = run_experiment(exp, seeds=2, tiny=True, progress=False)
    assert len(results.runs) == 2 * len(exp.arms(True))
    for r in results.runs:
        m = r.metrics
        assert m["wins"] + m["draws"] + m["losses"] == learned_eval.TINY_GAMES
        assert m["score"] == pytest.approx((m["wins"] + 0.5 * m["draws"]) / learned_eval.TINY_GAMES)
        assert 4 <= m["plies"] <= learned_eval.TINY_PLIES  # 3 opening plies, then at least one move
        a, b = r.arm.split(" vs ")[0], r.arm.split(" vs ")[1].split(",")[0]
        for side, kind in (("a", a), ("b", b)):
            if kind == "policy":
                assert math.isnan(m[f"{side}_ms"])  # the raw policy does not search
                continue
            assert m[f"{side}_ms"] > 0
            depth = learned_eval.depth_of(r.arm, f"{a} vs {b}")
            if depth is not None:  # fixed depth: reached (or a forced result proven sooner)
                assert 1 <= m[f"{side}_depth"] <= depth
            else:  # 1 ms: depth 1 always completes, iterative deepening may get further
                assert m[f"{side}_depth"] >= 1
    answer = write_folder(exp, results, tmp_path, "kingme experiment run learned-eval --seeds 2 --tiny")
    assert len(answer) == len(exp.arms(True)) + 2
    for line, arm in zip(answer, results.arms):
        w, d, l = (int(sum(results.values(arm.label, k))) for k in ("wins", "draws", "losses"))
        score = (w + 0.5 * d) / (w + d + l)
        assert line.startswith(arm.label) and f"{score:.3f} [" in line and f"(+{w} ={d} −{l} of {w + d + l})" in line
    assert "raw policy's Elo against hand:D" in answer[-2]
    assert "raw policy's Elo against value+policy:D" in answer[-1]
    report = (tmp_path / "report.md").read_text()
    assert "value+policy vs value" in report and "scores.png" in report
    assert (tmp_path / "scores.png").stat().st_size > 0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["answer"] == answer
    assert json.loads((tmp_path / "config.json").read_text())["arms"][0]["config"]["a"] == "value:1"


def test_players_go_through_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """value+policy is the registry's search:policy:MODEL; any registered kind can play a match."""
    from kingme.experiments.match_runs import match_player
    from kingme.players import parse_spec, registry
    from kingme.players.simple import RandomPlayer

    assert match_player("value+policy:2", "v1").spec == parse_spec("search:policy:v1:2")
    assert match_player("value+policy::20", "v1").spec == parse_spec("search:policy:v1:40:20")
    assert match_player("policy", "v1").spec == parse_spec("policy:v1")
    hand = match_player("hand:3:50", "v1")
    assert hand.spec is None and (hand.leaf, hand.depth, hand.ms) == ("hand", 3, 50.0)
    with pytest.raises(UserError, match="time limit"):
        match_player("value:2:0.5", "v1")  # the registry's bounds on a time limit
    monkeypatch.setattr(registry, "_KINDS", dict(registry._KINDS))
    registry.register_player_kind("coin", lambda args, seed: RandomPlayer(seed), "coin")
    cfg = MATCH.config(Arm("x", learned_eval.ENV, {"a": "coin", "b": "hand:1", "games": 2, "max_plies": 30}), 1)
    row = MATCH.run(Arm("x", learned_eval.ENV), cfg, lambda n=1, **kw: None).history[0]
    assert row["wins"] + row["draws"] + row["losses"] == 2 and row["b_depth"] == 1.0 and "a_ms" not in row
