"""`kingme arena A B` and `kingme ladder PLAYER`: matches, scores and Elo on the command line.

Thin: the configs, the text tables and the PDN files. Matches are played by `kingme.arena.match`;
the ladder (its rungs, their ratings, the ply cap, rating a player, measuring the rungs) is
`kingme.arena.ladder`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kingme.arena.elo import format_elo, match_stats
from kingme.arena.ladder import (
    ANCHOR,
    ANCHOR_RATING,
    DEEP_RUNGS,
    LADDER,
    LADDER_MAX_PLIES,
    LadderResult,
    check_games,
    check_rungs,
    measure_ladder,
    run_ladder,
)
from kingme.arena.match import MAX_PLIES, GameRecord, play_schedule, schedule_match, tally
from kingme.arena.openings import OPENING_SETS
from kingme.checkers import write_game
from kingme.common import UserError, atomic_write_text
from kingme.config import Parser, add_config_args, arg, config_from_args, require
from kingme.players import player_kinds

# ------------------------------------------------------------------------------------------------
# Configs


def check_pdn_path(path: str | None) -> None:
    """UserError (one line) unless the PDN file's folder exists: checked before any game is played,
    and no folder is ever created for it."""
    if path is None:
        return
    p = Path(path).expanduser()
    if p.is_dir():
        raise UserError(f"cannot write PDN file {path}: it is a folder")
    if not p.parent.is_dir():
        raise UserError(f"cannot write PDN file {path}: folder {p.parent} does not exist")


@dataclass
class ArenaConfig:
    """`kingme arena A B`: a match between two players from the three-move openings."""

    games: int = arg(20, "number of games, even: each opening is played once with each colour")
    seed: int = arg(0, "match seed: the order of the openings and every player's random choices")
    pdn: str | None = arg(None, "write every game to this PDN file (atomic write; its folder must exist)")
    json: bool = arg(False, "print the result as JSON instead of text")
    workers: int = arg(2, "worker processes for search bots (batched players run in lockstep)")
    max_plies: int = arg(MAX_PLIES, "safety cap on a game's length in plies (the game is drawn)")
    openings: Literal["acf", "all3"] = arg(
        "acf", "acf: the 156 ACF three-move ballots; all3: every distinct 3-ply position"
    )
    progress: bool = arg(True, "show a progress bar on stderr (when it is a terminal)")

    def validate(self) -> None:
        check_games(self.games)
        require(self.workers >= 1, f"bad --workers {self.workers}: expected 1 or more")
        require(self.max_plies >= 10, f"bad --max-plies {self.max_plies}: expected 10 or more")
        check_pdn_path(self.pdn)


@dataclass
class LadderConfig:
    """`kingme ladder PLAYER`: PLAYER against each rung of the ladder, and its Elo."""

    games: int = arg(40, "games against each rung, even (each opening once with each colour)")
    rungs: tuple[str, ...] = arg(LADDER, "rungs to play, comma-separated (a subset of the ladder)")
    seed: int = arg(0, "seed: the order of the openings and every player's random choices")
    json: bool = arg(False, "print the result as JSON instead of a table")
    pdn: str | None = arg(None, "write every game to this PDN file (atomic write; its folder must exist)")
    workers: int = arg(2, "worker processes for search bots (batched players run in lockstep)")
    measure: bool = arg(False, "measure the ladder itself: each rung against its neighbours")
    progress: bool = arg(True, "show a progress bar on stderr (when it is a terminal)")

    def validate(self) -> None:
        check_games(self.games)
        require(self.workers >= 1, f"bad --workers {self.workers}: expected 1 or more")
        self.rungs = check_rungs(self.rungs)
        check_pdn_path(self.pdn)


# ------------------------------------------------------------------------------------------------
# Shared pieces


def write_pdn(path: str, records: Sequence[GameRecord], event: str) -> None:
    text = "\n".join(write_game(r.to_game(event)) for r in records)
    try:
        atomic_write_text(Path(path).expanduser(), text)
    except OSError as e:
        raise UserError(f"cannot write PDN file {path}: {e.strerror or e}") from None


def _terminations(records: Sequence[GameRecord]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        out[r.termination] = out.get(r.termination, 0) + 1
    return out


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
    specs = schedule_match(a, b, cfg.games, cfg.seed, OPENING_SETS[cfg.openings]())
    played = play_schedule(specs, cfg.workers, cfg.max_plies, f"{a} vs {b}", cfg.progress)
    records, mode, seconds = played.records, played.mode, played.seconds
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
        f"(anchor {ANCHOR} = {ANCHOR_RATING:.0f}; every game capped at {LADDER_MAX_PLIES} plies); "
        "--measure measures the ladder itself.",
        epilog=f"players: {', '.join(player_kinds())}; rungs: {', '.join(LADDER)} (default), "
        f"{', '.join(DEEP_RUNGS)} (with --rungs)",
    )
    parser.add_argument("player", metavar="PLAYER", nargs="?", help="player spec, e.g. policy:default")
    add_config_args(parser, LadderConfig)
    ns = parser.parse_args(argv)
    cfg = config_from_args(LadderConfig, ns)
    if cfg.measure:
        if ns.player:
            raise UserError("--measure measures the ladder itself: give no PLAYER")
        summary, records = measure_ladder(cfg.games, cfg.rungs, cfg.seed, cfg.workers, cfg.progress)
        if cfg.pdn:
            write_pdn(cfg.pdn, records, "kingme ladder --measure")
        print(json.dumps(summary, indent=2) if cfg.json else format_measure(summary))
        return 0
    if not ns.player:
        raise UserError("no PLAYER given: e.g. kingme ladder alphabeta:5 (or --measure)")
    result = run_ladder(ns.player, cfg.games, cfg.rungs, cfg.seed, cfg.workers, cfg.progress)
    if cfg.pdn:
        write_pdn(cfg.pdn, result.records, f"kingme ladder {result.player}")
    print(json.dumps(result.as_dict(), indent=2) if cfg.json else format_ladder(result))
    return 0


def _num(x: float | None, default: str) -> str:
    return default if x is None else f"{float(x):.0f}"


def format_ladder(result: LadderResult) -> str:
    r = result.as_dict()
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
