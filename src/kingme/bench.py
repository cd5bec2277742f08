"""`kingme bench engine|train|search [--json]`, `kingme bench ppo-suite` and `kingme bench lm`: the speed
figures (and the PPO suite, `kingme.ppo.suite`; the language-model loop, `kingme.lm.bench`) that the
docs quote.

Each benchmark runs on one core in this process, after a warm-up call that compiles (or loads
from numba's cache) every kernel it uses, and reports the best of a few repeats.

The engine benchmark times kingme's perft beside a bare generator written here: a plain
children-only move generator (no move paths, an explicit capture stack, per-ply buffers) with the
same bulk counting at the last ply. Both run in the same process, alternately, so their ratio
holds on a loaded machine where the absolute figures do not.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from typing import Any

import numpy as np
from numba import njit

from kingme.checkers.core import MAX_MOVES, U64, VALID, crown_row, is_forward, jumpers, popcount, shift
from kingme.config import Parser

_ZERO, _ONE = U64(0), U64(1)


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


# ------------------------------------------------------------------------------------------------
# The bare generator: a plain children-only perft, the yardstick for kingme's own


@njit(cache=True)
def _bare_jumps(
    start: np.uint64,
    P: np.uint64,
    O: np.uint64,
    K: np.uint64,
    side: int,
    out: np.ndarray,
    n: int,
    st: np.ndarray,
) -> int:
    """Every capture sequence of the piece on ``start``, as positions written to ``out`` from
    row ``n``; a depth-first search with an explicit stack ``st`` of rows (square, captured,
    next direction, found a jump)."""
    king = (K & start) != _ZERO
    empty = (VALID & ~(P | O)) | start
    crown = crown_row(side)
    top = 0
    st[0, 0], st[0, 1], st[0, 2], st[0, 3] = start, _ZERO, _ZERO, _ZERO
    while top >= 0:
        sq, cap, d = st[top, 0], st[top, 1], int(st[top, 2])
        if d == 4:
            if st[top, 3] == _ZERO and top > 0:
                out[n, 0] = (P ^ start) | sq
                out[n, 1] = O & ~cap
                out[n, 2] = (K & ~start & ~cap) | (sq if king else _ZERO)
                n += 1
            top -= 1
            continue
        st[top, 2] = U64(d + 1)
        if not king and not is_forward(d, side):
            continue
        mid = shift(sq, d)
        if mid & O & ~cap == _ZERO:
            continue
        land = shift(mid, d)
        if land & empty == _ZERO:
            continue
        st[top, 3] = _ONE
        if not king and land & crown != _ZERO:  # crowning ends the move
            out[n, 0] = (P ^ start) | land
            out[n, 1] = O & ~(cap | mid)
            out[n, 2] = (K & ~(cap | mid)) | land
            n += 1
            continue
        top += 1
        st[top, 0], st[top, 1], st[top, 2], st[top, 3] = land, cap | mid, _ZERO, _ZERO
    return n


@njit(cache=True)
def _bare_children(P: np.uint64, O: np.uint64, K: np.uint64, side: int, out: np.ndarray, st: np.ndarray) -> int:
    """The position after every legal move, written to ``out``; returns how many."""
    n = 0
    J = jumpers(P, O, K, side)
    if J != _ZERO:
        while J != _ZERO:
            sq = J & (~J + _ONE)
            J ^= sq
            n = _bare_jumps(sq, P, O, K, side, out, n, st)
        return n
    empty = VALID & ~(P | O)
    crown = crown_row(side)
    for d in range(4):
        targets = shift(P if is_forward(d, side) else P & K, d) & empty
        while targets != _ZERO:
            t = targets & (~targets + _ONE)
            targets ^= t
            f = shift(t, d ^ 2)
            out[n, 0] = P ^ f ^ t
            out[n, 1] = O
            out[n, 2] = K ^ f ^ t if K & f != _ZERO else (K | t if t & crown != _ZERO else K)
            n += 1
    return n


@njit(cache=True)
def bare_perft(black: np.uint64, white: np.uint64, kings: np.uint64, side: int, depth: int) -> int:
    """Perft with bulk counting at the last ply, on `_bare_children` and per-ply buffers."""
    out = np.empty((depth + 1, MAX_MOVES, 3), dtype=np.uint64)
    st = np.empty((16, 4), dtype=np.uint64)
    count = np.zeros(depth + 1, dtype=np.int64)
    nxt = np.zeros(depth + 1, dtype=np.int64)
    P, O = (black, white) if side == 0 else (white, black)
    if depth == 0:
        return 1
    count[0] = _bare_children(P, O, kings, side, out[0], st)
    if depth == 1:
        return count[0]
    total = 0
    ply = 0
    while ply >= 0:
        if nxt[ply] == count[ply]:
            ply -= 1
            continue
        i = nxt[ply]
        nxt[ply] += 1
        cP, cO, cK = out[ply, i, 1], out[ply, i, 0], out[ply, i, 2]
        cs = side ^ ((ply + 1) & 1)
        if ply == depth - 2:  # count the last ply: steps by popcount, captures by generating them
            if jumpers(cP, cO, cK, cs) != _ZERO:
                total += _bare_children(cP, cO, cK, cs, out[ply + 1], st)
            else:
                empty = VALID & ~(cP | cO)
                for d in range(4):
                    total += popcount(shift(cP if is_forward(d, cs) else cP & cK, d) & empty)  # type: ignore[call-arg]
        else:
            ply += 1
            count[ply] = _bare_children(cP, cO, cK, cs, out[ply], st)
            nxt[ply] = 0
    return total


def bench_perft(depth: int, repeats: int = 3) -> dict[str, Any]:
    """kingme's perft and the bare generator's, timed alternately in the same run (best of
    ``repeats`` each), with the ratio of their speeds."""
    from kingme.checkers import Board, perft

    board = Board()
    b, w, k = np.uint64(board.black), np.uint64(board.white), np.uint64(board.kings)
    nodes = perft(board, depth)
    bare_nodes = int(bare_perft(b, w, k, 0, depth))
    if bare_nodes != nodes:
        raise RuntimeError(f"bare perft({depth}) = {bare_nodes}, kingme's = {nodes}")
    t_kingme, t_bare = float("inf"), float("inf")
    for _ in range(repeats):
        t_kingme = min(t_kingme, _best_of(lambda: perft(board, depth), 1))
        t_bare = min(t_bare, _best_of(lambda: bare_perft(b, w, k, 0, depth), 1))
    return {
        "depth": depth,
        "nodes": nodes,
        "seconds": round(t_kingme, 3),
        "nodes_per_second": round(nodes / t_kingme),
        "bare_seconds": round(t_bare, 3),
        "bare_nodes_per_second": round(nodes / t_bare),
        "ratio_to_bare": round(t_bare / t_kingme, 3),
        "bulk_counting": True,
    }


def bench_engine(
    perft_depth: int = 11, games: int = 200_000, env_games: int = 4096, env_steps: int = 400
) -> dict[str, Any]:
    from kingme.checkers import core
    from kingme.envs.checkers_vec import CheckersVecEnv, random_legal_actions

    res: dict[str, Any] = {"machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, 1 core used"}
    _compile_time()  # make sure the cache is warm before timing the cold start
    res["first_call_seconds_warm_cache"] = round(_compile_time(), 3)

    res["perft"] = bench_perft(perft_depth)

    core.random_games(10, 1, 10_000)
    stats: dict[str, Any] = {}

    def play() -> None:
        stats["r"] = core.random_games(games, 7, 10_000)

    t = _best_of(play, 2)
    r = stats["r"]
    res["random_games"] = {
        "games": games,
        "seconds": round(t, 3),
        "games_per_second": round(games / t),
        "mean_plies": round(float(r[3]) / games, 1),
        "black_white_draw": [int(r[0]), int(r[1]), int(r[2])],
    }

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
    res["vec_env"] = {
        "games": env_games,
        "steps": env_games * env_steps,
        "seconds": round(t, 3),
        "steps_per_second": round(env_games * env_steps / t),
        "includes": "random legal action choice, step, observations, masks, auto-reset",
    }
    return res


# The targets of `kingme bench`, the one list of them (`kingme bench --help` shows it).
TARGETS: dict[str, str] = {
    "engine": "perft beside a bare compiled generator, random games and the vectorised env (one core)",
    "train": "the self-play training loop's steps/s against the bound its network sets (its own threads)",
    "search": "alpha-beta search: nodes/s and time per move (one core)",
    "ppo-suite": "kingme's PPO defaults beside SB3's on several tasks (options: kingme bench ppo-suite --help)",
    "lm": "the language-model RL loop: response tokens/s (options: kingme bench lm --help)",
}
# The targets that parse their own options: target -> the module whose main(argv) runs it.
OWN_OPTIONS = {"ppo-suite": "kingme.ppo.suite", "lm": "kingme.lm.bench"}


def main(argv: list[str]) -> int:
    if argv and argv[0] in OWN_OPTIONS:
        import importlib

        return int(importlib.import_module(OWN_OPTIONS[argv[0]]).main(argv[1:]) or 0)
    p = Parser(
        prog="kingme bench",
        description="Benchmarks. " + "; ".join(f"{name}: {text}" for name, text in TARGETS.items()) + ".",
    )
    p.add_argument("what", choices=list(TARGETS), help="which benchmark")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test, not a measurement)")
    p.add_argument(
        "--threads", type=int, default=0, help="train: torch threads (0 = training's default, one per usable core)"
    )
    a = p.parse_args(argv)
    if a.what == "engine":
        res = bench_engine(9, 20_000, 256, 50) if a.quick else bench_engine()
    elif a.what == "search":
        from kingme.arena.bench import bench_search

        res = bench_search(depth=6, games=2 if a.quick else 4, seed=0, repeat=1)
    else:
        from kingme.selfplay.bench import bench_train

        res = bench_train(quick=a.quick, threads=a.threads)
    if a.json:
        print(json.dumps(res))
    else:
        if a.what == "engine":
            pf = res["perft"]
            print(
                f"perft({pf['depth']}): kingme {pf['nodes_per_second'] / 1e6:.1f} M nodes/s, bare children-only "
                f"generator {pf['bare_nodes_per_second'] / 1e6:.1f} M nodes/s, ratio {pf['ratio_to_bare']:.2f}"
            )
        print(json.dumps(res, indent=2))
    return 0
