"""Why the GRPO loss sits at zero while the model learns, and what the other numbers of an RL run say.

Not a published claim but the most common confusion of users of RL libraries for language models
("why is my loss zero?", "what does the share of groups with zero spread mean?"), checked on real
runs of the loop. Three arms from one base per seed:

- GRPO at one epoch (the loop's default): the ratio is exactly 1, so the policy loss is
  −Σ_i Â_i / B, and GRPO's group advantages sum to 0 in every group: the loss is 0 at every update,
  by construction, whatever the model learns; its gradient is not 0;
- GRPO at four epochs: after the first epoch θ ≠ θ_old, the ratio moves, the clip acts, and the
  surrogate goes below 0 as the epochs climb it;
- the positive control, GRPO with a token-mean loss (DAPO's, TRL's default "dapo"): each token has
  the weight 1/T of the batch's tokens, so a response weighs by its length and the loss is
  −Σ_i Â_i |o_i| / T, 0 only when right and wrong answers are as long: the "loss is 0" check must
  fail there, or it would pass whatever the loss.

At the base and at the end, one rollout is run through the loop's own update (`rl.rl_update`) with
an optimizer that records the gradient's norm and moves nothing (`GradientProbe`): the loss at
θ = θ_old and the norm of its gradient.

The checks (each with its 95% interval over seeds) and their predictions are in the setup text
below, written and committed before the first full run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kingme.experiments.base import (
    NONNEGATIVE,
    UNIT,
    UNIT_DIFFERENCE,
    Arm,
    Curve,
    Experiment,
    History,
    Metric,
    Results,
    RunOutput,
)
from kingme.experiments.lm_runs import ADDITION_BASE, RESPONSES, LMRunConfig, LMRuns, base_model, lm_arm
from kingme.experiments.plots import COLORS
from kingme.experiments.summaries import column, last
from kingme.lm.rl import RLConfig, collect_rollout, rl_update, train
from kingme.lm.tasks import Task, sample_problems
from kingme.progress import Advance
from kingme.stats import Interval
from kingme.transformer import GPT

UPDATES, SHORT = 60, 20  # the four-epoch arm and the control need no long run: they show the loss, not learning
G = 8
RL: dict[str, Any] = {
    "algo": "grpo", "prompts_per_update": 32, "group_size": G, "warmup": 10, "eval_every": 10, "eval_problems": 64,
}  # fmt: skip
ONE, FOUR, TOKEN = "GRPO, 1 epoch", "GRPO, 4 epochs", "control: GRPO, token-mean loss"
ZERO = 1e-5  # |loss| at or below this is "zero" (float rounding of a sum of ±1-sized terms is ~1e-7)
WINDOW = 10  # updates averaged at the start and at the end of a run


def arms(tiny: bool) -> list[Arm]:
    return [
        lm_arm(ONE, "addition", tiny, ADDITION_BASE, **RL, updates=UPDATES),
        lm_arm(FOUR, "addition", tiny, ADDITION_BASE, **RL, updates=SHORT, epochs=4),
        lm_arm(TOKEN, "addition", tiny, ADDITION_BASE, **RL, updates=SHORT, loss_norm="token"),
    ]


# ---------------------------------------------------------------------------------------------
# The maths: pure functions, tested by hand
# ---------------------------------------------------------------------------------------------


def zero_spread_share(p: float, g: int) -> float:
    """The chance that a group of g samples of a prompt solved with probability p has all rewards equal
    (all right or all wrong): p^g + (1 − p)^g. Over prompts of different p its mean is at least this
    at their mean p (the function is convex), so the share at the mean reward is a lower bound."""
    return p**g + (1.0 - p) ** g


def start_end_change(values: np.ndarray, window: int = WINDOW) -> float:
    """The mean of the last `window` values minus the mean of the first `window` (NaNs skipped)."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return math.nan
    w = max(1, min(window, len(v) // 2 or 1))
    return float(np.mean(v[-w:]) - np.mean(v[:w]))


class GradientProbe(torch.optim.Optimizer):
    """An optimizer that moves nothing: at each `step` it records the global norm of the gradients."""

    def __init__(self, params: Any) -> None:
        super().__init__(params, {"lr": 0.0})
        self.norms: list[float] = []

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        grads = [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]
        norms = torch.stack([torch.linalg.vector_norm(g) for g in grads]) if grads else torch.zeros(1)
        self.norms.append(float(torch.linalg.vector_norm(norms)))


def probe(model: GPT, task: Task, rl: RLConfig, seed: int) -> dict[str, float]:
    """One rollout of P × G from `model` through the loop's update (`rl_update`, the run's settings at one
    epoch, no gradient clipping) with a `GradientProbe`: the policy loss at θ = θ_old and its gradient's
    norm. The model is not changed."""
    cfg = dataclasses.replace(rl, epochs=1, minibatches=1, max_grad_norm=None).resolved()
    problems = sample_problems(task, np.random.default_rng(seed + 40_000), cfg.prompts_per_update, "train")
    torch.manual_seed(seed + 40_000)
    with torch.no_grad():
        roll = collect_rollout(model, task, problems, cfg.group_size, cfg.temperature, cfg.top_k, "cpu")
    opt = GradientProbe(model.parameters())
    stats = rl_update(model, None, None, opt, roll, cfg)
    for p in model.parameters():
        p.grad = None
    return {"probe_loss": stats["losses/policy_loss"], "probe_grad_norm": opt.norms[0]}


# ---------------------------------------------------------------------------------------------
# The run: the loop as it is, with the probe at the base and at the end
# ---------------------------------------------------------------------------------------------


class LossRuns(LMRuns):
    """RL from the cached base of `lm:TASK` (as `LMRuns`), with `probe` at the base and at the end."""

    kept: tuple[str, ...] = ("time", "charts/test_pass1", "charts/reward", "charts/zero_adv_groups")

    def run(self, arm: Arm, config: LMRunConfig, advance: Advance) -> RunOutput:
        t0 = time.perf_counter()
        model, task, _ = base_model(config.pretrain)
        P, Gs = config.rl.prompts_per_update, config.rl.group_size
        history: History = []

        def log(row: dict[str, Any]) -> None:
            history.append({**row, "global_step": int(row["update"]) * P * Gs})
            advance(1)

        before = probe(model, task, config.rl, config.seed)
        policy, summary = train(config.rl, log=log, base=(model, task))
        after = probe(policy, task, config.rl, config.seed + 1)
        history.insert(0, {"update": 0, "global_step": 0, "time": 0.0})
        history[0]["charts/test_pass1"] = summary["test_pass1_start"]["all"]
        history[-1] |= {f"eval/base_{k}": v for k, v in before.items()} | {f"eval/{k}": v for k, v in after.items()}
        return RunOutput(history, time.perf_counter() - t0)


LOSS_RUNS = LossRuns()


# ---------------------------------------------------------------------------------------------
# Metrics: each a function of one run's history (row 0 is the base, before any update)
# ---------------------------------------------------------------------------------------------


def updates_of(h: History, key: str) -> np.ndarray:
    """A column over the updates (row 0, the base, left out)."""
    return column(h[1:], key)


def max_abs(key: str) -> Callable[[History], float]:
    return lambda h: float(np.nanmax(np.abs(updates_of(h, key)))) if len(h) > 1 else math.nan


def mean_of(key: str) -> Callable[[History], float]:
    return lambda h: float(np.nanmean(updates_of(h, key))) if len(h) > 1 else math.nan


def change(key: str) -> Callable[[History], float]:
    return lambda h: start_end_change(updates_of(h, key))


def zero_excess(h: History) -> float:
    """The mean over updates of (share of zero-spread groups − its lower bound at the update's mean reward)."""
    share, reward = updates_of(h, "charts/zero_adv_groups"), updates_of(h, "charts/reward")
    bound = np.array([zero_spread_share(r, G) for r in reward])
    return float(np.nanmean(share - bound))


def test_gain(h: History) -> float:
    c = column(h, "charts/test_pass1")
    return float(c[-1] - c[0])


def is_zero(key: str) -> Callable[[History], float]:
    """1 if every update's |value| is at most ZERO, else 0 (a share of runs)."""
    return lambda h: float(max_abs(key)(h) <= ZERO)


METRICS = [
    Metric("loss_max", "max |policy loss| over updates", max_abs("losses/policy_loss"), digits=2, bounds=NONNEGATIVE),
    Metric("loss_zero", f"every update's |policy loss| ≤ {ZERO:g}", is_zero("losses/policy_loss"), share=True),
    Metric("loss_mean", "mean policy loss", mean_of("losses/policy_loss"), digits=2),
    Metric("reward_gain", f"sampled reward, last {WINDOW} − first {WINDOW} updates", change("charts/reward"),
           bounds=UNIT_DIFFERENCE),
    Metric("test_gain", "greedy test pass@1 gained", test_gain, bounds=UNIT_DIFFERENCE),
    Metric("kl_change", "KL to the base (k3 per token), change", change("losses/kl_ref")),
    Metric("clipfrac_mean", "clip fraction, mean over updates", mean_of("losses/clipfrac"), bounds=UNIT),
    Metric("clipfrac_max", "clip fraction, max over updates", max_abs("losses/clipfrac"), bounds=UNIT),
    Metric("approx_kl_mean", "KL(θ_old ‖ θ) in the update, mean", mean_of("losses/approx_kl"), digits=2),
    Metric("zero_mean", "share of zero-spread groups, mean", mean_of("charts/zero_adv_groups"), bounds=UNIT),
    Metric("zero_excess", "zero-spread share − its bound at the mean reward", zero_excess, bounds=UNIT_DIFFERENCE),
    Metric("zero_change", "zero-spread share, change", change("charts/zero_adv_groups"), bounds=UNIT_DIFFERENCE),
    Metric("entropy_start", f"entropy per token, first {WINDOW} updates",
           lambda h: float(np.nanmean(updates_of(h, "losses/entropy")[:WINDOW])), bounds=NONNEGATIVE),
    Metric("entropy_change", "entropy per token, change", change("losses/entropy")),
    Metric("probe_loss_base", "probe at the base: policy loss", last("eval/base_probe_loss"), digits=2),
    Metric("probe_grad_base", "probe at the base: gradient norm", last("eval/base_probe_grad_norm"),
           bounds=NONNEGATIVE),
    Metric("probe_grad_end", "probe at the end: gradient norm", last("eval/probe_grad_norm"), bounds=NONNEGATIVE),
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The checks and the answer
# ---------------------------------------------------------------------------------------------


def above(iv: Interval) -> bool:
    return iv.n >= 2 and iv.lo > 0


def below(iv: Interval) -> bool:
    return iv.n >= 2 and iv.hi < 0


def checks(results: Results) -> list[tuple[str, str, str]]:
    """The setup's checks: (name, "holds" / "fails", the numbers)."""
    s = results.summary
    out = []
    zero_one, zero_token = s(ONE, "loss_zero"), s(TOKEN, "loss_zero")
    control = zero_token.n >= 2 and zero_token.mean == 0.0
    learns = above(s(ONE, "reward_gain"))
    ok = zero_one.n >= 2 and zero_one.mean == 1.0 and learns and control
    out.append((
        "1. the GRPO loss is 0 at one epoch while the reward rises",
        "holds" if ok else "fails",
        f"every update |loss| ≤ {ZERO:g} on {zero_one.mean * zero_one.n:.0f} of {zero_one.n} seeds (max "
        f"{s(ONE, 'loss_max').fmt(2)}); sampled reward, last − first {WINDOW} updates {s(ONE, 'reward_gain').fmt(3)}; "
        f"control (token-mean loss): {zero_token.mean * zero_token.n:.0f} of {zero_token.n} seeds at 0, max |loss| "
        f"{s(TOKEN, 'loss_max').fmt(2)} ({'the check can fail' if control else 'the check did not fail there'})",
    ))  # fmt: skip
    grad = s(ONE, "probe_grad_base")
    ok = above(grad) and abs(s(ONE, "probe_loss_base").mean) <= ZERO
    out.append((
        "2. its gradient is not 0",
        "holds" if ok else "fails",
        f"at the base, loss {s(ONE, 'probe_loss_base').fmt(2)} and gradient norm {grad.fmt(3)}; after RL "
        f"{s(ONE, 'probe_grad_end').fmt(3)}",
    ))  # fmt: skip
    clip1, clip4 = s(ONE, "clipfrac_max"), s(FOUR, "clipfrac_mean")
    ok = clip1.n >= 2 and clip1.mean == 0.0 and above(clip4) and below(s(FOUR, "loss_mean"))
    out.append((
        "3. the clip acts only off-policy: 0 at one epoch; above 0 at four, where the loss goes below 0",
        "holds" if ok else "fails",
        f"clip fraction, max at one epoch {clip1.fmt(3)}; mean at four epochs {clip4.fmt(3)}; mean loss at four "
        f"epochs {s(FOUR, 'loss_mean').fmt(2)}; KL(θ_old ‖ θ) at four epochs {s(FOUR, 'approx_kl_mean').fmt(2)}",
    ))  # fmt: skip
    excess = s(ONE, "zero_excess")
    out.append((
        "4. zero-spread groups exceed the share that equal difficulty would give (p^G + (1 − p)^G at the mean reward)",
        "holds" if above(excess) else "fails",
        f"share of zero-spread groups {s(ONE, 'zero_mean').fmt(3)}, minus its bound {excess.fmt(3)}; its change over "
        f"the run {s(ONE, 'zero_change').fmt(3)}",
    ))  # fmt: skip
    ent = s(ONE, "entropy_change")
    out.append((
        "5. the entropy falls while GRPO learns",
        "holds" if below(ent) else "fails",
        f"entropy per token {s(ONE, 'entropy_start').fmt(3)} nats at the start, change {ent.fmt(3)}; KL to the base "
        f"{s(ONE, 'kl_change').fmt(3)}",
    ))  # fmt: skip
    return out


def conclude(results: Results) -> list[str]:
    out = [f"Check {name}: **{word}** ({why})." for name, word, why in checks(results)]
    held = sum(word == "holds" for _, word, _ in checks(results))
    out.append(f"{held} of {len(out)} checks hold.")
    return out


def plot_zero_spread(results: Results, out: Path) -> tuple[str, str]:
    """One PNG: each update's share of zero-spread groups against its mean reward, every seed and arm,
    with p^G + (1 − p)^G, the share if every prompt were solved with the same probability p."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.0, 4.6))
    for i, arm in enumerate(dict.fromkeys(a.label for a in results.arms)):
        xs, ys = [], []
        for r in (r for r in results.runs if r.arm == arm):
            pairs = zip(
                r.series.get("charts/reward", [])[1:], r.series.get("charts/zero_adv_groups", [])[1:], strict=False
            )
            for x, y in pairs:
                if x is not None and y is not None:
                    xs.append(x)
                    ys.append(y)
        ax.scatter(xs, ys, s=8, alpha=0.35, color=COLORS[i % len(COLORS)], label=arm, lw=0)
    p = np.linspace(0, 1, 101)
    ax.plot(p, [zero_spread_share(float(x), G) for x in p], color="0.2", lw=1.5, label=f"p^{G} + (1 − p)^{G}")
    ax.set_xlabel("the update's mean sampled reward", fontsize=11)
    ax.set_ylabel("share of groups with zero spread", fontsize=11)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper center")
    ax.set_title(f"{results.experiment}: groups without signal, one dot per update\n({results.seeds} seeds)")
    fig.tight_layout()
    name = "zero_spread.png"
    fig.savefig(out / name, dpi=100)
    plt.close(fig)
    return name, "zero-spread groups against the mean reward"


def extra_plots(results: Results, out: Path) -> list[tuple[str, str]]:
    return [plot_zero_spread(results, out)]


EXPERIMENT = Experiment(
    name="loss-explained",
    title="Why is my GRPO loss zero? What the loss, the clip fraction, the zero-spread groups and the entropy say",
    claim="Users of RL libraries for language models see the GRPO loss sit at (or near) zero while the reward rises. "
    "The explanation: at one epoch the ratio is 1 and the group advantages sum to zero, so the loss is 0 by "
    "construction while its gradient is not; the clip acts only off-policy; groups whose rewards are all equal "
    "carry no signal.",
    question="On real GRPO runs of the loop, do the loss, the clip fraction, the share of zero-spread groups and the "
    "entropy behave as that explanation says?",
    setup=f"""
**The explanation tested.** GRPO's policy loss is −Σ_i,t w_i,t · min(ρ_i,t Â_i, clip(ρ_i,t) Â_i)
with w_i,t = 1/(B·|o_i|) (the per-response token mean, averaged over the B responses). At one
epoch θ = θ_old, so ρ = 1, the clip never binds, and the loss is −(1/B) Σ_i Â_i; GRPO's advantage
(r − mean)/std sums to 0 in every group, so the loss is 0 at every update, by construction, while
its gradient (1/B) Σ_i Â_i ∇ log π(o_i)/|o_i| is not. Only from the second epoch on does the ratio
move, the clip act, and the loss go below 0. A group whose G rewards are all equal has Â = 0 and
adds nothing; with every prompt solved with probability p that happens with chance p^G + (1 − p)^G.

**Our runs.** Per seed one base (`kingme lm pretrain addition --scratchpad --max-level 2 --steps
130`), then `kingme lm train --algo grpo --warmup 10` (P = 32 × G = {G}, lr 5e-4, β = 0.04) for
{UPDATES} updates at one epoch ("{ONE}"), for {SHORT} updates at `--epochs 4` ("{FOUR}"), and
the positive control "{TOKEN}" (`--loss-norm token`, {SHORT} updates), where the loss is not 0 by
construction. At the base and at the end, one rollout goes through the loop's own update with an
optimizer that records the gradient's norm and moves nothing. Every number is a per-seed quantity
with its 95% interval over seeds (a share of seeds with Wilson's interval).

**Checks and predictions** (each "holds" or "fails"; no tuning was done, these are the first runs):
1. at one epoch every update's |policy loss| ≤ {ZERO:g} on every seed, while the sampled reward
   rises (the mean of the last {WINDOW} updates minus the first {WINDOW}: interval above 0); the
   control's |loss| exceeds {ZERO:g} on every seed (the check can fail);
2. at the base the probe's loss is 0 (|mean| ≤ {ZERO:g}) and its gradient norm is above 0 (interval);
3. the clip fraction is 0 at every update of one epoch; at four epochs its mean is above 0 and the
   mean policy loss below 0 (intervals);
4. the share of zero-spread groups exceeds p^G + (1 − p)^G at the update's mean reward p (mean over
   updates of the difference, interval above 0): prompts differ in difficulty, some always solved,
   some never, and those carry no signal;
5. the entropy per token falls over the run at one epoch (last {WINDOW} − first {WINDOW} updates,
   interval below 0).
""",
    arms=arms,
    metrics=METRICS,
    curves=[
        Curve("losses/policy_loss", "policy loss", xlabel=RESPONSES),
        Curve("charts/reward", "sampled reward", bounds=UNIT, smooth=5, xlabel=RESPONSES),
        Curve("charts/zero_adv_groups", "share of zero-spread groups", bounds=UNIT, smooth=5, xlabel=RESPONSES),
        Curve("losses/clipfrac", "clip fraction", bounds=UNIT, xlabel=RESPONSES),
        Curve("losses/entropy", "entropy per token (nats)", smooth=5, xlabel=RESPONSES),
        Curve("losses/kl_ref", "KL to the base (k3 per token)", xlabel=RESPONSES),
    ],
    conclude=conclude,
    kind=LOSS_RUNS,
    extra_plots=extra_plots,
    published='No paper: the questions of users of TRL, verl and OpenRLHF ("why is my loss zero?"). The GRPO loss '
    "of DeepSeekMath (Shao et al. 2024, arXiv 2402.03300) with one update per rollout (μ = 1), as TRL's default.",
    seeds=5,
)
