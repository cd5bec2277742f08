"""The PPO training loop for any `VecEnv` with discrete actions (Schulman et al. 2017).

Each update is three phases, marked below:

    1. ROLLOUT     θ_old = θ, frozen: run T steps in N environments, storing observations,
                   actions, log π_θold(a|s), V_φold(s), rewards, end flags and action masks.
    2. ADVANTAGES  once per batch, with the frozen values: Â by GAE(γ, λ) and the critic's
                   targets R = Â + V (or Monte-Carlo returns for the REINFORCE ablations).
    3. UPDATE      K epochs over shuffled minibatches of the live parameters θ, φ on
                   L = L^CLIP + c_v L^V - c_e(t) H[π_θ], with global gradient-norm clipping and an
                   optional early stop once the approximate KL passes a target.

`train(cfg, env)` is the whole run and is meant to be reused: pass `make_agent` to train another
network with the `ActorCritic` interface (kingme.nets), and `callbacks` to act after every update
(read or extend the metrics row, save a snapshot of the policy, stop the run).

The run's length is a `Budget`: environment steps and, optionally, wall-clock seconds. The budget
drives both the stop and the schedules: the learning-rate annealing and the entropy schedule follow
the fraction of the budget spent, whichever of steps and time is further along. By default the
budget is `cfg.total_steps` steps with no time limit.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import torch

from kingme.common import UserError, resolve_device, seed_everything
from kingme.config import config_to_dict
from kingme.envs.base import VecEnv
from kingme.nets import ActorCritic, MLPActorCritic, categorical_value
from kingme.ppo import core
from kingme.ppo.buffer import Batch, Rollout, RolloutBuffer, flatten
from kingme.ppo.checkpoint import (
    CheckpointManager,
    load_checkpoint,
    load_resumable,
    rng_state,
    set_rng_state,
)
from kingme.ppo.config import PPOConfig
from kingme.progress import progress_bar
from kingme.runs.budget import Budget
from kingme.runs.logger import MetricsLogger

AgentFactory = Callable[[tuple[int, ...], int, PPOConfig], ActorCritic]


@dataclass
class UpdateInfo:
    """What a callback sees after each update; it may add entries to `metrics` before they are
    logged, and set `stop` to end the run (a checkpoint is written first)."""

    update: int  # 1-based index of the update just finished
    global_step: int  # environment steps so far, summed over environments
    metrics: dict[str, float]
    agent: ActorCritic
    optimizer: torch.optim.Optimizer
    run_dir: Path | None
    stop: bool = False
    last: bool = False  # the budget is spent: this is the run's last update (read-only)
    budget_fraction: float = 0.0  # the share of the budget spent so far, in [0, 1]
    elapsed: float = 0.0  # seconds of training so far (summed over resumed sessions)


Callback = Callable[[UpdateInfo], None]


@dataclass
class TrainResult:
    agent: ActorCritic
    global_step: int
    updates: int
    run_dir: Path | None
    history: list[dict[str, Any]] = field(default_factory=list)  # the metrics rows of this call


def default_agent(obs_shape: tuple[int, ...], num_actions: int, cfg: PPOConfig) -> ActorCritic:
    """The MLP actor-critic described by the config's network fields."""
    return MLPActorCritic(obs_shape, num_actions, cfg.hidden_sizes, cfg.activation, cfg.trunk)


def make_optimizer(agent: ActorCritic, cfg: PPOConfig, device: torch.device) -> torch.optim.Adam:
    """Adam over all parameters; the fused kernel where torch has one (several times faster per
    step than the per-tensor loop for small networks)."""
    fused = device.type in ("cpu", "cuda")
    return torch.optim.Adam(agent.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps, fused=fused)


class EpisodeStats:
    """Undiscounted return and length of the episode running in each environment."""

    def __init__(self, num_envs: int, window: int) -> None:
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.lengths = np.zeros(num_envs, dtype=np.int64)
        self.batch_returns: list[float] = []  # episodes finished in the current batch
        self.batch_lengths: list[int] = []
        self.recent: deque[float] = deque(maxlen=window)  # the last `window` episodes
        self.episodes = 0

    def step(self, reward: np.ndarray, done: np.ndarray) -> None:
        self.returns += reward
        self.lengths += 1
        if done.any():
            for i in np.flatnonzero(done):
                self.add(float(self.returns[i]), int(self.lengths[i]))
                self.returns[i] = 0.0
                self.lengths[i] = 0

    def add(self, ret: float, length: int) -> None:
        """One finished episode (from `step`, or from a worker that ran it elsewhere)."""
        self.batch_returns.append(ret)
        self.batch_lengths.append(length)
        self.recent.append(ret)
        self.episodes += 1

    def recent_mean(self) -> float | None:
        return float(np.mean(self.recent)) if self.recent else None


