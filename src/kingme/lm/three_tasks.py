"""Three tasks in one model: two the base knows and a third it barely knows, for asking how much of
the old two a model forgets while it learns the third (the `rl-razor` experiment).

`ThreeTasks` holds, as levels of one task (so one base is pre-trained on all three and a level mix
picks what it sees):
- A, addition of 1-2 digits without a scratchpad (levels 1-2), an old task;
- B, paths of 1-2 edges (levels 3-4), an old task;
- C, Countdown with two numbers of 1-30 and a target up to 99 (level 5: `3,14:42=` -> `14*3`), the new
  task (126 distinct prompts in its test split).

The base is pre-trained with a small share of C (its level mix), so it starts with some skill at C
for RL to build on. `view` gives the same task cut to some of the three (same widths, so the same
model reads it): `view("C")` is what fine-tuning and its test set see, `view("A")` and `view("B")`
what forgetting is measured on.

`off_form` writes a C solution in a form its verifier accepts but the base never saw (wrapped in
two pairs of parentheses, `((14*3))`): the target of the positive control's fine-tuning.

As plug-ins: `kingme.lm.three_tasks:Three` (all three), `...:OnlyA`, `...:OnlyB`, `...:OnlyC`, built as
`Name(max_level)` (the level argument is not used: the levels are fixed).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kingme.common import UserError
from kingme.lm.tasks import Addition, Countdown, Path, Problem, Task

LEVELS: dict[str, tuple[int, ...]] = {"A": (1, 2), "B": (3, 4), "C": (5,)}  # each task's levels in ThreeTasks
NAMES = {"A": "addition (old)", "B": "paths (old)", "C": "countdown (new)"}


class ThreeTasks(Task):
    """Addition (A, levels 1-2), paths (B, levels 3-4) and two-number Countdown (C, level 5) in one task;
    with `only`, just those of the three (module docstring)."""

    def __init__(self, only: str = "ABC") -> None:
        if not only or any(t not in LEVELS for t in only):
            raise UserError(f"ThreeTasks: `only` takes letters of ABC, got {only!r}")
        self.a, self.b, self.c = Addition(2, use_scratchpad=True), Path(2), Countdown(2, max_number=30)
        self.inner_tasks: dict[str, Task] = {"A": self.a, "B": self.b, "C": self.c}
        self.only = "".join(t for t in "ABC" if t in only)
        self.name = "three_tasks" if self.only == "ABC" else f"three_tasks_{self.only}"
        self.levels = tuple(lv for t in self.only for lv in LEVELS[t])
        tasks = self.inner_tasks.values()
        self.prompt_width = max(t.prompt_width for t in tasks)  # every view as wide as the whole
        self.response_width = max(*(t.response_width for t in tasks), len(off_form("30+30")) + 1)  # room for off_form

    def view(self, only: str) -> ThreeTasks:
        """The same three tasks cut to `only` (e.g. "C"): same widths, so the same model reads them."""
        return ThreeTasks(only)

    def which(self, prompt: str) -> str:
        """The letter of the task a prompt belongs to."""
        if Addition._PROMPT.match(prompt):
            return "A"
        return "C" if Countdown._PROMPT.match(prompt) else "B"

    def sample(self, rng: np.random.Generator, level: int) -> Problem:
        for letter in self.only:
            if level in LEVELS[letter]:
                inner_level = level - LEVELS[letter][0] + self.inner_tasks[letter].levels[0]
                p = self.inner_tasks[letter].sample(rng, inner_level)
                return Problem(p.prompt, p.solution, level, level)
        raise UserError(f"{self.name} has no level {level} (levels {self.levels})")

    def verify(self, prompt: str, response: str) -> bool:
        return self.inner_tasks[self.which(prompt)].verify(prompt, response)


def off_form(solution: str) -> str:
    """A C solution wrapped in two pairs of parentheses: `14*3` -> `((14*3))` (the verifier accepts it)."""
    return f"(({solution}))"


def _factory(only: str) -> Callable[[int], ThreeTasks]:
    return lambda max_level: ThreeTasks(only)


Three, OnlyA, OnlyB, OnlyC = (_factory(o) for o in ("ABC", "A", "B", "C"))
