"""The RL loop of `kingme lm train`: response tokens per second, sampling and update together.

    kingme bench lm [--algo grpo|...|all] [--updates 8] [--repeats 3] [--epochs 1] [--against REF] [--json]

A base of the default shape (2 layers, 4 heads, width 128) is pre-trained briefly (150 steps) on
2-digit addition with a scratchpad and saved once; each repeat then runs --updates updates of
P = 32 prompts x G = 8 samples from it (seed = the repeat's number, 1, 2, ...), with no evaluation
between updates, on one torch thread, in a fresh Python process. Printed: each run's response
tokens per second (every response token trained on, over the loop's wall time, the evaluation
before the first update left out) and their median; and the same per second of the process's CPU
time over updates 2 to the last (from the end of the first to the end of the last), which a
machine shared with other jobs disturbs far less than the wall clock (a job that waits for a core
spends no CPU time waiting).

With --against REF (a git commit of this repository, e.g. the code before a change), the same
workload also runs under REF's package: its `src/` is exported with `git archive` to a temporary
folder outside the repository and put first on the worker's PYTHONPATH (this code runs from a
copy of its package taken at the start, so edits made meanwhile do not leak in). The runs alternate (REF,
this code, this code, REF, ...) so that the load of a shared machine falls on both alike; printed
per algorithm: each side's medians, and the ratios this/REF as the geometric mean of the paired
ratios with a 95% t-interval over the pairs, by wall and by CPU time. The worker uses only `load_checkpoint`, `RLConfig`
and `train(cfg, base=..., log=...)`, which every version since the loop's first has.

The update's share of the machine's matmul throughput (`update_throughput`): the update timed on
a rollout of the benchmark's shape, its FLOPs counted from the model's shape and the real tokens
(`forward_flops`: the model FLOPs, no padding), against torch's matmul GFLOP/s at the update's own
shapes measured in the same process (`matmul_gflops`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from kingme.common import UserError, one_line
from kingme.lm.rl import RLConfig, ValueHead, collect_rollout, rl_update  # at start: edits later do not mix in
from kingme.stats import mean_ci

ALGOS = ("grpo", "dr_grpo", "rloo", "reinforce", "ppo")

# One benchmark run, in its own process, under whichever kingme package PYTHONPATH puts first.
# It uses only the API every version of the loop has had.
WORKER = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
import kingme
from kingme.lm.pretrain import load_checkpoint
from kingme.lm.rl import RLConfig, train

a = json.loads(sys.argv[1])
model, task = load_checkpoint(a["base"], "cpu")
cfg = RLConfig(algo=a["algo"], updates=a["updates"], epochs=a["epochs"], eval_every=10_000, eval_problems=1,
               device="cpu", seed=a["seed"])
torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # its first use imports torch._dynamo: seconds of CPU
rows, cpu = [], []

def log(row):
    rows.append(row)
    cpu.append(time.process_time())

train(cfg, base=(model, task), log=log)
tokens = [float(r["charts/tokens_per_s"]) * float(r["time"]) for r in rows]  # response tokens so far
per_cpu = (tokens[-1] - tokens[0]) / (cpu[-1] - cpu[0]) if len(rows) > 1 else float("nan")
print(json.dumps({"tokens_per_s": float(rows[-1]["charts/tokens_per_s"]), "tokens_per_cpu_s": per_cpu,
                  "rewards": [float(r["charts/reward"]) for r in rows], "package": kingme.__file__}))
"""


def base_config() -> Any:
    from kingme.lm.pretrain import PretrainConfig

    return PretrainConfig(
        task="addition", max_level=2, scratchpad=True, steps=150, eval_every=10_000, eval_problems=16, device="cpu"
    )


def make_base(path: Path) -> None:
    """Pre-train the benchmark's base (150 steps, one thread) and save it to `path`."""
    from kingme.lm.pretrain import pretrain, save_checkpoint

    torch.set_num_threads(1)
    model, task, _ = pretrain(base_config())
    save_checkpoint(path, model, task)


