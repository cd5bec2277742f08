"""An RL run's report: `report.md` and `curves.png`, written at the end of `kingme lm train`.

Both come from the run folder's `metrics.jsonl` and the run's summary, so they show the whole run:
the sampled reward and greedy test pass@1, the lengths of right and wrong responses, the KL to the
reference and the entropy, and the share of groups without a signal with the clip fraction, each
against the update.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from kingme.common import atomic_write_bytes, atomic_write_text, fmt
from kingme.runs.curves import series
from kingme.runs.logger import read_metrics

PLOT = "curves.png"
# The plot's panels: (y-axis label, [(metrics key, line label), ...]).
PANELS: list[tuple[str, list[tuple[str, str]]]] = [
    ("reward, pass@1", [("charts/reward", "sampled reward"), ("charts/test_pass1", "test pass@1 (greedy)")]),
    ("tokens", [("charts/length_correct", "length, right responses"), ("charts/length_wrong", "length, wrong")]),
    ("nats per token", [("losses/kl_ref", "KL to the reference"), ("losses/entropy", "entropy")]),
    ("share", [("charts/zero_adv_groups", "groups with no advantage"), ("losses/clipfrac", "clip fraction")]),
]


def curves_png(rows: list[dict[str, Any]], title: str) -> bytes:
    """The four panels of PANELS over the updates, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for ax, (ylabel, lines) in zip(axes.flat, PANELS, strict=True):
        for key, label in lines:
            xs, ys = series(rows, key, x="update")
            if xs:
                ax.plot(xs, ys, lw=1.5, marker="o" if key == "charts/test_pass1" else None, ms=3, label=label)
        ax.set_ylabel(ylabel, fontsize=11)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("update", fontsize=11)
    fig.suptitle(title, fontsize=13)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def write_train_report(run_dir: Path, cfg: Any, summary: dict[str, Any]) -> Path:
    """Write `run_dir/report.md` and `run_dir/curves.png` for a `kingme lm train` run; return the report's path.

    `cfg` is the run's resolved RLConfig, `summary` what `lm.rl.train` returned.
    """
    start, end = summary["test_pass1_start"]["all"], summary["test_pass1_end"]["all"]
    rows = read_metrics(run_dir)
    base_row = {"update": 0, "time": 0.0, "charts/test_pass1": start}  # the base, measured before update 1
    atomic_write_bytes(run_dir / PLOT, curves_png([base_row, *rows], f"{cfg.algo} from {Path(cfg.base).name}"))
    reached = summary.get("target_reached")
    lines = [
        f"# kingme lm train: {cfg.algo}",
        "",
        f"Base `{cfg.base}`; {summary['updates_done']} updates of P = {cfg.prompts_per_update} prompts × "
        f"G = {cfg.group_size} samples in {summary['runtime_s']:.0f} s. The whole config is in config.json.",
        "",
        f"**Test pass@1 (greedy) {start:.3f} → {end:.3f}.**"
        + (
            f" Target {cfg.target_pass1} reached at update {reached['update']}, {reached['time_s']:.0f} s."
            if reached
            else (f" Target {cfg.target_pass1} not reached." if cfg.target_pass1 is not None else "")
        ),
        "",
        "| update | time (s) | test pass@1 | sampled reward | length right / wrong | KL to the reference |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| 0 (base) | 0 | {start:.3f} | | | |",
    ]
    for r in rows:
        if "charts/test_pass1" in r:
            cells = [  # a missing value (no right answers: no length) prints "–"
                str(r["update"]),
                fmt(r.get("time"), 0),
                fmt(r["charts/test_pass1"]),
                fmt(r.get("charts/reward")),
                f"{fmt(r.get('charts/length_correct'), 1)} / {fmt(r.get('charts/length_wrong'), 1)}",
                fmt(r.get("losses/kl_ref")),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"![curves]({PLOT})", ""]
    path = run_dir / "report.md"
    atomic_write_text(path, "\n".join(lines))
    return path
