"""The goodhart experiment's maths (kingme.lm.overoptimisation) against hand computations and brute
force, and its verdict rule on chosen numbers (the tiny run through the harness is
tests/test_experiments.py::test_every_experiment_tiny once it is registered)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from kingme.lm.overoptimisation import bon_estimate, bon_weights, fit_bon, fit_rl


def test_bon_weights_by_hand() -> None:
    assert bon_weights(3, 2) == pytest.approx([0.0, 1 / 3, 2 / 3])
    assert bon_weights(4, 1) == pytest.approx([0.25] * 4)
    assert bon_weights(4, 4) == pytest.approx([0.0, 0.0, 0.0, 1.0])
    assert bon_weights(64, 7).sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        bon_weights(3, 4)


def test_bon_estimate_against_every_subset() -> None:
    # by hand: proxies 0.1, 0.5, 0.3 with gold 0, 1, 0; of the three 2-subsets two hold the 0.5
    assert bon_estimate([0.1, 0.5, 0.3], [0, 1, 0], 2) == pytest.approx(2 / 3)
    rng = np.random.default_rng(0)
    proxy, gold = rng.normal(size=9), rng.integers(0, 2, size=9).astype(float)
    for n in (1, 2, 3, 5, 9):
        subsets = list(itertools.combinations(range(9), n))
        brute = np.mean([gold[max(s, key=lambda i: proxy[i])] for s in subsets])
        assert bon_estimate(proxy, gold, n) == pytest.approx(brute)


def test_fits_recover_known_coefficients() -> None:
    d = np.linspace(0.1, 2.5, 12)
    bon = fit_bon(d, d * (1.0 - 0.5 * d))
    assert (bon.alpha, bon.beta, bon.r2) == pytest.approx((1.0, 0.5, 1.0))
    assert (bon.d_peak, bon.r_peak) == pytest.approx((1.0, 0.5))  # α/2β, α²/4β
    rl = fit_rl(np.concatenate([[0.0], d]), np.concatenate([[0.0], d * (1.0 - 0.5 * np.log(d))]))
    assert (rl.alpha, rl.beta, rl.r2) == pytest.approx((1.0, 0.5, 1.0))
    assert rl.d_peak == pytest.approx(math.e)  # exp(α/β − 1)
    assert rl.r_peak == pytest.approx(math.e * (1.0 - 0.5))
    rising = fit_bon(d, 0.3 * d + 0.1 * d**2)  # no over-optimisation: β < 0, no peak
    assert rising.beta < 0 and math.isinf(rising.d_peak)
