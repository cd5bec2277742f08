"""Any Gymnasium environment with a Discrete action space, as a kingme `VecEnv`.

`gymnasium.make_vec` builds N copies, in one process by default (`SyncVectorEnv`: for small
environments such as CartPole, stepping in-process beats the inter-process traffic of
`AsyncVectorEnv` on 2 cores) or one process each (`vectorization_mode="async"`, for environments
whose step is expensive). Gymnasium 1.x resets a finished environment on the *next* call to `step`
by default; kingme's protocol resets it in the *same* step, so the adapter asks for
`AutoresetMode.SAME_STEP`, in which the returned observation is already the next episode's first
one and the episode's last observation arrives in `info["final_obs"]`.

Environment ids (`parse_env_id`): `CartPole-v1`, or Gymnasium's own `module:EnvId`, which imports
`module` first (from the current folder too, as a user expects when their environment file sits
beside them) so that its `gymnasium.register` calls run.

Observations. A `Box` is used as it is (cast to float32). `Discrete`, `MultiDiscrete`,
`MultiBinary`, `Tuple` and `Dict` spaces (of those) are flattened by Gymnasium's
`FlattenObservation` wrapper: a Discrete value becomes its one-hot vector, a Dict the concatenation
of its flattened parts. Any other space (Text, Graph, Sequence, ...) is refused in one line.

Normalisation (off by default), with Gymnasium's per-environment wrappers, applied to each copy:
`NormalizeObservation` (running mean and variance of each observation coordinate) and
`NormalizeReward` (rewards scaled by the running std of the discounted return). Gymnasium's
*vector* wrappers cannot be used: they refuse the same-step autoreset. Each copy keeps its own
running statistics; `state_dict()` returns them (the training loop stores them in every
checkpoint) and `load_state_dict()` puts them back, for resuming and for evaluation
(`freeze_statistics()` stops their updates). With reward normalisation the policy learns from the
scaled rewards while `raw_reward` holds the environment's own, which the training loop's episode
statistics use, so the returns logged are always the environment's.

`check_env=True` keeps Gymnasium's passive environment checker (off by default: it is a
development aid, and its wrapper costs about a tenth of a CartPole step).

An environment that publishes a legal-action mask in `info["action_mask"]` (shape (N, A) or A
per environment) gets it passed through; otherwise the mask is None.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from kingme.common import UserError, one_line
from kingme.envs.base import VecStep

MASK_KEY = "action_mask"
RAW_REWARD_KEY = "kingme_raw_reward"
FLATTENED = (gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)
STATS = ("obs_rms", "return_rms")  # the running statistics of Gymnasium's normalisation wrappers


def parse_env_kwargs(items: Iterable[str]) -> dict[str, Any]:
    """`key=value` strings as keyword arguments for `gymnasium.make`; values are Python literals
    where they parse as one (`8`, `0.5`, `False`, `None`, `[1, 2]`), else strings (`map_name=8x8`)."""
    kwargs: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UserError(f"env-kwargs takes key=value pairs, got {item!r}")
        try:
            kwargs[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            kwargs[key] = text
    return kwargs


def parse_env_id(env_id: str) -> str:
    """The Gymnasium id of `env_id` (`EnvId` or `module:EnvId`), importing `module` first.

    The current folder is searched too. A missing module or a module that fails to import is a
    one-line `UserError` naming it.
    """
    module, sep, name = env_id.rpartition(":")
    if not name:
        raise UserError(f"no environment id in {env_id!r} (e.g. CartPole-v1 or my_module:MyEnv-v0)")
    if sep:
        if not module:
            raise UserError(f"no module before ':' in {env_id!r} (expected module:EnvId)")
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name is not None and module.startswith(e.name):
                raise UserError(f"no module named {module!r} (for environment {env_id!r}), here or installed") from None
            raise UserError(f"module {module!r} needs a missing package: {e}") from None
        except Exception as e:  # the user's file raised while importing
            raise UserError(f"module {module!r} failed to import: {type(e).__name__}: {one_line(e)}") from None
    return name


def _flattenable(space: gym.Space) -> bool:
    if isinstance(space, FLATTENED):
        return True
    if isinstance(space, gym.spaces.Box):
        return True
    if isinstance(space, gym.spaces.Dict):
        return all(_flattenable(s) for s in space.spaces.values())
    if isinstance(space, gym.spaces.Tuple):
        return all(_flattenable(s) for s in space.spaces)
    return False


class _RawReward(gym.Wrapper):
    """Puts the environment's own reward into `info` before `NormalizeReward` rescales it."""

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, RAW_REWARD_KEY: float(reward)}


