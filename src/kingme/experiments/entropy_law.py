"""The entropy law of RL on a language model (Cui et al. 2025) and the fixes argued over (Clip-Cov,
KL-Cov, an entropy bonus, clip-higher, Wang et al. 2025's high-entropy forks).

Every arm runs the RL loop (`kingme.lm.rl.train`) from the same base per seed and logs, per update,
the entropy per response token H (`losses/entropy`), the rollout's accuracy R (`charts/reward`, the
exact verifier) and the covariance of θ_old's log-probability and the advantage over the rollout's
tokens (`charts/cov_logp_adv`, `kingme.lm.entropy_mechanics.covariance`). Per run:
- the law R = −a·exp(H) + b fitted by least squares on the first tenth of the updates, its
  prediction of R on the rest from the H measured there, and the error of that prediction at the
  end (the mean over the last tenth of the rest: predicted − measured); beside it the error of
  the constant prediction (R's mean over the first tenth), which says how far R moved;
- a and b fitted on the whole run (for "is a the same across algorithms");
- the entropy at the start and the end, the covariance and its correlation with the next update's
  change of entropy (Cui et al.: dH ≈ −η·Cov);
- the positive control (`planted`): the same fit and prediction on a reward planted on the run's own
  entropy path, R = Binomial(n, −a₀·exp(H) + b₀)/n with n the rollout's responses, so the law holds
  exactly with sampling noise like the real R's; it shows whether this many points, this noise and
  this much movement of H in the first tenth can see the law when it holds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

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
)
from kingme.experiments.lm_runs import LM, RESPONSES, TEST_GAIN, TEST_PASS1, lm_arm
from kingme.experiments.plots import COLORS
from kingme.experiments.summaries import column, final_mean
from kingme.lm import entropy_mechanics as em
from kingme.stats import Interval, mean_ci, welch_diff

TASK = "addition"
BASE: dict[str, object] = {
    "pretrain_max_level": 1, "pretrain_steps": 100, "pretrain_warmup": 20, "pretrain_train_size": 2000,
}  # fmt: skip
UPDATES = 150
COMMON: dict[str, object] = {
    "updates": UPDATES, "prompts_per_update": 32, "group_size": 8, "minibatches": 2, "lr": 3e-4, "warmup": 10,
    "kl_coef": 0.0, "eval_every": UPDATES, "eval_problems": 256,
}  # fmt: skip
FIT_SHARE = 0.1  # the law is fitted on the first tenth of the updates
TAIL = 0.1  # "the end": the last tenth of the updates
TOLERANCE = 0.05  # |predicted − measured R at the end| within which the law "predicts"
A_BAND = 0.25  # a is "the same" when every algorithm's a is within ±25% of GRPO's (the interval of the difference)
PLANTED_A, PLANTED_B = 0.7, 1.75  # the planted law: R = −0.7·exp(H) + 1.75 (about GRPO's in a probe run)
Law = tuple[float, float]  # (a₀, b₀) of a planted law
SHARE_COV = 0.02  # Clip-Cov's and KL-Cov's share of the tokens (module docstring: why not the paper's)
ENT_COEF = 0.005
CLIP_HIGH = 0.28  # DAPO's ε_high
FORKS = 0.2  # Wang et al.: the highest-entropy fifth

GRPO, RLOO, PPO = "GRPO", "RLOO", "PPO"
CLIP_COV, KL_COV, BONUS, HIGHER, TOP = (
    "GRPO + Clip-Cov",
    "GRPO + KL-Cov",
    "GRPO + entropy bonus",
    "GRPO + clip-higher",
    "GRPO, top-20% entropy tokens",
)
ALGOS = (GRPO, RLOO, PPO)
FIXES = (CLIP_COV, KL_COV, BONUS, HIGHER, TOP)


def arms(tiny: bool, setting: dict[str, object] | None = None) -> list[Arm]:
    """Every arm of the first design; `setting` changes the RL recipe of all of them (the early design's)."""

    def arm(label: str, **overrides: object) -> Arm:
        settings = {**COMMON, **(setting or {}), **overrides}
        if tiny:  # the tiny preset's 3 updates, and one evaluation at the end
            settings["eval_every"] = 3
        return lm_arm(label, TASK, tiny, BASE, **settings)

    return [
        arm(GRPO, algo="grpo"),
        arm(RLOO, algo="rloo"),
        arm(PPO, algo="ppo"),
        arm(CLIP_COV, algo="grpo", clip_cov=SHARE_COV),
        arm(KL_COV, algo="grpo", kl_cov=SHARE_COV, clip=False),
        arm(BONUS, algo="grpo", ent_coef=ENT_COEF),
        arm(HIGHER, algo="grpo", clip_high=CLIP_HIGH),
        arm(TOP, algo="grpo", entropy_tokens=FORKS),
    ]


# ---------------------------------------------------------------------------------------------
# Per run: the law's fit and prediction, the planted control, the covariance
# ---------------------------------------------------------------------------------------------


def updates_of(h: History, key: str) -> np.ndarray:
    """The column over the updates (row 0 is the base: no rollout), NaN where absent."""
    return column(h[1:], key) if len(h) > 1 else np.zeros(0)


def responses_per_update(h: History) -> int:
    """P·G: the responses of one rollout (global_step counts them)."""
    steps = [int(r["global_step"]) for r in h[1:]]
    return steps[0] if steps and steps[0] > 0 else 1


def planted_rewards(h: History, planted: Law = (PLANTED_A, PLANTED_B)) -> np.ndarray:
    """R = Binomial(n, clip(−a₀·exp(H) + b₀, 0, 1)) / n on the run's own entropy path, n its responses
    per update; the draws are seeded by the path itself, so a run's control is reproducible."""
    H = updates_of(h, "losses/entropy")
    n = responses_per_update(h)
    seed = int.from_bytes(hashlib.sha256(np.round(H, 6).tobytes()).digest()[:8], "little")
    p = np.clip(em.law(*planted, np.nan_to_num(H)), 0.0, 1.0)
    return np.random.default_rng(seed).binomial(n, p) / n


def _prediction(H: np.ndarray, R: np.ndarray) -> em.Prediction | None:
    try:
        return em.law_prediction(H, R, FIT_SHARE, TAIL)
    except ValueError:  # too few updates (the tiny runs)
        return None


def prediction(planted: bool = False, law: Law = (PLANTED_A, PLANTED_B)) -> Callable[[History], em.Prediction | None]:
    def fn(h: History) -> em.Prediction | None:
        R = planted_rewards(h, law) if planted else updates_of(h, "charts/reward")
        return _prediction(updates_of(h, "losses/entropy"), R)

    return fn


def of_prediction(field: str, planted: bool = False, law: Law = (PLANTED_A, PLANTED_B)) -> Callable[[History], float]:
    pred = prediction(planted, law)

    def fn(h: History) -> float:
        p = pred(h)
        return float(getattr(p, field)) if p is not None else math.nan

    return fn


def whole_fit(index: int) -> Callable[[History], float]:
    """a (index 0) or b (1) of the law fitted on every update of the run."""
    return lambda h: em.fit_entropy_law(updates_of(h, "losses/entropy"), updates_of(h, "charts/reward"))[index]


def whole_fit_r2(h: History) -> float:
    """The share of R's variance over the run that the whole-run fit explains (R²)."""
    H, R = updates_of(h, "losses/entropy"), updates_of(h, "charts/reward")
    a, b = em.fit_entropy_law(H, R)
    ok = np.isfinite(H) & np.isfinite(R)
    if not ok.sum() > 2 or math.isnan(a):
        return math.nan
    resid = R[ok] - em.law(a, b, H[ok])
    total = ((R[ok] - R[ok].mean()) ** 2).sum()
    return float(1.0 - (resid**2).sum() / total) if total > 0 else math.nan


def first_mean(key: str) -> Callable[[History], float]:
    """The column's mean over the first tenth of the updates."""

    def fn(h: History) -> float:
        c = updates_of(h, key)
        k = max(1, math.ceil(FIT_SHARE * len(c) - 1e-9))
        return float(np.nanmean(c[:k])) if np.isfinite(c[:k]).any() else math.nan

    return fn


def cov_lag(h: History) -> float:
    return em.lagged_correlation(updates_of(h, "charts/cov_logp_adv"), updates_of(h, "losses/entropy"))


def mean_of(key: str) -> Callable[[History], float]:
    def fn(h: History) -> float:
        c = updates_of(h, key)
        return float(np.nanmean(c)) if np.isfinite(c).any() else math.nan

    return fn


def make_metrics(planted: Law) -> list[Metric]:
    """The per-run measures, the positive control's on the planted law `planted` = (a₀, b₀)."""
    return [
        Metric("law_error", "law: predicted − measured R at the end", of_prediction("final_error"), 3, UNIT_DIFFERENCE),
        Metric("law_mae", "law: mean |error| over the rest", of_prediction("mae"), 3, NONNEGATIVE),
        Metric(
            "moved",
            "constant: first tenth's R − R at the end",
            of_prediction("constant_final_error"),
            3,
            UNIT_DIFFERENCE,
        ),
        Metric("a_early", "a (first tenth)", of_prediction("a"), 2),
        Metric("a", "a (whole run)", whole_fit(0), 2),
        Metric("b", "b (whole run)", whole_fit(1), 2),
        Metric("r2", "R² of the whole-run fit", whole_fit_r2, 2, (-math.inf, 1.0)),
        Metric("h_start", "entropy, first tenth", first_mean("losses/entropy"), 3, NONNEGATIVE),
        Metric("h_end", "entropy, last tenth", final_mean("losses/entropy"), 3, NONNEGATIVE),
        Metric("r_start", "R (sampled), first tenth", first_mean("charts/reward"), 3, UNIT),
        Metric("r_end", "R (sampled), last tenth", final_mean("charts/reward"), 3, UNIT),
        TEST_PASS1,
        TEST_GAIN,
        Metric("cov", "Cov(logp, Â), mean", mean_of("charts/cov_logp_adv"), 3),
        Metric("cov_lag", "corr(Cov_t, H_t+1 − H_t)", cov_lag, 2, (-1.0, 1.0)),
        Metric(
            "planted_error",
            "planted: predicted − R at the end",
            of_prediction("final_error", True, planted),
            3,
            UNIT_DIFFERENCE,
        ),
        Metric(
            "planted_moved",
            "planted: first tenth's R − R at the end",
            of_prediction("constant_final_error", True, planted),
            3,
            UNIT_DIFFERENCE,
        ),  # fmt: skip
        Metric("planted_a", "planted: a (first tenth)", of_prediction("a", True, planted), 2),
    ]


METRICS = make_metrics((PLANTED_A, PLANTED_B))


# ---------------------------------------------------------------------------------------------
# Verdicts
# ---------------------------------------------------------------------------------------------


def inside(iv: Interval, tol: float) -> bool:
    return iv.n >= 2 and -tol <= iv.lo and iv.hi <= tol


def outside(iv: Interval, tol: float) -> bool:
    return iv.n >= 2 and (iv.lo > tol or iv.hi < -tol)


def law_verdict(results: Results, arm: str, planted: bool = False) -> str:
    """ "predicted", "not predicted", "nothing to predict" or "inconclusive" (the rules of the setup text)."""
    prefix = "planted_" if planted else ""
    error = results.summary(arm, f"{prefix}law_error" if not planted else "planted_error")
    moved = results.summary(arm, f"{prefix}moved")
    if not outside(moved, TOLERANCE):
        return "nothing to predict"
    if inside(error, TOLERANCE):
        return "predicted"
    if outside(error, TOLERANCE):
        return "not predicted"
    return "inconclusive"


def a_verdict(results: Results) -> tuple[str, list[str]]:
    """Is a the same across the algorithms (whole-run fits): "same", "different" or "inconclusive"."""
    ref = results.summary(GRPO, "a")
    band = A_BAND * abs(ref.mean)
    notes, same, differ = [], True, False
    for arm in ALGOS[1:]:
        d = welch_diff(results.values(arm, "a"), results.values(GRPO, "a"))
        notes.append(f"{arm} − GRPO {d.fmt(2)}")
        same &= inside(d, band) if not math.isnan(band) else False
        differ |= d.n >= 2 and (d.lo > 0 or d.hi < 0)
    return ("different" if differ else "same" if same else "inconclusive"), notes


def paired(results: Results, a: str, b: str, key: str) -> Interval:
    """Per seed, arm a's metric minus arm b's (the arms of a seed share its base), with a 95% t-interval."""
    va, vb = ({r.seed: r.metrics.get(key, math.nan) for r in results.runs if r.arm == arm} for arm in (a, b))
    return mean_ci([va[s] - vb[s] for s in sorted(va) if s in vb])


def sign(iv: Interval) -> str:
    if iv.n >= 2 and iv.lo > 0:
        return "higher"
    if iv.n >= 2 and iv.hi < 0:
        return "lower"
    return "no difference found"


def planted_law(results: Results) -> Law:
    """The planted law of the design that made `results` (the early design's has its ceiling at 1)."""
    return (EARLY_PLANTED_A, EARLY_PLANTED_B) if results.experiment == EARLY_NAME else (PLANTED_A, PLANTED_B)


def conclude(results: Results) -> list[str]:
    out = []
    control = law_verdict(results, GRPO, planted=True)
    a0, b0 = planted_law(results)
    out.append(
        f"Positive control (the law planted on GRPO's entropy paths, a₀ = {a0:g}, b₀ = {b0:g}): R moved "
        f"{results.summary(GRPO, 'planted_moved').fmt(3)} from the first tenth to the end, the first tenth's fit "
        f"predicted the end within {results.summary(GRPO, 'planted_error').fmt(3)} (a fitted "
        f"{results.summary(GRPO, 'planted_a').fmt(2)}): **{control}**."
    )
    ran = {a.label for a in results.arms}
    for arm in (a for a in (*ALGOS, *FIXES) if a in ran):
        s = {k: results.summary(arm, k) for k in ("law_error", "moved", "a_early", "a", "b", "r2", "h_start", "h_end")}
        out.append(
            f"{arm}: entropy {s['h_start'].fmt(3)} → {s['h_end'].fmt(3)} nat/token, R "
            f"{results.summary(arm, 'r_start').fmt(3)} → {results.summary(arm, 'r_end').fmt(3)}; the first tenth's "
            f"fit (a {s['a_early'].fmt(2)}) predicted R at the end within {s['law_error'].fmt(3)} (R moved "
            f"{s['moved'].fmt(3)}): **{law_verdict(results, arm)}**; whole run a {s['a'].fmt(2)}, b {s['b'].fmt(2)}, "
            f"R² {s['r2'].fmt(2)}; corr(Cov, next ΔH) {results.summary(arm, 'cov_lag').fmt(2)}."
        )
    verdicts = {arm: law_verdict(results, arm) for arm in ALGOS}
    if control != "predicted":
        claim = "inconclusive (the positive control was not predicted)"
    elif all(v == "predicted" for v in verdicts.values()):
        claim = "reproduced"
    elif any(v == "not predicted" for v in verdicts.values()):
        claim = "not reproduced"
    else:
        claim = "inconclusive"
    same, notes = a_verdict(results)
    out.append(
        f"a across algorithms (whole-run fits, Welch 95% intervals of the difference; 'same' within ±{A_BAND:.0%} of "
        f"GRPO's): {'; '.join(notes)}: **{same}**."
    )
    lag = results.summary(GRPO, "cov_lag")
    out.append(
        f"Covariance drives the entropy (Cui et al.: corr(Cov_t, H_t+1 − H_t) < 0), GRPO: {lag.fmt(2)}: "
        f"**{'yes' if lag.n >= 2 and lag.hi < 0 else 'not found'}**."
    )
    for arm in (a for a in FIXES if a in ran):  # the early design runs the algorithms only
        dh, dp = paired(results, arm, GRPO, "h_end"), paired(results, arm, GRPO, "test_pass1")
        dr = paired(results, arm, GRPO, "r_end")
        out.append(
            f"{arm} − GRPO, paired by seed: entropy at the end {dh.fmt(3)} (**{sign(dh)}**), R at the end "
            f"{dr.fmt(3)} (**{sign(dr)}**), test pass@1 {dp.fmt(3)} (**{sign(dp)}**)."
        )
    out.append(f"Verdict on the law (fitted on the first tenth, it predicts R at the end): **{claim}**.")
    return out


# ---------------------------------------------------------------------------------------------
# The plot: R against H, the first tenth's fit and its prediction
# ---------------------------------------------------------------------------------------------


def plot_law(results: Results, out: Path) -> list[tuple[str, str]]:
    """One PNG, a panel per algorithm and the planted control: R against H per update (every seed, the
    first tenth darker), each seed's first-tenth fit drawn over the H range of the run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(arm, False) for arm in ALGOS if any(r.arm == arm for r in results.runs)] + [(GRPO, True)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), sharey=True, squeeze=False)
    for ax, (arm, planted) in zip(axes[0], panels, strict=True):
        for i, run in enumerate(r for r in results.runs if r.arm == arm):
            H = np.array([math.nan if v is None else v for v in run.series["losses/entropy"]][1:], dtype=float)
            if planted:
                h = [{"global_step": 0}] + [
                    {"global_step": s, "losses/entropy": v} for s, v in zip(run.steps[1:], H, strict=True)
                ]
                R = planted_rewards(h, planted_law(results))
            else:
                R = np.array([math.nan if v is None else v for v in run.series["charts/reward"]][1:], dtype=float)
            color = COLORS[i % len(COLORS)]
            k = max(3, math.ceil(FIT_SHARE * len(H) - 1e-9))
            ax.scatter(H[k:], R[k:], s=6, color=color, alpha=0.25, lw=0)
            ax.scatter(H[:k], R[:k], s=14, color=color, alpha=0.9, lw=0, marker="D")
            a, b = em.fit_entropy_law(H[:k], R[:k])
            if not math.isnan(a) and np.isfinite(H).any():
                grid = np.linspace(np.nanmin(H), np.nanmax(H), 50)
                ax.plot(grid, em.law(a, b, grid), color=color, lw=1.2)
        ax.set_title(f"{arm}{' (planted law)' if planted else ''}", fontsize=10)
        ax.set_xlabel("entropy H (nat per token)", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("R: the rollout's accuracy", fontsize=10)
    axes[0][0].set_ylim(-0.02, 1.02)
    fig.suptitle(
        f"{results.experiment}: R against H per update; diamonds: the first tenth, lines: its fit R = −a·exp(H) + b"
        f" (one colour per seed)",
        fontsize=10,
    )
    fig.tight_layout()
    name = "law.png"
    fig.savefig(out / name, dpi=100)
    plt.close(fig)
    return [(name, "R against H, the first tenth's fit of R = −a·exp(H) + b and the rest")]


SETUP = f"""
Base per seed: `kingme lm pretrain addition --max-level 1 --steps 100 --warmup 20 --train-size 2000`
(one-digit sums without a scratchpad, responses of at most three tokens; greedy test pass@1 0.55-0.73
on the 11 test prompts, sampled accuracy about 0.5 on the train prompts), shared by the arms of a seed.
RL: {UPDATES} updates of P = 32 prompts × G = 8 samples, each rollout in 2 minibatches (two optimizer
steps: the second is off-policy, so the ratio clip, clip-higher and KL-Cov act), lr 3e-4 after a
10-update warm-up, no KL to the reference (β = 0 in every arm: the KL would be an entropy intervention
of its own). Arms: the algorithms GRPO, RLOO and PPO (their presets, β = 0), and on GRPO: Clip-Cov
(`--clip-cov {SHARE_COV}`, ω = (1, 5)), KL-Cov (`--kl-cov {SHARE_COV} --clip false`, β_cov = 1), an
entropy bonus (`--ent-coef {ENT_COEF}`), clip-higher (`--clip-high {CLIP_HIGH}`) and the policy
gradient on the highest-entropy fifth of the tokens only (`--entropy-tokens {FORKS}`, Wang et al.).
R is the rollout's accuracy (sampled at T = 1 on 256 responses to train prompts, every update); the
test split of one-digit sums holds 11 prompts, too few and too coarse for a validation curve, so
R stands in for Cui et al.'s validation score and test pass@1 (greedy, at the end) is reported
beside it. H is the entropy per response token over the update's steps.

Settings chosen before the full run, from probe runs of GRPO only (seed 1): the scratchpad base of
the RL target with P = 16 and 2 minibatches lost accuracy (R 0.22 → 0.05); one-digit bases of 60 and
100 steps at lr 5e-4, 1e-3 and 2e-3 with P = 16 stayed flat or lost accuracy as the entropy fell
(R 0.48 → 0.22 at lr 1e-3); the setting above was the first in which GRPO learned (R 0.59 → 0.90,
H 0.49 → 0.15 in 150 updates). It was chosen for that, before any fit; the law was then fitted on
that one probe run (whole run: a 0.64, b 1.64; the first tenth's fit predicted R at the end 0.086 too
low) to set the planted control's a₀, b₀ near GRPO's, and nothing was changed after. Clip-Cov's and KL-Cov's share
is {SHARE_COV}, not the paper's 2·10⁻⁴ and 2·10⁻³: a rollout here has about 600 tokens (300 per
optimizer step), so the paper's shares pick one token (the "at least one" rule); the bounds
ω = (1, 5) are the paper's, so Clip-Cov picks only the tokens that reach them (the share picked is
logged as `losses/clip_cov_tokens`). The entropy bonus 0.005 lies between the paper's 0.001 (no
effect) and 0.01 (entropy exploded). None of these was tuned on the outcome.

