"""The experiment harness: the run-kind protocol, the intervals of bounded quantities, the import graph."""

from __future__ import annotations

import ast
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import kingme
from kingme.common import UserError
from kingme.experiments import report, runner
from kingme.experiments.base import UNIT, Arm, Experiment, Metric, RunKind, RunOutput, RunResult
from kingme.experiments.shared import RETURN_METRICS
from kingme.experiments.summaries import final_mean, last
from kingme.progress import Advance
from kingme.stats import Interval, clip_interval, mean_ci, share_ci, summarise, wilson

SRC = Path(kingme.__file__).parent

# ------------------------------------------------------------------------------------------------
# Intervals, against values worked out by hand


def test_wilson_by_hand() -> None:
    # 2 of 3: p = 2/3, z² = 3.8415; centre (2/3 + 0.6403) / 2.2805 = 0.5731, half 0.3654
    assert wilson(2, 3) == pytest.approx((0.2077, 0.9385), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)  # not empty at k = 0
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)


def test_a_bounded_mean_stays_in_its_range() -> None:
    # lm-passk's case: three seeds of pass@64 near 1. mean 0.95, s = 0.05, t_{0.975,2} = 4.303:
    # half-width 4.303 · 0.05 / √3 = 0.1242, so the t-interval is [0.8258, 1.0742]
    xs = [0.9, 0.95, 1.0]
    t = mean_ci(xs)
    assert t.hi == pytest.approx(1.0742, abs=1e-4)  # the plain t-interval leaves [0, 1]
    iv = summarise(xs, UNIT)
    assert iv == pytest.approx(Interval(0.95, 0.8258, 1.0, 3), abs=1e-4)
    assert summarise(xs) == t  # unbounded: the t-interval itself
    assert summarise([0.0, 0.01, 0.0], (0.0, math.inf)).lo == 0.0  # a KL's interval stops at 0
    assert clip_interval(Interval(0.5, -0.2, 1.3, 2), (0.0, 1.0)) == Interval(0.5, 0.0, 1.0, 2)
    assert math.isnan(summarise([0.5], UNIT).lo)  # one seed: no interval, as before


def test_a_share_of_seeds_has_wilsons_interval() -> None:
    iv = summarise([1.0, 1.0, 0.0], share=True)  # 2 of 3 seeds solved it
    assert iv.mean == pytest.approx(2 / 3) and (iv.lo, iv.hi) == pytest.approx((0.2077, 0.9385), abs=1e-4)
    with pytest.raises(ValueError):
        share_ci([0.5, 1.0])


def test_results_use_each_metrics_range_on_its_environment() -> None:
    exp = _experiment([Arm("a", "gym:CartPole-v1"), Arm("b", "gym:Acrobot-v1")], metrics=RETURN_METRICS)
    results = exp.new_results(3, False, exp.arms(False))
    for arm, env, values in (("a", "gym:CartPole-v1", [480.0, 495.0, 500.0]), ("b", "gym:Acrobot-v1", [-5, -1, 0])):
        for seed, v in enumerate(values, 1):
            metrics = {"final_return": float(v), "mean_return": float(v), "drop": 0.0}
            results.runs.append(RunResult(arm, env, seed, 0.0, [0], {}, metrics))
    a, b = results.summary("a", "final_return"), results.summary("b", "final_return")
    assert a.hi == 500.0 and mean_ci([480.0, 495.0, 500.0]).hi > 500  # CartPole's return is at most 500
    assert b.hi == 0.0 and mean_ci([-5.0, -1.0, 0.0]).hi > 0  # Acrobot's at most 0


def test_the_report_table_prints_bounded_intervals() -> None:
    metric = Metric("pass", "pass@64", last("pass"), bounds=UNIT)
    exp = _experiment([Arm("rl", "toy:1")], metrics=[metric])
    results = exp.new_results(3, False, exp.arms(False))
    for seed, v in enumerate([0.9, 0.95, 1.0], 1):
        results.runs.append(RunResult("rl", "toy:1", seed, 0.0, [0], {}, {"pass": v}))
    text = report.render_report(exp, results, ["-"], [], "cmd")
    assert "| rl | toy:1 | 0.95 [0.826, 1] |" in text and "cut to its quantity's range" in text


# ------------------------------------------------------------------------------------------------
# The run-kind protocol: a new kind of run is a class like this one, in its own file


@dataclass
class CountConfig:
    seed: int
    steps: int


