"""Language model, claim 5: GRPO's 1/|o_i| makes long wrong answers cheap (Liu et al. 2025).

GRPO averages each response's token losses over its own length, so a wrong response's penalty per
token shrinks as it grows; Dr. GRPO divides by a constant instead. The base is pre-trained on
addition with half of its solutions written out (`7+5+0=12,4+8+1=13:132`, about 20 tokens) and half
the bare answer (`132`, about 4); the verifier accepts both, so each response's length is the
model's choice and RL on addition learns within the budget (the path task, where any walk counts,
did not learn in 150 updates, and its wrong walks stayed near the shortest length). Arms: GRPO,
Dr. GRPO, and GRPO with only the normaliser changed to Dr. GRPO's (`loss_norm = "constant"`), which
isolates the length term from the std division and the KL.
"""

from __future__ import annotations

from kingme.experiments.base import NONNEGATIVE, UNIT, UNIT_DIFFERENCE, Arm, Curve, Experiment, Metric, Results
from kingme.experiments.lm_runs import LM, RESPONSES, TEST_CURVE, TEST_GAIN, TEST_PASS1, lm_arm
from kingme.experiments.summaries import change, final_mean, overall_mean

UPDATES = 60
MIXED_BASE = {
    "pretrain_max_level": 2,
    "pretrain_scratchpad": True,
    "pretrain_scratchpad_share": 0.5,
    "pretrain_steps": 250,
}  # additions of 1-2 digits, half written out; greedy test pass@1 0.72 (seed 1)
GRPO, DR, GRPO_CONST = "GRPO", "Dr. GRPO", "GRPO, constant normaliser"


def arms(tiny: bool) -> list[Arm]:
    common = {"updates": UPDATES, "eval_every": 15}
    return [
        lm_arm(GRPO, "addition", tiny, MIXED_BASE, algo="grpo", **common),
        lm_arm(DR, "addition", tiny, MIXED_BASE, algo="dr_grpo", **common),
        lm_arm(
            GRPO_CONST,
            "addition",
            tiny,
            MIXED_BASE,
            algo="grpo",
            loss_norm="constant",
            **common,
        ),
    ]


def conclude(results: Results) -> list[str]:
    out = []
    for arm in (GRPO, DR, GRPO_CONST):
        w, dw = results.summary(arm, "wrong"), results.summary(arm, "wrong_change")
        wm, c, g = results.summary(arm, "wrong_mean"), results.summary(arm, "correct"), results.summary(arm, "gain")
        rc = results.summary(arm, "reward_change")
        out.append(
            f"{arm}: wrong responses {w.fmt(3)} tokens at the end (change over training {dw.fmt(2)}, mean over "
            f"training {wm.fmt(3)}), correct ones {c.fmt(3)}; sampled reward changed by {rc.fmt(2)}, test pass@1 "
            f"by {g.fmt(2)}."
        )
    out.append(results.compare(GRPO, DR, "wrong_change", "growth of wrong responses"))
    out.append(
        results.compare(
            GRPO,
            GRPO_CONST,
            "wrong_change",
            "growth of wrong responses (only the normaliser differs)",
        )
    )
    out.append(results.compare(GRPO, DR, "wrong_mean", "length of wrong responses over training"))
    out.append(
        results.compare(
            GRPO, GRPO_CONST, "wrong_mean", "length of wrong responses over training (only the normaliser differs)"
        )
    )
    out.append(results.compare(GRPO, DR, "correct", "length of correct responses at the end"))
    out.append(results.compare(GRPO, DR, "gain", "test pass@1 gained"))
    return out


EXPERIMENT = Experiment(
    name="lm-length-bias",
    title="Language model: does GRPO's per-response normalisation lengthen wrong answers?",
    claim="GRPO's 1/|o_i| averaging makes a long wrong response cheaper per token than a short one, so wrong "
    "responses grow over training; Dr. GRPO's constant normaliser removes the bias (Liu et al. 2025).",
    question="Where a response may be short (the bare answer) or long (the sum written out), and both are "
    "accepted, does the length of the wrong responses grow more under GRPO than under Dr. GRPO, or than under "
    "GRPO with only the normaliser changed?",
    setup=f"""
Base per seed: `kingme lm pretrain addition --scratchpad --scratchpad-share 0.5 --max-level 2 --steps
250` (sums of 1-2 digits; half the pre-training solutions written out digit by digit, about 20 tokens,
half the bare answer, about 4; the verifier reads the answer after the last `:`, so both count),
shared by the arms. RL: {UPDATES} updates of P = 32 × G = 8 (RLConfig defaults), GRPO's preset,
Dr. GRPO's preset (no std division, constant normaliser 1/(B·L) with L the response cap, no KL), and GRPO with
`loss_norm=constant` only. Lengths are in tokens, EOS included, of the rollout's wrong and correct
responses; "at the end" = mean over the last 10% of the updates, "change" = that minus the mean over
the first 10%, "over training" = the mean over every update. What the mechanism predicts here: for
one prompt's choice between the two lengths, 1/|o_i| scales a short response's signal up by
|o_long|/|o_short| (about 5) against a long one's, for reward and penalty alike, which in
expectation rescales the policy gradient of that choice but does not reverse it; so the bias can
show only as a different speed, or by weighting prompts that favour different lengths differently.
""",
    arms=arms,
    metrics=[
        Metric("wrong", "wrong length (last 10%)", final_mean("charts/length_wrong"), 3, NONNEGATIVE),
        Metric("wrong_change", "wrong length change", change("charts/length_wrong"), 2),
        Metric("wrong_mean", "wrong length over training", overall_mean("charts/length_wrong"), 3, NONNEGATIVE),
        Metric(
            "correct",
            "correct length (last 10%)",
            final_mean("charts/length_correct"),
            3,
            NONNEGATIVE,
        ),
        Metric("reward", "sampled reward (last 10%)", final_mean("charts/reward"), bounds=UNIT),
        Metric("reward_change", "sampled reward change", change("charts/reward"), bounds=UNIT_DIFFERENCE),
        TEST_PASS1,
        TEST_GAIN,
    ],
    curves=[
        Curve(
            "charts/length_wrong",
            "length of wrong responses (tokens)",
            smooth=5,
            xlabel=RESPONSES,
        ),
        Curve(
            "charts/length_correct",
            "length of correct responses (tokens)",
            smooth=5,
            xlabel=RESPONSES,
        ),
        TEST_CURVE,
    ],
    conclude=conclude,
    kind=LM,
    published="Liu et al. (2025, Dr. GRPO): 1/|o_i| makes wrong answers cheaper per token when they are long, so "
    "wrong responses grow; the std division adds a difficulty bias. DAPO (Yu et al. 2025) averages over all "
    "tokens of the batch. TRL's docs call the per-response normalisation 'not recommended due to length bias'.",
)
