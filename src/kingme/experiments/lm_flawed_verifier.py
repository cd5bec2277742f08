"""Language model, claim 4: a flawed verifier gets exploited; does the KL penalty hold it back?

The flawed verifier checks only the last digit of the answer (`RLConfig.reward = "last_digit"`,
kingme.lm.tasks.reward_fn): it pays for every right answer and for every wrong one that ends in the
right digit. GRPO is trained on that proxy reward with its KL term to the reference (β = 0.04) and
without it (β = 0), against GRPO on the exact verifier. Every rollout is also checked by the exact
verifier (`charts/true_reward`), and test pass@1 is always the exact one, so the gap between what
the policy is paid and what it gets right is measured over training.
"""

from __future__ import annotations

from kingme.experiments.base import NONNEGATIVE, UNIT, UNIT_DIFFERENCE, Arm, Curve, Experiment, History, Metric, Results
from kingme.experiments.lm_runs import ADDITION_BASE, LM, RESPONSES, TEST_CURVE, TEST_GAIN, TEST_PASS1, lm_arm
from kingme.experiments.summaries import column, final_mean

UPDATES = 40
EXACT, FLAWED_KL, FLAWED = "exact verifier", "last digit only, β = 0.04", "last digit only, β = 0"


def arms(tiny: bool) -> list[Arm]:
    common = {"algo": "grpo", "updates": UPDATES, "eval_every": 10, "measure_kl": True}
    return [
        lm_arm(EXACT, "addition", tiny, ADDITION_BASE, **common),
        lm_arm(FLAWED_KL, "addition", tiny, ADDITION_BASE, **common, reward="last_digit"),
        lm_arm(FLAWED, "addition", tiny, ADDITION_BASE, **common, reward="last_digit", kl_coef=0.0),
    ]


def final_gap(h: History, frac: float = 0.1) -> float:
    """Mean of (reward paid − exact verifier's share correct) over the last `frac` of the updates."""
    rows = [r for r in h if "charts/reward" in r]
    gap = column(rows, "charts/reward") - column(rows, "charts/true_reward")
    k = max(1, int(round(len(gap) * frac)))
    return float(gap[-k:].mean()) if len(gap) else float("nan")


def conclude(results: Results) -> list[str]:
    out = []
    for arm in (EXACT, FLAWED_KL, FLAWED):
        p, t, g = (results.summary(arm, key) for key in ("proxy", "true", "gap"))
        out.append(
            f"{arm}: at the end, reward paid {p.fmt(3)}, truly correct {t.fmt(3)} (gap {g.fmt(2)}); "
            f"test pass@1 gained {results.summary(arm, 'gain').fmt(3)}; KL to the reference "
            f"{results.summary(arm, 'kl').fmt(2)} nat per token."
        )
    out.append(results.compare(FLAWED_KL, EXACT, "gain", "test pass@1 gained"))
    out.append(results.compare(FLAWED, EXACT, "gain", "test pass@1 gained"))
    out.append(results.compare(FLAWED, FLAWED_KL, "gain", "test pass@1 gained (without the KL term)"))
    out.append(results.compare(FLAWED, FLAWED_KL, "gap", "the gap between reward paid and truly correct"))
    out.append(results.compare(FLAWED, FLAWED_KL, "kl", "KL to the reference"))
    return out


EXPERIMENT = Experiment(
    name="lm-flawed-verifier",
    title="Language model: a verifier that checks only the last digit",
    claim="A flawed verifier that accepts some wrong answers gets exploited: the reward paid rises while true "
    "accuracy lags behind; a KL penalty to the reference model limits how far the policy drifts.",
    question="Trained on a verifier that checks only the answer's last digit, how far do the reward paid and the true "
    "accuracy part, with and without GRPO's KL term, against the exact verifier?",
    setup=f"""
Base per seed: `kingme lm pretrain addition --scratchpad --max-level 2 --steps 130`, shared by the
arms. RL: {UPDATES} GRPO updates (P = 32 × G = 8, RLConfig defaults) paid by the exact verifier, or by
`--reward last_digit` (1 when the answer after `:` is digits whose last one is that of the true
sum: a wrong 132 for 47+85 = 122 is paid), with β = 0.04 (GRPO's preset) or β = 0. "Reward paid"
and "truly correct" are the same rollout's responses scored by the two verifiers (the mean over the
last 10% of the updates); test pass@1 is greedy on 256 held-out problems with the exact verifier.
The KL to the reference (the base) is the k3 estimate per token, mean over the last 10% of the
updates, measured in every arm (`measure_kl`), β = 0 included.
""",
    arms=arms,
    metrics=[
        Metric("proxy", "reward paid (last 10%)", final_mean("charts/reward"), bounds=UNIT),
        Metric("true", "truly correct (last 10%)", final_mean("charts/true_reward"), bounds=UNIT),
        Metric("gap", "paid − correct (last 10%)", final_gap, 2, UNIT_DIFFERENCE),
        TEST_PASS1,
        TEST_GAIN,
        Metric("kl", "KL to reference (last 10%)", final_mean("losses/kl_ref"), 2, NONNEGATIVE),
    ],
    curves=[
        Curve("charts/reward", "reward paid (sampled)", bounds=(0.0, 1.0), smooth=5, xlabel=RESPONSES),
        Curve("charts/true_reward", "truly correct (sampled)", bounds=(0.0, 1.0), smooth=5, xlabel=RESPONSES),
        TEST_CURVE,
    ],
    conclude=conclude,
    kind=LM,
    published="allenai/open-instruct issue 659: an additive format reward made GRPO raise long wrong responses (fix: "
    "pay the answer reward only when the format is right); TinyZero's Countdown reward gives 0.1 for a well-formed "
    "wrong answer. InstructGPT (Ouyang et al. 2022) keeps a per-token KL penalty to the reference to limit "
    "over-optimisation of the reward model; TRL's GRPOTrainer now defaults to β = 0.",
)
