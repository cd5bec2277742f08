"""Evaluating a trained PPO policy on its Gymnasium environment, and the early stop at a return.

    kingme eval runs/cp                       # 20 episodes from the latest checkpoint, sampled actions
    kingme eval runs/cp --which best --episodes 100 --deterministic
    kingme eval runs/cp/checkpoints/update-000040.safetensors --json

`evaluate(agent, env, episodes)` plays whole episodes in N copies at once and returns every
episode's undiscounted return and length; the command prints their mean with a 95% t-interval over
episodes (kingme.stats.mean_ci). Exactly `episodes` episodes are started and each is
played to its end (a copy stops counting once enough have started), so short episodes are not
over-represented, as they would be by keeping the first `episodes` to finish.

The environment is rebuilt from the run's saved config (`gym_env`: the same id, keyword arguments
and wrappers); with observation normalisation the checkpoint's running statistics are loaded and
frozen, so the policy sees observations scaled exactly as at the end of its training. Rewards are
always the environment's own (reward normalisation changes only what the learner saw).

`StopAtReturn` is the `--target-return` early stop of `kingme train`: a callback that stops the
run once the mean return of the last `return_window` episodes reaches the target.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kingme.common import UserError, seed_everything
from kingme.config import Parser, add_config_args, arg, config_from_args, require
from kingme.envs.gym_adapter import GymVecEnv, parse_env_kwargs
from kingme.nets import ActorCritic
from kingme.ppo import core
from kingme.ppo.checkpoint import load_checkpoint
from kingme.ppo.config import GymPPOConfig, PPOConfig
from kingme.ppo.train import UpdateInfo, load_agent


def gym_env(cfg: PPOConfig, num_envs: int | None = None, vector_mode: str | None = None) -> GymVecEnv:
    """The Gymnasium environment a config trains on (`gym:ID`, with a GymPPOConfig's options)."""
    if not cfg.env.startswith("gym:"):
        raise UserError(f"environment {cfg.env!r} is not a Gymnasium one (gym:ENV_ID)")
    g = cfg if isinstance(cfg, GymPPOConfig) else GymPPOConfig(**vars(cfg))
    return GymVecEnv(
        cfg.env[len("gym:") :],
        num_envs or cfg.num_envs,
        vectorization_mode=vector_mode or g.vector_mode,
        env_kwargs=parse_env_kwargs(g.env_kwargs),
        normalize_obs=g.normalize_obs,
        normalize_reward=g.normalize_reward,
        gamma=cfg.gamma,
    )


class StopAtReturn:
    """Stop training once the mean return of the last `window` episodes reaches `target` (and at
    least `window` episodes have finished); `hit` is then (update, global_step, elapsed seconds)."""

    def __init__(self, target: float, window: int) -> None:
        self.target, self.window = target, window
        self.hit: tuple[int, int, float] | None = None

    def __call__(self, info: UpdateInfo) -> None:
        recent = info.metrics.get("charts/recent_return")
        enough = info.metrics.get("charts/total_episodes", 0.0) >= self.window
        if recent is not None and enough and recent >= self.target:
            self.hit = (info.update, info.global_step, info.elapsed)
            info.stop = True


# =============================================================================================
# Playing episodes
# =============================================================================================


@dataclass
class EvalResult:
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)


@torch.no_grad()
def evaluate(
    agent: ActorCritic,
    env: GymVecEnv,
    episodes: int,
    *,
    deterministic: bool = False,
    seed: int = 0,
    device: str = "cpu",
    max_steps: int = 10_000_000,
) -> EvalResult:
    """Play `episodes` whole episodes with `agent` in the copies of `env` (sampled actions, or the
    most probable one with `deterministic`); return their returns and lengths."""
    seed_everything(seed)
    obs, mask = env.reset(seed=seed)
    n = env.num_envs
    ret = np.zeros(n)
    length = np.zeros(n, dtype=np.int64)
    started = min(n, episodes)  # episodes begun so far; copy i plays only while active[i]
    active = np.arange(n) < episodes
    result = EvalResult()
    for _ in range(max_steps):
        if not active.any():
            break
        logits = agent.logits(torch.from_numpy(obs).to(device))  # (N, A)
        if mask is not None:
            logits = core.mask_logits(logits, torch.from_numpy(mask).to(device))
        if deterministic:
            action = logits.argmax(dim=-1)
        else:
            action = core.sample_actions(logits, core.gumbel_noise(tuple(logits.shape), logits.device))
        step = env.step(action.cpu().numpy())
        ret += getattr(env, "raw_reward", step.reward)
        length += 1
        for i in np.flatnonzero((step.terminated | step.truncated) & active):
            result.returns.append(float(ret[i]))
            result.lengths.append(int(length[i]))
            if started < episodes:
                started += 1
            else:
                active[i] = False
        done = step.terminated | step.truncated
        ret[done] = 0.0
        length[done] = 0
        obs, mask = step.obs, step.action_mask
    else:
        raise UserError(f"evaluation did not finish {episodes} episodes within {max_steps} steps")
    return result


