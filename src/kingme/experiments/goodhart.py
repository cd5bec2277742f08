"""Reward-model over-optimisation (Gao, Schulman and Hilton 2023) on the tiny language model.

A proxy reward model is fitted to a simulated labeller's preferences between a base model's
responses (`kingme.lm.reward_model`); the gold reward is the task's exact verifier. Optimising the
proxy moves the policy away from the base; Gao et al. plot the gold reward against
d = sqrt(KL(π ‖ π_base)) and find it rises, peaks and falls, following d(α − βd) for best-of-n and
d(α − β log d) for RL, with coefficients that move smoothly with the proxy's size and data.

**Setup.** The task is `path` (write a walk from s to t in a graph given as an edge list). Per seed:
1. a base: `kingme lm pretrain path --max-level 3 --steps 400` (BASE below);
2. the noiseless labeller (the verifier; a coin between two right or two wrong responses) labels
   pairs of the base's responses to train prompts; held-out pairs from test prompts;
3. proxies: implicit reward models (`kingme.lm.implicit_reward`: r = log π_θ(o|q) − log π_base(o|q),
   π_θ a copy of the base fitted by the Bradley-Terry loss on the pairs) of two sizes (SIZES: only
   the last block and the final layer norm fitted, or every weight) on the first N pairs for each N
   in PAIRS (one pass over the data, at least RM_MIN_STEPS steps, see `rm_steps`), normalised to
   mean 0 and standard deviation 1 on the base's responses (as Gao et al. normalise). A scalar head
   on the transformer (`kingme.lm.reward_model`) stayed at chance here, as on addition
   (docs/reward-models.md: 0.50 held-out gold agreement with 16,000 path pairs): the base's errors
   are almost all steps that are not edges (3,869 of 6,000 responses; wrong start or end: 19), and
   a head at the EOS has to learn edge lookup from preferences alone, while the base's next-token
   probabilities already hold it;
4. best-of-n against each proxy, n in N_LIST, on BON_PROMPTS test prompts from BON_SAMPLES samples
   each (the unbiased estimator of `kingme.lm.overoptimisation`); d from the exact KL of best-of-n
   under ties, estimated from the samples (`best_of_n_kl_exact`; the formula log n − (n − 1)/n
   is its upper bound);
5. RL (GRPO with the KL to the base as k1 in the reward, the RLHF form) against the larger proxy
   fitted on the most pairs, for each KL coefficient in KL_COEFS; each update logs the rollout's gold
   (share right), proxy and d = sqrt(k3 KL per token × mean length);
6. a positive control: best-of-n against a planted proxy, gold + PLANT_PER_NAT × the response's
   surprisal under the base, −log π_base(o | q) (`planted_proxy`): a known exploitable term that
   rewards the responses the base finds unlikely, which are more often wrong (correlation −0.44 with
   gold on seed 1's samples), so gold must rise and then fall if the measurement can see
   over-optimisation. The first control, gold + 0.5 per character of response, did not fall (seed 1:
   gold 0.481 at n = 1, 1.0 at n = 64: long wrong walks are too rare in the base's samples); it was
   replaced after that seed, with PLANT_PER_NAT = 0.3 picked on seed 1's samples (0.1 never fell,
   0.3 rose to 0.69 and fell to 0.56, 0.5 fell below the start).

**Prediction (written before the first full run).** (a) The proxies are partly right: the larger
proxy on the most pairs has held-out gold agreement above ½. (b) Best-of-n gold rises and then
falls against d: β > 0 in d(α − βd) for the proxies, the fit with R² ≥ 0.8, and the gold at the
largest n below the peak. (c) The peak moves with the proxy: a larger proxy and more data raise
the peak gold and push d* out (Gao et al.: α grows and β shrinks with the proxy's size and data).
(d) RL gold follows d(α − β log d), and a KL penalty does not improve the gold-vs-d frontier: the
gold a β > 0 run ends at is no higher than the β = 0 run's at the same d (it stops earlier).

**Cost.** 5 seeds took 1,119 s of CPU (user + sys) on this project's 2-core AMD EPYC under load,
about 224 s a seed on one core (the serial runner): about 19 minutes on a quiet machine, over the
10-minute budget by about 2× (`--seeds 3`: about 11 minutes). The pre-training, the pairs and the
proxies are built once per seed and process and shared by its arms. With the seeds side by side on
both cores (the default `--backend local`) the idle machine took 626 s wall (1,043 s of CPU), just
over the budget, with the same figures as the serial runner's.

**Verdict rule.** Intervals are 95% over seeds (t, cut to the quantity's range).
- *Inconclusive* if the positive control fails (its drop from the peak to the largest n does not
  lie above 0), or the larger proxy on the most pairs has a gold-agreement interval that does not
  lie above ½ (no partly-right proxy, nothing to over-optimise in Gao's sense).
- Best-of-n over-optimisation *reproduced* if, for the majority of the proxies, the fitted β's
  interval lies above 0 and the drop's interval lies above 0; *not reproduced* if for none of them;
  else *partly*.
- Scaling *reproduced* if the peak gold grows with data (most − fewest pairs, paired by seed, above
  0) for both sizes; *not reproduced* if for neither.
- KL penalty: *stops earlier (as Gao et al.)* if every β > 0 arm's paired frontier difference
  (its final gold minus the β = 0 run's gold at the same d) has an interval that includes 0 or lies
  below; *improves the frontier* if one lies above 0.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kingme.common import UserError
from kingme.config import config_to_dict
from kingme.experiments.base import NONNEGATIVE, UNIT, UNIT_DIFFERENCE, Arm, Experiment, History, Metric, Results
from kingme.experiments.lm_runs import TINY_PRETRAIN, base_model
from kingme.experiments.plots import COLORS
from kingme.experiments.summaries import last
from kingme.lm.best_of_n import best_of_n_kl, best_of_n_kl_exact
from kingme.lm.implicit_reward import ImplicitRewardModel, fit_implicit, save_implicit
from kingme.lm.implicit_reward import evaluate as evaluate_implicit
from kingme.lm.labellers import Preference, gold_reward, sample_groups
from kingme.lm.overoptimisation import bon_estimate, fit_bon, fit_rl
from kingme.lm.pretrain import PretrainConfig
from kingme.lm.reward_model import RewardModelConfig, draw_pair_data
from kingme.lm.rl import RLConfig, train
from kingme.lm.tasks import Task, sample_problems
from kingme.progress import Advance
from kingme.stats import mean_ci

TASK = "path"
BASE: dict[str, Any] = {"max_level": 3, "steps": 400}
SIZES: dict[str, str] = {"small": "top", "large": "all"}  # the part of the base copy that is fitted
PAIRS = (500, 2000, 8000)
EVAL_PAIRS = 400
RM_BATCH = 64
RM_LR = 3e-4
RM_MIN_STEPS = 30
RM_MAX_STEPS = 500
N_LIST = (1, 2, 4, 8, 16, 32, 64)
BON_PROMPTS = 64
BON_SAMPLES = 64
KL_COEFS = (0.0, 0.05, 0.3)
RL: dict[str, Any] = {"algo": "grpo", "kl_in_reward": True, "updates": 30, "prompts_per_update": 16, "group_size": 8}
PLANT_PER_NAT = 0.3

TINY: dict[str, Any] = {
    "pairs": (40, 80, 160),
    "eval_pairs": 16,
    "min_steps": 5,
    "max_steps": 10,
    "n_list": (1, 2, 4, 8),
    "bon_prompts": 4,
    "bon_samples": 8,
    "updates": 2,
}

BON, RLK, CONTROL = "bon", "rl", "control"
D, GOLD, PROXY, AGREE = "gh/d", "gh/gold", "gh/proxy", "gh/rm_gold_agreement"
KEPT = ("time", D, GOLD, PROXY)


@dataclass
class GoodhartConfig:
    """One (arm, seed) of the goodhart experiment."""

    seed: int = 1
    role: str = BON  # bon, rl or control
    size: str = "large"
    pairs: int = PAIRS[-1]
    kl_coef: float = 0.0
    tiny: bool = False
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    all_pairs: int = PAIRS[-1]
    eval_pairs: int = EVAL_PAIRS
    min_steps: int = RM_MIN_STEPS
    max_steps: int = RM_MAX_STEPS
    n_list: tuple[int, ...] = N_LIST
    bon_prompts: int = BON_PROMPTS
    bon_samples: int = BON_SAMPLES
    updates: int = RL["updates"]


def rm_steps(pairs: int, min_steps: int, max_steps: int, batch: int = RM_BATCH) -> int:
    """Optimiser steps for N pairs: one pass over them (N / batch), at least min_steps, at most max_steps."""
    return max(min_steps, min(max_steps, math.ceil(pairs / batch)))


def planted_proxy(gold: np.ndarray, base_logprob: np.ndarray) -> np.ndarray:
    """The positive control's proxy: gold − PLANT_PER_NAT · log π_base(o | q), elementwise."""
    return gold - PLANT_PER_NAT * base_logprob


