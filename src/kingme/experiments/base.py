"""The harness's vocabulary: arms, metrics, curves, results, experiments, and the `RunKind` protocol.

An `Experiment` names its arms (a label, an "environment" text and the settings it changes), the
scalar metrics computed from each run's history (one value per seed, summarised over seeds), the
curves to plot, how the numbers turn into sentences, and its `kind`: the `RunKind` that turns an
(arm, seed) into a run. The harness (`runner`) knows nothing of PPO, language models or checkers;
each kind of run is one file behind `RunKind` (`ppo_runs`, `lm_runs`, `match_runs`), and an
experiment holds an instance of its kind. This module imports nothing from the kinds, so the arrows
only run down to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from kingme.progress import Advance
from kingme.stats import Interval, compare, summarise

History = list[dict[str, Any]]  # one row per update (or per match): column -> value; `global_step` in each
Bounds = tuple[float, float]
Range = Bounds | Callable[[str], Bounds | None]  # a quantity's range, or its range on an arm's environment
UNIT: Bounds = (0.0, 1.0)  # a probability, a share, a rate
NONNEGATIVE: Bounds = (0.0, math.inf)  # a count, a length, a KL, a time
UNIT_DIFFERENCE: Bounds = (-1.0, 1.0)  # a difference of two probabilities (a gain in pass@1)
C = TypeVar("C")


@dataclass
class Arm:
    """One setting compared in an experiment: its "environment" (what its kind runs on: gym:ID,
    deepsea:N, grid:SHAPING, lm:TASK, arena:acf) and the config fields it changes."""

    label: str
    env: str
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class Metric:
    """A scalar per run, computed from the run's history; summarised over seeds by `kingme.stats.summarise`:
    a mean with a 95% t-interval, intersected with the quantity's range when it has `bounds`, or for a
    `share` (each run 1 or 0) the share of runs with Wilson's interval."""

    key: str
    label: str
    fn: Callable[[History], float]
    digits: int = 3
    bounds: Range | None = None  # the quantity's range (UNIT, NONNEGATIVE, or a function of the environment)
    share: bool = False  # each run's value is 1 or 0 (did it solve the task?): the mean is a share of runs


@dataclass
class Curve:
    """A history column plotted against the run's steps, the mean over seeds and its 95% band."""

    key: str
    ylabel: str
    log: bool = False  # log scale; the line is then the geometric mean over seeds, without a band
    smooth: int = 1  # trailing moving average over this many updates (per seed, before averaging)
    bounds: Bounds | None = None  # the quantity's range; the band never leaves it
    xlabel: str = "environment steps"  # what RunResult.steps counts


@dataclass
class RunOutput:
    """What a kind of run hands back for one (arm, seed): its history and its wall-clock seconds."""

    history: History
    seconds: float


@runtime_checkable
class RunKind(Protocol[C]):
    """One kind of run (PPO training, RL on the language model, a checkers match, ...).

    The harness calls, for every arm and seed: `config(arm, seed)` (the typed, validated config;
    a UserError on a bad setting, before any run), `work(config)` (the progress bar's units for the
    run), `run(arm, config, advance)` (the run itself, calling `advance(n)` as it does `n` units),
    and `saved(config)` (what config.json records of it). It keeps, of the history, the columns of
    the experiment's curves and those the kind names in `kept`; every Metric reads the history.
    """

    name: str  # the kind's name, as config.json records it
    defaults: str  # the config whose defaults an arm's settings change (the report's arms table)
    kept: tuple[str, ...]  # history columns kept in every run's series, beside the curves'

    def config(self, arm: Arm, seed: int) -> C: ...

    def work(self, config: C) -> int: ...

    def run(self, arm: Arm, config: C, advance: Advance) -> RunOutput: ...

    def saved(self, config: C) -> dict[str, Any]: ...


@dataclass
class RunResult:
    arm: str
    env: str
    seed: int
    seconds: float
    steps: list[int]
    series: dict[str, list[float | None]]  # the kept columns, forward-filled, one value per history row
    metrics: dict[str, float]


@dataclass
class Results:
    experiment: str
    seeds: int
    tiny: bool
    arms: list[Arm]
    runs: list[RunResult] = field(default_factory=list)
    seconds: float = 0.0
    bounds: dict[str, Range] = field(default_factory=dict)  # metric key -> range, for `summary`
    shares: frozenset[str] = frozenset()  # the keys of the metrics that are shares of runs (Metric.share)

    def values(self, arm: str, key: str, env: str | None = None) -> list[float]:
        return [r.metrics.get(key, math.nan) for r in self.runs if r.arm == arm and (env is None or r.env == env)]

    def summary(self, arm: str, key: str, env: str | None = None) -> Interval:
        """The metric's mean over seeds and its 95% interval (bounded metrics: inside their range)."""
        return summarise(self.values(arm, key, env), self.range(key, arm, env), key in self.shares)

    def range(self, key: str, arm: str, env: str | None = None) -> Bounds | None:
        """The metric's range on the arm's environment (None: unbounded, a t-interval)."""
        bounds = self.bounds.get(key)
        if bounds is None or isinstance(bounds, tuple):
            return bounds
        envs = [env] if env is not None else list(dict.fromkeys(a.env for a in self.arms if a.label == arm))
        ranges = {bounds(e) for e in envs}
        return ranges.pop() if len(ranges) == 1 else None  # arms over environments of different ranges: none

    def compare(self, a: str, b: str, key: str, what: str, env: str | None = None) -> str:
        """Does the metric differ between arms a and b: a sentence with the Welch 95% interval of the difference."""
        bounds = self.range(key, a, env)
        bounds = bounds if bounds == self.range(key, b, env) else None
        return compare(a, self.values(a, key, env), b, self.values(b, key, env), what, bounds=bounds)

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
    kind: RunKind[Any]  # what one (arm, seed) run is
    extra_plots: Callable[[Results, Path], list[tuple[str, str]]] | None = None  # -> (file, caption)
    published: str = ""  # what the published studies (shared/reference/claims.md) found about the claim
    seeds: int = 3  # seeds per arm when `kingme experiment run` is not given --seeds

    def new_results(self, seeds: int, tiny: bool, arms: list[Arm]) -> Results:
        """An empty Results for this experiment, knowing its metrics' ranges."""
        bounds = {m.key: m.bounds for m in self.metrics if m.bounds is not None}
        shares = frozenset(m.key for m in self.metrics if m.share)
        return Results(self.name, seeds, tiny, arms, bounds=bounds, shares=shares)
