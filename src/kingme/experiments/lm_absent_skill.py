"""Language model, claim 3: you can't reinforce what doesn't exist (Yue et al. 2025; Ran-Milo et al. 2026).

The skill: a carry out of the tens digit (`carry_reach` = 2: a two-digit sum of three digits, e.g.
57+68 = 125). Pre-training either holds it out entirely (`--max-skill 1`: the base never sees a sum
of 100 or more) or lets it in at a small share (`--held-out-share`); RL (GRPO, exact verifier) then
trains on every problem. The skill's held-out test problems are scored before and after RL, greedy
and by pass@k, and a third arm takes the one-digit sums (the simple examples) out of RL's prompts.
"""

from __future__ import annotations

from kingme.experiments.base import UNIT, UNIT_DIFFERENCE, Arm, Curve, Experiment, Metric, Results
from kingme.experiments.lm_runs import ADDITION_BASE, LM, REWARD_CURVE, TEST_CURVE, TEST_PASS1, lm_arm, paired
from kingme.experiments.summaries import gain, last

SKILL = 2  # a carry out of the tens digit
SHARE = 0.05  # its share of the pre-training set in the "rare" arms
UPDATES = 30
KS = (1, 8, 64)
ABSENT, RARE, RARE_HARD = "absent", f"rare ({SHARE:.0%})", f"rare ({SHARE:.0%}), RL on two-digit sums only"


def arms(tiny: bool) -> list[Arm]:
    common = {"algo": "grpo", "updates": UPDATES, "eval_every": 10, "skill": SKILL, "skill_problems": 128}
    common |= {"pass_k": KS, "pass_samples": 64, "pass_problems": 32}
    absent = {"pretrain_max_skill": SKILL - 1}
    rare = absent | {"pretrain_held_out_share": SHARE}
    return [
        lm_arm(ABSENT, "addition", tiny, ADDITION_BASE, **absent, **common),
        lm_arm(RARE, "addition", tiny, ADDITION_BASE, **rare, **common),
        lm_arm(RARE_HARD, "addition", tiny, ADDITION_BASE, **rare, **common, mix=(0.0, 1.0)),
    ]


def conclude(results: Results) -> list[str]:
    out = []
    for arm in (ABSENT, RARE, RARE_HARD):
        b, a = results.summary(arm, "base_skill"), results.summary(arm, "skill")
        d, word = paired(results, arm, "skill_gain", "RL raised it", "RL lowered it")
        bk, ak = results.summary(arm, f"base_pass@{KS[-1]}"), results.summary(arm, f"pass@{KS[-1]}")
        out.append(
            f"{arm}: the skill's greedy pass@1 {b.fmt(3)} → {a.fmt(3)} (per seed {d}: {word}); its pass@{KS[-1]} "
            f"{bk.fmt(3)} → {ak.fmt(3)}; all test problems {results.summary(arm, 'test_pass1').fmt(3)} at the end."
        )
    out.append(
        results.compare(RARE, ABSENT, "skill", "the skill's greedy pass@1 after RL")
        + " (the base differs too: compare the gains)"
    )
    out.append(results.compare(RARE, ABSENT, "skill_gain", "the skill's pass@1 gained by RL"))
    out.append(results.compare(RARE_HARD, RARE, "skill_gain", "the skill's pass@1 gained by RL without simple prompts"))
    return out


EXPERIMENT = Experiment(
    name="lm-absent-skill",
    title="Language model: can RL reinforce a skill absent from pre-training?",
    claim="RL sharpens what the base model can already do: a skill the base never samples (pass@k ≈ 0 at every k) "
    "gets no reward and cannot be reinforced; one present in a small share can (Yue et al. 2025). Learning it "
    "needs enough simple examples in the training distribution (Ran-Milo et al. 2026).",
    question="With the carry out of the tens digit absent from pre-training, or present in 5% of it, what does "
    "GRPO learn of it, and does removing the one-digit sums from RL's prompts change that?",
    setup=f"""
Bases per seed: `kingme lm pretrain addition --scratchpad --max-level 2 --steps 130 --max-skill 1`
(absent: no problem whose carry reaches the hundreds, so no sum of 100 or more) and the same with
`--held-out-share {SHARE}` ({SHARE:.0%} of the pre-training set drawn from those problems). RL: {UPDATES} GRPO
updates (P = 32 × G = 8, RLConfig defaults) on every problem of the train split, levels equal, or
on two-digit sums only (`mix=(0, 1)`, the third arm). The skill is scored on held-out test problems
whose carry reaches the hundreds: greedy pass@1 on 128 of them, and pass@k (k = 1, 8, 64) from 64
samples at temperature 1 of 32 of them, for the base and the policy of the same seed ("per seed" =
the paired difference). A short RL budget: what 30 updates do, not where longer training ends.
""",
    arms=arms,
    metrics=[
        TEST_PASS1,
        Metric("base_skill", "skill greedy pass@1, base", last("eval/base_skill_pass1"), bounds=UNIT),
        Metric("skill", "skill greedy pass@1 after RL", last("eval/skill_pass1"), bounds=UNIT),
        Metric(
            "skill_gain",
            "skill greedy pass@1 gained",
            gain("eval/skill_pass1", "eval/base_skill_pass1"),
            bounds=UNIT_DIFFERENCE,
        ),
        *[Metric(f"base_pass@{k}", f"skill pass@{k}, base", last(f"eval/base_pass@{k}"), bounds=UNIT) for k in KS],
        *[Metric(f"pass@{k}", f"skill pass@{k} after RL", last(f"eval/pass@{k}"), bounds=UNIT) for k in KS],
    ],
    curves=[
        TEST_CURVE,
        Curve(
            "charts/test_pass1_level_2", "test pass@1, two-digit sums", bounds=(0.0, 1.0), xlabel="responses sampled"
        ),
        REWARD_CURVE,
    ],
    conclude=conclude,
    kind=LM,
    published="Yue et al. (2025): RL-trained models win at pass@1 and the base models at large k: RL sharpens, it "
    "does not add (the 'can't reinforce what doesn't exist' remark, measured). Ran-Milo, Alexander, Mendel & Cohen "
    "(2026): with outcome-only reward, a one-layer transformer on graph traversal provably learns a step-by-step "
    "chain only if the training distribution has enough mass on short chains.",
)