**Prediction** (Cui et al.). (1) In GRPO, RLOO and PPO the entropy falls and R rises, and the law fitted
on the first tenth of the updates predicts R at the end (the mean over the last tenth) within
±{TOLERANCE}. (2) a is the same for the three algorithms (within ±{A_BAND:.0%} of GRPO's). (3) The
covariance drives the entropy: its correlation with the next update's change of entropy is negative.
(4) Clip-Cov and KL-Cov end with more entropy than GRPO and at least its accuracy; the entropy bonus
and clip-higher end with more entropy; the highest-entropy fifth matches GRPO's accuracy (Wang et
al.: matched at 8B).

**Verdict rule.** Per arm, over 5 seeds, with the 95% t-intervals: the law has *nothing to predict*
unless the interval of R's move (the first tenth's mean minus the end's) lies outside ±{TOLERANCE};
it *predicted* the end if the interval of predicted − measured lies inside ±{TOLERANCE}, *not predicted*
if it lies wholly outside, else *inconclusive*. The positive control is the same rule on the law
planted on GRPO's entropy paths (a₀ = {PLANTED_A:g}, b₀ = {PLANTED_B:g}, binomial noise of 256
responses); if it is not *predicted*, the verdict is *inconclusive*. Otherwise the claim is
*reproduced* if the law predicted the end for all three algorithms, *not reproduced* if it did not
for any one, else *inconclusive*. a is *the same* when each difference from GRPO's (Welch interval,
whole-run fits) lies inside ±{A_BAND:.0%} of GRPO's a, *different* when one excludes 0, else
*inconclusive*. The fixes: each paired difference from GRPO (entropy at the end, R at the end, test
pass@1) is *higher* or *lower* when its interval excludes 0, else *no difference found*.
`kingme experiment run entropy-law` (5 seeds by default).
"""


EXPERIMENT = Experiment(
    name="entropy-law",
    title="Language model: the entropy law R = −a·exp(H) + b and the fixes for entropy collapse",
    claim="Without an entropy intervention the policy's entropy falls early and performance follows "
    "R = −a·exp(H) + b, so a fit on the start of training predicts the rest; a and b do not depend on the "
    "algorithm; the covariance of log-probability and advantage drives the entropy down, and acting on the "
    "few tokens of highest covariance (Clip-Cov, KL-Cov) keeps entropy and performance up.",
    question="Fitted on the first tenth of the updates, does R = −a·exp(H) + b predict the rollout's accuracy at "
    "the end, is a the same for GRPO, RLOO and PPO, and what do Clip-Cov, KL-Cov, an entropy bonus, clip-higher and "
    "training only the highest-entropy fifth of the tokens do to the entropy and the accuracy?",
    setup=SETUP,
    arms=arms,
    metrics=METRICS,
    curves=[
        Curve("losses/entropy", "entropy per response token (nat)", xlabel=RESPONSES, smooth=5),
        Curve("charts/reward", "R: the rollout's accuracy (sampled)", bounds=UNIT, smooth=5, xlabel=RESPONSES),
        Curve("charts/cov_logp_adv", "Cov(logp, Â) over the rollout's tokens", smooth=5, xlabel=RESPONSES),
    ],
    conclude=conclude,
    kind=LM,
    extra_plots=plot_law,
    published="Cui et al. 2025 (arXiv 2505.22617): on Qwen2.5 and other models, validation score followed "
    "R = −a·exp(H) + b (the ceiling at H = 0 is b − a); entropy fell 73% in the first 200 steps, which brought 76% "
    "of the final gain; a fit on the first 36 steps predicted the next 200 within about 1%; the coefficients "
    "depend on the model and data, not the algorithm; Clip-Cov and KL-Cov kept the entropy higher and raised the "
    "score. Wang et al. 2025 (arXiv 2506.01939): about 20% of CoT tokens have high entropy; updating only on them "
    "matched full updates on Qwen3-8B and beat them on larger models. DAPO (Yu et al. 2025): clip-higher "
    "(ε_high 0.28) against entropy collapse.",
    seeds=5,
)


# ---------------------------------------------------------------------------------------------
# The second design: a setting whose entropy falls early (`--design early`)
# ---------------------------------------------------------------------------------------------

# Chosen before its full run by probes of GRPO alone on seeds 11-13 (`kingme.experiments.entropy_law_probe`),
# judged only by the entropy curve and the planted control: EARLY_SETUP says which ran and why this one.
EARLY_NAME = "entropy-law-early"
EARLY_RL: dict[str, object] = {"warmup": 0, "lr": 1e-3, "minibatches": 4}
EARLY_SEEDS = 8
# the planted law of the early design: a₀ as the first's, b₀ so that the ceiling b₀ − a₀ is 1 (its entropy
# reaches 0.01-0.04, where b₀ = 1.75 would put the planted accuracy above 1 and the clip would break the law)
EARLY_PLANTED_A, EARLY_PLANTED_B = 0.7, 1.70


def early_arms(tiny: bool) -> list[Arm]:
    """GRPO, RLOO and PPO (the law's arms; the fixes stay with the first design) in the early setting."""
    return [arm for arm in arms(tiny, EARLY_RL) if arm.label in ALGOS]


EARLY_SETUP = f"""
The second design: the first design's base, task, measures and verdict rule, in a setting whose entropy
falls early, for the law's arms GRPO, RLOO and PPO only (the fixes stay with the first design: the run
must fit a third of one loaded core before 23:00 UTC). The first design's recipe with three changes:
no warm-up (it was 10 updates), lr 1e-3 (was 3e-4) and each rollout in 4 minibatches (4 optimizer
steps per update, was 2). Everything else is the first design's: the base per seed
(`kingme lm pretrain addition --max-level 1 --steps 100 --warmup 20 --train-size 2000`), {UPDATES} updates
of P = 32 prompts × G = 8 samples, β = 0, R the rollout's accuracy (256 responses at T = 1 on train
prompts, every update), H the entropy per response token, the fit on the first tenth (15 updates), the end
the mean of the last tenth. {EARLY_SEEDS} seeds (the first design had 5).

**How the setting was chosen** (before this run, by probes of GRPO alone on seeds 11-13, which the run
does not use; `python -m kingme.experiments.entropy_law_probe OUT.json NAME ...`): each probe kept only
the entropy path (the reward column was dropped before anything was kept or printed), and was judged
by the share of exp(H)'s fall that the first tenth holds and by the planted control (the first design's
law, a₀ = {PLANTED_A:g}, b₀ = {PLANTED_B:g}, on the probe's entropy paths): predicted − planted R at the end,
per seed. Probes (3 seeds each unless said): no warm-up at lr 3e-4: the first tenth held 15-31% of the
fall, control +0.064 [0.016, 0.112] (the fit's prediction too high); no warm-up at lr 1e-3: the entropy swung in
the first tenth (sd of exp(H) 0.09-0.26) but did not fall early, control −0.003 [−0.084, 0.078]; the same
with a cosine decay of the lr: control +0.005 [−0.081, 0.091]; a base of 50 pre-training steps (entropy
0.78-0.85 at the start) without warm-up at 3e-4: the first tenth held 5-29%, control −0.039 [−0.142,
0.064]; no warm-up at lr 1e-3 with 4 minibatches: the first tenth held 40-45% of the fall in every
seed (H 0.50-0.55 → 0.30-0.40 in 15 updates, 0.02-0.15 at the end), control −0.010 [−0.062, 0.041]
(per seed −0.016, −0.027, +0.013); no warm-up at lr 2e-3 (2 seeds, then stopped): the entropy spiked to
1.0 and 1.7 nat before collapsing to 0.00-0.02, past the planted law's domain, control −0.013 and −0.242.
The setting chosen is the one whose first tenth held the most of the fall in every seed and whose
control errors spread least (sd 0.02: with {EARLY_SEEDS} seeds the control's interval should be about
±0.02 wide). The entropy still does not collapse as in Cui et al. (there 73% of the
fall in the first 200 steps): here the first tenth holds about 40%, and the entropy is noisy from update
to update at this lr (one probe seed fell to 0.10 by update 6 and rose back to 0.41). The reward was
never looked at in the probes.

**The planted control** of this design is R = Binomial(256, −{EARLY_PLANTED_A:g}·exp(H) + {EARLY_PLANTED_B:g})/256
on GRPO's entropy paths: a₀ as in the first design, b₀ = {EARLY_PLANTED_B:g} (was {PLANTED_B:g}) so that its
ceiling b₀ − a₀ is 1: the entropy here ends at 0.01-0.15, where b₀ = {PLANTED_B:g} asks for an accuracy
above 1 and the clip to 1 would break the planted law (a bias of up to +0.05 of the control's own making).

**Prediction** (Cui et al.), written and committed before this run: (1) in GRPO, RLOO and PPO the
law fitted on the first tenth predicts R at the end within ±{TOLERANCE}; (2) a (whole-run fits) is the same
for the three algorithms, within ±{A_BAND:.0%} of GRPO's; (3) the covariance's correlation with the next
update's change of entropy is negative. **Verdict rule**: the first design's, unchanged, over
{EARLY_SEEDS} seeds with 95% t-intervals: *nothing to predict* unless the interval of R's move lies outside
±{TOLERANCE}; *predicted* when the interval of predicted − measured lies inside ±{TOLERANCE}, *not predicted*
when wholly outside, else *inconclusive*; if the planted control is not *predicted* the verdict is
*inconclusive*; else *reproduced* if all three are predicted, *not reproduced* if any one is not, else
*inconclusive*. a is *the same* when each Welch interval of the difference from GRPO's lies inside
±{A_BAND:.0%} of GRPO's a, *different* when one excludes 0, else *inconclusive*.
`python -m kingme.experiments.entropy_law --design early OUT` ({EARLY_SEEDS} seeds by default).
"""

EARLY = dataclasses.replace(
    EXPERIMENT,
    name=EARLY_NAME,
    title="Language model: the entropy law R = −a·exp(H) + b, second design (entropy falling early)",
    question="In a setting whose entropy falls earlier (no warm-up, lr 1e-3, 4 minibatches), fitted on the first "
    "tenth of the updates, does R = −a·exp(H) + b predict the rollout's accuracy at the end, and is a the same for "
    "GRPO, RLOO and PPO?",
    setup=EARLY_SETUP,
    arms=early_arms,
    metrics=make_metrics((EARLY_PLANTED_A, EARLY_PLANTED_B)),
    seeds=EARLY_SEEDS,
)
DESIGNS = {"first": EXPERIMENT, "early": EARLY}


def by_name(name: str) -> Experiment:
    """A design by its experiment's name (the lookup `--backend local`'s worker processes use)."""
    return {exp.name: exp for exp in DESIGNS.values()}[name]


def main(argv: list[str] | None = None) -> int:
    """`python -m kingme.experiments.entropy_law --design early [--seeds 8] [--backend local] OUT`: a design of
    entropy-law (`first` is the registered `kingme experiment run entropy-law`), the seeds side by side on the
    cores by default (`--backend serial`: one run at a time; the numbers are the same)."""
    import argparse

    from kingme.experiments.report import write_folder
    from kingme.experiments.runner import run_experiment

    p = argparse.ArgumentParser(prog="python -m kingme.experiments.entropy_law", description=main.__doc__)
    p.add_argument("out", help="The folder to write report.md and the plots into (created).")
    p.add_argument("--design", choices=list(DESIGNS), default="early", help="first or early (the default).")
    p.add_argument("--seeds", type=int, default=None, help="Seeds 1..K (default: the design's).")
    p.add_argument("--backend", choices=["serial", "local"], default="local", help="local (default) or serial.")
    p.add_argument("--tiny", action="store_true", help="Tiny settings (seconds; not evidence).")
    ns = p.parse_args(argv)
    exp = DESIGNS[ns.design]
    seeds = exp.seeds if ns.seeds is None else ns.seeds
    if seeds < 2:
        print("python -m kingme.experiments.entropy_law: error: --seeds >= 2", file=sys.stderr)
        return 2
    command = f"python -m kingme.experiments.entropy_law --design {ns.design} --seeds {seeds} OUT"
    # Spawned workers find the design through `by_name`: under `python -m` it is __main__'s, which a
    # spawned child re-runs as its own __main__ (multiprocessing's rule), so the lookup resolves there too.
    results = run_experiment(exp, seeds, ns.tiny, progress=False, backend=ns.backend, find=by_name)
    for line in write_folder(exp, results, Path(ns.out), command):
        sys.stdout.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
