"""Language model, claim 5: GRPO's 1/|o_i| makes long wrong answers cheap (Liu et al. 2025).

GRPO averages each response's token losses over its own length, so a wrong response's penalty per
token shrinks as it grows; Dr. GRPO divides by a constant instead. On the path task the response
length can vary (any walk from s to t counts, detours included, up to twice the shortest length),
so a bias towards long wrong responses has room to show. Arms: GRPO, Dr. GRPO, and GRPO with only
the normaliser changed to Dr. GRPO's (`loss_norm = "constant"`), which isolates the length term
from the std division and the KL.
"""

from __future__ import annotations

from kingme.experiments.lm_runs import (
    DEFAULTS,
    RESPONSES,
    TEST_CURVE,
    TEST_GAIN,
    TEST_PASS1,
    change,
    lm_arm,
)
from kingme.experiments.runner import (
    Arm,
    Curve,
    Experiment,
    Metric,
    Results,
    final_mean,
)

UPDATES = 40
PATH_BASE = {
    "pretrain_max_level": 3,
    "pretrain_steps": 300,
}  # paths of 1-3 edges; test pass@1 0.53 (seed 1)
GRPO, DR, GRPO_CONST = "GRPO", "Dr. GRPO", "GRPO, constant normaliser"


def arms(tiny: bool) -> list[Arm]:
    common = {"updates": UPDATES, "eval_every": 10}
    return [
        lm_arm(GRPO, "path", tiny, PATH_BASE, algo="grpo", **common),
        lm_arm(DR, "path", tiny, PATH_BASE, algo="dr_grpo", **common),
        lm_arm(
            GRPO_CONST,
            "path",
            tiny,
            PATH_BASE,
            algo="grpo",
            loss_norm="constant",
            **common,
        ),
    ]


def conclude(results: Results) -> list[str]:
    out = []
    for arm in (GRPO, DR, GRPO_CONST):
        w, dw = results.summary(arm, "wrong"), results.summary(arm, "wrong_change")
        c, g = results.summary(arm, "correct"), results.summary(arm, "gain")
        out.append(
            f"{arm}: wrong responses {w.fmt(3)} tokens at the end (change over training {dw.fmt(2)}), correct "
            f"ones {c.fmt(3)}; test pass@1 gained {g.fmt(2)}."
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
    out.append(results.compare(GRPO, DR, "gain", "test pass@1 gained"))
    return out


EXPERIMENT = Experiment(
    name="lm-length-bias",
    title="Language model: does GRPO's per-response normalisation lengthen wrong answers?",
    claim="GRPO's 1/|o_i| averaging makes a long wrong response cheaper per token than a short one, so wrong "
    "responses grow over training; Dr. GRPO's constant normaliser removes the bias (Liu et al. 2025).",
    question="On paths in a graph, where a response may be a walk of any length, does the length of the wrong "
    "responses grow more under GRPO than under Dr. GRPO, or than under GRPO with only the normaliser changed?",
    setup=f"""
Base per seed: `kingme lm pretrain path --max-level 3 --steps 300` (7-node graphs of 8 edges, shortest
paths of 1-3 edges; the verifier accepts any walk from s to t along edges, up to 8 nodes), shared by
the arms. RL: {UPDATES} updates of P = 32 × G = 8 (RLConfig defaults), GRPO's preset, Dr. GRPO's
preset (no std division, constant normaliser 1/(B·N_max), no KL), and GRPO with `loss_norm=constant`
only. Lengths are in tokens, EOS included, of the rollout's wrong and correct responses; "at the
end" = mean over the last 10% of the updates, "change" = that minus the mean over the first 10%.
""",
    arms=arms,
    metrics=[
        Metric("wrong", "wrong length (last 10%)", final_mean("charts/length_wrong"), 3),
        Metric("wrong_change", "wrong length change", change("charts/length_wrong"), 2),
        Metric(
            "correct",
            "correct length (last 10%)",
            final_mean("charts/length_correct"),
            3,
        ),
        Metric("reward", "sampled reward (last 10%)", final_mean("charts/reward")),
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
    defaults=DEFAULTS,
    published="Liu et al. (2025, Dr. GRPO): 1/|o_i| makes wrong answers cheaper per token when they are long, so "
    "wrong responses grow; the std division adds a difficulty bias. DAPO (Yu et al. 2025) averages over all "
    "tokens of the batch. TRL's docs call the per-response normalisation 'not recommended due to length bias'.",
)
