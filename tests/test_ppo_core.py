"""The pure functions of kingme.ppo.core against hand-worked values and reference loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kingme.ppo import core


def col(*xs: float) -> torch.Tensor:
    """A (T, 1) float column: one environment."""
    return torch.tensor(xs, dtype=torch.float32).unsqueeze(1)


def flags(*xs: int) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.bool).unsqueeze(1)


# ---------------------------------------------------------------------------------------------
# GAE, worked by hand: T = 3, one environment, r = 1 at every step, V = (0.5, 0.4, 0.3),
# V(s_3) = 0.2, γ = 0.9, λ = 0.8 (so γλ = 0.72).
# ---------------------------------------------------------------------------------------------

GAMMA, LAM = 0.9, 0.8
R = col(1.0, 1.0, 1.0)
V = col(0.5, 0.4, 0.3)
LAST = torch.tensor([0.2])
NO = flags(0, 0, 0)
FINAL = col(0.0, 0.7, 0.0)  # V(final_obs) = 0.7 where an episode is truncated at t = 1


def gae(terminated: torch.Tensor, truncated: torch.Tensor, lam: float = LAM) -> torch.Tensor:
    adv, ret = core.compute_gae(R, V, terminated, truncated, FINAL, LAST, GAMMA, lam)
    torch.testing.assert_close(ret, adv + V)
    return adv.squeeze(1)


def test_gae_no_episode_end() -> None:
    # δ2 = 1 + 0.9·0.2 − 0.3 = 0.88, δ1 = 1 + 0.9·0.3 − 0.4 = 0.87, δ0 = 1 + 0.9·0.4 − 0.5 = 0.86
    # A2 = 0.88, A1 = 0.87 + 0.72·0.88 = 1.5036, A0 = 0.86 + 0.72·1.5036 = 1.942592
    torch.testing.assert_close(gae(NO, NO), torch.tensor([1.942592, 1.5036, 0.88]))


def test_gae_termination_does_not_bootstrap() -> None:
    # Terminated at t = 1: δ1 = 1 + 0 − 0.4 = 0.6 and the sum stops there.
    # A2 = 0.88, A1 = 0.6, A0 = 0.86 + 0.72·0.6 = 1.292
    torch.testing.assert_close(gae(flags(0, 1, 0), NO), torch.tensor([1.292, 0.6, 0.88]))


def test_gae_truncation_bootstraps_from_final_obs() -> None:
    # Truncated at t = 1 with V(final_obs) = 0.7: δ1 = 1 + 0.9·0.7 − 0.4 = 1.23, the sum stops.
    # A2 = 0.88, A1 = 1.23, A0 = 0.86 + 0.72·1.23 = 1.7456
    torch.testing.assert_close(gae(NO, flags(0, 1, 0)), torch.tensor([1.7456, 1.23, 0.88]))


def test_gae_termination_wins_over_truncation() -> None:
    torch.testing.assert_close(gae(flags(0, 1, 0), flags(0, 1, 0)), gae(flags(0, 1, 0), NO))


def test_gae_end_at_last_step() -> None:
    # Terminated at t = 2: δ2 = 1 − 0.3 = 0.7 (no V(s_3)); A1 = 0.87 + 0.72·0.7 = 1.374;
    # A0 = 0.86 + 0.72·1.374 = 1.84928
    torch.testing.assert_close(gae(flags(0, 0, 1), NO), torch.tensor([1.84928, 1.374, 0.7]))


def test_gae_lambda_zero_is_td_error_and_lambda_one_is_monte_carlo() -> None:
    torch.testing.assert_close(gae(NO, NO, lam=0.0), torch.tensor([0.86, 0.87, 0.88]))
    # λ = 1: A_t + V_t = r_t + γ r_{t+1} + ... + γ^{T-t} V(s_T)
    mc = torch.tensor([1 + 0.9 + 0.81 + 0.729 * 0.2, 1 + 0.9 + 0.81 * 0.2, 1 + 0.9 * 0.2])
    torch.testing.assert_close(gae(NO, NO, lam=1.0) + V.squeeze(1), mc)


def test_gae_environments_are_independent() -> None:
    rewards = torch.cat([R, col(0.0, 2.0, -1.0)], dim=1)  # (T, 2)
    values = torch.cat([V, col(0.1, 0.2, 0.3)], dim=1)
    term = torch.cat([flags(0, 1, 0), NO], dim=1)
    trunc = torch.cat([NO, flags(1, 0, 0)], dim=1)
    final = torch.cat([FINAL, col(0.9, 0.0, 0.0)], dim=1)
    last = torch.tensor([0.2, -0.4])
    adv, _ = core.compute_gae(rewards, values, term, trunc, final, last, GAMMA, LAM)
    for n in range(2):
        one, _ = core.compute_gae(
            rewards[:, n : n + 1],
            values[:, n : n + 1],
            term[:, n : n + 1],
            trunc[:, n : n + 1],
            final[:, n : n + 1],
            last[n : n + 1],
            GAMMA,
            LAM,
        )
        torch.testing.assert_close(adv[:, n], one[:, 0])


def reference_gae(r, v, term, trunc, final, last, gamma, lam):  # type: ignore[no-untyped-def]
    """A plain-Python loop straight from the definition, one environment."""
    T = len(r)
    adv = [0.0] * T
    for t in range(T):
        total, discount = 0.0, 1.0
        for k in range(t, T):
            if trunc[k] and not term[k]:
                v_next = final[k]
            elif k + 1 < T:
                v_next = v[k + 1]
            else:
                v_next = last
            delta = r[k] + gamma * (0.0 if term[k] else v_next) - v[k]
            total += discount * delta
            if term[k] or trunc[k]:
                break
            discount *= gamma * lam
        adv[t] = total
    return adv


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.floats(-5, 5), st.floats(-5, 5), st.booleans(), st.booleans(), st.floats(-5, 5)),
        min_size=1,
        max_size=12,
    ),
    last=st.floats(-5, 5),
    gamma=st.floats(0, 1),
    lam=st.floats(0, 1),
)
def test_gae_matches_reference_loop(data, last, gamma, lam) -> None:  # type: ignore[no-untyped-def]
    r, v, term, trunc, final = (list(x) for x in zip(*data))
    expected = reference_gae(r, v, term, trunc, final, last, gamma, lam)
    adv, _ = core.compute_gae(
        col(*r),
        col(*v),
        flags(*term),
        flags(*trunc),
        col(*final),
        torch.tensor([last]),
        gamma,
        lam,
    )
    np.testing.assert_allclose(adv[:, 0].numpy(), expected, rtol=1e-4, atol=1e-4)


def test_discounted_returns_by_hand() -> None:
    # r = (1, 2, 3, 4), γ = 0.5, terminated at t = 1, truncated at t = 3 (no bootstrap either way):
    # G3 = 4, G2 = 3 + 0.5·4 = 5, G1 = 2, G0 = 1 + 0.5·2 = 2
    g = core.discounted_returns(col(1, 2, 3, 4), flags(0, 1, 0, 0), flags(0, 0, 0, 1), 0.5)
    torch.testing.assert_close(g.squeeze(1), torch.tensor([2.0, 2.0, 5.0, 4.0]))


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------


def test_policy_loss_by_hand() -> None:
    ratio = torch.tensor([1.5, 0.5, 1.0])
    adv = torch.tensor([1.0, 1.0, -1.0])
    # r·A = (1.5, 0.5, −1), clip(r, 0.8, 1.2)·A = (1.2, 0.8, −1), min = (1.2, 0.5, −1)
    torch.testing.assert_close(core.policy_loss(ratio, adv, 0.2), torch.tensor(-0.7 / 3))
    torch.testing.assert_close(core.policy_loss(ratio, adv, None), torch.tensor(-1.0 / 3))


def test_policy_loss_clipped_samples_get_no_gradient() -> None:
    ratio = torch.tensor([1.5, 0.5, 0.5, 1.5], requires_grad=True)
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0])
    core.policy_loss(ratio, adv, 0.2).backward()
    # Clipped: r > 1 + ε with A > 0 and r < 1 − ε with A < 0. The others keep −A/n.
    assert ratio.grad is not None
    torch.testing.assert_close(ratio.grad, torch.tensor([0.0, -0.25, 0.0, 0.25]))


def test_value_loss_by_hand() -> None:
    values, old, returns = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 2.0]), torch.tensor([2.0, 2.0])
    # unclipped: ½·mean((−1)², 0) = 0.25; clipped to old ± 0.5: V = (0.5, 2) -> err (2.25, 0)
    torch.testing.assert_close(core.value_loss(values, old, returns, None), torch.tensor(0.25))
    torch.testing.assert_close(core.value_loss(values, old, returns, 0.5), torch.tensor(0.5625))


def test_entropy_schedules() -> None:
    assert core.entropy_coef("constant", 0.1, 0.0, 0.7) == 0.1
    assert core.entropy_coef("linear", 0.1, 0.0, 0.5) == pytest.approx(0.05)
    assert core.entropy_coef("linear", 0.1, 0.02, 1.0) == pytest.approx(0.02)
    assert core.entropy_coef("exponential", 0.1, 0.001, 0.5) == pytest.approx(0.01)
    assert core.entropy_coef("exponential", 0.1, 0.001, 0.0) == pytest.approx(0.1)
    assert core.entropy_coef("exponential", 0.1, 0.001, 1.0) == pytest.approx(0.001)


def test_approx_kl_by_hand() -> None:
    logratio = torch.tensor([0.0, math.log(2.0)])
    k1, k3 = core.approx_kl(logratio)
    assert float(k1) == pytest.approx(-math.log(2.0) / 2)
    assert float(k3) == pytest.approx((1.0 - math.log(2.0)) / 2)


def test_approx_kl_k3_is_exact_in_expectation() -> None:
    # E_{a~p}[(q/p − 1) − log(q/p)] = KL(p‖q): weight every action by p instead of sampling.
    g = torch.Generator().manual_seed(0)
    p = torch.softmax(torch.randn(5, generator=g), 0)
    q = torch.softmax(torch.randn(5, generator=g), 0)
    logratio = (q / p).log()
    k3_terms = (logratio.exp() - 1) - logratio
    kl = (p * (p / q).log()).sum()
    torch.testing.assert_close((p * k3_terms).sum(), kl)
    torch.testing.assert_close((p * -logratio).sum(), kl)


def test_clip_fraction() -> None:
    ratio = torch.tensor([1.0, 1.1, 1.3, 0.7])
    assert float(core.clip_fraction(ratio, 0.2)) == 0.5


def test_explained_variance() -> None:
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert core.explained_variance(y, y) == pytest.approx(1.0)
    assert core.explained_variance(torch.full((4,), 2.5), y) == pytest.approx(0.0)
    assert core.explained_variance(-y, y) < 0
    assert math.isnan(core.explained_variance(y, torch.ones(4)))


def test_normalize() -> None:
    x = core.normalize(torch.tensor([1.0, 2.0, 3.0, 10.0]))
    assert float(x.mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(x.std()) == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# Masked categorical
# ---------------------------------------------------------------------------------------------


def test_masked_actions_have_probability_zero_and_no_nan() -> None:
    logits = torch.tensor([[0.3, -1.0, 2.0, 0.5], [1.0, 1.0, 1.0, 1.0]], requires_grad=True)
    mask = torch.tensor([[True, False, False, True], [False, False, True, False]])
    log_probs = torch.log_softmax(core.mask_logits(logits, mask), dim=-1)
    probs = log_probs.exp()
    assert torch.all(probs[~mask] == 0)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2))
    entropy = core.masked_entropy(log_probs, mask)
    # Row 1 has one legal action: entropy exactly 0. Row 0 is a softmax over two logits.
    p = torch.softmax(torch.tensor([0.3, 0.5]), 0)
    torch.testing.assert_close(entropy, torch.stack([-(p * p.log()).sum(), torch.tensor(0.0)]))
    loss = core.log_prob(log_probs, torch.tensor([3, 2])).sum() + entropy.sum()
    loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
    assert torch.all(logits.grad[~mask] == 0)


def test_entropy_over_legal_actions_of_uniform_logits() -> None:
    mask = torch.tensor([[True, True, False, True, False]])
    log_probs = torch.log_softmax(core.mask_logits(torch.zeros(1, 5), mask), dim=-1)
    assert float(core.masked_entropy(log_probs, mask)[0]) == pytest.approx(math.log(3))


def test_sample_actions_never_illegal_and_matches_softmax() -> None:
    torch.manual_seed(0)
    B, A = 20_000, 4
    logits = torch.tensor([1.0, 0.0, -1.0, 2.0]).expand(B, A)
    mask = torch.rand(B, A) < 0.5
    mask[torch.arange(B), torch.randint(0, A, (B,))] = True  # at least one legal action
    actions = core.sample_actions(core.mask_logits(logits, mask))
    assert mask[torch.arange(B), actions].all()
    # Unmasked: frequencies follow softmax(logits) (4 standard errors at most).
    free = core.sample_actions(logits)
    freq = torch.bincount(free, minlength=A).float() / B
    p = torch.softmax(logits[0], 0)
    assert torch.all((freq - p).abs() < 4 * torch.sqrt(p * (1 - p) / B))


def test_gumbel_noise_is_bounded_so_a_legal_action_always_beats_a_masked_one() -> None:
    # U is clamped to [tiny, 1), so g ≥ −log(−log tiny) ≈ −4.47 and g ≤ −log(−log(1 − 2⁻²⁴)) ≈ 16.6.
    lo = -math.log(-math.log(torch.finfo(torch.float32).tiny))
    hi = -math.log(-math.log1p(-(2.0**-24)))
    g = core.gumbel_noise((100_000,))
    assert float(g.min()) >= lo - 1e-4 and float(g.max()) <= hi + 1e-4
    logits = torch.tensor([[-50.0, -50.0, -50.0]])
    mask = torch.tensor([[False, True, False]])
    noise = torch.tensor([[hi, lo, hi]])
    assert core.sample_actions(core.mask_logits(logits, mask), noise).tolist() == [1]


def test_two_hot_splits_a_return_between_its_neighbouring_points() -> None:
    from kingme.ppo.core import two_hot

    x = torch.tensor([-1.0, -0.25, 0.0, 0.3, 1.0, 2.0])
    got = two_hot(x, (-1.0, 0.0, 1.0))
    want = torch.tensor(
        [
            [1.0, 0.0, 0.0],
            [0.25, 0.75, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.7, 0.3],
            [0.0, 0.0, 1.0],
            [0.0, 0.0, 1.0],  # clamped to the support
        ]
    )
    assert torch.allclose(got, want)
    assert torch.allclose(got @ torch.tensor([-1.0, 0.0, 1.0]), x.clamp(-1, 1))


def test_categorical_value_loss_is_the_cross_entropy_to_the_two_hot_return() -> None:
    from kingme.nets import categorical_value
    from kingme.ppo.core import categorical_value_loss

    logits = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    returns = torch.tensor([0.5, -1.0])
    # row 0: p = 1/3 each, target (0, .5, .5): -log(1/3); row 1: target (1, 0, 0): -log softmax[0]
    lse = math.log(math.exp(1) + math.exp(2) + math.exp(3))
    want = (math.log(3) + (lse - 1.0)) / 2
    assert float(categorical_value_loss(logits, returns, (-1.0, 0.0, 1.0))) == pytest.approx(want, rel=1e-6)
    p = torch.softmax(logits[1], -1)
    assert float(categorical_value(logits, (-1.0, 0.0, 1.0))[1]) == pytest.approx(float(p[2] - p[0]), rel=1e-6)
