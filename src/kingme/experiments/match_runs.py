"""The checkers-match kind of run (`MATCH`): one (arm, seed) is a match of player A against player B.

An arm's settings are MatchConfig fields: the two players, the games, the model and the ply cap.
The players are any player spec of the registry (`kingme.players.parse_spec`), or learned-eval's
names for players of the configured model: ``policy`` (the registry's ``policy:MODEL``),
``value+policy:D[:MS]`` (the registry's ``search:policy:MODEL:D[:MS]``: the critic at the leaves,
the policy ordering the moves), and the two searches the registry does not have, ``hand:D[:MS]``
and ``value:D[:MS]`` (`LEAVES`: the same `SearchPlayer` with alphabeta's hand-written evaluation or
the critic at the leaves, moves in generation order). D is the depth in plies and MS a time limit
per move, read by the registry's grammar (`kingme.players.specs.parse_depth_limit`); `match_player`
turns a name into a `MatchPlayer` (when the config is validated, and when the match is built).
Matches come from the 156 ACF 3-move openings, colours swapped (`kingme.arena.match.schedule_match`,
the match seed = the run's seed), with the arena's draw rules; the match is played in this process,
one game at a time (the time limits are wall-clock, so two workers sharing one core would halve
every player's time). The history is one row: the tallies, the score of A, the plies per game, and
each searching player's cost.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import torch

from kingme.arena.match import MAX_PLIES, play_games, schedule_match, tally
from kingme.arena.openings import acf_openings
from kingme.checkers import Board, Move
from kingme.common import UserError
from kingme.config import arg, config_to_dict, require
from kingme.experiments.base import Arm, History, RunOutput
from kingme.nets import ActorCritic
from kingme.players import Player, build_player, parse_spec
from kingme.players.policy import load_model, resolve_model_path
from kingme.players.search import SearchPlayer
from kingme.players.specs import PlayerSpec, PolicySpec, parse_depth_limit
from kingme.progress import Advance

LEAVES = {"hand": "hand", "value": "critic"}  # the experiment's own searches: name -> NetSearch's leaf
VALUE_POLICY = "value+policy"  # the registry's search:policy:MODEL (the critic, the policy's ordering)


@dataclass
class MatchConfig:
    """One run (arm, seed) of learned-eval: a match of A against B."""

    a: str = arg("value:1", "Player A (scored): hand:D[:MS], value:D[:MS], value+policy:D[:MS] or a player spec.")
    b: str = arg("hand:1", "Player B, in the same forms.")
    games: int = arg(2, "Games (even: each opening played twice, colours swapped).")
    # v1: the model its documented report measured (shipped until 2026-12-01; policy:default is newer)
    model: str = arg("v1", "The network of value, value+policy and policy (what policy: accepts).")
    seed: int = arg(1, "The match seed (the openings' order and every game's seed).")
    max_plies: int = arg(MAX_PLIES, "Games still going after this many plies are drawn (the arena's cap).")

    def validate(self) -> None:
        require(self.games >= 2 and self.games % 2 == 0, f"games must be a positive even number, not {self.games}")
        require(self.max_plies >= 4, f"max_plies must be at least 4, not {self.max_plies}")
        require(self.a != self.b, f"the two players must differ, both are {self.a!r}")
        for name in (self.a, self.b):
            match_player(name, self.model)


@dataclass(frozen=True)
class MatchPlayer:
    """One of a match's players, parsed once: a spec of the registry, or one of the experiment's own
    searches (`LEAVES`) with its depth and time limit."""

    name: str  # as the arm gives it (the match's records and the report use it)
    spec: PlayerSpec | None  # the registry's spec; None for hand: and value:
    leaf: str = ""  # hand: and value: only: what scores NetSearch's quiet leaves
    depth: int = 0
    ms: float = 0.0


def match_player(name: str, model: str) -> MatchPlayer:
    """The player `name` of a match on `model` (see the module docstring; UserError if malformed)."""
    kind, _, tail = name.partition(":")
    if name == "policy":
        return MatchPlayer(name, parse_spec(f"policy:{model}"))
    if kind in LEAVES or kind == VALUE_POLICY:
        usage = f"{kind}:DEPTH[:MS] or {kind}::MS"
        depth, ms = parse_depth_limit(name, tail, usage, f"{kind}:D[:MS]", need_depth=False)
        if kind == VALUE_POLICY:
            return MatchPlayer(name, parse_spec(f"search:policy:{model}:{depth}" + (f":{ms:g}" if ms else "")))
        return MatchPlayer(name, None, LEAVES[kind], depth, ms)
    return MatchPlayer(name, parse_spec(name))


def make_match_config(arm: Arm, seed: int) -> MatchConfig:
    """The run's config from an arm (UserError on an unknown field or a bad value)."""
    try:
        cfg = MatchConfig(seed=seed, **arm.overrides)
    except TypeError as e:
        raise UserError(f"arm {arm.label!r}: {e}") from None
    cfg.validate()
    return cfg