# ---------------------------------------------------------------------------------------------
# What a seed shares across its arms: the base, the pairs, the best-of-n samples, the proxies
# ---------------------------------------------------------------------------------------------


@dataclass
class World:
    base: Any
    task: Task
    train: list[Preference]
    eval: list[Preference]
    prompts: list[str]  # (M,) the best-of-n prompts
    samples: list[list[str]]  # (M, S) the base's samples
    gold: np.ndarray  # (M, S)
    ref: torch.Tensor  # (M·S,) log π_base of each sample, shared by every proxy

    def flat(self) -> tuple[list[str], list[str]]:
        """(prompts, responses) of the samples, (M·S,) each."""
        return [q for q, g in zip(self.prompts, self.samples, strict=True) for _ in g], [
            o for g in self.samples for o in g
        ]


_WORLDS: dict[str, World] = {}
_PROXIES: dict[str, tuple[ImplicitRewardModel, dict[str, float]]] = {}


def _key(*parts: Any) -> str:
    return json.dumps(parts, sort_keys=True, default=str)


def world(cfg: GoodhartConfig) -> World:
    key = _key(config_to_dict(cfg.pretrain), cfg.all_pairs, cfg.eval_pairs, cfg.bon_prompts, cfg.bon_samples)
    if key not in _WORLDS:
        base, task, _ = base_model(cfg.pretrain)
        rc = RewardModelConfig(pairs=cfg.all_pairs, eval_pairs=cfg.eval_pairs, seed=cfg.seed, device="cpu")
        data = draw_pair_data(rc, (base, task))
        rng = np.random.default_rng(cfg.seed + 40_000)
        prompts = [p.prompt for p in sample_problems(task, rng, cfg.bon_prompts, "test", distinct=True)]
        torch.manual_seed(cfg.seed + 40_000)
        samples = sample_groups(base, task, prompts, cfg.bon_samples)
        gold = np.array([[gold_reward(task, q, o) for o in group] for q, group in zip(prompts, samples, strict=True)])
        flat_q = [q for q, g in zip(prompts, samples, strict=True) for _ in g]
        ref = ImplicitRewardModel(base, task).reference_scores(flat_q, [o for g in samples for o in g])
        _WORLDS[key] = World(base, task, data.train, data.eval, prompts, samples, gold, ref)
    return _WORLDS[key]


