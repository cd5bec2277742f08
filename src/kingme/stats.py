"""Means with 95% t-intervals over seeds, and Welch intervals for a difference of two means.

No SciPy: the two-sided 97.5% quantiles of Student's t are tabulated for 1-30 degrees of freedom
(interpolated for Welch's fractional degrees), and the normal 1.96 is used beyond.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

T975 = (  # t_{0.975, df} for df = 1..30
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile(df: float) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom (df ≥ 1; interpolated)."""
    if not df >= 1.0:
        return float("nan")
    if df >= 30.0:
        return 2.042 if df < 40 else 1.96 + 2.0 / df  # close to the tabulated values beyond 30
    lo = int(math.floor(df))
    frac = df - lo
    hi = min(lo + 1, 30)
    return T975[lo - 1] + frac * (T975[hi - 1] - T975[lo - 1])


class Interval(NamedTuple):
    mean: float
    lo: float
    hi: float
    n: int

    def fmt(self, digits: int = 3) -> str:
        if math.isnan(self.mean):
            return "n/a"
        if math.isnan(self.lo):
            return _num(self.mean, digits)
        return f"{_num(self.mean, digits)} [{_num(self.lo, digits)}, {_num(self.hi, digits)}]"


def _num(x: float, digits: int) -> str:
    return f"{x:.0f}" if abs(x) >= 10**digits else f"{x:.{digits}g}"


def _clean(xs: Sequence[float]) -> list[float]:
    return [float(x) for x in xs if x is not None and not math.isnan(float(x))]


def mean_ci(xs: Sequence[float]) -> Interval:
    """Mean and 95% t-interval of the non-NaN values (NaN bounds with fewer than two)."""
    v = _clean(xs)
    n = len(v)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    m = sum(v) / n
    if n < 2:
        return Interval(m, float("nan"), float("nan"), n)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return Interval(m, m - half, m + half, n)


def welch_diff(a: Sequence[float], b: Sequence[float]) -> Interval:
    """Mean(a) − mean(b) with a 95% Welch t-interval (unequal variances)."""
    va, vb = _clean(a), _clean(b)
    na, nb = len(va), len(vb)
    if na < 2 or nb < 2:
        return Interval(float("nan"), float("nan"), float("nan"), min(na, nb))
    ma, mb = sum(va) / na, sum(vb) / nb
    sa = sum((x - ma) ** 2 for x in va) / (na - 1) / na
    sb = sum((x - mb) ** 2 for x in vb) / (nb - 1) / nb
    se = math.sqrt(sa + sb)
    d = ma - mb
    if se == 0.0:
        return Interval(d, d, d, min(na, nb))
    df = (sa + sb) ** 2 / (sa**2 / (na - 1) + sb**2 / (nb - 1))
    half = t_quantile(df) * se
    return Interval(d, d - half, d + half, min(na, nb))


def compare(a_label: str, a: Sequence[float], b_label: str, b: Sequence[float], what: str, digits: int = 3) -> str:
    """One sentence: does `what` differ between a and b (a Welch 95% interval of the difference)?"""
    d = welch_diff(a, b)
    if math.isnan(d.mean):
        return f"{what}: too few seeds to compare {a_label} with {b_label}."
    if d.lo > 0:
        verdict = f"higher for {a_label} than for {b_label}"
    elif d.hi < 0:
        verdict = f"lower for {a_label} than for {b_label}"
    else:
        verdict = f"no difference found between {a_label} and {b_label}"
    return f"{what}: {verdict} (difference {d.fmt(digits)})."
