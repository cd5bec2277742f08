"""Where the KL term goes (Liu et al. 2025; Zhang et al. 2025, RPG): k1, k2 and k3, in the reward and
as a loss, against the exact KL over whole responses (`kingme.lm.exact_kl`).

Single-digit addition (`a+b=`, responses of at most 3 tokens with EOS) makes every response of every
prompt enumerable: about 138,000 per prompt over the 52-token vocabulary, 2,653 prefixes. Two kinds
of arm share one base per seed:

- RL arms: the loop (`kingme.lm.rl.train`, RLOO's preset with the clip on) at one β, with the KL as k1
  in the reward or as k3 in the loss (the loop's two placements), 1 epoch or 4; at the end, the exact
  KL(π ‖ π_ref) on 32 train prompts;
- estimator arms: at the policy of the β = 0 arm (RL moved it away from the reference), the exact
  gradient of the KL on 16 prompts, each estimator's exact expected gradient (B → ∞), the cosine
  of its sampled gradient with the exact one at batches of 32, 256 (the loop's 32 × 8) and 1,024
  responses, and off-policy: on one rollout of 1,024, the cosine at the 1st and 4th epoch while the
  loop's loss moves θ away from θ_old. A planted arm (the positive control) adds to k1-in-the-reward's
  sampled gradient a fixed vector orthogonal to the exact gradient, sized so that its expectation
  makes a cosine of 0.95 with it.

The gradient study is computed once per seed (the first estimator arm of that seed) and read by the
others; the β = 0 arm's policy is kept for it in this process.
"""

from __future__ import annotations

import copy
import dataclasses
import json
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
from kingme.experiments.base import NONNEGATIVE, UNIT, Arm, Experiment, History, Metric, Results, RunOutput
from kingme.experiments.lm_runs import (
    DEFAULTS,
    TEST_PASS1,
    TINY_PRETRAIN,
    TINY_RL,
    LMRunConfig,
    base_model,
    make_lm_config,
)
from kingme.experiments.plots import COLORS
from kingme.experiments.summaries import final_mean, last
from kingme.lm import exact_kl as ek
from kingme.lm.algos import clipped_surrogate, kl_penalised_scores, rloo_advantages
from kingme.lm.algos import token_weights as loop_token_weights
from kingme.lm.rl import response_logprobs, train
from kingme.lm.sampling import decode_responses, encode_prompts, generate
from kingme.lm.tasks import Task, sample_problems
from kingme.lm.vocab import decode
from kingme.progress import Advance
from kingme.stats import summarise
from kingme.transformer import GPT

BETA = 0.5
TASK = "addition"
BASE: dict[str, Any] = {
    "pretrain_max_level": 1, "pretrain_steps": 80, "pretrain_warmup": 20, "pretrain_train_size": 2000,
    "pretrain_eval_problems": 11, "pretrain_n_embd": 64,
}  # fmt: skip
RL: dict[str, Any] = {
    "algo": "rloo", "clip": True, "updates": 40, "lr": 1e-3, "warmup": 5, "eval_every": 40, "eval_problems": 11,
    "measure_kl": True,
}  # fmt: skip
ROLE, ESTIMATOR = "role", "estimator"  # an arm's own keys, beside the loop's settings
PLANTED, K2_IS = "planted", "k2_loss_seq_is"
OFF_POLICY = ("k1_reward", "k3_loss", "k2_loss_seq", "k3_loss_seq", K2_IS)  # measured over the epochs
LABELS = {e.name: e.label for e in ek.ESTIMATORS} | {
    K2_IS: "k2 of the response as a loss, importance-weighted",
    PLANTED: "planted: k1 in the reward + a bias of cos 0.95",
}
NO_KL, K1R, K3L = "RL, β = 0", "RL, k1 in the reward", "RL, k3 as a loss"
K1R4, K3L4 = "RL, k1 in the reward, 4 epochs", "RL, k3 as a loss, 4 epochs"


