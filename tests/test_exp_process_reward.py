"""process-reward's own logic: the planted slip and the sloppy task, the measures on a model-free
stand-in, and the verdict rules and positive control on hand-made results. (The tiny run through
`kingme experiment run` is tests/test_experiments.py's, for every experiment.)"""

from __future__ import annotations

import numpy as np

from kingme.experiments.base import Results, RunResult
from kingme.experiments.process_reward import (
    EXPERIMENT,
    OUTCOME,
    PLANTED,
    PROCESS,
    SLOPPY_SHARE,
    VERIFIED,
    SloppyAddition,
    control_detects,
    level_problems,
    slip,
    verdicts,
)
from kingme.lm.steps import check_addition
from kingme.lm.tasks import Addition


def test_a_slip_makes_one_step_wrong_and_keeps_the_answer() -> None:
    right = "7+5+0=12,4+8+1=13:132"  # 47+85
    for i, want in ((0, "7+5+0=13,4+8+1=13:132"), (1, "7+5+0=12,4+8+1=14:132")):
        wrong = slip(right, i)
        assert wrong == want
        marks = check_addition(47, 85, wrong)
        assert marks.answer_right and not marks.all_right and sum(marks.marks) == 1
    assert slip("9+9+1=19:19", 0) == "9+9+1=18:19"  # at 18 or more the sum goes down, a step stays one digit pair


def test_the_sloppy_task_plants_its_share_and_is_addition_otherwise() -> None:
    task, plain = SloppyAddition(3), Addition(3, use_scratchpad=True)
    assert (task.prompt_width, task.response_width) == (plain.prompt_width, plain.response_width)
    rng = np.random.default_rng(0)
    problems = [task.sample(rng, level) for level in (1, 2, 3) for _ in range(400)]
    slipped = 0
    for p in problems:
        assert task.verify(p.prompt, p.solution)  # the answer is always right
        marks = task.check_steps(p.prompt, p.solution)
        assert marks is not None and marks.answer_right
        slipped += not marks.all_right
    assert abs(slipped / len(problems) - SLOPPY_SHARE) < 0.05


def test_level_problems_hold_out_and_separate_the_levels() -> None:
    task = Addition(3, use_scratchpad=True)
    short, long = level_problems(task, 1, 40, (1, 2)), level_problems(task, 1, 40, (3,))
    assert {p.level for p in short} == {1, 2} and {p.level for p in long} == {3}
    assert len({p.prompt for p in long}) == 40
    assert [p.prompt for p in long] == [p.prompt for p in level_problems(task, 1, 40, (3,))]  # same for a seed


def _results(rows: dict[str, list[dict[str, float]]]) -> Results:
    results = EXPERIMENT.new_results(5, False, EXPERIMENT.arms(False))
    for arm, metrics in rows.items():
        for seed, m in enumerate(metrics, start=1):
            results.runs.append(RunResult(arm, "lm:addition", seed, 1.0, [0], {}, m))
    return results


SEEN = [{"raws_before": r} for r in (0.2, 0.15, 0.22, 0.18, 0.19)]  # the planted base's RAWS, read
BLIND = [{"raws_before": r} for r in (0.02, 0.0, 0.05, 0.01, 0.0)]  # no more than the plain base's


def _main(outcome_raws: list[float], verified_raws: list[float], gain: list[float], control: bool = True) -> Results:
    plain = [0.01, 0.02, 0.0, 0.03, 0.01]  # the plain base's RAWS (the main arms' raws_before)
    return _results(
        {
            PLANTED: SEEN if control else BLIND,
            OUTCOME: [
                {"raws_before": b, "raws_after": r, "long_pass16_after": 0.3}
                for b, r in zip(plain, outcome_raws, strict=True)
            ],
            VERIFIED: [{"raws_after": r} for r in verified_raws],
            PROCESS: [{"long_pass16_after": 0.3 + g} for g in gain],
        }
    )


def test_the_positive_control_by_hand() -> None:
    """The planted base's RAWS must read above the plain base's, paired by seed: 0.17 ± a little
    detects; a gap that straddles 0 does not."""
    flat = [0.1] * 5
    assert control_detects(_main(flat, flat, flat))
    assert not control_detects(_main(flat, flat, flat, control=False))
    assert not control_detects(_results({PLANTED: SEEN}))  # no plain base to compare with


def test_the_verdict_rules_by_hand() -> None:
    high, low = [0.2, 0.25, 0.22, 0.18, 0.21], [0.02, 0.03, 0.01, 0.02, 0.04]
    flat, up = [0.01, -0.01, 0.0, 0.02, -0.02], [0.1, 0.12, 0.08, 0.11, 0.09]
    assert verdicts(_main(high, low, up)) == {"A": "reproduced", "B": "reproduced"}
    assert verdicts(_main(high, high, flat)) == {"A": "not reproduced", "B": "not reproduced"}
    assert verdicts(_main([0.0, 0.01, 0.0, 0.005, 0.0], [0.0] * 5, flat))["A"] == "inconclusive"  # nothing to cut
    assert verdicts(_main(high, [0.2, 0.0, 0.3, 0.05, 0.1], [0.3, -0.2, 0.25, -0.1, 0.2])) == {
        "A": "inconclusive",
        "B": "inconclusive",
    }
    assert verdicts(_main(high, low, up, control=False)) == {"A": "inconclusive", "B": "inconclusive"}
