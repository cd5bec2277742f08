"""Supervised fine-tuning of a model on given solutions: the teacher-forced loss of pre-training,
from a copy of a model, stopped when an evaluation reaches a target.

The loss is pre-training's (`kingme.lm.pretrain.encode_examples`): next-token cross-entropy on the
response tokens only, averaged over them. Adam at a constant learning rate (no warm-up, no weight
decay: a few hundred steps from a trained model), the gradient norm clipped to 1. Every
`eval_every` steps `evaluate(model)` scores the model (e.g. greedy pass@1 on a test set); training
stops at the first score that reaches `target` (None: run every step).

The model given is never changed: fine-tuning works on a deep copy.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from kingme.config import arg, require
from kingme.lm.pretrain import encode_examples
from kingme.lm.tasks import Problem, Task
from kingme.transformer import GPT


@dataclass
class SFTConfig:
    """Supervised fine-tuning from a model on a fixed set of solutions."""

    steps: int = arg(300, "Most optimiser steps (fewer when the target is reached first).")
    batch_size: int = arg(32, "Examples per step, drawn with replacement from the solutions.")
    lr: float = arg(3e-4, "Adam learning rate (constant).")
    eval_every: int = arg(10, "Steps between evaluations (and at the last step).")
    target: float | None = arg(None, "Stop at the first evaluation whose score reaches this (none = never).")
    seed: int = arg(1, "Seed of the batches.")

    def validate(self) -> None:
        require(self.steps >= 1, f"SFT steps must be at least 1, got {self.steps}")
        require(self.batch_size >= 1, f"SFT batch size must be at least 1, got {self.batch_size}")
        require(self.lr > 0, f"SFT learning rate must be positive, got {self.lr}")
        require(self.eval_every >= 1, f"SFT eval_every must be at least 1, got {self.eval_every}")


def sft(
    model: GPT,
    task: Task,
    problems: list[Problem],
    cfg: SFTConfig,
    evaluate: Callable[[GPT], float],
    log: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[GPT, dict[str, Any]]:
    """Fine-tune a copy of `model` on `problems`' solutions (module docstring); returns (model, summary).

    `log` receives one row per evaluation: {"step", "time", "losses/sft_loss", "score"}. The summary
    holds the steps taken, the last score and whether the target was reached."""
    cfg.validate()
    if not problems:
        raise ValueError("sft needs at least one problem")
    policy = copy.deepcopy(model).train()
    x, y, mask = encode_examples(task, problems)  # (n, block - 1) each
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    t0 = time.perf_counter()
    score, loss_value, step, reached = float("nan"), float("nan"), 0, False
    for step in range(1, cfg.steps + 1):
        idx = torch.randint(0, len(problems), (cfg.batch_size,), generator=gen)
        _, loss = policy(x[idx], targets=y[idx], mask=mask[idx])
        assert loss is not None
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()
        loss_value = float(loss.item())
        if step % cfg.eval_every == 0 or step == cfg.steps:
            policy.eval()
            score = float(evaluate(policy))
            policy.train()
            reached = cfg.target is not None and score >= cfg.target
            if log is not None:
                log({"step": step, "time": time.perf_counter() - t0, "losses/sft_loss": loss_value, "score": score})
            if reached:
                break
    policy.eval()
    summary = {"steps": step, "score": score, "reached": reached, "final_loss": loss_value}
    return policy, summary | {"runtime_s": time.perf_counter() - t0}
