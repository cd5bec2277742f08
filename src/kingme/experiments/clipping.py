"""Claim 2: clipping kills some gradients, and bounds how far an update moves the policy.

L^CLIP = −E[min(r·Â, clip(r, 1−ε, 1+ε)·Â)]: a sample whose ratio has left [1−ε, 1+ε] in the
direction its advantage pushes contributes no gradient. The logged losses/clipfrac is the share of
samples with |r − 1| > ε, averaged over the update's minibatch steps (an upper bound on the share
whose gradient is removed: a sample outside the interval on the side its advantage pulls back from
still gets a gradient). For the unclipped arm it is measured against ε = 0.2.
"""

from __future__ import annotations

from typing import Any

from kingme.experiments.base import UNIT, Arm, Curve, Experiment, Metric, Results
from kingme.experiments.ppo_runs import PPO
from kingme.experiments.shared import (
    ACROBOT,
    CARTPOLE,
    KL_CURVE,
    KL_MAX_METRIC,
    KL_METRIC,
    OUTSIDE_METRIC,
    RETURN_CURVE,
    RETURN_METRICS,
    arms_over,
    compare_all,
)
from kingme.experiments.summaries import overall_max, overall_mean

REF = "ε=0.2"
SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("ε=0.1", {"clip_coef": 0.1}),
    (REF, {"clip_coef": 0.2}),
    ("ε=0.3", {"clip_coef": 0.3}),
    ("no clipping", {"clip_policy": False}),
]


def arms(tiny: bool) -> list[Arm]:
    return arms_over([CARTPOLE, ACROBOT], tiny, SETTINGS)


def conclude(results: Results) -> list[str]:
    out = []
    for env in results.envs():
        for lab, _ in SETTINGS:
            cf = results.summary(lab, "clipfrac", env)
            out.append(f"{env}: {lab}: {cf.fmt(2)} of the samples per minibatch step had |r−1| > ε (logged clipfrac).")
    out += compare_all(results, REF, "final_return", "final return")
    out += compare_all(results, REF, "kl_update", "median KL moved per update")
    out += compare_all(results, REF, "kl_max", "largest KL moved in one update")
    out += compare_all(results, REF, "outside_clip", "share of ratios outside [1±ε] after the update")
    out += compare_all(results, REF, "drop", "largest drop from best (instability)")
    return out


EXPERIMENT = Experiment(
    name="clipping",
    title="What does clipping remove, and does ε matter?",
    claim="Clipping the ratio removes the gradient of the samples that moved too far, which keeps each "
    "update inside a trust region; without it PPO's repeated epochs overshoot.",
    question="Per update, what fraction of samples does the clip act on, and how do ε ∈ {0.1, 0.2, 0.3} and no "
    "clipping compare in return, KL moved per update and stability?",
    setup="""
PPOConfig defaults (K = 10 epochs over one 256-sample minibatch, Adam 2.5e-3 annealed, gradient-norm
clip 0.5, GAE λ = 0.95), 40,960 steps on CartPole-v1 and Acrobot-v1, varying only the policy clip.
Clip fraction = the logged losses/clipfrac (share of samples with |r − 1| > ε per minibatch step,
averaged over the update; for "no clipping" measured at ε = 0.2). Max clip fraction = its largest
value in a run. KL per update = the exact KL(π_θold ‖ π_θ) over actions on the update's rollout
states, measured after the update (each run's median and largest); "share outside [1±ε]" = the
expected share of rollout samples whose ratio ends the update outside the interval (how far the
policy left the trust region). Largest drop = the largest fall of the 20-episode running return
below its best (instability).
""",
    arms=arms,
    metrics=[
        *RETURN_METRICS,
        Metric("clipfrac", "clip fraction (mean)", overall_mean("losses/clipfrac"), 2, UNIT),
        Metric("clipfrac_max", "clip fraction (max)", overall_max("losses/clipfrac"), 2, UNIT),
        KL_METRIC,
        KL_MAX_METRIC,
        OUTSIDE_METRIC,
    ],
    curves=[RETURN_CURVE, Curve("losses/clipfrac", "clip fraction", bounds=(0.0, 1.0)), KL_CURVE],
    conclude=conclude,
    kind=PPO,
    published="Engstrom et al. (2020): PPO's ratios leave the clipping interval during training, so clipping alone "
    "does not keep the policy in a trust region; Andrychowicz et al. (2021) recommend the clipped loss with ε "
    "around 0.25 as a start; Huang et al. (2022): approx KL usually stays below about 0.02.",
)
