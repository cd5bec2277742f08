"""A PPO run's report: `report.md` with its learning curve (`learning_curve.png`, return vs steps).

Written at the end of `kingme train gym:ENV_ID` (and again after a resume) from the run folder's
`metrics.jsonl`, so it always shows the whole run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kingme.common import atomic_write_text
from kingme.runs.curves import series
from kingme.runs.logger import read_metrics

PLOT = "learning_curve.png"


def plot_learning_curve(rows: list[dict[str, Any]], title: str, path: Path) -> None:
    """Episodic return (per update) and the recent mean return against environment steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    xs, ys = series(rows, "charts/episodic_return")
    if xs:
        ax.plot(xs, ys, color="tab:blue", alpha=0.35, lw=1, label="episodes finished in the update")
    xs, ys = series(rows, "charts/recent_return")
    if xs:
        ax.plot(xs, ys, color="tab:blue", lw=2, label="mean of the recent episodes")
    ax.set_xlabel("environment steps", fontsize=12)
    ax.set_ylabel("episodic return", fontsize=12)
    ax.set_title(title, fontsize=13)
    ax.tick_params(labelsize=10)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(run_dir: Path, env: str, return_window: int) -> Path:
    """Write `run_dir/report.md` and its plot from `run_dir/metrics.jsonl`; return the report's path."""
    rows = read_metrics(run_dir)
    plot_learning_curve(rows, f"PPO on {env}", run_dir / PLOT)
    last = rows[-1] if rows else {}
    recent = last.get("charts/recent_return")
    sps = [float(r["charts/SPS"]) for r in rows if isinstance(r.get("charts/SPS"), (int, float))]
    lines = [
        f"# PPO run `{run_dir.name}` on {env}",
        "",
        f"- updates: {last.get('update', 0)}, environment steps: {last.get('global_step', 0)}, "
        f"training time: {float(last.get('time', 0.0)):.1f} s",
        f"- mean return of the last {return_window} episodes: "
        + (f"{recent:.1f}" if isinstance(recent, (int, float)) else "-"),
        f"- steps per second (last update): {sps[-1]:,.0f}" if sps else "- steps per second: -",
        "- config: `config.json`; metrics: `metrics.jsonl` (docs/ppo.md explains each); TensorBoard "
        "events; checkpoints: `checkpoints/`",
        "",
        f"![learning curve]({PLOT})",
        "",
    ]
    path = run_dir / "report.md"
    atomic_write_text(path, "\n".join(lines))
    return path
