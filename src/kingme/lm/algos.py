"""The RL algorithms for language models as pure functions of tensors, on top of `kingme.ppo.core`.

A rollout is a batch of B = P·G responses: P prompts, G samples each, rows of one prompt adjacent.
Per token t of response i: logp = log π_θ(o_i,t | q, o_i,<t), the sampling policy's logp_old, the
frozen reference model's ref_logp, the mask of real tokens (up to and including EOS). The verifier
gives one reward r_i per response.

Advantages (one number per response, given to each of its tokens, except PPO's):
    GRPO       Â_i = (r_i − mean(r)) / (std(r) + ε)           over the group of G
    Dr. GRPO   Â_i = r_i − mean(r)                            (no std: no difficulty bias)
    REINFORCE  Â_i = r_i − mean(r)                            (nanochat's "GRPO")
    RLOO       Â_i = r_i − (Σ_j r_j − r_i) / (G − 1)          (leave-one-out baseline)
    signed     Â_i = w₊ r_i − w₋ (1 − r_i)                    (no baseline; Zhu et al. 2025's PSR/NSR)
    PPO        Â_i,t from GAE over tokens, with the per-token reward
               r_i,t = −β (logp − ref_logp)_t  (+ r_i at the last token)

With the KL in the reward (`kl_in_reward`, β_reward = β) and a per-response advantage, r_i above is
the response's whole shaped reward, r_i − β Σ_t (logp_old − ref_logp)_i,t (`kl_penalised_scores`,
the k1 estimate of the response's KL, as RLOO's paper and RLHF define it): the group statistics or
the leave-one-out baseline are taken of it. Otherwise (β_loss = β) the KL is a k3 term in the loss.

The loss, for every algorithm (θ_old = the sampling policy, ratio ρ = exp(logp − logp_old)):

    L = Σ_i,t w_i,t · [ −min(ρ Â, clip(ρ, 1 − ε_low, 1 + ε_high) Â) + β_loss · k3_i,t ]
        (+ c_v · value loss for PPO)

where k3 = (ρ_ref − 1) − log ρ_ref, ρ_ref = π_ref / π_θ, estimates KL(π_θ ‖ π_ref), and the weights
w say how tokens are averaged (`token_weights`):
    "sequence"  w = 1 / (B·|o_i|)     GRPO: each response's tokens averaged, then the responses
    "token"     w = 1 / Σ_i |o_i|     DAPO: every token of the batch counts the same
    "constant"  w = 1 / (B·L)         Dr. GRPO: a fixed normaliser L, the response cap (as in TRL),
                                      so no length bias
    "sum"       w = 1 / B             RLOO: a response's log-probability is the sum of
                                      its tokens', the whole response one action

The clipped surrogate is `ppo.core.policy_loss`, the weights entering it exactly (see
`clipped_surrogate`); k3 is the per-token form of `ppo.core.approx_kl`'s (`weighted_k3`).
"""

from __future__ import annotations

from typing import Literal

import torch

from kingme.ppo.core import compute_gae, policy_loss

LossNorm = Literal["sequence", "token", "constant", "sum"]
K3_CLAMP = 20.0  # log-ratios beyond ±20 overflow exp() in k3 (as NVIDIA NeMo-RL found): clamp them


# ---------------------------------------------------------------------------------------------
# Advantages
# ---------------------------------------------------------------------------------------------


def group_advantages(rewards: torch.Tensor, scale_by_std: bool, eps: float = 1e-6) -> torch.Tensor:
    """Â = r − mean(r) over each group, divided by (std(r) + ε) when `scale_by_std` (GRPO).

    rewards (P, G) -> (P, G). The std is the sample standard deviation (÷ (G − 1)), as in
    DeepSeekMath and TRL. A group whose rewards are all equal gets Â = 0 either way.
    """
    centred = rewards - rewards.mean(dim=1, keepdim=True)  # (P, G)
    if not scale_by_std:
        return centred
    return centred / (rewards.std(dim=1, keepdim=True) + eps)


def rloo_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """Â_i = r_i − mean of the other G − 1 rewards (Ahmadian et al. 2024): (P, G) -> (P, G), G ≥ 2.

    Equal to G/(G − 1) · (r_i − mean(r)): the leave-one-out baseline does not depend on r_i, so the
    estimate is unbiased.
    """
    G = rewards.shape[1]
    if G < 2:
        raise ValueError("RLOO needs at least 2 samples per prompt")
    others = (rewards.sum(dim=1, keepdim=True) - rewards) / (G - 1)  # (P, G)
    return rewards - others


def signed_advantages(rewards: torch.Tensor, positive_weight: float, negative_weight: float) -> torch.Tensor:
    """Â = w₊·r − w₋·(1 − r), no baseline (Zhu et al. 2025): for a 0/1 reward, +w₊ on a right response
    and −w₋ on a wrong one. w₋ = 0 is positive-sample reinforcement (PSR, likelihood of the right
    ones up), w₊ = 0 negative-sample reinforcement (NSR, the wrong ones down), w₊ = 0.1, w₋ = 1 their
    W-REINFORCE. rewards (P, G) -> (P, G)."""
    return positive_weight * rewards - negative_weight * (1.0 - rewards)


def equal_reward_groups(rewards: torch.Tensor) -> torch.Tensor:
    """(P,) True where a group's rewards are all equal: its group advantage is 0, so it adds no gradient."""
    return (rewards == rewards[:, :1]).all(dim=1)


