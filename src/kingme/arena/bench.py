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

from kingme.arena.match import MAX_PLIES, play_game, schedule_match
from kingme.arena.openings import acf_openings
from kingme.checkers import Board
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
