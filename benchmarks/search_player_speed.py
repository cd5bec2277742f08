"""Speed of the `search:` players: time per move, depth reached and leaf evaluations per second, on
real game positions, one core.

    .venv/bin/python benchmarks/search_player_speed.py                      # depths 2,4,6 and 20 ms
    .venv/bin/python benchmarks/search_player_speed.py --specs search:default:6,alphabeta:8:20 --json

The positions are those of `kingme.arena.bench.collect_positions` (every position with a real
choice in GAMES games of alphabeta:4 against itself from ACF openings). Each spec is loaded with
`load_player` and asked for a move in every position (after one warm-up move, so numba's
compilation is not timed). For `search:` specs it also reports the leaves (quiet positions through
the critic), the network's positions and forward passes (leaves plus the policy's orderings), and
the mean batch; for `alphabeta:` specs and the compiled search with an evaluation network
(`search:default`, `search:EVAL_FILE`) the nodes and (for the latter) the evaluations (quiet
leaves scored by the network) per second; for all the mean depth reached.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from kingme.arena.bench import collect_positions
from kingme.checkers import Board, Color
from kingme.envs.bridge import Position
from kingme.players import load_player


def bench_spec(spec: str, positions: list[tuple[int, int, int, int]]) -> dict[str, object]:
    player = load_player(spec, seed=0)
    player.choose(Board())  # warm up (numba cache, torch)
    times: list[float] = []
    depths: list[int] = []
    leaves = evals = batches = nodes = 0
    for black, white, kings, side in positions:
        board = Position(black, white, kings, Color(side)).board()
        t = time.perf_counter()
        player.choose(board)
        times.append(time.perf_counter() - t)
        last = getattr(player, "last", None)
        if last is None:
            continue
        depths.append(last.depth)
        nodes += last.nodes
        leaves += getattr(last, "leaves", 0)
        evals += getattr(last, "evals", 0)
        batches += getattr(last, "batches", 0)
    total = sum(times)
    ms = sorted(1000 * t for t in times)
    row: dict[str, object] = {
        "player": spec,
        "positions": len(positions),
        "median_ms": round(statistics.median(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2),
        "max_ms": round(ms[-1], 2),
        "mean_depth": round(statistics.fmean(depths), 2) if depths else None,
        "nodes": nodes,
    }
    if getattr(player, "net", None) is not None:  # the compiled search with an evaluation network
        row |= {"evals_per_s": round(evals / total), "nodes_per_s": round(nodes / total)}
    elif spec.startswith("search:"):
        row |= {
            "leaves": leaves,
            "leaves_per_s": round(leaves / total),
            "net_positions_per_s": round(evals / total),
            "forward_passes": batches,
            "mean_batch": round(evals / max(batches, 1), 1),
        }
    else:
        row["nodes_per_s"] = round(nodes / total)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--specs",
        default="search:default:2,search:default:4,search:default:6,search:default::20,alphabeta:40:20",
        help="comma-separated player specs",
    )
    ap.add_argument("--games", type=int, default=4, help="alphabeta:4 self-play games for the positions (even)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    args = ap.parse_args()
    torch.set_num_threads(1)
    positions = collect_positions(4, args.games, args.seed)
    for spec in args.specs.split(","):
        row = bench_spec(spec, positions)
        if args.json:
            print(json.dumps(row))
        else:
            print("  ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
