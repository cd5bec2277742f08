"""Pieces several PPO experiments use: the environments, step budgets and the standard metrics."""

from __future__ import annotations

from typing import Any

from kingme.experiments.base import NONNEGATIVE, UNIT, Arm, Bounds, Curve, Metric, Results
from kingme.experiments.ppo_runs import RETURN
from kingme.experiments.summaries import drop_from_peak, final_mean, overall_max, overall_mean, overall_median

CARTPOLE = "gym:CartPole-v1"
ACROBOT = "gym:Acrobot-v1"
STEPS = {CARTPOLE: 40_960, ACROBOT: 40_960}  # 160 updates of T·N = 256 samples
TINY_STEPS = 512  # two updates: a smoke test


def budget(env: str, tiny: bool, steps: int | None = None) -> dict[str, Any]:
    return {"total_steps": TINY_STEPS if tiny else (steps or STEPS.get(env, 40_960))}


def arms_over(envs: list[str], tiny: bool, settings: list[tuple[str, dict[str, Any]]]) -> list[Arm]:
    return [Arm(label, env, {**budget(env, tiny), **over}) for env in envs for label, over in settings]


RETURN_RANGES: dict[str, Bounds] = {CARTPOLE: (0.0, 500.0), ACROBOT: (-500.0, 0.0)}  # episodes end at 500 steps


def return_range(env: str) -> Bounds | None:
    """The range of an episode's return on `env` (None where it is not bounded)."""
    return RETURN_RANGES.get(env)


RETURN_METRICS = [
    Metric("final_return", "final return (last 10%)", final_mean(RETURN), bounds=return_range),
    Metric("mean_return", "mean return over training", overall_mean(RETURN), bounds=return_range),
    Metric("drop", "largest drop from best", drop_from_peak(RETURN), bounds=NONNEGATIVE),
]
KL_METRIC = Metric(
    "kl_update", "KL(π_old‖π_new) per update (median)", overall_median("probe/kl_update"), 2, NONNEGATIVE
)
KL_MAX_METRIC = Metric("kl_max", "KL per update (max)", overall_max("probe/kl_update"), 2, NONNEGATIVE)
OUTSIDE_METRIC = Metric(
    "outside_clip", "share of ratios outside [1±ε] after the update", overall_mean("probe/outside_clip"), 2, UNIT
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
