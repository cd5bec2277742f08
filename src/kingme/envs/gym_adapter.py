"""Any Gymnasium environment with a Discrete action space, as a kingme `VecEnv`.

`gymnasium.make_vec` builds N copies in one process (`SyncVectorEnv`: for small environments such
as CartPole, stepping in-process beats the inter-process traffic of `AsyncVectorEnv` on 2 cores).
Gymnasium 1.x resets a finished environment on the *next* call to `step` by default; kingme's
protocol resets it in the *same* step, so the adapter asks for `AutoresetMode.SAME_STEP`, in which
the returned observation is already the next episode's first one and the episode's last
observation arrives in `info["final_obs"]`.

`check_env=True` keeps Gymnasium's passive environment checker (off by default: it is a
development aid, and its wrapper costs about a tenth of a CartPole step).

An environment that publishes a legal-action mask in `info["action_mask"]` (shape (N, A) or A
per environment) gets it passed through; otherwise the mask is None.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from kingme.common import UserError
from kingme.envs.base import VecStep

MASK_KEY = "action_mask"


class GymVecEnv:
    """N copies of a Gymnasium environment behind the `VecEnv` protocol."""

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        *,
        vectorization_mode: str = "sync",
        env_kwargs: dict[str, Any] | None = None,
        check_env: bool = False,
    ) -> None:
        if vectorization_mode not in ("sync", "async"):
            raise UserError(f"vectorization mode must be sync or async, got {vectorization_mode!r}")
        try:
            env = gym.make_vec(
                env_id,
                num_envs=num_envs,
                vectorization_mode=vectorization_mode,
                vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
                # Gymnasium's passive checker wraps every copy; it costs ~10% of a CartPole step.
                disable_env_checker=not check_env,
                **(env_kwargs or {}),
            )
        except gym.error.Error as e:
            raise UserError(f"cannot make Gymnasium environment {env_id!r}: {e}") from None
        except ModuleNotFoundError as e:
            raise UserError(f"Gymnasium environment {env_id!r} needs a missing package: {e}") from None
        action_space = env.single_action_space
        obs_space = env.single_observation_space
        if not isinstance(action_space, gym.spaces.Discrete):
            env.close()
            raise UserError(f"{env_id} has action space {action_space}; kingme's PPO needs a Discrete one")
        if not isinstance(obs_space, gym.spaces.Box):
            env.close()
            raise UserError(f"{env_id} has observation space {obs_space}; expected a Box of numbers")
        self.env = env
        self.env_id = env_id
        self.num_envs = num_envs
        self.obs_shape: tuple[int, ...] = tuple(obs_space.shape)
        self.num_actions = int(action_space.n)
        self._action_start = int(action_space.start)

    def _mask(self, info: dict[str, Any]) -> np.ndarray | None:
        if MASK_KEY not in info:
            return None
        mask = np.asarray(info[MASK_KEY]).astype(bool, copy=False)
        return mask.reshape(self.num_envs, self.num_actions)  # (N, A)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        obs, info = self.env.reset(seed=seed)
        return np.asarray(obs, dtype=np.float32), self._mask(info)

    def step(self, actions: np.ndarray) -> VecStep:
        obs, reward, terminated, truncated, info = self.env.step(actions + self._action_start)
        obs = np.asarray(obs, dtype=np.float32)  # (N, *obs_shape)
        final_obs = obs.copy()  # rows of environments that did not end are unspecified
        if "_final_obs" in info:
            for i in np.flatnonzero(info["_final_obs"]):
                final_obs[i] = info["final_obs"][i]
        return VecStep(
            obs=obs,
            reward=np.asarray(reward, dtype=np.float32),
            terminated=np.asarray(terminated, dtype=bool),
            truncated=np.asarray(truncated, dtype=bool),
            action_mask=self._mask(info),
            final_obs=final_obs,
        )

    def close(self) -> None:
        self.env.close()
