"""Checkers strength: what is PPO's value worth inside a search, against a hand-written one?

One search, three evaluations. Every search player here is the same code, `NetSearch` of
`kingme.players.search` (negamax alpha-beta, the last two plies batched, captures played out before
a leaf is scored, iterative deepening, seeded ties), with two switches:
- (a) ``hand:D[:MS]``: leaves scored by `alphabeta`'s hand-written evaluation squashed into the
  critic's range, tanh(points / 300) (``leaf="hand"``), moves in generation order after the previous
  iteration's best (``order="none"``);
- (b) ``value:D[:MS]``: leaves scored by the model's critic, the same ordering as (a);
- (c) ``value+policy:D[:MS]``: the critic, and the model's policy ordering the moves: the
  ``search:policy:MODEL:D[:MS]`` player of the registry.
``policy`` is the raw policy with no search (the ``policy:MODEL`` player). D is the depth (plies),
MS a time limit per move (``value::20``: deepen until 20 ms).

Matches: from the 156 ACF 3-move openings, colours swapped (`kingme.arena.match.schedule_match`,
the match seed = the run's seed), the draw rules of the arena. An arm is one pairing "A vs B";
each seed plays ``games`` games, so the pooled match over seeds has seeds x games games, scored from
A's side with the draw-aware Wilson 95% interval and its Elo difference (`kingme.arena.elo`).

Ordering changes a search's cost, never its value: at a fixed depth (b) and (c) play the same
move in every position (tests/test_experiment_learned_eval.py checks it), so the fixed-depth
matches of (c) against (a) would repeat those of (b) game for game and are not played; (c) differs
from (b) only at equal time. The raw policy meets (a) and (c) at depths 1-4: where its Elo
against (a) crosses 0 is how many plies of the hand-written search the learned policy is worth,
and where its Elo against (c) crosses 0, how many plies of a search with its own network (the
TD-Gammon question: what search adds to what was learned).

Each run is one match of the `MATCH` kind (kingme.experiments.match_runs), played in this process.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from kingme.arena.elo import MatchStats, format_elo, match_stats
from kingme.experiments.base import NONNEGATIVE, UNIT, Arm, Experiment, Metric, Results
from kingme.experiments.match_runs import MATCH
from kingme.experiments.summaries import final_mean

ENV = "arena:acf"  # the arms' "environment": matches from the ACF 3-move openings
DEPTHS = (1, 2, 3, 4)
EQUAL_MS = 20  # the equal-time comparison: this many milliseconds per move for both sides
GAMES = {"depth": 12, "policy": 24, "time": 16}  # games per seed of each family (3 seeds by default)
TINY_GAMES, TINY_PLIES, TINY_MS = 2, 30, 1  # the smoke run: a game pair per seed, cut at 30 plies, 1 ms

# ------------------------------------------------------------------------------------------------
# The arms


def depth_label(a: str, b: str, d: int) -> str:
    return f"{a} vs {b}, depth {d}"


def depth_of(label: str, family: str) -> int | None:
    """D of a fixed-depth arm of `family` ("value vs hand", ...), else None."""
    head, sep, d = label.partition(", depth ")
    return int(d) if sep and head == family else None


def time_label(a: str, b: str, ms: int) -> str:
    return f"{a} vs {b}, {ms} ms"


POLICY_FAMILY = "policy vs hand"
VALUE_FAMILY = "value vs hand"
SEARCH_FAMILY = "value+policy vs policy"
# the fixed-depth families that measure the raw policy in plies: (family, policy is A, its opponent, what)
PLY_FAMILIES = (
    (POLICY_FAMILY, True, "hand", "the hand-written search"),
    (SEARCH_FAMILY, False, "value+policy", "the search with its own network"),
)


def arms(tiny: bool) -> list[Arm]:
    depths = DEPTHS[:1] if tiny else DEPTHS
    ms = TINY_MS if tiny else EQUAL_MS

    def arm(label: str, a: str, b: str, family: str) -> Arm:
        games = TINY_GAMES if tiny else GAMES[family]
        over: dict[str, Any] = {"a": a, "b": b, "games": games}
        return Arm(label, ENV, over | ({"max_plies": TINY_PLIES} if tiny else {}))

    out = [arm(depth_label("value", "hand", d), f"value:{d}", f"hand:{d}", "depth") for d in depths]
    out += [arm(depth_label("policy", "hand", d), "policy", f"hand:{d}", "policy") for d in depths]
    out += [arm(depth_label("value+policy", "policy", d), f"value+policy:{d}", "policy", "policy") for d in depths]
    pairs = [("value", "hand"), ("value+policy", "hand"), ("value+policy", "value")]
    out += [arm(time_label(a, b, ms), f"{a}::{ms}", f"{b}::{ms}", "time") for a, b in pairs]
    return out


# ------------------------------------------------------------------------------------------------
# The answer


def match_of(results: Results, label: str, flip: bool = False) -> MatchStats:
    """An arm's seeds pooled into one match, from A's side (from B's with `flip`)."""
    w, d, l = (int(sum(results.values(label, k))) for k in ("wins", "draws", "losses"))
    return match_stats(l, d, w) if flip else match_stats(w, d, l)


def pooled(results: Results, label: str) -> str:
    """The pooled match of an arm over its seeds: score [95% interval], W/D/L, Elo [interval]."""
    s = match_of(results, label)
    w, d, l = s.wins, s.draws, s.losses
    lo, elo, hi = (format_elo(x + 0.0) for x in (s.elo_ci[0], s.elo, s.elo_ci[1]))  # + 0.0: no "-0"
    elo = f"Elo {elo} [{lo}, {hi}]"
    return f"{s.score:.3f} [{s.score_ci[0]:.3f}, {s.score_ci[1]:.3f}] (+{w} ={d} −{l} of {s.games}), {elo}"


def verdict(results: Results, label: str, a: str, b: str) -> str:
    s = match_of(results, label)
    if s.score_ci[0] > 0.5:
        return f"{a} stronger"
    if s.score_ci[1] < 0.5:
        return f"{b} stronger"
    return "no difference found"


def cost(results: Results, label: str, side: str) -> str:
    ms, depth = results.summary(label, f"{side}_ms"), results.summary(label, f"{side}_depth")
    if math.isnan(ms.mean):
        return "no search"
    return f"{ms.mean:.1f} ms a searched move, depth {depth.mean:.2f}"


def policy_points(results: Results, family: str, policy_is_a: bool) -> list[tuple[int, float, float, float]]:
    """(D, the raw policy's Elo, its 95% interval) against the searches of a fixed-depth family."""
    points = []
    for a in results.arms:
        depth = depth_of(a.label, family)
        if depth is not None:
            s = match_of(results, a.label, flip=not policy_is_a)
            points.append((depth, s.elo + 0.0, s.elo_ci[0] + 0.0, s.elo_ci[1] + 0.0))
    return points


def crossing(points: list[tuple[int, float]]) -> float:
    """The D where an Elo that falls with D crosses 0, linear between the depths played: -inf if
    it is below 0 at every depth, +inf if never, NaN if it is not monotone there."""
    for (d0, e0), (d1, e1) in zip(points, points[1:]):
        if e0 >= 0 > e1:
            return d0 + (d1 - d0) * e0 / (e0 - e1) if math.isfinite(e0) and math.isfinite(e1) else (d0 + d1) / 2
    if all(e >= 0 for _, e in points):
        return math.inf
    return -math.inf if all(e < 0 for _, e in points) else math.nan


def plies_text(x: float, points: list[tuple[int, float]]) -> str:
    if x == math.inf:
        return f"at least {points[-1][0]}"
    if x == -math.inf:
        return f"less than {points[0][0]}"
    return "not monotone in D" if math.isnan(x) else f"{x:.1f}"


def crossing_sentence(points: list[tuple[int, float, float, float]], opponent: str, what: str) -> str:
    """How many plies of a search the raw policy is worth, from (D, its Elo against opponent:D,
    the interval): where the Elo crosses 0, and where the interval's two ends cross it."""
    elos = ", ".join(f"{format_elo(e)} [{format_elo(lo)}, {format_elo(hi)}] at D = {d}" for d, e, lo, hi in points)
    mid, low, high = ([(p[0], p[k]) for p in points] for k in (1, 2, 3))
    return (
        f"The raw policy's Elo against {opponent}:D is {elos}: it is worth about {plies_text(crossing(mid), mid)} "
        f"plies of {what} (the intervals' ends: {plies_text(crossing(low), low)} to "
        f"{plies_text(crossing(high), high)})."
    )


def conclude(results: Results) -> list[str]:
    out = []
    for a in results.arms:
        kind_a = a.label.split(" vs ")[0]
        kind_b = a.label.split(" vs ")[1].split(",")[0]
        out.append(
            f"{a.label}: {kind_a} scores {pooled(results, a.label)}: {verdict(results, a.label, kind_a, kind_b)}; "
            f"{kind_a} {cost(results, a.label, 'a')}, {kind_b} {cost(results, a.label, 'b')}."
        )
    for family, policy_is_a, opponent, what in PLY_FAMILIES:
        points = policy_points(results, family, policy_is_a)
        if points:
            out.append(crossing_sentence(points, opponent, what))
    return out


# ------------------------------------------------------------------------------------------------
# The plot


def extra_plots(results: Results, out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11.0, 4.4), gridspec_kw={"width_ratios": [3, 2]})
    lines = (
        (VALUE_FAMILY, "tab:blue", "value:D vs hand:D"),
        (POLICY_FAMILY, "tab:orange", "policy vs hand:D"),
        (SEARCH_FAMILY, "tab:green", "value+policy:D vs policy"),
    )
    for family, color, name in lines:
        xs, ys, lo, hi = [], [], [], []
        for a in results.arms:
            depth = depth_of(a.label, family)
            if depth is not None:
                s = match_of(results, a.label)
                xs.append(depth)
                ys.append(s.score)
                lo.append(s.score - s.score_ci[0])
                hi.append(s.score_ci[1] - s.score)
        if xs:
            ax.errorbar(xs, ys, yerr=[lo, hi], color=color, marker="o", capsize=4, label=name)
    ax.axhline(0.5, color="gray", lw=0.8, ls="--")
    ax.set_xlabel("search depth D (the raw policy does not search)", fontsize=11)
    ax.set_ylabel("score of the first player", fontsize=11)
    ax.set_ylim(0, 1)
    ax.set_xticks(list(DEPTHS))
    ax.legend(fontsize=9, frameon=False)
    ax.grid(alpha=0.3)
    ax.set_title("fixed depth (95% Wilson intervals)", fontsize=11)
    timed = [a for a in results.arms if a.label.endswith(" ms")]
    for i, a in enumerate(timed):
        s = match_of(results, a.label)
        bx.errorbar([s.score], [i], xerr=[[s.score - s.score_ci[0]], [s.score_ci[1] - s.score]], fmt="o", capsize=4)
    bx.set_yticks(range(len(timed)), [a.label.rsplit(",", 1)[0] for a in timed], fontsize=9)
    bx.axvline(0.5, color="gray", lw=0.8, ls="--")
    bx.set_xlim(0, 1)
    bx.set_xlabel("score of the first player", fontsize=11)
    bx.grid(alpha=0.3)
    bx.set_title(f"equal time ({timed[0].label.rsplit(', ', 1)[1]} a move)" if timed else "equal time", fontsize=11)
    fig.suptitle(f"learned-eval: pooled over {results.seeds} seeds", fontsize=11)
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=100)
    plt.close(fig)
    return [("scores.png", "scores by depth and at equal time, 95% intervals")]