def proxy_model(cfg: GoodhartConfig, w: World) -> tuple[ImplicitRewardModel, dict[str, float]]:
    """The proxy of (size, pairs) for this seed, fitted once per process, normalised on the base's samples."""
    key = _key(config_to_dict(cfg.pretrain), cfg.size, cfg.pairs, cfg.min_steps, cfg.max_steps, cfg.all_pairs)
    if key not in _PROXIES:
        torch.manual_seed(cfg.seed)
        model = ImplicitRewardModel(w.base, w.task, beta=1.0, trainable=SIZES[cfg.size])
        steps = rm_steps(cfg.pairs, cfg.min_steps, cfg.max_steps)
        fit_implicit(model, w.train[: cfg.pairs], steps, lr=RM_LR, batch_size=RM_BATCH, seed=cfg.seed)
        model.normalise(
            [q for q, g in zip(w.prompts, w.samples, strict=True) for _ in g], [o for g in w.samples for o in g]
        )
        held = evaluate_implicit(model, w.eval)
        _PROXIES[key] = (model, {**held, "params": float(model.trainable_params())})
    return _PROXIES[key]


# ---------------------------------------------------------------------------------------------
# The runs
# ---------------------------------------------------------------------------------------------


def bon_curve(w: World, proxy: np.ndarray, n_list: tuple[int, ...]) -> History:
    """Rows per n: d (exact KL under ties, estimated per prompt from its samples, mean over prompts),
    the formula's d, the best-of-n gold and proxy (means over prompts)."""
    rows: History = []
    for i, n in enumerate(n_list):
        gold = np.mean([bon_estimate(p, g, n) for p, g in zip(proxy, w.gold, strict=True)])
        prox = np.mean([bon_estimate(p, p, n) for p in proxy])
        kls = []
        for p in proxy:
            values, counts = np.unique(np.round(p, 6), return_counts=True)
            kls.append(best_of_n_kl_exact(counts / counts.sum(), values, n))
        rows.append({
            "update": i, "global_step": n, D: math.sqrt(max(0.0, float(np.mean(kls)))),
            "gh/d_formula": math.sqrt(best_of_n_kl(n)), GOLD: float(gold), PROXY: float(prox),
        })  # fmt: skip
    return rows


