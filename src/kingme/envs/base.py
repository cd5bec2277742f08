"""The vectorised-environment protocol that kingme's learning code speaks.

N environments are stepped together on batched NumPy arrays. Episodes reset automatically: when an
episode ends at a step, the returned `obs` row is already the first observation of the next episode,
and `final_obs` holds the last observation of the one that ended (needed to bootstrap a truncated
episode from V(final_obs)). Rows of `final_obs` for environments that did not end are unspecified.

Shapes (N = num_envs, A = num_actions):
    obs          (N, *obs_shape) float32
    action_mask  (N, A) bool, True = legal; None when the environment has no mask
    reward       (N,) float32
    terminated   (N,) bool  the episode reached a terminal state (no bootstrap)
    truncated    (N,) bool  the episode was cut by a time limit (bootstrap from V(final_obs))
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np


class VecStep(NamedTuple):
    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    action_mask: np.ndarray | None
    final_obs: np.ndarray


@runtime_checkable
class VecEnv(Protocol):
    num_envs: int
    obs_shape: tuple[int, ...]
    num_actions: int

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Reset every environment; return (obs, action_mask)."""
        ...

    def step(self, actions: np.ndarray) -> VecStep:
        """Apply one action per environment, shape (N,) int64; auto-reset finished episodes."""
        ...

    def close(self) -> None: ...
