"""The distilled evaluation network: features, the compiled forward pass, files, the search with it,
the `search:` specs that name it, and `kingme distill` (learning on a tiny budget)."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kingme.checkers import Board
from kingme.cli import main
from kingme.common import UserError
from kingme.envs.checkers_vec import OBS_SHAPE, write_observation
from kingme.players import load_player
from kingme.players.alphabeta import MATE, Searcher, net_score, net_value
from kingme.players.evalnet import (
    DEFAULT_EVAL,
    FEATURES,
    SCALE,
    EvalWeights,
    features_batch,
    is_eval_file,
    load_eval,
    save_eval,
)
from kingme.players.registry import parse_spec
from kingme.players.simple import AlphaBetaPlayer
from test_alphabeta import minimax, pov, random_position


def random_net(seed: int, hidden: tuple[int, ...]) -> EvalWeights:
    rng = np.random.default_rng(seed)
    sizes = (FEATURES, *hidden, 1)
    ws = [rng.normal(0, 0.4, (a, b)).astype(np.float32) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    bs = [rng.normal(0, 0.2, b).astype(np.float32) for b in sizes[1:]]
    return EvalWeights(ws, bs)


def row(board: Board) -> list[int]:
    P, O, K, side = pov(board)
    return [P, O, K, side, board.clock]


# ------------------------------------------------------------------------------------------------
# Features and the forward pass


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), plies=st.integers(0, 90))
def test_features_are_the_observation_piece_planes(seed: int, plies: int) -> None:
    board = random_position(seed, plies)
    x = features_batch(np.array([row(board)], dtype=np.int64))[0]
    obs = np.zeros(OBS_SHAPE, dtype=np.float32)
    write_observation(
        np.uint64(board.black),
        np.uint64(board.white),
        np.uint64(board.kings),
        int(board.turn),
        -1,
        0,
        obs,
        np.zeros(128, dtype=np.bool_),
    )
    np.testing.assert_array_equal(x, obs[:4].reshape(-1))  # (4, 32) -> (128,)
    assert x.sum() == bin(board.black | board.white).count("1")


@pytest.mark.parametrize("hidden", [(8,), (16, 8), (12, 20, 6)])
def test_compiled_value_equals_the_reference_forward_pass(hidden: tuple[int, ...]) -> None:
    net = random_net(1, hidden)
    kernel = net.kernel_args()
    boards = [random_position(s, p) for s, p in zip(range(40), range(0, 120, 3), strict=True)]
    rows = np.array([row(b) for b in boards], dtype=np.int64)
    want = net.value(features_batch(rows))
    for r, w in zip(rows, want, strict=True):
        u = np.uint64
        got = net_value(u(r[0]), u(r[1]), u(r[2]), int(r[3]), kernel)
        assert got == pytest.approx(float(w), abs=1e-5)
        assert net_score(u(r[0]), u(r[1]), u(r[2]), int(r[3]), kernel) == round(float(got) * SCALE)


def test_shapes_that_do_not_chain_are_refused() -> None:
    with pytest.raises(ValueError, match="chain"):
        EvalWeights([np.zeros((FEATURES, 8)), np.zeros((9, 1))], [np.zeros(8), np.zeros(1)])
    with pytest.raises(ValueError, match="one output"):
        EvalWeights([np.zeros((FEATURES, 8)), np.zeros((8, 2))], [np.zeros(8), np.zeros(2)])


# ------------------------------------------------------------------------------------------------
# The compiled search with the network: the values of plain minimax (test_alphabeta's, no pruning,
# capture extension, mate scores) with the network at quiet leaves


def net_leaf(net: EvalWeights) -> Callable[[int, int, int, int], int]:
    """The search's score of a quiet leaf, computed with the reference forward pass."""

    def leaf(P: int, O: int, K: int, side: int) -> int:
        x = features_batch(np.array([[P, O, K, side]], dtype=np.int64))  # (1, 128)
        return round(float(net.value(x)[0]) * SCALE)

    return leaf


NET = random_net(7, (16, 8))
NET_SEARCHER = Searcher(0, NET)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), plies=st.integers(0, 90), depth=st.integers(1, 3))
def test_search_with_the_network_equals_minimax(seed: int, plies: int, depth: int) -> None:
    board = random_position(seed, plies)
    if not board.legal_moves():
        return
    P, O, K, side = pov(board)
    want = minimax(P, O, K, side, depth, leaf=net_leaf(NET))
    assert NET_SEARCHER.value(board.black, board.white, K, side, depth) == pytest.approx(want, abs=1)


def test_the_search_counts_its_evaluations() -> None:
    board = random_position(5, 10)
    r = NET_SEARCHER.search(board.black, board.white, board.kings, int(board.turn), 4)
    assert 0 < r.evals < r.nodes and r.depth == 4


