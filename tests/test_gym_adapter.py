"""GymVecEnv: Gymnasium vector environments behind kingme's VecEnv protocol."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from kingme.common import UserError
from kingme.envs.base import VecEnv, VecStep
from kingme.envs.gym_adapter import GymVecEnv, parse_env_kwargs


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


# ---------------------------------------------------------------------------------------------
# Any Gymnasium environment: ids with a module, keyword arguments, observation spaces, wrappers
# ---------------------------------------------------------------------------------------------

USER_MODULE = '''
import gymnasium as gym
import numpy as np


class Tiny(gym.Env):
    """Observation: a Dict of a Discrete(3) position and a MultiDiscrete([2, 2]) flag pair."""

    def __init__(self, bonus=0.0):
        self.observation_space = gym.spaces.Dict(
            {"pos": gym.spaces.Discrete(3), "flags": gym.spaces.MultiDiscrete([2, 2])}
        )
        self.action_space = gym.spaces.Discrete(2)
        self.bonus = bonus
        self.pos = 0

    def _obs(self):
        return {"pos": self.pos, "flags": np.array([self.pos % 2, 1], dtype=np.int64)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = 0
        return self._obs(), {}

    def step(self, action):
        self.pos = min(2, self.pos + int(action))
        return self._obs(), 1.0 + self.bonus, self.pos == 2, False, {}


gym.register(id="UserTiny-v0", entry_point=Tiny)
'''


def test_module_env_id_imports_from_the_current_folder(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "kingme_user_envs.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", str(tmp_path))])
    env = GymVecEnv("kingme_user_envs:UserTiny-v0", 2, env_kwargs={"bonus": 0.5})
    # Dict(pos: Discrete(3), flags: MultiDiscrete([2, 2])) flattened by Gymnasium: 3 + 2 + 2 one-hots.
    assert env.obs_shape == (7,)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs[0], gym_flat_expected(0))
    step = env.step(np.array([1, 0]))
    np.testing.assert_array_equal(step.reward, [1.5, 1.5])  # the keyword argument reached the env
    np.testing.assert_array_equal(step.obs[0], gym_flat_expected(1))
    env.close()


def gym_flat_expected(pos: int) -> np.ndarray:
    """What gymnasium.spaces.flatten makes of Tiny's observation (Dict keys in sorted order)."""
    space = gym.spaces.Dict({"pos": gym.spaces.Discrete(3), "flags": gym.spaces.MultiDiscrete([2, 2])})
    return gym.spaces.flatten(space, {"pos": pos, "flags": np.array([pos % 2, 1])}).astype(np.float32)


def test_discrete_observations_become_one_hot_and_env_kwargs_reach_make() -> None:
    env = GymVecEnv("FrozenLake-v1", 2, env_kwargs={"map_name": "8x8", "is_slippery": False})
    assert env.obs_shape == (64,)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2, 64) and obs.sum(axis=1).tolist() == [1.0, 1.0] and obs[0, 0] == 1.0
    step = env.step(np.array([2, 1]))  # right, down: states 1 and 8
    assert step.obs[0].argmax() == 1 and step.obs[1].argmax() == 8
    env.close()


def test_parse_env_kwargs_literals_and_strings() -> None:
    assert parse_env_kwargs(["map_name=8x8", "is_slippery=False", "n=3", "x=0.5", "v=None", "l=[1, 2]"]) == {
        "map_name": "8x8",
        "is_slippery": False,
        "n": 3,
        "x": 0.5,
        "v": None,
        "l": [1, 2],
    }
    for bad in ("novalue", "=3", "a b=1"):
        with pytest.raises(UserError, match="key=value"):
            parse_env_kwargs([bad])


class TextObs(gym.Env):
    observation_space = gym.spaces.Text(5)
    action_space = gym.spaces.Discrete(2)


gym.register(id="KingmeTextObs-v0", entry_point=TextObs)


@pytest.mark.parametrize(
    ("env_id", "kwargs", "message"),
    [
        ("no_such_module_here:Env-v0", {}, "no module named 'no_such_module_here'"),
        ("KingmeTextObs-v0", {}, "observation space Text"),
        ("CartPole-v1", {"no_such_option": 1}, "no_such_option"),
        (":CartPole-v1", {}, "no module before ':'"),
    ],
)
def test_more_bad_environments_are_one_line_user_errors(env_id: str, kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message) as exc:
        GymVecEnv(env_id, 2, env_kwargs=kwargs)
    assert "\n" not in str(exc.value)


