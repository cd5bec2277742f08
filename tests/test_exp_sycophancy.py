"""The sycophancy experiment: its tiny run end to end (one seed), its verdict rule on made-up results,
and a bad arm's one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from kingme.common import UserError
from kingme.experiments import sycophancy as sc
from kingme.experiments.base import Arm, Results, RunResult
from kingme.experiments.runner import run_experiment


def test_tiny_run(tmp_path: Path) -> None:
    res = run_experiment(sc.EXPERIMENT, 1, True, progress=False)
    assert {r.arm for r in res.runs} == {a.label for a in sc.arms(True)}
    for r in res.runs:
        for key in ("agree_before", "agree_after", "agree_change", "gold_change", "cov"):
            assert key in r.metrics
        if r.arm != sc.CONTROL_LABEL:
            assert 0.0 <= r.metrics["rm_pairs"] <= 1.0
    lines = sc.conclude(res)
    assert lines[-1].startswith("Verdict")
    assert sc.plot(res, tmp_path) and (tmp_path / "sycophancy.png").is_file()


def fake_results(control: float, drift: dict[float, float], penalised: float, cov_sign: float = 1.0) -> Results:
    """Results of 5 seeds with chosen drifts (no training): the control's, each b's, every penalised arm's;
    C = cov_sign · (drift + a seed's jitter), so C tracks the drift unless cov_sign is −1."""
    arms = sc.arms(tiny=True)
    res = sc.EXPERIMENT.new_results(5, True, arms)
    for a in arms:
        for seed in range(1, 6):
            jitter = 0.01 * (seed - 3)
            if a.label == sc.CONTROL_LABEL:
                d = control + jitter
            elif "penalty" in a.label:
                d = penalised + jitter
            else:
                d = drift[next(b for b in sc.BIASES if sc.rm_label(b) == a.label)] + jitter
            m = {"agree_change": d, "drift_se": 0.01, "cov": cov_sign * (d + 0.5 * jitter)}
            res.runs.append(RunResult(a.label, a.env, seed, 0.0, [0], {}, m))
    return res


RISING = {0.0: 0.05, 0.5: 0.1, 1.0: 0.15, 2.0: 0.2}


def test_verdict_rule() -> None:
    v = sc.verdicts(fake_results(0.3, RISING, 0.0))
    assert v == {"control": "yes", "amplification": "reproduced", "sign": "reproduced", "size": "reproduced",
                 "penalty": "reproduced"}  # fmt: skip
    flat = {b: 0.1 for b in sc.BIASES}
    assert sc.verdicts(fake_results(0.3, flat, 0.0))["amplification"] == "partly"  # drifts, but not with b
    none = {b: 0.0 for b in sc.BIASES}
    v = sc.verdicts(fake_results(0.3, none, 0.0))
    assert (v["amplification"], v["penalty"]) == ("not reproduced", "inconclusive")
    assert sc.verdicts(fake_results(0.3, RISING, 0.1))["penalty"] == "not reproduced"  # penalised drift too
    v = sc.verdicts(fake_results(0.3, RISING, 0.0, cov_sign=-1.0))
    assert (v["sign"], v["size"]) == ("not reproduced", "not reproduced")
    v = sc.verdicts(fake_results(0.05, RISING, 0.0))  # the control does not see a drift above +0.10
    assert v["control"] == "no" and set(v.values()) == {"no", "inconclusive"}
    assert sc.conclude(fake_results(0.3, RISING, 0.0))[-1].startswith("Verdict")


def test_bad_arm_is_one_line() -> None:
    with pytest.raises(UserError, match="role"):
        sc.KIND.config(Arm("x", "lm:addition", {"role": "nope"}), 1)
    with pytest.raises(UserError, match="unknown settings"):
        sc.KIND.config(Arm("x", "lm:addition", {"colour": 1}), 1)
