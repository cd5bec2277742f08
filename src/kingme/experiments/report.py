"""An experiment's folder: report.md (question, setup, table, answer, plots), config.json,
results.json, metrics.jsonl and the PNGs (kingme.experiments.plots)."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kingme.common import UserError, atomic_write_json, atomic_write_text, json_safe
from kingme.experiments.base import Arm, Experiment, Results, RunResult
from kingme.experiments.plots import plot_curves
from kingme.runs import METRICS


def table_rows(exp: Experiment, results: Results) -> list[dict[str, Any]]:
    rows = []
    for arm in results.arms:
        row: dict[str, Any] = {"arm": arm.label, "env": arm.env}
        for m in exp.metrics:
            iv = results.summary(arm.label, m.key, arm.env)
            row[m.key] = {"mean": iv.mean, "lo": iv.lo, "hi": iv.hi, "n": iv.n}
        rows.append(row)
    return rows


def results_record(exp: Experiment, results: Results, answer: list[str], command: str) -> dict[str, Any]:
    return json_safe(  # type: ignore[no-any-return]
        {
            "experiment": exp.name,
            "command": command,
            "seeds": results.seeds,
            "tiny": results.tiny,
            "seconds": round(results.seconds, 1),
            "table": table_rows(exp, results),
            "answer": answer,
            "runs": [
                {
                    "arm": r.arm,
                    "env": r.env,
                    "seed": r.seed,
                    "seconds": round(r.seconds, 2),
                    "metrics": r.metrics,
                    "steps": r.steps,
                    "series": r.series,
                }
                for r in results.runs
            ],
        }
    )


def config_record(exp: Experiment, results: Results) -> dict[str, Any]:
    """What config.json holds: enough to rerun every arm (seeds 1..K), each arm's config as its kind saves it."""
    return {
        "experiment": exp.name,
        "kind": exp.kind.name,
        "seeds": list(range(1, results.seeds + 1)),
        "tiny": results.tiny,
        "arms": [
            {"label": a.label, "env": a.env, "overrides": a.overrides, "config": exp.kind.saved(exp.kind.config(a, 1))}
            for a in results.arms
        ],
    }


def interval_note(exp: Experiment, seeds: int) -> str:
    """The sentence above the results table: which interval the columns have (kingme.stats.summarise)."""
    note = f"Means over seeds with 95% t-intervals (n = {seeds})"
    if any(m.bounds is not None and not m.share for m in exp.metrics):
        note += (
            ", each cut to its quantity's range where it has one (a probability's to [0, 1], a count's, a "
            "length's or a KL's to ≥ 0): the part outside the range cannot hold the mean"
        )
    shares = [m.label for m in exp.metrics if m.share]
    if shares:
        note += f"; the shares of seeds ({', '.join(shares)}) with Wilson's score interval"
    return note + "."


def _settings(overrides: dict[str, Any]) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in overrides.items()) or "defaults"


def render_report(
    exp: Experiment, results: Results, answer: list[str], plots: list[tuple[str, str]], command: str
) -> str:
    lines = [f"# {exp.title}", "", f"**Claim.** {exp.claim}", "", f"**Question.** {exp.question}", "", "## Setup", ""]
    lines += [exp.setup.strip(), ""]
    lines += [f"| arm | environment | settings changed from the {exp.kind.defaults} defaults |", "|---|---|---|"]
    lines += [f"| {a.label} | {a.env} | {_settings(a.overrides)} |" for a in results.arms]
    lines += [
        "",
        f"Seeds 1-{results.seeds} for every arm{' (tiny size: a smoke test, not evidence)' if results.tiny else ''}; "
        f"one torch thread; {results.seconds:.0f} s in all on {platform.machine()} "
        f"({len(results.runs)} runs; wall time, one at a time or the seeds side by side). Command: `{command}`.",
        "",
        "## Results",
        "",
        interval_note(exp, results.seeds),
        "",
        "| arm | environment | " + " | ".join(m.label for m in exp.metrics) + " |",
        "|---|---|" + "---:|" * len(exp.metrics),
    ]
    for a in results.arms:
        cells = [results.summary(a.label, m.key, a.env).fmt(m.digits) for m in exp.metrics]
        lines.append(f"| {a.label} | {a.env} | " + " | ".join(cells) + " |")
    lines += ["", "## Answer", ""] + [f"- {s}" for s in answer]
    if exp.published:
        lines += ["", "## Published findings", "", exp.published.strip(), "", "The comparison: docs/experiments.md."]
    lines += ["", "## Plots", ""]
    for file, caption in plots:
        lines += [f"![{caption}]({file})", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_folder(exp: Experiment, results: Results, out: Path, command: str) -> list[str]:
    """Write the experiment folder; return the answer sentences."""
    out.mkdir(parents=True, exist_ok=True)
    answer = exp.conclude(results)
    plots = plot_curves(exp, results, out)
    if exp.extra_plots is not None:
        plots += exp.extra_plots(results, out)
    atomic_write_json(out / "config.json", config_record(exp, results))
    atomic_write_json(out / "results.json", results_record(exp, results, answer, command))
    write_metrics(out, results)
    atomic_write_text(out / "report.md", render_report(exp, results, answer, plots, command))
    return answer


def write_metrics(out: Path, results: Results) -> None:
    """metrics.jsonl: one row per run and update (arm, env, seed, global_step and the curve columns)."""
    lines = []
    for r in results.runs:
        for i, step in enumerate(r.steps):
            row: dict[str, Any] = {"arm": r.arm, "env": r.env, "seed": r.seed, "global_step": step}
            row |= {k: v[i] for k, v in r.series.items() if i < len(v)}
            lines.append(json.dumps(json_safe(row)) + "\n")
    atomic_write_text(out / METRICS, "".join(lines))


def load_folder(out: Path, get: Callable[[str], Experiment]) -> tuple[Experiment, Results, str]:
    """Rebuild an experiment's results from its folder's config.json and results.json (no training),
    and the command that produced it, so the report and plots can be written again. `get` finds an
    experiment by name (the registry's; passed in, so that the report never imports the experiments
    that import it)."""
    try:
        cfg = json.loads((out / "config.json").read_text())
        res = json.loads((out / "results.json").read_text())
        exp = get(cfg["experiment"])
        arms = [Arm(a["label"], a["env"], a["overrides"]) for a in cfg["arms"]]
        results = exp.new_results(int(res["seeds"]), bool(res["tiny"]), arms)
        results.seconds = float(res["seconds"])
        for r in res["runs"]:
            metrics = {k: float("nan") if v is None else float(v) for k, v in r["metrics"].items()}
            results.runs.append(
                RunResult(r["arm"], r["env"], r["seed"], r["seconds"], r["steps"], r["series"], metrics)
            )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{out} is not an experiment folder: {type(e).__name__}: {e}") from None
    seeds = f" --seeds {results.seeds}" if results.seeds != exp.seeds else ""
    command = res.get("command") or f"kingme experiment run {exp.name}{seeds}" + (" --tiny" if results.tiny else "")
    return exp, results, command


__all__ = ["config_record", "load_folder", "render_report", "results_record", "table_rows", "write_folder"]
