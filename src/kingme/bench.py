"""`kingme bench engine|train|search [--json]`: the speed figures the issues name.

Each benchmark runs on one core in this process, after a warm-up call that compiles (or loads
from numba's cache) every kernel it uses, and reports the best of a few repeats.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from typing import Any

import numpy as np

from kingme.common import UserError
from kingme.config import Parser


def _best_of(fn: Any, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _compile_time() -> float:
    """Seconds for a fresh interpreter to import the engine and run its kernels once (warm cache)."""
    code = (
        "import time; t=time.perf_counter()\n"
        "from kingme.checkers import Board, perft\n"
        "from kingme.envs.checkers_vec import CheckersVecEnv\n"
        "from kingme.checkers import core\n"
        "perft(Board(), 3); core.random_games(1, 1, 1000); CheckersVecEnv(2)\n"
        "print(time.perf_counter()-t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def bench_engine(
    perft_depth: int = 11, games: int = 200_000, env_games: int = 4096, env_steps: int = 400
) -> dict[str, Any]:
    from kingme.checkers import Board, core, perft
    from kingme.envs.checkers_vec import CheckersVecEnv, random_legal_actions

    res: dict[str, Any] = {"machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, 1 core used"}
    _compile_time()  # make sure the cache is warm before timing the cold start
    res["first_call_seconds_warm_cache"] = round(_compile_time(), 3)

    board = Board()
    perft(board, 5)
    nodes = perft(board, perft_depth)
    t = _best_of(lambda: perft(board, perft_depth), 2)
    res["perft"] = {"depth": perft_depth, "nodes": nodes, "seconds": round(t, 3),
                    "nodes_per_second": round(nodes / t), "bulk_counting": True}

    core.random_games(10, 1, 10_000)
    stats: dict[str, Any] = {}

    def play() -> None:
        stats["r"] = core.random_games(games, 7, 10_000)

    t = _best_of(play, 2)
    r = stats["r"]
    res["random_games"] = {"games": games, "seconds": round(t, 3), "games_per_second": round(games / t),
                           "mean_plies": round(float(r[3]) / games, 1),
                           "black_white_draw": [int(r[0]), int(r[1]), int(r[2])]}

    env = CheckersVecEnv(env_games)
    rng = np.array([12345], dtype=np.uint64)
    act = np.zeros(env_games, dtype=np.int64)
    for _ in range(5):
        random_legal_actions(env.mask, rng, act)
        env.step(act)

    def run_env() -> None:
        for _ in range(env_steps):
            random_legal_actions(env.mask, rng, act)
            env.step(act)

    t = _best_of(run_env, 3)
    res["vec_env"] = {"games": env_games, "steps": env_games * env_steps, "seconds": round(t, 3),
                      "steps_per_second": round(env_games * env_steps / t),
                      "includes": "random legal action choice, step, observations, masks, auto-reset"}
    return res


def main(argv: list[str]) -> int:
    p = Parser(prog="kingme bench", description="Speed benchmarks (single core).")
    p.add_argument("what", choices=["engine", "train", "search"], help="which benchmark")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test, not a measurement)")
    a = p.parse_args(argv)
    if a.what == "engine":
        res = bench_engine(9, 20_000, 256, 50) if a.quick else bench_engine()
    elif a.what == "search":
        try:
            from kingme.arena.bench import bench_search
        except ImportError:
            raise UserError("the search benchmark is not available yet") from None
        res = bench_search(depth=6, games=2 if a.quick else 4, seed=0, repeat=1)
    else:
        try:
            from kingme.selfplay.bench import bench_train
        except ImportError:
            raise UserError("the training benchmark is not available yet (self-play training is not built)") from None
        res = bench_train(quick=a.quick)
    if a.json:
        print(json.dumps(res))
    else:
        print(json.dumps(res, indent=2))
    return 0
