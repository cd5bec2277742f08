"""Spurious rewards (Shao et al. 2025) against clean data (Wu et al. 2025), and one-example RL (Wang et al. 2025).

The base is pre-trained on two-digit addition where 70% of the targets write the scratchpad
(`7+5+0=12,4+8+1=13:132`) and 30% the bare answer (`132`), both accepted by the verifier
(`PretrainConfig.scratchpad_share`, the planted prior of a way of answering): the base favours the
scratchpad, as Qwen2.5-Math favours "code reasoning", and, as there, the favoured strategy is the
more accurate one. GRPO from it is paid coin flips (`kingme.lm.random_reward`, `coin:0.5`), with
the ratio clipped or not (`RLConfig.clip`), at one epoch (on-policy: the ratio is 1 and the clip
cannot act) and at four (`RLConfig.epochs`); beside it, the true reward, and a positive control that
pays the favoured strategy itself. The measure is read exactly off the responses
(`writes_scratchpad`): the share of responses, sampled at T = 1 on held-out prompts, that write the
scratchpad. One-example RL: from a weaker base of the same recipe, GRPO whose every training prompt
is one problem (`kingme.lm.one_example`), its test accuracy followed past the point where its
training accuracy saturates.

The prediction and the verdict rule are in the setup text below (`SETUP`), written before the first
full run.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kingme.config import config_to_dict
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
from kingme.experiments.lm_runs import (
    BASE_PASS1,
    RESPONSES,
    TEST_GAIN,
    TEST_PASS1,
    LMRunConfig,
    LMRuns,
    base_model,
    before_after_metrics,
    lm_arm,
)
from kingme.experiments.plots import COLORS, before_after_points, before_after_title
from kingme.experiments.summaries import column, overall_mean
from kingme.lm.one_example import OneExample, pick_example
from kingme.lm.rl import train
from kingme.lm.sampling import decode_responses, encode_prompts, generate
from kingme.lm.tasks import Task, test_set
from kingme.progress import Advance
from kingme.stats import Interval, mean_ci
from kingme.transformer import GPT

SHARE = 0.7  # the planted prior: the share of the pre-training targets that write the scratchpad
RECIPE: dict[str, Any] = {
    "pretrain_max_level": 2,
    "pretrain_scratchpad": True,
    "pretrain_scratchpad_share": SHARE,
    "pretrain_n_embd": 64,
    "pretrain_train_size": 10_000,
}
BASE = RECIPE | {"pretrain_steps": 600}
WEAK_BASE = RECIPE | {"pretrain_steps": 300}  # one-example RL's base: room above its test accuracy
UPDATES, ONE_UPDATES = 100, 150
P, G = 16, 8  # prompts per update, samples per prompt
PROBLEMS, SAMPLES = 256, 4  # held-out prompts × samples (T = 1) of the measurement
TINY_PROBLEMS = 8
SATURATED = 0.9  # training accuracy (trailing mean over SATURATION_WINDOW updates) counted as saturated
SATURATION_WINDOW = 5
CONTROL_BAR = 0.10  # the positive control must raise the share by at least this (its interval's lower bound)
PAYS_FAVOURED = "kingme.experiments.spurious_rewards:PaysScratchpad"


def coin_arm(clip: bool, epochs: int) -> str:
    return f"coin flips, {'clipped' if clip else 'not clipped'}, {epochs} epoch{'s' if epochs > 1 else ''}"


TRUE = "true reward, clipped, 4 epochs"
COIN_C1, COIN_U1, COIN_C4, COIN_U4 = coin_arm(True, 1), coin_arm(False, 1), coin_arm(True, 4), coin_arm(False, 4)
CONTROL = "control: pays the scratchpad, clipped, 4 epochs"
ONE = "one example, true reward (300-step base)"


# ---------------------------------------------------------------------------------------------
# The measure: the favoured strategy's share, read exactly
# ---------------------------------------------------------------------------------------------


def writes_scratchpad(response: str) -> bool:
    """The favoured strategy: the response writes a scratchpad, whose `:` closes the steps before the
    answer (`7+5+0=12,4+8+1=13:132`); a bare answer (`132`) has none. A garbled scratchpad counts: the
    strategy is the way of answering, right or wrong (`steps.StepMarks.has_steps` reads it alike)."""
    return ":" in response


def strategy_measures(task: Task, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, float]:
    """favoured/share (the share that writes the scratchpad), favoured/accuracy (the share the verifier
    accepts), favoured/acc_pad and favoured/acc_bare (the accuracy of each strategy's responses; nan
    when there are none)."""
    pad = [writes_scratchpad(r) for r in responses]
    ok = [task.verify(p, r) for p, r in zip(prompts, responses, strict=True)]
    n, n_pad = len(responses), sum(pad)
    right_pad = sum(o for o, s in zip(ok, pad, strict=True) if s)
    return {
        "favoured/share": n_pad / n if n else math.nan,
        "favoured/accuracy": sum(ok) / n if n else math.nan,
        "favoured/acc_pad": right_pad / n_pad if n_pad else math.nan,
        "favoured/acc_bare": (sum(ok) - right_pad) / (n - n_pad) if n - n_pad else math.nan,
    }


def measure(model: GPT, task: Task, seed: int, tiny: bool) -> dict[str, float]:
    """`strategy_measures` on the held-out prompts × SAMPLES samples at T = 1 (seeded: the base and the
    policy of a seed answer the same prompts)."""
    torch.manual_seed(seed + 30_000)
    prompts = [p.prompt for p in test_set(task, seed, TINY_PROBLEMS if tiny else PROBLEMS) for _ in range(SAMPLES)]
    model.eval()
    gen = generate(model, encode_prompts(prompts, task.prompt_width), task.response_width, temperature=1.0)
    return strategy_measures(task, prompts, decode_responses(gen))


class PaysScratchpad:
    """The positive control's reward (a plug-in, `PAYS_FAVOURED`): 1 when the response writes the
    scratchpad, else 0, right or wrong."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        return [float(writes_scratchpad(r)) for r in responses]


