"""Claim 3: a critic helps credit assignment.

REINFORCE weights ∇log π(a|s) by the Monte-Carlo return G (critic=none); subtracting a learned
baseline V(s) (critic=baseline) leaves the expected gradient unchanged and should cut its variance;
GAE(λ) bootstraps from V, trading variance (λ → 1) against the critic's bias (λ → 0).

The gradient's variance is measured by `GradientNoise`: every few updates it collects a fresh,
independent rollout (256 samples, its own environments) with the current policy, computes the
advantages exactly as training does, splits the samples into 8 random minibatches of 32, and takes
the policy-gradient vector g_i = ∇_θ mean(−log π(a|s)·Â) of each. It logs the noise-to-signal ratio
E_i‖g_i − ḡ‖² / ‖ḡ‖², which does not depend on the scale of Â (so estimators with different
scales compare fairly): the larger it is, the less a minibatch's gradient says about the batch's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kingme.envs.base import VecEnv
from kingme.experiments.base import NONNEGATIVE, Arm, Curve, Experiment, Metric, Results
from kingme.experiments.ppo_runs import PPORuns, make_env
from kingme.experiments.shared import CARTPOLE, RETURN_CURVE, RETURN_METRICS, arms_over, compare_all
from kingme.experiments.summaries import overall_mean
from kingme.ppo import core
from kingme.ppo.buffer import RolloutBuffer
from kingme.ppo.config import PPOConfig
from kingme.ppo.train import (
    Callback,
    EpisodeStats,
    UpdateInfo,
    collect_rollout,
    estimate_advantages,
    evaluate_old_policy,
)

REF = "GAE λ=0.95"
MINIBATCHES = 8
COMMON = {"normalize_advantages": False}
SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("REINFORCE, no baseline", {**COMMON, "critic": "none"}),
    ("REINFORCE + baseline", {**COMMON, "critic": "baseline"}),
    ("GAE λ=0", {**COMMON, "gae_lambda": 0.0}),
    ("GAE λ=0.5", {**COMMON, "gae_lambda": 0.5}),
    (REF, {**COMMON, "gae_lambda": 0.95}),
    ("GAE λ=1", {**COMMON, "gae_lambda": 1.0}),
]


class GradientNoise:
    """Every `every` updates: the noise-to-signal ratio of minibatch policy gradients on a fresh batch."""

    def __init__(self, cfg: PPOConfig, env_spec: str, every: int) -> None:
        self.cfg = cfg
        self.every = every
        self.env = make_env(env_spec, cfg.num_envs, cfg.gamma)
        self.buf = RolloutBuffer(cfg.num_steps, cfg.num_envs, self.env.obs_shape, self.env.num_actions, False)
        self.obs, self.mask = self.env.reset(seed=cfg.seed + 100_000)
        self.episodes = EpisodeStats(cfg.num_envs, 1)

    def __call__(self, info: UpdateInfo) -> None:
        if (info.update - 1) % self.every:
            return
        agent, device = info.agent, torch.device("cpu")
        self.obs, self.mask = collect_rollout(agent, self.env, self.buf, self.obs, self.mask, self.episodes, device)
        rollout = self.buf.to_device(device)
        batch = estimate_advantages(self.cfg, rollout, evaluate_old_policy(agent, rollout))
        adv = core.normalize(batch.advantages) if self.cfg.normalize_advantages else batch.advantages
        params = [p for p in agent.parameters() if p.requires_grad]
        grads = []
        for idx in torch.randperm(len(adv)).chunk(MINIBATCHES):
            logp = core.log_prob(torch.log_softmax(agent.logits(batch.obs[idx]), dim=-1), batch.actions[idx])
            g = torch.autograd.grad(-(logp * adv[idx]).mean(), params, allow_unused=True)
            grads.append(torch.cat([x.flatten() for x in g if x is not None]))
        G = torch.stack(grads).double()  # (M, P) one policy gradient per minibatch
        mean = G.mean(0)
        noise = float(((G - mean) ** 2).sum(1).mean())
        signal = float((mean**2).sum())
        info.metrics["grad/noise_to_signal"] = noise / signal if signal > 0 else float("nan")

    def close(self) -> None:
        self.env.close()


def callbacks(arm: Arm, env: VecEnv, cfg: PPOConfig) -> list[Callback]:
    return [GradientNoise(cfg, arm.env, every=1 if cfg.num_updates <= 4 else 4)]


def arms(tiny: bool) -> list[Arm]:
    return arms_over([CARTPOLE], tiny, SETTINGS)


def median_nsr(h: list[dict[str, float]]) -> float:
    v = [r["grad/noise_to_signal"] for r in h if "grad/noise_to_signal" in r]
    return float(np.median(v)) if v else float("nan")


def conclude(results: Results) -> list[str]:
    out = compare_all(results, REF, "mean_return", "mean return over training (learning speed)")
    out += compare_all(results, REF, "final_return", "final return")
    out += compare_all(results, REF, "nsr", "gradient noise-to-signal ratio")
    for key, what in (
        ("mean_return", "mean return over training"),
        ("final_return", "final return"),
        ("nsr", "gradient noise-to-signal ratio"),
    ):
        out.append(results.compare("REINFORCE + baseline", "REINFORCE, no baseline", key, what))
    out.append(results.compare("GAE λ=1", "REINFORCE + baseline", "mean_return", "mean return over training"))
    return out


EXPERIMENT = Experiment(
    name="critic",
    title="Does a critic help credit assignment?",
    claim="A learned critic helps: a baseline lowers the variance of the policy gradient, and GAE's λ trades "
    "that variance against bias.",
    question="REINFORCE without and with a learned baseline, and GAE with λ ∈ {0, 0.5, 0.95, 1}: how fast does each "
    "learn, and how noisy is its gradient estimate?",
    setup="""
CartPole-v1, 40,960 steps, the PPO update otherwise at its defaults (K = 10, ε = 0.2, one 256-sample
minibatch, Adam 2.5e-3 annealed, gradient-norm clip 0.5, γ = 0.98), and **advantage normalisation
off in every arm**: normalising subtracts the batch mean, which is itself a baseline and would blur
"no baseline" into "baseline". REINFORCE's returns are the discounted reward-to-go inside the
rollout, not bootstrapped (critic=none/baseline); GAE bootstraps from V. Gradient noise: every 4th
update, a fresh 256-sample rollout of the current policy, split into 8 minibatches of 32; the
noise-to-signal ratio E‖g_i − ḡ‖²/‖ḡ‖² of their policy gradients (scale-free; ḡ is the batch's mean
gradient, so the ratio is a relative, not absolute, measure). The table shows each run's median.
""",
    arms=arms,
    metrics=[
        *RETURN_METRICS,
        Metric("nsr", "gradient noise/signal (median)", median_nsr, 2, NONNEGATIVE),
        Metric("grad_norm", "grad norm (mean, logged)", overall_mean("losses/grad_norm"), 2, NONNEGATIVE),
    ],
    curves=[RETURN_CURVE, Curve("grad/noise_to_signal", "gradient noise-to-signal ratio", log=True, smooth=20)],
    conclude=conclude,
    kind=PPORuns(callbacks=callbacks),
    published="Andrychowicz et al. (2021) recommend GAE with λ around 0.9; Ilyas et al. (2020) found that at the "
    "usual batch sizes the gradient estimate correlates poorly with the true gradient and the learned value "
    "function fits the true values poorly, yet agents still improve.",
)
