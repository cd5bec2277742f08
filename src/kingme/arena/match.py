"""Playing games: schedules from the openings, and three ways to run them.

A match of N games between A and B is a schedule (`schedule_match`): the openings in an order
drawn from the match seed, each played twice, A taking Black in the first game of the pair and
White in the second, so both colours and every opening used are balanced. Every game gets its
own seed, and every move its own (`mix_seed(game seed, ply)`), so a game's moves do not depend on
how the games were run.

How they run (`play_games` picks):
- **lockstep** when a player can batch (a network): all games advance together, and at each step
  every board waiting for that player goes to it in one ``choose_batch`` call;
- **a pool of worker processes** (two by default, one per core here) for search bots; each worker
  builds its players once from their specs and plays whole games;
- **in order, in this process**, for a human or when there are few games.

A game ends by the engine's rules (`Board.outcome()`: no legal move loses; 80 plies without a
capture or a man move, or the third repetition of a position, is a draw) or, as the arena's own
safety net, at a ply cap (a draw, recorded as "ply cap").
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from kingme.arena.openings import Opening
from kingme.checkers import Board, Color, Game, Move
from kingme.common import mix_seed
from kingme.players import Player, is_batched, is_interactive, load_player
from kingme.progress import progress_bar

MAX_PLIES = 400  # safety cap on a game's length, openings included (a game reaching it is drawn)
PLY_CAP = "ply cap"  # the termination recorded for a game stopped by the cap

BLACK_WIN, WHITE_WIN, DRAW = "1-0", "0-1", "1/2-1/2"


@dataclass(frozen=True)
class GameSpec:
    """One scheduled game."""

    index: int  # position in the schedule
    black: str  # player spec playing Black
    white: str  # player spec playing White
    opening: Opening
    seed: int
    a_is_black: bool = True  # whether player A of the match (the one scored) has Black
    label: str = ""  # a grouping key (the ladder puts the rung's name here)


@dataclass
class GameRecord:
    """One finished game."""

    spec: GameSpec
    moves: list[Move]  # every move from the start position, the opening's included
    result: str  # "1-0" Black won, "0-1" White won, "1/2-1/2"
    termination: str  # "no moves", "80-ply rule", "threefold repetition", "ply cap"
    plies: int = field(default=0)

    @property
    def score_a(self) -> float:
        """1, 0.5 or 0 from the point of view of the match's player A."""
        if self.result == DRAW:
            return 0.5
        return 1.0 if (self.result == BLACK_WIN) == self.spec.a_is_black else 0.0

    def to_game(self, event: str = "kingme arena") -> Game:
        """A PDN `Game` (tags: players, opening, termination)."""
        op = self.spec.opening
        tags = {
            "Event": event,
            "Round": str(self.spec.index + 1),
            "Black": self.spec.black,
            "White": self.spec.white,
            "Opening": (f"ACF #{op.number}: " if op.number else "") + str(op),
            "Termination": self.termination,
        }
        return Game(tags=tags, moves=list(self.moves), result=self.result)