class CountRuns:
    """A toy kind: a run counts to `steps`, its history one row per step."""

    name: str = "count"
    defaults: str = "CountConfig"
    kept: tuple[str, ...] = ("value",)

    def config(self, arm: Arm, seed: int) -> CountConfig:
        steps = int(arm.overrides.get("steps", 3))
        if steps < 1:
            raise UserError(f"arm {arm.label!r}: steps must be positive, got {steps}")
        return CountConfig(seed, steps)

    def work(self, config: CountConfig) -> int:
        return config.steps

    def run(self, arm: Arm, config: CountConfig, advance: Advance) -> RunOutput:
        history = []
        for i in range(config.steps):
            history.append({"global_step": i + 1, "value": float(config.seed * (i + 1))})
            advance(1)
        return RunOutput(history, 0.0)

    def saved(self, config: CountConfig) -> dict[str, Any]:
        return {"seed": config.seed, "steps": config.steps}


def _experiment(arms: list[Arm], metrics: list[Metric] | None = None, kind: RunKind[Any] | None = None) -> Experiment:
    return Experiment(
        name="toy",
        title="toy",
        claim="-",
        question="-",
        setup="-",
        arms=lambda tiny: arms,
        metrics=metrics if metrics is not None else [Metric("final", "final value", final_mean("value"))],
        curves=[],
        conclude=lambda results: ["-"],
        kind=kind if kind is not None else CountRuns(),
    )


def test_a_new_kind_runs_through_the_harness(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert isinstance(CountRuns(), RunKind)
    totals: list[int] = []
    advanced: list[int] = []

    @contextmanager
    def recording_bar(total: int, description: str, enabled: bool = True) -> Iterator[Advance]:
        totals.append(total)

        def advance(n: int = 1, *, description: str | None = None, info: str | None = None) -> None:
            advanced.append(n)

        yield advance

    monkeypatch.setattr(runner, "progress_bar", recording_bar)
    exp = _experiment([Arm("short", "toy:1", {"steps": 2}), Arm("long", "toy:1", {"steps": 5})])
    results = runner.run_experiment(exp, seeds=2, tiny=False, progress=True)
    assert totals == [2 * (2 + 5)] and sum(advanced) == totals[0]  # the bar counts the kind's own units
    assert [(r.arm, r.seed) for r in results.runs] == [("short", 1), ("short", 2), ("long", 1), ("long", 2)]
    long2 = results.runs[-1]
    assert long2.steps == [1, 2, 3, 4, 5] and long2.series["value"] == [2.0, 4.0, 6.0, 8.0, 10.0]
    assert long2.metrics == {"final": 10.0}  # the last 10% of 5 rows: the last row
    record = report.config_record(exp, results)
    assert record["kind"] == "count" and record["arms"][1]["config"] == {"seed": 1, "steps": 5}
    report.write_folder(exp, results, tmp_path, "cmd")
    assert "settings changed from the CountConfig defaults" in (tmp_path / "report.md").read_text()


def test_a_bad_setting_of_a_kind_fails_before_any_run() -> None:
    exp = _experiment([Arm("ok", "toy:1"), Arm("bad", "toy:1", {"steps": 0})])
    with pytest.raises(UserError, match="steps must be positive"):
        runner.check_arms(exp, tiny=False)


# ------------------------------------------------------------------------------------------------
# The shape of the code


def _imports(module: str) -> set[str]:
    """The kingme modules `module` imports, anywhere in the file (lazy imports included)."""
    path = SRC.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = path.with_suffix("") / "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kingme"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if _exists(sub) else node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("kingme")}
    return {m for m in out if _exists(m)}


def _exists(module: str) -> bool:
    path = SRC.parent / module.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_the_harness_imports_form_no_cycle() -> None:
    """No module of kingme.experiments (nor kingme.sweep) reaches itself through its imports."""
    roots = ["kingme.sweep"] + [f"kingme.experiments.{p.stem}" for p in (SRC / "experiments").glob("*.py")]
    for root in roots:
        seen: set[str] = set()
        todo = [m for m in _imports(root) if m.startswith(("kingme.experiments", "kingme.sweep"))]
        while todo:
            m = todo.pop()
            assert m != root, f"{root} imports itself through {sorted(seen)}"
            if m not in seen:
                seen.add(m)
                todo += [n for n in _imports(m) if n.startswith(("kingme.experiments", "kingme.sweep"))]


