"""Scores, intervals and Elo against hand-worked numbers."""

from __future__ import annotations

import math

import pytest

from kingme.arena.elo import (
    elo_from_score,
    expected_score,
    fit_rating,
    fit_ratings,
    match_stats,
    score,
    score_interval,
)


def test_score_and_elo_by_hand() -> None:
    assert score(6, 2, 2) == pytest.approx(0.7)  # (6 + 1) / 10
    assert elo_from_score(0.5) == 0.0
    # 0.75 = 1 / (1 + 10^(-D/400))  =>  D = 400 log10(3) = 190.849
    assert elo_from_score(0.75) == pytest.approx(190.849, abs=1e-3)
    assert elo_from_score(0.25) == pytest.approx(-190.849, abs=1e-3)
    # 0.9 => 400 log10(9) = 381.697
    assert elo_from_score(0.9) == pytest.approx(381.697, abs=1e-3)
    assert elo_from_score(1.0) == math.inf and elo_from_score(0.0) == -math.inf
    assert expected_score(190.849) == pytest.approx(0.75, abs=1e-6)


def test_wilson_interval_without_draws_by_hand() -> None:
    # 8 wins, 2 losses: Wilson with z = 1.96, n = 10, p = 0.8:
    #   centre = (0.8 + 3.8416/20) / (1 + 0.38416) = 0.99208 / 1.38416 = 0.716738
    #   half   = 1.96 / 1.38416 * sqrt(0.16/10 + 3.8416/400) = 1.416022 * 0.160012 = 0.226581
    lo, hi = score_interval(8, 0, 2)
    assert lo == pytest.approx(0.716738 - 0.226581, abs=2e-5)
    assert hi == pytest.approx(0.716738 + 0.226581, abs=2e-5)


def test_interval_with_draws_by_hand() -> None:
    # 6 wins, 2 draws, 2 losses: s = 0.7, draw rate d = 0.2, n = 10, z^2 = 3.8416
    #   a = n + z^2 = 13.8416;  b = 2 n s + z^2 = 17.8416;  c = n s^2 + z^2 d / 4 = 5.09208
    #   disc = b^2 - 4ac = 318.32269 - 281.92969 = 36.39300;  sqrt = 6.03266
    #   roots = (17.8416 -/+ 6.03266) / 27.6832 = 0.426583, 0.862407
    lo, hi = score_interval(6, 2, 2)
    assert lo == pytest.approx(0.426583, abs=2e-5)
    assert hi == pytest.approx(0.862407, abs=2e-5)
    # draws narrow the interval compared with the same score from wins and losses only
    lo7, hi7 = score_interval(7, 0, 3)
    assert hi - lo < hi7 - lo7


def test_all_wins_keeps_a_useful_lower_bound() -> None:
    # 20 wins of 20: Wilson lower end = n / (n + z^2) = 20 / 23.8416 = 0.838870
    st = match_stats(20, 0, 0)
    assert st.score == 1.0 and st.elo == math.inf
    assert st.score_ci[0] == pytest.approx(20 / 23.8416, abs=1e-4)
    assert st.score_ci[1] == 1.0
    assert st.elo_ci[0] == pytest.approx(elo_from_score(20 / 23.8416), abs=0.5)  # about +287
    d = st.as_dict()
    assert d["elo"] is None and d["elo_ci95"][1] is None and d["elo_ci95"][0] > 280


def test_all_draws_interval_is_the_point() -> None:
    lo, hi = score_interval(0, 10, 0)
    assert lo == pytest.approx(0.5) and hi == pytest.approx(0.5)


def test_fit_rating_single_opponent_is_the_elo_difference() -> None:
    r, lo, hi = fit_rating([(1500, 7.5, 10)])
    assert r == pytest.approx(1500 + 190.849, abs=1e-3)
    assert lo < r < hi

    # likelihood-ratio interval by hand at the ends: logL(end) = logL(max) - 1.92
    def loglik(x: float) -> float:
        e = expected_score(x - 1500)
        return 7.5 * math.log(e) + 2.5 * math.log(1 - e)

    assert loglik(lo) == pytest.approx(loglik(r) - 1.959964**2 / 2, abs=1e-6)
    assert loglik(hi) == pytest.approx(loglik(r) - 1.959964**2 / 2, abs=1e-6)


def test_fit_rating_several_opponents_balances_expected_and_actual_points() -> None:
    results = [(1000, 9, 10), (1500, 5, 10), (1800, 1, 10)]
    r, lo, hi = fit_rating(results)
    expected = sum(n * expected_score(r - o) for o, _, n in results)
    assert expected == pytest.approx(15.0, abs=1e-6)
    assert lo < r < hi


def test_fit_rating_all_wins_is_unbounded_above() -> None:
    r, lo, hi = fit_rating([(1500, 10, 10)])
    assert r == math.inf and hi == math.inf
    # lower end: 10 log E(lo) = -1.92  =>  E = exp(-0.192073) = 0.825246 => 1500 + 270.2
    assert lo == pytest.approx(1500 + elo_from_score(math.exp(-(1.959964**2) / 20)), abs=0.1)
    r, lo, hi = fit_rating([(1500, 0, 10)])
    assert r == -math.inf and lo == -math.inf and hi < 1500


def test_fit_ratings_chain() -> None:
    # A scores 75% against B, B 75% against C; anchor B = 1500
    ratings, se = fit_ratings([(0, 1, 7.5, 10), (1, 2, 7.5, 10)], 3, anchor=1, anchor_rating=1500)
    assert ratings == pytest.approx([1500 + 190.849, 1500, 1500 - 190.849], abs=1e-3)
    assert se[1] == 0 and se[0] > 0 and se[2] > 0
    # standard error for one pair by hand: 1 / sqrt(n e (1-e)) logistic units
    #   = 1 / sqrt(10 * 0.1875) = 0.730297; in Elo: * 400 / ln 10 = 126.866
    assert se[0] == pytest.approx(126.866, abs=1e-2)


def test_fit_ratings_rejects_a_perfect_score() -> None:
    with pytest.raises(ValueError, match="no finite ratings"):
        fit_ratings([(0, 1, 10, 10)], 2, anchor=1, anchor_rating=1500)
