"""The machinery every experiment shares: arms × seeds of PPO runs, their metrics, and the folder.

An `Experiment` names its arms (an environment and the PPOConfig fields it changes), the scalar
metrics computed from each run's history (one value per seed, summarised as a mean with a 95%
t-interval over seeds), the learning curves to plot (mean and t-band over seeds per update), and a
function that turns the numbers into sentences. `run_experiment` trains every arm for every seed,
one run at a time on one torch thread, and writes report.md, config.json, results.json and PNGs.

Every run also measures how far each update moves the policy (`PolicyShift`): the exact
KL(π_θold ‖ π_θ) over actions, averaged over the states of the update's own rollout, and the
expected fraction of rollout samples whose final ratio π_θ/π_θold lies outside [1 − ε, 1 + ε]. The
logged losses/approx_kl cannot serve here: with freeze_old_policy off it is 0 by construction.
"""

from __future__ import annotations

import copy
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kingme.common import UserError, json_safe
from kingme.config import config_to_dict
from kingme.envs.base import VecEnv, VecStep
from kingme.nets import ActorCritic
from kingme.ppo.config import CARTPOLE_DEFAULTS, PPOConfig
from kingme.ppo.train import Callback, UpdateInfo, train
from kingme.progress import Advance, progress_bar
from kingme.stats import Interval, compare, mean_ci

History = list[dict[str, Any]]
RETURN = "charts/recent_return"  # mean return of the last 20 finished episodes, per update


@dataclass
class Arm:
    """One setting compared in an experiment: an environment and the PPOConfig fields it changes."""

    label: str
    env: str  # gym:ID, deepsea:N or grid:SHAPING
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class Metric:
    """A scalar per run, computed from the run's metrics history."""

    key: str
    label: str
    fn: Callable[[History], float]
    digits: int = 3


@dataclass
class Curve:
    """A history column plotted against environment steps, mean and 95% band over seeds."""

    key: str
    ylabel: str
    log: bool = False  # log scale; the line is then the geometric mean over seeds, without a band
    smooth: int = 1  # trailing moving average over this many updates (per seed, before averaging)
    bounds: tuple[float, float] | None = None  # the quantity's range (e.g. (0, 1)); bands are clipped to it
    xlabel: str = "environment steps"  # what RunResult.steps counts


@dataclass
class RunResult:
    arm: str
    env: str
    seed: int
    seconds: float
    steps: list[int]
    series: dict[str, list[float]]  # the curve columns, forward-filled, one value per update
    metrics: dict[str, float]


@dataclass
class Results:
    experiment: str
    seeds: int
    tiny: bool
    arms: list[Arm]
    runs: list[RunResult] = field(default_factory=list)
    seconds: float = 0.0

    def values(self, arm: str, key: str, env: str | None = None) -> list[float]:
        return [r.metrics.get(key, math.nan) for r in self.runs if r.arm == arm and (env is None or r.env == env)]

    def summary(self, arm: str, key: str, env: str | None = None) -> Interval:
        return mean_ci(self.values(arm, key, env))

    def compare(self, a: str, b: str, key: str, what: str, env: str | None = None) -> str:
        return compare(a, self.values(a, key, env), b, self.values(b, key, env), what)

    def envs(self) -> list[str]:
        return list(dict.fromkeys(a.env for a in self.arms))


@dataclass
class Experiment:
    name: str
    title: str
    claim: str  # the claim as people state it
    question: str  # what the experiment asks of the numbers
    setup: str  # Markdown: what is run and measured, and why
    arms: Callable[[bool], list[Arm]]  # tiny -> arms
    metrics: list[Metric]
    curves: list[Curve]
    conclude: Callable[[Results], list[str]]  # the answer, one Markdown bullet per item
    callbacks: Callable[[Arm, VecEnv, PPOConfig], list[Callback]] | None = None
    extra_plots: Callable[[Results, Path], list[tuple[str, str]]] | None = None  # -> (file, caption)
    published: str = ""  # what the published studies (shared/reference/claims.md) found about the claim
    defaults: str = "PPOConfig"  # the config whose defaults an arm's settings change (the report's arms table)


