"""The kl-placement experiment: its gradient study on a policy moved off its reference by hand, and a
tiny run through the harness (report, plots, verdict sentences)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from kingme.experiments import kl_placement as kp
from kingme.experiments.report import write_folder
from kingme.experiments.runner import run_experiment
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


def test_tiny_run_writes_report_and_verdicts(tmp_path: Path) -> None:
    results = run_experiment(kp.EXPERIMENT, 2, tiny=True, progress=False)
    answer = write_folder(kp.EXPERIMENT, results, tmp_path, "kingme experiment run kl-placement --tiny")
    assert (tmp_path / "report.md").exists() and (tmp_path / "cosines.png").exists()
    assert (tmp_path / "exact_kl.png").exists()
    assert any("Verdict on Liu et al." in s for s in answer)
    rl_arms = [kp.NO_KL, kp.K1R, kp.K3L, kp.K1R4, kp.K3L4]
    for label in rl_arms:
        kls = results.values(label, "exact_kl")
        assert len(kls) == 2 and all(k >= 0 for k in kls)
    for label in kp.LABELS.values():
        assert len(results.values(label, "cos_exact")) == 2
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["experiment"] == "kl-placement"
