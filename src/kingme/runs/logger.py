"""Metrics out of the training loop: `metrics.jsonl` and TensorBoard events.

One row per update. Keys are grouped CleanRL-style (`charts/...` for what the agent achieves and
how fast, `losses/...` for the optimisation, `debug/...` for invariants); `update`, `global_step`
and `time` index the row. docs/ppo.md has the table of what each metric means.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from kingme.common import atomic_write_text, json_safe

INDEX_KEYS = ("update", "global_step", "time")


class MetricsLogger:
    """Appends one JSON row per update to `run_dir/metrics.jsonl`, mirrored to TensorBoard.

    On resume from update U, rows after U (written before the crash but not covered by a
    checkpoint) are dropped, and TensorBoard is told to purge its events after that step.
    """

    def __init__(
        self, run_dir: Path, tensorboard: bool = True, resume_update: int | None = None, resume_step: int = 0
    ) -> None:
        self.path = run_dir / "metrics.jsonl"
        if resume_update is not None and self.path.exists():
            kept = [
                line
                for line in self.path.read_text().splitlines()
                if line.strip() and _row_update(line) <= resume_update
            ]
            atomic_write_text(self.path, "".join(line + "\n" for line in kept))
        elif resume_update is None:
            self.path.write_text("")
        self._file = self.path.open("a", encoding="utf-8")
        self._tb: Any = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = resume_step + 1 if resume_update is not None else None
            self._tb = SummaryWriter(log_dir=str(run_dir), purge_step=purge)

    def log(self, row: dict[str, Any]) -> None:
        clean = json_safe(row)  # NaN and inf become null
        self._file.write(json.dumps(clean) + "\n")
        self._file.flush()
        if self._tb is not None:
            step = int(row["global_step"])
            for key, value in row.items():
                if key in INDEX_KEYS or not isinstance(value, (int, float)):
                    continue
                if isinstance(value, float) and not math.isfinite(value):
                    continue
                self._tb.add_scalar(key, value, step)

    def text(self, tag: str, text: str, step: int) -> None:
        """A text entry in TensorBoard (e.g. sampled responses); nothing without TensorBoard."""
        if self._tb is not None:
            self._tb.add_text(tag, text, step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def _row_update(line: str) -> int:
    try:
        return int(json.loads(line).get("update", 0))
    except (ValueError, AttributeError):
        return 1 << 62  # an unreadable (half-written) row is dropped


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """All rows of `run_dir/metrics.jsonl`."""
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