# The experiments' documented results were measured at the PPO defaults of before issue 16: pinned.
BASE = {**CARTPOLE_DEFAULTS, "tensorboard": False, "checkpoint_every": 0, "torch_threads": 1, "device": "cpu"}


def make_config(arm: Arm, seed: int) -> Any:
    """The run's typed config: a PPOConfig, or for an `lm:TASK` arm the language-model run's
    (kingme.experiments.lm_runs; it has the seed, num_updates and batch_size the progress bar counts)."""
    if arm.env.startswith("lm:"):
        from kingme.experiments.lm_runs import make_lm_config

        return make_lm_config(arm, seed)
    if arm.env.startswith("arena:"):  # checkers matches (kingme.experiments.learned_eval)
        from kingme.experiments.learned_eval import make_match_config

        return make_match_config(arm, seed)
    try:
        cfg = PPOConfig(env=arm.env, seed=seed, **{**BASE, **arm.overrides})
    except TypeError as e:
        raise UserError(f"arm {arm.label!r}: {e}") from None
    cfg.validate()
    return cfg


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


# ---------------------------------------------------------------------------------------------
# Measuring each update's real policy change
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Per-run summaries used by several experiments
# ---------------------------------------------------------------------------------------------


def column(history: History, key: str) -> np.ndarray:
    """A history column as floats, NaN where absent, forward-filled (episodes end irregularly)."""
    out = np.full(len(history), np.nan)
    last = np.nan
    for i, row in enumerate(history):
        v = row.get(key)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            last = float(v)
        out[i] = last
    return out


def final_mean(key: str, frac: float = 0.1) -> Callable[[History], float]:
    """The mean of a column over the last `frac` of the updates."""

    def fn(h: History) -> float:
        c = column(h, key)
        k = max(1, int(round(len(c) * frac)))
        return float(np.nanmean(c[-k:])) if np.isfinite(c[-k:]).any() else float("nan")

    return fn


def overall_mean(key: str) -> Callable[[History], float]:
    """The mean of a column over all updates (for returns: the area under the learning curve)."""

    def fn(h: History) -> float:
        c = column(h, key)
        return float(np.nanmean(c)) if np.isfinite(c).any() else float("nan")

    return fn


def overall_median(key: str) -> Callable[[History], float]:
    """The median of a column's recorded values (robust to a few huge updates)."""

    def fn(h: History) -> float:
        v = [float(r[key]) for r in h if r.get(key) is not None and math.isfinite(float(r[key]))]
        return float(np.median(v)) if v else float("nan")

    return fn


def overall_max(key: str) -> Callable[[History], float]:
    def fn(h: History) -> float:
        c = column(h, key)
        return float(np.nanmax(c)) if np.isfinite(c).any() else float("nan")

    return fn


def drop_from_peak(key: str = RETURN) -> Callable[[History], float]:
    """Stability: the largest fall of the curve below its running best (0 = never fell back)."""

    def fn(h: History) -> float:
        c = column(h, key)
        ok = np.isfinite(c)
        if not ok.any():
            return float("nan")
        c = c[ok]
        return float(np.max(np.maximum.accumulate(c) - c))

    return fn


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def run_experiment(exp: Experiment, seeds: int, tiny: bool, progress: bool, backend: str = "serial") -> Results:
    """Every arm for seeds 1..K: one run at a time here (`serial`), or each (arm, seed) as a Ray task
    (`ray`, kingme.scale). The runs, their order and their numbers are the same either way."""
    if backend not in ("serial", "ray"):
        raise UserError(f"unknown backend {backend!r}: expected serial or ray")
    arms = exp.arms(tiny)
    configs = {a.label: make_config(a, 1) for a in arms}  # bad settings fail before any run
    total = sum(configs[a.label].num_updates * configs[a.label].batch_size for a in arms) * seeds
    jobs = [(arm, make_config(arm, seed)) for arm in arms for seed in range(1, seeds + 1)]
    results = Results(exp.name, seeds, tiny, arms)
    start = time.perf_counter()
    with progress_bar(total, exp.name, enabled=progress) as advance:
        if backend == "ray":
            from kingme.scale import map_tasks

            def finished(i: int, run: RunResult) -> None:
                advance(jobs[i][1].num_updates * jobs[i][1].batch_size)

            advance(0, description=f"{exp.name}: {len(jobs)} runs as Ray tasks")
            results.runs = map_tasks(_run_task, [(exp, arm, cfg) for arm, cfg in jobs], on_done=finished)
        else:
            for arm, cfg in jobs:
                advance(0, description=f"{exp.name}: {arm.label} ({arm.env}) seed {cfg.seed}")
                results.runs.append(_run_one(exp, arm, cfg, advance))
    results.seconds = round(time.perf_counter() - start, 1)  # as results.json stores it
    return results