# =============================================================================================
# The command
# =============================================================================================


@dataclass
class EvalConfig:
    episodes: int = arg(20, "Episodes to play.")
    deterministic: bool = arg(False, "Take the most probable action instead of sampling from the policy.")
    which: str = arg("latest", "Checkpoint of a run folder: latest or best.")
    num_envs: int = arg(8, "Environments stepped together.")
    seed: int = arg(12345, "Seed of the evaluation episodes (the environments and the action sampling).")
    device: str = arg("cpu", "Torch device: auto, cpu or cuda[:N].")

    def validate(self) -> None:
        require(self.episodes >= 1, f"episodes must be at least 1, got {self.episodes}")
        require(self.num_envs >= 1, f"num-envs must be at least 1, got {self.num_envs}")
        require(self.which in ("latest", "best"), f"which must be latest or best, got {self.which!r}")


def load_for_eval(
    path: str | Path, which: str, device: str
) -> tuple[ActorCritic, GymPPOConfig, dict[str, Any], tuple[int, ...]]:
    """The policy of a PPO checkpoint (a file, or a run or checkpoints folder), its config as a
    GymPPOConfig, its environment state (normalisation statistics) and its observation shape."""
    ckpt = load_checkpoint(path, which)
    data = ckpt.meta.get("config")
    if not isinstance(data, dict) or not str(data.get("env", "")).startswith("gym:"):
        raise UserError(f"checkpoint {ckpt.path} is not from a PPO run on a Gymnasium environment (gym:ENV_ID)")
    agent, cfg = load_agent(ckpt.path, device=device, config_cls=GymPPOConfig)
    return agent, cfg, ckpt.state.get("env") or {}, tuple(ckpt.meta["obs_shape"])


def eval_main(argv: list[str]) -> int:
    parser = Parser(prog="kingme eval", description="Evaluate a PPO run or checkpoint on its Gymnasium environment.")
    parser.add_argument("run", metavar="RUN", help="A run folder, its checkpoints/ folder, or a checkpoint file.")
    add_config_args(parser, EvalConfig)
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    ns = parser.parse_args(argv)
    ecfg = config_from_args(EvalConfig, ns)
    from kingme.common import resolve_device
    from kingme.stats import mean_ci

    device = resolve_device(ecfg.device)
    agent, cfg, env_state, obs_shape = load_for_eval(ns.run, ecfg.which, device)
    env = gym_env(cfg, ecfg.num_envs, vector_mode="sync")
    try:
        if env_state:
            env.load_state_dict(env_state)
        env.freeze_statistics()
        if env.obs_shape != obs_shape:
            raise UserError(f"the environment's observations {env.obs_shape} do not fit the checkpoint's {obs_shape}")
        res = evaluate(agent, env, ecfg.episodes, deterministic=ecfg.deterministic, seed=ecfg.seed, device=device)
    finally:
        env.close()
    ci = mean_ci(res.returns)
    lengths = np.asarray(res.lengths)
    out = {
        "env": cfg.env,
        "episodes": len(res.returns),
        "deterministic": ecfg.deterministic,
        "mean_return": ci.mean,
        "ci95": [ci.lo, ci.hi],
        "min_return": min(res.returns),
        "max_return": max(res.returns),
        "mean_length": float(lengths.mean()),
        "min_length": int(lengths.min()),
        "max_length": int(lengths.max()),
    }
    if ns.json:
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        policy = "greedy" if ecfg.deterministic else "sampled"
        sys.stdout.write(
            f"{cfg.env}, {out['episodes']} episodes ({policy} actions): mean return {ci.mean:.2f} "
            f"[95% CI {ci.lo:.2f}, {ci.hi:.2f}], range {out['min_return']:.2f} to {out['max_return']:.2f}; "
            f"episode length mean {out['mean_length']:.1f}, range {out['min_length']}-{out['max_length']}\n"
        )
    return 0
