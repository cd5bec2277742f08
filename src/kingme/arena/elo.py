"""Scores, confidence intervals and Elo ratings.

Definitions (all from player A's side)
-------------------------------------
- score ``s = (W + D/2) / N``.
- Elo difference ``elo(s) = -400 log10(1/s - 1)``: the rating gap at which the logistic Elo
  model expects the score s (s = 0.75 is +190.8; s = 1 is +infinity).
- 95% interval on the score: the Wilson score interval, generalised to draws. A game is worth
  X in {0, 1/2, 1}; with the draw rate held at its observed value d, a true mean p gives
  ``Var X = p - d/4 - p^2``. The interval is every p with ``N (s - p)^2 <= z^2 Var X(p)``, the
  roots of ``(N + z^2) p^2 - (2 N s + z^2) p + (N s^2 + z^2 d / 4) = 0`` (z = 1.96). With no
  draws this is exactly Wilson's interval. Unlike the plain normal interval it stays inside
  [0, 1] and does not collapse to a point when one side wins every game (20 wins of 20 gives
  [0.839, 1]).
- the Elo interval is the score interval mapped through ``elo`` (it is monotone).

Rating against fixed opponents (`fit_rating`): the maximum-likelihood rating R given results
against opponents of known ratings r_k, with the logistic model ``E_k = 1 / (1 + 10^((r_k -
R)/400))`` and a draw counted as half a win and half a loss; it solves ``sum_k S_k = sum_k N_k
E_k``. Its 95% interval is the likelihood-ratio interval (``2 (logL_max - logL(R)) <= 3.84``),
which still has a finite lower end when every game was won.

Joint ratings (`fit_ratings`): the same model over many players at once (Bradley-Terry), with one
player's rating fixed as the anchor, solved by Newton's method; its standard errors come from the
inverse of the observed information.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
LN10_400 = math.log(10) / 400  # Elo points to natural logistic units


def score(wins: int, draws: int, losses: int) -> float:
    n = wins + draws + losses
    if n <= 0:
        raise ValueError("no games")
    return (wins + 0.5 * draws) / n


def score_interval(wins: int, draws: int, losses: int, z: float = Z95) -> tuple[float, float]:
    """The draw-aware Wilson interval on the score (see the module docstring)."""
    n = wins + draws + losses
    s = score(wins, draws, losses)
    d = draws / n
    z2 = z * z
    a = n + z2
    b = 2 * n * s + z2
    c = n * s * s + z2 * d / 4
    disc = max(b * b - 4 * a * c, 0.0)
    root = math.sqrt(disc)
    lo, hi = (b - root) / (2 * a), (b + root) / (2 * a)
    return max(0.0, min(lo, s)), min(1.0, max(hi, s))


def elo_from_score(s: float) -> float:
    """Elo difference expected to give score s (±inf at 1 and 0)."""
    if s >= 1.0:
        return math.inf
    if s <= 0.0:
        return -math.inf
    return -400.0 * math.log10(1.0 / s - 1.0)


def expected_score(diff: float) -> float:
    """Expected score of a player rated ``diff`` Elo above its opponent."""
    return 1.0 / (1.0 + 10.0 ** (-diff / 400.0))


@dataclass(frozen=True)
class MatchStats:
    wins: int
    draws: int
    losses: int
    score: float
    score_ci: tuple[float, float]
    elo: float
    elo_ci: tuple[float, float]

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: an infinite Elo is written as null."""
        return {
            "games": self.games,
            "wins": self.wins,
            "draws": self.draws,
            "losses": self.losses,
            "score": round(self.score, 6),
            "score_ci95": [round(self.score_ci[0], 6), round(self.score_ci[1], 6)],
            "elo": finite_or_none(self.elo),
            "elo_ci95": [finite_or_none(self.elo_ci[0]), finite_or_none(self.elo_ci[1])],
        }


def finite_or_none(x: float, digits: int = 1) -> float | None:
    return round(x, digits) if math.isfinite(x) else None


def match_stats(wins: int, draws: int, losses: int) -> MatchStats:
    s = score(wins, draws, losses)
    lo, hi = score_interval(wins, draws, losses)
    return MatchStats(
        wins,
        draws,
        losses,
        s,
        (lo, hi),
        elo_from_score(s),
        (elo_from_score(lo), elo_from_score(hi)),
    )


def format_elo(x: float) -> str:
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    return f"{x:+.0f}"


# ------------------------------------------------------------------------------------------------
# One rating against fixed opponents


def _loglik(r: float, results: Sequence[tuple[float, float, int]]) -> float:
    total = 0.0
    for opp, pts, n in results:
        x = (r - opp) * LN10_400
        # log E = -log(1 + e^-x), log(1 - E) = -log(1 + e^x), computed stably
        total -= pts * np.logaddexp(0.0, -x) + (n - pts) * np.logaddexp(0.0, x)
    return float(total)


