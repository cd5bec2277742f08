"""The language-model kind of run (`LM`): RL on the tiny language model, inside the same harness as PPO.

An experiment whose kind is `LM` has arms on `lm:TASK`; everything but the run itself (arms × seeds,
Results, the statistics, report.md, the plots, `kingme experiment report`) is the harness's. One
run (arm, seed):
1. pre-train a base model on TASK (`kingme.lm.pretrain`), or take it from this process's cache
   when another arm of the same seed already built the same one (pre-training is deterministic for
   a seed and its settings, so every arm of a seed starts from the same base, and it costs once);
2. measure the base (pass@k and a skill's greedy pass@1, when asked);
3. RL from it (`kingme.lm.rl.train`), one history row per update;
4. measure the policy the same way.

An arm's overrides are flat: RLConfig fields by name (`algo`, `kl_coef`, ...), PretrainConfig
fields prefixed `pretrain_` (`pretrain_max_skill`, ...), and the measurement fields of
`LMRunConfig` (`pass_k`, `skill`, ...). The measurements of steps 2 and 4 go in the last history
row under `eval/...`, so a Metric reads them like any other column.

In the history, `global_step` counts the responses sampled so far (update × P × G): the x-axis of
the curves, the analogue of PPO's environment steps. Row 0 is the base before any update.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kingme.common import UserError
from kingme.config import arg, config_to_dict, require
from kingme.experiments.base import UNIT, UNIT_DIFFERENCE, Arm, Curve, History, Metric, Results, RunOutput, RunResult
from kingme.experiments.plots import COLORS
from kingme.experiments.summaries import gain, last
from kingme.lm.evaluate import greedy_accuracy, pass_at_ks
from kingme.lm.pretrain import PretrainConfig, pretrain
from kingme.lm.rl import RLConfig, train
from kingme.lm.tasks import Task, test_set
from kingme.progress import Advance
from kingme.stats import summarise
from kingme.transformer import GPT

PRETRAIN = "pretrain_"  # the prefix of an arm's PretrainConfig overrides
DEFAULTS = "RLConfig (and, for pretrain_*, PretrainConfig)"  # LMRuns.defaults: the report's arms table
RESPONSES = "responses sampled"  # the curves' x-axis
FIXED: dict[str, Any] = {
    "device": "cpu",
    "torch_threads": 1,
}  # one torch thread, as every experiment run

# The base of the RL target (docs/reasoning.md): addition up to two digits with the scratchpad,
# 130 steps of pre-training, greedy test pass@1 0.31, 0.31, 0.42 for seeds 1-3.
ADDITION_BASE: dict[str, Any] = {
    "pretrain_max_level": 2,
    "pretrain_scratchpad": True,
    "pretrain_steps": 130,
}
# Tiny settings for the smoke tests: a one-layer model, a few steps and updates (seconds, not evidence).
TINY_PRETRAIN: dict[str, Any] = {
    "pretrain_steps": 20, "pretrain_train_size": 400, "pretrain_n_layer": 1, "pretrain_n_head": 2,
    "pretrain_n_embd": 32, "pretrain_warmup": 5, "pretrain_eval_problems": 16,
}  # fmt: skip
TINY_RL: dict[str, Any] = {
    "updates": 3, "prompts_per_update": 4, "group_size": 4, "eval_every": 1, "eval_problems": 16, "warmup": 0,
}  # fmt: skip
TINY_MEASURE: dict[str, Any] = {"pass_samples": 8, "pass_problems": 4}


@dataclass
class LMRunConfig:
    """One (arm, seed) of a language-model experiment: a base model, RL from it, the measurements."""

    seed: int = arg(1, "The run's seed (pre-training, RL and the samples of pass@k).")
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    do_rl: bool = arg(True, "Train with RL after pre-training (false: measure the base model only).")
    pass_k: tuple[int, ...] = arg((), "The k of pass@k measured on the base and after RL (empty = not measured).")
    pass_samples: int = arg(64, "Samples per problem for pass@k (at least the largest k).")
    pass_problems: int = arg(64, "Distinct held-out test problems for pass@k.")
    pass_temperature: float = arg(1.0, "Sampling temperature of pass@k.")
    skill: int | None = arg(
        None,
        "Also measure the test problems whose skill is exactly this (greedy pass@1; pass@k on them).",
    )
    skill_problems: int = arg(128, "Distinct held-out test problems of that skill for its greedy pass@1.")

    def validate(self) -> None:
        self.pretrain.validate()
        self.rl.validate()
        require(
            not self.pass_k or min(self.pass_k) >= 1,
            f"pass_k needs positive k, got {self.pass_k}",
        )
        require(
            not self.pass_k or self.pass_samples >= max(self.pass_k),
            f"pass_samples {self.pass_samples} must be at least the largest k {max(self.pass_k or (0,))}",
        )


def lm_arm(label: str, task: str, tiny: bool, base: dict[str, Any], **overrides: Any) -> Arm:
    """An arm on `lm:TASK`: the base recipe `base` (pretrain_* fields), then the arm's overrides; with
    `tiny`, the tiny settings on top (and pass@k's k cut to what 8 samples allow)."""
    settings = {**base, **overrides}
    if tiny:
        settings |= TINY_PRETRAIN | (TINY_RL if settings.get("do_rl", True) else {}) | TINY_MEASURE
        if "pass_k" in settings:
            settings["pass_k"] = tuple(k for k in settings["pass_k"] if k <= TINY_MEASURE["pass_samples"])
        if "skill_problems" in settings or "skill" in settings:
            settings["skill_problems"] = 8
    lists = {k: list(v) for k, v in settings.items() if isinstance(v, tuple)}  # as config.json will hold them
    return Arm(label, f"lm:{task}", settings | lists)


class LMRuns:
    """RunKind: pre-train (or reuse) the base of `lm:TASK`, measure it, RL from it, measure the policy."""

    name: str = "lm"
    defaults: str = DEFAULTS
    kept: tuple[str, ...] = ("time", "charts/test_pass1")

    def config(self, arm: Arm, seed: int) -> LMRunConfig:
        return make_lm_config(arm, seed)

    def work(self, config: LMRunConfig) -> int:
        return config.rl.updates if config.do_rl else 1  # history rows logged by RL (one without RL)

    def run(self, arm: Arm, config: LMRunConfig, advance: Advance) -> RunOutput:
        return run_lm(config, advance)

    def saved(self, config: LMRunConfig) -> dict[str, Any]:
        return config_to_dict(config)


LM = LMRuns()


def make_lm_config(arm: Arm, seed: int) -> LMRunConfig:
    """The run's config from an `lm:TASK` arm (UserError on an unknown field or a bad value)."""
    task = arm.env.removeprefix("lm:")
    own = {f.name for f in dataclasses.fields(LMRunConfig)} - {"seed", "pretrain", "rl"}
    pre = {k.removeprefix(PRETRAIN): v for k, v in arm.overrides.items() if k.startswith(PRETRAIN)}
    meas = {k: v for k, v in arm.overrides.items() if k in own}
    rl = {k: v for k, v in arm.overrides.items() if not k.startswith(PRETRAIN) and k not in own}
    for values in (
        pre,
        rl,
        meas,
    ):  # JSON (config.json, results.json) holds tuples as lists
        values.update({k: tuple(v) for k, v in values.items() if isinstance(v, list)})
    try:
        cfg = LMRunConfig(
            seed=seed,
            pretrain=PretrainConfig(task=task, seed=seed, eval_every=10**9, **FIXED, **pre),  # type: ignore[arg-type]
            rl=RLConfig(seed=seed, **FIXED, **rl),
            **meas,
        )
    except TypeError as e:
        raise UserError(f"arm {arm.label!r}: {e}") from None
    cfg.validate()
    return cfg


# ---------------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------------

_BASES: dict[str, tuple[GPT, Task, dict[str, Any]]] = {}  # this process's base models, by their config
_MEASURED: dict[str, dict[str, float]] = {}  # the measurements of each cached base, by config and settings


def base_model(cfg: PretrainConfig) -> tuple[GPT, Task, dict[str, Any]]:
    """The base model of `cfg`: pre-trained here once per process, then reused (never modified: RL copies it)."""
    key = json.dumps(config_to_dict(cfg), sort_keys=True)
    if key not in _BASES:
        _BASES[key] = pretrain(cfg)
    return _BASES[key]


def measure(model: GPT, task: Task, cfg: LMRunConfig, prefix: str) -> dict[str, float]:
    """pass@k on `pass_problems` test problems (or on the skill's, with `skill`) and the skill's greedy
    pass@1, as {f"eval/{prefix}pass@K": ..., f"eval/{prefix}skill_pass1": ...}."""
    out: dict[str, float] = {}
    model.eval()
    if cfg.skill is not None:
        skill_test = test_set(task, cfg.seed, cfg.skill_problems, skill=cfg.skill)
        if not skill_test:
            raise UserError(f"the test split of {task.name} has no problem of skill {cfg.skill}")
        out[f"eval/{prefix}skill_pass1"] = greedy_accuracy(model, task, skill_test)["all"]
        out[f"eval/{prefix}skill_problems"] = float(len(skill_test))
    if cfg.pass_k:
        n = cfg.pass_problems
        problems = test_set(task, cfg.seed, n, skill=cfg.skill)[:n]
        torch.manual_seed(cfg.seed + 20_000)  # the same samples for the same model and seed
        ks = pass_at_ks(model, task, problems, cfg.pass_k, cfg.pass_samples, cfg.pass_temperature)
        out |= {f"eval/{prefix}pass@{k}": v for k, v in ks.items()}
    return out


def run_lm(cfg: LMRunConfig, advance: Advance) -> RunOutput:
    """One (arm, seed) run: the base, its measurements, RL, the policy's measurements (module docstring)."""
    t0 = time.perf_counter()
    model, task, pre = base_model(cfg.pretrain)
    key = json.dumps([config_to_dict(cfg.pretrain), cfg.pass_k, cfg.pass_samples, cfg.pass_problems,
                      cfg.pass_temperature, cfg.skill, cfg.skill_problems, cfg.seed])  # fmt: skip
    if key not in _MEASURED:
        _MEASURED[key] = measure(model, task, cfg, "base_")
    base_eval = dict(_MEASURED[key])
    P, G = cfg.rl.prompts_per_update, cfg.rl.group_size
    history: History = []

    def log(row: dict[str, Any]) -> None:
        history.append({**row, "global_step": int(row["update"]) * P * G})
        advance(1)

    if cfg.do_rl:
        policy, summary = train(cfg.rl, log=log, base=(model, task))
        start, rl_seconds = summary["test_pass1_start"], float(summary["runtime_s"])
        after = measure(policy, task, cfg, "")
    else:
        start = pre["test_pass1"]
        if cfg.rl.eval_problems != cfg.pretrain.eval_problems:  # score the base on the RL runs' test set
            start = greedy_accuracy(model, task, test_set(task, cfg.rl.seed, cfg.rl.eval_problems))
        rl_seconds, after = (
            0.0,
            {k.replace("eval/base_", "eval/"): v for k, v in base_eval.items()},
        )
        advance(1)
    first = {
        "update": 0,
        "global_step": 0,
        "time": 0.0,
        "charts/test_pass1": start["all"],
    }
    first |= {f"charts/test_pass1_{k}": v for k, v in start.items() if k != "all"}
    history.insert(0, first)
    history[-1] |= base_eval | after | {"eval/base_test_pass1": start["all"], "eval/rl_seconds": rl_seconds}
    return RunOutput(history, time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------
# Metrics, curves and plots the language-model experiments share
# ---------------------------------------------------------------------------------------------


TEST_PASS1 = Metric("test_pass1", "test pass@1 at the end", last("charts/test_pass1"), bounds=UNIT)
BASE_PASS1 = Metric("base_pass1", "test pass@1 of the base", last("eval/base_test_pass1"), bounds=UNIT)
TEST_GAIN = Metric(
    "gain", "test pass@1 gained", gain("charts/test_pass1", "eval/base_test_pass1"), bounds=UNIT_DIFFERENCE
)
TEST_CURVE = Curve("charts/test_pass1", "test pass@1 (greedy)", bounds=UNIT, xlabel=RESPONSES)
REWARD_CURVE = Curve("charts/reward", "sampled reward", bounds=UNIT, smooth=5, xlabel=RESPONSES)


def pass_k_metrics(ks: Sequence[int], prefix: str = "", label: str = "") -> list[Metric]:
    return [Metric(f"{prefix}pass@{k}", f"{label}pass@{k}", last(f"eval/{prefix}pass@{k}"), bounds=UNIT) for k in ks]


def plot_against(
    results: Results,
    out: Path,
    name: str,
    title: str,
    xlabel: str,
    ylabel: str,
    points: Callable[[RunResult], tuple[Sequence[float], Sequence[float]]],
    log2x: bool = False,
) -> tuple[str, str]:
    """One PNG: per arm, `points(run)` = (x, y in [0, 1]) for each seed, their mean over seeds at each x
    with a 95% t-band cut to [0, 1] (seeds share the x values; kingme.stats.summarise), thin lines
    per seed; arms overlaid, as the harness's plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10.0, 4.6))
    for i, arm in enumerate(dict.fromkeys(a.label for a in results.arms)):
        runs = [r for r in results.runs if r.arm == arm]
        pts = [points(r) for r in runs]
        n = min(len(x) for x, _ in pts)
        color = COLORS[i % len(COLORS)]
        ys = np.array([np.asarray(y[:n], dtype=float) for _, y in pts])  # (seeds, points)
        xs = np.array([np.asarray(x[:n], dtype=float) for x, _ in pts])  # (seeds, points)
        for x, y in zip(xs, ys, strict=True):
            ax.plot(x, y, color=color, lw=0.6, alpha=0.25)
        ivs = [summarise(list(ys[:, j]), UNIT) for j in range(n)]
        x = xs.mean(axis=0)
        ax.plot(
            x,
            [iv.mean for iv in ivs],
            color=color,
            lw=2.0,
            marker="o" if log2x else None,
            label=arm,
        )
        if len(runs) > 1:
            ax.fill_between(x, [iv.lo for iv in ivs], [iv.hi for iv in ivs], color=color, alpha=0.15, lw=0)
    if log2x:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(
        f"{results.experiment}: {title}\n(mean and 95% t-band over {results.seeds} seeds, thin lines: each seed)"
    )
    fig.tight_layout()
    fig.savefig(out / name, dpi=100)
    plt.close(fig)
    return name, title


def pass_at_k_curve(ks: Sequence[int], prefix: str = "") -> Callable[[RunResult], tuple[list[float], list[float]]]:
    """(k, pass@k) of a run, from its `{prefix}pass@k` metrics."""
    return lambda r: (
        [float(k) for k in ks],
        [r.metrics.get(f"{prefix}pass@{k}", math.nan) for k in ks],
    )


def pass1_over_time(r: RunResult) -> tuple[list[float], list[float]]:
    """(seconds of RL, test pass@1) at each evaluation of a run."""
    t, p = r.series["time"], r.series["charts/test_pass1"]
    pts = [(float(a), float(b)) for a, b in zip(t, p, strict=True) if a is not None and b is not None]
    return [a for a, _ in pts], [b for _, b in pts]


def paired(results: Results, arm: str, key: str, higher: str, lower: str) -> tuple[str, str]:
    """A per-seed difference's mean and 95% interval (the metric's, Results.summary), formatted, and the
    verdict: `higher` when the interval lies above 0, `lower` below it, else "no difference found"."""
    d = results.summary(arm, key)
    if d.n >= 2 and d.lo > 0:
        return d.fmt(3), higher
    if d.n >= 2 and d.hi < 0:
        return d.fmt(3), lower
    return d.fmt(3), "no difference found"


class BeforeAfterRuns(LMRuns):
    """An `lm:TASK` run that also measures the base and the RL policy with `measure`, written into the
    history's last row as `eval/base_KEY` and `eval/KEY` (the base's measures are cached per base)."""

    _before: dict[str, dict[str, float]] = {}  # noqa: RUF012 - one cache for every kind, keyed by kind

    def measure(self, model: GPT, task: Task, seed: int, tiny: bool) -> dict[str, float]:
        raise NotImplementedError

    def run(self, arm: Arm, config: LMRunConfig, advance: Advance) -> RunOutput:
        t0 = time.perf_counter()
        model, task, _ = base_model(config.pretrain)
        tiny = config.pretrain.steps < 100
        key = json.dumps([type(self).__name__, config_to_dict(config.pretrain), tiny])
        if key not in self._before:
            self._before[key] = self.measure(model, task, config.seed, tiny)
        before = self._before[key]
        P, G = config.rl.prompts_per_update, config.rl.group_size
        history: History = []

        def log(row: dict[str, Any]) -> None:
            history.append({**row, "global_step": int(row["update"]) * P * G})
            advance(1)

        after = before
        if config.do_rl:
            policy, _ = train(config.rl, log=log, base=(model, task))
            after = self.measure(policy, task, config.seed, tiny)
        else:
            advance(1)
        history.insert(0, {"update": 0, "global_step": 0, "time": 0.0})
        if not config.do_rl:
            history.append({"update": 1, "global_step": 0, "time": 0.0})
        history[-1] |= {f"eval/base_{k}": v for k, v in before.items()} | {f"eval/{k}": v for k, v in after.items()}
        return RunOutput(history, time.perf_counter() - t0)


def before_after_metrics(measures: dict[str, tuple[str, str]]) -> list[Metric]:
    """For each measure NAME -> (history KEY, label) of a `BeforeAfterRuns`: its value in the base, after
    RL, and the change, each a share (or a difference of shares)."""
    out = []
    for name, (key, label) in measures.items():
        out += [
            Metric(f"{name}_before", f"{label}: base", last(f"eval/base_{key}"), bounds=UNIT),
            Metric(f"{name}_after", f"{label}: after RL", last(f"eval/{key}"), bounds=UNIT),
            Metric(
                f"{name}_change", f"{label}: change", gain(f"eval/{key}", f"eval/base_{key}"), bounds=UNIT_DIFFERENCE
            ),
        ]
    return out
