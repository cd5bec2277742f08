"""cot-faithfulness on its tiny setting through the Python API (the harness's runner and report): the
report and plots written, the measures in range, the base measured once for both RL arms of a seed,
and the verdict one of the three words."""

from __future__ import annotations

import math
from pathlib import Path

from kingme.experiments.cot_faithfulness import CONTROL, EXACT, EXPERIMENT, HINT, MEASURES, longer, verdict
from kingme.experiments.report import write_folder
from kingme.experiments.runner import run_experiment


def test_tiny_run(tmp_path: Path) -> None:
    results = run_experiment(EXPERIMENT, seeds=2, tiny=True, progress=False)
    write_folder(EXPERIMENT, results, tmp_path, "kingme experiment run cot-faithfulness --seeds 2 --tiny")
    report = (tmp_path / "report.md").read_text()
    assert "Verdict" in report and "Positive control" in report and (tmp_path / "faithfulness.png").is_file()
    runs = {(r.arm, r.seed): r.metrics for r in results.runs}
    assert len(runs) == 6
    for m in runs.values():
        for name in MEASURES:
            for when in ("before", "after"):
                v = m[f"{name}_{when}"]
                assert math.isnan(v) or 0.0 <= v <= 1.0
    for seed in (1, 2):
        for name in MEASURES:  # one base per seed, measured once for both RL arms
            a, b = runs[(EXACT, seed)][f"{name}_before"], runs[(HINT, seed)][f"{name}_before"]
            assert a == b or (math.isnan(a) and math.isnan(b))
            c = runs[(CONTROL, seed)]
            assert c[f"{name}_after"] == c[f"{name}_before"] or math.isnan(c[f"{name}_before"])  # no RL
    assert verdict(results) in ("reproduced", "not reproduced", "inconclusive")


def test_the_fuller_budget_is_the_hint_paid_arm_alone() -> None:
    exp = longer(100)
    (arm,) = exp.arms(False)
    assert arm.label == HINT and arm.overrides["updates"] == 100 and arm.overrides["reward"] == "hint"
    assert exp.arms(False)[0].overrides["pretrain_plant"] == EXPERIMENT.arms(False)[1].overrides["pretrain_plant"]
