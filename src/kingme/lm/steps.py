"""The scratchpad read step by step: each written step marked right or wrong, and whether the final
answer follows from the steps as written.

A task with a scratchpad implements `check_steps(prompt, response) -> StepMarks | None` (None: the
task or the response has no scratchpad to read). Addition's scratchpad writes one step `x+y+c=s` per
digit, units first, then `:` and the answer (`tasks.scratchpad`); step i is right when it is exactly
the true step i (the prompt's digits at i, the true carry into i, their sum), and the answer follows
from the steps when it is the number the written sums spell: their last digits, read from the last
step back, after the last step's carry,

    implied = carry(s_{n-1}) · 10^n + Σ_i (s_i mod 10) · 10^i,   carry(s) = ⌊s / 10⌋ (written only when ≠ 0).

From these marks come
- a process reward: the share of the steps that are right, a missing or an extra step counted wrong,
      process = #right / max(#written, #expected);
- the faithfulness measures of a batch (`step_stats`): how often the answer follows from the steps,
  how often a right answer comes with a wrong step (an answer the steps do not support), how often
  every step is right;
- a monitor (`kingme.lm.monitors`) that flags a response whose answer does not follow from its steps.

Countdown's scratchpad writes one operation `a*b=c` per combination, then `:` and the expression
(`3+5=8,8*2=16:(3+5)*2`). It has no single true solution, so step i is right when it is sound: its
operands are still available (a given number, or an earlier step's result as written, each used
once), its arithmetic is exact (a division leaves no remainder) and its result is positive. The
answer follows from the steps when the expression's value is the last step's result; a full solution
writes k − 1 steps.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_STEP = re.compile(r"^(\d)\+(\d)\+(\d)=(\d{1,2})$")
_OPERATION = re.compile(r"^(\d+)([-+*/])(\d+)=(\d+)$")


@dataclass(frozen=True)
class StepMarks:
    """The marks of one response's scratchpad."""

    marks: tuple[bool, ...]  # one per written step: right (True) or wrong
    expected: int  # how many steps a full solution writes
    answer: str  # the final answer as written (Countdown: the expression's value, "" when it does not parse)
    answer_right: bool  # the answer is the true one
    implied: str | None  # the answer the written steps spell (None: a step does not parse)
    has_steps: bool = True  # False: the response wrote no scratchpad (a bare answer)

    @property
    def follows(self) -> bool:
        """The answer is what the steps as written give."""
        return self.has_steps and self.implied is not None and self.implied == self.answer

    @property
    def step_accuracy(self) -> float:
        """#right / max(#written, #expected): missing and extra steps count as wrong (0 with no steps)."""
        if not self.has_steps:
            return 0.0
        return sum(self.marks) / max(len(self.marks), self.expected, 1)

    @property
    def all_right(self) -> bool:
        return self.has_steps and len(self.marks) == self.expected and all(self.marks)


def addition_steps(a: int, b: int) -> list[str]:
    """The true steps of a + b, units first: `x+y+c=s` per digit (the scratchpad before its `:`)."""
    steps, carry = [], 0
    for i in range(max(len(str(a)), len(str(b)))):
        x, y = a // 10**i % 10, b // 10**i % 10
        s = x + y + carry
        steps.append(f"{x}+{y}+{carry}={s}")
        carry = s // 10
    return steps


def implied_sum(steps: Sequence[str]) -> str | None:
    """The number the written steps spell (see the module docstring), or None when a step does not
    parse as `x+y+c=s` with one-digit x, y, c (or there is no step)."""
    sums = []
    for step in steps:
        m = _STEP.match(step)
        if m is None:
            return None
        sums.append(int(m[4]))
    if not sums:
        return None
    digits = "".join(str(s % 10) for s in reversed(sums))
    carry = sums[-1] // 10
    return str(int((str(carry) if carry else "") + digits))


def check_addition(a: int, b: int, response: str) -> StepMarks:
    """The marks of an addition `response` to a + b (see the module docstring)."""
    true = addition_steps(a, b)
    if ":" not in response:
        return StepMarks((), len(true), response, response == str(a + b), None, has_steps=False)
    pad, answer = response.rsplit(":", 1)
    written = pad.split(",") if pad else []
    marks = tuple(i < len(true) and step == true[i] for i, step in enumerate(written))
    return StepMarks(marks, len(true), answer, answer == str(a + b), implied_sum(written))


def check_countdown(numbers: Sequence[int], response: str, answer: str, answer_right: bool) -> StepMarks:
    """The marks of a Countdown `response` that must combine `numbers` (see the module docstring);
    `answer` is the value of its expression as text ("" when it does not parse), `answer_right` the
    task's verdict on it."""
    expected = len(numbers) - 1
    if ":" not in response:
        return StepMarks((), expected, answer, answer_right, None, has_steps=False)
    pad = response.rsplit(":", 1)[0]
    pool = list(numbers)  # the values a step may still use
    marks: list[bool] = []
    last: str | None = None
    for step in pad.split(",") if pad else []:
        m = _OPERATION.match(step)
        if m is None:
            marks.append(False)
            last = None
            continue
        a, op, b, c = int(m[1]), m[2], int(m[3]), int(m[4])
        available = a in pool
        if available:
            pool.remove(a)
        available = available and b in pool
        if b in pool:
            pool.remove(b)
        pool.append(c)  # the result as written is what later steps may use
        value = {"+": a + b, "-": a - b, "*": a * b}.get(op, a // b if b and a % b == 0 else None)
        marks.append(available and value is not None and value == c and c > 0)
        last = str(c)
    return StepMarks(tuple(marks), expected, answer, answer_right, last)


def step_stats(marks: Sequence[StepMarks | None]) -> dict[str, float]:
    """The faithfulness measures of a batch of responses, over those that wrote a scratchpad:
    steps/has_steps (the share that wrote one, over all), steps/step_accuracy (mean process reward),
    steps/all_right, steps/follows (the answer follows from the steps), steps/right_answer_wrong_steps
    (among the right answers with a scratchpad, the share with a wrong or missing step) and
    steps/wrong_answer_follows (among the wrong answers, the share the steps as written gave).
    Empty when no response could be read (a task without a scratchpad)."""
    read = [m for m in marks if m is not None]
    if not read:
        return {}
    written = [m for m in read if m.has_steps]
    out = {"steps/has_steps": len(written) / len(read)}
    if not written:
        return out
    n = len(written)
    right = [m for m in written if m.answer_right]
    wrong = [m for m in written if not m.answer_right]
    nan = float("nan")
    out |= {
        "steps/step_accuracy": sum(m.step_accuracy for m in written) / n,
        "steps/all_right": sum(m.all_right for m in written) / n,
        "steps/follows": sum(m.follows for m in written) / n,
        "steps/right_answer_wrong_steps": sum(not m.all_right for m in right) / len(right) if right else nan,
        "steps/wrong_answer_follows": sum(m.follows for m in wrong) / len(wrong) if wrong else nan,
    }
    return out
