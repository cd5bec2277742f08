"""The PPO kind of run: one (arm, seed) is one `kingme.ppo` training run on a small environment.

An arm's environment is gym:ID (Gymnasium through the adapter), deepsea:N or grid:SHAPING; its
settings are PPOConfig fields over `BASE`. Every run also measures how far each update moves the
policy (`PolicyShift`): the exact KL(π_θold ‖ π_θ) over actions, averaged over the states of the
update's own rollout, and the expected fraction of rollout samples whose final ratio π_θ/π_θold
lies outside [1 − ε, 1 + ε]. The logged losses/approx_kl cannot serve here: with
freeze_old_policy off it is 0 by construction. An experiment adds its own per-update measurements
with `PPORuns(callbacks=...)`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from kingme.common import UserError
from kingme.config import config_to_dict
from kingme.envs.base import VecEnv, VecStep
from kingme.experiments.base import Arm, RunOutput
from kingme.nets import ActorCritic
from kingme.ppo.config import CARTPOLE_DEFAULTS, PPOConfig
from kingme.ppo.train import Callback, UpdateInfo, train
from kingme.progress import Advance

RETURN = "charts/recent_return"  # mean return of the last 20 finished episodes, per update

# The experiments' documented results were measured at the PPO defaults of before the defaults
# changed to the checkers ones: pinned here.
BASE = {**CARTPOLE_DEFAULTS, "tensorboard": False, "checkpoint_every": 0, "torch_threads": 1, "device": "cpu"}

Callbacks = Callable[[Arm, VecEnv, PPOConfig], list[Callback]]  # an experiment's own per-update hooks


def make_env(spec: str, num_envs: int, gamma: float) -> VecEnv:
    """gym:ID (Gymnasium through the adapter), deepsea:N, or grid:true|progress|potential."""
    kind, _, arg = spec.partition(":")
    if kind == "gym":
        from kingme.envs.gym_adapter import GymVecEnv

        return GymVecEnv(arg, num_envs)
    if kind == "deepsea":
        from kingme.envs.deepsea import DeepSea

        return DeepSea(int(arg), num_envs)
    if kind == "grid":
        from kingme.envs.gridworld import ShapedGrid

        return ShapedGrid(num_envs, arg, gamma=gamma)
    raise UserError(f"unknown environment {spec!r}: expected gym:ID, deepsea:N or grid:SHAPING")


class PPORuns:
    """RunKind: PPO on the arm's environment, the arm's PPOConfig fields over `BASE`."""

    name: str = "ppo"
    defaults: str = "PPOConfig"
    kept: tuple[str, ...] = (RETURN,)

    def __init__(self, callbacks: Callbacks | None = None) -> None:
        self.callbacks = callbacks  # the experiment's own per-update measurements

    def config(self, arm: Arm, seed: int) -> PPOConfig:
        try:
            cfg = PPOConfig(env=arm.env, seed=seed, **{**BASE, **arm.overrides})
        except TypeError as e:
            raise UserError(f"arm {arm.label!r}: {e}") from None
        cfg.validate()
        return cfg

    def work(self, config: PPOConfig) -> int:
        return config.num_updates * config.batch_size  # environment steps

    def run(self, arm: Arm, config: PPOConfig, advance: Advance) -> RunOutput:
        env = RecordingEnv(make_env(arm.env, config.num_envs, config.gamma), config.num_steps)
        callbacks: list[Callback] = [PolicyShift(env, config.clip_coef)]
        if self.callbacks is not None:
            callbacks += self.callbacks(arm, env, config)

        def tick(info: UpdateInfo) -> None:
            advance(config.batch_size)

        callbacks.append(tick)
        t0 = time.perf_counter()
        try:
            result = train(config, env, callbacks=callbacks)
        finally:
            env.close()
        return RunOutput(result.history, time.perf_counter() - t0)

    def saved(self, config: PPOConfig) -> dict[str, Any]:
        return config_to_dict(config)


PPO = PPORuns()  # the kind of the PPO experiments without callbacks of their own


class RecordingEnv:
    """A VecEnv wrapper that keeps the observations of the last T steps (the last rollout's states,
    shifted by one step), and passes every other attribute through to the wrapped environment."""

    def __init__(self, env: VecEnv, num_steps: int) -> None:
        self.env = env
        self.num_envs = env.num_envs
        self.obs_shape = env.obs_shape
        self.num_actions = env.num_actions
        self._obs = np.zeros((num_steps, env.num_envs, *env.obs_shape), dtype=np.float32)  # (T, N, *obs)
        self._t = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        return self.env.reset(seed=seed)

    def step(self, actions: np.ndarray) -> VecStep:
        out = self.env.step(actions)
        self._obs[self._t % len(self._obs)] = out.obs
        self._t += 1
        return out

    def states(self) -> np.ndarray:
        return self._obs.reshape(-1, *self.obs_shape)  # (T·N, *obs)

    def close(self) -> None:
        self.env.close()


class PolicyShift:
    """After each update: KL(π_θold ‖ π_θ) and the expected out-of-clip fraction on the rollout's states."""

    def __init__(self, env: RecordingEnv, clip_coef: float) -> None:
        self.env = env
        self.clip_coef = clip_coef
        self.prev: ActorCritic | None = None

    @torch.no_grad()
    def __call__(self, info: UpdateInfo) -> None:
        if self.prev is not None:
            states = torch.from_numpy(self.env.states())
            logp_old = torch.log_softmax(self.prev.logits(states), dim=-1)  # (B, A)
            logp_new = torch.log_softmax(info.agent.logits(states), dim=-1)
            p_old = logp_old.exp()
            kl = (p_old * (logp_old - logp_new)).sum(-1).mean()
            outside = ((logp_new - logp_old).exp() - 1.0).abs() > self.clip_coef  # (B, A)
            info.metrics["probe/kl_update"] = float(kl)
            info.metrics["probe/outside_clip"] = float((p_old * outside).sum(-1).mean())
            self.prev.load_state_dict(info.agent.state_dict())
        else:
            self.prev = copy.deepcopy(info.agent).eval()