def test_observation_normalisation_with_gymnasiums_wrapper_and_its_state() -> None:
    env = GymVecEnv("CartPole-v1", 4, normalize_obs=True)
    raw = GymVecEnv("CartPole-v1", 4)
    obs, _ = env.reset(seed=3)
    raw_obs, _ = raw.reset(seed=3)
    rng = np.random.default_rng(0)
    seen, seen_raw = [], []
    for _ in range(300):
        a = rng.integers(0, 2, 4)
        seen.append(env.step(a).obs)
        seen_raw.append(raw.step(a).obs)
    normed, plain = np.concatenate(seen), np.concatenate(seen_raw)
    assert np.abs(normed.mean(0)).max() < 0.3 and np.abs(normed.std(0) - 1).max() < 0.3
    assert np.abs(plain.std(0) - 1).max() > 0.5  # the raw observations are far from unit scale
    state = env.state_dict()
    assert set(state) == {"obs_rms"} and len(state["obs_rms"]) == 4
    mean0, var0, count0 = state["obs_rms"][0]
    assert mean0.shape == (4,) and count0 > 300
    # Loaded into a fresh environment (more copies than were saved: the extras take copy 0's) and frozen.
    other = GymVecEnv("CartPole-v1", 6, normalize_obs=True)
    other.load_state_dict(state)
    other.freeze_statistics()
    other.reset(seed=0)
    for _ in range(20):
        other.step(np.zeros(6, dtype=np.int64))
    after = other.state_dict()["obs_rms"]
    np.testing.assert_allclose(after[5][0].numpy(), mean0.numpy())
    assert after[5][2] == count0  # frozen: not updated by the 20 steps
    for e in (env, raw, other):
        e.close()


def test_reward_normalisation_keeps_the_raw_rewards_for_the_statistics() -> None:
    env = GymVecEnv("CartPole-v1", 3, normalize_reward=True, gamma=0.99)
    env.reset(seed=0)
    scaled = []
    for _ in range(50):
        step = env.step(np.array([0, 1, 0]))
        np.testing.assert_array_equal(env.raw_reward, [1.0, 1.0, 1.0])  # CartPole pays 1 per step
        scaled.append(step.reward)
    assert not np.allclose(np.concatenate(scaled), 1.0)  # the learner sees scaled rewards
    assert set(env.state_dict()) == {"return_rms"}
    env.close()


def test_async_vector_env_steps_like_the_sync_one() -> None:
    sync = GymVecEnv("CartPole-v1", 2)
    asyn = GymVecEnv("CartPole-v1", 2, vectorization_mode="async")
    a, _ = sync.reset(seed=7)
    b, _ = asyn.reset(seed=7)
    np.testing.assert_array_equal(a, b)
    for t in range(30):
        actions = np.array([t % 2, 1])
        sa, sb = sync.step(actions), asyn.step(actions)
        np.testing.assert_array_equal(sa.obs, sb.obs)
        np.testing.assert_array_equal(sa.terminated, sb.terminated)
    sync.close()
    asyn.close()


def test_kingme_tasks_are_registered_gymnasium_envs() -> None:
    env = gym.make("kingme/DeepSea-v0", size=4)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (16,) and obs[0] == 1.0
    total, done, steps = 0.0, False, 0
    while not done:
        obs, r, term, trunc, _ = env.step(env.action_space.sample())
        total += r
        steps += 1
        done = term or trunc
    assert steps == 4 and term  # deep sea's episodes last exactly N steps
    grid = GymVecEnv("kingme/GridWorld-v0", 2)
    assert grid.obs_shape == (25,) and grid.num_actions == 4
    grid.close()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("gym:no_such_module_here:Env-v0", "no module named 'no_such_module_here'"),
        ("gym:KingmeTextObs-v0", "observation space Text"),
        ("gym:NoSuchEnv-v0", "cannot make Gymnasium environment"),
    ],
)
def test_cli_names_the_problem_in_one_line_and_exits_2(
    target: str, message: str, tmp_path: Any, capsys: pytest.CaptureFixture
) -> None:
    from kingme import cli

    assert cli.main(["train", target, "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not any(tmp_path.iterdir())  # nothing was written
