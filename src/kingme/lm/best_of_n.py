"""Best-of-n against a reward: draw n responses, keep the one the (proxy) reward scores highest.

Best-of-n is the simplest optimisation against a learned reward and the one whose distance from
the base policy is known in closed form. If the proxy reward r of a response drawn from the base
policy π is a continuous random variable (no ties), the best of n has the density n·F(r)^(n−1)·π
(F the distribution function of r under π), and

    KL(π_bon ‖ π) = E_bon[log n + (n − 1) log F(r)] = log n − (n − 1) / n

(E[log U] = −1/n for U = F(r) ~ Beta(n, 1); Gao, Schulman and Hilton 2023, Stiennon et al. 2020).
With a discrete distribution (a tiny language model writes the same response often) rewards tie,
and the exact KL is smaller: with the distinct reward values v_1 < ... < v_m of probability p_j
and F_j = p_1 + ... + p_j, best-of-n (ties broken among equals in proportion to π) picks value j
with probability q_j = F_j^n − F_(j−1)^n, so

    KL(π_bon ‖ π) = Σ_j q_j log(q_j / p_j)  ≤  log n − (n − 1) / n

(`best_of_n_kl_exact`; the formula is the limit as the outcomes become many and equally likely,
and a bound otherwise, Beirami et al. 2024). The Gao et al. axis is d = sqrt(KL).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike

from kingme.lm.labellers import gold_reward, sample_groups
from kingme.lm.tasks import Task
from kingme.transformer import GPT


def best_of_n_kl(n: int) -> float:
    """KL(π_bon ‖ π) = log n − (n − 1)/n, exact when the reward has no ties (module docstring)."""
    if n < 1:
        raise ValueError(f"best-of-n needs n >= 1, got {n}")
    return math.log(n) - (n - 1) / n


def best_of_n_kl_exact(probs: ArrayLike, rewards: ArrayLike, n: int) -> float:
    """KL(π_bon ‖ π) of best-of-n over a finite distribution: outcome i has probability probs[i] and
    reward rewards[i]; equal rewards form one value (the best of n picks among them in proportion to
    π, so their ratio to π is the same and the KL sums over values):
    Σ_j q_j log(q_j / p_j) with q_j = F_j^n − F_(j−1)^n over the distinct values in increasing order."""
    if n < 1:
        raise ValueError(f"best-of-n needs n >= 1, got {n}")
    p = np.asarray(probs, dtype=float)
    r = np.asarray(rewards, dtype=float)
    if p.shape != r.shape or p.ndim != 1 or (p < 0).any() or not math.isclose(p.sum(), 1.0, abs_tol=1e-9):
        raise ValueError("probs must be a probability vector with one reward per outcome")
    values, inverse = np.unique(r, return_inverse=True)  # values increasing
    p_value = np.bincount(inverse, weights=p, minlength=len(values))  # (m,) probability of each value
    F = np.cumsum(p_value)  # (m,)
    F_below = np.concatenate([[0.0], F[:-1]])  # (m,)
    q = F**n - F_below**n  # (m,) best-of-n's probability of each value
    keep = q > 0
    return float(np.sum(q[keep] * np.log(q[keep] / p_value[keep])))


def best_index(scores: torch.Tensor) -> torch.Tensor:
    """The index of the highest score in each row of scores (B, n), the first one on a tie: (B,)."""
    return torch.argmax(scores, dim=1)


@dataclass
class BestOfN:
    """The best of n responses to each prompt, by the proxy reward, with its proxy and gold rewards."""

    responses: list[str]  # (B,) the chosen response to each prompt
    proxy: list[float]  # (B,) its proxy reward
    gold: list[float]  # (B,) its gold reward (the exact verifier)
    n: int

    @property
    def kl(self) -> float:
        """log n − (n − 1)/n: the KL to the base policy if the proxy had no ties (an upper bound otherwise)."""
        return best_of_n_kl(self.n)


def best_of_n(
    model: GPT,
    task: Task,
    prompts: Sequence[str],
    n: int,
    proxy: Callable[[Sequence[str], Sequence[str]], Sequence[float] | torch.Tensor],
    temperature: float = 1.0,
    device: str = "cpu",
    shown: Sequence[str] | None = None,
) -> BestOfN:
    """Sample n responses to each bare task prompt from `model` and keep the proxy's favourite.

    `proxy(prompts, responses)` scores a batch (a `RewardModel.score`, or any function); it reads
    `shown` (the prompts as the proxy sees them, e.g. with a stated belief) when given, else `prompts`.
    Torch's global seed draws the samples.
    """
    if n < 1:
        raise ValueError(f"best-of-n needs n >= 1, got {n}")
    seen = list(shown) if shown is not None else list(prompts)
    groups = sample_groups(model, task, prompts, n, temperature, device)
    flat_prompts = [q for q in seen for _ in range(n)]
    flat = [o for group in groups for o in group]
    scores = torch.as_tensor(proxy(flat_prompts, flat), dtype=torch.float32).view(len(prompts), n)  # (B, n)
    pick = best_index(scores).tolist()
    chosen = [group[i] for group, i in zip(groups, pick, strict=True)]
    return BestOfN(
        responses=chosen,
        proxy=[float(scores[b, i]) for b, i in enumerate(pick)],
        gold=[gold_reward(task, q, o) for q, o in zip(seen, chosen, strict=True)],
        n=n,
    )
