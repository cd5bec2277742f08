"""Search speed: time per move and nodes per second of `alphabeta:D` on real game positions.

`bench_search` plays a few games of ``alphabeta:D`` against itself from ACF openings (in this
process, one core), keeps every position where the side to move had a real choice (two or more
legal moves; a forced move is played without searching), then searches each position again with
a fresh search and times it. It reports the median, mean and 90th percentile time per move and
the nodes per second over all the searches.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Sequence

import numpy as np

from kingme.arena.match import MAX_PLIES, GameSpec, play_game, play_games, schedule_match, tally
from kingme.arena.openings import acf_openings
from kingme.checkers import Board, Move
from kingme.checkers.board import squares_of
from kingme.players import load_player
from kingme.players.simple import AlphaBetaPlayer


def collect_positions(depth: int, games: int, seed: int) -> list[tuple[int, int, int, int]]:
    """(black, white, kings, side) of every position with >= 2 legal moves in ``games`` games of
    ``alphabeta:depth`` against itself."""
    spec = f"alphabeta:{depth}"
    player = AlphaBetaPlayer(depth)
    positions = []
    for g in schedule_match(spec, spec, games, seed, acf_openings()):
        rec = play_game(g, player, player, MAX_PLIES)
        board = Board()
        for m in rec.moves:
            if len(board.legal_moves()) >= 2 and len(board.move_stack) >= 3:  # after the ballot
                positions.append((board.black, board.white, board.kings, int(board.turn)))
            board.push(m)
    return positions


def bench_search(depth: int = 6, games: int = 4, seed: int = 0, repeat: int = 1) -> dict[str, object]:
    """Time ``alphabeta:depth`` on the positions of ``games`` self-play games (see the module
    docstring); each position is searched ``repeat`` times and its fastest time kept."""
    if games < 2 or games % 2:
        raise ValueError(f"games must be a positive even number, not {games}")
    t0 = time.perf_counter()
    AlphaBetaPlayer(depth).choose(Board())  # compile or load numba's cache
    warmup = time.perf_counter() - t0
    positions = collect_positions(depth, games, seed)
    player = AlphaBetaPlayer(depth)
    times: list[float] = []
    nodes = 0
    for black, white, kings, side in positions:
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            r = player.searcher.search(black, white, kings, side, depth)
            best = min(best, time.perf_counter() - t)
        times.append(best)
        nodes += r.nodes
    total = sum(times)
    ms = sorted(1000 * t for t in times)
    return {
        "player": f"alphabeta:{depth}",
        "games": games,
        "seed": seed,
        "positions": len(positions),
        "median_ms": round(statistics.median(ms), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 3),
        "max_ms": round(ms[-1], 3),
        "nodes": nodes,
        "nodes_per_s": round(nodes / total) if total > 0 else None,
        "warmup_s": round(warmup, 2),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }


# ------------------------------------------------------------------------------------------------
# The lockstep ladder with a stand-in policy


class StandInPolicy:
    """A batched player shaped like a small policy network, for timing the lockstep arena before
    a trained one exists: a two-layer MLP (random weights) from four 32-square planes (own men,
    own kings, opponent men, opponent kings) to 32 x 32 from-to logits; it plays the legal move
    whose (first square, last square) logit is highest. One forward pass per ``choose_batch``."""

    def __init__(self, hidden: int = 256, seed: int = 0, name: str = "stand-in-policy") -> None:
        import torch

        self.torch = torch
        self.name = name
        g = torch.Generator().manual_seed(seed)
        self.w1 = torch.randn(128, hidden, generator=g) / 128**0.5
        self.w2 = torch.randn(hidden, 1024, generator=g) / hidden**0.5
        self.forward_passes = 0
        self.boards_seen = 0

    def reseed(self, seed: int) -> None:
        pass

    def choose(self, board: Board) -> Move:
        return self.choose_batch([board])[0]

    def choose_batch(self, boards: Sequence[Board]) -> list[Move]:
        torch = self.torch
        obs = np.zeros((len(boards), 4, 32), dtype=np.float32)  # (B, planes, squares)
        for i, b in enumerate(boards):
            own, opp = (b.black, b.white) if b.turn == 0 else (b.white, b.black)
            for plane, bb in enumerate((own & ~b.kings, own & b.kings, opp & ~b.kings, opp & b.kings)):
                for sq in squares_of(bb):
                    obs[i, plane, sq - 1] = 1.0
        with torch.no_grad():
            x = torch.from_numpy(obs.reshape(len(boards), 128))  # (B, 128)
            logits = (torch.relu(x @ self.w1) @ self.w2).numpy()  # (B, 1024)
        self.forward_passes += 1
        self.boards_seen += len(boards)
        out = []
        for i, b in enumerate(boards):
            moves = b.legal_moves()
            scores = [logits[i, (m.from_square - 1) * 32 + m.to_square - 1] for m in moves]
            out.append(moves[int(np.argmax(scores))])
        return out


def bench_lockstep_ladder(
    games_per_rung: int = 200,
    rungs: Sequence[str] = ("random", "greedy", "alphabeta:2", "alphabeta:4"),
    seed: int = 0,
) -> dict[str, object]:
    """Time a ladder run of `StandInPolicy` against ``rungs`` in lockstep (one merged schedule,
    as `kingme ladder` runs a batched player)."""
    policy = StandInPolicy(seed=seed)
    specs: list[GameSpec] = []
    for rung in rungs:
        specs += schedule_match(policy.name, rung, games_per_rung, seed, acf_openings(), rung, len(specs))
    players = {policy.name: policy, **{r: load_player(r) for r in rungs}}
    for p in players.values():
        p.choose(Board())  # compile / load caches outside the timing
    t0 = time.perf_counter()
    records, mode = play_games(specs, players=players)
    seconds = time.perf_counter() - t0
    return {
        "games": len(records),
        "games_per_rung": games_per_rung,
        "rungs": list(rungs),
        "mode": mode,
        "seconds": round(seconds, 2),
        "forward_passes": policy.forward_passes,
        "mean_batch": round(policy.boards_seen / max(policy.forward_passes, 1), 1),
        "plies": sum(r.plies for r in records),
        "score": {r: tally([x for x in records if x.spec.label == r]).__dict__ for r in rungs},
    }
