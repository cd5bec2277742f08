"""The entropy mechanics of RL on a language model, as pure functions of tensors and arrays.

Notation as in `kingme.lm.algos`: a rollout of B responses of N token slots, `mask` (B, N) True on
the real tokens, logp = log π(o_t | q, o_<t), Â the advantage of each token.

**The covariance** (Cui et al. 2025, "The entropy mechanism of RL for reasoning language models",
arXiv 2505.22617). For a softmax policy updated by natural policy gradient with step η, the change
of the entropy at a state is, to first order,

    H(θ_k+1) − H(θ_k) ≈ −η · Cov_{a ~ π}( log π(a|s), Â(s, a) ):

an action that is both likely and advantaged sharpens the policy. Over a rollout's tokens the
covariance is estimated by the mean of the centred products

    c_i,t = (logp_i,t − mean(logp)) · (Â_i,t − mean(Â)),  means over the rollout's tokens

(`token_covariance`; their mean is `covariance`). Cui et al.'s fixes act on the few tokens whose
c_i,t is largest:
- **Clip-Cov**: pick at random a share r of the tokens (at least one) among those with
  ω_low < c < ω_high, not already clipped by the ratio, and detach their gradient
  (`clip_cov_selection`; their r = 2·10⁻⁴, ω = (1, 5));
- **KL-Cov**: the share k of the tokens with the largest c (at least one) get the penalty
  β_cov · |logp − logp_old| added to their loss, and no ratio clip anywhere (`kl_cov_selection`,
  `weighted_abs_logratio`; their k = 2·10⁻³ or 2·10⁻⁴, β_cov = 1).

**High-entropy forks** (Wang et al. 2025, "Beyond the 80/20 rule", arXiv 2506.01939): only the
share ρ of the batch's tokens with the highest entropy under θ_old keep their policy gradient
(ρ = 0.2; `top_entropy_selection`); the others' is dropped, the normaliser unchanged.

**The law** (Cui et al.): validation performance R and policy entropy H follow R = −a·exp(H) + b,
so the ceiling at H = 0 is b − a. With x = exp(H) it is a line in x, fitted by least squares
(`fit_entropy_law`), and a fit on the start of training predicts R later from the entropy measured
then (`law_prediction`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

Floats = Sequence[float] | np.ndarray  # a series, one value per update

# ---------------------------------------------------------------------------------------------
# The covariance of log-probability and advantage
# ---------------------------------------------------------------------------------------------


def token_covariance(logp: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """c_i,t = (logp − mean logp)(Â − mean Â), the means over the tokens of `mask`; all (B, N) -> (B, N), 0 off it."""
    m = mask.to(logp.dtype)
    n = m.sum().clamp(min=1.0)
    logp_c = logp - (logp * m).sum() / n  # (B, N)
    adv_c = adv - (adv * m).sum() / n  # (B, N)
    return logp_c * adv_c * m


def covariance(logp: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Cov(logp, Â) over the tokens of `mask` (÷ their number; 0 with none): (B, N) -> 0-d."""
    return token_covariance(logp, adv, mask).sum() / mask.sum().clamp(min=1)


def share_count(share: float, n: int) -> int:
    """How many of n tokens a share selects: int(share · n), at least 1 when share > 0 and n > 0
    (as Cui et al.'s code: max(int(r · n), 1)); 0 when share is 0."""
    if share <= 0 or n <= 0:
        return 0
    return min(n, max(int(share * n), 1))


# ---------------------------------------------------------------------------------------------
# Token selections
# ---------------------------------------------------------------------------------------------


