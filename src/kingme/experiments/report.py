"""An experiment's folder: report.md (question, setup, table, answer, plots), results.json, PNGs."""

from __future__ import annotations

import json
import platform
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from kingme.common import atomic_write_json, atomic_write_text, json_safe
from kingme.experiments.runner import Curve, Experiment, Results, config_record
from kingme.runs import METRICS
from kingme.stats import mean_ci, t_quantile

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


def plot_curves(exp: Experiment, results: Results, out: Path) -> list[tuple[str, str]]:
    """One PNG per curve: one panel, every arm overlaid (mean over seeds, 95% t-band, thin seed lines).

    All arms share one y-scale so they compare at a glance; a band never leaves the quantity's range
    (`Curve.bounds`, e.g. [0, 1] for a probability). When arms repeat over several environments
    (the same label on deepsea:4, deepsea:8, ...), colour marks the environment and the line style
    the arm.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(a.label for a in results.arms))
    envs = results.envs()
    repeated = len(labels) < len(results.arms)  # some label appears under several environments
    styles = ("-", "--", ":", "-.")
    files = []
    for curve in exp.curves:
        fig, ax = plt.subplots(figsize=(10.0, 4.6))
        for arm in results.arms:
            runs = [r for r in results.runs if r.arm == arm.label and r.env == arm.env]
            if not runs:
                continue
            n = min(len(r.steps) for r in runs)
            x = np.array(runs[0].steps[:n])
            ys = np.array(
                [[np.nan if v is None else v for v in r.series.get(curve.key, [None] * n)[:n]] for r in runs],
                dtype=float,
            )  # (seeds, updates)
            mean, lo, hi = _band(ys, curve)
            if curve.log:
                ys = np.where(ys > 0, ys, np.nan)
            if repeated:
                color = COLORS[envs.index(arm.env) % len(COLORS)]
                style = styles[labels.index(arm.label) % len(styles)]
                name = f"{arm.label}, {arm.env}"
            else:
                color, style, name = COLORS[labels.index(arm.label) % len(COLORS)], "-", arm.label
            for y in ys:  # each seed, thin
                ax.plot(x, _smoothed(y, curve.smooth), color=color, ls=style, lw=0.6, alpha=0.25)
            ax.plot(x, mean, color=color, ls=style, lw=2.0, label=name)
            if lo is not None and hi is not None:
                ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)
        ax.set_xlabel(curve.xlabel, fontsize=11)
        ax.set_ylabel(curve.ylabel, fontsize=11)
        if curve.log:
            ax.set_yscale("log")
        ax.tick_params(labelsize=10)
        ax.grid(alpha=0.3)
        ax.legend(
            fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False
        )  # beside the plot, off the lines
        what = "geometric mean" if curve.log else "mean and 95% t-band"
        smooth = f", moving average over {curve.smooth} updates" if curve.smooth > 1 else ""
        ax.set_title(
            f"{exp.name}: {curve.ylabel}\n({what} over {results.seeds} seeds, thin lines: each seed{smooth})",
            fontsize=11,
        )
        fig.tight_layout()
        name = curve.key.replace("/", "_") + ".png"
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        files.append((name, f"{curve.ylabel} over training"))
    return files


def _smoothed(y: np.ndarray, w: int) -> np.ndarray:
    return _moving_average(y, w) if w > 1 else y


def _band(ys: np.ndarray, curve: Curve) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Mean over seeds per update and its 95% t-band, clipped to `curve.bounds`.

    ys: (seeds, updates), NaN where a seed has no value yet. With `curve.log` the mean is geometric
    (the mean of log10) and there is no band.
    """
    ys = np.array([_smoothed(y, curve.smooth) for y in ys])  # (seeds, updates)
    if curve.log:
        ys = np.log10(np.where(ys > 0, ys, np.nan))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # all-NaN columns before the first episode ends
        mean = np.nanmean(ys, axis=0)  # (updates,)
        k = np.sum(np.isfinite(ys), axis=0)  # seeds with a value, per update
        sd = np.nanstd(ys, axis=0, ddof=1) if len(ys) > 1 else np.zeros_like(mean)
        half = np.array([t_quantile(kk - 1) if kk > 1 else 0.0 for kk in k]) * sd / np.sqrt(np.maximum(k, 1))
    if curve.log:
        return 10.0**mean, None, None
    lo, hi = mean - half, mean + half
    if curve.bounds is not None:
        lo, hi = np.clip(lo, *curve.bounds), np.clip(hi, *curve.bounds)
    return mean, lo, hi


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
    lines += [f"| arm | environment | settings changed from the {exp.defaults} defaults |", "|---|---|---|"]
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
