"""Running an experiment: every arm for seeds 1..K through its kind of run, here or as Ray tasks.

`run_experiment` builds every (arm, seed)'s config through the experiment's `RunKind` first (a bad
setting fails before any run), then runs them one at a time on one torch thread (`serial`), the
seeds side by side in one process per core of this machine (`local`: every arm of a seed runs in
the same process, in order, so the base a seed's arms share is still built once), or each as a Ray
task (`ray`, kingme.scale); the runs, their order and their numbers are the same every way. Each
run's history becomes a `RunResult` here, the same way for every kind: the curves' columns and the
kind's `kept` ones as series, every Metric computed from the history.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from kingme.common import UserError, json_safe
from kingme.experiments.base import Arm, Experiment, Results, RunResult
from kingme.experiments.summaries import series
from kingme.progress import Advance, progress_bar

BACKENDS = ("serial", "local", "ray")


def check_arms(exp: Experiment, tiny: bool) -> None:
    """Build every arm's config for seed 1: a bad setting is a UserError before any run or folder."""
    for arm in exp.arms(tiny):
        exp.kind.config(arm, 1)


def run_experiment(
    exp: Experiment,
    seeds: int,
    tiny: bool,
    progress: bool,
    backend: str = "serial",
    find: Callable[[str], Experiment] | None = None,
) -> Results:
    """Every arm for seeds 1..K: one run at a time here (`serial`), the seeds side by side in one
    process per core (`local`), or each (arm, seed) as a Ray task (`ray`, kingme.scale). The runs,
    their order and their numbers are the same every way. `local` needs `find`, a module-level
    lookup of an experiment by its name (the registry's `get`) that gives `exp` back, for the worker
    processes to find it; without one, or with one core, or one seed, it runs serially."""
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}: expected serial, local or ray")
    arms = exp.arms(tiny)
    jobs = [
        (arm, seed, exp.kind.config(arm, seed)) for arm in arms for seed in range(1, seeds + 1)
    ]  # bad settings fail here
    work = [exp.kind.work(cfg) for _, _, cfg in jobs]
    results = exp.new_results(seeds, tiny, arms)
    start = time.perf_counter()
    with progress_bar(sum(work), exp.name, enabled=progress) as advance:
        if backend == "ray":
            from kingme.scale import map_tasks

            def finished(i: int, run: RunResult) -> None:
                advance(work[i])

            advance(0, description=f"{exp.name}: {len(jobs)} runs as Ray tasks")
            results.runs = map_tasks(_run_task, [(exp, *job) for job in jobs], on_done=finished)
        elif backend == "local" and find is not None and find(exp.name) is exp and seeds > 1 and cores() > 1:
            advance(0, description=f"{exp.name}: {len(jobs)} runs, {min(cores(), seeds)} seeds at a time")
            results.runs = _run_local(
                exp, find, tiny, [(arms.index(arm), seed) for arm, seed, _ in jobs], work, advance
            )
        else:
            for arm, seed, cfg in jobs:
                advance(0, description=f"{exp.name}: {arm.label} ({arm.env}) seed {seed}")
                results.runs.append(run_one(exp, arm, seed, cfg, advance))
    results.seconds = round(time.perf_counter() - start, 1)  # as results.json stores it
    return results


def run_variant(exp: Experiment, seeds: int, tiny: bool, out: Path, command: str, progress: bool = True) -> int:
    """An experiment's variant the registry does not hold (a fuller grid, another setting; an extra
    run's `python -m kingme.experiments.NAME ... OUT`): run it one run at a time, write its folder OUT
    (report.md, results.json, the plots) and print the answer. The exit status, 0."""
    from kingme.experiments.report import write_folder

    results = run_experiment(exp, seeds, tiny, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    for line in write_folder(exp, results, out, command):
        sys.stdout.write(line + "\n")
    return 0


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _run_local(
    exp: Experiment,
    find: Callable[[str], Experiment],
    tiny: bool,
    jobs: list[tuple[int, int]],
    work: list[int],
    advance: Advance,
) -> list[RunResult]:
    """The (arm index, seed) jobs, grouped by seed, in a pool of one process per core (spawned: a fork
    of a process that holds torch's threads can hang). A worker finds the experiment by its name (`find`) and
    builds each config again (pure in the arm and the seed). Ctrl-C or a failed run ends the pool at once;
    a worker that dies is an error (BrokenProcessPool), not a wait."""
    by_seed: dict[int, list[int]] = {}
    for i, (_, seed) in enumerate(jobs):
        by_seed.setdefault(seed, []).append(i)
    groups = list(by_seed.values())
    out: list[RunResult | None] = [None] * len(jobs)
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(min(cores(), len(groups)), mp_context=ctx, initializer=_ignore_sigint)
    try:
        tasks = [pool.submit(_run_group, find, exp.name, tiny, [jobs[i] for i in group]) for group in groups]
        index = {task: g for g, task in enumerate(tasks)}
        for task in as_completed(tasks):
            g = index[task]
            for i, run in zip(groups[g], task.result(), strict=True):
                out[i] = run
            advance(sum(work[i] for i in groups[g]))
    except BaseException:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()  # Ctrl-C or a failed run: the other seeds stop now, not at their end
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [run for run in out if run is not None]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which ends the pool


def _run_group(
    find: Callable[[str], Experiment], name: str, tiny: bool, jobs: list[tuple[int, int]]
) -> list[RunResult]:
    """One seed's runs in a worker process, in the order `serial` runs them."""
    exp = find(name)
    arms = exp.arms(tiny)
    return [_run_task(exp, arms[a], seed, exp.kind.config(arms[a], seed)) for a, seed in jobs]


def _run_task(exp: Experiment, arm: Arm, seed: int, cfg: Any) -> RunResult:
    """One (arm, seed) run inside a Ray task (no progress bar there)."""

    def no_progress(n: int = 1, *, description: str | None = None, info: str | None = None) -> None:
        return None

    return run_one(exp, arm, seed, cfg, no_progress)


def run_one(exp: Experiment, arm: Arm, seed: int, cfg: Any, advance: Advance) -> RunResult:
    """One (arm, seed) run of the experiment's kind, summarised: series, steps and metrics."""
    out = exp.kind.run(arm, cfg, advance)
    h = out.history
    keys = dict.fromkeys([*(c.key for c in exp.curves), *exp.kind.kept])
    return RunResult(
        arm=arm.label,
        env=arm.env,
        seed=seed,
        seconds=out.seconds,
        steps=[int(r["global_step"]) for r in h],
        series={k: series(h, k) for k in keys},
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
