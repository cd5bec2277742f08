"""GymVecEnv: Gymnasium vector environments behind kingme's VecEnv protocol."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from kingme.common import UserError
from kingme.envs.base import VecEnv, VecStep
from kingme.envs.gym_adapter import GymVecEnv


class MaskedCounter(gym.Env):
    """Counts to 4; action space Discrete(3, start=-1); publishes an action mask in info."""

    def __init__(self) -> None:
        self.action_space = gym.spaces.Discrete(3, start=-1)
        self.observation_space = gym.spaces.Box(0, 10, shape=(1,), dtype=np.float32)
        self.t = 0
        self.actions: list[int] = []

    def _mask(self) -> np.ndarray:
        return np.array([self.t % 2 == 0, True, self.t % 2 == 1])

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], dtype=np.float32), {"action_mask": self._mask()}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.actions.append(int(action))
        self.t += 1
        obs = np.array([float(self.t)], dtype=np.float32)
        return obs, float(action), self.t >= 4, False, {"action_mask": self._mask()}


gym.register(id="KingmeMaskedCounter-v0", entry_point=MaskedCounter)


def test_cartpole_shapes_and_protocol() -> None:
    env = GymVecEnv("CartPole-v1", 3)
    assert isinstance(env, VecEnv)
    assert (env.num_envs, env.obs_shape, env.num_actions) == (3, (4,), 2)
    obs, mask = env.reset(seed=0)
    assert obs.shape == (3, 4) and obs.dtype == np.float32 and mask is None
    step = env.step(np.array([0, 1, 0]))
    assert isinstance(step, VecStep)
    assert step.obs.shape == (3, 4) and step.final_obs.shape == (3, 4)
    assert step.reward.shape == (3,) and step.reward.dtype == np.float32
    assert step.terminated.dtype == bool and step.truncated.dtype == bool
    env.close()


def test_same_step_autoreset_and_final_obs_on_truncation() -> None:
    # A 3-step time limit: at step 3 every episode is truncated; the returned obs already belongs
    # to the next episode, and final_obs is the last observation of the old one.
    env = GymVecEnv("CartPole-v1", 2, env_kwargs={"max_episode_steps": 3})
    ref = gym.make("CartPole-v1", max_episode_steps=3)
    obs, _ = env.reset(seed=5)
    ref_obs, _ = ref.reset(seed=5)  # the vector env seeds its copies seed, seed + 1, ...
    np.testing.assert_array_equal(obs[0], ref_obs)
    actions = [0, 1, 0]
    for i, a in enumerate(actions):
        step = env.step(np.array([a, a]))
        ref_obs, _, ref_term, ref_trunc, _ = ref.step(a)
        if i < 2:
            assert not step.truncated.any() and not step.terminated.any()
            np.testing.assert_array_equal(step.obs[0], ref_obs)
    assert ref_trunc and not ref_term
    assert step.truncated.all() and not step.terminated.any()
    np.testing.assert_array_equal(step.final_obs[0], ref_obs)
    assert not np.array_equal(step.obs[0], ref_obs)
    assert np.all(np.abs(step.obs) <= 0.05)  # CartPole starts within ±0.05 of upright
    env.close()


def test_termination_is_reported_with_final_obs() -> None:
    env = GymVecEnv("CartPole-v1", 1)
    env.reset(seed=0)
    for _ in range(100):  # always pushing left topples the pole within ~10 steps
        step = env.step(np.array([0]))
        if step.terminated[0]:
            break
    assert step.terminated[0] and not step.truncated[0]
    assert abs(step.final_obs[0, 2]) > 0.2 or abs(step.final_obs[0, 0]) > 2.4  # fell or left
    assert np.all(np.abs(step.obs[0]) <= 0.05)
    env.close()


def test_action_mask_from_info_and_discrete_start() -> None:
    env = GymVecEnv("KingmeMaskedCounter-v0", 2)
    assert env.num_actions == 3
    _, mask = env.reset(seed=0)
    assert mask is not None and mask.shape == (2, 3) and mask.dtype == bool
    np.testing.assert_array_equal(mask, [[True, True, False]] * 2)
    step = env.step(np.array([0, 2]))  # kingme's actions 0..2 are the env's -1..1
    np.testing.assert_array_equal(step.reward, [-1.0, 1.0])
    assert step.action_mask is not None
    np.testing.assert_array_equal(step.action_mask, [[False, True, True]] * 2)
    for _ in range(3):
        step = env.step(np.array([1, 1]))
    assert step.terminated.all()
    assert step.action_mask is not None  # the mask of the next episode's first state
    np.testing.assert_array_equal(step.action_mask, [[True, True, False]] * 2)
    np.testing.assert_array_equal(step.final_obs[:, 0], [4.0, 4.0])
    np.testing.assert_array_equal(step.obs[:, 0], [0.0, 0.0])
    env.close()


@pytest.mark.parametrize(
    ("env_id", "message"),
    [
        ("Pendulum-v1", "needs a Discrete one"),
        ("NoSuchEnv-v0", "cannot make Gymnasium environment"),
    ],
)
def test_bad_environments_are_one_line_user_errors(env_id: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as exc:
        GymVecEnv(env_id, 2)
    assert "\n" not in str(exc.value)
