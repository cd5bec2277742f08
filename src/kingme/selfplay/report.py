"""The report of a self-play run: `report.md` in the run folder, with the ladder evaluation's learning
curves (`learning_curves.png`) and the final ladder table.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from kingme.common import atomic_write_text
from kingme.ppo.train import TrainResult
from kingme.selfplay.config import SelfPlayConfig


def write_report(run_dir: Path, cfg: SelfPlayConfig, evals: list[dict[str, Any]], result: TrainResult) -> None:
    """report.md with the learning curves (Elo and ladder scores against time and steps) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if evals:
        fig, axes = plt.subplots(2, 2, figsize=(11, 7))
        for col, (key, label) in enumerate((("time", "wall time (min)"), ("global_step", "learner steps"))):
            xs = [e[key] / (60 if key == "time" else 1) for e in evals]
            ax = axes[0, col]
            for opp in evals[-1]["opponents"]:
                ax.plot(xs, [e["opponents"].get(opp, {}).get("score", np.nan) for e in evals], marker="o", label=opp)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel(label)
            ax.set_ylabel("score (win = 1, draw = 0.5)")
            ax.legend(fontsize=8)
            ax = axes[1, col]
            # an Elo (or a bound) that is infinite, all wins or all losses, is stored as null
            elo, lo, hi = (
                [np.nan if e.get(k) is None else e[k] for e in evals] for k in ("elo", "elo_low", "elo_high")
            )
            ax.plot(xs, elo, marker="o", color="k")
            finite = [(x, a, b) for x, a, b in zip(xs, lo, hi) if math.isfinite(a) and math.isfinite(b)]
            if finite:
                ax.fill_between([f[0] for f in finite], [f[1] for f in finite], [f[2] for f in finite], alpha=0.2)
            ax.set_xlabel(label)
            ax.set_ylabel("ladder Elo (alphabeta:4 = 1500)")
        fig.suptitle("kingme self-play PPO: ladder evaluation")
        fig.tight_layout()
        fig.savefig(run_dir / "learning_curves.png", dpi=110)
        plt.close(fig)
    lines = [
        f"# Self-play run `{run_dir.name}`",
        "",
        f"- updates: {result.updates}, learner steps: {result.global_step}",
        f"- network: {cfg.net} {','.join(map(str, cfg.hidden_sizes)) if cfg.net == 'mlp' else cfg.channels}",
        f"- budget: {cfg.minutes:g} minutes, {cfg.total_steps} steps (whichever ends first)",
        "- config: `config.json`; metrics: `metrics.jsonl`, `evals.jsonl`; TensorBoard events",
        "",
    ]
    if evals:
        last = evals[-1]
        lines += [
            "## Final ladder table",
            "",
            "| opponent | games | W | D | L | score | 95% interval |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for opp, st in last["opponents"].items():
            lines.append(
                f"| {opp} | {st['games']} | {st['wins']} | {st['draws']} | {st['losses']} | "
                f"{st['score']:.3f} | [{st['score_ci95'][0]:.3f}, {st['score_ci95'][1]:.3f}] |"
            )
        if "elo" in last:
            lines += [
                "",
                f"Ladder Elo: {last['elo']:.0f} [{last['elo_low']:.0f}, {last['elo_high']:.0f}] "
                "(alphabeta:4 = 1500; see docs/arena.md)",
            ]
        lines += ["", "![learning curves](learning_curves.png)"]
    atomic_write_text(run_dir / "report.md", "\n".join(lines) + "\n")
