"""The goodhart experiment's maths (kingme.lm.overoptimisation) against hand computations and brute
force, and its verdict rule on chosen numbers (the tiny run through the harness is
tests/test_experiments.py::test_every_experiment_tiny once it is registered)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from kingme.experiments import goodhart as gh
from kingme.experiments.base import Results, RunResult
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


def fake_results(drop: float, agree: float, beta: float, grow: float, gap: float) -> Results:
    """Results of 3 seeds with chosen metrics (no training): every proxy's β and drop, the control's drop,
    the large proxy's agreement; the most-pairs proxies' peak `grow` above the fewest's; RL runs whose
    β > 0 arms end `gap` above the β = 0 curve at the same d."""
    arms = gh.arms(tiny=True)
    res = gh.EXPERIMENT.new_results(3, True, arms)
    pairs = gh.TINY["pairs"]
    for a in arms:
        for seed in (1, 2, 3):
            jitter = 0.01 * seed
            m = {"drop": drop + jitter, "beta": beta + jitter, "agree": agree + jitter, "peak": 0.5}
            if a.label in (gh.bon_label(s, pairs[-1]) for s in gh.SIZES):
                m["peak"] = 0.5 + grow + jitter
            series: dict[str, list[float | None]] = {}
            if a.label.startswith("RL"):
                d = [0.1 * i for i in range(12)]
                g = [0.5 + 0.01 * i for i in range(12)]
                if a.label != gh.rl_label(0.0):
                    d, g = d[:6], [v + gap + jitter for v in g[:6]]
                series = {gh.D: list(d), gh.GOLD: list(g)}
            res.runs.append(RunResult(a.label, a.env, seed, 0.0, list(range(len(series.get(gh.D, [0])))), series, m))
    return res


def test_verdict_rule() -> None:
    v = gh.verdicts(fake_results(drop=0.1, agree=0.8, beta=0.2, grow=0.1, gap=0.0))
    assert v == {"control": "yes", "partly right": "yes", "best-of-n": "reproduced", "scaling": "reproduced",
                 "kl": "stops earlier (as Gao et al.)"}  # fmt: skip
    v = gh.verdicts(fake_results(drop=0.1, agree=0.8, beta=-0.2, grow=-0.1, gap=0.1))
    assert (v["best-of-n"], v["scaling"], v["kl"]) == ("not reproduced", "not reproduced", "improves the frontier")
    assert gh.verdicts(fake_results(drop=0.1, agree=0.45, beta=0.2, grow=0.1, gap=0.0))["best-of-n"] == "inconclusive"
    assert gh.verdicts(fake_results(drop=-0.1, agree=0.8, beta=0.2, grow=0.1, gap=0.0))["control"] == "no"
    assert gh.conclude(fake_results(0.1, 0.8, 0.2, 0.1, 0.0))[-1].startswith("Verdict")


def test_planted_proxy_and_steps() -> None:
    gold, logp = np.array([[1.0, 0.0]]), np.array([[-1.0, -6.0]])
    assert gh.planted_proxy(gold, logp).ravel().tolist() == pytest.approx(
        [1.0 + gh.PLANT_PER_NAT, 6 * gh.PLANT_PER_NAT]
    )
    assert gh.rm_steps(500, 30, 500) == 30 and gh.rm_steps(8000, 30, 500) == 125
    assert gh.rm_steps(64000, 30, 500) == 500
