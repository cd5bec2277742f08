"""The ladder: fixed search bots with measured ratings, and the one way to rate a player on it.

`LADDER` holds the rungs, weakest first; `DEEP_RUNGS` the ones above them that a player may be
rated on but is not by default (they are slow); `RUNG_RATINGS` their ratings on a scale anchored at
`ANCHOR` (``alphabeta:4``) = `ANCHOR_RATING` (1500). The ratings are constants measured once with::

    kingme ladder --measure --games 312 --seed 0

(`measure_ladder`: each rung against its neighbours, plus a chain of `BRIDGES` between ``greedy``
and ``alphabeta:2``, whose direct gap is too wide to measure; all results fitted jointly with the
anchor fixed); docs/arena.md records that run. A deep rung was measured later against the fixed
rungs below it (`kingme ladder alphabeta:10 --rungs alphabeta:8 --games 200`).

`run_ladder(player, games)` plays a player (a spec, or a player object such as a network being
trained) against every rung from the ACF openings, colours swapped, and fits its rating by maximum
likelihood against the fixed rung ratings over all its games (`kingme.arena.elo.fit_rating`).
`kingme ladder`, the evaluation during self-play training and the web page's suggested opponents
all use this module, so the Elo printed during training is the Elo `kingme ladder` prints.

Every ladder game is capped at `LADDER_MAX_PLIES` = 400 plies (the arena's `MAX_PLIES`), the cap
under which the rung ratings were measured; a game reaching it is a draw. The 80-ply rule and
threefold repetition end almost every game long before (none of the measurement's 2808 games
reached the cap), so the cap is only a safety net.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kingme.arena.elo import MatchStats, finite_or_none, fit_rating, fit_ratings, match_stats
from kingme.arena.match import MAX_PLIES, GameRecord, GameSpec, play_schedule, schedule_match, tally
from kingme.arena.openings import acf_openings
from kingme.common import UserError
from kingme.players import Player, load_player

LADDER: tuple[str, ...] = (
    "random",
    "greedy",
    "alphabeta:2",
    "alphabeta:4",
    "alphabeta:6",
    "alphabeta:8",
)
ANCHOR = "alphabeta:4"
ANCHOR_RATING = 1500.0
# The rungs self-play training is rated on between updates by default: the ladder up to the anchor
# (the same rungs, ratings and ply cap as `kingme ladder`; fewer games per evaluation).
TRAINING_RUNGS: tuple[str, ...] = LADDER[:4]
# Measuring instruments, not rungs: alphabeta:2 with 50%, 25% and 10% of its moves random.
BRIDGES: tuple[str, ...] = ("mix:0.5:alphabeta:2", "mix:0.25:alphabeta:2", "mix:0.1:alphabeta:2")
LADDER_MAX_PLIES = MAX_PLIES  # the ply cap of every ladder game (the ratings were measured with it)

# Above the top: rungs a player may be rated on (`--rungs ...,alphabeta:10`) but not played by
# default (alphabeta:10 takes about 90 ms a move here, 16 times alphabeta:8), measured against the
# fixed rungs below them: `kingme ladder alphabeta:10 --rungs alphabeta:8 --games 200` and
# `kingme ladder alphabeta:12 --rungs alphabeta:10 --games 100` (about 0.7 s a move; docs/arena.md).
DEEP_RUNGS: tuple[str, ...] = ("alphabeta:10", "alphabeta:12")

# Measured with `kingme ladder --measure --games 312 --seed 0` (see docs/arena.md); the deep rungs
# as above.
RUNG_RATINGS: dict[str, float] = {
    "random": 209.4,
    "greedy": 238.4,
    "alphabeta:2": 1212.3,
    "alphabeta:4": ANCHOR_RATING,
    "alphabeta:6": 1745.7,
    "alphabeta:8": 1910.8,
    "alphabeta:10": 2088.0,
    "alphabeta:12": 2256.4,
}


def check_rungs(rungs: Sequence[str]) -> tuple[str, ...]:
    """The rungs as a tuple; UserError (one line) if empty, repeated or not on the ladder."""
    out = tuple(r.strip() for r in rungs if r.strip())
    if not out:
        raise UserError(f"no rungs given: expected some of {', '.join(LADDER + DEEP_RUNGS)}")
    for r in out:
        if r not in RUNG_RATINGS:
            raise UserError(f"unknown rung {r!r}: expected some of {', '.join(LADDER + DEEP_RUNGS)}")
    if len(set(out)) != len(out):
        raise UserError(f"a rung is given twice in {','.join(out)}")
    return out


def check_games(games: int) -> None:
    if games < 2 or games % 2:
        raise UserError(
            f"bad game count {games}: --games must be a positive even number "
            "(each opening is played twice, colours swapped)"
        )


# ------------------------------------------------------------------------------------------------
# Rating one player


@dataclass(frozen=True)
class RungResult:
    """The player's games against one rung, from the player's side."""

    rung: str
    rating: float  # the rung's fixed rating
    stats: MatchStats  # wins, draws, losses, score with its 95% interval, Elo difference

    def as_dict(self) -> dict[str, Any]:
        return {"opponent": self.rung, "rating": self.rating, **self.stats.as_dict()}


@dataclass(frozen=True)
class LadderResult:
    """A player's ladder run: per-rung results and the fitted rating with its 95% interval
    (±inf when the player won or lost every game)."""

    player: str
    rungs: tuple[RungResult, ...]
    elo: float
    elo_ci: tuple[float, float]  # likelihood-ratio 95% interval
    seed: int
    mode: str  # how the games ran: "lockstep", "pool" or "sequential"
    seconds: float
    records: tuple[GameRecord, ...] = field(default=(), repr=False, compare=False)

    @property
    def games(self) -> int:
        return sum(r.stats.games for r in self.rungs)

    def rung(self, name: str) -> RungResult:
        for r in self.rungs:
            if r.rung == name:
                return r
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (an infinite Elo is written as null), as `kingme ladder --json` prints it."""
        return {
            "player": self.player,
            "anchor": {ANCHOR: ANCHOR_RATING},
            "rungs": [r.as_dict() for r in self.rungs],
            "elo": finite_or_none(self.elo),
            "elo_ci95": [finite_or_none(self.elo_ci[0]), finite_or_none(self.elo_ci[1])],
            "games": self.games,
            "seed": self.seed,
            "mode": self.mode,
            "max_plies": LADDER_MAX_PLIES,
            "seconds": round(self.seconds, 2),
        }


