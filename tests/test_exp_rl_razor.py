"""rl-razor: the KL estimate and Pearson's interval by hand, the verdict rules on made-up results, and
the experiment on its tiny setting."""

from __future__ import annotations

import math

import pytest

from kingme.experiments import rl_razor as rr
from kingme.experiments.base import RunResult
from kingme.experiments.runner import run_experiment


def test_kl_estimate_by_hand() -> None:
    # samples of p with log p = (-1, -2), log q = (-1.5, -1): mean of (0.5, -1) = -0.25 (a sampled estimate)
    assert rr.kl_estimate([-1.0, -2.0], [-1.5, -1.0]) == pytest.approx(-0.25)
    assert rr.kl_estimate([-0.1, -0.3], [-0.1, -0.3]) == 0.0


def test_pearson_by_hand() -> None:
    r = rr.pearson([1, 2, 3, 4, 5], [1, 3, 2, 5, 4])  # r = 0.8: Σdxdy = 8, Σdx² = Σdy² = 10
    assert r.mean == pytest.approx(0.8) and r.n == 5
    half = 1.959964 / math.sqrt(2)
    assert r.lo == pytest.approx(math.tanh(math.atanh(0.8) - half))
    assert r.hi == pytest.approx(math.tanh(math.atanh(0.8) + half))
    assert math.isnan(rr.pearson([1, 1, 1], [1, 2, 3]).mean)  # a constant series has no r
    assert rr.pearson([1, 2, math.nan, 4], [2, 4, 1, 8]).n == 3  # NaN pairs left out


def fake(sft: list[float], grpo: list[float], control: list[float], reached: float = 1.0) -> rr.Results:
    arms = rr.arms(tiny=True)
    results = rr.EXPERIMENT.new_results(3, True, arms)
    values = {rr.GRPO: grpo, rr.SFT_ARM: sft, rr.CONTROL: control}
    for arm in arms:
        for seed in (1, 2, 3):
            f = values[arm.label][seed - 1]
            m = {"forgetting": f, "kl_forward": 10 * f + 0.01 * seed, "reached": reached}
            results.runs.append(RunResult(arm.label, arm.env, seed, 1.0, [0], {}, m))
    return results


def test_the_verdict_rules() -> None:
    control = [0.3, 0.35, 0.4]
    assert rr.verdict(fake([0.1, 0.12, 0.15], [0.0, 0.01, 0.02], control))[0] == "reproduced"
    assert rr.verdict(fake([0.0, 0.01, 0.0], [0.0, 0.0, 0.01], control))[0] == "not reproduced"
    assert rr.verdict(fake([0.0, 0.2, -0.1], [0.0, 0.0, 0.0], control))[0] == "inconclusive"  # too wide
    assert rr.verdict(fake([0.1, 0.12, 0.15], [0.0, 0.01, 0.02], [0.0, 0.02, 0.01]))[0] == "inconclusive"  # blind
    assert rr.verdict(fake([0.1, 0.12, 0.15], [0.0, 0.01, 0.02], control, reached=0.0))[0] == "inconclusive"
    # forgetting = KL / 10 (nearly): the KL predicts it
    assert rr.kl_verdict(fake([0.1, 0.12, 0.15], [0.0, 0.01, 0.02], control))[0] == "reproduced"


def test_tiny_experiment() -> None:
    results = run_experiment(rr.EXPERIMENT, seeds=2, tiny=True, progress=False)
    assert {r.arm for r in results.runs} == set(rr.FINE_TUNED)
    for r in results.runs:
        m = r.metrics
        assert m["forgetting"] == pytest.approx((m["drop_A"] + m["drop_B"]) / 2)
        assert 0.0 <= m["new_pass1"] <= 1.0 and m["reached"] in (0.0, 1.0)
        assert math.isfinite(m["kl_forward"]) and math.isfinite(m["kl_reverse"])
    base = {(r.seed, r.metrics["base_A"]) for r in results.runs}
    assert len(base) == 2  # one base per seed, read once and shared by the arms
    assert rr.conclude(results)[-1].startswith("Verdict (the KL")