class GymVecEnv:
    """N copies of a Gymnasium environment behind the `VecEnv` protocol."""

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        *,
        vectorization_mode: str = "sync",
        env_kwargs: Mapping[str, Any] | None = None,
        normalize_obs: bool = False,
        normalize_reward: bool = False,
        gamma: float = 0.99,
        check_env: bool = False,
    ) -> None:
        if vectorization_mode not in ("sync", "async"):
            raise UserError(f"vectorization mode must be sync or async, got {vectorization_mode!r}")
        gym_id = parse_env_id(env_id)
        obs_space = self._probe(env_id, gym_id, dict(env_kwargs or {}))
        wrappers: list[Callable[[gym.Env], gym.Wrapper]] = []
        if not isinstance(obs_space, gym.spaces.Box):
            wrappers.append(gym.wrappers.FlattenObservation)
        if normalize_obs:
            wrappers.append(gym.wrappers.NormalizeObservation)
        if normalize_reward:
            wrappers.append(_RawReward)
            wrappers.append(lambda e: gym.wrappers.NormalizeReward(e, gamma=gamma))
        try:
            env = gym.make_vec(
                gym_id,
                num_envs=num_envs,
                vectorization_mode=vectorization_mode,
                vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
                wrappers=wrappers,
                # Gymnasium's passive checker wraps every copy; it costs ~10% of a CartPole step.
                disable_env_checker=not check_env,
                **dict(env_kwargs or {}),
            )
        except gym.error.Error as e:
            raise UserError(f"cannot make Gymnasium environment {env_id!r}: {one_line(e)}") from None
        except ModuleNotFoundError as e:
            raise UserError(f"Gymnasium environment {env_id!r} needs a missing package: {e}") from None
        except TypeError as e:  # an unknown keyword in --env-kwargs
            raise UserError(f"cannot make Gymnasium environment {env_id!r}: {one_line(e)}") from None
        self.env: Any = env  # a SyncVectorEnv or AsyncVectorEnv (get_attr, set_attr)
        self.env_id = env_id
        self.num_envs = num_envs
        self.obs_shape: tuple[int, ...] = tuple(env.single_observation_space.shape or ())
        action_space = env.single_action_space
        assert isinstance(action_space, gym.spaces.Discrete)  # checked by _probe
        self.num_actions = int(action_space.n)
        self._action_start = int(action_space.start)
        self.normalize_obs = normalize_obs
        self.normalize_reward = normalize_reward
        self.raw_reward = np.zeros(num_envs, dtype=np.float32)  # (N,) the last step's own rewards

    @staticmethod
    def _probe(env_id: str, gym_id: str, kwargs: dict[str, Any]) -> gym.Space:
        """Check the spaces of one copy before building N; return its observation space."""
        try:
            spec = gym.spec(gym_id)
        except gym.error.Error as e:
            raise UserError(f"cannot make Gymnasium environment {env_id!r}: {one_line(e)}") from None
        try:
            probe = gym.make(spec, disable_env_checker=True, **kwargs)
        except gym.error.Error as e:
            raise UserError(f"cannot make Gymnasium environment {env_id!r}: {one_line(e)}") from None
        except ModuleNotFoundError as e:
            raise UserError(f"Gymnasium environment {env_id!r} needs a missing package: {e}") from None
        except TypeError as e:
            raise UserError(f"cannot make Gymnasium environment {env_id!r}: {one_line(e)}") from None
        action_space, obs_space = probe.action_space, probe.observation_space
        probe.close()
        if not isinstance(action_space, gym.spaces.Discrete):
            raise UserError(f"{env_id} has action space {action_space}; kingme's PPO needs a Discrete one")
        if not _flattenable(obs_space):
            raise UserError(
                f"{env_id} has observation space {obs_space}; kingme handles Box, Discrete, MultiDiscrete, "
                "MultiBinary, and Dict or Tuple spaces of those"
            )
        return obs_space

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
        reward = np.asarray(reward, dtype=np.float32)
        if self.normalize_reward:
            self.raw_reward = self._raw_rewards(info)
        else:
            self.raw_reward = reward
        return VecStep(
            obs=obs,
            reward=reward,
            terminated=np.asarray(terminated, dtype=bool),
            truncated=np.asarray(truncated, dtype=bool),
            action_mask=self._mask(info),
            final_obs=final_obs,
        )

    def _raw_rewards(self, info: dict[str, Any]) -> np.ndarray:
        """The rewards before `NormalizeReward`: in `info` for a copy that went on, in
        `info["final_info"]` for one that ended (its `info` is then the next episode's reset's)."""
        raw = np.zeros(self.num_envs, dtype=np.float32)
        for source in (info, info.get("final_info", {})):
            if RAW_REWARD_KEY in source:
                have = source[f"_{RAW_REWARD_KEY}"]
                raw[have] = np.asarray(source[RAW_REWARD_KEY], dtype=np.float32)[have]
        return raw

    # --- the running statistics of the normalisation wrappers -----------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The normalisation statistics of each copy, as tensors: {name: [(mean, var, count), ...]}."""
        state: dict[str, Any] = {}
        for name in self._stat_names():
            state[name] = [
                (torch.as_tensor(rms.mean).clone(), torch.as_tensor(rms.var).clone(), float(rms.count))
                for rms in self.env.get_attr(name)
            ]
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Put back statistics from `state_dict()`; a run with fewer saved copies than this one
        (an evaluation with more environments) gives the extra copies the first copy's."""
        for name in self._stat_names():
            saved = state.get(name)
            if not saved:
                raise UserError(f"the checkpoint holds no {name} for this environment's normalisation")
            current = self.env.get_attr(name)
            for i, rms in enumerate(current):
                mean, var, count = saved[i] if i < len(saved) else saved[0]
                rms.mean = np.asarray(mean.numpy(), dtype=rms.mean.dtype).reshape(np.shape(rms.mean))
                rms.var = np.asarray(var.numpy(), dtype=rms.var.dtype).reshape(np.shape(rms.var))
                rms.count = count
            self.env.set_attr(name, current)

    def freeze_statistics(self) -> None:
        """Stop updating the normalisation statistics (for evaluation; in-process copies only)."""
        if not self._stat_names():
            return
        copies = getattr(self.env, "envs", None)
        if copies is None:
            raise UserError("frozen normalisation statistics need the sync vector env")
        for env in copies:
            while isinstance(env, gym.Wrapper):
                if isinstance(env, (gym.wrappers.NormalizeObservation, gym.wrappers.NormalizeReward)):
                    env.update_running_mean = False
                env = env.env

    def _stat_names(self) -> list[str]:
        return [n for n, on in zip(STATS, (self.normalize_obs, self.normalize_reward), strict=True) if on]

    def close(self) -> None:
        self.env.close()


