"""Curve helpers every run report shares: a metric's (x, value) series out of metrics.jsonl rows."""

from __future__ import annotations

import math
from typing import Any


def series(rows: list[dict[str, Any]], key: str, x: str = "global_step") -> tuple[list[int], list[float]]:
    """(x, value) of every metrics row where `key` holds a finite number."""
    xs, ys = [], []
    for r in rows:
        v = r.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v):
            xs.append(int(r[x]))
            ys.append(float(v))
    return xs, ys