def test_no_kind_is_picked_by_the_prefix_of_an_environment() -> None:
    for name in ("runner.py", "base.py", "report.py", "plots.py"):
        text = (SRC / "experiments" / name).read_text()
        assert 'startswith("lm:")' not in text and 'startswith("arena:")' not in text, name


def test_report_all_names_its_own_functions() -> None:
    for name in report.__all__:
        assert getattr(report, name).__module__ == report.__name__, name


def test_one_sweep_config() -> None:
    defined = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name == "SweepConfig"
    ]
    assert defined == ["sweep.py"]


def test_an_interval_never_leaves_the_range_in_any_experiment_table() -> None:
    """Every metric whose values are probabilities is declared bounded, so its interval stays in [0, 1]."""
    from kingme.experiments.registry import experiments

    for exp in experiments().values():
        for m in exp.metrics:
            # a difference of probabilities (a gain, a change, a drop, pass@1 lost to forgetting) lies in [-1, 1]
            a_change = any(word in m.key for word in ("gain", "change", "forgetting", "drop"))
            if "pass@" in m.label and not a_change and "−" not in m.label:
                assert m.bounds == UNIT, (exp.name, m.key)


def test_a_difference_of_probabilities_stays_within_one() -> None:
    from kingme.stats import compare

    a, b = [1.0, 1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]  # deep-sea's P(reward) at N = 8, roughly
    plain = compare("a", a, "b", b, "P")
    bounded = compare("a", a, "b", b, "P", bounds=UNIT)
    assert "0.6 [-0.08, 1.28]" in plain  # Welch: 0.6 ± 2.776 · 0.5477 / √5
    assert "0.6 [-0.08, 1]" in bounded and "no difference found" in bounded


@pytest.mark.parametrize("a, b", [(9.0, 1.0), (2.0, 2.0), (30.0, 2.0)])
def test_why_the_cut_t_interval_and_not_a_bootstrap(a: float, b: float) -> None:
    """With 3 seeds the percentile bootstrap over seeds is the seeds' [min, max] (each extreme
    resample has probability 1/27 > 2.5%); for Beta-distributed values it misses the true mean about
    a quarter of the time, while the t-interval cut to [0, 1] holds it about 95% of the time."""
    import numpy as np

    rng = np.random.default_rng(0)
    mu, draws = a / (a + b), 2000
    samples = rng.beta(a, b, size=(draws, 3))
    in_range = np.mean([(x.min() <= mu <= x.max()) for x in samples])
    cut_t = np.mean([(iv.lo <= mu <= iv.hi) for iv in (summarise(list(x), UNIT) for x in samples)])
    assert 0.68 < in_range < 0.78 and cut_t > 0.88


def test_the_help_names_both_fields(capsys: pytest.CaptureFixture[str]) -> None:
    from kingme.experiments import commands

    with pytest.raises(SystemExit) as e:
        commands.main(["--help"])
    assert e.value.code == 0
    assert "published claims about PPO and RL on language models" in " ".join(capsys.readouterr().out.split())


def test_the_local_backend_gives_the_serial_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    # the seeds side by side in spawned processes: every run's metrics and curves as one process
    # gives them (only the wall-clock column differs), in the same order
    from kingme.experiments.registry import get

    exp = get("kl-placement")
    serial = runner.run_experiment(exp, seeds=2, tiny=True, progress=False, backend="serial", find=get)
    monkeypatch.setattr(runner, "cores", lambda: 2)  # two workers even on a one-core machine
    local = runner.run_experiment(exp, seeds=2, tiny=True, progress=False, backend="local", find=get)

    def same(x: object, y: object) -> bool:
        if isinstance(x, float) and isinstance(y, float):
            return x == y or (math.isnan(x) and math.isnan(y))
        if isinstance(x, list) and isinstance(y, list):
            return len(x) == len(y) and all(same(u, v) for u, v in zip(x, y, strict=True))
        return x == y

    assert [(r.arm, r.seed) for r in local.runs] == [(r.arm, r.seed) for r in serial.runs]
    for a, b in zip(serial.runs, local.runs, strict=True):
        assert a.steps == b.steps
        assert all(same(a.metrics[k], b.metrics[k]) for k in a.metrics), a.arm
        assert all(same(a.series[k], b.series[k]) for k in a.series if k != "time"), a.arm


def test_an_unknown_backend_is_a_one_line_error() -> None:
    from kingme.experiments.registry import experiments

    with pytest.raises(UserError, match="expected serial, local or ray"):
        runner.run_experiment(experiments()["kl-placement"], seeds=2, tiny=True, progress=False, backend="threads")
