"""The RL-for-LM maths against hand-worked values and brute force."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from kingme.lm.algos import (
    clipped_surrogate,
    equal_reward_groups,
    group_advantages,
    kl_penalised_scores,
    kl_shaped_rewards,
    pass_at_k,
    rloo_advantages,
    token_gae,
    token_weights,
    weighted_k3,
)
from kingme.ppo.core import policy_loss

T, F = True, False


def test_group_advantages_by_hand() -> None:
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0], [3.0, 0.0, 0.0, 0.0]])
    centred = group_advantages(r, scale_by_std=False)
    torch.testing.assert_close(centred[0], torch.tensor([0.5, -0.5, -0.5, 0.5]))
    torch.testing.assert_close(centred[2], torch.tensor([2.25, -0.75, -0.75, -0.75]))
    scaled = group_advantages(r, scale_by_std=True)
    s = math.sqrt(1 / 3)  # sample std of (1, 0, 0, 1): sqrt(4 · 0.25 / 3)
    torch.testing.assert_close(scaled[0], torch.tensor([0.5, -0.5, -0.5, 0.5]) / (s + 1e-6))
    torch.testing.assert_close(scaled[2], torch.tensor([2.25, -0.75, -0.75, -0.75]) / (1.5 + 1e-6))
    assert torch.all(scaled[1] == 0) and torch.all(centred[1] == 0)  # all equal: no signal
    assert equal_reward_groups(r).tolist() == [False, True, False]


def test_rloo_advantages_by_hand() -> None:
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [2.0, 0.0, 1.0, 1.0]])
    loo = rloo_advantages(r)
    torch.testing.assert_close(loo[0], torch.tensor([2 / 3, -2 / 3, -2 / 3, 2 / 3]))
    # row 2: 2 - (0+1+1)/3, 0 - (2+1+1)/3, 1 - (2+0+1)/3, 1 - (2+0+1)/3
    torch.testing.assert_close(loo[1], torch.tensor([4 / 3, -4 / 3, 0.0, 0.0]))
    torch.testing.assert_close(loo, 4 / 3 * group_advantages(r, scale_by_std=False))
    with pytest.raises(ValueError):
        rloo_advantages(torch.ones(3, 1))


def test_kl_shaped_rewards_by_hand() -> None:
    logp = torch.tensor([[-1.0, -2.0, -3.0, 0.0]])
    ref = torch.tensor([[-1.5, -2.0, -2.0, -7.0]])
    mask = torch.tensor([[T, T, T, F]])
    r = kl_shaped_rewards(torch.tensor([1.0]), logp, ref, mask, beta=0.1)
    torch.testing.assert_close(r, torch.tensor([[-0.05, 0.0, 1.1, 0.0]]))


def test_token_gae_by_hand() -> None:
    rewards = torch.tensor([[0.0, 0.0, 1.0, 0.0], [2.0, 5.0, 5.0, 5.0]])
    values = torch.tensor([[0.5, 0.6, 0.7, 9.0], [1.0, 9.0, 9.0, 9.0]])
    mask = torch.tensor([[T, T, T, F], [T, F, F, F]])
    adv, ret = token_gae(rewards, values, mask, gamma=1.0, lam=0.5)
    # row 0: δ = (0.6-0.5, 0.7-0.6, 1-0.7) = (0.1, 0.1, 0.3); Â_2 = 0.3, Â_1 = 0.1 + 0.5·0.3, Â_0 = 0.1 + 0.5·0.25
    torch.testing.assert_close(adv[0], torch.tensor([0.225, 0.25, 0.3, 0.0]))
    torch.testing.assert_close(ret[0], torch.tensor([0.725, 0.85, 1.0, 0.0]))
    # row 1: one token, terminated at once: Â = 2 - 1, and nothing from the padding leaks in
    torch.testing.assert_close(adv[1], torch.tensor([1.0, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(ret[1], torch.tensor([2.0, 0.0, 0.0, 0.0]))
    # λ = 1, γ = 1: the advantage is the return-to-go minus the value
    adv1, _ = token_gae(rewards, values, mask, gamma=1.0, lam=1.0)
    torch.testing.assert_close(adv1[0], torch.tensor([0.5, 0.4, 0.3, 0.0]))


def test_token_weights_by_hand() -> None:
    mask = torch.tensor([[T, T, F], [T, F, F]])
    torch.testing.assert_close(token_weights(mask, "sequence"), torch.tensor([[0.25, 0.25, 0.0], [0.5, 0.0, 0.0]]))
    torch.testing.assert_close(token_weights(mask, "token"), torch.tensor([[1 / 3, 1 / 3, 0.0], [1 / 3, 0.0, 0.0]]))
    torch.testing.assert_close(
        token_weights(mask, "constant", max_len=5), torch.tensor([[1 / 10, 1 / 10, 0.0], [1 / 10, 0.0, 0.0]])
    )
    torch.testing.assert_close(token_weights(mask, "sum"), torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.0, 0.0]]))


def test_the_constant_normaliser_is_fixed_not_the_batch_longest() -> None:
    """Dr. GRPO: a 2-token response weighs 1 / (B·L) whatever the lengths of the others in its batch."""
    short = torch.tensor([[T, T, F, F], [T, F, F, F]])  # the batch's longest response: 2 tokens
    long = torch.tensor([[T, T, F, F], [T, T, T, T]])  # ... 4 tokens
    for mask in (short, long, short[:, :2]):
        assert token_weights(mask, "constant", max_len=8)[0, 0].item() == pytest.approx(1 / 16)
    with pytest.raises(ValueError, match="max_len"):
        token_weights(long, "constant")  # no silent fallback to the batch's width
    with pytest.raises(ValueError, match="max_len"):
        token_weights(long, "constant", max_len=3)  # shorter than a response


def test_kl_in_the_reward_for_a_per_response_advantage() -> None:
    scores = torch.tensor([1.0, 0.0])
    logp = torch.tensor([[-1.0, -2.0, 0.0], [-0.5, 0.0, 0.0]])
    ref = torch.tensor([[-1.5, -1.0, 9.0], [-0.5, 0.0, 0.0]])
    mask = torch.tensor([[T, T, F], [T, F, F]])
    # r − β Σ_t (logp − ref)_t over the real tokens: 1 − 0.1·(0.5 − 1.0) and 0 − 0.1·0
    torch.testing.assert_close(kl_penalised_scores(scores, logp, ref, mask, 0.1), torch.tensor([1.05, 0.0]))
    assert kl_penalised_scores(scores, logp, ref, mask, 0.0) is scores


def _random_batch(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    B, N = 6, 5
    logratio = (torch.rand(B, N, generator=g) - 0.5) * 1.2
    adv = torch.randn(B, N, generator=g)
    lengths = torch.randint(1, N + 1, (B,), generator=g)
    mask = torch.arange(N)[None, :] < lengths[:, None]
    return logratio, adv, mask, token_weights(mask, "sequence")


@pytest.mark.parametrize(("eps_low", "eps_high"), [(0.2, 0.2), (0.2, 0.28), (0.1, 0.5), (None, 0.2)])
def test_clipped_surrogate_equals_the_weighted_brute_force(eps_low: float | None, eps_high: float) -> None:
    logratio, adv, mask, w = _random_batch(1)
    lr1 = logratio.clone().requires_grad_(True)
    lr2 = logratio.clone().requires_grad_(True)
    got = clipped_surrogate(lr1.exp(), adv, w, eps_low, eps_high)
    ratio = lr2.exp()
    if eps_low is None:
        expect = -(w * ratio * adv).sum()
    else:
        expect = -(w * torch.min(ratio * adv, ratio.clamp(1 - eps_low, 1 + eps_high) * adv)).sum()
    torch.testing.assert_close(got, expect)
    got.backward()
    expect.backward()
    assert lr1.grad is not None and lr2.grad is not None
    torch.testing.assert_close(lr1.grad, lr2.grad)


def test_clipped_surrogate_with_token_weights_is_ppo_core_policy_loss() -> None:
    logratio, adv, mask, _ = _random_batch(2)
    w = token_weights(mask, "token")
    got = clipped_surrogate(logratio.exp(), adv, w, 0.2, 0.2)
    torch.testing.assert_close(got, policy_loss(logratio.exp()[mask], adv[mask], 0.2))


def test_weighted_k3_equals_the_brute_force() -> None:
    logratio, _, mask, w = _random_batch(3)
    logp = torch.randn(logratio.shape)
    ref = logp + logratio
    r = torch.exp(ref - logp)
    expect = (w * ((r - 1) - (ref - logp))).sum()
    torch.testing.assert_close(weighted_k3(logp, ref, w), expect)
    assert weighted_k3(logp, logp, w).item() == 0.0
    huge = weighted_k3(torch.zeros(1, 2), torch.tensor([[-1e4, 1e4]]), torch.full((1, 2), 0.5))
    assert math.isfinite(huge.item())  # clamped, not inf


def _brute_pass_at_k(n: int, c: int, k: int) -> float:
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


def test_pass_at_k_matches_a_brute_force_count() -> None:
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(_brute_pass_at_k(n, c, k), abs=1e-12), (n, c, k)
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(200, 1, 64) == pytest.approx(64 / 200)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)