# ---------------------------------------------------------------------------------------------
# kingme's own small tasks as Gymnasium environments (for `gym:kingme/...` and for other libraries)
# ---------------------------------------------------------------------------------------------


class SingleGymEnv(gym.Env):
    """One copy of a kingme `VecEnv` (built with num_envs = 1) as a plain Gymnasium environment, so
    that any Gymnasium user (Stable-Baselines3 in the PPO suite, `kingme train gym:kingme/...`)
    steps exactly the same task."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, vec: Any) -> None:
        if vec.num_envs != 1:
            raise ValueError("SingleGymEnv wraps a VecEnv with one copy")
        self.vec = vec
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=vec.obs_shape, dtype=np.float32)
        self.action_space = gym.spaces.Discrete(vec.num_actions)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        obs, _ = self.vec.reset(seed=seed)
        return obs[0], {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        s = self.vec.step(np.array([int(action)], dtype=np.int64))
        done = bool(s.terminated[0] or s.truncated[0])
        obs = s.final_obs[0] if done else s.obs[0]  # the VecEnv has already started the next episode
        return obs, float(s.reward[0]), bool(s.terminated[0]), bool(s.truncated[0]), {}


def deep_sea_env(size: int = 10, map_seed: int = 0) -> SingleGymEnv:
    """`kingme/DeepSea-v0`: the deep-sea task (kingme.envs.deepsea) of side `size`."""
    from kingme.envs.deepsea import DeepSea

    return SingleGymEnv(DeepSea(size, 1, map_seed=map_seed))


def grid_world_env(shaping: str = "true", size: int = 5, time_limit: int = 50) -> SingleGymEnv:
    """`kingme/GridWorld-v0`: the grid world (kingme.envs.gridworld), by default with its true reward only."""
    from kingme.envs.gridworld import ShapedGrid

    return SingleGymEnv(ShapedGrid(1, shaping, size=size, time_limit=time_limit))


for _id, _entry in (("kingme/DeepSea-v0", "deep_sea_env"), ("kingme/GridWorld-v0", "grid_world_env")):
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=f"{__name__}:{_entry}")
