"""Supervised training of a trajectory model on the walks: minibatch AdamW, cosine learning rate.

The loss is the model's own (`TrajectoryGPT.forward`): cross-entropy of a_t (Decision Transformer,
behaviour cloning) or of the return-to-go class -R_t (return prediction), averaged over valid steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from kingme.common import cosine_decay
from kingme.dt.data import Batch
from kingme.dt.model import GPTConfig, TrajectoryGPT


@dataclass
class TrainSettings:
    steps: int = 1500  # optimiser steps
    batch_size: int = 128  # walks per minibatch
    lr: float = 1e-3  # peak learning rate, after a linear warm-up
    warmup: int = 50  # warm-up steps
    weight_decay: float = 0.1  # AdamW decay on weight matrices


def lr_at(step: int, s: TrainSettings) -> float:
    """Linear warm-up to `lr`, then cosine decay to lr/10."""
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    frac = (step - s.warmup) / max(1, s.steps - s.warmup)
    return cosine_decay(s.lr, frac)


def targets_for(config: GPTConfig, batch: Batch) -> torch.Tensor:
    """What the model predicts at each step: a_t, or the return class -R_t."""
    return batch.actions if config.head == "action" else (-batch.returns).clamp(0, config.max_steps)


def train_model(
    config: GPTConfig,
    data: Batch,
    settings: TrainSettings,
    rng: np.random.Generator,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[TrajectoryGPT, list[float]]:
    """Train a fresh model on `data` (torch's global seed fixes its initial weights).

    Returns the model (in eval mode) and its loss at every step.
    """
    model = TrajectoryGPT(config)
    optimizer = model.configure_optimizer(settings.lr, settings.weight_decay)
    targets = targets_for(config, data)
    n = data.states.shape[0]
    losses: list[float] = []
    model.train()
    for step in range(settings.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, settings)
        idx = torch.from_numpy(rng.integers(0, n, size=min(settings.batch_size, n)))
        b = data[idx]
        _, loss = model(
            b.states,
            b.actions,
            b.timesteps,
            returns=b.returns,
            goals=b.goals,
            targets=targets[idx],
            mask=b.mask,
        )
        assert loss is not None
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.item()))
        if on_step is not None:
            on_step(step, losses[-1])
    model.eval()
    return model, losses
