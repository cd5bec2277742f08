"""Language model, claim 1: PPO, GRPO, Dr. GRPO, RLOO and REINFORCE, per sample and per second.

Every algorithm is a preset of RLConfig (kingme.lm.rl.ALGO_PRESETS) on the one rollout loop, so the
arms differ in the advantage, the token weights, the clip and the KL only. They start from the same
base per seed (addition up to two digits with the scratchpad, 130 pre-training steps: the base of
the RL target in docs/reasoning.md) and get the same wall-clock budget of RL; the table gives test pass@1 after it,
the responses each sampled in it and the gain per thousand responses, the plots pass@1 against
responses and against seconds.
"""

from __future__ import annotations

from pathlib import Path

from kingme.experiments.base import NONNEGATIVE, UNIT, UNIT_DIFFERENCE, Arm, Curve, Experiment, History, Metric, Results
from kingme.experiments.lm_runs import (
    ADDITION_BASE,
    BASE_PASS1,
    LM,
    RESPONSES,
    REWARD_CURVE,
    TEST_CURVE,
    TEST_GAIN,
    TEST_PASS1,
    lm_arm,
    pass1_over_time,
    plot_against,
)
from kingme.experiments.summaries import change, final_mean, gain, last, overall_mean
from kingme.stats import compare

SECONDS = 30  # of RL per run (evaluations included): 15 runs and their 3 bases fit in 10 minutes
BUDGET = {
    "updates": 1000,
    "max_minutes": SECONDS / 60,
}  # 1000 updates are never reached: time is the budget
ALGOS = [
    ("GRPO", "grpo"),
    ("Dr. GRPO", "dr_grpo"),
    ("RLOO", "rloo"),
    ("REINFORCE", "reinforce"),
    ("PPO", "ppo"),
]
REF = "GRPO"


def arms(tiny: bool) -> list[Arm]:
    budget = {} if tiny else BUDGET
    return [lm_arm(label, "addition", tiny, ADDITION_BASE, algo=algo, eval_every=10, **budget) for label, algo in ALGOS]


def per_thousand(h: History) -> float:
    """Test pass@1 gained per 1000 responses sampled."""
    n = float(h[-1]["global_step"])
    return gain("charts/test_pass1", "eval/base_test_pass1")(h) / (n / 1000) if n > 0 else float("nan")


def conclude(results: Results) -> list[str]:
    out = []
    for label, _ in ALGOS:
        b, a, g = (results.summary(label, k) for k in ("base_pass1", "test_pass1", "gain"))
        n, s, r = (results.summary(label, k) for k in ("responses", "seconds", "reward_gain"))
        out.append(
            f"{label}: test pass@1 {b.fmt(2)} → {a.fmt(2)} (gained {g.fmt(2)}) in {s.fmt(3)} s of RL and "
            f"{n.fmt(3)} responses; sampled reward gained {r.fmt(2)}."
        )
    for label, _ in ALGOS:
        if label == REF:
            continue
        for key, what in (
            ("gain", "test pass@1 gained in the same time"),
            ("gain_per_k", "test pass@1 gained per 1000 responses"),
            ("reward_gain", "sampled reward gained"),
            ("responses", "responses sampled in the same time"),
        ):
            out.append(
                compare(
                    label,
                    results.values(label, key),
                    REF,
                    results.values(REF, key),
                    what,
                )
            )
    return out


def extra_plots(results: Results, out: Path) -> list[tuple[str, str]]:
    return [
        plot_against(
            results,
            out,
            "test_pass1_seconds.png",
            "test pass@1 against seconds of RL",
            "seconds of RL (mean over seeds at each update)",
            "test pass@1 (greedy)",
            pass1_over_time,
        )
    ]


EXPERIMENT = Experiment(
    name="lm-algos",
    title="Language model: PPO, GRPO, Dr. GRPO, RLOO and REINFORCE on the same budget",
    claim="GRPO and its descendants (Dr. GRPO, RLOO, REINFORCE with a mean baseline) do as well as PPO on "
    "verifiable rewards without a critic, and cheaper per update.",
    question="From the same base, in the same wall-clock time, how far does each algorithm raise test pass@1, how "
    "many responses does it sample, and how much does it gain per response?",
    setup=f"""
Base per seed: `kingme lm pretrain addition --scratchpad --max-level 2 --steps 130` (the base of the
RL target of docs/reasoning.md), built once per seed and shared by the arms. RL: {SECONDS} s of
updates (`max_minutes`) of P = 32 prompts × G = 8 samples, lr 5e-4 after a 20-update warm-up, K = 1
epoch, each algorithm's preset (GRPO: std-normalised group advantage, per-response token mean, k3
KL β = 0.04; Dr. GRPO: no std, constant normaliser, no KL; RLOO: leave-one-out baseline, the
response one action; REINFORCE: r − mean, token mean; PPO: a value head, token-level GAE, KL
β = 0.05 in the reward). Test pass@1 = greedy, 256 distinct held-out problems, every 10 updates and
at the end. "Gained" = after − before for the same seed; "per 1000 responses" divides it by the
responses sampled; "sampled reward gained" = the rollouts' mean reward over the last 10% of the
updates minus the first 10%. A short budget: this compares the first half-minute of learning, not
where the algorithms end (the 0.9 target, 10 minutes a run, is in docs/reasoning.md).
Seconds are wall-clock on a shared machine: another job's load on the core slows an arm's run and
lowers its count of responses.
""",
    arms=arms,
    metrics=[
        BASE_PASS1,
        TEST_PASS1,
        TEST_GAIN,
        Metric("responses", "responses sampled", lambda h: float(h[-1]["global_step"]), 4),
        Metric("gain_per_k", "pass@1 gained per 1000 responses", per_thousand, 2),
        Metric("seconds", "seconds of RL", last("eval/rl_seconds"), 3, NONNEGATIVE),
        Metric("reward", "sampled reward (last 10%)", final_mean("charts/reward"), bounds=UNIT),
        Metric("reward_gain", "sampled reward gained", change("charts/reward"), 2, UNIT_DIFFERENCE),
        Metric("entropy", "entropy per token (mean)", overall_mean("losses/entropy"), 2, NONNEGATIVE),
        Metric(
            "zero_adv",
            "groups with equal rewards (mean)",
            overall_mean("charts/zero_adv_groups"),
            2,
            UNIT,
        ),
    ],
    curves=[
        TEST_CURVE,
        REWARD_CURVE,
        Curve(
            "losses/entropy",
            "entropy per token",
            smooth=5,
            xlabel=RESPONSES,
            bounds=(0.0, float("inf")),
        ),
    ],
    conclude=conclude,
    extra_plots=extra_plots,
    kind=LM,
    published="Yue et al. (2025): six RL algorithms performed alike on pass@k. Ahmadian et al. (2024, RLOO): RLOO "
    "beat PPO on RLHF win rates. de Oliveira et al. (2025): with a reward only at the end of a short response, a "
    "learned critic has little to add (critic-free methods lost only on long-horizon tasks). VAPO (2025): a tuned "
    "value-model PPO beat DAPO by over 10 points on AIME 2024 with a 32B model.",
)