# =============================================================================================
# 1. ROLLOUT: θ_old frozen
# =============================================================================================


@runtime_checkable
class RolloutCollector(Protocol):
    """A VecEnv that collects whole rollouts itself, e.g. on remote workers (kingme.selfplay.workers):
    it fills every (T, N) array of `buf` with T steps of `agent`, θ_old, records finished episodes in
    `episodes`, and keeps its own next observations. The loop then goes on as below."""

    def collect_rollout(self, agent: ActorCritic, buf: RolloutBuffer, episodes: EpisodeStats) -> None: ...


class OldPolicy(NamedTuple):
    """What θ_old and φ_old say about the rollout, computed before any parameter changes."""

    logp: torch.Tensor  # (T, N) log π_θold(a_t|s_t)
    values: torch.Tensor  # (T, N) V_φold(s_t)
    final_values: torch.Tensor  # (T, N) V_φold(final_obs_t) where truncated at t, else 0
    last_value: torch.Tensor  # (N,) V_φold(s_T), the bootstrap after the last step


@torch.no_grad()
def collect_rollout(
    agent: ActorCritic,
    env: VecEnv,
    buf: RolloutBuffer,
    obs: np.ndarray,
    mask: np.ndarray | None,
    episodes: EpisodeStats,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Fill `buf` with T steps of the current policy (θ_old); return the next (obs, mask).

    Each step runs the policy head only, to pick the actions; log π_θold and V_φold are computed
    afterwards for the whole batch in one pass (`evaluate_old_policy`): the same numbers, since the
    parameters do not change during the rollout, for far fewer small kernel calls.
    """
    T, N = buf.num_steps, buf.num_envs
    noise = core.gumbel_noise((T, N, buf.num_actions), device)  # the sampling noise of every step
    for t in range(T):
        buf.obs[t] = obs
        obs_t = torch.from_numpy(buf.obs[t]).to(device)  # (N, *obs_shape)
        logits = agent.logits(obs_t)  # (N, A)
        if buf.masks is not None:
            if mask is None:
                raise UserError("the environment gave an action mask at reset but not at a step")
            buf.masks[t] = mask
            logits = core.mask_logits(logits, torch.from_numpy(buf.masks[t]).to(device))
        action = core.sample_actions(logits, noise[t]).cpu().numpy()  # (N,)
        buf.actions[t] = action

        step = env.step(action)
        buf.rewards[t] = step.reward
        buf.terminated[t] = step.terminated
        buf.truncated[t] = step.truncated
        if step.truncated.any():  # keep s_final to bootstrap the time-limited episode from
            buf.final_obs[t] = step.final_obs
        # An environment that rescales its rewards (GymVecEnv's normalize_reward) keeps its own
        # in `raw_reward`: the episode statistics are always the environment's returns.
        episodes.step(getattr(env, "raw_reward", step.reward), step.terminated | step.truncated)
        obs, mask = step.obs, step.action_mask
    buf.next_obs[:] = obs
    return obs, mask


@torch.no_grad()
def evaluate_old_policy(agent: ActorCritic, rollout: Rollout) -> OldPolicy:
    """log π_θold(a|s) and V_φold for every sample of the rollout, with the parameters that
    collected it (called before the update phase changes them)."""
    T, N = rollout.rewards.shape
    obs = rollout.obs.reshape(T * N, *rollout.obs.shape[2:])  # (T, N, *obs_shape) -> (B, ...)
    logits, values = agent(obs)  # (B, A), (B,)
    masks = None if rollout.masks is None else rollout.masks.reshape(T * N, -1)
    log_probs = torch.log_softmax(core.mask_logits(logits, masks), dim=-1)
    logp = core.log_prob(log_probs, rollout.actions.reshape(T * N))
    final_values = torch.zeros((T, N), device=values.device)
    if bool(rollout.truncated.any()):
        final_values[rollout.truncated] = agent.value(rollout.final_obs[rollout.truncated])
    return OldPolicy(
        logp=logp.reshape(T, N),
        values=values.reshape(T, N),
        final_values=final_values,
        last_value=agent.value(rollout.next_obs),
    )


# =============================================================================================
# 2. ADVANTAGES: once per batch, with the frozen values
# =============================================================================================


@torch.no_grad()
def estimate_advantages(cfg: PPOConfig, rollout: Rollout, old: OldPolicy) -> Batch:
    """Â and the critic's targets R for the whole rollout, flattened into T·N samples."""
    if cfg.critic == "gae":
        advantages, returns = core.compute_gae(
            rollout.rewards,
            old.values,
            rollout.terminated,
            rollout.truncated,
            old.final_values,
            old.last_value,
            cfg.gamma,
            cfg.gae_lambda,
        )
    else:  # REINFORCE: Monte-Carlo reward-to-go, the critic (if any) only as a baseline
        returns = core.discounted_returns(rollout.rewards, rollout.terminated, rollout.truncated, cfg.gamma)
        advantages = returns - old.values if cfg.critic == "baseline" else returns.clone()
    return flatten(rollout, old.logp, old.values, advantages, returns)


# =============================================================================================
# 3. UPDATE: K epochs of shuffled minibatches on the live parameters
# =============================================================================================


def update_policy(
    cfg: PPOConfig,
    agent: ActorCritic,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    ent_coef: float,
) -> dict[str, float]:
    """Optimise L = L^CLIP + c_v·L^V − c_e·H over K epochs; return the update's loss metrics.

    Loss metrics are means over the minibatches that took a gradient step.
    """
    B = batch.obs.shape[0]
    mb_size = cfg.minibatch_size
    clip = cfg.clip_coef if cfg.clip_policy else None
    value_clip = cfg.value_clip_coef if cfg.clip_value else None
    use_critic = cfg.critic != "none"
    params = [p for p in agent.parameters() if p.requires_grad]
    stats: dict[str, list[torch.Tensor]] = {
        k: [] for k in ("policy_loss", "value_loss", "entropy", "kl_k1", "kl_k3", "clipfrac", "grad_norm")
    }
    first_ratio_dev = float("nan")
    # With one minibatch (the whole batch) its normalised advantages are the same every epoch.
    whole_batch_adv = core.normalize(batch.advantages) if cfg.normalize_advantages and mb_size == B else None
    epochs_done = 0
    stop = False
    for epoch in range(cfg.update_epochs):
        # One minibatch is the whole batch: shuffling it would change nothing, so skip the copy.
        perm = torch.randperm(B, device=batch.obs.device) if mb_size < B else None
        for start in range(0, B, mb_size):
            mb = batch if perm is None else batch.take(perm[start : start + mb_size])
            support = agent.value_support
            if support is None:
                logits, values = agent(mb.obs)  # (b, A), (b,)
            else:  # a categorical critic (win / draw / loss): V = Σ_i p_i z_i
                logits, value_logits = agent.forward_categorical(mb.obs)  # (b, A), (b, K)
                values = categorical_value(value_logits, support)
            log_probs = torch.log_softmax(core.mask_logits(logits, mb.masks), dim=-1)
            logp = core.log_prob(log_probs, mb.actions)
            with torch.set_grad_enabled(ent_coef > 0):  # with c_e = 0 it is only measured
                entropy = core.masked_entropy(log_probs, mb.masks).mean()
            # Without θ_old the "old" policy is the live one: r ≡ 1, the gradient is ∇log π · Â.
            logp_old = mb.logp if cfg.freeze_old_policy else logp.detach()
            logratio = logp - logp_old
            ratio = logratio.exp()
            if whole_batch_adv is not None:
                adv = whole_batch_adv
            else:
                adv = core.normalize(mb.advantages) if cfg.normalize_advantages else mb.advantages

            loss_pi = core.policy_loss(ratio, adv, clip)
            if use_critic and support is not None:
                loss_v = core.categorical_value_loss(value_logits, mb.returns, support)
            elif use_critic:
                loss_v = core.value_loss(values, mb.values, mb.returns, value_clip)
            else:
                loss_v = torch.zeros((), device=values.device)
            loss = loss_pi + cfg.vf_coef * loss_v
            if ent_coef > 0:
                loss = loss - ent_coef * entropy

            with torch.no_grad():
                kl_k1, kl_k3 = core.approx_kl(logratio)
                if epoch == 0 and start == 0:
                    # Debugging invariant: θ = θ_old before the first step, so r is exactly 1.
                    first_ratio_dev = float((ratio - 1.0).abs().max())
            if cfg.target_kl is not None and float(kl_k3) > cfg.target_kl:
                stop = True  # the policy has moved far enough from θ_old: skip this step
                break

            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            max_norm = cfg.max_grad_norm if cfg.max_grad_norm is not None else math.inf
            grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)  # the norm before clipping
            optimizer.step()

            stats["policy_loss"].append(loss_pi.detach())
            stats["value_loss"].append(loss_v.detach())
            stats["entropy"].append(entropy.detach())
            stats["kl_k1"].append(kl_k1)
            stats["kl_k3"].append(kl_k3)
            stats["clipfrac"].append(core.clip_fraction(ratio.detach(), cfg.clip_coef))
            stats["grad_norm"].append(grad_norm.detach())
        if stop:
            break
        epochs_done += 1

    means = {k: float(torch.stack(v).mean()) if v else float("nan") for k, v in stats.items()}
    metrics = {
        "losses/policy_loss": means["policy_loss"],
        "losses/entropy": means["entropy"],
        "losses/approx_kl": means["kl_k3"],
        "losses/approx_kl_k1": means["kl_k1"],
        "losses/clipfrac": means["clipfrac"],
        "losses/grad_norm": means["grad_norm"],
        "charts/epochs": float(epochs_done),
        "debug/first_ratio_dev": first_ratio_dev,
    }
    if use_critic:
        metrics["losses/value_loss"] = means["value_loss"]
    return metrics


