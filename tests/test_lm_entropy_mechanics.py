"""kingme.lm.entropy_mechanics against hand computations: the covariance of log-probability and
advantage, the Clip-Cov, KL-Cov and top-entropy selections, KL-Cov's penalty, and the law
R = −a·exp(H) + b recovering a known a and b."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kingme.lm import entropy_mechanics as em

T, F = True, False


def test_covariance_of_a_hand_made_rollout() -> None:
    # tokens (mask): logp -1, -2 | -3; Â 1, 1 | -1. Means -2 and 1/3; centred products
    # (1)(2/3) = 2/3, (0)(2/3) = 0, (-1)(-4/3) = 4/3; their mean 2/3. Padding counts for nothing.
    logp = torch.tensor([[-1.0, -2.0, 7.0], [-3.0, 9.0, 9.0]])
    adv = torch.tensor([[1.0, 1.0, 5.0], [-1.0, 5.0, 5.0]])
    mask = torch.tensor([[T, T, F], [T, F, F]])
    c = em.token_covariance(logp, adv, mask)
    assert c.flatten().tolist() == pytest.approx([2 / 3, 0.0, 0.0, 4 / 3, 0.0, 0.0])
    assert float(em.covariance(logp, adv, mask)) == pytest.approx(2 / 3)
    # the covariance of numpy's population formula over the same three tokens
    assert float(em.covariance(logp, adv, mask)) == pytest.approx(np.cov([-1, -2, -3], [1, 1, -1], bias=True)[0, 1])
    assert float(em.covariance(logp, adv, torch.zeros_like(mask))) == 0.0  # no tokens: 0, not NaN


def test_a_group_advantage_that_is_constant_has_no_covariance() -> None:
    logp = torch.tensor([[-0.5, -1.5], [-2.0, -0.1]])
    adv = torch.full((2, 2), 0.7)
    assert float(em.covariance(logp, adv, torch.ones(2, 2, dtype=torch.bool))) == pytest.approx(0.0, abs=1e-7)


def test_share_count() -> None:
    assert em.share_count(0.0, 100) == 0
    assert em.share_count(2e-4, 100) == 1  # at least one, as Cui et al.'s max(int(r·n), 1)
    assert em.share_count(0.05, 100) == 5
    assert em.share_count(0.059, 100) == 5  # int, not round
    assert em.share_count(1.0, 7) == 7
    assert em.share_count(0.5, 0) == 0


COV = torch.tensor([[0.5, 2.0, 3.0, 9.0], [1.5, -4.0, 4.9, 1.0]])
MASK = torch.tensor([[T, T, T, T], [T, T, T, F]])


def test_clip_cov_picks_at_random_inside_the_bounds() -> None:
    # eligible in (1, 5): 2.0, 3.0 (row 0) and 1.5, 4.9 (row 1); 1.0 is on the bound, 9.0 above, the
    # last token is off the mask. 7 tokens, share 0.3 -> int(2.1) = 2 picked.
    eligible = torch.tensor([[F, T, T, F], [T, F, T, F]])
    seen = torch.zeros(2, 4)
    for seed in range(40):
        pick = em.clip_cov_selection(COV, MASK, 0.3, 1.0, 5.0, generator=torch.Generator().manual_seed(seed))
        assert int(pick.sum()) == 2 and not (pick & ~eligible).any()
        seen += pick.float()
    assert bool((seen[eligible] > 0).all())  # every eligible token gets picked by some seed
    everything = em.clip_cov_selection(COV, MASK, 1.0, 1.0, 5.0)  # more asked than eligible: all of them
    assert everything.tolist() == eligible.tolist()
    assert not em.clip_cov_selection(COV, MASK, 0.0, 1.0, 5.0).any()


def test_clip_cov_leaves_out_the_tokens_the_ratio_clip_binds() -> None:
    exclude = torch.tensor([[F, T, T, F], [T, F, F, F]])
    pick = em.clip_cov_selection(COV, MASK, 1.0, 1.0, 5.0, exclude=exclude)
    assert pick.tolist() == [[F, F, F, F], [F, F, T, F]]  # 4.9 alone is left


def test_ratio_clipped() -> None:
    ratio = torch.tensor([1.3, 1.1, 0.7, 0.9, 1.3, 0.7])
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0, -1.0, 1.0])
    # Â > 0 and ρ > 1.28: clipped; Â < 0 and ρ < 0.8: clipped; the wrong side of the clip never binds
    assert em.ratio_clipped(ratio, adv, 0.2, 0.28).tolist() == [T, F, T, F, F, F]


def test_kl_cov_picks_the_largest_products() -> None:
    # 7 tokens on the mask, share 0.3 -> 2: 9.0 and 4.9 (3.0 next); the largest value off the mask never
    pick = em.kl_cov_selection(COV, MASK, 0.3)
    assert pick.tolist() == [[F, F, F, T], [F, F, T, F]]
    assert em.kl_cov_selection(COV, MASK, 1e-4).tolist() == [[F, F, F, T], [F, F, F, F]]  # at least one
    off = COV.clone()
    off[1, 3] = 100.0  # off the mask
    assert em.kl_cov_selection(off, MASK, 0.3).tolist() == pick.tolist()


def test_top_entropy_selection() -> None:
    ent = torch.tensor([[0.1, 0.5, 0.3], [0.9, 0.2, 5.0]])
    mask = torch.tensor([[T, T, T], [T, T, F]])
    # 5 tokens, share 0.4 -> 2: 0.9 and 0.5 (5.0 is padding)
    assert em.top_entropy_selection(ent, mask, 0.4).tolist() == [[F, T, F], [T, F, F]]
    # share 0.5 -> ceil(2.5) = 3: and 0.3
    assert em.top_entropy_selection(ent, mask, 0.5).tolist() == [[F, T, T], [T, F, F]]
    assert em.top_entropy_selection(ent, mask, 1.0).tolist() == mask.tolist()
    # Wang et al.'s 20% of 10 tokens: 2
    assert int(em.top_entropy_selection(torch.arange(10.0)[None], torch.ones(1, 10, dtype=torch.bool), 0.2).sum()) == 2


def test_kl_cov_penalty_value_and_gradient() -> None:
    old = torch.tensor([[-1.0, -2.0], [-0.5, -3.0]])
    w = torch.tensor([[0.25, 0.0], [0.25, 0.25]])
    logp = torch.tensor([[-1.5, -1.0], [-0.5, -2.0]], requires_grad=True)
    pen = em.weighted_abs_logratio(logp, old, w)
    assert float(pen.detach()) == pytest.approx(0.25 * 0.5 + 0.0 + 0.25 * 0.0 + 0.25 * 1.0)
    pen.backward()
    assert logp.grad is not None
    assert logp.grad.tolist() == [[-0.25, 0.0], [0.0, 0.25]]  # w·sign(logp − old); 0 where equal
    at_old = old.clone().requires_grad_(True)
    em.weighted_abs_logratio(at_old, old, w).backward()
    assert at_old.grad is not None and not at_old.grad.any()  # at θ_old the penalty does nothing


def test_fit_recovers_a_and_b_by_hand() -> None:
    # H = 0, ln 2: x = exp(H) = 1, 2; R = 0.5, 0.3 -> slope −0.2: a = 0.2, b = 0.5 + 0.2 = 0.7
    a, b = em.fit_entropy_law([0.0, math.log(2.0)], [0.5, 0.3])
    assert (a, b) == pytest.approx((0.2, 0.7))
    assert em.law(a, b, [0.0]).tolist() == pytest.approx([0.5])
    assert all(math.isnan(v) for v in em.fit_entropy_law([0.3, 0.3], [0.1, 0.2]))  # no spread in H
    assert all(math.isnan(v) for v in em.fit_entropy_law([0.3], [0.1]))
    assert em.fit_entropy_law([0.0, float("nan"), math.log(2.0)], [0.5, 0.9, 0.3]) == pytest.approx((0.2, 0.7))


def test_fit_recovers_a_known_law_through_noise() -> None:
    rng = np.random.default_rng(0)
    h = 0.05 + 0.6 * np.exp(-np.arange(200) / 40)  # entropy falling from 0.65 to about 0.06
    r = -0.8 * np.exp(h) + 1.3 + rng.normal(0, 0.02, 200)
    a, b = em.fit_entropy_law(h, r)
    assert a == pytest.approx(0.8, abs=0.05) and b == pytest.approx(1.3, abs=0.06)


def test_law_prediction_on_a_planted_law_and_on_a_broken_one() -> None:
    h = 0.05 + 0.6 * np.exp(-np.arange(100) / 15)
    r = em.law(0.8, 1.3, h)
    p = em.law_prediction(h, r, fit_share=0.1, tail=0.1)
    assert p.fitted == 10 and (p.a, p.b) == pytest.approx((0.8, 1.3))
    assert p.mae == pytest.approx(0.0, abs=1e-9) and p.final_error == pytest.approx(0.0, abs=1e-9)
    # the constant prediction (the mean of the first ten) misses what the falling entropy brought
    assert p.constant_final_error == pytest.approx(float(r[:10].mean() - r[-9:].mean()))
    assert p.constant_final_error < -0.1
    broken = r.copy()
    broken[10:] -= 0.2  # after the fit, R drops by 0.2 whatever H does
    q = em.law_prediction(h, broken)
    assert q.mae == pytest.approx(0.2) and q.final_error == pytest.approx(0.2)
    with pytest.raises(ValueError, match="more than 3 points"):
        em.law_prediction([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])


def test_lagged_correlation() -> None:
    # ΔH = −1, −2, −3 after covariances 1, 2, 3: correlation −1
    assert em.lagged_correlation([1.0, 2.0, 3.0, 4.0], [10.0, 9.0, 7.0, 4.0]) == pytest.approx(-1.0)
    assert math.isnan(em.lagged_correlation([1.0, 2.0, 3.0], [1.0, 1.0, 1.0]))  # the entropy never moved