def fit_rating(
    results: Sequence[tuple[float, float, int]], z: float = Z95, span: float = 4000.0
) -> tuple[float, float, float]:
    """Maximum-likelihood rating from ``(opponent rating, points scored, games)`` triples, with
    its likelihood-ratio interval: (rating, low, high). A player who won (lost) every game has no
    finite maximum: the rating and the interval's high (low) end are +inf (-inf)."""
    results = [(float(o), float(p), int(n)) for o, p, n in results if n > 0]
    if not results:
        raise ValueError("no games to rate")
    points = sum(p for _, p, _ in results)
    games = sum(n for _, _, n in results)
    lo_r = min(o for o, _, _ in results) - span
    hi_r = max(o for o, _, _ in results) + span

    def grad(r: float) -> float:  # d logL / dR (up to the positive factor ln10/400)
        return sum(p - n * expected_score(r - o) for o, p, n in results)

    if points <= 0:
        best, lmax = -math.inf, 0.0
    elif points >= games:
        best, lmax = math.inf, 0.0
    else:
        a, b = lo_r, hi_r
        for _ in range(200):
            m = 0.5 * (a + b)
            if grad(m) > 0:
                a = m
            else:
                b = m
        best = 0.5 * (a + b)
        lmax = _loglik(best, results)
    target = lmax - z * z / 2

    def crossing(inside: float, outside: float) -> float:
        """Bisection for logL = target between a point inside the interval and one outside."""
        for _ in range(200):
            m = 0.5 * (inside + outside)
            if _loglik(m, results) >= target:
                inside = m
            else:
                outside = m
        return 0.5 * (inside + outside)

    if math.isinf(best):
        edge = crossing(hi_r if best > 0 else lo_r, lo_r if best > 0 else hi_r)
        return (best, edge, math.inf) if best > 0 else (best, -math.inf, edge)
    low = crossing(best, lo_r) if _loglik(lo_r, results) < target else -math.inf
    high = crossing(best, hi_r) if _loglik(hi_r, results) < target else math.inf
    return best, low, high


# ------------------------------------------------------------------------------------------------
# Joint ratings


def fit_ratings(
    pairs: Sequence[tuple[int, int, float, int]],
    n_players: int,
    anchor: int,
    anchor_rating: float,
    iters: int = 100,
    names: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bradley-Terry maximum likelihood: ``pairs`` are (i, j, points of i against j, games);
    returns (ratings, standard errors), with player ``anchor`` fixed at ``anchor_rating`` (its
    standard error 0). ValueError if some player's results have no finite maximum (it won or lost
    every game it played, taking the connected results together)."""
    points = np.zeros(n_players)
    games = np.zeros(n_players)
    for i, j, p, n in pairs:
        points[i] += p
        points[j] += n - p
        games[i] += n
        games[j] += n
    for k in range(n_players):
        if games[k] > 0 and points[k] in (0, games[k]):
            verb = "won" if points[k] else "lost"
            who = names[k] if names else f"player {k}"
            raise ValueError(f"no finite ratings: {who} {verb} every game it played")
    free = [k for k in range(n_players) if k != anchor]
    q = np.zeros(n_players)  # ratings in natural logistic units, anchor at 0

    def loglik(q: np.ndarray) -> float:
        total = 0.0
        for i, j, p, n in pairs:
            x = q[i] - q[j]
            total -= p * np.logaddexp(0.0, -x) + (n - p) * np.logaddexp(0.0, x)
        return float(total)

    def grad_hess(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = np.zeros(n_players)
        h = np.zeros((n_players, n_players))
        for i, j, p, n in pairs:
            e = 1.0 / (1.0 + math.exp(-(q[i] - q[j])))
            g[i] += p - n * e
            g[j] -= p - n * e
            w = n * e * (1 - e)
            h[i, i] -= w
            h[j, j] -= w
            h[i, j] += w
            h[j, i] += w
        return g[free], h[np.ix_(free, free)]

    ll = loglik(q)
    for _ in range(iters):
        g, h = grad_hess(q)
        try:
            step = np.linalg.solve(h, -g)
        except np.linalg.LinAlgError:
            raise ValueError("the results do not connect every player to the anchor") from None
        t = 1.0
        while t > 1e-6:
            cand = q.copy()
            cand[free] += t * step
            new = loglik(cand)
            if new >= ll - 1e-12:
                break
            t /= 2
        q, ll = cand, new
        if np.max(np.abs(t * step)) < 1e-10:
            break
    if np.max(np.abs(q)) > 30:  # 30 logistic units ~ 5200 Elo: running off to infinity
        raise ValueError("no finite ratings: some player won or lost every game it played")
    _, h = grad_hess(q)
    cov = np.linalg.inv(-h)
    se = np.zeros(n_players)
    se[free] = np.sqrt(np.diag(cov)) / LN10_400
    ratings = anchor_rating + q / LN10_400
    return ratings, se
