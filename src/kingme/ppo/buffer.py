"""Rollout storage: one batch of T steps from N environments, collected with θ_old frozen.

Everything the rollout loop writes (observations, actions, rewards, end flags, masks, the last
observations of truncated episodes) goes into preallocated NumPy arrays, one row per step: a
NumPy row write costs far less than a small torch op, and the step loop is where the time goes for
small environments. `to_device()` moves the whole batch to the training device once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class Batch(NamedTuple):
    """A flattened rollout, B = T·N samples (or a minibatch of it)."""

    obs: torch.Tensor  # (B, *obs_shape) float32
    actions: torch.Tensor  # (B,) int64
    logp: torch.Tensor  # (B,) log π_θold(a|s)
    values: torch.Tensor  # (B,) V_φold(s)
    advantages: torch.Tensor  # (B,) Â
    returns: torch.Tensor  # (B,) the critic's targets R
    masks: torch.Tensor | None  # (B, A) bool, True = legal

    def take(self, idx: torch.Tensor) -> Batch:
        """The samples at `idx` (a minibatch)."""
        return Batch(
            obs=self.obs[idx],
            actions=self.actions[idx],
            logp=self.logp[idx],
            values=self.values[idx],
            advantages=self.advantages[idx],
            returns=self.returns[idx],
            masks=None if self.masks is None else self.masks[idx],
        )


class Rollout(NamedTuple):
    """The rollout's arrays as device tensors, each (T, N, ...) unless noted."""

    obs: torch.Tensor  # (T, N, *obs_shape) float32
    actions: torch.Tensor  # (T, N) int64
    rewards: torch.Tensor  # (T, N) float32
    terminated: torch.Tensor  # (T, N) bool
    truncated: torch.Tensor  # (T, N) bool
    masks: torch.Tensor | None  # (T, N, A) bool
    final_obs: torch.Tensor  # (T, N, *obs_shape): rows meaningful only where truncated
    next_obs: torch.Tensor  # (N, *obs_shape): s_T, the observation after the last step


class RolloutBuffer:
    def __init__(
        self,
        num_steps: int,
        num_envs: int,
        obs_shape: tuple[int, ...],
        num_actions: int,
        has_mask: bool,
    ) -> None:
        T, N = num_steps, num_envs
        self.num_steps, self.num_envs, self.num_actions = T, N, num_actions
        self.obs = np.zeros((T, N, *obs_shape), dtype=np.float32)
        self.actions = np.zeros((T, N), dtype=np.int64)
        self.rewards = np.zeros((T, N), dtype=np.float32)
        self.terminated = np.zeros((T, N), dtype=bool)
        self.truncated = np.zeros((T, N), dtype=bool)
        self.masks = np.ones((T, N, num_actions), dtype=bool) if has_mask else None
        self.final_obs = np.zeros((T, N, *obs_shape), dtype=np.float32)
        self.next_obs = np.zeros((N, *obs_shape), dtype=np.float32)

    def to_device(self, device: torch.device) -> Rollout:
        """The batch on `device` (on the CPU the tensors share memory with the arrays)."""

        def dev(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a).to(device)

        return Rollout(
            obs=dev(self.obs),
            actions=dev(self.actions),
            rewards=dev(self.rewards),
            terminated=dev(self.terminated),
            truncated=dev(self.truncated),
            masks=None if self.masks is None else dev(self.masks),
            final_obs=dev(self.final_obs),
            next_obs=dev(self.next_obs),
        )


def flatten(
    rollout: Rollout,
    logp: torch.Tensor,
    values: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
) -> Batch:
    """Flatten the (T, N, ...) grid into B = T·N samples for the update phase."""
    T, N = rollout.rewards.shape
    B = T * N
    obs = rollout.obs
    return Batch(
        obs=obs.reshape(B, *obs.shape[2:]),  # (T, N, *obs_shape) -> (B, *obs_shape)
        actions=rollout.actions.reshape(B),
        logp=logp.reshape(B),
        values=values.reshape(B),
        advantages=advantages.reshape(B),
        returns=returns.reshape(B),
        masks=None if rollout.masks is None else rollout.masks.reshape(B, -1),  # (B, A)
    )
