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

from kingme.arena.ladder import run_ladder
from kingme.arena.match import MAX_PLIES, play_game, schedule_match
from kingme.arena.openings import acf_openings
from kingme.checkers import Board, Move
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
# The lockstep ladder with a policy network


def bench_lockstep_ladder(
    games_per_rung: int = 200,
    rungs: Sequence[str] = ("random", "greedy", "alphabeta:2", "alphabeta:4"),
    seed: int = 0,
) -> dict[str, object]:
    """Time `run_ladder` for a policy network of the shipped model's shape (an MLP 256-256 with
    fresh random weights, so the timing does not depend on a model file) against ``rungs``, in
    lockstep: one forward pass per step over every board (and every multi-jump decision point)
    waiting for the network."""
    import torch

    from kingme.nets import make_network
    from kingme.players.policy import PolicyPlayer

    class CountingPolicy(PolicyPlayer):
        forward_passes = 0
        boards_seen = 0

        def choose_batch(self, boards: Sequence[Board]) -> list[Move]:
            self.forward_passes += 1
            self.boards_seen += len(boards)
            return super().choose_batch(boards)

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    policy = CountingPolicy(make_network("mlp", (256, 256), 64).eval(), "untrained-policy", seed=seed)
    for r in rungs:
        load_player(r).choose(Board())  # compile / load numba's cache outside the timing
    result = run_ladder(policy, games_per_rung, rungs, seed)
    return {
        "games": result.games,
        "games_per_rung": games_per_rung,
        "rungs": list(rungs),
        "mode": result.mode,
        "seconds": round(result.seconds, 2),
        "forward_passes": policy.forward_passes,
        "mean_batch": round(policy.boards_seen / max(policy.forward_passes, 1), 1),
        "plies": sum(r.plies for r in result.records),
        "score": {
            r.rung: {"wins": r.stats.wins, "draws": r.stats.draws, "losses": r.stats.losses} for r in result.rungs
        },
    }