@dataclass
class StudyConfig:
    """The gradient study's sizes (module docstring)."""

    prompts: int = 16  # prompts of the gradient study (M)
    kl_prompts: int = 32  # prompts the exact KL at the end of an RL arm is averaged over
    groups: tuple[int, ...] = (2, 16, 64)  # samples per prompt G: batches of M·G responses
    repeats: int = 4  # batches per G, their cosines averaged
    off_groups: int = 64  # the off-policy rollout's G
    off_epochs: int = 4  # epochs over it (the cosine is measured at the start of each)
    off_lr: float = 1e-3  # Adam's learning rate for the off-policy steps (the RL arms' lr)
    planted_cos: float = 0.95  # the positive control's cosine with the exact gradient, in expectation


TINY_STUDY = StudyConfig(prompts=2, kl_prompts=2, groups=(2, 4), repeats=1, off_groups=4, off_epochs=2)


@dataclass
class KLRunConfig:
    lm: LMRunConfig
    role: str = "rl"  # "rl" or "estimator"
    estimator: str = ""
    study: StudyConfig = field(default_factory=StudyConfig)


class KLRuns:
    """RunKind: an RL arm (the loop, then the exact KL) or an estimator arm (the gradient study)."""

    name: str = "kl-placement"
    defaults: str = DEFAULTS
    kept: tuple[str, ...] = ("time",)

    def config(self, arm: Arm, seed: int) -> KLRunConfig:
        own = {k: arm.overrides[k] for k in (ROLE, ESTIMATOR, "tiny") if k in arm.overrides}
        rest = {k: v for k, v in arm.overrides.items() if k not in own}
        role = own.get(ROLE, "rl")
        if role not in ("rl", "estimator"):
            raise UserError(f"arm {arm.label!r}: role must be rl or estimator, got {role!r}")
        est = str(own.get(ESTIMATOR, ""))
        if role == "estimator" and est not in (*ek.BY_NAME, K2_IS, PLANTED):
            raise UserError(f"arm {arm.label!r}: unknown estimator {est!r}")
        study = TINY_STUDY if own.get("tiny") else StudyConfig()
        return KLRunConfig(make_lm_config(Arm(arm.label, arm.env, rest), seed), role, est, study)

    def work(self, config: KLRunConfig) -> int:
        return config.lm.rl.updates if config.role == "rl" else 1

    def run(self, arm: Arm, config: KLRunConfig, advance: Advance) -> RunOutput:
        return run_kl(config, advance)

    def saved(self, config: KLRunConfig) -> dict[str, Any]:
        return config_to_dict(config)


KIND = KLRuns()

_POLICIES: dict[str, GPT] = {}  # this process's RL policies, by their base and RL settings
_STUDIES: dict[str, dict[str, dict[str, float]]] = {}  # the gradient study of each seed's β = 0 policy


def _key(*parts: Any) -> str:
    return json.dumps([config_to_dict(p) if dataclasses.is_dataclass(p) else p for p in parts], sort_keys=True)


def study_prompts(task: Task, seed: int, n: int) -> torch.Tensor:
    """n distinct train prompts, fixed by the seed: (n, prompt_width)."""
    problems = sample_problems(task, np.random.default_rng(seed + 30_000), n, "train", distinct=True)
    return encode_prompts([p.prompt for p in problems], task.prompt_width)


def trained(cfg: KLRunConfig, log: Any = None) -> tuple[GPT, GPT, Task, dict[str, Any]]:
    """(policy after RL, the base = the reference, task, summary); a policy trained before in this
    process for the same settings is reused (then `log` sees no rows and the summary is empty)."""
    base, task, _ = base_model(cfg.lm.pretrain)
    key = _key(cfg.lm.pretrain, cfg.lm.rl)
    summary: dict[str, Any] = {}
    if key not in _POLICIES or log is not None:
        _POLICIES[key], summary = train(cfg.lm.rl, log=log, base=(base, task))
    return _POLICIES[key], base, task, summary


