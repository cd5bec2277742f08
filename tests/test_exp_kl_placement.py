"""The kl-placement experiment's own logic: its gradient study on a policy moved off its reference by
hand, and its verdict rule on chosen numbers (the tiny run through the harness is
tests/test_experiments.py::test_every_experiment_tiny)."""

from __future__ import annotations

import copy

import pytest
import torch

from kingme.experiments import kl_placement as kp
from kingme.experiments.base import Results, RunResult
from kingme.lm.tasks import make_task
from kingme.transformer import GPT, TransformerConfig


def test_gradient_study_on_a_moved_policy() -> None:
    task = make_task("addition", 1)
    torch.manual_seed(3)
    base = GPT(TransformerConfig(vocab_size=52, block_size=task.block_size, n_layer=1, n_head=2, n_embd=16)).eval()
    policy = copy.deepcopy(base)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.5 * torch.randn_like(p))  # a policy well away from its reference
    cfg = kp.KIND.config(kp.arm("x", True, kl_coef=0.0, role="estimator", estimator="k1_reward"), 1)
    out = kp.gradient_study(policy, base, task, cfg)
    # what holds exactly: k1 in the reward and k2 of the response as a loss are the KL's gradient,
    # k1 as a loss has expectation 0, the planted control makes a cosine of 0.95 by construction
    assert out["k1_reward"]["cos_exact"] == pytest.approx(1.0, abs=1e-6)
    assert out["k2_loss_seq"]["cos_exact"] == pytest.approx(1.0, abs=1e-6)
    assert out["k1_loss"]["mean_norm"] < 1e-3
    assert out[kp.PLANTED]["cos_exact"] == pytest.approx(0.95, abs=1e-4)
    assert out["k3_loss"]["cos_exact"] < 0.999
    for name, values in out.items():
        for key, v in values.items():
            if key.startswith("cos") or key.startswith("off_") and key != "off_change":
                assert -1.0 - 1e-9 <= v <= 1.0 + 1e-9, (name, key, v)
    for name in kp.OFF_POLICY:
        assert {"off_1", "off_K", "off_change"} <= set(out[name])
    # on-policy (epoch 1) the importance weight is 1: the corrected and plain k2 losses agree
    assert out[kp.K2_IS]["off_1"] == pytest.approx(out["k2_loss_seq"]["off_1"], abs=1e-6)


def fake_results(k3_cos: list[float], kl_k1: list[float], kl_k3: list[float]) -> Results:
    """Results of 3 seeds with chosen exact cosines and KLs (no training): k1 in the reward and k2 of the
    response exact, k3 as a loss as given, the KL reached by the two one-epoch RL arms as given."""
    arms = kp.arms(tiny=True)
    res = kp.EXPERIMENT.new_results(3, True, arms)
    for a in arms:
        for seed in range(3):
            m = {"cos_exact": 1.0, "mean_norm": 1.0, "off_K": 0.5, "off_change": 0.0, "exact_kl": 0.1}
            m |= {f"cos_b{i}": 0.5 for i in range(len(kp.B_LABELS))}
            if a.label in (kp.LABELS["k3_loss"], kp.LABELS["k3_loss_seq"]):
                m["cos_exact"] = k3_cos[seed]
            if a.label == kp.K1R:
                m["exact_kl"] = kl_k1[seed]
            if a.label == kp.K3L:
                m["exact_kl"] = kl_k3[seed]
            res.runs.append(RunResult(a.label, a.env, seed + 1, 0.0, [0], {}, m))
    return res


def test_verdict_rule() -> None:
    biased = kp.conclude(fake_results([0.88, 0.9, 0.86], [0.2, 0.21, 0.19], [0.1, 0.12, 0.11]))
    assert biased[0].endswith("claims: reproduced.")
    assert "k3 as a loss holds π closer" in biased[-3]  # the 1-epoch pair: k1's KL above k3's on every seed
    unbiased = kp.conclude(fake_results([1.0, 1.0, 1.0], [0.1, 0.2, 0.15], [0.15, 0.1, 0.2]))
    assert unbiased[0].endswith("claims: not reproduced.") and "no difference found" in unbiased[-3]
    mixed = kp.conclude(fake_results([0.9, 1.0, 0.999], [0.1] * 3, [0.1] * 3))  # an interval across 0.999
    assert mixed[0].endswith("claims: inconclusive.")
