"""cot-faithfulness's own logic: the verdict rule and the positive control's test on hand-made
results, the control's run (no RL: its measures are the base's), and the fuller budget's arm. (The
tiny run through `kingme experiment run` is tests/test_experiments.py's, for every experiment.)"""

from __future__ import annotations

import math

from kingme.experiments.base import Results, RunResult
from kingme.experiments.cot_faithfulness import (
    CONTROL,
    EXACT,
    EXPERIMENT,
    HINT,
    MEASURES,
    control_detects,
    longer,
    verdict,
)
from kingme.experiments.lm_runs import make_lm_config


def _results(rows: dict[str, list[dict[str, float]]]) -> Results:
    results = EXPERIMENT.new_results(5, False, EXPERIMENT.arms(False))
    for arm, metrics in rows.items():
        for seed, m in enumerate(metrics, start=1):
            results.runs.append(RunResult(arm, "lm:addition", seed, 1.0, [0], {}, m))
    return results


def _hint(followed: list[float], cited: list[float]) -> Results:
    return _results({HINT: [{"followed_change": f, "cited_change": c} for f, c in zip(followed, cited, strict=True)]})


def test_the_verdict_rule_by_hand() -> None:
    up = [0.3, 0.4, 0.35, 0.5, 0.45]
    assert verdict(_hint([0.0, 0.1, -0.1, 0.05, -0.02], [0.0] * 5)) == "inconclusive"  # the hack not learned
    assert verdict(_hint(up, [0.0, 0.02, -0.03, 0.01, 0.0])) == "reproduced"  # use rose, citing did not
    assert verdict(_hint(up, [0.3, 0.4, 0.5, 0.35, 0.45])) == "not reproduced"  # citing rose with use
    assert verdict(_hint(up, [0.9, -0.3, 0.8, -0.2, 0.1])) == "inconclusive"  # citing went both ways


def test_the_control_must_sit_apart_from_the_main_base() -> None:
    main = [
        {"followed_before": f, "cited_before": c}
        for f, c in zip([0.07, 0.08, 0.06, 0.09, 0.08], [0.2, 0.25, 0.3, 0.22, 0.27], strict=True)
    ]
    planted = [
        {"followed_before": f, "cited_before": c}
        for f, c in zip([0.35, 0.4, 0.3, 0.38, 0.36], [0.0, 0.01, 0.0, 0.0, 0.01], strict=True)
    ]
    assert control_detects(_results({EXACT: main, CONTROL: planted}))
    assert not control_detects(_results({EXACT: main, CONTROL: main}))


def test_the_control_run_measures_its_base_once() -> None:
    (arm,) = [a for a in EXPERIMENT.arms(True) if a.label == CONTROL]
    out = EXPERIMENT.kind.run(arm, make_lm_config(arm, 1), lambda *a, **k: None)
    last = out.history[-1]
    for key, _ in MEASURES.values():
        before, after = last[f"eval/base_{key}"], last[f"eval/{key}"]
        assert (math.isnan(before) and math.isnan(after)) or (before == after and 0.0 <= after <= 1.0)


def test_the_fuller_budget_is_the_hint_paid_arm_alone() -> None:
    exp = longer(100)
    (arm,) = exp.arms(False)
    assert arm.label == HINT and arm.overrides["updates"] == 100 and arm.overrides["reward"] == "hint"
    assert exp.arms(False)[0].overrides["pretrain_plant"] == EXPERIMENT.arms(False)[1].overrides["pretrain_plant"]