def run_kl(cfg: KLRunConfig, advance: Advance) -> RunOutput:
    t0 = time.perf_counter()
    history: History = []
    P, G = cfg.lm.rl.prompts_per_update, cfg.lm.rl.group_size
    if cfg.role == "rl":

        def log(row: dict[str, Any]) -> None:
            history.append({**row, "global_step": int(row["update"]) * P * G})
            advance(1)

        policy, base, task, _ = trained(cfg, log)
        prompts = study_prompts(task, cfg.lm.seed, cfg.study.kl_prompts)
        kl = ek.exact_kl_of(policy, base, prompts, task.response_width, cfg.lm.rl.temperature)
        history[-1] |= {"eval/exact_kl": float(kl.mean())}
        return RunOutput(history, time.perf_counter() - t0)
    key = _key(cfg.lm.pretrain, cfg.lm.rl, cfg.study, cfg.lm.seed)
    if key not in _STUDIES:
        policy, base, task, _ = trained(cfg)
        _STUDIES[key] = gradient_study(policy, base, task, cfg)
    row = {f"eval/{k}": v for k, v in _STUDIES[key][cfg.estimator].items()}
    advance(1)
    return RunOutput([{"update": 0, "global_step": 0, "time": 0.0, **row}], time.perf_counter() - t0)