def clip_cov_selection(
    cov: torch.Tensor,
    mask: torch.Tensor,
    share: float,
    low: float,
    high: float,
    exclude: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Clip-Cov's tokens: `share_count(share, tokens of mask)` drawn uniformly without replacement
    among the tokens of `mask` with low < cov < high and not in `exclude` (all of them if fewer).
    cov, mask, exclude (B, N) -> (B, N) bool. Cui et al. exclude the tokens the ratio clip already
    binds (`ratio_clipped`); the count is a share of all the tokens of `mask`, as in their code."""
    eligible = mask & (cov > low) & (cov < high)  # (B, N)
    if exclude is not None:
        eligible &= ~exclude
    k = share_count(share, int(mask.sum()))
    idx = torch.nonzero(eligible.flatten()).flatten()  # (n_eligible,) flat positions
    out = torch.zeros_like(mask)
    if k == 0 or idx.numel() == 0:
        return out
    pick = idx[torch.randperm(idx.numel(), generator=generator, device=idx.device)[:k]]
    out.view(-1)[pick] = True
    return out


def kl_cov_selection(cov: torch.Tensor, mask: torch.Tensor, share: float) -> torch.Tensor:
    """KL-Cov's tokens: the `share_count(share, tokens)` tokens of `mask` with the largest cov
    (ties broken by position, first first). cov, mask (B, N) -> (B, N) bool."""
    return _top(cov, mask, share_count(share, int(mask.sum())))


def top_entropy_selection(entropy: torch.Tensor, mask: torch.Tensor, share: float) -> torch.Tensor:
    """The tokens of `mask` whose entropy is among the highest `share` of them (Wang et al.'s forks):
    ceil(share · tokens) of them (ties broken by position), all with share ≥ 1. (B, N) -> (B, N) bool."""
    n = int(mask.sum())
    if share >= 1.0:
        return mask.clone()
    return _top(entropy, mask, min(n, math.ceil(share * n - 1e-9)))


def _top(score: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """The k tokens of `mask` with the largest score, as a (B, N) bool (a stable sort: ties by position)."""
    out = torch.zeros_like(mask)
    if k <= 0:
        return out
    flat = torch.where(mask, score, torch.tensor(-math.inf, dtype=score.dtype, device=score.device)).flatten()
    order = torch.sort(flat, descending=True, stable=True).indices[:k]  # (k,) flat positions
    out.view(-1)[order] = True
    return out & mask


def ratio_clipped(ratio: torch.Tensor, adv: torch.Tensor, eps_low: float, eps_high: float) -> torch.Tensor:
    """Where the clipped surrogate's clip binds (its gradient is already 0): Â > 0 with ρ > 1 + ε_high,
    or Â < 0 with ρ < 1 − ε_low. (B, N) -> (B, N) bool."""
    return ((adv > 0) & (ratio > 1.0 + eps_high)) | ((adv < 0) & (ratio < 1.0 - eps_low))


def weighted_abs_logratio(logp: torch.Tensor, logp_old: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """KL-Cov's penalty Σ w · |logp − logp_old| (weights 0 off the selected tokens): (B, N) -> 0-d.

    At θ = θ_old its gradient is 0 (torch's d|x|/dx at 0 is 0): the penalty acts from the second
    optimizer step on a rollout (minibatches or epochs), as in Cui et al.'s runs."""
    return (weights * (logp - logp_old).abs()).sum()


# ---------------------------------------------------------------------------------------------
# The law R = −a·exp(H) + b
# ---------------------------------------------------------------------------------------------


def fit_entropy_law(entropy: Floats, score: Floats) -> tuple[float, float]:
    """(a, b) of R = −a·exp(H) + b by least squares over the finite pairs (H, R); (nan, nan) with
    fewer than 2 distinct H.

    With x = exp(H), R = b − a·x: a = −Σ(x − x̄)(R − R̄) / Σ(x − x̄)², b = R̄ + a·x̄."""
    h, r = np.asarray(entropy, dtype=float), np.asarray(score, dtype=float)
    ok = np.isfinite(h) & np.isfinite(r)
    x, r = np.exp(h[ok]), r[ok]
    if len(x) < 2:
        return math.nan, math.nan
    dx = x - x.mean()
    sxx = float((dx * dx).sum())
    if sxx <= 1e-12 * max(1.0, float((x * x).sum())):
        return math.nan, math.nan
    a = -float((dx * (r - r.mean())).sum()) / sxx
    return a, float(r.mean()) + a * float(x.mean())


def law(a: float, b: float, entropy: Floats) -> np.ndarray:
    """R̂ = −a·exp(H) + b at each H."""
    return -a * np.exp(np.asarray(entropy, dtype=float)) + b


@dataclass
class Prediction:
    """A fit on the first part of a run and how it predicts the rest (`law_prediction`)."""

    a: float
    b: float
    fitted: int  # points fitted on
    mae: float  # mean |R̂ − R| over the rest
    final_error: float  # mean R̂ − mean R over the last `tail` share of the points (signed)
    constant_mae: float  # the same mean |·| for the constant prediction: R's mean over the fitted points
    constant_final_error: float  # and its signed error at the end


def law_prediction(entropy: Floats, score: Floats, fit_share: float = 0.1, tail: float = 0.1) -> Prediction:
    """Fit R = −a·exp(H) + b on the first `fit_share` of the points (at least 3: ceil), predict R
    from H on the rest; the errors against R measured there, and those of predicting the fitted
    points' mean R throughout (the baseline: what one knows without the law). Points are one per
    update, in order; non-finite ones are dropped first."""
    h, r = np.asarray(entropy, dtype=float), np.asarray(score, dtype=float)
    ok = np.isfinite(h) & np.isfinite(r)
    h, r = h[ok], r[ok]
    n = len(h)
    k = max(3, math.ceil(fit_share * n - 1e-9))
    if n < k + 1:
        raise ValueError(f"the law's prediction needs more than {k} points, got {n}")
    a, b = fit_entropy_law(h[:k], r[:k])
    rest_h, rest_r = h[k:], r[k:]
    pred = law(a, b, rest_h)
    m = max(1, math.ceil(tail * len(rest_r) - 1e-9))  # the last points of the rest
    const = float(r[:k].mean())
    return Prediction(
        a=a,
        b=b,
        fitted=k,
        mae=float(np.abs(pred - rest_r).mean()),
        final_error=float(pred[-m:].mean() - rest_r[-m:].mean()),
        constant_mae=float(np.abs(const - rest_r).mean()),
        constant_final_error=float(const - rest_r[-m:].mean()),
    )


def lagged_correlation(cov: Floats, entropy: Floats) -> float:
    """Pearson's correlation of the covariance at update t with the entropy's change to update t + 1,
    H_t+1 − H_t (Cui et al.: negative); nan with fewer than 3 pairs or no spread."""
    c, h = np.asarray(cov, dtype=float), np.asarray(entropy, dtype=float)
    x, y = c[:-1], np.diff(h)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])
