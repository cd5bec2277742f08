"""loss-explained: the maths by hand, the GRPO loss at one epoch (0, with a gradient that is not 0)
and at the control's token mean (not 0) on a hand-made rollout, the checks on made-up results, and
the experiment on its tiny setting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from kingme.experiments import loss_explained as le
from kingme.experiments.base import RunResult
from kingme.experiments.report import write_folder
from kingme.experiments.runner import run_experiment
from kingme.lm.rl import RLConfig, Rollout, rl_update
from kingme.lm.vocab import VOCAB_SIZE
from kingme.transformer import GPT, TransformerConfig


def test_zero_spread_share_by_hand() -> None:
    assert le.zero_spread_share(0.0, 8) == 1.0 and le.zero_spread_share(1.0, 8) == 1.0
    assert le.zero_spread_share(0.5, 2) == pytest.approx(0.5)  # RR or WW of four outcomes
    assert le.zero_spread_share(0.5, 8) == pytest.approx(2 / 256)
    assert le.zero_spread_share(0.1, 3) == pytest.approx(0.001 + 0.729)
    # convexity: two prompts at 0 and 1 are always zero-spread; one prompt at their mean rarely is
    assert (le.zero_spread_share(0.0, 8) + le.zero_spread_share(1.0, 8)) / 2 > le.zero_spread_share(0.5, 8)


def test_start_end_change_by_hand() -> None:
    assert le.start_end_change(np.array([1.0, 2.0, 3.0, 4.0]), 2) == pytest.approx(2.0)  # 3.5 − 1.5
    assert le.start_end_change(np.array([np.nan, 1.0, 5.0]), 1) == pytest.approx(4.0)
    assert np.isnan(le.start_end_change(np.array([np.nan]), 2))


def rollout(lengths: list[int], rewards: list[float], G: int) -> Rollout:
    """A hand-made rollout: every prompt `1+1=`, response i of lengths[i] tokens (EOS included)."""
    B, N = len(lengths), max(lengths)
    prompts = torch.full((B, 4), 5, dtype=torch.long)
    responses = torch.randint(3, 20, (B, N))
    mask = torch.arange(N)[None, :] < torch.tensor(lengths)[:, None]
    return Rollout(["1+1="] * B, prompts, responses, mask, [""] * B, torch.tensor(rewards, dtype=torch.float32), G)


@pytest.mark.parametrize("norm", ["sequence", "token"])
def test_the_grpo_loss_at_one_epoch(norm: str) -> None:
    """Sequence mean (GRPO): the loss is 0 whatever the rewards, and its gradient is not; token mean:
    right and wrong answers of different lengths make it −Σ Â_i |o_i| / T, not 0."""
    torch.manual_seed(0)
    model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=16, n_layer=1, n_head=2, n_embd=16))
    roll = rollout([2, 5, 3, 6, 4, 4, 2, 7], [1, 0, 1, 0, 0, 1, 1, 1], G=4)
    cfg = RLConfig(algo="grpo", loss_norm=norm, max_grad_norm=None, kl_coef=0.0, length_buckets=1).resolved()  # type: ignore[arg-type]
    probe = le.GradientProbe(model.parameters())
    before = [p.detach().clone() for p in model.parameters()]
    stats = rl_update(model, None, None, probe, roll, cfg)
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))  # nothing moved
    assert stats["losses/clipfrac"] == 0.0 and probe.norms[0] > 1e-3  # ratio 1; a gradient all the same
    # group advantages by hand: group 1 rewards 1,0,1,0 -> ±1/std, std = sqrt(1/3); group 2 0,1,1,1
    a1 = (np.array([1, 0, 1, 0]) - 0.5) / (np.std([1, 0, 1, 0], ddof=1) + 1e-6)
    a2 = (np.array([0, 1, 1, 1]) - 0.75) / (np.std([0, 1, 1, 1], ddof=1) + 1e-6)
    adv, lengths = np.concatenate([a1, a2]), np.array([2, 5, 3, 6, 4, 4, 2, 7])
    if norm == "sequence":
        assert abs(stats["losses/policy_loss"]) < 1e-6  # −Σ_i Â_i / B = 0
    else:
        expected = -float((adv * lengths).sum() / lengths.sum())
        assert stats["losses/policy_loss"] == pytest.approx(expected, abs=1e-5) and abs(expected) > 0.1


def fake(values: dict[str, dict[str, list[float]]]) -> le.Results:
    arms = le.arms(tiny=False)
    results = le.EXPERIMENT.new_results(3, False, arms)
    for arm in arms:
        for seed in range(3):
            m = {k: v[seed] for k, v in values.get(arm.label, {}).items()}
            results.runs.append(RunResult(arm.label, arm.env, seed + 1, 1.0, [0], {}, m))
    return results


def test_the_checks_on_made_up_results() -> None:
    one = {
        "loss_zero": [1.0] * 3, "loss_max": [1e-8] * 3, "reward_gain": [0.1, 0.12, 0.08], "probe_grad_base": [0.5] * 3,
        "probe_loss_base": [0.0] * 3, "clipfrac_max": [0.0] * 3, "zero_excess": [0.2, 0.25, 0.3],
        "entropy_change": [-0.02, -0.03, -0.025],
    }  # fmt: skip
    four = {"clipfrac_mean": [0.05, 0.06, 0.04], "loss_mean": [-0.01, -0.02, -0.015]}
    token = {"loss_zero": [0.0] * 3, "loss_max": [0.2] * 3}
    words = [w for _, w, _ in le.checks(fake({le.ONE: one, le.FOUR: four, le.TOKEN: token}))]
    assert words == ["holds"] * 5
    blind = {"loss_zero": [1.0] * 3, "loss_max": [1e-8] * 3}  # the control's loss was 0 too: check 1 cannot pass
    assert le.checks(fake({le.ONE: one, le.FOUR: four, le.TOKEN: blind}))[0][1] == "fails"
    flat = one | {"reward_gain": [0.1, -0.1, 0.0]}  # no learning shown
    assert le.checks(fake({le.ONE: flat, le.FOUR: four, le.TOKEN: token}))[0][1] == "fails"
    assert le.conclude(fake({le.ONE: one, le.FOUR: four, le.TOKEN: token}))[-1] == "5 of 5 checks hold."


def test_tiny_experiment(tmp_path: Path) -> None:
    results = run_experiment(le.EXPERIMENT, seeds=2, tiny=True, progress=False)
    answer = write_folder(le.EXPERIMENT, results, tmp_path, "kingme experiment run loss-explained --tiny")
    assert {r.arm for r in results.runs} == {le.ONE, le.FOUR, le.TOKEN} and len(results.runs) == 6
    for r in results.runs:
        m = r.metrics
        if r.arm == le.ONE:
            assert m["loss_max"] <= le.ZERO and m["clipfrac_max"] == 0.0  # one epoch: 0 by construction
        assert m["probe_grad_base"] >= 0.0 and 0.0 <= m["zero_mean"] <= 1.0
    assert answer[-1].endswith("checks hold.")
    assert (tmp_path / "zero_spread.png").is_file() and "Checks and predictions" in (tmp_path / "report.md").read_text()
    assert json.loads((tmp_path / "results.json").read_text())["experiment"] == "loss-explained"