def _run_task(exp: Experiment, arm: Arm, cfg: PPOConfig) -> RunResult:
    """One (arm, seed) run inside a Ray task (no progress bar there)."""

    def no_progress(n: int = 1, *, description: str | None = None, info: str | None = None) -> None:
        return None

    return _run_one(exp, arm, cfg, no_progress)


def _run_one(exp: Experiment, arm: Arm, cfg: PPOConfig, advance: Advance) -> RunResult:
    if arm.env.startswith("lm:"):  # RL on the language model (kingme.experiments.lm_runs), not PPO
        from kingme.experiments.lm_runs import run_lm

        return run_lm(exp, arm, cfg, advance)
    if arm.env.startswith("arena:"):  # checkers matches between players (kingme.experiments.learned_eval), not PPO
        from kingme.experiments.learned_eval import run_match

        return run_match(exp, arm, cfg, advance)
    env = RecordingEnv(make_env(arm.env, cfg.num_envs, cfg.gamma), cfg.num_steps)
    callbacks: list[Callback] = [PolicyShift(env, cfg.clip_coef)]
    if exp.callbacks is not None:
        callbacks += exp.callbacks(arm, env, cfg)

    def tick(info: UpdateInfo) -> None:
        advance(cfg.batch_size)

    callbacks.append(tick)
    t0 = time.perf_counter()
    try:
        result = train(cfg, env, callbacks=callbacks)
    finally:
        env.close()
    seconds = time.perf_counter() - t0
    h = result.history
    keys = {c.key for c in exp.curves} | {RETURN}
    series = {k: [None if math.isnan(x) else round(float(x), 6) for x in column(h, k)] for k in keys}
    return RunResult(
        arm=arm.label,
        env=arm.env,
        seed=cfg.seed,
        seconds=seconds,
        steps=[int(r["global_step"]) for r in h],
        series=series,  # type: ignore[arg-type]
        metrics={m.key: m.fn(h) for m in exp.metrics},
    )


def print_outcome(
    exp: Experiment, results: Results, out: Path, answer: list[str], *, as_json: bool, quiet: bool
) -> None:
    """What a command that ran an experiment prints: the table and answer as JSON (--json), the
    folder alone (--quiet), or the answer and where the report is."""
    if as_json:
        from kingme.experiments.report import table_rows

        doc = {"experiment": exp.name, "folder": str(out), "seconds": round(results.seconds, 1)}
        doc |= {"table": table_rows(exp, results), "answer": answer}
        sys.stdout.write(json.dumps(json_safe(doc), indent=1) + "\n")
    elif quiet:
        sys.stdout.write(f"{out}\n")
    else:
        sys.stdout.write(
            "\n".join(f"- {s}" for s in answer) + f"\n{results.seconds:.0f} s; report: {out / 'report.md'}\n"
        )


def config_record(exp: Experiment, results: Results) -> dict[str, Any]:
    """What config.json holds: enough to rerun every arm (seeds 1..K)."""
    return {
        "experiment": exp.name,
        "seeds": list(range(1, results.seeds + 1)),
        "tiny": results.tiny,
        "arms": [
            {"label": a.label, "env": a.env, "overrides": a.overrides, "config": config_to_dict(make_config(a, 1))}
            for a in results.arms
        ],
    }
