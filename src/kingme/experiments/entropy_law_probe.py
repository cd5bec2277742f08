"""The probes that chose entropy-law's second design (`--design early`): GRPO alone, on seeds the full
run does not use, judged ONLY by the entropy curve and the planted control (which depend on H, not
on the real reward R). The rollout's accuracy is dropped from every row before anything is kept or
printed, so the choice cannot have looked at whether the law predicts the real R.

`python -m kingme.experiments.entropy_law_probe OUT.json NAME [NAME ...] [--seeds 11 12 13]`, NAME
among `PROBES`; prints, per probe and seed, the entropy over the first tenth and at the end, the
share of the run's fall of exp(H) that the first tenth holds, and the planted control's error, then
per probe the planted control's mean error with its 95% t-interval (the verdict rule's quantity).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
from pathlib import Path
from typing import Any

import numpy as np

from kingme.experiments import entropy_law as el
from kingme.experiments.lm_runs import lm_arm, make_lm_config, run_lm
from kingme.stats import mean_ci

# name -> (base overrides, RL overrides) on top of the first design's BASE and COMMON (10-update warm-up,
# lr 3e-4, 2 minibatches), GRPO; the probes that ran, in order (nowarm-lr2e-3 on seeds 11 and 12 only)
PROBES: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    "nowarm": ({}, {"warmup": 0}),
    "nowarm-lr1e-3": ({}, {"warmup": 0, "lr": 1e-3}),
    "nowarm-lr1e-3-cos": ({}, {"warmup": 0, "lr": 1e-3, "lr_decay": "cosine"}),
    "base50-nowarm": ({"pretrain_steps": 50}, {"warmup": 0}),
    "nowarm-lr1e-3-mb4": ({}, {"warmup": 0, "lr": 1e-3, "minibatches": 4}),
    "nowarm-lr2e-3": ({}, {"warmup": 0, "lr": 2e-3}),
}


def _quiet(n: int = 1, *, description: str | None = None, info: str | None = None) -> None:
    return None


KEEP = ("update", "global_step", "losses/entropy")  # the only columns kept: no reward


def probe(name: str, seed: int) -> dict[str, Any]:
    base, rl = PROBES[name]
    arm = lm_arm(el.GRPO, el.TASK, False, {**el.BASE, **base}, **{**el.COMMON, "algo": "grpo", **rl})
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    out = run_lm(make_lm_config(arm, seed), _quiet)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    rows = [{k: r[k] for k in KEEP if k in r} for r in out.history]
    H = el.updates_of(rows, "losses/entropy")
    k = max(3, math.ceil(el.FIT_SHARE * len(H) - 1e-9))
    x = np.exp(H)
    pred = el.prediction(planted=True)(rows)
    return {
        "probe": name,
        "seed": seed,
        "cpu_s": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        "h_first": float(H[0]),
        "h_tenth": float(H[k - 1]),
        "h_end": float(H[-k:].mean()),
        "fall_share": float((x[:3].mean() - x[k - 3 : k].mean()) / (x[:3].mean() - x[-k:].mean())),
        "sd_x_fit": float(x[:k].std()),
        "planted_error": pred.final_error if pred else math.nan,
        "planted_moved": pred.constant_final_error if pred else math.nan,
        "planted_a": pred.a if pred else math.nan,
        "entropy": [float(h) for h in H],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kingme.experiments.entropy_law_probe", description=__doc__)
    p.add_argument("out", help="JSON file the probes' entropy paths and control measures are appended to.")
    p.add_argument("names", nargs="+", help=f"Probes among {', '.join(PROBES)}.")
    p.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13])
    ns = p.parse_args(argv)
    bad = [n for n in ns.names if n not in PROBES]
    if bad:
        print(f"entropy_law_probe: error: unknown probe {bad[0]!r}", file=sys.stderr)
        return 2
    path = Path(ns.out)
    done: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
    for name in ns.names:
        rows = []
        for seed in ns.seeds:
            r = probe(name, seed)
            rows.append(r)
            done.append(r)
            path.write_text(json.dumps(done))
            print(
                f"{name} seed {seed}: H {r['h_first']:.3f} → {r['h_tenth']:.3f} (tenth) → {r['h_end']:.3f} (end); "
                f"first tenth holds {r['fall_share']:.0%} of exp(H)'s fall, sd {r['sd_x_fit']:.3f}; planted error "
                f"{r['planted_error']:+.3f} (moved {r['planted_moved']:+.3f}, a {r['planted_a']:.2f}); "
                f"{r['cpu_s']:.0f} s CPU",
                flush=True,
            )
        iv = mean_ci([r["planted_error"] for r in rows])
        print(f"== {name}: planted error {iv.fmt(3)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