def test_the_network_changes_the_search_and_the_hand_evaluation_stays() -> None:
    board = random_position(3, 20)
    P, O, K, side = pov(board)
    hand = Searcher(0).value(board.black, board.white, K, side, 3)
    assert abs(hand) < MATE // 2 and abs(NET_SEARCHER.value(board.black, board.white, K, side, 3)) <= SCALE
    assert Searcher(0).value(board.black, board.white, K, side, 3) == hand  # no state leaks between searchers


# ------------------------------------------------------------------------------------------------
# Files and specs


def test_file_round_trip_and_bad_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "e.safetensors"
    save_eval(path, EvalWeights(NET.weights, NET.biases, {"teacher": "t"}))
    back = load_eval(path)
    assert back.hidden == (16, 8) and back.info == {"teacher": "t"}
    for a, b in zip(back.weights, NET.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert is_eval_file(path) and not is_eval_file(tmp_path / "missing")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00not a header")
    with pytest.raises(UserError, match="not a readable evaluation-network file") as e:
        load_eval(bad)
    assert "\n" not in str(e.value)
    from kingme.players.policy import DEFAULT_MODEL

    assert not is_eval_file(DEFAULT_MODEL)
    with pytest.raises(UserError, match="not an evaluation-network file"):
        load_eval(DEFAULT_MODEL)


def test_search_specs_pick_the_engine(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kingme.players.search import SearchPlayer

    p = load_player("search:default:2", seed=1)
    assert isinstance(p, AlphaBetaPlayer) and p.net is not None and p.name == "search:default:2"
    assert load_eval(DEFAULT_EVAL).info["teacher"] == "policy:default"
    assert isinstance(load_player("search:policy:default:2"), SearchPlayer)
    assert isinstance(load_player("search:v1:2"), SearchPlayer)
    path = tmp_path / "e.safetensors"
    save_eval(path, NET)
    q = load_player(f"search:{path}::20")
    assert isinstance(q, AlphaBetaPlayer) and q.time_ms == 20 and q.net is not None
    assert parse_spec(f"search:{path}:3").path == str(path)
    assert parse_spec("search:policy:default:3").path is None
    board = Board()
    assert board.is_legal(p.choose(board))


def test_the_web_analysis_shows_its_line_and_value() -> None:
    from kingme.web.analysis import analyzer_for

    player = load_player("search:default:4")
    a = analyzer_for(player).analyze(Board())  # type: ignore[union-attr]
    assert a.pv is not None and len(a.pv) == 4 and a.score is not None and -1.0 <= a.score <= 1.0
    assert a.value is not None and a.value == pytest.approx(player.value(Board()))  # type: ignore[attr-defined]
    assert a.critic and "evaluation network" in (a.score_units or "")
    assert "no policy" in a.source  # the compiled search has no policy: uniform probabilities, said so
    won = Board("B:W22:B18")  # Black takes White's last piece: a win at ply 1, scored 2 - 1/1000
    b = analyzer_for(load_player("search:default:3")).analyze(won)  # type: ignore[union-attr]
    assert b.score == pytest.approx(1.999) and b.pv is not None and b.pv[0].is_capture


def test_the_play_page_suggests_it_first() -> None:
    from kingme.web.sessions import Games, request_spec

    suggested = Games("alphabeta:2").players()["suggested"]
    assert suggested[0] == "search:default::100" and "alphabeta:8" in suggested
    assert request_spec("search:default::100").ms == 100.0  # within the page's request limits


# ------------------------------------------------------------------------------------------------
# kingme distill


def test_distill_learns_the_teacher_on_a_tiny_budget(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    rc = main(
        [
            "distill",
            "--positions",
            "6000",
            "--epochs",
            "10",
            "--batch-size",
            "128",
            "--hidden",
            "16",
            "--games",
            "64",
            "--runs-dir",
            str(tmp_path),
            "--run-name",
            "d",
            "--quiet",
        ]
    )
    assert rc == 0
    run = tmp_path / "d"
    assert {p.name for p in run.iterdir()} >= {"config.json", "eval_model.safetensors", "metrics.json", "report.md"}
    info = json.loads((run / "metrics.json").read_text())
    m = info["metrics"]
    # learning happened: the student tracks the teacher on held-out games far better than a constant
    assert m["holdout_mse"] < 0.5 * m["holdout_target_var"]
    assert m["holdout_corr"] > 0.8 and m["holdout_pair_agreement"] > 0.75
    assert json.loads((run / "config.json").read_text())["hidden"] == "16"
    assert load_player(f"search:{run / 'eval_model.safetensors'}:2").net is not None  # type: ignore[attr-defined]
    assert "held-out MSE" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (["--hidden", "32,x"], "--hidden"),
        (["--positions", "10"], "--positions"),
        (["--model", "/no/such/model.safetensors"], "not found"),
    ],
)
def test_distill_bad_options_are_one_line_and_make_no_folder(tmp_path, capsys, args, msg) -> None:  # type: ignore[no-untyped-def]
    assert main(["distill", *args, "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
