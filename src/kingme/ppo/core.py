"""The mathematics of PPO as pure functions of tensors: no modules, no state, no environment.

Notation (Schulman et al. 2017; Schulman et al. 2016 for GAE):
    T steps per environment, N environments, A actions, B samples in a minibatch.
    r_t the reward, V(s_t) the critic, γ the discount, λ the GAE parameter,
    ratio r(θ) = π_θ(a|s) / π_θold(a|s), Â the advantage estimate, ε the clip coefficient.

Every function says its equation in its docstring and is tested against hand-worked values in
tests/test_ppo_core.py.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

EntropySchedule = Literal["constant", "linear", "exponential"]


# ---------------------------------------------------------------------------------------------
# Masked categorical policy
# ---------------------------------------------------------------------------------------------


def mask_logits(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Set the logits of illegal actions to the most negative finite value of their dtype.

    logits (B, A), mask (B, A) bool with True = legal (None = all legal). After the softmax an
    illegal action has probability exactly 0. A finite value rather than -inf keeps every
    intermediate finite, so 0 * log 0 never appears as 0 * -inf = NaN, in the forward pass or the
    backward pass.
    """
    if mask is None:
        return logits
    return torch.where(mask, logits, torch.finfo(logits.dtype).min)


def gumbel_noise(shape: tuple[int, ...], device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard Gumbel samples g = -log(-log U), U ~ Uniform(0, 1), as float32 of `shape`.

    U is kept away from 0 (at the smallest normal float): log(-log 0) would give a legal action
    -inf, below a masked logit.
    """
    u = torch.rand(shape, device=device).clamp_(min=torch.finfo(torch.float32).tiny)
    return -torch.log(-torch.log(u))


def sample_actions(logits: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
    """Draw one action per row from softmax(logits), shape (B, A) -> (B,) int64.

    Gumbel-max trick: argmax_a (logits_a + g_a), with g_a standard Gumbel noise, is distributed as
    softmax(logits). The rollout draws the noise for all its steps at once (`noise`, (B, A)), so
    sampling costs one add and one argmax per step. A masked logit (the dtype's minimum) stays the
    minimum after adding g, so an illegal action is never drawn.
    """
    if noise is None:
        noise = gumbel_noise(tuple(logits.shape), logits.device)
    return torch.argmax(logits + noise, dim=-1)


def log_prob(log_probs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log π(a|s) for the chosen actions: log_probs (B, A) from log_softmax, actions (B,) -> (B,)."""
    return log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)


def masked_entropy(log_probs: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """H[π(·|s)] = -Σ_{a legal} π(a|s) log π(a|s), over legal actions only: (B, A) -> (B,).

    Illegal actions have π = 0 and contribute nothing; they are dropped with `where` rather than
    multiplied by 0 so that no 0 * (huge negative) term enters the sum or its gradient. Their log
    π (about -3.4e38, from `mask_logits`) never reaches `exp` either: exp of an input that
    underflows takes a slow path on CPU (about 25 times slower than on ordinary inputs here), so
    they are replaced by 0 before it. The values and gradients are those of exp(log π) · log π.
    """
    if mask is not None:
        zero = torch.zeros_like(log_probs)
        safe = torch.where(mask, log_probs, zero)  # exp(0) = 1 is then dropped
        p_log_p = torch.where(mask, safe.exp() * safe, zero)
    else:
        p_log_p = log_probs.exp() * log_probs
    return -p_log_p.sum(-1)


# ---------------------------------------------------------------------------------------------
# Advantage estimation
# ---------------------------------------------------------------------------------------------


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    final_values: torch.Tensor,
    last_value: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation; returns (advantages, returns), each (T, N).

        δ_t = r_t + γ · (1 - terminated_t) · V_next(t) - V(s_t)
        Â_t = δ_t + γλ · (1 - done_t) · Â_{t+1}          done_t = terminated_t or truncated_t
        R_t = Â_t + V(s_t)                               (the critic's regression target)

    V_next(t) is the value of the state the transition at t led to:
        V(final_obs_t)  if the episode was truncated at t (time limit: the future still counts),
        V(s_{t+1})      otherwise, with V(s_T) = last_value for the step after the rollout.
    A terminated episode has no future (no bootstrap); an episode that ends either way stops the
    sum, since s_{t+1} then belongs to the next episode. If both flags are set, termination wins.

    Inputs: rewards, values, final_values (T, N) float (final_values read only where truncated);
    terminated, truncated (T, N) bool; last_value (N,). λ = 1 gives the Monte-Carlo return minus
    the baseline; λ = 0 gives the one-step TD error.
    """
    T = rewards.shape[0]
    nonterminal = 1.0 - terminated.to(rewards.dtype)  # (T, N)
    not_done = 1.0 - (terminated | truncated).to(rewards.dtype)  # (T, N)
    advantages = torch.zeros_like(rewards)
    next_adv = torch.zeros_like(last_value)
    next_value = last_value
    for t in reversed(range(T)):
        v_next = torch.where(truncated[t], final_values[t], next_value)
        delta = rewards[t] + gamma * nonterminal[t] * v_next - values[t]
        next_adv = delta + gamma * lam * not_done[t] * next_adv
        advantages[t] = next_adv
        next_value = values[t]
    return advantages, advantages + values


def discounted_returns(
    rewards: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor, gamma: float
) -> torch.Tensor:
    """Monte-Carlo reward-to-go inside the rollout, with no bootstrapping: (T, N) -> (T, N).

        G_t = r_t + γ · (1 - done_t) · G_{t+1},   G_T = 0

    The REINFORCE return: an episode cut by a time limit or by the end of the rollout loses its
    tail (nothing estimates it), so the rollout should be at least as long as an episode.
    It is compute_gae with V ≡ 0 and λ = 1.
    """
    zeros = torch.zeros_like(rewards)
    advantages, _ = compute_gae(rewards, zeros, terminated, truncated, zeros, zeros[0], gamma=gamma, lam=1.0)
    return advantages


def normalize(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x - mean(x)) / (std(x) + eps): per-minibatch advantage normalisation."""
    return (x - x.mean()) / (x.std() + eps)


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------


def policy_loss(ratio: torch.Tensor, advantages: torch.Tensor, clip_coef: float | None) -> torch.Tensor:
    """The clipped surrogate, to be minimised:

        L^CLIP = -E[ min(r · Â, clip(r, 1 - ε, 1 + ε) · Â) ]

    With clip_coef None the objective is the plain importance-sampled policy gradient -E[r · Â].
    """
    if clip_coef is None:
        return -(ratio * advantages).mean()
    clip_adv = torch.clamp(ratio, 1.0 - clip_coef, 1.0 + clip_coef) * advantages
    return -torch.min(ratio * advantages, clip_adv).mean()


def value_loss(
    values: torch.Tensor,
    values_old: torch.Tensor,
    returns: torch.Tensor,
    clip_coef: float | None,
) -> torch.Tensor:
    """Half the squared error of the critic, optionally clipped around the rollout's values:

        L^V = ½ E[(V(s) - R)²]
        clipped: L^V = ½ E[max((V - R)², (V_old + clip(V - V_old, -ε_v, ε_v) - R)²)]

    The ½ makes the gradient the plain error V - R. The clipped form (from OpenAI baselines)
    keeps the critic near the values it had when the rollout was collected.
    """
    err = (values - returns) ** 2
    if clip_coef is None:
        return 0.5 * err.mean()
    v_clipped = values_old + torch.clamp(values - values_old, -clip_coef, clip_coef)
    err_clipped = (v_clipped - returns) ** 2
    return 0.5 * torch.max(err, err_clipped).mean()


def two_hot(x: torch.Tensor, support: tuple[float, ...]) -> torch.Tensor:
    """Each value of x (B,) as a distribution over the increasing `support` (K,) points, (B, K):
    its weight split between the two neighbouring points so that the mean is x (clamped to the
    support's range). With the support (-1, 0, 1) a return of 0.3 is 0.7 draw + 0.3 win."""
    z = torch.tensor(support, dtype=x.dtype, device=x.device)  # (K,)
    x = x.clamp(float(z[0]), float(z[-1]))
    hi = torch.searchsorted(z, x.contiguous()).clamp(1, len(support) - 1)  # (B,) the point at or above x
    lo = hi - 1
    w_hi = (x - z[lo]) / (z[hi] - z[lo])  # (B,)
    out = torch.zeros((*x.shape, len(support)), dtype=x.dtype, device=x.device)
    out.scatter_(-1, lo.unsqueeze(-1), (1.0 - w_hi).unsqueeze(-1))
    out.scatter_add_(-1, hi.unsqueeze(-1), w_hi.unsqueeze(-1))
    return out


def categorical_value_loss(
    value_logits: torch.Tensor, returns: torch.Tensor, support: tuple[float, ...]
) -> torch.Tensor:
    """The critic's loss when it predicts a distribution over `support` (MuZero's categorical
    value; with (-1, 0, 1), win / draw / loss as Lc0 and KataGo predict them):

        L^V = E[ -Σ_i two_hot(R)_i log p_i(s) ]

    the cross-entropy to the return R written as a two-point distribution (`two_hot`)."""
    target = two_hot(returns, support)  # (B, K)
    return -(target * torch.log_softmax(value_logits, dim=-1)).sum(-1).mean()


def entropy_coef(schedule: EntropySchedule, start: float, end: float, progress: float) -> float:
    """The entropy coefficient c_e at `progress` ∈ [0, 1] (the fraction of training done):

    constant:     c_e = start
    linear:       c_e = start + (end - start) · progress
    exponential:  c_e = start · (end / start) ** progress   (start, end > 0)
    """
    progress = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return start
    if schedule == "linear":
        return start + (end - start) * progress
    if schedule == "exponential":
        return start * math.exp(progress * math.log(end / start))
    raise ValueError(f"unknown entropy schedule {schedule!r}")


# ---------------------------------------------------------------------------------------------
# Diagnostics
# ---------------------------------------------------------------------------------------------


def approx_kl(logratio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimates of KL(π_old ‖ π_θ) from samples of a ~ π_old, with log r = log π_θ - log π_old:

        k1 = E[-log r]                (unbiased, high variance, can be negative)
        k3 = E[(r - 1) - log r]       (unbiased, low variance, never negative; J. Schulman 2020)

    Returns (k1, k3) as 0-d tensors.
    """
    ratio = logratio.exp()
    return (-logratio).mean(), ((ratio - 1.0) - logratio).mean()


def clip_fraction(ratio: torch.Tensor, clip_coef: float) -> torch.Tensor:
    """The fraction of samples whose ratio lies outside [1 - ε, 1 + ε]: E[|r - 1| > ε]."""
    return ((ratio - 1.0).abs() > clip_coef).float().mean()


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """1 - Var[target - predicted] / Var[target]: 1 is a perfect critic, 0 is no better than the
    mean, negative is worse. NaN when the target is constant."""
    var_target = target.var()
    if var_target.item() == 0.0:
        return float("nan")
    return float(1.0 - (target - predicted).var() / var_target)
