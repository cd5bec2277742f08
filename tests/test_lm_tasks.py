"""The tasks' verifiers on hand-worked examples, the held-out split and the pre-training controls."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from kingme.common import UserError
from kingme.lm.tasks import (
    Addition,
    Countdown,
    Path,
    carry_reach,
    evaluate_expression,
    make_task,
    reward_fn,
    sample_problems,
    scratchpad,
    split_of,
)
from kingme.lm.vocab import decode, encode

SAMPLE_SCRIPT = """
import numpy as np
from kingme.lm.tasks import make_task, sample_problems
for name in ("addition", "path", "countdown"):
    print([p.prompt for p in sample_problems(make_task(name, 3), np.random.default_rng(7), 5, "train")])
"""


def test_addition_verifier() -> None:
    task = Addition(3)
    assert task.verify("47+85=", "132")
    assert not task.verify("47+85=", "131")
    assert not task.verify("47+85=", "")
    assert not task.verify("47+85=", "13 2")
    assert not task.verify("47+85=", "-132")
    assert not task.verify("47+85", "132")  # not a prompt of this task
    assert task.verify("0+0=", "0")


def test_addition_scratchpad_and_carries() -> None:
    assert scratchpad(47, 85) == "7+5+0=12,4+8+1=13:132"
    assert scratchpad(5, 123) == "5+3+0=8,0+2+0=2,0+1+0=1:128"
    task = Addition(3, use_scratchpad=True)
    assert task.verify("47+85=", "7+5+0=12,4+8+1=13:132")
    assert task.verify("47+85=", "garbled steps:132")  # the reward is for the answer only
    assert not task.verify("47+85=", "7+5+0=12,4+8+1=13:133")
    assert not task.verify("47+85=", "7+5+0=12,4+8+1=13")  # no answer after ':'
    assert carry_reach(47, 85) == 2  # units carry (reach 1), tens carry (reach 2)
    assert carry_reach(123, 456) == 0
    assert carry_reach(5, 5) == 1
    assert carry_reach(951, 50) == 3  # only the hundreds carry: 9 + 0 + 1
    assert carry_reach(999, 1) == 3


def test_path_verifier_checks_every_edge() -> None:
    task = Path(4)
    prompt = "ab,bc,cd,ae|a>d:"
    assert task.verify(prompt, "abcd")
    assert task.verify("ab,bc,cd,ae|d>a:", "dcba")  # edges are undirected
    assert task.verify(prompt, "abcbcd")  # any walk counts, the shortest is not required
    assert not task.verify(prompt, "abd")  # b-d is not an edge
    assert not task.verify(prompt, "bcd")  # does not start at a
    assert not task.verify(prompt, "abc")  # does not end at d
    assert not task.verify(prompt, "a")
    assert not task.verify(prompt, "ab-cd")


def test_countdown_verifier() -> None:
    task = Countdown(4)
    assert task.verify("2,3,5:16=", "(3+5)*2")
    assert task.verify("2,3,5:16=", "2*(5+3)")
    assert not task.verify("2,3,5:16=", "3+5*2")  # 13: precedence is respected
    assert not task.verify("2,3,5:16=", "(3+5)*2*1")  # 1 is not given
    assert not task.verify("2,3,5:16=", "(3+5)+8")  # 8 is not given, 2 unused
    assert not task.verify("2,3,5:10=", "5*2")  # 3 unused: each number exactly once
    assert not task.verify("3,3,6:3=", "6/(3/3)*3/3")  # 3 used four times
    assert task.verify("2,4,8:1=", "8/4/2")  # left to right: (8/4)/2
    assert task.verify("2,4,8:4=", "8/(4/2)")  # parentheses first: 8/(4/2) = 4
    assert not task.verify("1,1:0=", "1/(1-1)")  # division by zero is wrong, not a crash
    assert evaluate_expression("2*(3") is None
    assert evaluate_expression("2**3") is None
    assert evaluate_expression("(1+2)*4") is not None


@pytest.mark.parametrize("name", ["addition", "path", "countdown"])
def test_generated_solutions_verify_and_fit_the_widths(name: str) -> None:
    rng = np.random.default_rng(0)
    for scratch in [False, True] if name != "path" else [False]:
        task = make_task(name, 3, scratchpad=scratch)
        problems = sample_problems(task, rng, 200, "train")
        assert {p.level for p in problems} == set(task.levels)
        for p in problems:
            assert task.verify(p.prompt, p.solution), p
            assert len(p.prompt) <= task.prompt_width and len(p.solution) + 1 <= task.response_width
            assert decode(encode(p.prompt + p.solution)) == p.prompt + p.solution
            marks = task.check_steps(p.prompt, p.solution)  # a written-out solution: every step right
            if scratch:
                assert marks is not None and marks.all_right and marks.follows and marks.answer_right, p
            else:
                assert marks is None


def test_train_and_test_splits_never_share_a_prompt() -> None:
    task = Addition(2)
    rng = np.random.default_rng(1)
    train = {p.prompt for p in sample_problems(task, rng, 2000, "train")}
    test = {p.prompt for p in sample_problems(task, rng, 300, "test")}
    assert train and test and not train & test
    assert all(split_of(p) == "test" for p in test)
    share = np.mean([split_of(f"{a}+{b}=") == "test" for a in range(100) for b in range(100)])
    assert 0.07 < share < 0.13  # about TEST_SHARE of all prompts


def test_the_test_set_holds_each_prompt_once() -> None:
    """Level 1 of addition has 11 test prompts: drawn with replacement they were half of 256 problems."""
    from kingme.lm.tasks import test_set

    task = Addition(2)
    with_replacement = sample_problems(task, np.random.default_rng(10_001), 256, "test")
    assert sum(p.level == 1 for p in with_replacement) > 100  # the old weighting: 11 prompts, ~half the score
    problems = test_set(task, 1, 256)
    prompts = [p.prompt for p in problems]
    assert len(prompts) == len(set(prompts)) == 256
    assert sum(p.level == 1 for p in problems) == 11  # every level-1 test prompt, once
    assert all(split_of(p) == "test" for p in prompts)
    assert len(test_set(Addition(1), 1, 50)) == 11  # fewer come back when the split has fewer
    assert [p.prompt for p in test_set(task, 1, 256)] == prompts  # fixed by the seed


def test_mix_and_held_out_skills() -> None:
    rng = np.random.default_rng(2)
    task = Addition(3)
    only_three = sample_problems(task, rng, 100, "train", mix=(0, 0, 1))
    assert {p.level for p in only_three} == {3}
    no_long_carries = sample_problems(task, rng, 300, "train", max_skill=1)
    assert all(p.skill <= 1 for p in no_long_carries)
    assert all(carry_reach(*map(int, p.prompt[:-1].split("+"))) <= 1 for p in no_long_carries)
    short_paths = sample_problems(Path(4), rng, 100, "train", max_skill=2)
    assert {p.level for p in short_paths} == {1, 2}
    with pytest.raises(UserError, match="shares"):
        sample_problems(task, rng, 1, "train", mix=(1, 1))
    with pytest.raises(UserError, match="vocabulary"):
        encode("47 + 85")


def test_problems_depend_on_the_seed_only_not_on_python_hash_randomisation() -> None:
    """The same seed draws the same problems in every process (a set's order follows PYTHONHASHSEED)."""
    outs = [
        subprocess.run(
            [sys.executable, "-c", SAMPLE_SCRIPT],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for seed in ("1", "2")
    ]
    assert outs[0] == outs[1] and outs[0].count("[") == 3


def test_flawed_rewards_by_hand() -> None:
    task = Addition(2, use_scratchpad=True)
    exact, last, fmt = (reward_fn(task, k) for k in ("exact", "last_digit", "format"))  # type: ignore[arg-type]
    right, wrong_end, wrong = "7+5+0=12,4+8+1=13:132", "7+5+0=12,4+8+1=14:142", "7+5+0=12,4+8+1=13:131"
    assert (exact("47+85=", right), last("47+85=", right), fmt("47+85=", right)) == (1.0, 1.0, 1.0)
    assert (exact("47+85=", wrong_end), last("47+85=", wrong_end), fmt("47+85=", wrong_end)) == (0.0, 1.0, 0.1)
    assert (exact("47+85=", wrong), last("47+85=", wrong), fmt("47+85=", wrong)) == (0.0, 0.0, 0.1)
    assert (last("47+85=", "7+5+0=12:"), fmt("47+85=", "7+5+0=12:")) == (0.0, 0.0)  # no answer: nothing paid
    assert reward_fn(Addition(2), "last_digit")("9+9=", "8") == 1.0  # 18 ends in 8; no scratchpad
    with pytest.raises(UserError, match="addition task only"):
        reward_fn(make_task("path", 2), "last_digit")


def test_a_skill_test_set_holds_that_skill_only() -> None:
    from kingme.lm.tasks import test_set

    task = Addition(2)
    problems = test_set(task, 1, 50, skill=2)
    assert len(problems) == 50 and all(p.skill == 2 and split_of(p.prompt) == "test" for p in problems)
    assert all(int(p.prompt.split("+")[0]) + int(p.prompt[:-1].split("+")[1]) >= 100 for p in problems)
    assert [p.prompt for p in test_set(task, 1, 50)] == [p.prompt for p in test_set(task, 1, 50, skill=None)]


def test_pretraining_can_let_a_held_out_skill_back_in_at_a_share() -> None:
    from kingme.lm.pretrain import PretrainConfig, training_set

    task = Addition(2)
    absent = training_set(task, np.random.default_rng(0), PretrainConfig(max_level=2, max_skill=1, train_size=2000))
    assert max(p.skill for p in absent) == 1 and len(absent) == 2000
    cfg = PretrainConfig(max_level=2, max_skill=1, held_out_share=0.05, train_size=2000)
    rare = training_set(task, np.random.default_rng(0), cfg)
    assert len(rare) == 2000 and sum(p.skill == 2 for p in rare) == 100  # 5% from the held-out skill
    assert {p.skill for p in rare[:200]} >= {0, 1, 2}  # shuffled in, not appended
    with pytest.raises(UserError, match="held-out-share needs --max-skill"):
        PretrainConfig(held_out_share=0.1).validate()


def test_a_scratchpad_share_cuts_the_rest_to_the_bare_answer_which_still_verifies() -> None:
    from kingme.lm.pretrain import PretrainConfig, training_set

    task = Addition(2, use_scratchpad=True)
    full = PretrainConfig(max_level=2, scratchpad=True, train_size=2000)
    written = training_set(task, np.random.default_rng(0), full)
    assert all(":" in p.solution for p in written)  # share 1: every solution written out, as before
    cfg = PretrainConfig(max_level=2, scratchpad=True, scratchpad_share=0.3, train_size=2000)
    mixed = training_set(task, np.random.default_rng(0), cfg)
    assert [p.prompt for p in mixed] == [p.prompt for p in written]  # the same problems, only cut
    kept = [":" in p.solution for p in mixed]
    assert 500 <= sum(kept) <= 700  # about 30% written out (600 expected; binomial sd 20)
    for p, w in zip(mixed, written, strict=True):
        assert p.solution == (w.solution if ":" in p.solution else w.solution.rsplit(":", 1)[-1])
        assert task.verify(p.prompt, p.solution)  # the bare answer is accepted too
    assert len(mixed[kept.index(False)].solution) <= 3 < len(mixed[kept.index(True)].solution) - 10
    with pytest.raises(UserError, match="scratchpad-share needs --scratchpad"):
        PretrainConfig(scratchpad_share=0.5).validate()
    with pytest.raises(UserError, match=r"scratchpad-share must be in \[0, 1\]"):
        PretrainConfig(scratchpad=True, scratchpad_share=1.5).validate()
