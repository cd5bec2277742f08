"""Positive and negative samples (Zhu et al. 2025): REINFORCE on the right responses only (PSR), the
wrong ones only (NSR), both, and both with the right ones weighted 0.1 (W-REINFORCE), scored by pass@k
for k = 1 .. 256 against the base they start from.

Every RL arm is the loop's REINFORCE preset (token-mean loss, no ratio, no KL) with the signed
advantage of `kingme.lm.algos.signed_advantages`, Â = w₊·r − w₋·(1 − r), no baseline:

| arm | w₊ | w₋ |
|---|---|---|
| PSR | 1 | 0 |
| NSR | 0 | 1 |
| both (plain REINFORCE with ±1 rewards) | 1 | 1 |
| W-REINFORCE | 0.1 | 1 |

pass@k is the unbiased estimator (Chen et al. 2021) from 256 samples at temperature 1 of each of 48
distinct held-out test problems, the same problems and sampling seed for the base and every policy
of a seed. The positive control is a planted policy whose coverage is known to be lower: the base
with the 1/16 of the test problems that come first by the crc32 of their prompt made unsolvable
(every sample of them counted wrong), its samples drawn with another seed than the base's. Its loss
at k = 256 is known: 1/16 of the problems times the base's coverage of them, about 0.06.

The prediction and the verdict rule are those of the setup text below (written, and committed,
before the first full run).
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kingme.experiments.base import UNIT, UNIT_DIFFERENCE, Arm, Curve, Experiment, Metric, Results, RunOutput
from kingme.experiments.lm_runs import (
    ADDITION_BASE,
    RESPONSES,
    BeforeAfterRuns,
    LMRunConfig,
    base_model,
    lm_arm,
    pass_at_k_curve,
    plot_against,
)
from kingme.experiments.plots import COLORS
from kingme.experiments.summaries import gain, last
from kingme.lm.evaluate import pass_at_ks
from kingme.lm.tasks import Problem, Task, test_set
from kingme.progress import Advance
from kingme.stats import Interval, summarise
from kingme.transformer import GPT

KS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
SAMPLES = 256  # samples per problem for pass@k (the largest k)
PROBLEMS = 48  # distinct held-out test problems per seed
TINY_KS, TINY_SAMPLES, TINY_PROBLEMS = (1, 2, 4, 8), 8, 4
PLANT_EVERY = 16  # the control makes 1 in PLANT_EVERY of the test problems unsolvable
UPDATES = 60
RL: dict[str, Any] = {
    "algo": "reinforce", "advantage": "signed", "updates": UPDATES, "prompts_per_update": 32, "group_size": 8,
    "lr": 1e-4, "eval_every": UPDATES, "eval_problems": 64,
}  # fmt: skip
BASE, PSR, NSR, BOTH, WR = (
    "base",
    "PSR (right only)",
    "NSR (wrong only)",
    "both (REINFORCE ±1)",
    "W-REINFORCE (right × 0.1)",
)
CONTROL = "control: base, 1/16 of problems planted unsolvable"
WEIGHTS = {PSR: (1.0, 0.0), NSR: (0.0, 1.0), BOTH: (1.0, 1.0), WR: (0.1, 1.0)}  # arm -> (w₊, w₋)
TOP = KS[-1]


def arms(tiny: bool) -> list[Arm]:
    out = [lm_arm(BASE, "addition", tiny, ADDITION_BASE, do_rl=False)]
    for label, (pos, neg) in WEIGHTS.items():
        out.append(lm_arm(label, "addition", tiny, ADDITION_BASE, **RL, positive_weight=pos, negative_weight=neg))
    return out + [lm_arm(CONTROL, "addition", tiny, ADDITION_BASE, do_rl=False)]


def planted(problems: list[Problem], every: int = PLANT_EVERY) -> set[int]:
    """The indices of the len(problems) // every problems that come first by the crc32 of their prompt
    (the same on every machine): the ones the positive control makes unsolvable."""
    order = sorted(range(len(problems)), key=lambda i: (zlib.crc32(problems[i].prompt.encode()), i))
    return set(order[: len(problems) // every])


def planted_pass_at_k(kept: dict[int, float], n_kept: int, n_all: int) -> dict[int, float]:
    """pass@k over all n_all problems when the n_all − n_kept planted ones are never solved and the
    kept ones score `kept` (their own mean pass@k): kept · n_kept / n_all."""
    return {k: v * n_kept / n_all for k, v in kept.items()}


def sizes(tiny: bool) -> tuple[tuple[int, ...], int, int]:
    """(ks, samples per problem, problems) of the measurement."""
    return (TINY_KS, TINY_SAMPLES, TINY_PROBLEMS) if tiny else (KS, SAMPLES, PROBLEMS)


def measure_pass_k(model: GPT, task: Task, seed: int, tiny: bool, plant: bool = False) -> dict[str, float]:
    """pass@k on the seed's held-out test problems, the same samples for the same model and seed; with
    `plant`, the planted control: other samples (another seed), the planted problems never solved."""
    ks, n, count = sizes(tiny)
    problems = test_set(task, seed, count)[:count]
    if not plant:
        torch.manual_seed(seed + 20_000)
        return {f"pass@{k}": v for k, v in pass_at_ks(model, task, problems, ks, n).items()}
    gone = planted(problems, PLANT_EVERY if not tiny else 2)
    kept = [p for i, p in enumerate(problems) if i not in gone]
    torch.manual_seed(seed + 30_000)
    scores = planted_pass_at_k(pass_at_ks(model, task, kept, ks, n), len(kept), len(problems))
    return {f"pass@{k}": v for k, v in scores.items()} | {"planted_problems": float(len(gone))}


class PosNegRuns(BeforeAfterRuns):
    """Base and RL policy scored by pass@k (`measure_pass_k`); the control arm scores the planted base."""

    kept: tuple[str, ...] = ("time", "charts/test_pass1")

    def measure(self, model: GPT, task: Task, seed: int, tiny: bool) -> dict[str, float]:
        return measure_pass_k(model, task, seed, tiny)

    def run(self, arm: Arm, config: LMRunConfig, advance: Advance) -> RunOutput:
        out = super().run(arm, config, advance)
        if arm.label == CONTROL:
            model, task, _ = base_model(config.pretrain)
            tiny = config.pretrain.steps < 100
            out.history[-1] |= {f"eval/{k}": v for k, v in measure_pass_k(model, task, config.seed, tiny, True).items()}
        return out


POS_NEG_RUNS = PosNegRuns()


def area(prefix: str) -> Any:
    """The mean of pass@k over the k measured (equal weight per doubling of k: the area under the
    curve on a log-k axis, divided by its width)."""

    def fn(h: list[dict[str, Any]]) -> float:
        vals = [last(f"eval/{prefix}pass@{k}")(h) for k in KS]
        vals = [v for v in vals if not math.isnan(v)]
        return float(np.mean(vals)) if vals else math.nan

    return fn


def area_gain(h: list[dict[str, Any]]) -> float:
    return area("")(h) - area("base_")(h)


def ks_of(results: Results) -> list[int]:
    return [k for k in KS if any(not math.isnan(r.metrics.get(f"pass@{k}", math.nan)) for r in results.runs)]


def paired_difference(results: Results, a: str, b: str, key: str) -> Interval:
    """Per seed, arm a's metric minus arm b's (the same base), summarised over seeds (a difference of
    two shares: its interval stays in [−1, 1])."""
    by_seed = {r.seed: r.metrics.get(key, math.nan) for r in results.runs if r.arm == b}
    diffs = [r.metrics.get(key, math.nan) - by_seed.get(r.seed, math.nan) for r in results.runs if r.arm == a]
    return summarise(diffs, UNIT_DIFFERENCE)


def side(iv: Interval) -> int:
    """+1 when the interval lies above 0, −1 below, 0 when it holds 0 (or is undefined)."""
    return 1 if iv.n >= 2 and iv.lo > 0 else -1 if iv.n >= 2 and iv.hi < 0 else 0


def verdicts(results: Results) -> tuple[bool, dict[str, tuple[str, str]]]:
    """The setup's rule: whether the control detects its planted loss, and for each of the three parts
    of the claim (PSR, NSR, W-REINFORCE) its verdict and the numbers it rests on."""
    ks = ks_of(results)
    lo_k, hi_k = (ks[0], ks[-1]) if ks else (1, TOP)
    g = {arm: {k: results.summary(arm, f"gain@{k}") for k in (lo_k, hi_k)} for arm in (*WEIGHTS, CONTROL)}
    detects = side(g[CONTROL][hi_k]) < 0
    out: dict[str, tuple[str, str]] = {}

    p1, pk = side(g[PSR][lo_k]), side(g[PSR][hi_k])
    word = "reproduced" if p1 > 0 and pk < 0 else "not reproduced" if p1 < 0 or pk > 0 else "inconclusive"
    out["PSR"] = (word, f"pass@{lo_k} − base {g[PSR][lo_k].fmt(3)}, pass@{hi_k} − base {g[PSR][hi_k].fmt(3)}")

    n1, nk = side(g[NSR][lo_k]), side(g[NSR][hi_k])
    vs = paired_difference(results, NSR, PSR, f"pass@{hi_k}")
    word = "not reproduced" if n1 < 0 or nk < 0 or side(vs) < 0 else "reproduced" if side(vs) > 0 else "inconclusive"
    out["NSR"] = (
        word,
        f"pass@{lo_k} − base {g[NSR][lo_k].fmt(3)}, pass@{hi_k} − base {g[NSR][hi_k].fmt(3)}, "
        f"NSR − PSR at pass@{hi_k} {vs.fmt(3)}",
    )

    diffs = {other: paired_difference(results, WR, other, "area") for other in (BOTH, PSR, NSR)}
    if any(side(d) < 0 for d in diffs.values()):
        word = "not reproduced"
    else:
        word = "reproduced" if side(diffs[BOTH]) > 0 else "inconclusive"
    out["W-REINFORCE"] = (word, "; ".join(f"mean pass@k, W-REINFORCE − {o}: {d.fmt(3)}" for o, d in diffs.items()))
    if not detects:
        out = {part: ("inconclusive", why) for part, (_, why) in out.items()}
    return detects, out


def conclude(results: Results) -> list[str]:
    ks = ks_of(results)
    out = []
    if ks:
        base1, basek = results.summary(BASE, f"pass@{ks[0]}"), results.summary(BASE, f"pass@{ks[-1]}")
        out.append(f"Base: pass@{ks[0]} {base1.fmt(3)}, pass@{ks[-1]} {basek.fmt(3)}.")
    for arm in (*WEIGHTS, CONTROL):
        cells = ", ".join(f"@{k} {results.summary(arm, f'gain@{k}').fmt(3)}" for k in ks)
        out.append(f"{arm} − base, per seed: {cells}; mean over k {results.summary(arm, 'area_gain').fmt(3)}.")
    detects, parts = verdicts(results)
    control = results.summary(CONTROL, f"gain@{ks[-1]}") if ks else None
    out.append(
        f"Positive control: {'detects' if detects else 'does not detect'} the planted loss of coverage "
        f"(pass@{ks[-1] if ks else TOP} − base {control.fmt(3) if control else 'n/a'}; the rule needs it below 0)."
    )
    for part, (word, why) in parts.items():
        out.append(f"Verdict, {part}: **{word}** ({why}).")
    return out


def plot_gains(results: Results, out: Path) -> tuple[str, str]:
    """One PNG: each arm's pass@k minus its base's, per seed, against k (log 2), the mean over seeds
    with its 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = ks_of(results)
    fig, ax = plt.subplots(figsize=(10.0, 4.6))
    for i, arm in enumerate((*WEIGHTS, CONTROL)):
        ivs = [results.summary(arm, f"gain@{k}") for k in ks]
        color = COLORS[(i + 1) % len(COLORS)]
        x = np.array(ks, dtype=float) * (1.0 + 0.03 * (i - 2))  # a small shift so the bars do not overlap
        ax.plot(
            x, [iv.mean for iv in ivs], color=color, lw=2.0, marker="o", label=arm, ls="--" if arm == CONTROL else "-"
        )
        lo = [iv.mean - iv.lo if not math.isnan(iv.lo) else 0.0 for iv in ivs]
        hi = [iv.hi - iv.mean if not math.isnan(iv.hi) else 0.0 for iv in ivs]
        ax.errorbar(x, [iv.mean for iv in ivs], yerr=[lo, hi], fmt="none", color=color, capsize=3, lw=1.2)
    ax.axhline(0.0, color="0.4", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k", fontsize=11)
    ax.set_ylabel("pass@k − base's pass@k (same seed)", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(f"{results.experiment}: change from the base\n(mean and 95% interval over {results.seeds} seeds)")
    fig.tight_layout()
    name = "pass_at_k_change.png"
    fig.savefig(out / name, dpi=100)
    plt.close(fig)
    return name, "pass@k minus the base's, per arm"


def extra_plots(results: Results, out: Path) -> list[tuple[str, str]]:
    ks = ks_of(results)
    curve = plot_against(
        results, out, "pass_at_k.png", "pass@k of each arm", "k", "pass@k", pass_at_k_curve(ks), log2x=True
    )
    return [curve, plot_gains(results, out)]


METRICS = [
    *[Metric(f"pass@{k}", f"pass@{k}", last(f"eval/pass@{k}"), bounds=UNIT) for k in KS],
    *[
        Metric(f"gain@{k}", f"pass@{k} − base", gain(f"eval/pass@{k}", f"eval/base_pass@{k}"), bounds=UNIT_DIFFERENCE)
        for k in KS
    ],
    Metric("area", "mean pass@k over k", area(""), bounds=UNIT),
    Metric("area_gain", "mean pass@k over k − base", area_gain, bounds=UNIT_DIFFERENCE),
]

EXPERIMENT = Experiment(
    name="pos-neg-samples",
    title="Positive and negative samples: what each does to pass@k (Zhu et al. 2025)",
    claim="Training only on penalised wrong samples (NSR) keeps or raises pass@k up to k = 256; training only on "
    "rewarded right samples (PSR) raises pass@1 and lowers pass@k at large k; weighting the right samples by 0.1 "
    "(W-REINFORCE) is best overall (Zhu et al. 2025).",
    question="From one base per seed, how does pass@k (k = 1 .. 256) of REINFORCE on the right samples only, the "
    "wrong only, both, and the right weighted 0.1 compare with the base's, seed by seed?",
    setup=f"""
**Published finding.** Zhu et al. 2025 (NeurIPS 2025, arXiv 2506.01347), Qwen2.5-Math-7B and
Qwen3-4B on MATH: REINFORCE on the penalised wrong samples only (NSR) kept or raised pass@k over
the whole range up to k = 256, often matching PPO and GRPO; on the rewarded right samples only
(PSR) it raised pass@1 and lowered pass@k at large k (less diversity); weighting the right
samples by 0.1 (W-REINFORCE) was best overall. The reference summary gives no effect sizes.

**Our setting.** Per seed one base, `kingme lm pretrain addition --scratchpad --max-level 2
--steps 130` (greedy test pass@1 about 0.3, sampled pass@1 about 0.2, pass@256 about 0.97),
shared by every arm. Each RL arm: {UPDATES} updates of P = 32 prompts × G = 8 samples,
`kingme lm train --algo reinforce --advantage signed --positive-weight W+ --negative-weight W-
--lr 1e-4` (a 20-update warm-up; token-mean loss, no ratio, no KL, no baseline), with (W+, W-) = (1, 0)
PSR, (0, 1) NSR, (1, 1) both, (0.1, 1) W-REINFORCE. Measured: the unbiased pass@k for k = 1, 2,
4, .., 256 from {SAMPLES} samples at temperature 1 of each of {PROBLEMS} distinct held-out test
problems (levels equal), the same problems and sampling seed for the base and each policy; "X −
base" is the paired difference per seed, with a 95% t-interval over seeds (cut to [−1, 1]); "mean
pass@k" averages the nine k (the area under the curve on the log-k axis). **Positive control**:
the base with the {PROBLEMS // PLANT_EVERY} of its {PROBLEMS} test problems that come first by
the crc32 of their prompt made unsolvable, sampled with another seed: a policy whose coverage is
known to be lower, by about 0.06 at k = 256. The learning rate and budget were chosen on probes of
seed 1 run before this text was written, disclosed here: at lr 5e-4 (40 updates, 32 test problems) NSR,
W-REINFORCE and both lowered pass@256 from 0.97 to 0.63-0.72 and PSR to 0.94; at lr 1e-4 (60
updates, 32 problems) PSR 0.224 → 0.307 at pass@1 and 0.969 → 0.938 at pass@256, NSR 0.234 and
0.938, W-REINFORCE 0.243 and 1.0, both 0.251 and 0.969. lr 1e-4 was kept as the one at which no
arm lost most of its coverage; nothing else was tried.

**Prediction.** PSR raises pass@1 and lowers pass@256; NSR does not lower pass@k at k = 1 or 256
and ends above PSR at k = 256; W-REINFORCE has the highest mean pass@k. The control's pass@256 is
about 0.06 below the base's.

**Verdict rule** (each part on its own; paired per-seed differences, 95% intervals).
*Inconclusive*, every part, if the control's pass@256 − base interval does not lie below 0.
Otherwise: **PSR** reproduced if pass@1 − base lies above 0 and pass@256 − base below 0, not
reproduced if either lies on the other side of 0, else inconclusive. **NSR** not reproduced if
pass@1 − base or pass@256 − base lies below 0, or NSR − PSR at pass@256 below 0; reproduced if
none does and NSR − PSR at pass@256 lies above 0; else inconclusive. **W-REINFORCE** not
reproduced if its mean pass@k minus that of PSR, NSR or both lies below 0; reproduced if none does
and W-REINFORCE − both lies above 0; else inconclusive.
""",
    arms=arms,
    metrics=METRICS,
    curves=[
        Curve("charts/reward", "sampled reward (training prompts)", bounds=UNIT, smooth=5, xlabel=RESPONSES),
        Curve("losses/entropy", "entropy per response token (nats)", smooth=5, xlabel=RESPONSES),
    ],
    conclude=conclude,
    kind=POS_NEG_RUNS,
    extra_plots=extra_plots,
    published="Zhu et al. 2025 (NeurIPS 2025, arXiv 2506.01347): NSR alone kept or raised pass@k up to k = 256, "
    "often matching PPO and GRPO; PSR alone raised pass@1 and lowered pass@k at large k; weighting the positives by "
    "0.1 (W-REINFORCE) was best overall.",
    seeds=5,
)