def export_source(ref: str, dest: Path) -> str:
    """`git archive REF src` of this package's repository, unpacked under `dest`; returns REF's full hash."""
    repo = Path(__file__).resolve().parents[3]
    if not (repo / ".git").exists():
        raise UserError(f"--against needs kingme's git repository; {repo} is not one")
    rev = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if rev.returncode != 0:
        raise UserError(f"--against {ref!r} is not a commit of {repo}")
    commit = rev.stdout.strip()
    archive = dest / "src.tar"
    with archive.open("wb") as out:
        done = subprocess.run(["git", "-C", str(repo), "archive", commit, "src"], stdout=out, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise UserError(f"git archive {ref} failed: {one_line(Exception(done.stderr.decode()))}")
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    if not (dest / "src" / "kingme" / "lm" / "rl.py").is_file():
        raise UserError(f"{ref} has no language-model loop (src/kingme/lm/rl.py)")
    return commit


def run_worker(src: Path, base: Path, algo: str, updates: int, epochs: int, seed: int) -> dict[str, Any]:
    """One run of the workload in a fresh process whose kingme is the package under `src`."""
    env = dict(os.environ, PYTHONPATH=str(src) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONHASHSEED", None)
    arg = json.dumps({"base": str(base), "algo": algo, "updates": updates, "epochs": epochs, "seed": seed})
    done = subprocess.run(
        [sys.executable, "-c", WORKER, arg], env=env, cwd=str(base.parent), capture_output=True, text=True
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"the benchmark's run under {src} failed: {tail}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(out["package"]).resolve().is_relative_to(src.resolve()):
        raise UserError(f"the worker imported kingme from {out['package']}, not from {src}")
    return dict(out)


def ratio_interval(new: list[float], old: list[float]) -> tuple[float, float, float]:
    """The geometric mean of the paired ratios new_i / old_i with a 95% t-interval (on their logs);
    NaN bounds with one pair."""
    iv = mean_ci([math.log(n / o) for n, o in zip(new, old, strict=True)])
    return math.exp(iv.mean), math.exp(iv.lo), math.exp(iv.hi)


# ---------------------------------------------------------------------------------------------
# The update's FLOPs against the machine's matmul throughput
# ---------------------------------------------------------------------------------------------


def forward_flops(n_layer: int, n_embd: int, vocab: int, seqs: list[int], scored: list[int]) -> float:
    """Multiply-adds x 2 of one forward pass of the model over sequences of `seqs` tokens, `scored[i]`
    of sequence i read out by the head: per layer and token the QKV, output and MLP matmuls, 2·12C²,
    and per sequence of s tokens causal attention, 2·2·C·s(s+1)/2 (scores and weighted sum); then the
    head, 2·C·V per scored token. LayerNorm, GELU and softmax are not counted. These are the model's
    FLOPs on the real tokens: padding is not counted, and a prompt counts once per sequence even
    where the update computes it once per group."""
    C = n_embd
    per_layer = sum(2 * 12 * C * C * s + 2 * C * s * (s + 1) for s in seqs)
    return float(n_layer * per_layer + 2 * C * vocab * sum(scored))


def matmul_gflops(shapes: list[tuple[int, int, int]], seconds: float = 1.0) -> float:
    """Torch's float32 matmul GFLOP/s on this machine (one thread as set), over the (M, K, N) shapes
    given, each timed for about `seconds`: Σ 2MKN / Σ time."""
    flops, elapsed = 0.0, 0.0
    for M, K, N in shapes:
        a, b = torch.randn(M, K), torch.randn(K, N)
        torch.mm(a, b)  # warm-up
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            torch.mm(a, b)
            reps += 1
        elapsed += time.perf_counter() - t0
        flops += 2.0 * M * K * N * reps
    return flops / elapsed / 1e9


def update_throughput(base: Path, algo: str, repeats: int = 5) -> dict[str, float]:
    """The update (`rl.rl_update`) of `algo` on one rollout of the benchmark's shape, timed over
    `repeats` calls: its GFLOP/s (forward with grad, backward at 2x the forward, the reference's
    and θ_old's extra forwards where the algorithm has them) and that as a share of the machine's
    matmul GFLOP/s at the update's shapes (T = the rollout's tokens: T x C x 3C, T x C x 4C,
    T x 4C x C, T x C x C)."""
    import copy

    from kingme.lm.pretrain import load_checkpoint
    from kingme.lm.tasks import sample_problems

    torch.set_num_threads(1)
    model, task = load_checkpoint(base, "cpu")
    cfg = RLConfig(algo=algo, device="cpu").resolved()  # type: ignore[arg-type]
    rng = __import__("numpy").random.default_rng(1)
    torch.manual_seed(1)
    problems = sample_problems(task, rng, cfg.prompts_per_update, "train", cfg.mix)
    roll = collect_rollout(model, task, problems, cfg.group_size, cfg.temperature, cfg.top_k, "cpu")
    B, N = roll.responses.shape
    seq = roll.prompts.shape[1] + N - 1
    c = model.config
    lengths = [int(n) for n in roll.mask.sum(dim=1)]  # each response's tokens, EOS included
    fwd = forward_flops(c.n_layer, c.n_embd, c.vocab_size, [roll.prompts.shape[1] + n - 1 for n in lengths], lengths)
    has_ref = (cfg.kl_coef or 0.0) > 0
    # per epoch a forward with grad and a backward (2x); the reference's forward; θ_old's beyond one epoch
    passes = 3.0 * cfg.epochs + (1.0 if has_ref else 0.0) + (1.0 if cfg.epochs > 1 else 0.0)
    times = []
    for _ in range(repeats):
        policy = copy.deepcopy(model)
        reference = copy.deepcopy(model) if has_ref else None
        head = ValueHead(c.n_embd) if cfg.advantage == "gae" else None
        params = list(policy.parameters()) + (list(head.parameters()) if head is not None else [])
        opt = torch.optim.Adam(params, lr=cfg.lr)
        t0 = time.perf_counter()
        rl_update(policy, reference, head, opt, roll, cfg)
        times.append(time.perf_counter() - t0)
    seconds = statistics.median(times)
    T, C = B * seq, c.n_embd
    peak = matmul_gflops([(T, C, 3 * C), (T, C, 4 * C), (T, 4 * C, C), (T, C, C)])
    achieved = passes * fwd / seconds / 1e9
    return {
        "update_s": seconds,
        "update_gflop": passes * fwd / 1e9,
        "update_gflops": achieved,
        "matmul_gflops": peak,
        "share": achieved / peak,
        "batch": B,
        "seq": seq,
    }


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def this_source() -> Path:
    """The `src` folder this kingme package was imported from."""
    return Path(__file__).resolve().parents[2]


def bench(
    algos: tuple[str, ...],
    updates: int,
    repeats: int,
    epochs: int,
    against: str | None,
    flops: bool,
    done: Any = None,
) -> dict[str, Any]:
    """Every run of the benchmark and its summary per algorithm (see the module docstring)."""
    from kingme.progress import progress_bar

    result: dict[str, Any] = {"updates": updates, "repeats": repeats, "epochs": epochs, "algos": {}}
    with tempfile.TemporaryDirectory(prefix="kingme-bench-lm-") as tmp:
        work = Path(tmp)
        if against is not None:
            result["against"] = export_source(against, work)
        base = work / "base.safetensors"
        make_base(base)
        mine = work / "this" / "src"  # a snapshot: edits to the tree during the run do not leak into it
        shutil.copytree(this_source() / "kingme", mine / "kingme", ignore=shutil.ignore_patterns("__pycache__"))
        sides = {"new": mine} | ({"old": work / "src"} if against is not None else {})
        order = list(sides)
        total = len(algos) * repeats * len(order)
        with progress_bar(total, "kingme bench lm", enabled=True) as advance:
            for algo in algos:
                runs: dict[str, list[dict[str, Any]]] = {side: [] for side in order}
                for seed in range(1, repeats + 1):
                    # alternate which side goes first, so a drift in the load falls on both alike
                    for side in order[::-1] if seed % 2 else order:
                        runs[side].append(run_worker(sides[side], base, algo, updates, epochs, seed))
                        advance(info=f"{algo} {side} {runs[side][-1]['tokens_per_s']:.0f}")
                row: dict[str, Any] = {}
                for side, side_runs in runs.items():
                    rates = [r["tokens_per_s"] for r in side_runs]
                    cpu = [r["tokens_per_cpu_s"] for r in side_runs]
                    row[side] = {"median": statistics.median(rates), "runs": rates,
                                 "cpu_median": statistics.median(cpu), "cpu_runs": cpu,
                                 "final_reward": [r["rewards"][-1] for r in side_runs]}  # fmt: skip
                if against is not None:
                    row["ratio"] = ratio_interval(row["new"]["runs"], row["old"]["runs"])
                    row["cpu_ratio"] = ratio_interval(row["new"]["cpu_runs"], row["old"]["cpu_runs"])
                if flops:
                    row["update"] = update_throughput(base, algo)
                result["algos"][algo] = row
                if done is not None:
                    done(algo, row)
    return result


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kingme bench lm", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--algo", default="grpo", help="The algorithm (RLConfig's --algo), or all five.")
    parser.add_argument("--updates", type=int, default=8, help="Updates per run.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per side (seeds 1, 2, ...).")
    parser.add_argument("--epochs", type=int, default=1, help="Epochs per update (RLConfig's --epochs).")
    parser.add_argument("--against", default=None, help="A git commit whose loop runs the same workload, alternated.")
    parser.add_argument(
        "--flops", action="store_true", help="Also time the update alone and its share of the matmul throughput."
    )
    parser.add_argument("--json", action="store_true", help="Print the result as JSON.")
    args = parser.parse_args(argv)
    algos = ALGOS if args.algo == "all" else (args.algo,)
    if any(a not in ALGOS for a in algos):
        raise UserError(f"--algo must be one of {', '.join(ALGOS)} or all, got {args.algo!r}")
    if args.updates < 1 or args.repeats < 1 or args.epochs < 1:
        raise UserError("--updates, --repeats and --epochs must be at least 1")
    t0 = time.perf_counter()
    load_before = load_average()
    ref = f" against {args.against}" if args.against else ""
    if not args.json:
        print(f"lm loop{ref}: {args.updates} updates x {args.repeats} runs, K = {args.epochs}, one thread", flush=True)

    def show(algo: str, row: dict[str, Any]) -> None:
        if args.json:
            return
        for key, unit, ratio in (("", "wall", "ratio"), ("cpu_", "CPU", "cpu_ratio")):
            new = row["new"]
            runs = ", ".join(f"{r:.0f}" for r in new[f"{key}runs"])
            line = f"  {algo:<9} per {unit:<4} s: this code {new[f'{key}median']:6.0f} ({runs})"
            if "old" in row:
                old = row["old"]
                r, lo, hi = row[ratio]
                line += (
                    f"   {args.against} {old[f'{key}median']:6.0f} ({', '.join(f'{x:.0f}' for x in old[f'{key}runs'])})"
                    f"   ratio {r:.2f} [{lo:.2f}, {hi:.2f}]"
                )
            print(line)
        rewards = ", ".join(
            f"{side} {statistics.mean(row[side]['final_reward']):.3f}" for side in ("new", "old") if side in row
        )
        print(f"            last update's mean reward over the runs (same seeds): {rewards}")
        if "update" in row:
            u = row["update"]
            print(
                f"            update {u['update_s'] * 1000:.0f} ms, {u['update_gflop']:.1f} GFLOP: "
                f"{u['update_gflops']:.1f} GFLOP/s = {100 * u['share']:.0f}% of matmul's "
                f"{u['matmul_gflops']:.1f} GFLOP/s at its shapes (T = {u['batch']} x {u['seq']})"
            )
        print("", end="", flush=True)

    result = bench(algos, args.updates, args.repeats, args.epochs, args.against, args.flops, show)
    result["load_average"] = {"before": load_before, "after": load_average()}
    result["seconds"] = time.perf_counter() - t0
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"load average {result['load_average']['before']} before, {result['load_average']['after']} after; "
        f"{result['seconds']:.0f} s in all"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
