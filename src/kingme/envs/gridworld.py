"""A small grid where a plausible shaped reward can be farmed (reward misspecification), as a `VecEnv`.

A `size`×`size` grid, the agent starts in the top-left corner, the goal is the bottom-right corner.
Actions: 0 up, 1 down, 2 left, 3 right (a move into the wall stays put). The *true* reward is +1
for reaching the goal, which ends the episode; episodes are cut (truncated) after `time_limit`
steps. Three reward functions are offered:

    true       only the true reward
    progress   true + `bonus` for every step that brings the agent closer (Manhattan distance) to
               the goal, nothing taken away for moving off. Plausible, and exploitable: stepping away
               and back again earns `bonus` every two steps, forever.
    potential  true + F(s, s') = γ·Φ(s') − Φ(s) with Φ(s) = −bonus·distance(s) and Φ = 0 at the goal
               (Ng, Harada & Russell 1999): potential-based shaping, which provably leaves the
               optimal policy unchanged, so oscillating buys nothing.

The environment keeps counters of finished episodes that callbacks read with `pop_stats()`:
the true success rate, the progress bonus an episode collected (what the `progress` shaping pays
for, counted under every reward function), the steps that moved away from the goal, and the length.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from kingme.common import UserError
from kingme.envs.base import VecStep

Shaping = Literal["true", "progress", "potential"]
SHAPINGS: tuple[str, ...] = ("true", "progress", "potential")
MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.int64)  # (4, 2) row/col change per action


class ShapedGrid:
    """N copies of the grid behind the `VecEnv` protocol."""

    def __init__(
        self,
        num_envs: int,
        shaping: str = "progress",
        *,
        size: int = 5,
        bonus: float = 0.1,
        gamma: float = 0.98,
        time_limit: int = 50,
    ) -> None:
        if shaping not in SHAPINGS:
            raise UserError(f"unknown shaping {shaping!r}: expected one of {', '.join(SHAPINGS)}")
        if size < 2:
            raise UserError(f"grid size must be at least 2, got {size}")
        self.num_envs = num_envs
        self.shaping = shaping
        self.size = size
        self.bonus = bonus
        self.gamma = gamma
        self.time_limit = time_limit
        self.obs_shape: tuple[int, ...] = (size * size,)
        self.num_actions = 4
        self.pos = np.zeros((num_envs, 2), dtype=np.int64)  # (N, 2) row, col
        self.t = np.zeros(num_envs, dtype=np.int64)
        self.ep_bonus = np.zeros(num_envs)  # progress bonus collected in the running episode
        self.ep_away = np.zeros(num_envs, dtype=np.int64)  # steps that moved away from the goal
        self._done: list[tuple[bool, float, int, int]] = []  # (success, bonus, away, length)

    def _dist(self, pos: np.ndarray) -> np.ndarray:
        return (self.size - 1 - pos[:, 0]) + (self.size - 1 - pos[:, 1])

    def _obs(self) -> np.ndarray:
        obs = np.zeros((self.num_envs, self.size * self.size), dtype=np.float32)  # (N, size²)
        obs[np.arange(self.num_envs), self.pos[:, 0] * self.size + self.pos[:, 1]] = 1.0
        return obs

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, None]:
        self.pos[:] = 0
        self.t[:] = 0
        self.ep_bonus[:] = 0.0
        self.ep_away[:] = 0
        return self._obs(), None

    def step(self, actions: np.ndarray) -> VecStep:
        d0 = self._dist(self.pos)
        self.pos = np.clip(self.pos + MOVES[np.asarray(actions)], 0, self.size - 1)
        d1 = self._dist(self.pos)
        self.t += 1
        success = d1 == 0
        closer = d1 < d0
        reward = success.astype(np.float64)
        if self.shaping == "progress":
            reward = reward + self.bonus * closer
        elif self.shaping == "potential":
            phi0 = -self.bonus * d0
            phi1 = np.where(success, 0.0, -self.bonus * d1)  # Φ = 0 at the terminal state
            reward = reward + self.gamma * phi1 - phi0
        self.ep_bonus += self.bonus * closer
        self.ep_away += d1 > d0
        truncated = ~success & (self.t >= self.time_limit)
        done = success | truncated
        final_obs = self._obs()
        for i in np.flatnonzero(done):
            self._done.append((bool(success[i]), float(self.ep_bonus[i]), int(self.ep_away[i]), int(self.t[i])))
        self.pos[done] = 0
        self.t[done] = 0
        self.ep_bonus[done] = 0.0
        self.ep_away[done] = 0
        return VecStep(
            obs=self._obs(),
            reward=reward.astype(np.float32),
            terminated=success,
            truncated=truncated,
            action_mask=None,
            final_obs=final_obs,
        )

    def pop_stats(self) -> dict[str, float]:
        """Means over the episodes finished since the last call (empty if none)."""
        if not self._done:
            return {}
        arr = np.array(self._done, dtype=np.float64)  # (episodes, 4)
        self._done.clear()
        return {
            "grid/success_rate": float(arr[:, 0].mean()),
            "grid/progress_bonus": float(arr[:, 1].mean()),
            "grid/steps_away": float(arr[:, 2].mean()),
            "grid/length": float(arr[:, 3].mean()),
        }

    def close(self) -> None:
        pass
