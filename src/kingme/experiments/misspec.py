"""Claim 6: an exploitable shaped reward teaches the agent to farm it instead of reaching the goal.

The grid (kingme.envs.gridworld.ShapedGrid, 5×5, goal in the far corner, 50-step limit) pays +1 at
the goal. The "progress" shaping adds 0.1 for every step that brings the agent closer to the goal
and takes nothing away for stepping back, so stepping away and back earns 0.1 every two steps; under
γ = 0.98 farming forever is worth about 0.1/(1 − γ²) ≈ 2.5, walking straight to the goal about 1.6.
Potential-based shaping (Ng et al. 1999) with the same distance potential is the safe fix. The
environment counts, per finished episode, the true success, the progress bonus collected and the
steps that moved away from the goal (the behaviour the shaping pays for).
"""

from __future__ import annotations

import math

from kingme.envs.base import VecEnv
from kingme.experiments.base import NONNEGATIVE, UNIT, Arm, Curve, Experiment, Metric, Results
from kingme.experiments.ppo_runs import PPORuns
from kingme.experiments.summaries import final_mean, overall_mean
from kingme.ppo.config import PPOConfig
from kingme.ppo.train import Callback, UpdateInfo

STEPS = 40_960
LABELS = {"true": "true reward only", "progress": "progress shaping (exploitable)", "potential": "potential shaping"}


class GridStats:
    def __init__(self, env: VecEnv) -> None:
        self.env = env

    def __call__(self, info: UpdateInfo) -> None:
        info.metrics.update(self.env.pop_stats())  # type: ignore[attr-defined]


def callbacks(arm: Arm, env: VecEnv, cfg: PPOConfig) -> list[Callback]:
    return [GridStats(env)]


def arms(tiny: bool) -> list[Arm]:
    return [Arm(lab, f"grid:{s}", {"total_steps": 512 if tiny else STEPS}) for s, lab in LABELS.items()]


def conclude(results: Results) -> list[str]:
    t, p, q = LABELS["true"], LABELS["progress"], LABELS["potential"]
    out = []
    for lab in (t, p, q):
        env = next(a.env for a in results.arms if a.label == lab)
        s = results.summary(lab, "success", env)
        a = results.summary(lab, "away", env)
        out.append(f"{lab}: true success rate {s.fmt(2)}, steps away from the goal per episode {a.fmt(2)}.")
    out.append(_cmp(results, p, t, "success", "true success rate (final)"))
    out.append(_cmp(results, p, t, "away", "steps away from the goal per episode (farming)"))
    out.append(_cmp(results, q, t, "success", "true success rate (final)"))
    out.append(_cmp(results, q, t, "success_auc", "true success rate over training (learning speed)"))
    return out


def _cmp(results: Results, a: str, b: str, key: str, what: str) -> str:
    from kingme.stats import compare

    return compare(a, results.values(a, key), b, results.values(b, key), what)


EXPERIMENT = Experiment(
    name="reward-misspec",
    title="What does an agent learn from an exploitable shaped reward?",
    claim="A plausible shaped reward can be exploited: the agent learns the behaviour the shaping pays for "
    "instead of the true goal.",
    question="On a 5×5 grid with the goal in the far corner, does a 'progress' bonus that can be farmed by "
    "stepping back and forth lower the true success rate, and does potential-based shaping avoid it?",
    setup="""
kingme's ShapedGrid (src/kingme/envs/gridworld.py): 5×5, start top-left, goal bottom-right (+1, ends
the episode), four moves, 50-step time limit (truncation, bootstrapped). Arms: the true reward only;
true + 0.1 per step that gets closer to the goal ("progress", exploitable); true + potential-based
shaping γΦ(s') − Φ(s) with Φ = −0.1·distance. PPO at its defaults (γ = 0.98), 40,960 steps. Measured
over the episodes finished in each update, with the table showing the mean over the last 10% of
updates (and, for learning speed, over all updates): the true success rate, the progress bonus an
episode collected, the steps that moved away from the goal, and the episode length
(shortest path: 8 steps).
""",
    arms=arms,
    metrics=[
        Metric("success", "true success rate", final_mean("grid/success_rate"), 2, UNIT),
        Metric("success_auc", "true success rate over training", overall_mean("grid/success_rate"), 2, UNIT),
        Metric("away", "steps away from goal / episode", final_mean("grid/steps_away"), 2, NONNEGATIVE),
        Metric("bonus", "progress bonus / episode", final_mean("grid/progress_bonus"), 2),
        Metric("length", "episode length", final_mean("grid/length"), 3, NONNEGATIVE),
    ],
    curves=[
        Curve("grid/success_rate", "true success rate", bounds=(0.0, 1.0)),
        Curve("grid/steps_away", "steps away from the goal per episode", bounds=(0.0, math.inf)),
    ],
    conclude=conclude,
    kind=PPORuns(callbacks=callbacks),
    published="claims.md has no study on reward shaping; the textbook result we test against is Ng, Harada & "
    "Russell (1999): only potential-based shaping F = γΦ(s') − Φ(s) is guaranteed to leave the optimal policy "
    "unchanged.",
)
