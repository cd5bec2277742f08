"""pos-neg-samples: the planted control by hand, the verdict rule on made-up results, and the experiment
on its tiny setting."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from kingme.experiments import pos_neg_samples as pn
from kingme.experiments.base import RunResult
from kingme.experiments.report import write_folder
from kingme.experiments.runner import run_experiment
from kingme.lm.tasks import Problem


def test_planted_problems_by_hand() -> None:
    problems = [Problem(f"{a}+{a}=", str(2 * a), 1, 0) for a in range(32)]
    gone = pn.planted(problems, 16)
    assert len(gone) == 2  # 32 // 16
    crcs = sorted(zlib.crc32(p.prompt.encode()) for p in problems)
    assert sorted(zlib.crc32(problems[i].prompt.encode()) for i in gone) == crcs[:2]  # the two smallest crc32
    assert pn.planted(problems, 16) == gone  # the same problems every time
    assert pn.planted(problems[:15], 16) == set()


def test_planted_pass_at_k_by_hand() -> None:
    # 3 of 4 problems kept, scoring 0.8 at pass@1 and 1.0 at pass@4 on average: the planted one scores 0
    assert pn.planted_pass_at_k({1: 0.8, 4: 1.0}, 3, 4) == pytest.approx({1: 0.6, 4: 0.75})


def fake(gains: dict[str, dict[str, list[float]]], areas: dict[str, list[float]]) -> pn.Results:
    """Results with the given per-seed gains at k = 1 and 256 and the given mean pass@k per arm; each
    arm's pass@256 is 0.9 plus its gain there (so differences of pass@256 are differences of gains)."""
    arms = pn.arms(tiny=False)
    results = pn.EXPERIMENT.new_results(3, False, arms)
    for arm in arms:
        for seed in range(1, 4):
            m: dict[str, float] = {}
            if arm.label != pn.BASE:
                g1, g256 = gains[arm.label]["1"][seed - 1], gains[arm.label]["256"][seed - 1]
                m = {"gain@1": g1, "gain@256": g256, "pass@1": 0.2 + g1, "pass@256": 0.9 + g256}
                m["area"] = areas.get(arm.label, [0.5] * 3)[seed - 1]
            results.runs.append(RunResult(arm.label, arm.env, seed, 1.0, [0], {}, m))
    return results


UP, DOWN, FLAT = [0.1, 0.12, 0.11], [-0.1, -0.12, -0.11], [0.05, -0.05, 0.0]


def test_the_verdict_rule() -> None:
    good = {
        pn.PSR: {"1": UP, "256": DOWN},
        pn.NSR: {"1": FLAT, "256": FLAT},
        pn.BOTH: {"1": UP, "256": DOWN},
        pn.WR: {"1": UP, "256": FLAT},
        pn.CONTROL: {"1": [-0.01] * 3, "256": [-0.06, -0.05, -0.07]},
    }
    best = {pn.WR: [0.7, 0.72, 0.71], pn.BOTH: [0.6, 0.61, 0.6], pn.PSR: [0.6] * 3, pn.NSR: [0.69, 0.7, 0.72]}
    detects, parts = pn.verdicts(fake(good, best))
    assert detects and {p: w for p, (w, _) in parts.items()} == {
        "PSR": "reproduced",
        "NSR": "reproduced",
        "W-REINFORCE": "reproduced",
    }
    bad = good | {pn.PSR: {"1": UP, "256": UP}, pn.NSR: {"1": FLAT, "256": DOWN}}
    worst = best | {pn.BOTH: [0.8, 0.81, 0.82]}
    _, parts = pn.verdicts(fake(bad, worst))
    assert {p: w for p, (w, _) in parts.items()} == {p: "not reproduced" for p in ("PSR", "NSR", "W-REINFORCE")}
    blind = good | {pn.CONTROL: {"1": FLAT, "256": FLAT}}
    detects, parts = pn.verdicts(fake(blind, best))
    assert not detects and all(w == "inconclusive" for w, _ in parts.values())
    lines = pn.conclude(fake(good, best))
    assert sum(line.startswith("Verdict, ") for line in lines) == 3


def test_tiny_experiment(tmp_path: Path) -> None:
    results = run_experiment(pn.EXPERIMENT, seeds=2, tiny=True, progress=False)
    answer = write_folder(pn.EXPERIMENT, results, tmp_path, "kingme experiment run pos-neg-samples --tiny")
    assert {r.arm for r in results.runs} == {pn.BASE, *pn.WEIGHTS, pn.CONTROL} and len(results.runs) == 12
    for r in results.runs:
        m = r.metrics
        ks = pn.TINY_KS
        assert all(0.0 <= m[f"pass@{k}"] <= 1.0 for k in ks)
        assert all(m[f"pass@{a}"] <= m[f"pass@{b}"] + 1e-12 for a, b in zip(ks, ks[1:], strict=False))  # rises with k
        if r.arm == pn.BASE:
            assert all(m[f"gain@{k}"] == 0.0 for k in ks)  # the base against itself
    assert answer[-1].startswith("Verdict, W-REINFORCE: **")
    report = (tmp_path / "report.md").read_text()
    assert "Verdict rule" in report and (tmp_path / "pass_at_k.png").is_file()
    assert (tmp_path / "pass_at_k_change.png").is_file()
    assert json.loads((tmp_path / "results.json").read_text())["experiment"] == "pos-neg-samples"