def orthogonal_unit(g: torch.Tensor, seed: int) -> torch.Tensor:
    """A random unit vector orthogonal to g (seeded)."""
    u = torch.randn(g.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    gd = g.double()
    u = u - (u @ gd) / (gd @ gd) * gd
    return (u / u.norm()).float()


def gradient_study(policy: GPT, base: GPT, task: Task, cfg: KLRunConfig) -> dict[str, dict[str, float]]:
    """Every estimator's cosines with the exact gradient of the KL at `policy` (module docstring):
    {estimator: {"cos_exact", "cos_b0", "cos_b1", ..., "off_1", "off_K", "off_change"}}."""
    st, T, n, seed = cfg.study, cfg.lm.rl.temperature, task.response_width, cfg.lm.seed
    torch.manual_seed(seed + 40_000)
    policy = copy.deepcopy(policy).eval()
    params = [p for p in policy.parameters() if p.requires_grad]
    prompts = study_prompts(task, seed, st.prompts)
    M = len(prompts)
    names = [e.name for e in ek.ESTIMATORS]
    kls, g, expected = ek.kl_and_gradient(policy, base, prompts, n, T, chunk=1, estimators=names)
    out: dict[str, dict[str, float]] = {name: {} for name in [*names, K2_IS, PLANTED]}
    for name in names:
        ratio = float(expected[name].norm() / g.norm())  # |E ĝ| / |∇KL|
        # an expectation that is 0 to float precision (k1 as a loss) has cosine 0, not that of its rounding
        out[name]["cos_exact"] = ek.cosine(expected[name], g) if ratio > 1e-5 else 0.0
        out[name]["mean_norm"] = ratio
    out[K2_IS] |= out["k2_loss_seq"]  # on-policy the importance weight is 1
    mu = expected["k1_reward"] / M  # the expectation of the sampled k1-in-the-reward gradient (1/B per response)
    plant = orthogonal_unit(g, seed) * float(mu.norm()) * math.tan(math.acos(st.planted_cos))
    out[PLANTED] |= {"cos_exact": ek.cosine(mu + plant, g), "mean_norm": float((mu + plant).norm() * M / g.norm())}
    for i, G in enumerate(st.groups):
        sums: dict[str, float] = {}
        for _ in range(st.repeats):
            cos, k1_grad = _sampled_cosines(policy, base, prompts, G, n, T, g, params)
            cos[K2_IS] = cos["k2_loss_seq"]
            cos[PLANTED] = ek.cosine(k1_grad + plant, g)  # the positive control: k1 in the reward's + the bias
            sums = {k: sums.get(k, 0.0) + v for k, v in cos.items()}
        for k, v in sums.items():
            out[k][f"cos_b{i}"] = v / st.repeats
    out.update(_off_policy(policy, base, task, prompts, cfg, out))
    return out


def _sampled_cosines(
    policy: GPT,
    base: GPT,
    prompts: torch.Tensor,
    G: int,
    n: int,
    T: float,
    g: torch.Tensor,
    params: Sequence[torch.Tensor],
) -> tuple[dict[str, float], torch.Tensor]:
    """One batch of M·G responses from `policy` (on-policy): each estimator's sampled gradient's cosine with
    g, and k1 in the reward's sampled gradient (for the planted control)."""
    rep = prompts.repeat_interleave(G, dim=0)  # (M·G, W) the G samples of a prompt adjacent
    gen = generate(policy, rep, n, T)
    logp = response_logprobs(policy, rep, gen.tokens, T)[0]  # (B, N)
    with torch.no_grad():
        ref = response_logprobs(base, rep, gen.tokens, T)[0]
    losses = ek.sampled_losses(logp, logp.detach(), ref, gen.mask, G)
    out, k1 = {}, torch.zeros_like(g)
    keys = list(losses)
    for j, k in enumerate(keys):
        grad = ek.flat_grad(losses[k], params, retain=j < len(keys) - 1)
        if k == "k1_reward":
            k1 = grad
        out[k] = ek.cosine(grad, g)
    return out, k1


def _off_policy(
    policy: GPT, base: GPT, task: Task, prompts: torch.Tensor, cfg: KLRunConfig, out: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """One rollout of M·G' from θ_old = `policy`; K epochs of the loop's k1-in-the-reward loss (RLOO, the
    task's reward, β, the clip, Adam) move θ; at the start of each epoch, the cosine of each estimator in
    OFF_POLICY on that stale rollout with the exact gradient of the KL at θ."""
    st, T, n = cfg.study, cfg.lm.rl.temperature, task.response_width
    G = st.off_groups
    theta = copy.deepcopy(policy).eval()
    params = [p for p in theta.parameters() if p.requires_grad]
    rep = prompts.repeat_interleave(G, dim=0)  # (B, W)
    gen = generate(policy, rep, n, T)
    texts = decode_responses(gen)
    rewards = torch.tensor([float(task.verify(decode(p), r)) for p, r in zip(rep, texts, strict=True)])  # (B,)
    with torch.no_grad():
        logp_old = response_logprobs(policy, rep, gen.tokens, T)[0]
        ref = response_logprobs(base, rep, gen.tokens, T)[0]
    beta = float(cfg.lm.rl.kl_coef or 0.0) or BETA
    opt = torch.optim.Adam(params, lr=st.off_lr)
    w = loop_token_weights(gen.mask, "sum")
    res: dict[str, dict[str, float]] = {k: dict(out[k]) for k in OFF_POLICY}
    for epoch in range(1, st.off_epochs + 1):
        _, g, _ = ek.kl_and_gradient(theta, base, prompts, n, T, chunk=1)
        logp = response_logprobs(theta, rep, gen.tokens, T)[0]
        losses = ek.sampled_losses(logp, logp_old, ref, gen.mask, G, [k for k in OFF_POLICY if k != K2_IS])
        losses[K2_IS] = ek.sampled_losses(logp, logp_old, ref, gen.mask, G, ["k2_loss_seq"], importance=True)[
            "k2_loss_seq"
        ]
        for k, loss in losses.items():
            cos = ek.cosine(ek.flat_grad(loss, params, retain=True), g)
            if epoch == 1:
                res[k]["off_1"] = cos
            if epoch == st.off_epochs:
                res[k]["off_K"] = cos
                res[k]["off_change"] = cos - res[k]["off_1"]
        # the step: the loop's loss with the KL as k1 in the reward
        scores = kl_penalised_scores(rewards, logp_old, ref, gen.mask, beta)  # (B,)
        adv = rloo_advantages(scores.view(len(prompts), G)).reshape(-1, 1) * gen.mask  # (B, N)
        loss = clipped_surrogate(torch.exp(logp - logp_old), adv, w, 0.2, 0.2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    return res


# ---------------------------------------------------------------------------------------------
# The experiment
# ---------------------------------------------------------------------------------------------


def arm(label: str, tiny: bool, **overrides: Any) -> Arm:
    settings = {**BASE, **RL, **overrides}
    if tiny:
        settings |= TINY_PRETRAIN | TINY_RL | {"pretrain_eval_problems": 11, "eval_problems": 11, "tiny": True}
    return Arm(label, f"lm:{TASK}", settings)


def arms(tiny: bool) -> list[Arm]:
    rl = [
        arm(NO_KL, tiny, kl_coef=0.0),
        arm(K1R, tiny, kl_coef=BETA, kl_in_reward=True),
        arm(K3L, tiny, kl_coef=BETA, kl_in_reward=False),
        arm(K1R4, tiny, kl_coef=BETA, kl_in_reward=True, epochs=4),
        arm(K3L4, tiny, kl_coef=BETA, kl_in_reward=False, epochs=4),
    ]
    names = [*(e.name for e in ek.ESTIMATORS), K2_IS, PLANTED]
    return rl + [arm(LABELS[e], tiny, kl_coef=0.0, role="estimator", estimator=e) for e in names]


B_LABELS = [16 * g for g in StudyConfig().groups]  # the batch sizes at the defaults (M = 16)
METRICS = [
    Metric("exact_kl", "exact KL at the end (nats)", last("eval/exact_kl"), 3, NONNEGATIVE),
    Metric("reward", "sampled reward (last 10%)", final_mean("charts/reward"), 3, UNIT),
    TEST_PASS1,
    Metric("cos_exact", "cos(E ĝ, ∇KL), exact (B → ∞)", last("eval/cos_exact"), 3, (-1.0, 1.0)),
    Metric("mean_norm", "|E ĝ| / |∇KL|, exact", last("eval/mean_norm"), 3, NONNEGATIVE),
    *[
        Metric(f"cos_b{i}", f"cos(ĝ, ∇KL), B = {b}", last(f"eval/cos_b{i}"), 3, (-1.0, 1.0))
        for i, b in enumerate(B_LABELS)
    ],
    Metric("off_1", "off-policy: cos at epoch 1 (B = 1024)", last("eval/off_1"), 3, (-1.0, 1.0)),
    Metric("off_K", "off-policy: cos at epoch 4", last("eval/off_K"), 3, (-1.0, 1.0)),
    Metric("off_change", "off-policy: epoch 4 − epoch 1", last("eval/off_change"), 3, (-2.0, 2.0)),
]


def _paired(results: Results, a: str, b: str, key: str) -> tuple[str, float, float]:
    """The per-seed difference a − b of a metric: (formatted mean and interval, lo, hi)."""
    va, vb = results.values(a, key), results.values(b, key)
    iv = summarise([x - y for x, y in zip(va, vb, strict=True)])
    return iv.fmt(3), iv.lo, iv.hi


def conclude(results: Results) -> list[str]:
    out = []
    L = LABELS
    ce = {e: results.values(L[e], "cos_exact") for e in L}
    exact1 = min(ce["k1_reward"] + ce["k2_loss_seq"])
    k3 = [results.summary(L[e], "cos_exact") for e in ("k3_loss", "k3_loss_seq")]
    if exact1 < 0.999 or any(iv.lo >= 0.999 for iv in k3):
        verdict = "not reproduced"
    elif all(iv.hi < 0.999 for iv in k3):
        verdict = "reproduced"
    else:
        verdict = "inconclusive"
    out.append(
        f"On-policy bias (exact, B → ∞): k1 in the reward and k2 of the response as a loss make cosines of at least "
        f"{exact1:.6f} with ∇KL on every seed; k3 as a loss per token {k3[0].fmt(3)}, of the response "
        f"{k3[1].fmt(3)}; k2 per token {results.summary(L['k2_loss'], 'cos_exact').fmt(3)}, k2 in the reward "
        f"{results.summary(L['k2_reward'], 'cos_exact').fmt(3)}, k3 in the reward "
        f"{results.summary(L['k3_reward'], 'cos_exact').fmt(3)}; k1 as a loss has |E ĝ| / |∇KL| = "
        f"{results.summary(L['k1_loss'], 'mean_norm').fmt(2)} (0 in theory). Verdict on Liu et al.'s on-policy "
        f"claims: {verdict}."
    )
    for i, b in enumerate(B_LABELS):
        d, lo, hi = _paired(results, L["k1_reward"], L["k3_loss"], f"cos_b{i}")
        which = (
            "k1 in the reward is closer"
            if lo > 0
            else "k3 as a loss (per token) is closer"
            if hi < 0
            else "no difference found"
        )
        out.append(f"Sampled, B = {b}: cos(k1 in the reward) − cos(k3 as a loss, per token) = {d}: {which}.")
    d, lo, hi = _paired(results, L[PLANTED], L["k1_reward"], f"cos_b{len(B_LABELS) - 1}")
    found = "detected" if hi < 0 else "not detected"
    out.append(
        f"Positive control (a planted bias of cos 0.95 in expectation): at B = {B_LABELS[-1]} its cosine minus k1 "
        f"in the reward's = {d}: {found}; its exact cosine {results.summary(L[PLANTED], 'cos_exact').fmt(3)}."
    )
    d, lo, hi = _paired(results, L[K2_IS], L["k2_loss_seq"], "off_K")
    out.append(
        f"Off-policy (epoch 4 on a stale rollout of 1,024): k2 of the response as a loss with the importance weight "
        f"minus without = {d} ("
        + ("the correction helps" if lo > 0 else "it hurts" if hi < 0 else "no difference found")
        + "); "
        "change of the cosine from epoch 1 to 4: "
        + ", ".join(f"{L[e]} {results.summary(L[e], 'off_change').fmt(3)}" for e in OFF_POLICY)
        + "."
    )
    for first, second in ((K1R, K3L), (K1R4, K3L4)):
        d, lo, hi = _paired(results, first, second, "exact_kl")
        which = (
            "k3 as a loss holds π closer"
            if lo > 0
            else "k1 in the reward holds π closer"
            if hi < 0
            else "no difference found"
        )
        out.append(f"Exact KL reached at β = {BETA}: {first} − {second} = {d} nats: {which}.")
    out.append(results.compare(K1R, NO_KL, "exact_kl", "exact KL at the end"))
    return out


def plot_cosines(results: Results, out: Path) -> list[tuple[str, str]]:
    """Two panels, mean over seeds and 95% t-interval: each estimator's cosine with the exact ∇KL, exact
    (B → ∞) and sampled at B = 256 (the loop's batch) and 1,024; the off-policy cosine at epochs 1 and 4."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13.0, 5.2), gridspec_kw={"width_ratios": [3, 2]})
    names = [PLANTED, *(e.name for e in reversed(ek.ESTIMATORS))]
    series = [
        ("cos_exact", "exact expectation (B → ∞)", "D", "black"),
        (f"cos_b{len(B_LABELS) - 1}", f"sampled, B = {B_LABELS[-1]}", "s", "tab:blue"),
        ("cos_b1", f"sampled, B = {B_LABELS[1]} (the loop's)", "o", "tab:orange"),
    ]
    for j, (key, what, marker, color) in enumerate(series):
        for i, name in enumerate(names):
            iv = results.summary(LABELS[name], key)
            if math.isnan(iv.mean):
                continue
            y = i + 0.22 * (1 - j)
            lo, hi = (iv.lo, iv.hi) if not math.isnan(iv.lo) else (iv.mean, iv.mean)
            ax.errorbar([iv.mean], [y], xerr=[[iv.mean - lo], [hi - iv.mean]], fmt=marker, color=color, ms=5, capsize=3,
                        label=what if i == 0 else None)  # fmt: skip
    ax.set_yticks(range(len(names)), [LABELS[n] for n in names], fontsize=9)
    ax.axvline(1.0, color="gray", lw=0.8)
    ax.axvline(0.0, color="gray", lw=0.8, ls=":")
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel("cos(gradient, exact ∇KL): 1 = the KL's own gradient")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("on-policy, at the β = 0 policy", fontsize=10)
    for i, name in enumerate(OFF_POLICY):
        ivs = [results.summary(LABELS[name], k) for k in ("off_1", "off_K")]
        x = [1 + 0.06 * (i - 2), 4 + 0.06 * (i - 2)]
        means = [iv.mean for iv in ivs]
        err = [[m - (iv.lo if not math.isnan(iv.lo) else m) for m, iv in zip(means, ivs, strict=True)],
               [(iv.hi if not math.isnan(iv.hi) else m) - m for m, iv in zip(means, ivs, strict=True)]]  # fmt: skip
        bx.errorbar(x, means, yerr=err, marker="o", color=COLORS[i], capsize=3, label=LABELS[name])
    bx.set_xlabel(f"epoch over one stale rollout of {16 * StudyConfig().off_groups}")
    bx.set_ylabel("cos(sampled gradient, exact ∇KL at θ)")
    bx.set_xticks([1, 4])
    bx.set_ylim(-0.05, 1.05)
    bx.grid(alpha=0.3)
    bx.legend(fontsize=8, loc="lower left")
    bx.set_title("off-policy", fontsize=10)
    fig.suptitle(
        f"kl-placement: each estimator's gradient against the exact one (mean and 95% interval, {results.seeds} seeds)"
    )
    fig.tight_layout()
    fig.savefig(out / "cosines.png", dpi=100)
    plt.close(fig)
    return [("cosines.png", "each estimator's gradient against the exact gradient of the KL")]


def plot_kl(results: Results, out: Path) -> list[tuple[str, str]]:
    """The exact KL each RL arm reached, mean and 95% interval over seeds, with each seed's point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.0, 4.2))
    labels = [NO_KL, K1R, K3L, K1R4, K3L4]
    for i, label in enumerate(labels):
        iv = results.summary(label, "exact_kl")
        vals = results.values(label, "exact_kl")
        ax.errorbar([i], [iv.mean], yerr=[[iv.mean - iv.lo], [iv.hi - iv.mean]], fmt="o", color=COLORS[i], capsize=6)
        ax.scatter([i + 0.12] * len(vals), vals, color=COLORS[i], s=10, alpha=0.5)
    ax.set_xticks(range(len(labels)), [s.removeprefix("RL, ").replace(", ", ",\n") for s in labels], fontsize=9)
    ax.set_ylabel("exact KL(π ‖ π_ref) at the end (nats)")
    ax.grid(alpha=0.3, axis="y")
    ax.set_title(
        f"kl-placement: the KL each placement reached at β = {BETA} (mean, 95% interval, each seed)", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(out / "exact_kl.png", dpi=100)
    plt.close(fig)
    return [("exact_kl.png", "the exact KL each placement reached")]


SETUP = f"""
**The published finding.** Liu et al. 2025 ("Rethinking KL regularization in RLHF", arXiv 2510.01555),
for a response y as one action: "k1 in reward" (the detached log-ratio times the score function, as in
PPO) is the principled gradient of the reverse KL(π ‖ π_ref); on-policy, "k2 as loss" (½ (log π/π_ref)²
differentiated) is gradient-equivalent to it; "k3 as loss" (GRPO's) is "a first-order, biased
approximation"; "k1 as loss" has a zero-mean gradient; off-policy, "k_n as loss" without importance
sampling is biased, and they propose the importance weight as the correction. Zhang et al. 2025 (RPG,
arXiv 2505.17508): the expectation of k3 is the unnormalised KL; GRPO's KL term has an off-policy
importance-weighting mismatch. Tang and Munos 2025 (arXiv 2506.09477): a per-token KL loss that ignores
the sequence gives "a partial gradient at best".

**Our setting.** Per seed: a base pre-trained on single-digit addition (`kingme lm pretrain addition
--max-level 1 --steps 80 --n-embd 64`: about 100,000 parameters; greedy test pass@1 about 0.4), so
that every response (at most 3 tokens) can be enumerated; the reference is the base. RL arms: the
loop (`kingme lm train BASE --algo rloo --clip --updates 40 --lr 1e-3 --warmup 5 --kl-coef {BETA}`,
`--kl-in-reward` or not, `--epochs 1` or 4): RLOO's preset keeps the response one action (the `sum`
normaliser) so that both placements weigh the KL with the same β (GRPO's std division would rescale
the in-reward penalty); the loop's KL in the loss is k3 per token (`weighted_k3`), in the reward k1
(`kl_penalised_scores`). β = {BETA}: the KL-regularised optimum π* ∝ π_ref e^(r/β) moves a
rewarded answer's log-odds by 1/β = 2 nats, enough for the penalty to matter within 40 updates
(chosen before any run; not tuned). The exact KL at the end is over 32 train prompts. Estimator arms:
at the β = 0 arm's policy, on 16 train prompts, the exact ∇KL (`kingme.lm.exact_kl`), each estimator's
exact expected gradient, and the cosine of its sampled gradient (the loop's own functions where the
loop has the estimator: `kl_penalised_scores`, `rloo_advantages`, `clipped_surrogate`, `weighted_k3`),
averaged over 4 batches of B = 32, 256 (the loop's P × G = 32 × 8) and 1,024 responses. Off-policy:
one rollout of 1,024 from θ_old; 4 epochs of the loop's loss (k1 in the reward, the task's reward,
β, clip 0.2, Adam at lr 1e-3, gradient norm 1) move θ; the cosines at epochs 1 and 4 on that stale
rollout with the exact ∇KL at θ. The k2 and k3 "in the reward" forms sum the per-token values into the
response's penalty (as verl's and OpenRLHF's options do); "of the response" forms take k of
Δ(y) = log π(y) − log π_ref(y), the form Liu et al.'s theorems are stated in.

**Positive control.** A planted estimator: k1 in the reward's sampled gradient plus a fixed vector
orthogonal to ∇KL, sized so that its expectation makes a cosine of exactly 0.95 with ∇KL (a bias
smaller than the k3-as-a-loss bias a one-seed pilot of the exact computation showed, cos 0.90).
The control passes when its sampled cosine at B = 1,024 is below k1 in the reward's with the
paired 95% interval below 0.

**Our prediction (written before the first full run).** (1) Exactly (B → ∞): cos = 1 for k1 in the
reward and k2 of the response as a loss; below 1 for k3 as a loss in both forms, for k2 per token
(the partial gradient) and for k2 and k3 in the reward; |E ĝ| = 0 for k1 as a loss. (2) Sampled, at
the loop's batch: the per-token losses (k3, k2) have the higher cosine, their per-token coefficient
being less noisy than the whole response's log-ratio, and k1 in the reward catches up as B grows.
(3) Off-policy: the importance weight raises k2-of-the-response's cosine at epoch 4, by little (θ
moves by 3 small steps). (4) At the same β, k3 as a loss holds the policy closer to the reference
(a lower exact KL) than k1 in the reward: its expected gradient is the forward KL's per token, which
keeps pushing up the tokens RL suppresses.

**Verdict rule.** On the published on-policy claims, from the exact cosines: "reproduced" if k1 in
the reward and k2 of the response as a loss reach cos ≥ 0.999 on every seed and both k3-as-a-loss
forms have their 95% interval below 0.999; "not reproduced" if either of the first two falls below
0.999 on a seed or a k3 form's interval lies at or above 0.999; "inconclusive" otherwise. The other
comparisons are paired per-seed differences with 95% t-intervals: a difference whose interval
excludes 0 is reported as found, in its direction; otherwise "no difference found".
"""

EXPERIMENT = Experiment(
    name="kl-placement",
    title="Where the KL term goes: k1, k2, k3 in the reward or as a loss, against the exact KL",
    claim="k1 in the reward gives the reverse KL's gradient; on-policy, k2 as a loss is gradient-equivalent to it; "
    "k3 as a loss (GRPO) is a biased first-order approximation; off-policy, loss forms need importance weights "
    "(Liu et al. 2025; Zhang et al. 2025, RPG).",
    question="With every response enumerable, how far is each placement's gradient from the exact gradient of "
    "the KL, in expectation and at the loop's batch size, on- and off-policy, and what KL does each reach at the "
    "same β?",
    setup=SETUP,
    arms=arms,
    metrics=METRICS,
    curves=[],
    conclude=conclude,
    kind=KIND,
    extra_plots=lambda results, out: plot_cosines(results, out) + plot_kl(results, out),
    published="Liu et al. 2025 (arXiv 2510.01555): k1 in the reward is the principled reverse-KL gradient; k2 as a "
    "loss is gradient-equivalent to it on-policy; k3 as a loss is a first-order biased approximation; k1 as a loss "
    "has a zero-mean gradient; off-policy loss forms need importance sampling. Zhang et al. 2025 (RPG, arXiv "
    "2505.17508): E[k3] is the unnormalised KL; GRPO's KL term has an off-policy importance-weighting mismatch. "
    "Tang and Munos 2025 (arXiv 2506.09477): per-token KL losses give a partial gradient.",
    seeds=5,
)
