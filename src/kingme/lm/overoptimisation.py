"""Reward-model over-optimisation (Gao, Schulman and Hilton 2023): the best-of-n estimator and the fits.

Gao et al. plot the gold reward R of a policy optimised against a proxy reward model against the
distance d = sqrt(KL(π ‖ π_init)) it has moved from the start, and fit, with R(0) = 0 (R measured
from the start's gold):

    best-of-n:  R_bon(d) = d (α − β d)          peak at d* = α / (2β)
    RL:         R_RL(d)  = d (α − β log d)      peak at d* = exp(α/β − 1)

Both are linear in (α, β), so the fits are least squares on the features (d, −d²) and (d, −d log d),
through the origin (`fit_bon`, `fit_rl`).

Best-of-n from a finite sample: with N ≥ n responses to a prompt, the mean over every n-subset of
the gold reward of the subset's proxy favourite is an unbiased estimate of best-of-n's expected
gold (Gao et al., appendix; Nakano et al. 2021). Sorting the N responses by proxy ascending, the i-th
(1-based) is the favourite of C(i − 1, n − 1) of the C(N, n) subsets (`bon_weights`), so the
estimate is Σ_i w_i g_i (`bon_estimate`). Ties of the proxy between distinct responses have
probability 0 for a real-valued reward model; equal responses have equal gold, so their order does
not matter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


def bon_weights(N: int, n: int) -> np.ndarray:
    """w_i = C(i − 1, n − 1) / C(N, n) for i = 1..N: the probability that the i-th lowest of N is the
    highest of a random n-subset; (N,), sums to 1."""
    if not 1 <= n <= N:
        raise ValueError(f"best-of-n needs 1 <= n <= N, got n = {n}, N = {N}")
    i = np.arange(1, N + 1)
    # log C(i-1, n-1) - log C(N, n), with C(k, n-1) = 0 for k < n-1
    valid = i - 1 >= n - 1
    logw = np.full(N, -np.inf)
    k = i[valid] - 1
    logw[valid] = _log_comb(k, n - 1) - _log_comb(np.array([N]), n)[0]
    return np.exp(logw)


def _log_comb(k: np.ndarray, r: int) -> np.ndarray:
    return np.array([math.lgamma(x + 1) - math.lgamma(r + 1) - math.lgamma(x - r + 1) for x in k], dtype=float)


def bon_estimate(proxy: ArrayLike, values: ArrayLike, n: int) -> float:
    """The expected value (gold or proxy) of best-of-n by the proxy, from N ≥ n samples of one prompt:
    Σ_i w_i v_(i), the values ordered by proxy ascending (a stable sort: equal proxies keep their order)."""
    p, v = np.asarray(proxy, dtype=float), np.asarray(values, dtype=float)
    if p.shape != v.shape or p.ndim != 1:
        raise ValueError("proxy and values must be vectors of one length")
    order = np.argsort(p, kind="stable")
    return float(np.dot(bon_weights(len(p), n), v[order]))


@dataclass(frozen=True)
class Fit:
    """α and β of a Gao form, the fit's R², and where its gold peaks (d*, R(d*)); d* is inf when β ≤ 0."""

    alpha: float
    beta: float
    r2: float
    d_peak: float
    r_peak: float


def _lstsq(X: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    pred = X @ coef
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum(y**2))  # about 0: the forms pass through the origin
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    return float(coef[0]), float(coef[1]), r2


def fit_bon(d: ArrayLike, r: ArrayLike) -> Fit:
    """Least squares of R = d(α − βd) (R the gold minus the start's); R² about the origin."""
    d_, r_ = np.asarray(d, dtype=float), np.asarray(r, dtype=float)
    alpha, beta, r2 = _lstsq(np.stack([d_, -(d_**2)], axis=1), r_)  # (K, 2)
    d_peak = alpha / (2 * beta) if beta > 0 else math.inf
    r_peak = d_peak * (alpha - beta * d_peak) if beta > 0 else math.inf
    return Fit(alpha, beta, r2, d_peak, r_peak)


def fit_rl(d: ArrayLike, r: ArrayLike) -> Fit:
    """Least squares of R = d(α − β log d) over the points with d > 0; R² about the origin."""
    d_, r_ = np.asarray(d, dtype=float), np.asarray(r, dtype=float)
    keep = d_ > 0
    d_, r_ = d_[keep], r_[keep]
    alpha, beta, r2 = _lstsq(np.stack([d_, -d_ * np.log(d_)], axis=1), r_)  # (K, 2)
    if beta > 0:
        d_peak = math.exp(alpha / beta - 1)
        r_peak = d_peak * (alpha - beta * math.log(d_peak))
    else:
        d_peak = r_peak = math.inf
    return Fit(alpha, beta, r2, d_peak, r_peak)
