"""Claim 4: damping the entropy bonus helps.

The bonus c_e·H[π] keeps the policy from collapsing early; damping it (a schedule from c_e to a
smaller value) is meant to keep that early exploration without holding the final policy away from
determinism.
"""

from __future__ import annotations

import math
from typing import Any

from kingme.experiments.base import NONNEGATIVE, Arm, Curve, Experiment, Metric, Results
from kingme.experiments.ppo_runs import PPO
from kingme.experiments.shared import ACROBOT, CARTPOLE, RETURN_CURVE, RETURN_METRICS, arms_over, compare_all
from kingme.experiments.summaries import final_mean

REF = "no bonus"
C = 0.01
SETTINGS: list[tuple[str, dict[str, Any]]] = [
    (REF, {}),
    ("constant 0.01", {"ent_coef": C}),
    ("linear 0.01→0", {"ent_coef": C, "ent_coef_final": 0.0, "ent_schedule": "linear"}),
    ("exponential 0.01→1e-4", {"ent_coef": C, "ent_coef_final": 1e-4, "ent_schedule": "exponential"}),
]


def arms(tiny: bool) -> list[Arm]:
    return arms_over([CARTPOLE, ACROBOT], tiny, SETTINGS)


def conclude(results: Results) -> list[str]:
    out = compare_all(results, REF, "final_return", "final return")
    out += compare_all(results, REF, "mean_return", "mean return over training")
    for env in results.envs():
        out.append(
            f"{env}: damped (linear) against constant: "
            + results.compare("linear 0.01→0", "constant 0.01", "final_return", "final return", env)
        )
    return out


EXPERIMENT = Experiment(
    name="entropy",
    title="Does damping the entropy bonus help?",
    claim="An entropy bonus helps exploration, and damping it over training helps more than a constant one.",
    question="No bonus, a constant c_e = 0.01, and a damped one (linear to 0, exponential to 1e-4): which learns "
    "faster and ends higher?",
    setup="""
PPOConfig defaults (K = 10, one 256-sample minibatch, Adam 2.5e-3 annealed, ε = 0.2, GAE λ = 0.95),
40,960 steps on CartPole-v1 and Acrobot-v1, varying the entropy coefficient and its schedule
(`ent_coef`, `ent_coef_final`, `ent_schedule`). Final entropy = the policy's mean entropy (nats)
over the last 10% of updates.
""",
    arms=arms,
    metrics=[
        *RETURN_METRICS,
        Metric("final_entropy", "final entropy (nats)", final_mean("losses/entropy"), 2, NONNEGATIVE),
    ],
    curves=[RETURN_CURVE, Curve("losses/entropy", "policy entropy (nats)", bounds=(0.0, math.inf))],
    conclude=conclude,
    kind=PPO,
    published="Andrychowicz et al. (2021): regularisers such as an entropy bonus did not clearly help on their "
    "five continuous-control tasks.",
)