def run_goodhart(cfg: GoodhartConfig, advance: Advance) -> tuple[History, float]:
    t0 = time.perf_counter()
    w = world(cfg)
    if cfg.role == CONTROL:
        proxy = planted_proxy(w.gold, w.ref.view(w.gold.shape).numpy())  # (M, S)
        rows = bon_curve(w, proxy, cfg.n_list)
        advance(1)
        return rows, time.perf_counter() - t0
    model, held = proxy_model(cfg, w)
    extra = {
        AGREE: held["gold_agreement"],
        "gh/rm_pair_accuracy": held["pair_accuracy"],
        "gh/rm_params": held["params"],
    }
    if cfg.role == BON:
        proxy = model.score(*w.flat(), ref=w.ref).view(len(w.prompts), -1).numpy()  # (M, S)
        rows = bon_curve(w, proxy, cfg.n_list)
        rows[-1] |= extra
        advance(1)
        return rows, time.perf_counter() - t0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "proxy.safetensors"
        save_implicit(path, model)
        small = {"prompts_per_update": 4, "group_size": 4} if cfg.tiny else {}
        rl = RLConfig(
            **{**RL, "updates": cfg.updates, **small}, reward=f"irm:{path}", kl_coef=cfg.kl_coef, measure_kl=True,
            eval_every=10**6, eval_problems=16 if cfg.tiny else 64, seed=cfg.seed, device="cpu", torch_threads=1,
            warmup=0 if cfg.tiny else 5,
        )  # fmt: skip

        def log(row: dict[str, Any]) -> None:
            right = row["charts/true_reward"]
            lengths = [(right, row["charts/length_correct"]), (1 - right, row["charts/length_wrong"])]
            length = sum(s * v for s, v in lengths if s > 0 and not math.isnan(v))
            kl = max(0.0, float(row.get("losses/kl_ref", 0.0))) * length
            rows.append({"update": row["update"], "global_step": row["update"], D: math.sqrt(kl),
                         GOLD: right, PROXY: row["charts/reward"]})  # fmt: skip
            advance(1)

        train(rl, log=log, base=(w.base, w.task))
    rows[-1] |= extra
    return rows, time.perf_counter() - t0


