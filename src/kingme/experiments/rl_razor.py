"""RL's Razor (Shenfeld, Pari and Agrawal 2025): at equal accuracy on a new task, does RL forget less of
the old tasks than supervised fine-tuning, and is forgetting predicted by the KL to the base measured
on the new task?

One base per seed is pre-trained on three tasks (`kingme.lm.three_tasks`): A (addition with its
scratchpad) and B (paths), which it learns, and C (two-number Countdown), of which it sees a small
share, so it starts with some skill at C. From that base, each arm fine-tunes on C's train split
only, and stops at the first evaluation (greedy pass@1 on 120 of C's 126 held-out prompts) that reaches
the target:
- GRPO: the RL loop (`kingme.lm.rl.train`) on C's prompts, rewarded by C's exact verifier, with no
  KL term (the claim is that on-policy RL stays close without one);
- SFT: `kingme.lm.sft` on C's own solutions (the task's generator's, i.e. ground truth, in the form
  the base saw in pre-training), same optimiser (Adam) and learning rate as GRPO;
- control: the same SFT on the same problems with every solution written in a form the base never
  saw but the verifier accepts (`off_form`: `((14*3))`), a target deliberately far from the base.

Measured before and after, per run: greedy pass@1 on 128 held-out prompts of A and of B (forgetting
= the base's minus the fine-tuned model's, averaged over A and B), C's pass@1 at the stop, and the
KL between the base π0 and the fine-tuned π on C's held-out prompts, estimated from samples at
T = 1: forward KL(π0 ‖ π) = E_{y~π0}[log π0(y) − log π(y)] (Shenfeld's measure; the samples of π0
are drawn once per seed and shared by the arms) and reverse KL(π ‖ π0) from π's samples.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kingme.common import UserError
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
from kingme.experiments.lm_runs import DEFAULTS, LMRunConfig, base_model, lm_arm, make_lm_config
from kingme.experiments.plots import COLORS
from kingme.experiments.summaries import last
from kingme.lm.evaluate import greedy_accuracy
from kingme.lm.rl import response_logprobs, train
from kingme.lm.sampling import encode_prompts, generate
from kingme.lm.sft import SFTConfig, sft
from kingme.lm.tasks import Problem, sample_problems, test_set
from kingme.lm.three_tasks import NAMES, ThreeTasks, off_form
from kingme.progress import Advance
from kingme.stats import Interval, mean_ci
from kingme.transformer import GPT

TASK = "kingme.lm.three_tasks:Three"
PROBLEMS, KL_SAMPLES = 120, 4  # held-out prompts of each task read; samples of each C prompt for the KL
TARGET = 0.6  # greedy pass@1 on C's held-out prompts at which every arm stops
LR = 5e-4  # Adam's learning rate, GRPO's and SFT's
BASE: dict[str, Any] = {
    "pretrain_steps": 800, "pretrain_n_embd": 64, "pretrain_train_size": 10_000,
    "pretrain_mix": (0.5, 2.0, 1.0, 1.0, 1.0),
}  # fmt: skip
RL: dict[str, Any] = {
    "algo": "grpo", "kl_coef": 0.0, "updates": 100, "prompts_per_update": 16, "group_size": 8, "lr": LR,
    "warmup": 0, "eval_every": 4, "eval_problems": PROBLEMS, "target_pass1": TARGET, "samples": 0,
}  # fmt: skip
SFT: dict[str, Any] = {"sft_steps": 500, "sft_batch_size": 32, "sft_eval_every": 4, "sft_train_size": 2000}
TINY_SFT: dict[str, Any] = {"sft_steps": 6, "sft_eval_every": 2, "sft_train_size": 64}
TINY_PROBLEMS, TINY_KL_SAMPLES = 8, 2
GRPO, SFT_ARM, CONTROL = "GRPO", "SFT on C's solutions", "control: SFT on an unseen form ((…))"
METHOD, FORM = "method", "form"  # an arm's own keys (with sft_*), beside the RL and pre-training settings
FINE_TUNED = (GRPO, SFT_ARM, CONTROL)


@dataclass
class RazorConfig:
    """One (arm, seed): the base and RL settings (`LMRunConfig`), or SFT's, and how it fine-tunes."""

    lm: LMRunConfig
    method: str = "rl"  # rl or sft
    form: str = "plain"  # SFT's targets: plain (C's own solutions) or off (`off_form`)
    sft: SFTConfig = field(default_factory=SFTConfig)
    sft_train_size: int = 2000  # C problems drawn once from the train split for SFT
    problems: int = PROBLEMS  # held-out prompts read of each task
    kl_samples: int = KL_SAMPLES  # samples of each C prompt for the KL estimates


