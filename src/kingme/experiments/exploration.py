"""Claim 5: an agent cannot reinforce what it never does (bsuite's deep sea).

On the N×N deep-sea grid (kingme.envs.deepsea) every right move costs 0.01/N and the only reward,
+1, waits at the end of the (almost) all-right path: the nearby optimum is to give up and go left.
A policy-gradient learner only reinforces rewarded episodes it has sampled, and a random policy
finds the reward with probability 2^(1-N). `DeepSeaProbe` computes, after every update, the exact
probability that the current policy reaches the reward (dynamic programming over the grid, no
sampling) and the probability of the all-right path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from kingme.envs.base import VecEnv
from kingme.experiments.base import NONNEGATIVE, UNIT, Arm, Curve, Experiment, History, Metric, Results
from kingme.experiments.ppo_runs import PPORuns
from kingme.experiments.summaries import column
from kingme.ppo.config import PPOConfig
from kingme.ppo.train import Callback, UpdateInfo

SIZES = (4, 6, 8, 10, 12, 16)
TINY_SIZES = (4, 6)
BONUS = 0.05
STEPS = 30_720  # 120 updates of 256 steps
SOLVED = 0.5  # a run counts as solved when its final policy reaches the reward with probability > 0.5


def _label(bonus: float) -> str:
    return f"entropy bonus {bonus}" if bonus else "no entropy bonus"


class DeepSeaProbe:
    def __init__(self, env: VecEnv) -> None:
        self.env = env
        n = int(math.isqrt(env.obs_shape[0]))
        self.states = torch.eye(n * n)  # (n², n²) every cell's one-hot observation

    @torch.no_grad()
    def __call__(self, info: UpdateInfo) -> None:
        probs = torch.softmax(info.agent.logits(self.states), dim=-1).numpy()  # (n², 2)
        p_reward, p_path = self.env.reward_probability(probs)  # type: ignore[attr-defined]
        info.metrics["deepsea/p_reward"] = p_reward
        info.metrics["deepsea/p_right_path"] = p_path
        info.metrics["deepsea/rewarded_episodes"] = float(self.env.successes)  # type: ignore[attr-defined]


def callbacks(arm: Arm, env: VecEnv, cfg: PPOConfig) -> list[Callback]:
    return [DeepSeaProbe(env)]


def arms(tiny: bool) -> list[Arm]:
    steps = 512 if tiny else STEPS
    return [
        Arm(_label(b), f"deepsea:{n}", {"total_steps": steps, "gamma": 0.99, "ent_coef": b})
        for n in (TINY_SIZES if tiny else SIZES)
        for b in (0.0, BONUS)
    ]


def _last(key: str) -> Callable[[History], float]:
    def fn(h: History) -> float:
        return float(column(h, key)[-1])

    return fn


def _solved(h: History) -> float:
    return float(column(h, "deepsea/p_reward")[-1] > SOLVED)


def _found(h: History) -> float:
    return float(column(h, "deepsea/rewarded_episodes")[-1] > 0)


def conclude(results: Results) -> list[str]:
    out = []
    for bonus in (0.0, BONUS):
        lab = _label(bonus)
        solved = [(env, results.summary(lab, "solved", env).mean) for env in results.envs()]
        ok = [env.split(":")[1] for env, s in solved if s > 0.5]
        fail = [env.split(":")[1] for env, s in solved if s <= 0.5]
        first_fail = fail[0] if fail else None
        out.append(
            f"{lab}: most seeds solve N ∈ {{{', '.join(ok) or 'none'}}}; not N ∈ {{{', '.join(fail) or 'none'}}}"
            + (f" — PPO stops finding the reward from N = {first_fail} on." if first_fail else ".")
        )
    for env in results.envs():
        out.append(f"{env}: " + results.compare(_label(BONUS), _label(0.0), "p_reward", "final P(reward)", env))
    return out


def plot_vs_size(results: Results, out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    sizes = [int(e.split(":")[1]) for e in results.envs()]
    for bonus, color in ((0.0, "tab:blue"), (BONUS, "tab:orange")):
        ivs = [results.summary(_label(bonus), "p_reward", f"deepsea:{n}") for n in sizes]
        m = np.array([iv.mean for iv in ivs])
        lo = np.array([iv.lo if math.isfinite(iv.lo) else iv.mean for iv in ivs])
        hi = np.array([iv.hi if math.isfinite(iv.hi) else iv.mean for iv in ivs])
        ax.plot(sizes, m, "o-", color=color, label=_label(bonus))
        ax.fill_between(sizes, lo, hi, color=color, alpha=0.2, lw=0)
    ax.plot(sizes, [2.0 ** (1 - n) for n in sizes], "k:", label="random policy, 2^(1-N)")
    ax.set_xlabel("deep-sea size N", fontsize=8)
    ax.set_ylabel("final P(reach reward)", fontsize=8)
    ax.set_title(f"deep sea: final P(reward) vs N (mean, 95% interval, {results.seeds} seeds)", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "p_reward_vs_size.png", dpi=72)
    plt.close(fig)
    return [("p_reward_vs_size.png", "final probability of reaching the reward against N")]


EXPERIMENT = Experiment(
    name="deep-sea",
    title="Can PPO reinforce what it never does? (deep sea)",
    claim="Dithering exploration (an entropy bonus included) fails on deep sea as N grows, because the chance of "
    "reaching the reward by chance falls like 2^-N: an agent cannot reinforce what it never does.",
    question="For N ∈ {4, 6, 8, 10, 12, 16}, with and without an entropy bonus, does PPO learn to reach the reward, "
    "and where does it stop finding it?",
    setup=f"""
kingme's deep-sea task (src/kingme/envs/deepsea.py: bsuite's, with a fixed random action map per
cell, one-hot (row, column) observations, move cost 0.01/N per right move, +1 at the bottom-right
corner; optimal return 0.99, give-up return 0). PPO at its defaults except γ = 0.99, 30,720 steps per
run (so 30,720/N episodes), entropy coefficient 0 or {BONUS} (constant). After every update the exact
probability that the policy reaches the reward (P(reward), by dynamic programming over the grid) and
of the all-right path are computed. Solved = final P(reward) > {SOLVED}; found = at least one
rewarded episode during training.
""",
    arms=arms,
    metrics=[
        Metric("p_reward", "final P(reward)", _last("deepsea/p_reward"), 2, UNIT),
        Metric("p_path", "final P(all-right path)", _last("deepsea/p_right_path"), 2, UNIT),
        Metric("solved", "share of seeds solved", _solved, 2, share=True),
        Metric("found", "share of seeds that ever got the reward", _found, 2, share=True),
        Metric("rewarded", "rewarded episodes", _last("deepsea/rewarded_episodes"), 3, NONNEGATIVE),
    ],
    curves=[Curve("deepsea/p_reward", "P(reach reward)", bounds=(0.0, 1.0))],
    conclude=conclude,
    kind=PPORuns(callbacks=callbacks),
    extra_plots=plot_vs_size,
    published="Osband et al. (bsuite, 2020): deep sea defeats dithering exploration such as ε-greedy or an entropy "
    "bonus as N grows, because the chance of reaching the reward by chance falls like 2^-N.",
)
