"""Learning test: from a base model pre-trained for a few seconds, every RL algorithm raises the reward.

A seeded trajectory differs from one processor to the next (torch's CPU kernels take different
floating-point paths), so the assertions are about learning, with margins measured over seeds:
KINGME_LM_TEST_SEED=2 (3, 4, 5) runs the same test under another seed (default 1). Over seeds 1-5
on this project's 2-core x86-64 CPU the sampled reward rose by 0.21 to 0.42 (the test asks 0.1)
and greedy pass@1 stayed 1.0 in all 25 runs (the test asks 0.9).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from kingme.lm.pretrain import PretrainConfig, pretrain
from kingme.lm.rl import ALGO_PRESETS, RLConfig, train
from kingme.lm.tasks import Task
from kingme.transformer import GPT

SEED = int(os.environ.get("KINGME_LM_TEST_SEED", "1"))


@pytest.fixture(scope="module")
def base() -> tuple[GPT, Task]:
    """One-edge paths (write `st` when s-t is an edge), 300 steps: greedy is right (1.0 on seeds 1-5),
    sampling at temperature 2 is not yet (0.3-0.6 of the samples right)."""
    torch.set_num_threads(1)
    cfg = PretrainConfig(
        task="path", max_level=1, steps=300, train_size=2000, n_layer=1, n_head=2, n_embd=32,
        lr=3e-3, warmup=20, eval_every=10_000, eval_problems=32, device="cpu", seed=SEED,
    )  # fmt: skip
    model, task, _ = pretrain(cfg)
    return model, task


@pytest.mark.learning
@pytest.mark.parametrize("algo", sorted(ALGO_PRESETS))
def test_rl_raises_the_sampled_reward(base: tuple[GPT, Task], algo: str) -> None:
    """RL at temperature 2 (the update's log π is that of the sampler, softmax(logits / 2)) raises the
    sampled reward well beyond where it started, and greedy decoding stays right."""
    cfg = RLConfig(
        algo=algo,  # type: ignore[arg-type]
        updates=60, prompts_per_update=8, group_size=8, lr=2e-3, temperature=2.0,
        eval_every=10_000, eval_problems=64, device="cpu", seed=SEED,
    )  # fmt: skip
    _, summary = train(cfg, base=base)
    rewards = np.asarray(summary["rewards"])
    first, last = rewards[:12].mean(), rewards[-12:].mean()  # 12 updates of 64 samples each
    assert first < 0.8  # there was something left to learn (0.23-0.64 over seeds 1-5)
    assert last >= first + 0.1, f"{algo}: reward {first:.2f} -> {last:.2f}"  # the rise: 0.21-0.42 over seeds 1-5
    start, end = summary["test_pass1_start"]["all"], summary["test_pass1_end"]["all"]
    assert start >= 0.9 and end >= 0.9, f"{algo}: greedy pass@1 {start:.3f} -> {end:.3f}"  # greedy stayed right
