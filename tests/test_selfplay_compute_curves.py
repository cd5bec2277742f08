"""`kingme compute-curves`: the fits against hand values, the rung choice, the FLOP count, and a
tiny end-to-end run that resumes without replaying a match."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kingme.arena.elo import Z95
from kingme.cli import main
from kingme.selfplay.compute_curves import (
    CurvesConfig,
    Line,
    choose_search_models,
    compute_curves,
    elo_se,
    exchange_rate,
    fit_line,
    flops_per_learner_step,
    network_macs,
    next_rung,
    pooled_slope,
)


def test_fit_line_by_hand() -> None:
    exact = fit_line([0, 1, 2], [1, 3, 5])
    assert (exact.slope, exact.intercept, exact.slope_se) == pytest.approx((2.0, 1.0, 0.0))
    ols = fit_line([0, 1, 2, 3], [0, 1, 1, 3])  # Sxx 5, Sxy 4.5, RSS 0.7
    assert ols.slope == pytest.approx(0.9) and ols.intercept == pytest.approx(-0.1)
    assert ols.slope_se == pytest.approx(math.sqrt(0.7 / 2 / 5))
    w = fit_line([0, 1, 2], [0, 1, 2], [1, 1, 1])  # known errors, no scatter: sqrt(1 / Sxx)
    assert w.slope == pytest.approx(1.0) and w.slope_se == pytest.approx(math.sqrt(0.5))
    inflated = fit_line([0, 1, 2, 3], [0, 1, 1, 3], [0.1] * 4)  # chi2 = 70 over 2 dof: x sqrt(35)
    assert inflated.slope_se == pytest.approx(math.sqrt(1 / 500) * math.sqrt(35))
    assert Line(2.0, 1.0, 0.0, 3).interval == pytest.approx((2 - Z95, 2 + Z95))
    with pytest.raises(ValueError):
        fit_line([1, 1], [0, 1])


def test_pooled_slope_exchange_rate_and_elo_se_by_hand() -> None:
    s, se = pooled_slope([Line(10, 1, 0, 3), Line(20, 2, 0, 3)])
    assert s == pytest.approx(12.0) and se == pytest.approx(math.sqrt(1 / 1.25))
    r, lo, hi = exchange_rate(100, 10, 50, 5)
    half = Z95 * 2 * math.sqrt(0.02)
    assert (r, lo, hi) == pytest.approx((2.0, 2 - half, 2 + half))
    assert elo_se(0, 2 * Z95) == pytest.approx(1.0)
    assert elo_se(-math.inf, 3) == math.inf


def test_next_rung_brackets_the_level() -> None:
    assert next_rung(1212, {}, 2) == "alphabeta:2"
    assert next_rung(1400, {}, 2) == "alphabeta:4"
    assert next_rung(1400, {"alphabeta:2": 0.7}, 3) == "alphabeta:4"
    assert next_rung(1400, {"alphabeta:2": 0.7, "alphabeta:4": 0.4}, 3) is None
    assert next_rung(1400, {"alphabeta:4": 0.3}, 3) == "alphabeta:2"
    assert next_rung(1400, {"alphabeta:4": 0.3}, 1) is None
    assert next_rung(2000, {"alphabeta:8": 0.9}, 3) is None  # the top of the ladder
    assert next_rung(0, {"random": 0.2}, 3) is None  # the bottom


def test_flops_and_macs_by_hand() -> None:
    assert network_macs([(128, 192), (128,), (128, 128), (3,)]) == 128 * 192 + 128 * 128
    assert flops_per_learner_step(1000, 4) == 2000 * (2 + 1 + 12)
    assert flops_per_learner_step(1000, 2, opponent_passes=0) == 2000 * (2 + 6)


def test_search_models_default_and_refusal() -> None:
    assert choose_search_models([1, 2, 4, 8, 16], ()) == [1, 4, 16]
    assert choose_search_models([1, 2], ()) == [1, 2]
    from kingme.common import UserError

    with pytest.raises(UserError, match="not kept"):
        choose_search_models([1, 2], (3,))


def test_tiny_run_end_to_end_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny = ["--num-envs", "8", "--num-steps", "8", "--minutes", "0", "--eval-games", "2", "--eval-ladder", "random",
            "--eval-every-minutes", "0", "--hidden-sizes", "16", "--no-tensorboard", "--quiet"]  # fmt: skip
    args = ["train", "checkers", *tiny, "--runs-dir", str(tmp_path), "--run-name", "r", "--total-steps", "128"]
    assert main([*args, "--keep-models", "64"]) == 0
    run = tmp_path / "r"
    cfg = CurvesConfig(games=2, max_rungs=1, search_depths=(1,), alphabeta_depths=(1, 2), probe_positions=2)
    s = compute_curves(run, cfg, say=lambda _: None)
    assert [p["steps"] for p in s["train"]["points"]] == [64, 128]
    assert set(s["search"]) == {"64", "128"}
    assert [p["depth"] for p in s["alphabeta"]["points"]] == [1, 2]
    assert s["extrapolation"]["flops_per_step"] > 0
    out = run / "compute"
    assert (out / "report.md").is_file() and (out / "compute_curves.png").is_file()
    rows = (out / "matches.jsonl").read_text().splitlines()
    assert len(rows) == 2 + 2 + 1  # two kept models, two searches, alphabeta:1 (alphabeta:2 is a fixed rung)
    assert all(json.loads(r)["games"] == 2 for r in rows)
    compute_curves(run, cfg, say=lambda _: None)  # resumes: nothing is played again
    assert (out / "matches.jsonl").read_text().splitlines() == rows
    capsys.readouterr()
    assert main(["compute-curves", str(tmp_path / "nothing"), "--runs-dir", str(tmp_path)]) == 2
    assert main(["compute-curves", str(run), "--games", "3"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 2
