"""Language model, claim 2: RL sharpens and does not add (Yue et al. 2025), measured by pass@k.

Two arms per seed from the same base: the base itself, and the base after GRPO. Both are scored by
the unbiased pass@k (Chen et al. 2021) from 64 samples at temperature 1 of each of 64 held-out test
problems, for k = 1 .. 64. If RL only sharpens what the base already samples, the RL policy wins at
pass@1 and the base catches up (or wins) at large k.
"""

from __future__ import annotations

import math
from pathlib import Path

from kingme.experiments.base import UNIT_DIFFERENCE, Arm, Experiment, Metric, Results
from kingme.experiments.lm_runs import (
    ADDITION_BASE,
    LM,
    REWARD_CURVE,
    TEST_CURVE,
    TEST_PASS1,
    lm_arm,
    paired,
    pass_at_k_curve,
    pass_k_metrics,
    plot_against,
)
from kingme.experiments.summaries import gain

KS = (1, 2, 4, 8, 16, 32, 64)
UPDATES = 100
BASE, RL = "base", "after GRPO"


def arms(tiny: bool) -> list[Arm]:
    measure = {"pass_k": KS, "pass_samples": 64, "pass_problems": 64}
    return [
        lm_arm(BASE, "addition", tiny, ADDITION_BASE, do_rl=False, **measure),
        lm_arm(RL, "addition", tiny, ADDITION_BASE, algo="grpo", updates=UPDATES, eval_every=10, **measure),
    ]


def ks_of(results: Results) -> list[int]:
    """The k measured (the tiny runs have fewer)."""
    return [k for k in KS if any(not math.isnan(r.metrics.get(f"pass@{k}", math.nan)) for r in results.runs)]


def conclude(results: Results) -> list[str]:
    out = []
    for k in ks_of(results):
        b, a = results.summary(BASE, f"pass@{k}"), results.summary(RL, f"pass@{k}")
        d, word = paired(results, RL, f"gain@{k}", "RL higher", "base higher")  # the same seed's base and policy
        out.append(f"pass@{k}: base {b.fmt(3)}, after GRPO {a.fmt(3)}; RL − base per seed {d}: {word}.")
    ks = ks_of(results)
    if ks:
        small, large = results.summary(RL, f"gain@{ks[0]}"), results.summary(RL, f"gain@{ks[-1]}")
        out.append(
            f"RL's gain shrinks from {small.fmt(3)} at k = {ks[0]} to {large.fmt(3)} at k = {ks[-1]}"
            if small.mean > large.mean
            else f"RL's gain does not shrink with k ({small.fmt(3)} at k = {ks[0]}, {large.fmt(3)} at k = {ks[-1]})"
        )
    return out


def extra_plots(results: Results, out: Path) -> list[tuple[str, str]]:
    ks = ks_of(results)
    curve = pass_at_k_curve(ks)
    return [plot_against(results, out, "pass_at_k.png", "pass@k before and after RL", "k", "pass@k", curve, log2x=True)]


EXPERIMENT = Experiment(
    name="lm-passk",
    title="Language model: does RL win at pass@1 and the base model at large k?",
    claim="RL with verifiable rewards sharpens the base model's distribution rather than adding capacity: the RL "
    "policy wins at pass@1, the base model at large k (Yue et al. 2025).",
    question="On held-out two-digit additions, how does pass@k (k = 1 .. 64) of the base compare with that of the "
    "same base after GRPO, seed by seed?",
    setup=f"""
Base per seed: `kingme lm pretrain addition --scratchpad --max-level 2 --steps 130`, shared by both
arms. "after GRPO": {UPDATES} GRPO updates of P = 32 prompts × G = 8 samples (RLConfig defaults:
lr 5e-4 after a 20-update warm-up, β = 0.04). pass@k: the unbiased estimator 1 − C(n − c, k)/C(n, k)
from n = 64 samples at temperature 1 of each of 64 distinct held-out test problems (levels equal,
so 11 one-digit and 53 two-digit sums), the same problems and sampling seed for both arms. "RL − base"
is the paired difference per seed (the same base), with a 95% t-interval over seeds.
""",
    arms=arms,
    metrics=[
        TEST_PASS1,
        *pass_k_metrics(KS),
        *[
            Metric(
                f"gain@{k}",
                f"RL − base at pass@{k}",
                gain(f"eval/pass@{k}", f"eval/base_pass@{k}"),
                bounds=UNIT_DIFFERENCE,
            )
            for k in KS
        ],
    ],
    curves=[TEST_CURVE, REWARD_CURVE],
    conclude=conclude,
    extra_plots=extra_plots,
    kind=LM,
    published="Yue et al. (2025): RL-trained models win at pass@1 but the base models win at large k (e.g. "
    "pass@256); six RL algorithms performed alike; distillation, unlike RL, added new reasoning patterns.",
)
