"""Per-run summaries: a history column as an array, and the scalars metrics take from it.

Each builder returns a function of a run's history (a `Metric.fn`); they know nothing of the kind
of run that wrote the history.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from kingme.experiments.base import History


def column(history: History, key: str) -> np.ndarray:
    """A history column as floats, NaN where absent, forward-filled (episodes end irregularly)."""
    out = np.full(len(history), np.nan)
    last_value = np.nan
    for i, row in enumerate(history):
        v = row.get(key)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            last_value = float(v)
        out[i] = last_value
    return out


def series(history: History, key: str) -> list[float | None]:
    """A column as stored in results.json: forward-filled, rounded to 6 decimals, None for NaN."""
    return [None if math.isnan(x) else round(float(x), 6) for x in column(history, key)]


def final_mean(key: str, frac: float = 0.1) -> Callable[[History], float]:
    """The mean of a column over the last `frac` of the updates."""

    def fn(h: History) -> float:
        c = column(h, key)
        k = max(1, int(round(len(c) * frac)))
        return float(np.nanmean(c[-k:])) if np.isfinite(c[-k:]).any() else float("nan")

    return fn


def overall_mean(key: str) -> Callable[[History], float]:
    """The mean of a column over all updates (for returns: the area under the learning curve)."""

    def fn(h: History) -> float:
        c = column(h, key)
        return float(np.nanmean(c)) if np.isfinite(c).any() else float("nan")

    return fn


def overall_median(key: str) -> Callable[[History], float]:
    """The median of a column's recorded values (robust to a few huge updates)."""

    def fn(h: History) -> float:
        v = [float(r[key]) for r in h if r.get(key) is not None and math.isfinite(float(r[key]))]
        return float(np.median(v)) if v else float("nan")

    return fn


def overall_max(key: str) -> Callable[[History], float]:
    def fn(h: History) -> float:
        c = column(h, key)
        return float(np.nanmax(c)) if np.isfinite(c).any() else float("nan")

    return fn


def drop_from_peak(key: str) -> Callable[[History], float]:
    """Stability: the largest fall of the curve below its running best (0 = never fell back)."""

    def fn(h: History) -> float:
        c = column(h, key)
        ok = np.isfinite(c)
        if not ok.any():
            return float("nan")
        c = c[ok]
        return float(np.max(np.maximum.accumulate(c) - c))

    return fn


def last(key: str) -> Callable[[History], float]:
    """The column's last recorded value (e.g. measurements written in the last row)."""

    def fn(h: History) -> float:
        c = column(h, key)
        return float(c[-1]) if len(c) else float("nan")

    return fn


def gain(after: str, before: str) -> Callable[[History], float]:
    """The last value of `after` minus the last of `before` (a per-seed, paired difference)."""
    return lambda h: last(after)(h) - last(before)(h)


def change(key: str, frac: float = 0.1) -> Callable[[History], float]:
    """Over the rows after the first (row 0 is a starting point, e.g. a base model): the column's mean
    over the last `frac` minus its mean over the first `frac`."""

    def fn(h: History) -> float:
        c = column(h[1:], key)
        c = c[np.isfinite(c)]
        k = max(1, int(round(len(c) * frac)))
        return float(c[-k:].mean() - c[:k].mean()) if len(c) else float("nan")

    return fn