class GoodhartRuns:
    """RunKind: one proxy's best-of-n curve, RL against the largest proxy at one KL coefficient, or the
    planted control; a seed's base, pairs, samples and proxies are built once per process."""

    name: str = "goodhart"
    defaults: str = "GoodhartConfig (kingme.experiments.goodhart)"
    kept: tuple[str, ...] = KEPT

    def config(self, arm: Arm, seed: int) -> GoodhartConfig:
        o = dict(arm.overrides)
        tiny = bool(o.pop("tiny", False))
        role = str(o.pop("role", BON))
        if role not in (BON, RLK, CONTROL):
            raise UserError(f"arm {arm.label!r}: role must be bon, rl or control, got {role!r}")
        size = str(o.pop("size", "large"))
        if size not in SIZES:
            raise UserError(f"arm {arm.label!r}: size must be one of {', '.join(SIZES)}, got {size!r}")
        pre = {**BASE, **(_tiny_pretrain() if tiny else {})}
        pretrain = PretrainConfig(task=TASK, seed=seed, eval_every=10**9, device="cpu", torch_threads=1, **pre)
        t = TINY if tiny else {}
        pairs = tuple(t.get("pairs", PAIRS))
        cfg = GoodhartConfig(
            seed=seed, role=role, size=size, pairs=int(o.pop("pairs", pairs[-1])), kl_coef=float(o.pop("kl_coef", 0.0)),
            tiny=tiny, pretrain=pretrain, all_pairs=pairs[-1], eval_pairs=t.get("eval_pairs", EVAL_PAIRS),
            min_steps=t.get("min_steps", RM_MIN_STEPS), max_steps=t.get("max_steps", RM_MAX_STEPS),
            n_list=tuple(t.get("n_list", N_LIST)), bon_prompts=t.get("bon_prompts", BON_PROMPTS),
            bon_samples=t.get("bon_samples", BON_SAMPLES), updates=t.get("updates", RL["updates"]),
        )  # fmt: skip
        if o:
            raise UserError(f"arm {arm.label!r}: unknown settings {', '.join(sorted(o))}")
        if not 1 <= cfg.pairs <= cfg.all_pairs:
            raise UserError(f"arm {arm.label!r}: pairs must be in [1, {cfg.all_pairs}], got {cfg.pairs}")
        return cfg

    def work(self, config: GoodhartConfig) -> int:
        return config.updates if config.role == RLK else 1

    def run(self, arm: Arm, config: GoodhartConfig, advance: Advance) -> Any:
        from kingme.experiments.base import RunOutput

        rows, seconds = run_goodhart(config, advance)
        return RunOutput(rows, seconds)

    def saved(self, config: GoodhartConfig) -> dict[str, Any]:
        return config_to_dict(config)


def _tiny_pretrain() -> dict[str, Any]:
    return {k.removeprefix("pretrain_"): v for k, v in TINY_PRETRAIN.items()}


KIND = GoodhartRuns()


def bon_label(size: str, pairs: int) -> str:
    return f"best-of-n, {size} proxy, {pairs} pairs"


def rl_label(beta: float) -> str:
    return f"RL, β = {beta:g}"


CONTROL_LABEL = f"best-of-n, planted proxy (gold + {PLANT_PER_NAT:g} × surprisal)"


def arms(tiny: bool) -> list[Arm]:
    env = f"lm:{TASK}"
    t = {"tiny": True} if tiny else {}
    pairs = TINY["pairs"] if tiny else PAIRS
    out = [Arm(CONTROL_LABEL, env, {"role": CONTROL, **t})]
    out += [Arm(bon_label(s, n), env, {"role": BON, "size": s, "pairs": n, **t}) for s in SIZES for n in pairs]
    out += [
        Arm(rl_label(b), env, {"role": RLK, "size": "large", "pairs": pairs[-1], "kl_coef": b, **t}) for b in KL_COEFS
    ]
    return out


# ---------------------------------------------------------------------------------------------
# What is measured of a run
# ---------------------------------------------------------------------------------------------


SMOOTH = 5  # RL: the rollout's gold is a moving average over this many updates


