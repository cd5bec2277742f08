"""Deep sea (Osband et al., bsuite 2020): exploration that dithering cannot do, as a `VecEnv`.

An N×N grid. Each episode starts at the top-left cell (row 0, column 0); at every step the agent
moves down one row and, by its action, one column left or right (clipped to the grid), so an
episode is exactly N steps. Moving right costs 0.01/N; the only positive reward, +1, is paid on the
last step if the agent ends in the rightmost column, which takes (almost) all-right moves. Hence:

    always right:           return 1 - N·0.01/N = 0.99
    left first, then right: return 1 - (N-1)·0.01/N  (column 0 clips the left move; also rewarded)
    always left ("give up"): return 0, the nearby optimum a greedy learner settles into

As in bsuite, which action means "right" is drawn at random per cell (a fixed map, `map_seed`), so a
network cannot find the path by learning one global "press action 1" bias. The observation is the
one-hot of (row, column), flattened to N·N floats. Exactly two of the 2^N action sequences are
rewarded, so a uniformly random policy reaches the reward with probability 2^(1-N).
"""

from __future__ import annotations

import numpy as np

from kingme.common import UserError
from kingme.envs.base import VecStep

MOVE_COST = 0.01  # summed over a full all-right path; each right move costs MOVE_COST / N


class DeepSea:
    """N copies of the size-`size` deep-sea task behind the `VecEnv` protocol."""

    def __init__(self, size: int, num_envs: int, *, randomize_actions: bool = True, map_seed: int = 0) -> None:
        if size < 2:
            raise UserError(f"deep-sea size must be at least 2, got {size}")
        if num_envs < 1:
            raise UserError(f"num-envs must be at least 1, got {num_envs}")
        self.size = size
        self.num_envs = num_envs
        self.obs_shape: tuple[int, ...] = (size * size,)
        self.num_actions = 2
        rng = np.random.default_rng(map_seed)
        # right_action[r, c]: the action index that moves right in cell (r, c)
        self.right_action = (
            rng.integers(0, 2, size=(size, size)) if randomize_actions else np.ones((size, size), dtype=np.int64)
        )
        self.row = np.zeros(num_envs, dtype=np.int64)
        self.col = np.zeros(num_envs, dtype=np.int64)
        self.episodes = 0  # finished episodes, all time
        self.successes = 0  # of which reached the reward

    def _obs(self) -> np.ndarray:
        obs = np.zeros((self.num_envs, self.size * self.size), dtype=np.float32)  # (N, size²)
        obs[np.arange(self.num_envs), self.row * self.size + self.col] = 1.0
        return obs

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, None]:
        self.row[:] = 0
        self.col[:] = 0
        return self._obs(), None

    def step(self, actions: np.ndarray) -> VecStep:
        right = np.asarray(actions) == self.right_action[self.row, self.col]
        reward = np.where(right, -MOVE_COST / self.size, 0.0)
        self.col = np.clip(self.col + np.where(right, 1, -1), 0, self.size - 1)
        self.row = self.row + 1
        done = self.row == self.size
        reward = reward + (done & (self.col == self.size - 1))
        final_obs = np.zeros((self.num_envs, self.size * self.size), dtype=np.float32)  # terminal: never bootstrapped
        self.episodes += int(done.sum())
        self.successes += int((done & (self.col == self.size - 1)).sum())
        self.row[done] = 0
        self.col[done] = 0
        return VecStep(
            obs=self._obs(),
            reward=reward.astype(np.float32),
            terminated=done,
            truncated=np.zeros(self.num_envs, dtype=bool),
            action_mask=None,
            final_obs=final_obs,
        )

    def close(self) -> None:
        pass

    def reward_probability(self, p_action: np.ndarray) -> tuple[float, float]:
        """Exact chance of reaching the reward, and of taking the all-right path, under a policy.

        p_action: (size·size, 2) action probabilities in every cell (row-major one-hot order).
        """
        n = self.size
        rows = np.arange(n)[:, None]
        cols = np.arange(n)[None, :]
        p_right = p_action.reshape(n, n, 2)[rows, cols, self.right_action]  # (n, n)
        dist = np.zeros(n)
        dist[0] = 1.0  # distribution over columns on the current row
        for r in range(n):
            new = np.zeros(n)
            np.add.at(new, np.minimum(np.arange(n) + 1, n - 1), dist * p_right[r])
            np.add.at(new, np.maximum(np.arange(n) - 1, 0), dist * (1.0 - p_right[r]))
            dist = new
        path = float(np.prod([p_right[r, min(r, n - 1)] for r in range(n)]))
        return float(dist[n - 1]), path