def kl_shaped_rewards(
    scores: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor, beta: float
) -> torch.Tensor:
    """InstructGPT's per-token reward: r_t = −β (logp_t − ref_logp_t), plus the verifier's score at
    the response's last token. scores (B,), the others (B, N) -> (B, N); 0 past the end."""
    m = mask.to(logp.dtype)
    rewards = -beta * (logp - ref_logp) * m  # (B, N)
    last = (mask.long().cumsum(dim=1) == mask.sum(dim=1, keepdim=True)) & mask  # (B, N) True at the last token
    return rewards + scores[:, None] * last.to(logp.dtype)


def kl_penalised_scores(
    scores: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor, beta: float
) -> torch.Tensor:
    """One reward per response with the KL penalty folded in: r_i − β Σ_t (logp − ref_logp)_i,t over
    its tokens, the sum of `kl_shaped_rewards` over each response. scores (B,), the others (B, N) -> (B,).

    The reward a per-response advantage (group or leave-one-out) is computed from when the KL is in
    the reward; with β = 0, `scores` itself.
    """
    if beta == 0.0:
        return scores
    return kl_shaped_rewards(scores, logp, ref_logp, mask, beta).sum(dim=1)  # (B, N) -> (B,)


def token_gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE over the tokens of each response, by `ppo.core.compute_gae`: ((B, N), (B, N)) advantages, returns.

    Each response is one episode that terminates at its last token (no bootstrap after it); tokens
    are the time axis, so the (B, N) arrays are transposed to compute_gae's (T, N) = (N, B).
    Positions past the end have reward 0, value 0 and count as terminated, so their advantage is 0.
    """
    m = mask.to(rewards.dtype)
    last = (mask.long().cumsum(dim=1) == mask.sum(dim=1, keepdim=True)) & mask  # (B, N)
    terminated = (last | ~mask).T  # (N, B): the episode ends at the last token; padding is inert
    truncated = torch.zeros_like(terminated)
    zeros = torch.zeros_like(rewards.T)  # (N, B)
    adv, ret = compute_gae(
        (rewards * m).T, (values * m).T, terminated, truncated, zeros, zeros[0], gamma=gamma, lam=lam
    )  # (N, B) each
    return adv.T * m, ret.T * m  # (B, N)


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------


def token_weights(mask: torch.Tensor, norm: LossNorm, max_len: int | None = None) -> torch.Tensor:
    """The weight w_i,t of each token in the loss (see the module docstring); (B, N) -> (B, N), 0 off the mask.

    "constant" divides by B · max_len, a fixed length (the sampler's response cap, as TRL's Dr. GRPO
    does), not by the batch's longest response: a token's weight then never depends on how long the
    other responses of its batch happen to be. It needs `max_len` ≥ N.
    """
    m = mask.to(torch.float32)
    B, N = m.shape
    if norm == "sequence":
        return m / (B * m.sum(dim=1, keepdim=True).clamp(min=1.0))
    if norm == "token":
        return m / m.sum().clamp(min=1.0)
    if norm == "constant":
        if max_len is None or max_len < N:
            raise ValueError(f"the constant normaliser needs a fixed max_len >= {N} (the response cap), got {max_len}")
        return m / (B * max_len)
    if norm == "sum":
        return m / B
    raise ValueError(f"unknown loss normalisation {norm!r}")


def clipped_surrogate(
    ratio: torch.Tensor, advantages: torch.Tensor, weights: torch.Tensor, eps_low: float | None, eps_high: float
) -> torch.Tensor:
    """Σ w · −min(ρ Â, clip(ρ, 1 − ε_low, 1 + ε_high) Â), by `ppo.core.policy_loss`; eps_low None = no clip.

    All (B, N). Two facts make this exact with the symmetric policy_loss:
    - for Â > 0 only the upper clip can bind, for Â < 0 only the lower one, so tokens with Â ≥ 0 use
      ε_high and the others ε_low (DAPO's clip-higher);
    - for w ≥ 0, min(ρ·Âw, c·Âw) = w·min(ρÂ, cÂ), so a mean over n tokens of advantages Â·w·n is
      the weighted sum.
    """
    on = weights > 0
    if eps_low is None:
        n = int(on.sum())
        return policy_loss(ratio[on], advantages[on] * weights[on] * n, None) if n else ratio.sum() * 0.0
    total = ratio.sum() * 0.0
    for part, eps in ((on & (advantages >= 0), eps_high), (on & (advantages < 0), eps_low)):
        n = int(part.sum())
        if n:
            total = total + policy_loss(ratio[part], advantages[part] * weights[part] * n, eps)
    return total


def weighted_k3(logp: torch.Tensor, ref_logp: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ w · k3, the k3 estimate of KL(π_θ ‖ π_ref) per token: k3 = (ρ − 1) − log ρ, log ρ = ref_logp − logp.

    The per-token form of `ppo.core.approx_kl`'s k3 (which returns its mean); all (B, N) -> 0-d.
    The log-ratio is clamped to ±K3_CLAMP first.
    """
    logratio = (ref_logp - logp).clamp(-K3_CLAMP, K3_CLAMP)  # (B, N)
    k3 = torch.expm1(logratio) - logratio  # (B, N), ≥ 0
    return (weights * k3).sum()


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of x over the tokens of mask (0 if there are none)."""
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1.0)


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of Chen et al. (2021): 1 − C(n − c, k) / C(n, k), for n samples of which c
    are correct, k ≤ n. Computed as a running product, which never forms the large binomials."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    fail = 1.0
    for i in range(n - c + 1, n + 1):  # C(n-c, k) / C(n, k) = Π_{i=n-c+1}^{n} (1 − k / i)
        fail *= 1.0 - k / i
    return 1.0 - fail
