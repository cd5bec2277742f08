"""Pieces several experiments use: the environments, step budgets and the standard metrics."""

from __future__ import annotations

from typing import Any

from kingme.experiments.runner import (
    RETURN,
    Arm,
    Curve,
    Metric,
    Results,
    drop_from_peak,
    final_mean,
    overall_max,
    overall_mean,
    overall_median,
)

CARTPOLE = "gym:CartPole-v1"
ACROBOT = "gym:Acrobot-v1"
STEPS = {CARTPOLE: 40_960, ACROBOT: 40_960}  # 160 updates of T·N = 256 samples
TINY_STEPS = 512  # two updates: a smoke test


def budget(env: str, tiny: bool, steps: int | None = None) -> dict[str, Any]:
    return {"total_steps": TINY_STEPS if tiny else (steps or STEPS.get(env, 40_960))}


def arms_over(envs: list[str], tiny: bool, settings: list[tuple[str, dict[str, Any]]]) -> list[Arm]:
    return [Arm(label, env, {**budget(env, tiny), **over}) for env in envs for label, over in settings]


RETURN_METRICS = [
    Metric("final_return", "final return (last 10%)", final_mean(RETURN)),
    Metric("mean_return", "mean return over training", overall_mean(RETURN)),
    Metric("drop", "largest drop from best", drop_from_peak(RETURN)),
]
KL_METRIC = Metric("kl_update", "KL(π_old‖π_new) per update (median)", overall_median("probe/kl_update"), digits=2)
KL_MAX_METRIC = Metric("kl_max", "KL per update (max)", overall_max("probe/kl_update"), digits=2)
OUTSIDE_METRIC = Metric(
    "outside_clip", "share of ratios outside [1±ε] after the update", overall_mean("probe/outside_clip"), 2
)
RETURN_CURVE = Curve(RETURN, "return (last 20 episodes)")
KL_CURVE = Curve("probe/kl_update", "KL(π_old‖π_new) per update", log=True, smooth=5)


def compare_all(results: Results, ref: str, key: str, what: str) -> list[str]:
    """Each arm against the reference arm in the same environment."""
    out = []
    for env in results.envs():
        labels = [a.label for a in results.arms if a.env == env]
        if ref not in labels:
            continue
        out += [f"{env}: " + results.compare(lab, ref, key, what, env) for lab in labels if lab != ref]
    return out