# ---------------------------------------------------------------------------------------------
# The runs
# ---------------------------------------------------------------------------------------------


def _rl(reward: str, clip: bool, epochs: int, updates: int = UPDATES, every: int = 25) -> dict[str, Any]:
    return {
        "algo": "grpo", "reward": reward, "clip": clip, "epochs": epochs, "kl_coef": 0.0, "updates": updates,
        "prompts_per_update": P, "group_size": G, "eval_every": every, "eval_problems": PROBLEMS,
    }  # fmt: skip


def arms(tiny: bool) -> list[Arm]:
    out = [lm_arm(TRUE, "addition", tiny, BASE, **_rl("exact", True, 4))]
    out += [
        lm_arm(coin_arm(c, e), "addition", tiny, BASE, **_rl("coin:0.5", c, e)) for e in (1, 4) for c in (True, False)
    ]
    out += [lm_arm(CONTROL, "addition", tiny, BASE, **_rl(PAYS_FAVOURED, True, 4))]
    return out + [lm_arm(ONE, "addition", tiny, WEAK_BASE, **_rl("exact", True, 1, ONE_UPDATES, 10))]


class SpuriousRuns(LMRuns):
    """An `lm:addition` run that measures the strategy (`measure`) of the base and of the RL policy, into
    the last history row as `eval/base_KEY` and `eval/KEY`; the one-example arm trains on its one
    problem (`OneExample`, the problem picked by `pick_example`), the others on the train split."""

    kept: tuple[str, ...] = ("time", "charts/test_pass1", "charts/true_reward", "steps/has_steps")
    _before: dict[str, dict[str, float]] = {}  # noqa: RUF012 - the base's measures, by its config

    def run(self, arm: Arm, config: LMRunConfig, advance: Advance) -> RunOutput:
        t0 = time.perf_counter()
        model, task, _ = base_model(config.pretrain)
        tiny = config.pretrain.steps < 100
        key = json.dumps([config_to_dict(config.pretrain), tiny])
        if key not in self._before:
            self._before[key] = measure(model, task, config.seed, tiny)
        rl_task, first = task, {}
        if arm.label == ONE:
            example, acc = pick_example(model, task, config.seed, *((8, 4) if tiny else (64, 16)))
            rl_task, first = OneExample(task, example), {"charts/true_reward": acc}
        history: History = []

        def log(row: dict[str, Any]) -> None:
            history.append({**row, "global_step": int(row["update"]) * P * G})
            advance(1)

        policy, summary = train(config.rl, log=log, base=(model, rl_task))
        after = measure(policy, task, config.seed, tiny)
        start = summary["test_pass1_start"]["all"]
        history.insert(0, {"update": 0, "global_step": 0, "time": 0.0, "charts/test_pass1": start, **first})
        history[-1] |= {f"eval/base_{k}": v for k, v in self._before[key].items()} | {
            f"eval/{k}": v for k, v in after.items()
        }
        history[-1]["eval/base_test_pass1"] = start
        return RunOutput(history, time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------
# Metrics and the verdict rule
# ---------------------------------------------------------------------------------------------

MEASURES = {
    "share": ("favoured/share", "scratchpad share (T = 1)"),
    "accuracy": ("favoured/accuracy", "test accuracy (T = 1)"),
    "acc_pad": ("favoured/acc_pad", "accuracy with a scratchpad"),
    "acc_bare": ("favoured/acc_bare", "accuracy with a bare answer"),
}


def saturation_update(h: History) -> float:
    """The first update at which the rollout's accuracy, averaged over the last SATURATION_WINDOW updates,
    reaches SATURATED; nan if it never does."""
    acc = column(h[1:], "charts/true_reward")  # row 0 is the base
    for i in range(SATURATION_WINDOW - 1, len(acc)):
        if np.nanmean(acc[i - SATURATION_WINDOW + 1 : i + 1]) >= SATURATED:
            return float(h[1 + i]["update"])
    return math.nan


def post_saturation_gain(h: History) -> float:
    """Test pass@1 (greedy) at the end minus at the first evaluation at or after saturation; nan if the
    training accuracy never saturates."""
    u = saturation_update(h)
    if math.isnan(u):
        return math.nan
    evals = [(int(r["update"]), float(r["charts/test_pass1"])) for r in h if r.get("charts/test_pass1") is not None]
    at = [p for upd, p in evals if upd >= u]
    return at[-1] - at[0] if at else math.nan


METRICS = [
    *before_after_metrics(MEASURES),
    BASE_PASS1,
    TEST_PASS1,
    TEST_GAIN,
    Metric("clipfrac", "share of tokens outside the clip range (mean)", overall_mean("losses/clipfrac"), bounds=UNIT),
    Metric("saturated_at", "update where training accuracy saturates", saturation_update, digits=0, bounds=NONNEGATIVE),
    Metric("post_saturation_gain", "test pass@1 gained after saturation", post_saturation_gain, bounds=UNIT_DIFFERENCE),
]


def paired(results: Results, a: str, b: str, key: str) -> Interval:
    """Arm a minus arm b of a metric, paired by seed (the arms share each seed's base): the mean of the
    per-seed differences with its 95% t-interval."""
    va = {r.seed: r.metrics.get(key, math.nan) for r in results.runs if r.arm == a}
    vb = {r.seed: r.metrics.get(key, math.nan) for r in results.runs if r.arm == b}
    return mean_ci([va[s] - vb[s] for s in sorted(va.keys() & vb.keys())])


def above(iv: Interval, bar: float = 0.0) -> bool:
    return iv.n >= 2 and iv.lo > bar


def control_detects(results: Results) -> bool:
    return above(results.summary(CONTROL, "share_change"), CONTROL_BAR)


def shao_verdicts(results: Results) -> tuple[str, str, str]:
    """(growth, only with clipping, overall) by the setup's rule."""
    gc, gu = results.summary(COIN_C4, "share_change"), results.summary(COIN_U4, "share_change")
    d = paired(results, COIN_C4, COIN_U4, "share_after")
    growth = "reproduced" if above(gc) else "not reproduced"
    if above(d) and not above(gu):
        only = "reproduced"
    elif not above(gc) or (above(gu) and not above(d)):
        only = "not reproduced"
    else:
        only = "inconclusive"
    if not control_detects(results):
        overall = "inconclusive"
    elif growth == "reproduced" and only == "reproduced":
        overall = "reproduced"
    elif growth == "not reproduced" or only == "not reproduced":
        overall = "not reproduced"
    else:
        overall = "inconclusive"
    return growth, only, overall


def wu_verdict(results: Results) -> str:
    """Only the true reward raises test accuracy (T = 1): reproduced if the true reward's change lies
    above 0 and no coin-flip arm's does; not reproduced if a coin-flip arm's does; else inconclusive."""
    coins = [COIN_C1, COIN_U1, COIN_C4, COIN_U4]
    if any(above(results.summary(a, "accuracy_change")) for a in coins):
        return "not reproduced"
    return "reproduced" if above(results.summary(TRUE, "accuracy_change")) else "inconclusive"


def wang_verdict(results: Results) -> str:
    """One example raises test pass@1, and it keeps rising after training accuracy saturates: reproduced
    if both intervals lie above 0; inconclusive with fewer than 2 seeds saturated; else not reproduced."""
    post = results.summary(ONE, "post_saturation_gain")
    if post.n < 2:
        return "inconclusive"
    return "reproduced" if above(results.summary(ONE, "gain")) and above(post) else "not reproduced"


def conclude(results: Results) -> list[str]:
    labels = list(dict.fromkeys(a.label for a in results.arms))
    out = []
    for arm in labels:
        parts = []
        for name, (_, label) in MEASURES.items():
            b, a = results.summary(arm, f"{name}_before"), results.summary(arm, f"{name}_after")
            parts.append(f"{label} {b.fmt(3)} → {a.fmt(3)} (change {results.summary(arm, f'{name}_change').fmt(3)})")
        base, end = results.summary(arm, "base_pass1"), results.summary(arm, "test_pass1")
        parts.append(f"greedy test pass@1 {base.fmt(3)} → {end.fmt(3)}")
        parts.append(f"clip fraction {results.summary(arm, 'clipfrac').fmt(3)}")
        out.append(f"{arm}: " + "; ".join(parts) + ".")
    if not {COIN_C1, COIN_U1, COIN_C4, COIN_U4, CONTROL, TRUE} <= set(labels):
        return out
    d4, d1 = paired(results, COIN_C4, COIN_U4, "share_after"), paired(results, COIN_C1, COIN_U1, "share_after")
    out.append(
        f"Scratchpad share after RL, clipped minus not clipped (paired by seed): at 4 epochs {d4.fmt(3)}; at 1 epoch "
        f"{d1.fmt(3)} (on-policy the ratio is 1 and the two losses have the same gradient: the runs differ by float "
        "rounding only)."
    )
    out.append(
        f"Positive control (pays the scratchpad): share change {results.summary(CONTROL, 'share_change').fmt(3)}: "
        + ("detects" if control_detects(results) else "does NOT detect")
        + f" a rise (the rule needs its lower bound above +{CONTROL_BAR:g})."
    )
    growth, only, overall = shao_verdicts(results)
    out.append(
        f"Shao et al., random reward raises the favoured strategy (coin flips, clipped, 4 epochs): **{growth}**; "
        f"and only with clipping: **{only}**. Verdict: **{overall}**."
    )
    out.append(
        f"Wu et al., on clean data only the true reward raises accuracy: **{wu_verdict(results)}** (accuracy change: "
        f"true reward {results.summary(TRUE, 'accuracy_change').fmt(3)}, coin flips clipped at 4 epochs "
        f"{results.summary(COIN_C4, 'accuracy_change').fmt(3)})."
    )
    if ONE in labels:
        sat = results.values(ONE, "saturated_at")
        at = ", ".join("-" if math.isnan(s) else f"{s:.0f}" for s in sat)
        base, end = results.summary(ONE, "base_pass1"), results.summary(ONE, "test_pass1")
        out.append(
            f"One example (Wang et al.): training accuracy saturated (≥ {SATURATED:g} over {SATURATION_WINDOW} "
            f"updates) in {sum(not math.isnan(s) for s in sat)} of {len(sat)} seeds, at updates {at}; greedy test "
            f"pass@1 {base.fmt(3)} → {end.fmt(3)} (gain {results.summary(ONE, 'gain').fmt(3)}), after saturation "
            f"{results.summary(ONE, 'post_saturation_gain').fmt(3)}: **{wang_verdict(results)}**."
        )
    return out


# ---------------------------------------------------------------------------------------------
# The plot
# ---------------------------------------------------------------------------------------------


def extra_plots(results: Results, out: Path) -> list[tuple[str, str]]:
    """Three panels: the scratchpad share and the test accuracy (T = 1) of each arm, base and after RL
    (mean, 95% interval, each seed a dot); one-example RL's training and test accuracy by update."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(a.label for a in results.arms))
    fig, axes = plt.subplots(1, 3, figsize=(18.0, 5.2), gridspec_kw={"width_ratios": [2, 2, 1.3]})
    for ax, name in zip(axes[:2], ("share", "accuracy"), strict=True):
        before_after_points(ax, results, labels, name, jitter=0.07)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([a.replace(", ", ",\n").replace(": ", ":\n") for a in labels], fontsize=7)
        ax.set_title(MEASURES[name][1], fontsize=10)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3, axis="y")
    axes[0].legend(fontsize=8, loc="lower left")
    ax = axes[2]
    runs = [r for r in results.runs if r.arm == ONE]
    for j, (key, name) in enumerate((("charts/true_reward", "training accuracy (its one prompt, T = 1)"),
                                     ("charts/test_pass1", "test pass@1 (greedy)"))):  # fmt: skip
        ys = [np.array([math.nan if v is None else v for v in r.series.get(key, [])], dtype=float) for r in runs]
        n = min((len(y) for y in ys), default=0)
        if n == 0:
            continue
        updates = np.array(runs[0].steps[:n], dtype=float) / (P * G)
        for y in ys:
            ax.plot(updates, y[:n], color=COLORS[j], lw=0.6, alpha=0.3)
        ax.plot(updates, np.nanmean(np.array([y[:n] for y in ys]), axis=0), color=COLORS[j], lw=2.0, label=name)
    ax.set_xlabel("update", fontsize=10)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    if runs:
        ax.legend(fontsize=8, loc="lower right")
    ax.set_title("one-example RL (thin: each seed)" if runs else "one-example RL: not in this run", fontsize=10)
    fig.suptitle(before_after_title(results))
    fig.tight_layout()
    fig.savefig(out / "spurious.png", dpi=100)
    plt.close(fig)
    return [("spurious.png", "scratchpad share and test accuracy before and after RL; one-example RL by update")]


SETUP = f"""
**Published finding.** Shao et al. 2025 (arXiv 2506.10947): GRPO on Qwen2.5-Math-7B raised MATH-500
by 21.4 points with rewards that were coin flips (29.1 with the true reward); the proposed mechanism
is the clipping of the ratio, whose bias raises what the model already favours ("code reasoning",
65% of its answers, to over 90%; code answers are the more accurate ones), with no KL term; Llama 3
and OLMo 2 gained nothing. Wu et al. 2025 (arXiv 2507.10532): Qwen2.5-Math
completes 54.6% of MATH-500 from its first 60% (memorised), and on clean synthetic tasks only
accurate rewards helped. Wang et al. 2025 (arXiv 2504.20571): RL on one training problem took
Qwen2.5-Math-1.5B from 36.0% to 73.6% on MATH-500, and test accuracy kept rising after the training
accuracy on that problem saturated.

**Our setting.** Base per seed: `kingme lm pretrain addition --scratchpad --scratchpad-share {SHARE}
--max-level 2 --steps 600 --n-embd 64 --train-size 10000`: 70% of the targets write the scratchpad,
30% the bare answer; the verifier accepts both. Nothing is contaminated: the test split's prompts are
never in pre-training (`tasks.split_of`). Probes run before this text was written (seeds 1 and 2,
disclosed): the bases sample the scratchpad in 0.77 and 0.69 of their answers at T = 1, right in
0.80 and 0.66 of those, against 0.07 and 0.11 for their bare answers: the favoured strategy is also
the accurate one, as code reasoning is for Qwen. RL: GRPO, {UPDATES} updates of {P} prompts × {G}
samples, no KL term (β = 0, as Shao et al.: only the reward and the clip move the policy), ε = 0.2, the loop's
other defaults. Arms: "{TRUE}" (the verifier); coin flips (`--reward coin:0.5`, seeded by the run's
seed) clipped and not clipped (`--clip/--no-clip`) at 1 epoch (on-policy, ratio 1: the clip cannot
act, so the two differ only by float rounding) and at 4 epochs (each rollout reused for 4 steps);
the **positive control** "{CONTROL}" pays 1 for writing the scratchpad, right or wrong. Measured on
the base and the policy: {PROBLEMS} held-out prompts × {SAMPLES} samples at T = 1, read exactly
(`writes_scratchpad`: the response has the `:` that ends a scratchpad): the scratchpad share, the
accuracy, and the accuracy of each strategy; and the loop's greedy test pass@1 on 256 held-out
problems. Changes are paired per seed (after − base); differences between arms are paired by seed
(the arms of a seed share its base). One-example RL: "{ONE}", from the same recipe pre-trained 300
steps (greedy test pass@1 0.48 and 0.30 in the probes: room to rise), {ONE_UPDATES} GRPO updates
whose {P} prompts are all one training problem (`kingme.lm.one_example`; of 64 two-digit train
problems, the one whose 16 sampled answers from the base are right nearest half the time), 1 epoch,
test pass@1 every 10 updates. Training accuracy is the rollout's accuracy on that prompt; it is
*saturated* from the first update where its mean over the last {SATURATION_WINDOW} updates reaches
{SATURATED:g}.

**Our prediction (written before the first full run).** At 1 epoch, coin flips change nothing on
average: with the ratio at 1 the expected gradient is zero, clipped or not. At 4 epochs the ratio
moves and the reuse of one rollout's random advantages is no longer neutral: to second order, the
ratio of a response that got Â > 0 rises and weights it more in the next epochs, and one that got
Â < 0 falls and weighs less, a push that is largest for the rarer strategy (its log-probability's
gradient is the larger): without the clip we expect the scratchpad share to hold or fall. The clip
cuts exactly those large ratio moves, so clipped minus not clipped at 4 epochs should be above 0
(Shao's bias, seen as a difference); whether the clipped arm's share itself rises above the base we
do not know, and guess a small rise (under +0.1). The true reward raises accuracy and the share (the
scratchpad is the accurate strategy); coin flips raise accuracy only as far as they move the share.
The control raises the share to near 1. One example: training accuracy saturates within about 30
updates; the test pass@1 moves by less than 0.05 overall and does not rise after saturation (the
tiny model memorises one answer; it has no general reasoning for one problem to sharpen).

**Verdict rule.** The positive control must raise the share with its 95% interval's lower bound above
+{CONTROL_BAR:g}, else the Shao verdict is *inconclusive*. Shao's two claims, on the share after −
base (95% t-interval over seeds): (1) *growth*: reproduced if the change under "{COIN_C4}" lies above
0, else not reproduced; (2) *only with clipping*: reproduced if the paired difference "{COIN_C4}"
minus "{COIN_U4}" lies above 0 and the unclipped arm's change does not; not reproduced if the clipped
arm's share does not grow, or if the unclipped arm's grows and the difference is not above 0;
otherwise inconclusive. The Shao verdict is *reproduced* when both are, *not reproduced* when either
is not. Wu: *reproduced* if the true reward's accuracy change (T = 1) lies above 0 and no coin-flip
arm's does; *not reproduced* if a coin-flip arm's lies above 0; else inconclusive. Wang: *reproduced*
if the one-example arm's greedy test pass@1 gain and its gain after saturation both lie above 0;
*inconclusive* if fewer than 2 seeds saturate; else *not reproduced*.
"""


EXPERIMENT = Experiment(
    name="spurious-rewards",
    title="Spurious rewards: do coin flips raise what the base already favours, and only through the clip?",
    claim="RL with random rewards improves a model that already favours an accurate strategy, because the clipped "
    "ratio is biased toward the high-probability behaviour (Shao et al. 2025); on clean, uncontaminated data only "
    "accurate rewards help (Wu et al. 2025); RL on one training example raises test accuracy, and keeps raising it "
    "after the training accuracy saturates (Wang et al. 2025).",
    question="On a base planted to write the scratchpad in 70% of its answers (the accurate strategy), does GRPO paid "
    "by coin flips raise the scratchpad's share, and only with the ratio clipped and off-policy (4 epochs)? Does "
    "accuracy rise without a true reward? Does one training prompt repeated raise test accuracy after its own "
    "accuracy saturates?",
    setup=SETUP,
    arms=arms,
    metrics=METRICS,
    curves=[
        Curve("steps/has_steps", "rollout: writes the scratchpad", bounds=UNIT, smooth=3, xlabel=RESPONSES),
        Curve("charts/true_reward", "rollout: truly correct", bounds=UNIT, smooth=3, xlabel=RESPONSES),
        Curve("charts/test_pass1", "test pass@1 (greedy)", bounds=UNIT, xlabel=RESPONSES),
    ],
    conclude=conclude,
    kind=SpuriousRuns(),
    extra_plots=extra_plots,
    published="Shao et al. 2025 (arXiv 2506.10947): random rewards +21.4 points on MATH-500 for Qwen2.5-Math-7B "
    "(true reward +29.1), code reasoning 65% → over 90%, attributed to the clipping bias; none on Llama 3 or OLMo 2. "
    "Wu et al. 2025 (arXiv 2507.10532): memorisation (54.6% of MATH-500 completed from 60% of the problem); on clean "
    "tasks only accurate rewards help. Wang et al. 2025 (arXiv 2504.20571): one example, 36.0% → 73.6%; gains "
    "continue after training accuracy saturates.",
    seeds=5,
)

LR_ARMS = (TRUE, COIN_C1, COIN_C4, COIN_U4)  # the extra run's arms


def lr_arms(lr: float) -> Any:
    """The arms of `LR_ARMS` with the RL learning rate set to `lr` (an extra run, not the default's)."""

    def make(tiny: bool) -> list[Arm]:
        out = [a for a in arms(tiny) if a.label in LR_ARMS]
        return [Arm(a.label, a.env, a.overrides | {"lr": lr}) for a in out]

    return make


def main(argv: list[str] | None = None) -> int:
    """`python -m kingme.experiments.spurious_rewards --lr LR [--seeds K] OUT`: an extra run of the true
    reward and the coin-flip arms (clipped at 1 and 4 epochs, not clipped at 4) at another RL learning rate."""
    import argparse
    import dataclasses
    import sys

    from kingme.experiments.runner import run_variant

    p = argparse.ArgumentParser(prog="python -m kingme.experiments.spurious_rewards", description=main.__doc__)
    p.add_argument("out", help="The folder to write report.md and the plots into (created).")
    p.add_argument("--lr", type=float, required=True, help="The RL learning rate of every arm.")
    p.add_argument("--seeds", type=int, default=3, help="Seeds 1..K.")
    p.add_argument("--tiny", action="store_true", help="Tiny settings (seconds; not evidence).")
    ns = p.parse_args(argv)
    if ns.seeds < 2 or ns.lr <= 0:
        print("python -m kingme.experiments.spurious_rewards: error: --seeds >= 2 and --lr > 0", file=sys.stderr)
        return 2
    exp = dataclasses.replace(EXPERIMENT, arms=lr_arms(ns.lr))
    command = f"python -m kingme.experiments.spurious_rewards --lr {ns.lr:g} --seeds {ns.seeds} OUT"
    return run_variant(exp, ns.seeds, ns.tiny, Path(ns.out), command, progress=False)


if __name__ == "__main__":
    raise SystemExit(main())
