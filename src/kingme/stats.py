"""Means over seeds with 95% intervals, and Welch intervals for a difference of two means.

`summarise(xs, bounds, share)` is the one place that picks a mean's interval:
- an unbounded quantity (a difference of two means): the t-interval, mean ± t_{0.975, n−1}·s/√n;
- a bounded one (a probability, a length, a KL; `bounds` = its range): the t-interval intersected
  with the range, which never leaves it (the plain one does: pass@64 0.938 [0.835, 1.04]);
- a share of runs (each run 1 or 0): Wilson's score interval.

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


Z975 = 1.959964  # the normal distribution's 97.5% quantile


def clip_interval(iv: Interval, bounds: tuple[float, float]) -> Interval:
    """The interval intersected with the quantity's range [a, b]: [max(lo, a), min(hi, b)].

    The true mean lies in the range, so the part of an interval outside it can never cover it:
    dropping that part keeps the interval's coverage (95% stays 95%) and only removes impossible
    values (a t-interval of pass@64 printed as [0.835, 1.04] becomes [0.835, 1])."""
    a, b = bounds
    return Interval(iv.mean, min(max(iv.lo, a), b), min(max(iv.hi, a), b), iv.n)


def wilson(successes: float, n: int) -> tuple[float, float]:
    """Wilson's 95% score interval for a proportion p̂ = k/n:

        (p̂ + z²/2n ± z·sqrt(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n),   z = 1.96.

    It stays inside [0, 1] and is not empty at k = 0 or k = n (0 of 10: [0, 0.278])."""
    if n <= 0:
        return float("nan"), float("nan")
    p = successes / n
    z2 = Z975**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z975 / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def share_ci(xs: Sequence[float]) -> Interval:
    """The share of runs that did something (each value 1 or 0: solved or not) with Wilson's interval."""
    v = _clean(xs)
    if not v:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    if any(x not in (0.0, 1.0) for x in v):
        raise ValueError(f"share_ci takes 0 or 1 per run, got {v}")
    lo, hi = wilson(sum(v), len(v))
    return Interval(sum(v) / len(v), lo, hi, len(v))


def summarise(xs: Sequence[float], bounds: tuple[float, float] | None = None, share: bool = False) -> Interval:
    """The one place that picks the 95% interval of a mean over seeds:
    - `share` (each run's value is 1 or 0): Wilson's interval for the proportion (`share_ci`);
    - `bounds` (the quantity's range: (0, 1) for a probability, (0, inf) for a length or a KL): the
      t-interval intersected with the range (`clip_interval`), so it never leaves it;
    - neither: the t-interval (`mean_ci`).

    Why not a percentile bootstrap over seeds for a bounded mean: with 3 seeds it is the seeds'
    range [min, max], which held the true mean of Beta-distributed values 71-75% of the time (2000
    draws each of Beta(9, 1), Beta(2, 2), Beta(30, 2)); the cut t-interval held it 90-94% of the
    time (tests/test_experiments_harness.py).
    """
    if share:
        return share_ci(xs)
    iv = mean_ci(xs)
    return iv if bounds is None or math.isnan(iv.lo) else clip_interval(iv, bounds)


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


def compare(
    a_label: str,
    a: Sequence[float],
    b_label: str,
    b: Sequence[float],
    what: str,
    digits: int = 3,
    bounds: tuple[float, float] | None = None,
) -> str:
    """One sentence: does `what` differ between a and b (a Welch 95% interval of the difference)?

    With `bounds`, the range [lo, hi] of the quantity, the interval is cut to the difference's range
    [lo − hi, hi − lo] (two probabilities differ by at most 1), which never changes the verdict."""
    d = welch_diff(a, b)
    if bounds is not None and not math.isnan(d.lo):
        d = clip_interval(d, (bounds[0] - bounds[1], bounds[1] - bounds[0]))
    if math.isnan(d.mean):
        return f"{what}: too few seeds to compare {a_label} with {b_label}."
    if d.lo > 0:
        verdict = f"higher for {a_label} than for {b_label}"
    elif d.hi < 0:
        verdict = f"lower for {a_label} than for {b_label}"
    else:
        verdict = f"no difference found between {a_label} and {b_label}"
    return f"{what}: {verdict} (difference {d.fmt(digits)})."