def arms(tiny: bool) -> list[Arm]:
    reads = {"problems": TINY_PROBLEMS, "kl_samples": TINY_KL_SAMPLES} if tiny else {}
    sft_keys = SFT | {"sft_lr": LR} | (TINY_SFT if tiny else {})
    stop = {k: v for k, v in RL.items() if k in ("eval_problems", "target_pass1")}  # the SFT arms' stop, GRPO's
    out = [lm_arm(GRPO, TASK, tiny, BASE, **RL)]
    out[0].overrides |= {METHOD: "rl"} | reads
    for label, form in ((SFT_ARM, "plain"), (CONTROL, "off")):
        out.append(lm_arm(label, TASK, tiny, BASE, **stop))
        out[-1].overrides |= {METHOD: "sft", FORM: form} | sft_keys | reads
    return out


class RazorRuns:
    """RunKind: the seed's base (pre-trained once), fine-tuned on C by GRPO or SFT to the target, read."""

    name: str = "lm-razor"
    defaults: str = DEFAULTS + ", SFTConfig for sft_*"
    kept: tuple[str, ...] = ("time", "charts/test_pass1")

    def config(self, arm: Arm, seed: int) -> RazorConfig:
        own = {k: v for k, v in arm.overrides.items() if k in (METHOD, FORM, "problems", "kl_samples")}
        sft_keys = {k.removeprefix("sft_"): v for k, v in arm.overrides.items() if k.startswith("sft_")}
        rest = {k: v for k, v in arm.overrides.items() if k not in own and not k.startswith("sft_")}
        lm = make_lm_config(Arm(arm.label, arm.env, rest), seed)
        train_size = int(sft_keys.pop("train_size", 2000))
        try:
            cfg_sft = SFTConfig(seed=seed, target=lm.rl.target_pass1, **sft_keys)
        except TypeError as e:
            raise UserError(f"arm {arm.label!r}: {e}") from None
        cfg_sft.validate()
        cfg = RazorConfig(lm, sft=cfg_sft, sft_train_size=train_size, **own)
        if cfg.method not in ("rl", "sft") or cfg.form not in ("plain", "off"):
            raise UserError(f"arm {arm.label!r}: method must be rl or sft and form plain or off")
        return cfg

    def work(self, config: RazorConfig) -> int:
        return config.lm.rl.updates if config.method == "rl" else config.sft.steps // config.sft.eval_every

    def run(self, arm: Arm, config: RazorConfig, advance: Advance) -> RunOutput:
        return run_razor(config, advance)

    def saved(self, config: RazorConfig) -> dict[str, Any]:
        return config_to_dict(config.lm) | {
            "method": config.method,
            "form": config.form,
            "sft": dataclasses.asdict(config.sft),
            "sft_train_size": config.sft_train_size,
            "problems": config.problems,
            "kl_samples": config.kl_samples,
        }


