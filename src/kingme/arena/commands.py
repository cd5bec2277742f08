"""`kingme arena A B` and `kingme ladder PLAYER`: matches, scores and Elo on the command line.

The ladder's rung ratings (`RUNG_RATINGS`) are constants measured once with::

    kingme ladder --measure --games 312 --seed 0

(each rung against its neighbours, plus a chain of `BRIDGES` between ``greedy`` and
``alphabeta:2``, whose direct gap is too wide to measure; all results fitted jointly, anchor
``alphabeta:4`` = 1500); docs/arena.md records that run. A player's ladder Elo is then the maximum-likelihood rating
against these fixed ratings, from all its games (`kingme.arena.elo.fit_rating`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from kingme.arena.elo import (
    finite_or_none,
    fit_rating,
    fit_ratings,
    format_elo,
    match_stats,
)
from kingme.arena.match import (
    MAX_PLIES,
    GameRecord,
    GameSpec,
    load_players,
    play_games,
    schedule_match,
    tally,
)
from kingme.arena.openings import OPENING_SETS, Opening
from kingme.checkers import write_game
from kingme.common import UserError, atomic_write_text
from kingme.config import Parser, add_config_args, arg, config_from_args, require
from kingme.players import is_interactive, player_kinds

# ------------------------------------------------------------------------------------------------
# The ladder

LADDER: tuple[str, ...] = (
    "random",
    "greedy",
    "alphabeta:2",
    "alphabeta:4",
    "alphabeta:6",
    "alphabeta:8",
)
ANCHOR = "alphabeta:4"
# Measuring instruments, not rungs: alphabeta:2 with 50%, 25% and 10% of its moves random.
BRIDGES: tuple[str, ...] = ("mix:0.5:alphabeta:2", "mix:0.25:alphabeta:2", "mix:0.1:alphabeta:2")
ANCHOR_RATING = 1500.0

# Measured with `kingme ladder --measure --games 312 --seed 0` (see docs/arena.md).
RUNG_RATINGS: dict[str, float] = {
    "random": 209.4,
    "greedy": 238.4,
    "alphabeta:2": 1212.3,
    "alphabeta:4": ANCHOR_RATING,
    "alphabeta:6": 1745.7,
    "alphabeta:8": 1910.8,
}


# ------------------------------------------------------------------------------------------------
# Configs


def _check_common(games: int, workers: int, max_plies: int) -> None:
    require(
        games >= 2 and games % 2 == 0,
        f"bad game count {games}: --games must be a positive even number "
        "(each opening is played twice, colours swapped)",
    )
    require(workers >= 1, f"bad --workers {workers}: expected 1 or more")
    require(max_plies >= 10, f"bad --max-plies {max_plies}: expected 10 or more")


@dataclass
class ArenaConfig:
    """`kingme arena A B`: a match between two players from the three-move openings."""

    games: int = arg(20, "number of games, even: each opening is played once with each colour")
    seed: int = arg(0, "match seed: the order of the openings and every player's random choices")
    pdn: str | None = arg(None, "write every game to this PDN file (atomic write)")
    json: bool = arg(False, "print the result as JSON instead of text")
    workers: int = arg(2, "worker processes for search bots (batched players run in lockstep)")
    max_plies: int = arg(MAX_PLIES, "safety cap on a game's length in plies (the game is drawn)")
    openings: Literal["acf", "all3"] = arg(
        "acf", "acf: the 156 ACF three-move ballots; all3: every distinct 3-ply position"
    )
    progress: bool = arg(True, "show a progress bar on stderr (when it is a terminal)")

    def validate(self) -> None:
        _check_common(self.games, self.workers, self.max_plies)


@dataclass
class LadderConfig:
    """`kingme ladder PLAYER`: PLAYER against each rung of the ladder, and its Elo."""

    games: int = arg(40, "games against each rung, even (each opening once with each colour)")
    rungs: str = arg(",".join(LADDER), "comma-separated rungs to play (a subset of the ladder)")
    seed: int = arg(0, "seed: the order of the openings and every player's random choices")
    json: bool = arg(False, "print the result as JSON instead of a table")
    pdn: str | None = arg(None, "write every game to this PDN file (atomic write)")
    workers: int = arg(2, "worker processes for search bots (batched players run in lockstep)")
    max_plies: int = arg(MAX_PLIES, "safety cap on a game's length in plies (the game is drawn)")
    measure: bool = arg(False, "measure the ladder itself: each rung against its neighbours")
    progress: bool = arg(True, "show a progress bar on stderr (when it is a terminal)")

    def validate(self) -> None:
        _check_common(self.games, self.workers, self.max_plies)
        for r in self.rung_list():
            require(r in LADDER, f"unknown rung {r!r}: expected some of {', '.join(LADDER)}")

    def rung_list(self) -> list[str]:
        rungs = [r.strip() for r in self.rungs.split(",") if r.strip()]
        require(bool(rungs), f"--rungs is empty: expected some of {', '.join(LADDER)}")
        return rungs


# ------------------------------------------------------------------------------------------------
# Shared pieces


@contextmanager
def progress_bar(total: int, label: str, enabled: bool) -> Iterator[Callable[[GameRecord], None]]:
    """A rich progress bar on stderr advanced once per finished game (a no-op when disabled)."""
    if not enabled or not sys.stderr.isatty():
        yield lambda rec: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda rec: bar.advance(task)


def write_pdn(path: str, records: Sequence[GameRecord], event: str) -> None:
    text = "\n".join(write_game(r.to_game(event)) for r in records)
    try:
        atomic_write_text(path, text)
    except OSError as e:
        raise UserError(f"cannot write PDN file {path}: {e.strerror or e}") from None


def _openings(name: str) -> Sequence[Opening]:
    return OPENING_SETS[name]()


def _terminations(records: Sequence[GameRecord]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        out[r.termination] = out.get(r.termination, 0) + 1
    return out


def _run(
    specs: list[GameSpec], workers: int, max_plies: int, label: str, progress: bool
) -> tuple[list[GameRecord], str, float]:
    players = load_players(specs)  # a bad spec fails here, before anything starts
    show = progress and not any(is_interactive(p) for p in players.values())
    t0 = time.perf_counter()
    advance: Callable[[GameRecord], None]
    with progress_bar(len(specs), label, show) as advance:
        records, mode = play_games(specs, workers, max_plies, advance, players)
    return records, mode, time.perf_counter() - t0


# ------------------------------------------------------------------------------------------------
# kingme arena


def arena_main(argv: list[str]) -> int:
    parser = Parser(
        prog="kingme arena",
        description="Play a match between two players.",
        epilog=f"players: {', '.join(player_kinds())}",
    )
    parser.add_argument("a", metavar="A", help="player spec, e.g. alphabeta:4 (scored from its side)")
    parser.add_argument("b", metavar="B", help="opponent spec, e.g. random")
    add_config_args(parser, ArenaConfig)
    ns = parser.parse_args(argv)
    cfg = config_from_args(ArenaConfig, ns)
    result = run_arena(ns.a, ns.b, cfg)
    if cfg.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_arena(result))
    return 0


def run_arena(a: str, b: str, cfg: ArenaConfig) -> dict[str, Any]:
    """Play the match; return the JSON-ready summary."""
    specs = schedule_match(a, b, cfg.games, cfg.seed, _openings(cfg.openings))
    records, mode, seconds = _run(specs, cfg.workers, cfg.max_plies, f"{a} vs {b}", cfg.progress)
    if cfg.pdn:
        write_pdn(cfg.pdn, records, f"kingme arena {a} vs {b}")
    stats = match_stats(**vars(tally(records)))
    as_black = tally([r for r in records if r.spec.a_is_black])
    as_white = tally([r for r in records if not r.spec.a_is_black])
    return {
        "players": [a, b],
        **stats.as_dict(),
        "as_black": vars(as_black),
        "as_white": vars(as_white),
        "terminations": _terminations(records),
        "openings": cfg.openings,
        "seed": cfg.seed,
        "mode": mode,
        "mean_plies": round(sum(r.plies for r in records) / len(records), 1),
        "seconds": round(seconds, 2),
    }


def _e(x: float | None, inf: str) -> str:
    """An Elo figure from the JSON summary (None stands for an infinite one)."""
    return inf if x is None else format_elo(float(x))


def _inf(score: float) -> str:
    return "+inf" if score >= 1 else "-inf"


def format_arena(r: dict[str, Any]) -> str:
    a, b = r["players"]
    lo, hi = r["score_ci95"]
    elo_lo, elo_hi = r["elo_ci95"]
    ab, aw = r["as_black"], r["as_white"]
    ends = ", ".join(f"{k} {v}" for k, v in r["terminations"].items())
    return "\n".join(
        [
            f"{a} vs {b}: {r['games']} games from the {r['openings']} openings, seed {r['seed']} "
            f"({r['mode']}, {r['seconds']} s, {r['mean_plies']} plies a game)",
            f"  {a}: +{r['wins']} ={r['draws']} -{r['losses']}   score {r['score']:.3f} "
            f"[{lo:.3f}, {hi:.3f}]   Elo {_e(r['elo'], _inf(r['score']))} "
            f"[{_e(elo_lo, '-inf')}, {_e(elo_hi, '+inf')}]",
            f"  as Black +{ab['wins']} ={ab['draws']} -{ab['losses']}   "
            f"as White +{aw['wins']} ={aw['draws']} -{aw['losses']}",
            f"  endings: {ends}",
        ]
    )


# ------------------------------------------------------------------------------------------------
# kingme ladder


def ladder_main(argv: list[str]) -> int:
    parser = Parser(
        prog="kingme ladder",
        description="Play PLAYER against the ladder of bots and estimate its Elo "
        f"(anchor {ANCHOR} = {ANCHOR_RATING:.0f}); --measure measures the ladder itself.",
        epilog=f"players: {', '.join(player_kinds())}; rungs: {', '.join(LADDER)}",
    )
    parser.add_argument("player", metavar="PLAYER", nargs="?", help="player spec, e.g. policy:default")
    add_config_args(parser, LadderConfig)
    ns = parser.parse_args(argv)
    cfg = config_from_args(LadderConfig, ns)
    if cfg.measure:
        if ns.player:
            raise UserError("--measure measures the ladder itself: give no PLAYER")
        result = measure_ladder(cfg)
        print(json.dumps(result, indent=2) if cfg.json else format_measure(result))
        return 0
    if not ns.player:
        raise UserError("no PLAYER given: e.g. kingme ladder alphabeta:5 (or --measure)")
    result = run_ladder(ns.player, cfg)
    print(json.dumps(result, indent=2) if cfg.json else format_ladder(result))
    return 0


def run_ladder(player: str, cfg: LadderConfig) -> dict[str, Any]:
    """PLAYER against every chosen rung (one merged schedule, so a batched player sees all its
    games in one lockstep); returns the JSON-ready table and the fitted Elo."""
    openings = _openings("acf")
    specs: list[GameSpec] = []
    for rung in cfg.rung_list():
        specs += schedule_match(player, rung, cfg.games, cfg.seed, openings, rung, len(specs))
    records, mode, seconds = _run(specs, cfg.workers, cfg.max_plies, f"{player} ladder", cfg.progress)
    if cfg.pdn:
        write_pdn(cfg.pdn, records, f"kingme ladder {player}")
    rows = []
    fit_input = []
    for rung in cfg.rung_list():
        t = tally([r for r in records if r.spec.label == rung])
        stats = match_stats(**vars(t))
        rows.append({"opponent": rung, "rating": RUNG_RATINGS[rung], **stats.as_dict()})
        fit_input.append((RUNG_RATINGS[rung], t.wins + 0.5 * t.draws, t.games))
    elo, lo, hi = fit_rating(fit_input)
    return {
        "player": player,
        "anchor": {ANCHOR: ANCHOR_RATING},
        "rungs": rows,
        "elo": finite_or_none(elo),
        "elo_ci95": [finite_or_none(lo), finite_or_none(hi)],
        "games": len(records),
        "seed": cfg.seed,
        "mode": mode,
        "seconds": round(seconds, 2),
    }


def _num(x: float | None, default: str) -> str:
    return default if x is None else f"{float(x):.0f}"


def format_ladder(r: dict[str, Any]) -> str:
    lines = [
        f"{r['player']} against the ladder: {r['games']} games, seed {r['seed']} ({r['mode']}, {r['seconds']} s)",
        f"  {'opponent':<13}{'rating':>7}{'games':>7}{'+':>5}{'=':>5}{'-':>5}{'score':>8}"
        f"  {'95% CI':<16}{'Elo diff':>9}",
    ]
    for row in r["rungs"]:
        lo, hi = row["score_ci95"]
        lines.append(
            f"  {row['opponent']:<13}{row['rating']:>7.0f}{row['games']:>7}{row['wins']:>5}"
            f"{row['draws']:>5}{row['losses']:>5}{row['score']:>8.3f}  [{lo:.3f}, {hi:.3f}]"
            f"{_e(row['elo'], _inf(row['score'])):>9}"
        )
    lo, hi = r["elo_ci95"]
    lines.append(
        f"  Elo of {r['player']}: {_num(r['elo'], _inf(sum(x['score'] for x in r['rungs'])))} "
        f"[{_num(lo, '-inf')}, {_num(hi, '+inf')}]"
        f"  (maximum likelihood over all games; anchor {ANCHOR} = {ANCHOR_RATING:.0f})"
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# Measuring the ladder


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


def measure_ladder(cfg: LadderConfig) -> dict[str, Any]:
    """Each rung against its neighbour(s) on the chosen rungs (and the bridges), fitted jointly
    with the anchor fixed."""
    rungs = cfg.rung_list()
    require(ANCHOR in rungs, f"--measure needs the anchor {ANCHOR} among the rungs")
    require(len(rungs) >= 2, "--measure needs at least two rungs")
    openings = _openings("acf")
    players, pairs = measurement_pairs(rungs)
    specs: list[GameSpec] = []
    for upper, lower in pairs:
        specs += schedule_match(upper, lower, cfg.games, cfg.seed, openings, f"{upper}|{lower}", len(specs))
    records, mode, seconds = _run(specs, cfg.workers, cfg.max_plies, "ladder", cfg.progress)
    if cfg.pdn:
        write_pdn(cfg.pdn, records, "kingme ladder --measure")
    rows = []
    fit_pairs = []
    for upper, lower in pairs:
        t = tally([r for r in records if r.spec.label == f"{upper}|{lower}"])
        stats = match_stats(**vars(t))
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
    return {
        "pairs": rows,
        "ratings": fitted,
        "anchor": {ANCHOR: ANCHOR_RATING},
        "games": len(records),
        "terminations": _terminations(records),
        "mean_plies": round(sum(r.plies for r in records) / len(records), 1),
        "seed": cfg.seed,
        "mode": mode,
        "seconds": round(seconds, 2),
    }


def format_measure(r: dict[str, Any]) -> str:
    lines = [f"ladder measurement: {r['games']} games, seed {r['seed']} ({r['mode']}, {r['seconds']} s)"]
    for row in r["pairs"]:
        lo, hi = row["score_ci95"]
        lines.append(
            f"  {row['player']:<20} vs {row['opponent']:<20} +{row['wins']} ={row['draws']} "
            f"-{row['losses']}  score {row['score']:.3f} [{lo:.3f}, {hi:.3f}]  "
            f"Elo diff {_e(row['elo'], _inf(row['score']))}"
        )
    ratings = r["ratings"]
    if "error" in ratings:
        lines.append(f"  fit failed: {ratings['error']}")
    else:
        for name, v in ratings.items():
            lines.append(f"  {name:<20} {v['rating']:>8.1f} ± {1.96 * v['se']:.1f}")
    return "\n".join(lines)
