"""Speed of the search bots and of the lockstep arena (the figures in docs/benchmarks.md).

    .venv/bin/python benchmarks/search_speed.py                 # depths 2, 4, 6, 8 + lockstep ladder
    .venv/bin/python benchmarks/search_speed.py --depths 6 --games 8 --no-lockstep --json

Per depth: `kingme.arena.bench.bench_search` plays GAMES games of alphabeta:D against itself from
ACF openings, then times a fresh search on every position with a real choice (one core) and
reports the median / mean / 90th percentile time per move and nodes per second.

Lockstep: `kingme.arena.bench.bench_lockstep_ladder` rates a policy network of the shipped
model's shape (MLP 256-256, fresh random weights) with `kingme.arena.ladder.run_ladder` against
random, greedy, alphabeta:2 and alphabeta:4, GAMES_PER_RUNG games each, in lockstep, as
`kingme ladder policy:...` does.
"""

from __future__ import annotations

import argparse
import json

from kingme.arena.bench import bench_lockstep_ladder, bench_search

TARGET_MS = {6: 5.0}  # the target: alphabeta:6 at most 5 ms per move (median)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", default="2,4,6,8", help="comma-separated search depths")
    ap.add_argument("--games", type=int, default=4, help="self-play games per depth (even)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="time each position this many times")
    ap.add_argument("--games-per-rung", type=int, default=200, help="lockstep ladder games per rung")
    ap.add_argument("--lockstep", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    args = ap.parse_args()

    rows = []
    for d in (int(x) for x in args.depths.split(",")):
        r = bench_search(d, args.games, args.seed, args.repeat)
        rows.append(r)
        if args.json:
            print(json.dumps(r), flush=True)
    if not args.json:
        print("| player | positions | median ms | mean ms | p90 ms | max ms | nodes/s | target |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for r in rows:
            depth = int(str(r["player"]).split(":")[1])
            target = TARGET_MS.get(depth)
            verdict = (
                "" if target is None else (f"<= {target} ms: {'met' if float(r['median_ms']) <= target else 'MISSED'}")
            )
            print(
                f"| {r['player']} | {r['positions']} | {r['median_ms']} | {r['mean_ms']} | "
                f"{r['p90_ms']} | {r['max_ms']} | {r['nodes_per_s']:,} | {verdict} |"
            )
    if args.lockstep:
        lad = bench_lockstep_ladder(args.games_per_rung, seed=args.seed)
        if args.json:
            print(json.dumps(lad))
        else:
            print(
                f"\nlockstep ladder, untrained policy network: {lad['games']} games "
                f"({lad['games_per_rung']} per rung vs {', '.join(lad['rungs'])}) in "
                f"{lad['seconds']} s; {lad['forward_passes']} forward passes, "
                f"mean batch {lad['mean_batch']}, {lad['plies']} plies"
            )


if __name__ == "__main__":
    main()