RAZOR_RUNS = RazorRuns()


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def sequence_logprobs(model: GPT, prompts: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,) log π(y | x) of whole responses: the sum over each response's tokens (EOS included) of the
    log-probability at T = 1; prompts (B, W), tokens and mask (B, N)."""
    logp = response_logprobs(model, prompts, tokens)[0]  # (B, N)
    return (logp * mask).sum(dim=1)


def kl_estimate(logp_sampler: Sequence[float] | torch.Tensor, logp_other: Sequence[float] | torch.Tensor) -> float:
    """The sampled estimate of KL(p ‖ q) = E_{y~p}[log p(y) − log q(y)] from the log-probabilities of
    samples y of p under p and under q (the mean of the differences; unbiased, may be negative)."""
    a = torch.as_tensor(logp_sampler, dtype=torch.float64)
    b = torch.as_tensor(logp_other, dtype=torch.float64)
    return float((a - b).mean())


def sampled_kl(p: GPT, q: GPT, prompts: torch.Tensor, seed: int) -> float:
    """KL(p ‖ q) over responses to `prompts` (B, W): one sample of p per row at T = 1 (`kl_estimate`)."""
    torch.manual_seed(seed)
    gen = generate(p.eval(), prompts, ThreeTasks().response_width, 1.0)
    return kl_estimate(
        sequence_logprobs(p, prompts, gen.tokens, gen.mask), sequence_logprobs(q, prompts, gen.tokens, gen.mask)
    )


def old_and_new(model: GPT, seed: int, problems: int) -> dict[str, float]:
    """Greedy pass@1 on `problems` held-out prompts of each of A, B and C: {"A": ..., "B": ..., "C": ...}."""
    whole = ThreeTasks()
    out = {}
    for letter in "ABC":
        view = whole.view(letter)
        out[letter] = greedy_accuracy(model, view, test_set(view, seed, problems))["all"]
    return out


def kl_prompts(seed: int, problems: int, samples: int) -> torch.Tensor:
    """(problems' × samples, W) C's held-out prompts (the first `problems` of its test set), each `samples` times."""
    view = ThreeTasks().view("C")
    texts = [p.prompt for p in test_set(view, seed, problems) for _ in range(samples)]
    return encode_prompts(texts, view.prompt_width)


_BEFORE: dict[str, dict[str, float]] = {}  # the base's reads, by its config and the read's settings


def run_razor(cfg: RazorConfig, advance: Advance) -> RunOutput:
    """One (arm, seed) run: the base, read; fine-tuned on C to the target by GRPO or SFT; read again."""
    t0 = time.perf_counter()
    lm = cfg.lm
    model, whole, _ = base_model(lm.pretrain)
    if not isinstance(whole, ThreeTasks):
        raise UserError(f"rl-razor needs the three-task base ({TASK}), not {whole.name}")
    key = repr((config_to_dict(lm.pretrain), cfg.problems))
    if key not in _BEFORE:
        _BEFORE[key] = old_and_new(model, lm.seed, cfg.problems)
    before = _BEFORE[key]
    new = whole.view("C")
    history: History = [{"update": 0, "global_step": 0, "time": 0.0, "charts/test_pass1": before["C"]}]
    if cfg.method == "rl":
        P, G = lm.rl.prompts_per_update, lm.rl.group_size

        def log(row: dict[str, Any]) -> None:
            history.append({**row, "global_step": int(row["update"]) * P * G})
            advance(1)

        policy, summary = train(lm.rl, log=log, base=(model, new))
        stopped = float(summary["updates_done"] * P * G)
        reached = float("target_reached" in summary)
    else:
        rng = np.random.default_rng(lm.seed + 40_000)
        problems: list[Problem] = sample_problems(new, rng, cfg.sft_train_size, "train")
        if cfg.form == "off":
            problems = [dataclasses.replace(p, solution=off_form(p.solution)) for p in problems]
        test = test_set(new, lm.rl.seed, lm.rl.eval_problems)

        def score(m: GPT) -> float:
            return greedy_accuracy(m, new, test)["all"]

        def log_sft(row: dict[str, Any]) -> None:
            step = int(row["step"])
            history.append({"update": step, "global_step": step * cfg.sft.batch_size, "time": row["time"],
                            "losses/sft_loss": row["losses/sft_loss"], "charts/test_pass1": row["score"]})  # fmt: skip
            advance(1)

        policy, summary = sft(model, new, problems, cfg.sft, score, log_sft)
        stopped = float(summary["steps"] * cfg.sft.batch_size)
        reached = float(summary["reached"])
    after = old_and_new(policy, lm.seed, cfg.problems)
    prompts = kl_prompts(lm.seed, cfg.problems, cfg.kl_samples)
    forward = sampled_kl(model, policy, prompts, lm.seed + 50_000)  # π0's samples: the same for every arm
    reverse = sampled_kl(policy, model, prompts, lm.seed + 60_000)
    history[-1] |= {f"eval/base_{k}": v for k, v in before.items()} | {f"eval/{k}": v for k, v in after.items()}
    history[-1] |= {"eval/kl_forward": forward, "eval/kl_reverse": reverse, "eval/reached": reached,
                    "eval/examples": stopped}  # fmt: skip
    return RunOutput(history, time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------
# Metrics, the verdict, the plot
# ---------------------------------------------------------------------------------------------


def forgetting(h: History) -> float:
    """The mean over A and B of the base's greedy pass@1 minus the fine-tuned model's."""
    drops = [last(f"eval/base_{t}")(h) - last(f"eval/{t}")(h) for t in "AB"]
    return float(np.mean(drops))


def _drop(letter: str) -> Any:
    return lambda h: last(f"eval/base_{letter}")(h) - last(f"eval/{letter}")(h)


def _metrics() -> list[Metric]:
    out = [
        Metric("forgetting", "forgetting (A and B pass@1 lost, mean)", forgetting, bounds=UNIT_DIFFERENCE),
        Metric("kl_forward", "KL(π0 ‖ π) on C, nats", last("eval/kl_forward"), bounds=NONNEGATIVE),
        Metric("kl_reverse", "KL(π ‖ π0) on C, nats", last("eval/kl_reverse"), bounds=NONNEGATIVE),
        Metric("new_pass1", "C pass@1 at the stop", last("eval/C"), bounds=UNIT),
        Metric("base_new_pass1", "C pass@1 of the base", last("eval/base_C"), bounds=UNIT),
        Metric("reached", "reached the target", last("eval/reached"), share=True),
        Metric(
            "examples",
            "examples to the stop (responses / SFT examples)",
            last("eval/examples"),
            digits=0,
            bounds=NONNEGATIVE,
        ),
    ]
    for letter in "AB":
        name = NAMES[letter]
        out.append(Metric(f"base_{letter}", f"{name} pass@1, base", last(f"eval/base_{letter}"), bounds=UNIT))
        out.append(Metric(f"drop_{letter}", f"{name} pass@1 lost", _drop(letter), bounds=UNIT_DIFFERENCE))
    return out


def paired(results: Results, a: str, b: str, key: str, both_reached: bool = True) -> Interval:
    """Per seed, arm a's metric minus arm b's (arms of a seed share its base), over the seeds where
    both reached the target when `both_reached`, with a 95% t-interval."""

    def by_seed(arm: str) -> dict[int, tuple[float, float]]:
        return {r.seed: (r.metrics.get(key, math.nan), r.metrics.get("reached", 0.0)) for r in results.runs
                if r.arm == arm}  # fmt: skip

    va, vb = by_seed(a), by_seed(b)
    seeds = [s for s in sorted(va) if s in vb and (not both_reached or (va[s][1] == 1.0 and vb[s][1] == 1.0))]
    return mean_ci([va[s][0] - vb[s][0] for s in seeds])


def pearson(x: Sequence[float], y: Sequence[float]) -> Interval:
    """Pearson's r of the finite pairs, with the 95% interval of Fisher's z (r ± 1.96/√(n − 3) in
    z = atanh r; n < 4 or a constant series: NaN bounds)."""
    pts = [(float(a), float(b)) for a, b in zip(x, y, strict=True) if math.isfinite(a) and math.isfinite(b)]
    n = len(pts)
    if n < 2:
        return Interval(math.nan, math.nan, math.nan, n)
    xs, ys = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    sx, sy = xs.std(), ys.std()
    if sx == 0 or sy == 0:
        return Interval(math.nan, math.nan, math.nan, n)
    r = float(np.mean((xs - xs.mean()) * (ys - ys.mean())) / (sx * sy))
    r = max(-1.0, min(1.0, r))
    if n < 4 or abs(r) == 1.0:
        return Interval(r, math.nan, math.nan, n)
    z, half = math.atanh(r), 1.959964 / math.sqrt(n - 3)
    return Interval(r, math.tanh(z - half), math.tanh(z + half), n)


def kl_forgetting_r(results: Results, key: str = "kl_forward", arms: Sequence[str] = FINE_TUNED) -> Interval:
    """Pearson's r of forgetting against the KL over every run of `arms` (all fine-tuned arms by default)."""
    runs = [r for r in results.runs if r.arm in arms]
    return pearson([r.metrics.get(key, math.nan) for r in runs], [r.metrics.get("forgetting", math.nan) for r in runs])


def verdict(results: Results) -> tuple[str, list[str]]:
    """The rule of the setup text."""
    control = results.summary(CONTROL, "forgetting")
    d = paired(results, SFT_ARM, GRPO, "forgetting")
    why = [
        f"positive control: the unseen-form SFT forgot {control.fmt(3)} (the rule needs a lower bound ≥ 0.05)",
        f"forgetting, SFT − GRPO (paired, {d.n} seeds where both reached {TARGET}): {d.fmt(3)}",
    ]
    if not (control.n >= 2 and control.lo >= 0.05) or d.n < 3:
        return "inconclusive", why
    if d.lo > 0:
        return "reproduced", why
    if d.hi < 0.05:
        return "not reproduced", why
    return "inconclusive", why


def kl_verdict(results: Results) -> tuple[str, list[str]]:
    """The second rule of the setup text: does the forward KL predict forgetting across the runs?"""
    r = kl_forgetting_r(results)
    dk = paired(results, SFT_ARM, GRPO, "kl_forward")
    why = [f"Pearson r of forgetting on KL(π0 ‖ π), all fine-tuned runs: {r.fmt(2)} (n = {r.n})",
           f"KL(π0 ‖ π), SFT − GRPO (paired): {dk.fmt(3)} nats"]  # fmt: skip
    if r.n < 4 or math.isnan(r.lo):
        return "inconclusive", why
    if r.lo > 0:
        return "reproduced", why
    return ("not reproduced" if r.hi < 0.3 else "inconclusive"), why


def conclude(results: Results) -> list[str]:
    out = []
    for arm in FINE_TUNED:
        cells = [
            f"C {results.summary(arm, 'base_new_pass1').fmt(3)} → {results.summary(arm, 'new_pass1').fmt(3)} "
            f"(reached {results.summary(arm, 'reached').fmt(2)})",
            f"forgetting {results.summary(arm, 'forgetting').fmt(3)} (A {results.summary(arm, 'drop_A').fmt(3)}, "
            f"B {results.summary(arm, 'drop_B').fmt(3)})",
            f"KL(π0 ‖ π) {results.summary(arm, 'kl_forward').fmt(3)}",
            f"KL(π ‖ π0) {results.summary(arm, 'kl_reverse').fmt(3)}",
        ]
        out.append(f"{arm}: " + "; ".join(cells) + ".")
    rev = kl_forgetting_r(results, "kl_reverse")
    bare = kl_forgetting_r(results, arms=(GRPO, SFT_ARM))
    out.append(f"Pearson r of forgetting on the reverse KL(π ‖ π0): {rev.fmt(2)} (n = {rev.n}); on KL(π0 ‖ π) "
               f"without the control: {bare.fmt(2)} (n = {bare.n}).")  # fmt: skip
    result, why = verdict(results)
    out.append(f"Verdict (RL forgets less): **{result}** ({'; '.join(why)}).")
    result, why = kl_verdict(results)
    out.append(f"Verdict (the KL on the new task predicts forgetting): **{result}** ({'; '.join(why)}).")
    return out


def plot_kl_forgetting(results: Results, out: Path) -> list[tuple[str, str]]:
    """One PNG: each fine-tuned run's forgetting against its KL(π0 ‖ π) on C, by arm, with each arm's
    mean and 95% intervals on both axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.0, 4.8))
    for i, arm in enumerate(FINE_TUNED):
        runs = [r for r in results.runs if r.arm == arm]
        color = COLORS[i % len(COLORS)]
        xs = [r.metrics.get("kl_forward", math.nan) for r in runs]
        ys = [r.metrics.get("forgetting", math.nan) for r in runs]
        ax.scatter(xs, ys, color=color, s=22, alpha=0.6, lw=0)
        kx, ky = results.summary(arm, "kl_forward"), results.summary(arm, "forgetting")
        xerr = [[kx.mean - kx.lo], [kx.hi - kx.mean]] if not math.isnan(kx.lo) else None
        yerr = [[ky.mean - ky.lo], [ky.hi - ky.mean]] if not math.isnan(ky.lo) else None
        ax.errorbar([kx.mean], [ky.mean], xerr=xerr, yerr=yerr, fmt="o", color=color, capsize=4, ms=8, label=arm)
    ax.axhline(0.0, color="0.6", lw=0.8, ls="--")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlim(left=0.0)  # a KL is never negative (a sampled estimate's interval may reach below 0)
    ax.set_xlabel("KL(π0 ‖ π) on the new task's held-out prompts (nats, sampled; symlog)", fontsize=11)
    ax.set_ylabel("forgetting: old tasks' pass@1 lost", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper left")
    r = kl_forgetting_r(results)
    ax.set_title(
        f"{results.experiment}: forgetting against the KL to the base, each run stopped at C pass@1 ≥ {TARGET}\n"
        f"(dots: runs; bars: mean and 95% interval over {results.seeds} seeds; Pearson r {r.fmt(2)})"
    )
    fig.tight_layout()
    name = "kl_forgetting.png"
    fig.savefig(out / name, dpi=100)
    plt.close(fig)
    return [(name, "forgetting against the KL to the base on the new task, every run")]


EXPERIMENT = Experiment(
    name="rl-razor",
    title="RL's Razor: does RL forget less than SFT, and does the KL on the new task predict forgetting?",
    claim="At equal accuracy on a new task, on-policy RL forgets less of earlier tasks than supervised fine-tuning, "
    "and forgetting is predicted by the KL between the base and the fine-tuned model measured on the new task "
    "(Shenfeld, Pari and Agrawal 2025).",
    question="A base that knows addition and paths learns two-number Countdown to the same greedy pass@1, by GRPO "
    "or by SFT on the task's solutions: which loses more of addition and paths, and does KL(π0 ‖ π) on Countdown's "
    "prompts order the runs by forgetting?",
    setup=f"""
**Published finding.** Shenfeld, Pari and Agrawal (2025, arXiv 2509.04259): fine-tuning
Qwen 2.5 3B-Instruct on new tasks (math, science questions, tool use) to matched new-task accuracy,
RL (GRPO) kept the earlier benchmarks' scores where SFT lowered them (Pareto frontiers over
hyper-parameter sweeps; the gap is read from figures, not stated as one number), and forgetting
followed the forward KL E_x KL(π0 ‖ π) measured on the new task across methods and settings, where
weight change, sparsity and gradient rank did not; on-policy sampling, not the reward or a KL
penalty, made the difference.

