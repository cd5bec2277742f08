"""An experiment's curve plots: one PNG per Curve, every arm overlaid, mean over seeds and its band."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from kingme.experiments.base import UNIT, Curve, Experiment, Results
from kingme.stats import summarise

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray")


def plot_curves(exp: Experiment, results: Results, out: Path) -> list[tuple[str, str]]:
    """One PNG per curve: one panel, every arm overlaid (mean over seeds, 95% band, thin seed lines).

    All arms share one y-scale so they compare at a glance; the band of a bounded quantity
    (`Curve.bounds`, e.g. [0, 1] for a probability) never leaves its range. When arms repeat over
    several environments (the same label on deepsea:4, deepsea:8, ...), colour marks the environment
    and the line style the arm.
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
            mean, lo, hi = band(ys, curve)
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


def band(ys: np.ndarray, curve: Curve) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Mean over seeds per update and its 95% band.

    ys: (seeds, updates), NaN where a seed has no value yet. The band is, at each update, the
    t-interval over the seeds that have a value, cut to `curve.bounds` (kingme.stats.summarise). With
    `curve.log` the mean is geometric (the mean of log10) and there is no band.
    """
    ys = np.array([_smoothed(y, curve.smooth) for y in ys])  # (seeds, updates)
    if curve.log:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # all-NaN columns before the first episode ends
            return 10.0 ** np.nanmean(np.log10(np.where(ys > 0, ys, np.nan)), axis=0), None, None
    ivs = [summarise(list(ys[:, j]), curve.bounds) for j in range(ys.shape[1])]
    mean = np.array([iv.mean for iv in ivs])  # (updates,)
    lo = np.array([iv.mean if np.isnan(iv.lo) else iv.lo for iv in ivs])  # one seed with a value: no band
    hi = np.array([iv.mean if np.isnan(iv.hi) else iv.hi for iv in ivs])
    return mean, lo, hi


def _moving_average(y: np.ndarray, w: int) -> np.ndarray:
    out = np.full_like(y, np.nan)
    for i in range(len(y)):
        win = y[max(0, i - w + 1) : i + 1]
        win = win[np.isfinite(win)]
        if len(win):
            out[i] = win.mean()
    return out


def before_after_title(results: Results, after: str = "after RL") -> str:
    """The before/after figures' title: what the open and filled points are, over how many seeds."""
    return (
        f"{results.experiment}: open = base, filled = {after} (mean, 95% t-interval over {results.seeds} seeds; "
        "grey dots: each seed)"
    )


def before_after_points(
    ax: Any, results: Results, labels: list[str], key: str, drop_nan: bool = False, jitter: float = 0.06
) -> None:
    """One panel of a before/after figure: for each arm, the base (open square) and after RL (filled
    circle) means of `KEY_before` and `KEY_after` with their 95% t-intervals in [0, 1], each seed a grey
    dot beside them (`drop_nan`: leave out the seeds without a value)."""
    for i, arm in enumerate(labels):
        color = COLORS[i % len(COLORS)]
        for j, when in enumerate(("before", "after")):
            values = results.values(arm, f"{key}_{when}")
            values = [v for v in values if v == v] if drop_nan else values
            iv = summarise(values, UNIT)
            x = i + (j - 0.5) * 0.3
            ax.scatter([x + jitter] * len(values), values, s=9, color="0.45", alpha=0.6, lw=0, zorder=3)
            err = [[max(iv.mean - iv.lo, 0.0)], [max(iv.hi - iv.mean, 0.0)]] if iv.n >= 2 else None
            ax.errorbar([x], [iv.mean], yerr=err, fmt="o" if j else "s", color=color,
                        mfc="white" if j == 0 else color, capsize=4,
                        label=("base" if j == 0 else "after RL") if i == 0 else None)  # fmt: skip