class Timed:
    """A player that records, for every move it searched (forced moves are not searched), the
    wall time, and for a search player the depth reached and the leaves evaluated."""

    def __init__(self, player: Player) -> None:
        self.player = player
        self.name = player.name
        self.seconds = 0.0
        self.moves = self.depth = self.leaves = 0

    def reseed(self, seed: int) -> None:
        self.player.reseed(seed)

    def choose(self, board: Board) -> Move:
        t0 = time.perf_counter()
        move = self.player.choose(board)
        last = getattr(self.player, "last", None)
        if len(board.legal_moves()) > 1:
            self.seconds += time.perf_counter() - t0
            self.moves += 1
            self.depth += getattr(last, "depth", 0)
            self.leaves += getattr(last, "leaves", 0)
        return move


@cache
def network(model: str) -> ActorCritic:
    """The network of `model` (loaded once per process; the players only read it)."""
    return load_model(resolve_model_path(PolicySpec(model, False, 1.0)))[0]


def make_player(player: MatchPlayer, model: str) -> Player:
    """The player: the registry builds it from its spec, or a `SearchPlayer` of the model's network with
    the experiment's leaf; every searching player is `Timed` (the raw policy is not: it does not search)."""
    if player.spec is not None:
        built = build_player(player.spec)
        built.name = player.name
        return Timed(built) if player.spec.depth is not None else built
    torch.set_num_threads(1)  # one core per player, as for search: and policy:
    search = SearchPlayer(network(model), player.depth, player.ms, name=player.name, leaf=player.leaf, order="none")
    return Timed(search)


def run_match(cfg: MatchConfig, advance: Advance) -> RunOutput:
    """One (arm, seed) run: the match, one history row with its tallies and the players' costs."""
    players = {n: make_player(match_player(n, cfg.model), cfg.model) for n in (cfg.a, cfg.b)}
    specs = schedule_match(cfg.a, cfg.b, cfg.games, cfg.seed, acf_openings())
    t0 = time.perf_counter()
    records, _ = play_games(specs, workers=1, max_plies=cfg.max_plies, on_done=lambda r: advance(1), players=players)
    seconds = time.perf_counter() - t0
    t = tally(records)
    row: dict[str, Any] = {"global_step": t.games, "wins": t.wins, "draws": t.draws, "losses": t.losses}
    row |= {"score": (t.wins + 0.5 * t.draws) / t.games, "plies": sum(r.plies for r in records) / len(records)}
    for side, name in (("a", cfg.a), ("b", cfg.b)):
        p = players[name]
        if isinstance(p, Timed) and p.moves:
            row[f"{side}_ms"] = 1000.0 * p.seconds / p.moves
            row[f"{side}_depth"] = p.depth / p.moves
            row[f"{side}_leaves_per_s"] = p.leaves / p.seconds if p.leaves else math.nan
    history: History = [row]  # one row: final_mean of a column is its value
    return RunOutput(history, seconds)


class MatchRuns:
    """RunKind: a match of the arm's player A against its player B (MatchConfig), one row of history."""

    name: str = "match"
    defaults: str = "MatchConfig"
    kept: tuple[str, ...] = ()

    def config(self, arm: Arm, seed: int) -> MatchConfig:
        return make_match_config(arm, seed)

    def work(self, config: MatchConfig) -> int:
        return config.games

    def run(self, arm: Arm, config: MatchConfig, advance: Advance) -> RunOutput:
        return run_match(config, advance)

    def saved(self, config: MatchConfig) -> dict[str, Any]:
        return config_to_dict(config)


MATCH = MatchRuns()
