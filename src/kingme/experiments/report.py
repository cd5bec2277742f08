"""An experiment's folder: report.md (question, setup, table, answer, plots), results.json, PNGs."""

from __future__ import annotations

import json
import math
import platform
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from kingme.common import atomic_write_json, atomic_write_text
from kingme.experiments.runner import Experiment, Results, config_record
from kingme.experiments.stats import mean_ci, t_quantile

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray")


def table_rows(exp: Experiment, results: Results) -> list[dict[str, Any]]:
    rows = []
    for arm in results.arms:
        row: dict[str, Any] = {"arm": arm.label, "env": arm.env}
        for m in exp.metrics:
            iv = results.summary(arm.label, m.key, arm.env)
            row[m.key] = {"mean": iv.mean, "lo": iv.lo, "hi": iv.hi, "n": iv.n}
        rows.append(row)
    return rows


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    return x


def results_record(exp: Experiment, results: Results, answer: list[str], command: str) -> dict[str, Any]:
    return _jsonable(
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


def plot_curves(exp: Experiment, results: Results, out: Path) -> list[tuple[str, str]]:
    """One PNG per curve: a panel per environment, mean over seeds with a 95% t-band per update."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    envs = results.envs()
    for curve in exp.curves:
        ncols = min(3, len(envs))
        nrows = -(-len(envs) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(max(4.6 * ncols, 6.4), 3.2 * nrows + 0.3), squeeze=False)
        for ax in axes.flat[len(envs) :]:
            ax.axis("off")
        for ax, env in zip(axes.flat, envs, strict=False):
            arms = [a for a in results.arms if a.env == env]
            for i, arm in enumerate(arms):
                runs = [r for r in results.runs if r.arm == arm.label and r.env == env]
                if not runs:
                    continue
                n = min(len(r.steps) for r in runs)
                x = np.array(runs[0].steps[:n])
                ys = np.array(
                    [[np.nan if v is None else v for v in r.series.get(curve.key, [None] * n)[:n]] for r in runs],
                    dtype=float,
                )  # (seeds, updates)
                if curve.smooth > 1:  # a trailing moving average per seed
                    ys = np.array([_moving_average(y, curve.smooth) for y in ys])
                if curve.log:  # geometric mean: average the logarithms
                    ys = np.log10(np.where(ys > 0, ys, np.nan))
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # all-NaN columns before the first episode ends
                    mean = np.nanmean(ys, axis=0)
                    k = np.sum(np.isfinite(ys), axis=0)
                    sd = np.nanstd(ys, axis=0, ddof=1) if len(runs) > 1 else np.zeros_like(mean)
                    half = (
                        np.array([t_quantile(kk - 1) if kk > 1 else 0.0 for kk in k]) * sd / np.sqrt(np.maximum(k, 1))
                    )
                color = COLORS[i % len(COLORS)]
                if curve.log:
                    ys, mean, half = 10.0**ys, 10.0**mean, None
                for y in ys:  # each seed, thin
                    ax.plot(x, y, color=color, lw=0.5, alpha=0.35)
                ax.plot(x, mean, color=color, lw=1.6, label=arm.label)
                if half is not None:
                    ax.fill_between(x, mean - half, mean + half, color=color, alpha=0.18, lw=0)
            ax.set_title(env, fontsize=9)
            ax.set_xlabel("environment steps", fontsize=8)
            ax.set_ylabel(curve.ylabel, fontsize=8)
            if curve.log:
                ax.set_yscale("log")
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6.5, loc="best")
        what = "geometric mean" if curve.log else "mean, 95% t-band"
        smooth = f", moving average over {curve.smooth} updates" if curve.smooth > 1 else ""
        fig.suptitle(f"{exp.name}: {curve.ylabel} ({what} and each of {results.seeds} seeds{smooth})", fontsize=8)
        fig.tight_layout()
        name = curve.key.replace("/", "_") + ".png"
        fig.savefig(out / name, dpi=72)
        plt.close(fig)
        files.append((name, f"{curve.ylabel} over training"))
    return files


def _moving_average(y: np.ndarray, w: int) -> np.ndarray:
    out = np.full_like(y, np.nan)
    for i in range(len(y)):
        win = y[max(0, i - w + 1) : i + 1]
        win = win[np.isfinite(win)]
        if len(win):
            out[i] = win.mean()
    return out


def _settings(overrides: dict[str, Any]) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in overrides.items()) or "defaults"


def render_report(
    exp: Experiment, results: Results, answer: list[str], plots: list[tuple[str, str]], command: str
) -> str:
    lines = [f"# {exp.title}", "", f"**Claim.** {exp.claim}", "", f"**Question.** {exp.question}", "", "## Setup", ""]
    lines += [exp.setup.strip(), ""]
    lines += ["| arm | environment | settings changed from the PPOConfig defaults |", "|---|---|---|"]
    lines += [f"| {a.label} | {a.env} | {_settings(a.overrides)} |" for a in results.arms]
    lines += [
        "",
        f"Seeds 1-{results.seeds} for every arm{' (tiny size: a smoke test, not evidence)' if results.tiny else ''}; "
        f"one torch thread; {results.seconds:.0f} s in all on {platform.machine()} "
        f"({len(results.runs)} runs, run one at a time). Command: `{command}`.",
        "",
        "## Results",
        "",
        f"Means over seeds with 95% t-intervals (n = {results.seeds}).",
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
    atomic_write_text(out / "report.md", render_report(exp, results, answer, plots, command))
    return answer


def load_folder(out: Path) -> tuple[Experiment, Results, str]:
    """Rebuild an experiment's results from its folder's config.json and results.json (no training),
    and the command that produced it, so the report and plots can be written again."""
    from kingme.common import UserError
    from kingme.experiments.registry import get
    from kingme.experiments.runner import Arm, RunResult

    try:
        cfg = json.loads((out / "config.json").read_text())
        res = json.loads((out / "results.json").read_text())
        exp = get(cfg["experiment"])
        arms = [Arm(a["label"], a["env"], a["overrides"]) for a in cfg["arms"]]
        results = Results(exp.name, int(res["seeds"]), bool(res["tiny"]), arms, seconds=float(res["seconds"]))
        for r in res["runs"]:
            metrics = {k: float("nan") if v is None else float(v) for k, v in r["metrics"].items()}
            results.runs.append(
                RunResult(r["arm"], r["env"], r["seed"], r["seconds"], r["steps"], r["series"], metrics)
            )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{out} is not an experiment folder: {type(e).__name__}: {e}") from None
    seeds = f" --seeds {results.seeds}" if results.seeds != 3 else ""
    command = res.get("command") or f"kingme experiment run {exp.name}{seeds}" + (" --tiny" if results.tiny else "")
    return exp, results, command


__all__ = ["mean_ci", "write_folder", "render_report", "table_rows"]