**Our setting.** One base per seed, pre-trained from scratch (`kingme.lm.three_tasks:Three`, 2
layers, width 64, {BASE["pretrain_steps"]} steps, 10,000 problems, level mix 0.5 : 2 : 1 : 1 : 1, so C is about
a fifth of the data): A = addition of 1-2 digits with the scratchpad, B = paths of 1-2 edges (the
old tasks), C = two-number Countdown with numbers up to 30 (the new task, on which the base starts
part-way). Each arm fine-tunes on C only and stops at the first evaluation (every 4 updates or SFT
steps) whose greedy pass@1 on 120 of C's 126 held-out prompts reaches {TARGET} (at most {RL["updates"]} GRPO updates of
{RL["prompts_per_update"]} prompts × {RL["group_size"]} samples, or {SFT["sft_steps"]} SFT steps of
{SFT["sft_batch_size"]} examples): **GRPO** (no KL term, on-policy, exact verifier), **SFT** on C's
ground-truth solutions (the generator's, the form the base saw; 2,000 train problems), both Adam at
{LR}. **Positive control**: the same SFT with every target in an
unseen form (`((14*3))`): far from the base by construction, it must show forgetting. Read: greedy
pass@1 on {PROBLEMS} held-out prompts of A and of B (forgetting = the mean drop), and the KL on C's
held-out prompts from {KL_SAMPLES} samples per prompt (forward from the base's samples, reverse from
the fine-tuned model's). Matched accuracy is by stopping, not interpolation; the accuracy reached
is reported.

**Prediction.** GRPO reaches the target with a smaller forward KL than SFT and forgets less; the
control has the largest KL and forgets most; forgetting rises with the KL across runs.

**Verdict rule** (RL forgets less). *Inconclusive* if the control's forgetting has a lower bound
below 0.05 (the measurement cannot see a 5-point loss, below the published gaps), or if fewer than
3 seeds have both GRPO and SFT reaching the target. Otherwise, with D = forgetting(SFT) −
forgetting(GRPO), paired by seed over the seeds where both reached it: *reproduced* when D's
95% interval lies above 0, *not reproduced* when its upper bound is below 0.05, else
*inconclusive*. **Second rule** (the KL predicts forgetting): Pearson's r of forgetting on
KL(π0 ‖ π) over every fine-tuned run (3 arms × seeds), Fisher interval: *reproduced* when it lies
above 0, *not reproduced* when its upper bound is below 0.3, else *inconclusive*. (The control
widens the KL range on purpose; r is also reported without it in the docs.) Disclosed: this text was first
written with a target of 0.8; one pilot seed (seed 1, caps of 80 updates and 400 steps) reached
neither (GRPO C pass@1 0.41 → 0.68, forgetting 0.39, forward KL 6.3; SFT → 0.65, forgetting 0.80,
KL 2.5), so the target was lowered to 0.6 and the caps raised before the full run; nothing else
was changed after it.
""",
    arms=arms,
    metrics=_metrics(),
    curves=[
        Curve(
            "charts/test_pass1",
            "new task (C) pass@1, greedy",
            bounds=UNIT,
            xlabel="responses sampled (GRPO) / examples (SFT)",
        )
    ],  # fmt: skip
    conclude=conclude,
    kind=RAZOR_RUNS,
    extra_plots=plot_kl_forgetting,
    published="Shenfeld, Pari and Agrawal 2025 (RL's Razor, arXiv 2509.04259).",
    seeds=5,
)
