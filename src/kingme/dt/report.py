"""Run reports: markdown tables, the path-length histogram (the paper's figure) and sweep plots.

Every file is written atomically (`atomic_write_*`); figures are rendered to PNG in memory first.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from kingme.common import atomic_write_bytes, atomic_write_text, fmt
from kingme.dt.experiment import METHODS


def spread(s: dict[str, float], digits: int = 3) -> str:
    """`mean ± std [min–max]` of a `_stats` dict."""
    if math.isnan(s["mean"]):
        return "–"
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f} [{s['min']:.{digits}f}–{s['max']:.{digits}f}]"


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def histogram_png(methods: dict[str, Any], max_steps: int, title: str) -> bytes:
    """Grouped bars: share of episodes by path length (1..cap) and failures, per way to act."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    shown = ["random", "dt", "rp", "shortest"]
    x = np.arange(max_steps + 1)  # 0..cap-1 -> lengths 1..cap; the last slot: failures
    width = 0.8 / len(shown)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for i, name in enumerate(shown):
        hist = np.array(methods[name]["pooled_hist"], dtype=np.float64)
        share = np.concatenate([hist[1:], hist[:1]]) / max(hist.sum(), 1.0)
        ax.bar(x + (i - (len(shown) - 1) / 2) * width, share, width, label=METHODS[name])
    ax.set_xticks(x, [str(L) for L in range(1, max_steps + 1)] + ["failed"])
    ax.set_xlabel("path length (moves)")
    ax.set_ylabel("share of episodes")
    ax.set_title(title)
    ax.legend(fontsize=8)
    data = _png(fig)
    plt.close(fig)
    return data


def methods_table(agg: dict[str, Any]) -> list[str]:
    lines = [
        "| way to act | success rate (mean ± std [min–max] over seeds) | path length / shortest (successes) |",
        "|---|---|---|",
    ]
    for name, label in METHODS.items():
        m = agg[name]
        lines.append(f"| {label} | {spread(m['success'])} | {spread(m['length_ratio'])} |")
    return lines


def write_run_report(run_dir: Path, results: dict[str, Any]) -> None:
    """report.md and path_lengths.png for one `kingme dt run`."""
    cfg, agg, per_seed = results["config"], results["methods"], results["per_seed"]
    variant = "goal-conditioned" if cfg["goal_conditioned"] else "fixed goal"
    if cfg["goal_conditioned"]:
        variant += ", relabelled goals" if cfg["relabel"] else ", no relabelling"
    title = (
        f"{cfg['nodes']} nodes, p={cfg['edge_prob']}, {cfg['walks']} walks, {variant}, "
        f"fail prob {cfg['fail_prob']}, {len(per_seed)} seeds"
    )
    atomic_write_bytes(run_dir / "path_lengths.png", histogram_png(agg, cfg["max_steps"], title))
    lines = [
        "# Decision Transformer on graph navigation",
        "",
        f"{title}. Decision Transformer target: `{cfg['dt_target']}`. "
        f"Runtime {results['runtime_s']:.1f} s ({results['machine']}).",
        "",
        f"Command: `{results['command']}`",
        "",
        "Success: the goal reached within the cap of "
        f"{cfg['max_steps']} moves, over all evaluated (start, goal) pairs (the goal reachable "
        f"within the cap), {cfg['eval_episodes']} episodes each. Path length / shortest: mean "
        "over successful episodes of moves / BFS distance.",
        "",
        *methods_table(agg),
        "",
        "Success split by whether the data held a walk that reached the goal from that start "
        "(covered: a successful walk passed through the start, at any step of it):",
        "",
        "| way to act | covered pairs | uncovered pairs |",
        "|---|---|---|",
    ]
    for name, label in METHODS.items():
        m = agg[name]
        lines.append(f"| {label} | {spread(m['covered_success'])} | {spread(m['uncovered_success'])} |")
    lines += [
        "",
        "![path lengths](path_lengths.png)",
        "",
        "## Per seed",
        "",
        "| seed | goal | pairs | covered (suffix / whole walk) | data success | "
        + " | ".join(f"{METHODS[n]} (succ / ratio)" for n in METHODS)
        + " | seconds |",
        "|" + "---|" * (6 + len(METHODS)),
    ]
    for s in per_seed:
        cells = [f"{fmt(s['methods'][n]['success'])} / {fmt(s['methods'][n]['length_ratio'])}" for n in METHODS]
        lines.append(
            f"| {s['seed']} | {s['goal'] if s['goal'] is not None else 'per episode'} | "
            f"{s['eval_pairs']} | {s['covered_pairs']} / {s['start_covered_pairs']} | "
            f"{fmt(s['data_success'])} | " + " | ".join(cells) + f" | {s['seconds']:.1f} |"
        )
    atomic_write_text(run_dir / "report.md", "\n".join(lines) + "\n")


def sweep_png(sweep: list[dict[str, Any]]) -> bytes:
    """Success rate and path-length ratio against the move-failure probability."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ps = [row["fail_prob"] for row in sweep]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for name, label in METHODS.items():
        for ax, key in zip(axes, ("success", "length_ratio")):
            mean = [row["methods"][name][key]["mean"] for row in sweep]
            std = [row["methods"][name][key]["std"] for row in sweep]
            ax.errorbar(ps, mean, yerr=std, marker="o", capsize=3, label=label)
    axes[0].set_ylabel("success rate")
    axes[1].set_ylabel("path length / shortest")
    for ax in axes:
        ax.set_xlabel("move failure probability p")
    axes[0].legend(fontsize=7)
    data = _png(fig)
    plt.close(fig)
    return data


def write_sweep_report(run_dir: Path, results: dict[str, Any]) -> None:
    """report.md and stochastic.png for `kingme dt sweep-stochastic`."""
    sweep = results["sweep"]
    atomic_write_bytes(run_dir / "stochastic.png", sweep_png(sweep))
    lines = [
        "# Decision Transformer vs return prediction as moves fail",
        "",
        f"Each move fails (the agent stays) with probability p. "
        f"Runtime {results['runtime_s']:.1f} s ({results['machine']}).",
        "",
        f"Command: `{results['command']}`",
        "",
        "| p | " + " | ".join(METHODS.values()) + " |",
        "|---|" + "---|" * len(METHODS),
    ]
    for row in sweep:
        cells = [
            f"{fmt(row['methods'][n]['success']['mean'])} / {fmt(row['methods'][n]['length_ratio']['mean'])}"
            for n in METHODS
        ]
        lines.append(f"| {row['fail_prob']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Cells: success rate / path length over shortest (means over seeds).",
        "",
        "![stochastic sweep](stochastic.png)",
    ]
    for row in sweep:
        lines += ["", f"## p = {row['fail_prob']}", "", *methods_table(row["methods"])]
    atomic_write_text(run_dir / "report.md", "\n".join(lines) + "\n")