def run_ladder(
    player: str | Player,
    games: int = 40,
    rungs: Sequence[str] = LADDER,
    seed: int = 0,
    workers: int = 2,
    progress: bool = False,
) -> LadderResult:
    """``player`` (a spec, or a player object: its ``name`` labels it) against each rung, ``games``
    games each (even: every opening twice, colours swapped), from the ACF openings in an order
    drawn from ``seed``; all rungs' games form one schedule, so a batched player sees all of them
    in one lockstep. A player object that cannot batch is played in this process (``workers`` is
    for specs). Returns the per-rung results and the fitted Elo."""
    rungs = check_rungs(rungs)
    check_games(games)
    if isinstance(player, str):
        name = player.strip()
        players = None  # loaded from the specs by the arena
    else:
        name = player.name
        if name in rungs:  # keep the player apart from a rung of the same name
            name = f"{name} (player)"
        players = {name: player, **{r: load_player(r) for r in rungs}}
        workers = 1  # worker processes build players from specs; an object is played here
    openings = acf_openings()
    specs: list[GameSpec] = []
    for rung in rungs:
        specs += schedule_match(name, rung, games, seed, openings, rung, len(specs))
    played = play_schedule(specs, workers, LADDER_MAX_PLIES, f"{name} ladder", progress, players)
    results = []
    fit_input = []
    for rung in rungs:
        t = tally([r for r in played.records if r.spec.label == rung])
        results.append(RungResult(rung, RUNG_RATINGS[rung], match_stats(t.wins, t.draws, t.losses)))
        fit_input.append((RUNG_RATINGS[rung], t.wins + 0.5 * t.draws, t.games))
    elo, lo, hi = fit_rating(fit_input)
    return LadderResult(name, tuple(results), elo, (lo, hi), seed, played.mode, played.seconds, tuple(played.records))


# ------------------------------------------------------------------------------------------------
# Measuring the ladder itself


def measurement_pairs(rungs: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The players and the (stronger, weaker) pairs of the ladder measurement: each rung against
    its neighbour, plus, where ``greedy`` and ``alphabeta:2`` are neighbours, the chain of
    `BRIDGES` between them (that gap is too wide to measure: alphabeta:2 wins every game)."""
    players = list(rungs)
    pairs = [(upper, lower) for lower, upper in zip(rungs[:-1], rungs[1:])]
    if ("alphabeta:2", "greedy") in pairs:
        chain = ["greedy", *BRIDGES, "alphabeta:2"]
        players += list(BRIDGES)
        pairs += [(upper, lower) for lower, upper in zip(chain[:-1], chain[1:])]
    return players, pairs


def _terminations(records: Sequence[GameRecord]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        out[r.termination] = out.get(r.termination, 0) + 1
    return out


def measure_ladder(
    games: int = 40, rungs: Sequence[str] = LADDER, seed: int = 0, workers: int = 2, progress: bool = False
) -> tuple[dict[str, Any], list[GameRecord]]:
    """Each chosen rung against its neighbour(s) (and the bridges), fitted jointly with the anchor
    fixed; returns the JSON-ready summary and the games."""
    rungs = check_rungs(rungs)
    check_games(games)
    if ANCHOR not in rungs:
        raise UserError(f"--measure needs the anchor {ANCHOR} among the rungs")
    if len(rungs) < 2:
        raise UserError("--measure needs at least two rungs")
    openings = acf_openings()
    players, pairs = measurement_pairs(rungs)
    specs: list[GameSpec] = []
    for upper, lower in pairs:
        specs += schedule_match(upper, lower, games, seed, openings, f"{upper}|{lower}", len(specs))
    played = play_schedule(specs, workers, LADDER_MAX_PLIES, "ladder", progress)
    records = played.records
    rows = []
    fit_pairs = []
    for upper, lower in pairs:
        t = tally([r for r in records if r.spec.label == f"{upper}|{lower}"])
        stats = match_stats(t.wins, t.draws, t.losses)
        rows.append({"player": upper, "opponent": lower, **stats.as_dict()})
        points = t.wins + 0.5 * t.draws
        fit_pairs.append((players.index(upper), players.index(lower), points, t.games))
    fitted: dict[str, Any]
    try:
        ratings, se = fit_ratings(fit_pairs, len(players), players.index(ANCHOR), ANCHOR_RATING, names=players)
        order = sorted(range(len(players)), key=lambda k: ratings[k])
        fitted = {players[k]: {"rating": round(float(ratings[k]), 1), "se": round(float(se[k]), 1)} for k in order}
    except ValueError as e:
        fitted = {"error": str(e)}
    summary = {
        "pairs": rows,
        "ratings": fitted,
        "anchor": {ANCHOR: ANCHOR_RATING},
        "games": len(records),
        "terminations": _terminations(records),
        "mean_plies": round(sum(r.plies for r in records) / len(records), 1),
        "seed": seed,
        "mode": played.mode,
        "max_plies": LADDER_MAX_PLIES,
        "seconds": round(played.seconds, 2),
    }
    return summary, records
