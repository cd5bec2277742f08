"""Learning test: from a base model pre-trained for a few seconds, every RL algorithm raises the reward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kingme.lm.pretrain import PretrainConfig, pretrain
from kingme.lm.rl import ALGO_PRESETS, RLConfig, train
from kingme.lm.tasks import Task
from kingme.transformer import GPT


@pytest.fixture(scope="module")
def base() -> tuple[GPT, Task]:
    """One-edge paths (write `st` when s-t is an edge), 200 steps: greedy is right, sampling is not yet."""
    torch.set_num_threads(1)
    cfg = PretrainConfig(
        task="path", max_level=1, steps=200, train_size=2000, n_layer=1, n_head=2, n_embd=32,
        lr=3e-3, warmup=20, eval_every=10_000, eval_problems=32, device="cpu", seed=1,
    )  # fmt: skip
    model, task, _ = pretrain(cfg)
    return model, task


@pytest.mark.learning
@pytest.mark.parametrize("algo", sorted(ALGO_PRESETS))
def test_rl_raises_the_sampled_reward(base: tuple[GPT, Task], algo: str) -> None:
    cfg = RLConfig(
        algo=algo,  # type: ignore[arg-type]
        updates=60, prompts_per_update=8, group_size=8, lr=2e-3,
        eval_every=10_000, eval_problems=32, device="cpu", seed=1,
    )  # fmt: skip
    _, summary = train(cfg, base=base)
    rewards = np.asarray(summary["rewards"])
    first, last = rewards[:12].mean(), rewards[-12:].mean()
    assert first < 0.85  # there was something left to learn (the base samples ~0.74 correct)
    assert last >= first + 0.1, f"{algo}: reward {first:.2f} -> {last:.2f}"
    assert last >= 0.85
    assert summary["test_pass1_end"]["all"] >= summary["test_pass1_start"]["all"] - 0.05  # greedy did not break