def _points(h: History, rl: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(d, gold) of a run; for RL (`is_rl` unless given) both are moving averages over SMOOTH updates
    (the rollout's gold is noisy)."""
    rows = [r for r in h if D in r and GOLD in r]
    d = np.array([r[D] for r in rows], dtype=float)
    g = np.array([r[GOLD] for r in rows], dtype=float)
    w = SMOOTH if (is_rl(h) if rl is None else rl) else 1
    if w > 1 and len(g) >= w:
        kernel = np.ones(w) / w
        d, g = np.convolve(d, kernel, mode="valid"), np.convolve(g, kernel, mode="valid")
    return d, g


def is_rl(h: History) -> bool:
    """RL's history counts updates from 1; best-of-n's rows are n = 1, 2, 4, ... with the formula's d."""
    return bool(h) and "gh/d_formula" not in h[0]


def fitted(h: History) -> Any:
    """Gao's form fitted to R = gold − the start's gold against d: d(α − β log d) for RL, d(α − βd) for best-of-n."""
    d, g = _points(h)
    if len(g) < 3:
        return None
    return fit_rl(d, g - g[0]) if is_rl(h) else fit_bon(d, g - g[0])


def _fit_value(name: str) -> Any:
    def fn(h: History) -> float:
        f = fitted(h)
        return float(getattr(f, name)) if f is not None else math.nan

    return fn


def m_start(h: History) -> float:
    g = _points(h)[1]
    return float(g[0]) if len(g) else math.nan


def m_peak(h: History) -> float:
    """The highest gold reached (RL: moving average over SMOOTH updates)."""
    g = _points(h)[1]
    return float(g.max()) if len(g) else math.nan


def m_drop(h: History) -> float:
    """Peak gold minus the gold at the end (the largest n; RL: the last SMOOTH updates)."""
    g = _points(h)[1]
    return float(g.max() - g[-1]) if len(g) else math.nan


def m_d_peak(h: History) -> float:
    """d where the gold peaks (measured, not fitted)."""
    d, g = _points(h)
    return float(d[int(np.argmax(g))]) if len(g) else math.nan


def m_d_end(h: History) -> float:
    d = _points(h)[0]
    return float(d[-1]) if len(d) else math.nan


METRICS = [
    Metric("agree", "proxy's held-out gold agreement", last(AGREE), bounds=UNIT),
    Metric("start", "gold at the start", m_start, bounds=UNIT),
    Metric("peak", "peak gold", m_peak, bounds=UNIT),
    Metric("drop", "peak gold − gold at the end", m_drop, bounds=UNIT_DIFFERENCE),
    Metric("d_peak", "d at the peak", m_d_peak, 2, NONNEGATIVE),
    Metric("d_end", "d at the end", m_d_end, 2, NONNEGATIVE),
    Metric("alpha", "fitted α", _fit_value("alpha")),
    Metric("beta", "fitted β", _fit_value("beta")),
    Metric("r2", "fit's R²", _fit_value("r2"), 2, (-math.inf, 1.0)),
]

# ---------------------------------------------------------------------------------------------
# The answer
# ---------------------------------------------------------------------------------------------


def _pairs(results: Results) -> tuple[int, ...]:
    return tuple(TINY["pairs"]) if results.tiny else PAIRS


def _series(results: Results, arm: str, seed: int) -> History:
    """A run's history rebuilt from its kept series (d and gold per row)."""
    run = next((r for r in results.runs if r.arm == arm and r.seed == seed), None)
    if run is None:
        return []
    rows = [{D: d, GOLD: g} for d, g in zip(run.series.get(D, []), run.series.get(GOLD, []), strict=False)]
    return [r for r in rows if r[D] is not None and r[GOLD] is not None]


def frontier_gap(results: Results, beta: float) -> list[float]:
    """Per seed: the β run's final gold minus the β = 0 run's gold at the same d (both moving averages
    over SMOOTH updates; the β = 0 curve read at the first point where its d reaches the β run's final d,
    or its last point if it never does)."""
    out = []
    for seed in sorted({r.seed for r in results.runs}):
        d_b, g_b = _points(_series(results, rl_label(beta), seed), rl=True)
        d_0, g_0 = _points(_series(results, rl_label(0.0), seed), rl=True)
        if not len(g_b) or not len(g_0):
            continue
        reach = np.nonzero(d_0 >= d_b[-1])[0]
        j = int(reach[0]) if len(reach) else len(d_0) - 1
        out.append(float(g_b[-1] - g_0[j]))
    return out


def paired_peak(results: Results, size: str) -> list[float]:
    """Per seed: the peak best-of-n gold of the proxy on the most pairs minus that on the fewest."""
    ps = _pairs(results)
    hi, lo = (dict(zip([r.seed for r in results.runs if r.arm == bon_label(size, n)],
                       results.values(bon_label(size, n), "peak"), strict=True)) for n in (ps[-1], ps[0]))  # fmt: skip
    return [hi[s] - lo[s] for s in sorted(hi) if s in lo]


def above(values: list[float]) -> bool:
    iv = mean_ci(values)
    return iv.n >= 2 and iv.lo > 0


def verdicts(results: Results) -> dict[str, str]:
    """The verdict rule of the module docstring."""
    ps = _pairs(results)
    control = results.summary(CONTROL_LABEL, "drop")
    agree = results.summary(bon_label("large", ps[-1]), "agree")
    valid = control.n >= 2 and control.lo > 0 and agree.n >= 2 and agree.lo > 0.5
    proxies = [bon_label(s, n) for s in SIZES for n in ps]
    over = [
        above(results.values(a, "beta")) and above(results.values(a, "drop")) for a in proxies
    ]  # per proxy: β > 0 and a drop
    bon = "reproduced" if sum(over) > len(over) / 2 else "not reproduced" if not any(over) else "partly"
    grows = [above(paired_peak(results, s)) for s in SIZES]
    scaling = "reproduced" if all(grows) else "not reproduced" if not any(grows) else "partly"
    gaps = [mean_ci(frontier_gap(results, b)) for b in KL_COEFS if b > 0]
    kl = "improves the frontier" if any(iv.n >= 2 and iv.lo > 0 for iv in gaps) else "stops earlier (as Gao et al.)"
    if not valid:
        bon = scaling = kl = "inconclusive"
    return {"control": "yes" if control.n >= 2 and control.lo > 0 else "no",
            "partly right": "yes" if agree.n >= 2 and agree.lo > 0.5 else "no",
            "best-of-n": bon, "scaling": scaling, "kl": kl}  # fmt: skip


def conclude(results: Results) -> list[str]:
    ps = _pairs(results)
    out = [
        f"Positive control (planted proxy, gold + {PLANT_PER_NAT:g} × the base's surprisal): gold "
        f"{results.summary(CONTROL_LABEL, 'start').fmt(3)} at n = 1, "
        f"peak {results.summary(CONTROL_LABEL, 'peak').fmt(3)} "
        f"at d = {results.summary(CONTROL_LABEL, 'd_peak').fmt(2)}, drop to the largest n "
        f"{results.summary(CONTROL_LABEL, 'drop').fmt(3)}."
    ]
    for s in SIZES:
        for n in ps:
            a = bon_label(s, n)
            sm = {k: results.summary(a, k) for k in ("agree", "start", "peak", "drop", "d_peak", "alpha", "beta", "r2")}
            out.append(
                f"{a}: held-out gold agreement {sm['agree'].fmt(3)}; best-of-n gold {sm['start'].fmt(3)} → peak "
                f"{sm['peak'].fmt(3)} at d = {sm['d_peak'].fmt(2)}, drop to the largest n {sm['drop'].fmt(3)}; "
                f"fit d(α − βd): α = {sm['alpha'].fmt(3)}, β = {sm['beta'].fmt(3)}, R² = {sm['r2'].fmt(2)}."
            )
    for s in SIZES:
        out.append(
            f"{s} proxy: peak best-of-n gold, {ps[-1]} − {ps[0]} pairs (paired by seed): "
            f"{mean_ci(paired_peak(results, s)).fmt(3)}."
        )
    for b in KL_COEFS:
        a = rl_label(b)
        sm = {k: results.summary(a, k) for k in ("start", "peak", "drop", "d_end", "alpha", "beta", "r2")}
        out.append(
            f"{a} (large proxy, {ps[-1]} pairs): rollout gold {sm['start'].fmt(3)} → peak {sm['peak'].fmt(3)}, "
            f"drop to the end {sm['drop'].fmt(3)}, d at the end {sm['d_end'].fmt(2)}; fit d(α − β log d): "
            f"α = {sm['alpha'].fmt(3)}, β = {sm['beta'].fmt(3)}, R² = {sm['r2'].fmt(2)}."
        )
    for b in KL_COEFS:
        if b > 0:
            out.append(
                f"{rl_label(b)}: final gold minus the β = 0 run's gold at the same d (paired by seed): "
                f"{mean_ci(frontier_gap(results, b)).fmt(3)}."
            )
    v = verdicts(results)
    out.append(
        f"Verdict: positive control sees over-optimisation: **{v['control']}**; the proxy is partly right: "
        f"**{v['partly right']}**; best-of-n over-optimisation: **{v['best-of-n']}**; peak rises with data: "
        f"**{v['scaling']}**; a KL penalty: **{v['kl']}**."
    )
    return out


def plot_gold_vs_d(results: Results, out: Path) -> list[tuple[str, str]]:
    """Gold against d: best-of-n for every proxy and the control (left), RL at each β (right), means over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13.0, 4.8))
    labels = list(dict.fromkeys(a.label for a in results.arms))
    for i, label in enumerate(labels):
        ax = axes[1] if label.startswith("RL") else axes[0]  # (the same test as `rl` below)
        rl = label.startswith("RL")
        seeds = sorted({r.seed for r in results.runs if r.arm == label})
        curves = [_points(_series(results, label, s), rl=rl) for s in seeds]
        curves = [c for c in curves if len(c[0])]
        if not curves:
            continue
        k = min(len(c[0]) for c in curves)
        d = np.mean([c[0][:k] for c in curves], axis=0)
        g = np.mean([c[1][:k] for c in curves], axis=0)
        style = "--" if label == CONTROL_LABEL else "-"
        ax.plot(d, g, style, color=COLORS[i % len(COLORS)], lw=2, marker=None if label.startswith("RL") else "o",
                ms=3, label=label)  # fmt: skip
    axes[0].set_title("best-of-n against each proxy")
    axes[1].set_title(f"RL against the large proxy (moving average over {SMOOTH} updates)")
    for ax in axes:
        ax.set_xlabel("d = sqrt(KL to the base)")
        ax.set_ylabel("gold (share right)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"goodhart: gold reward against distance from the base (mean over {results.seeds} seeds)")
    fig.tight_layout()
    fig.savefig(out / "gold_vs_d.png", dpi=100)
    plt.close(fig)
    return [("gold_vs_d.png", "gold against d = sqrt(KL): best-of-n (left), RL (right)")]


SETUP = (__doc__ or "").split("**Setup.**", 1)[1].strip()

EXPERIMENT = Experiment(
    name="goodhart",
    title="Reward-model over-optimisation: gold against KL for best-of-n and RL against a learned proxy",
    claim="Optimising a learned proxy reward raises the gold reward and then lowers it; gold against "
    "d = sqrt(KL) follows d(α − βd) for best-of-n and d(α − β log d) for RL; a KL penalty acts as early stopping.",
    question="With proxies fitted to preferences between the base's responses, does gold rise and fall against d, "
    "do Gao's forms fit, how does the peak move with the proxy's size and data, and does a KL penalty improve "
    "the gold-vs-d frontier?",
    setup=SETUP,
    arms=arms,
    metrics=METRICS,
    curves=[],
    conclude=conclude,
    kind=KIND,
    extra_plots=plot_gold_vs_d,
    published="Gao, Schulman and Hilton 2023 (arXiv 2210.10760): gold follows d(α − βd) for best-of-n and "
    "d(α − β log d) for RL, with coefficients smooth in the proxy's size and data; a KL penalty did not improve "
    "the gold-vs-KL frontier (it acts like early stopping).",
    seeds=5,
)