def schedule_match(
    a: str,
    b: str,
    games: int,
    seed: int,
    openings: Sequence[Opening],
    label: str = "",
    start: int = 0,
) -> list[GameSpec]:
    """``games`` (even) games of A against B: openings in a seeded order, each played twice with
    colours swapped (A is Black in the first game of each pair). More than 2 x len(openings)
    games go round the list again. ``start`` offsets the game indices (for merged schedules)."""
    if games < 2 or games % 2:
        raise ValueError(f"a match needs a positive even number of games, not {games}")
    order = np.random.default_rng(mix_seed(seed, 0x0BE)).permutation(len(openings))
    out = []
    for g in range(games):
        op = openings[int(order[(g // 2) % len(openings)])]
        black, white = (a, b) if g % 2 == 0 else (b, a)
        out.append(GameSpec(start + g, black, white, op, mix_seed(seed, g), g % 2 == 0, label))
    return out


# ------------------------------------------------------------------------------------------------
# One game


def _finish(spec: GameSpec, board: Board, max_plies: int) -> GameRecord | None:
    """The record of the game on ``board`` if it is over (by the rules or the ply cap), else None."""
    outcome = board.outcome()
    if outcome is not None:
        result, why = outcome.result, outcome.termination.value
    elif len(board.move_stack) >= max_plies:
        result, why = DRAW, PLY_CAP
    else:
        return None
    moves = list(board.move_stack)
    return GameRecord(spec, moves, result, why, len(moves))


def play_game(spec: GameSpec, black: Player, white: Player, max_plies: int = MAX_PLIES) -> GameRecord:
    """Play one game to its end."""
    board = spec.opening.board()
    while True:
        rec = _finish(spec, board, max_plies)
        if rec is not None:
            return rec
        player = black if board.turn == Color.BLACK else white
        player.reseed(mix_seed(spec.seed, len(board.move_stack)))
        board.push(player.choose(board))


# ------------------------------------------------------------------------------------------------
# Running many games

Progress = Callable[[GameRecord], None]


def play_sequential(
    specs: Sequence[GameSpec], players: dict[str, Player], max_plies: int, on_done: Progress | None
) -> list[GameRecord]:
    out = []
    for s in specs:
        rec = play_game(s, players[s.black], players[s.white], max_plies)
        out.append(rec)
        if on_done:
            on_done(rec)
    return out


def play_lockstep(
    specs: Sequence[GameSpec], players: dict[str, Player], max_plies: int, on_done: Progress | None
) -> list[GameRecord]:
    """All games at once: each step asks every player for its moves on all boards waiting for it,
    in one ``choose_batch`` call for a batched player (one forward pass)."""
    boards = [s.opening.board() for s in specs]
    records: list[GameRecord | None] = [None] * len(specs)
    active = list(range(len(specs)))
    step = 0
    while active:
        waiting: dict[str, list[int]] = {}
        still = []
        for i in active:
            rec = _finish(specs[i], boards[i], max_plies)
            if rec is not None:
                records[i] = rec
                if on_done:
                    on_done(rec)
                continue
            still.append(i)
            s = specs[i]
            waiting.setdefault(s.black if boards[i].turn == Color.BLACK else s.white, []).append(i)
        active = still
        for name, idx in waiting.items():
            player = players[name]
            if is_batched(player):
                player.reseed(mix_seed(step, len(idx), idx[0]))
                moves = player.choose_batch([boards[i] for i in idx])  # type: ignore[attr-defined]
            else:
                moves = []
                for i in idx:
                    player.reseed(mix_seed(specs[i].seed, len(boards[i].move_stack)))
                    moves.append(player.choose(boards[i]))
            for i, m in zip(idx, moves):
                boards[i].push(m)
        step += 1
    return [r for r in records if r is not None]


# Worker processes: each builds its players once from their specs.
_WORKER_PLAYERS: dict[str, Player] = {}
_WORKER_MAX_PLIES = MAX_PLIES


def _worker_init(max_plies: int) -> None:
    global _WORKER_MAX_PLIES
    _WORKER_MAX_PLIES = max_plies


def _worker_player(spec: str) -> Player:
    if spec not in _WORKER_PLAYERS:
        _WORKER_PLAYERS[spec] = load_player(spec)
    return _WORKER_PLAYERS[spec]


def _worker_play(spec: GameSpec) -> GameRecord:
    return play_game(spec, _worker_player(spec.black), _worker_player(spec.white), _WORKER_MAX_PLIES)


def _mp_context() -> mp.context.BaseContext:
    """Fork where available: the workers inherit the compiled search (warmed up in the parent by
    `play_pool`), so they start in milliseconds. They only run numba code and the Board, never
    torch, so a parent that has imported torch is safe to fork. Elsewhere, spawn (the workers
    then load numba's on-disk cache, about a second, and the main module must be importable)."""
    if "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    return mp.get_context("spawn")


def play_pool(
    specs: Sequence[GameSpec],
    workers: int,
    max_plies: int,
    on_done: Progress | None,
    players: dict[str, Player] | None = None,
) -> list[GameRecord]:
    """Games spread over ``workers`` processes; records come back in schedule order."""
    out: dict[int, GameRecord] = {}
    if players:  # compile (or load from numba's cache) once here, so forked workers inherit it
        for p in players.values():
            p.choose(Board())
    with _mp_context().Pool(workers, initializer=_worker_init, initargs=(max_plies,)) as pool:
        for rec in pool.imap_unordered(_worker_play, specs, chunksize=1):
            out[rec.spec.index] = rec
            if on_done:
                on_done(rec)
    return [out[s.index] for s in specs]


def load_players(specs: Sequence[GameSpec]) -> dict[str, Player]:
    """Each distinct player spec of a schedule, loaded once (UserError for a bad spec)."""
    names: list[str] = []
    for s in specs:
        for n in (s.black, s.white):
            if n not in names:
                names.append(n)
    return {n: load_player(n) for n in names}


def play_games(
    specs: Sequence[GameSpec],
    workers: int = 2,
    max_plies: int = MAX_PLIES,
    on_done: Progress | None = None,
    players: dict[str, Player] | None = None,
) -> tuple[list[GameRecord], str]:
    """Play a schedule; return the records (schedule order) and the mode used
    ("lockstep", "pool", "sequential")."""
    players = players if players is not None else load_players(specs)
    if any(is_interactive(p) for p in players.values()):
        return play_sequential(specs, players, max_plies, on_done), "sequential"
    if any(is_batched(p) for p in players.values()):
        return play_lockstep(specs, players, max_plies, on_done), "lockstep"
    if workers > 1 and len(specs) >= 4 * workers:
        return play_pool(specs, workers, max_plies, on_done, players), "pool"
    return play_sequential(specs, players, max_plies, on_done), "sequential"


@dataclass(frozen=True)
class Played:
    """A schedule's records, how they were run and how long it took."""

    records: list[GameRecord]
    mode: str  # "lockstep", "pool" or "sequential"
    seconds: float


def play_schedule(
    specs: Sequence[GameSpec],
    workers: int = 2,
    max_plies: int = MAX_PLIES,
    label: str = "games",
    progress: bool = False,
    players: dict[str, Player] | None = None,
) -> Played:
    """`play_games` with the progress bar on stderr (one step per finished game; never drawn for
    a human's games) and the wall time. Every player is loaded before the first game, so a bad
    spec fails before anything is played."""
    players = players if players is not None else load_players(specs)
    show = progress and not any(is_interactive(p) for p in players.values())
    t0 = time.perf_counter()
    with progress_bar(len(specs), label, show) as advance:
        records, mode = play_games(specs, workers, max_plies, lambda rec: advance(), players)
    return Played(records, mode, time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------------
# Tallies


@dataclass
class Tally:
    """Wins, draws and losses from one player's side."""

    wins: int = 0
    draws: int = 0
    losses: int = 0

    def add(self, score: float) -> None:
        if score == 1.0:
            self.wins += 1
        elif score == 0.5:
            self.draws += 1
        else:
            self.losses += 1

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses


def tally(records: Sequence[GameRecord]) -> Tally:
    """Wins/draws/losses of the matches' player A over the records."""
    t = Tally()
    for r in records:
        t.add(r.score_a)
    return t
