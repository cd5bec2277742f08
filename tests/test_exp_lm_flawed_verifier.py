"""lm-flawed-verifier (mended): the recipe of its arms, its verdict rules on made-up results, and on
its tiny setting the identity paid − correct = the exploit's use for the lenient arms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kingme.experiments import lm_flawed_verifier as fv
from kingme.experiments.base import RunResult
from kingme.experiments.lm_runs import make_lm_config
from kingme.experiments.runner import run_experiment


def test_every_arm_has_the_recipe_in_which_the_exact_verifier_learns() -> None:
    configs = {a.label: make_lm_config(a, 1) for a in fv.arms(tiny=False)}
    assert set(configs) == {fv.EXACT, fv.FLAWED}
    for label, cfg in configs.items():
        rl = cfg.rl
        assert rl.refill_groups and rl.mix == (0.05, 0.95) and rl.algo == "grpo" and rl.measure_kl
        assert rl.updates == fv.UPDATES and cfg.pretrain.scratchpad and cfg.pretrain.steps == 130
        assert rl.reward == ("exact" if label == fv.EXACT else "lenient")
    assert all(cfg.rl.resolved().kl_coef == 0.04 for cfg in configs.values())  # GRPO's preset in both arms


def fake(gains: dict[str, list[float]], gaps: dict[str, list[float]], hack_change: float = 0.1) -> fv.Results:
    arms = fv.arms(tiny=True)
    results = fv.EXPERIMENT.new_results(3, True, arms)
    for arm in arms:
        for seed, (g, d) in enumerate(zip(gains[arm.label], gaps[arm.label], strict=True), 1):
            m = {"gain": g, "gap": d, "hack_change": hack_change if arm.label != fv.EXACT else 0.0}
            results.runs.append(RunResult(arm.label, arm.env, seed, 1.0, [0], {}, m))
    return results


def test_the_verdict_rules() -> None:
    gaps = {fv.EXACT: [0.0, 0.0, 0.0], fv.FLAWED: [0.2, 0.25, 0.3]}
    learns = {fv.EXACT: [0.3, 0.35, 0.4], fv.FLAWED: [0.0, 0.05, 0.02]}
    assert fv.verdicts(fake(learns, gaps)) == {"learns": "yes", "exploited": "yes", "claim": "reproduced"}
    stuck = {**learns, fv.EXACT: [0.0, 0.05, -0.05]}
    assert fv.verdicts(fake(stuck, gaps))["claim"] == "inconclusive"  # the exact arm did not learn
    same = {**learns, fv.FLAWED: [0.3, 0.35, 0.4]}
    assert fv.verdicts(fake(same, gaps))["claim"] == "not reproduced"  # the lenient arm learned as much
    unused = fv.verdicts(fake(learns, gaps, hack_change=0.0))
    assert unused["exploited"] == "no" and unused["claim"] == "not reproduced"
    diff = fv.paired(fake(learns, gaps), fv.EXACT, fv.FLAWED, "gain")
    assert diff.mean == pytest.approx(np.mean([0.3, 0.3, 0.38])) and diff.n == 3


def test_tiny_run_paid_minus_correct_is_the_exploits_use() -> None:
    results = run_experiment(fv.EXPERIMENT, seeds=2, tiny=True, progress=False)
    answer = fv.conclude(results)
    assert answer[-1].startswith("Verdict: the exact arm learns: **")
    for r in results.runs:
        paid, true, used = (
            np.array([math.nan if v is None else v for v in r.series[k]][1:])  # row 0 is the base: no rollout
            for k in ("charts/reward", "charts/true_reward", fv.HACK)
        )
        if r.arm == fv.EXACT:
            assert np.allclose(paid, true) and r.metrics["gap"] == 0.0
        else:  # the lenient reward pays the verifier or the loophole: what it pays beyond the truth is the hack
            assert np.allclose(paid - true, used, atol=1e-6) and r.metrics["gap"] >= 0.0
        assert 0.0 <= r.metrics["hack"] <= 1.0 and r.metrics["kl"] >= 0.0