EXPERIMENT = Experiment(
    name="learned-eval",
    title="Checkers: PPO's value against a hand-written evaluation, inside the same search",
    claim="A learned evaluation inside a search beats a hand-written one (GuiNN: +145 Elo at equal time; "
    "Blondie24's evolved network inside a 4-ply search), and search on top of a learned policy and value "
    "adds strength (TD-Gammon's 2-ply search).",
    question="In kingme's network search, at fixed depths 1-4 and at equal time, does the shipped model's critic "
    "beat alpha-beta's hand-written evaluation, does the policy's move ordering help, and how many plies of "
    "the hand-written search is the raw policy worth?",
    setup=f"""
Every search player is `NetSearch` (src/kingme/players/search.py): (a) `hand` scores the quiet leaves
with alphabeta's hand-written evaluation as tanh(points / 300), moves in generation order after the
previous iteration's best; (b) `value` scores them with the shipped model's critic, same ordering;
(c) `value+policy` adds the policy's ordering (it is `search:policy:MODEL`). At a fixed depth (b) and (c)
play the same moves (ordering changes only the cost), so (c) meets (a) only at equal time,
{EQUAL_MS} ms a move for both sides (`X::{EQUAL_MS}`: iterative deepening until the clock). `policy` is
the raw `policy:default` (no search); it meets (a) and (c) at depths 1-4, and the depth where its
Elo crosses 0 (linear between depths) is what it is worth in plies of each search. Matches from
the 156 ACF 3-move openings, colours swapped, one game at a time in one process; each seed is a
match with its own opening order and game seeds.
The table gives per-seed means with t-intervals over seeds, cut to each quantity's range; the answer
pools the seeds' games into one match per arm (score with the draw-aware Wilson 95% interval, Elo
difference from it).
"ms" is the wall time of a searched move (forced moves are not searched), "depth" the depth
reached, both from the matches' own moves; time limits are wall-clock, so other jobs on the core
cost the time-limited players depth.
""",
    arms=arms,
    metrics=[
        Metric("score", "score of A", final_mean("score"), 3, bounds=UNIT),
        Metric("wins", "A wins", final_mean("wins"), 3, bounds=NONNEGATIVE),
        Metric("draws", "draws", final_mean("draws"), 3, bounds=NONNEGATIVE),
        Metric("losses", "A losses", final_mean("losses"), 3, bounds=NONNEGATIVE),
        Metric("plies", "plies per game", final_mean("plies"), 3, bounds=NONNEGATIVE),
        Metric("a_ms", "A ms/move", final_mean("a_ms"), 2, bounds=NONNEGATIVE),
        Metric("a_depth", "A depth", final_mean("a_depth"), 2, bounds=NONNEGATIVE),
        Metric("b_ms", "B ms/move", final_mean("b_ms"), 2, bounds=NONNEGATIVE),
        Metric("b_depth", "B depth", final_mean("b_depth"), 2, bounds=NONNEGATIVE),
    ],
    curves=[],
    conclude=conclude,
    kind=MATCH,
    extra_plots=extra_plots,
    published="GuiNN Checkers 2.x: four small learned MLPs beat the same program's hand-written evaluation "
    "1169-31 with 1680 draws (+145 Elo) at 0.2 s a move; Blondie24: an evolved MLP inside a 4-ply search rated "
    "above 99.61% of its online human opponents; TD-Gammon: the same network with a 2-ply search went from "
    "strong expert to above the best humans (shared/reference/strength.md).",
)