# =============================================================================================
# The run
# =============================================================================================


def train(
    cfg: PPOConfig,
    env: VecEnv,
    *,
    budget: Budget | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    make_agent: AgentFactory | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
) -> TrainResult:
    """Train a policy on `env` with PPO as configured by `cfg`.

    budget      when to stop, and what the schedules (learning-rate annealing, entropy) span;
                default `Budget(cfg.total_steps)`. Steps count whole batches only: the run does
                `budget.steps // (T·N)` updates at most.
    run_dir     where metrics.jsonl, TensorBoard events and checkpoints/ go (None: nothing is
                written; the caller owns run_dir/config.json).
    resume      continue from the latest checkpoint in run_dir/checkpoints (the budget counts the
                steps and training time of the run so far).
    make_agent  (obs_shape, num_actions, cfg) -> ActorCritic; default: the config's MLP.
    callbacks   called after every update with an UpdateInfo (see there).
    progress    show a live progress bar (on stderr, when it is a terminal).
    """
    cfg.validate()
    budget = budget or Budget(cfg.total_steps)
    if budget.steps < cfg.batch_size:
        raise UserError(f"a budget of {budget.steps} steps is less than one batch ({cfg.batch_size})")
    # Schedules span the steps that whole batches can take (the updates the run can make).
    budget = Budget((budget.steps // cfg.batch_size) * cfg.batch_size, budget.seconds)
    if env.num_envs != cfg.num_envs:
        raise UserError(f"the environment has {env.num_envs} copies but the config asks for {cfg.num_envs}")
    device = torch.device(resolve_device(cfg.device))
    if cfg.torch_threads > 0:
        torch.set_num_threads(cfg.torch_threads)
    seed_everything(cfg.seed)
    make_agent = make_agent or default_agent
    agent = make_agent(env.obs_shape, env.num_actions, cfg).to(device)
    optimizer = make_optimizer(agent, cfg, device)
    episodes = EpisodeStats(cfg.num_envs, cfg.return_window)
    run_path = Path(run_dir) if run_dir is not None else None

    update, global_step, elapsed0 = 0, 0, 0.0
    if resume:
        if run_path is None:
            raise UserError("resuming needs a run folder")
        update, global_step, elapsed0 = _restore(run_path, cfg, env, agent, optimizer, episodes)

    logger = manager = None
    if run_path is not None:
        if not resume and _holds_a_run(run_path):
            raise UserError(f"run folder {run_path} already holds a run (metrics or checkpoints): resume it instead")
        run_path.mkdir(parents=True, exist_ok=True)
        logger = MetricsLogger(
            run_path, cfg.tensorboard, resume_update=update if resume else None, resume_step=global_step
        )
        manager = CheckpointManager(run_path / "checkpoints", cfg.keep_checkpoints)

    # Environments restart on resume (their state is not checkpointed); a fresh seed per restart.
    obs, mask = env.reset(seed=cfg.seed + update * cfg.num_envs)
    buf = RolloutBuffer(cfg.num_steps, cfg.num_envs, env.obs_shape, env.num_actions, mask is not None)
    meta = {
        "config": config_to_dict(cfg),
        "obs_shape": list(env.obs_shape),
        "num_actions": env.num_actions,
        "agent": type(agent).__name__,
    }
    result = TrainResult(agent, global_step, update, run_path)
    start_time = time.perf_counter()
    # The bar counts steps, or thousandths of the budget when time may end the run first.
    timed = budget.seconds is not None
    bar_total = 1000 if timed else budget.steps
    bar_done = int(budget.fraction(global_step, elapsed0) * 1000) if timed else global_step
    with (
        progress_bar(bar_total, "training", enabled=progress, completed=bar_done) as advance,
        contextlib.ExitStack() as closing,
    ):
        if logger is not None:
            closing.callback(logger.close)
        # The budget is checked once here (a resumed run may have spent it) and then after each
        # update, before its callbacks: the update that spends it is the last, and is checkpointed.
        done = budget.spent(global_step, elapsed0, cfg.batch_size)
        while not done:
            update += 1
            progress_frac = budget.fraction(global_step, elapsed0 + time.perf_counter() - start_time)
            lr = learning_rate(cfg, global_step, progress_frac)
            for group in optimizer.param_groups:
                group["lr"] = lr
            c_e = core.entropy_coef(cfg.ent_schedule, cfg.ent_coef, cfg.ent_coef_final, progress_frac)

            # 1. ROLLOUT with θ_old frozen (no gradients; the parameters do not change)
            agent.eval()
            if isinstance(env, RolloutCollector):  # the env gathers its rollout elsewhere (Ray actors)
                env.collect_rollout(agent, buf, episodes)
            else:
                obs, mask = collect_rollout(agent, env, buf, obs, mask, episodes, device)
            rollout = buf.to_device(device)
            old = evaluate_old_policy(agent, rollout)
            global_step += cfg.batch_size

            # 2. ADVANTAGES with the frozen values
            batch = estimate_advantages(cfg, rollout, old)

            # 3. UPDATE the live parameters
            agent.train()
            metrics = update_policy(cfg, agent, optimizer, batch, c_e)

            session = time.perf_counter() - start_time
            elapsed = elapsed0 + session
            metrics.update(_rollout_metrics(cfg, batch, episodes))
            metrics["charts/learning_rate"] = lr
            metrics["charts/entropy_coef"] = c_e
            metrics["charts/SPS"] = global_step / max(elapsed, 1e-9)  # over the whole run, resumed sessions too
            info = UpdateInfo(
                update,
                global_step,
                metrics,
                agent,
                optimizer,
                run_path,
                last=budget.spent(global_step, elapsed, cfg.batch_size),
                budget_fraction=budget.fraction(global_step, elapsed),
                elapsed=elapsed,
            )
            for cb in callbacks:
                cb(info)
            row = {"update": update, "global_step": global_step, "time": elapsed, **metrics}
            elapsed = elapsed0 + time.perf_counter() - start_time  # the budget counts callbacks' time too
            result.history.append(row)
            if logger is not None:
                logger.log(row)
            last = info.stop or info.last
            if manager is not None and (last or (cfg.checkpoint_every and update % cfg.checkpoint_every == 0)):
                state = {
                    "update": update,
                    "global_step": global_step,
                    "optimizer": optimizer.state_dict(),
                    "rng": rng_state(),
                    "recent_returns": list(episodes.recent),
                    "episodes": episodes.episodes,
                    "elapsed": elapsed,
                    # the environment's own training state (GymVecEnv: normalisation statistics)
                    "env": env.state_dict() if hasattr(env, "state_dict") else None,
                }
                manager.save(
                    update,
                    agent.state_dict(),
                    {**meta, "update": update, "global_step": global_step},
                    state,
                    score=episodes.recent_mean(),
                )
            recent = episodes.recent_mean()
            text = f"{metrics['charts/SPS']:,.0f} SPS, return " + ("-" if recent is None else f"{recent:.1f}")
            if timed:
                new_done = int(budget.fraction(global_step, elapsed) * 1000)
                advance(new_done - bar_done, info=text)
                bar_done = new_done
            else:
                advance(cfg.batch_size, info=text)
            result.global_step, result.updates = global_step, update
            done = last
    return result


def learning_rate(cfg: PPOConfig, global_step: int, budget_fraction: float) -> float:
    """The learning rate of the update that starts after `global_step` steps: constant, or annealed
    linearly to 0 over `anneal_steps` steps (the same schedule whatever the budget) or, with
    anneal_steps = 0, over the budget (`budget_fraction` spent)."""
    if not cfg.anneal_lr:
        return cfg.learning_rate
    frac = min(1.0, global_step / cfg.anneal_steps) if cfg.anneal_steps > 0 else budget_fraction
    return cfg.learning_rate * (1.0 - frac)


def _holds_a_run(run_path: Path) -> bool:
    metrics = run_path / "metrics.jsonl"
    checkpoints = run_path / "checkpoints"
    return (metrics.is_file() and metrics.stat().st_size > 0) or (checkpoints.is_dir() and any(checkpoints.iterdir()))


def _rollout_metrics(cfg: PPOConfig, batch: Batch, episodes: EpisodeStats) -> dict[str, float]:
    m: dict[str, float] = {}
    if episodes.batch_returns:
        m["charts/episodic_return"] = float(np.mean(episodes.batch_returns))
        m["charts/episodic_length"] = float(np.mean(episodes.batch_lengths))
    m["charts/episodes"] = float(len(episodes.batch_returns))
    m["charts/total_episodes"] = float(episodes.episodes)
    recent = episodes.recent_mean()
    if recent is not None:
        m["charts/recent_return"] = recent
    episodes.batch_returns.clear()
    episodes.batch_lengths.clear()
    if cfg.critic != "none":
        m["losses/explained_variance"] = core.explained_variance(batch.values, batch.returns)
    return m


def _restore(
    run_dir: Path,
    cfg: PPOConfig,
    env: VecEnv,
    agent: ActorCritic,
    optimizer: torch.optim.Optimizer,
    episodes: EpisodeStats,
) -> tuple[int, int, float]:
    """Load the latest checkpoint of `run_dir` into the agent, optimiser and statistics."""
    ckpt = load_resumable(run_dir)
    meta, state = ckpt.meta, ckpt.state
    if tuple(meta.get("obs_shape", ())) != tuple(env.obs_shape) or meta.get("num_actions") != env.num_actions:
        raise UserError(
            f"checkpoint {ckpt.path} is for observations {meta.get('obs_shape')} and "
            f"{meta.get('num_actions')} actions, not {list(env.obs_shape)} and {env.num_actions}"
        )
    try:
        agent.load_state_dict(ckpt.weights)
        optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        update, global_step = int(state["update"]), int(state["global_step"])
    except (RuntimeError, KeyError, ValueError, TypeError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"checkpoint {ckpt.path} does not fit this network and config: {msg}") from None
    if state.get("env") is not None and hasattr(env, "load_state_dict"):
        env.load_state_dict(state["env"])
    episodes.recent.extend(float(x) for x in state.get("recent_returns", []))
    episodes.episodes = int(state.get("episodes", 0))
    return update, global_step, float(state.get("elapsed", 0.0))


def load_agent(
    path: str | Path,
    which: str = "latest",
    make_agent: AgentFactory | None = None,
    device: str = "cpu",
    config_cls: type | None = None,
) -> tuple[ActorCritic, Any]:
    """The network of a checkpoint (a checkpoint file, or a run or checkpoints folder with
    `which` = latest or best), in eval mode, with the config it was trained with (rebuilt as
    `config_cls`: pass your own config class if you trained with one; by default GymPPOConfig
    for a gym:ENV_ID run, else PPOConfig)."""
    from kingme.config import config_from_dict
    from kingme.ppo.config import GymPPOConfig

    ckpt = load_checkpoint(path, which)
    if config_cls is None:
        config_cls = GymPPOConfig if str(ckpt.meta["config"].get("env", "")).startswith("gym:") else PPOConfig
    cfg: Any = config_from_dict(config_cls, ckpt.meta["config"])
    agent = (make_agent or default_agent)(tuple(ckpt.meta["obs_shape"]), int(ckpt.meta["num_actions"]), cfg)
    try:
        agent.load_state_dict(ckpt.weights)
    except RuntimeError as e:
        raise UserError(f"checkpoint {ckpt.path} does not fit the network: {str(e).splitlines()[0]}") from None
    return agent.to(resolve_device(device)).eval(), cfg
