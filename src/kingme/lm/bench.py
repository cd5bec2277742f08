"""The RL loop of `kingme lm train`: response tokens per second, sampling and update together.

    python -m kingme.lm.bench [--algo grpo] [--updates 10] [--repeats 3] [--epochs 1] [--json]

A base of the default shape (2 layers, 4 heads, width 128) is pre-trained briefly (150 steps) on
2-digit addition with a scratchpad, then each repeat runs --updates updates of P = 32 prompts x
G = 8 samples from it (seeds 1, 2, ...), with no evaluation between updates. Printed: the median over
the repeats of the loop's response tokens per second (every response token trained on, over the
loop's wall time, the evaluation before the first update left out),.
The file uses only `pretrain`, `train` and their configs, so it also times an older checkout:
`PYTHONPATH=OLD/src python src/kingme/lm/bench.py`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import torch

from kingme.lm.pretrain import PretrainConfig, pretrain
from kingme.lm.rl import RLConfig, train


def loop_speed(algo: str = "grpo", updates: int = 10, repeats: int = 3, epochs: int = 1) -> dict[str, Any]:
    """{"tokens_per_s": the median over the repeats, "runs": each repeat's} for `repeats` runs of
    `updates` RL updates each, from one base."""
    torch.set_num_threads(1)
    base_cfg = PretrainConfig(
        task="addition", max_level=2, scratchpad=True, steps=150, eval_every=10_000, eval_problems=16, device="cpu"
    )
    model, task, _ = pretrain(base_cfg)
    rates = []
    for seed in range(1, repeats + 1):
        cfg = RLConfig(
            algo=algo,  # type: ignore[arg-type]
            updates=updates,
            epochs=epochs,
            eval_every=10_000,
            eval_problems=1,
            device="cpu",
            seed=seed,
        )
        rows: list[dict[str, Any]] = []
        train(cfg, base=(model, task), log=rows.append)
        rates.append(float(rows[-1]["charts/tokens_per_s"]))  # every response token / the loop's time
    return {"tokens_per_s": statistics.median(rates), "runs": rates}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kingme bench lm", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--algo", default="grpo", help="The algorithm (RLConfig's --algo).")
    parser.add_argument("--updates", type=int, default=10, help="Updates per repeat.")
    parser.add_argument("--repeats", type=int, default=3, help="Repeats (seeds 1, 2, ...); the median is printed.")
    parser.add_argument("--epochs", type=int, default=1, help="Epochs per update (RLConfig's --epochs).")
    parser.add_argument("--json", action="store_true", help="Print the result as JSON.")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    result = loop_speed(args.algo, args.updates, args.repeats, args.epochs)
    if args.json:
        print(json.dumps({"algo": args.algo, "updates": args.updates, "epochs": args.epochs, **result}))
    else:
        runs = ", ".join(f"{r:.0f}" for r in result["runs"])
        print(
            f"lm loop, {args.algo}, K = {args.epochs}: {result['tokens_per_s']:.0f} response tokens/s "
            f"(median of {runs}; {time.perf_counter() - t0:.0f} s in all)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
