"""One-example RL (Wang et al. 2025, arXiv 2504.20571): RL whose every training prompt is one problem.

The RL loop draws its prompts with `tasks.sample_problems(task, rng, P, "train")`, which asks the
task for problems and keeps those of the train split. `OneExample(task, problem)` wraps a task so
that every train-split draw comes back as `problem` (a train-split problem) while test-split draws
are the wrapped task's own: `sample` draws from the wrapped task and, when the draw falls in the
train split, returns `problem` instead. So the loop trains on the one prompt repeated (P copies of
it per update, G samples each), and the held-out test set (`tasks.test_set`) is exactly the wrapped
task's: the same random draws, the same problems. Everything else (verifier, scratchpad reader,
widths) is the wrapped task's.

`pick_example` chooses the problem as Wang et al. chose theirs in spirit (by the variance of its
training accuracy): the train problem, among a few drawn at the task's top level, whose accuracy
under the base's samples is nearest one half, so its groups carry a learning signal from the start.
"""

from __future__ import annotations

import numpy as np
import torch

from kingme.lm.sampling import decode_responses, encode_prompts, generate
from kingme.lm.steps import StepMarks
from kingme.lm.tasks import Problem, Task, sample_problems, split_of
from kingme.transformer import GPT


class OneExample(Task):
    """`task` whose train split holds one problem, `problem` (module docstring)."""

    def __init__(self, task: Task, problem: Problem) -> None:
        if split_of(problem.prompt) != "train":
            raise ValueError(f"the one example must be a train-split problem, got {problem.prompt!r}")
        self.inner, self.problem = task, problem
        self.name, self.spec = task.name, task.spec
        self.levels, self.prompt_width, self.response_width = task.levels, task.prompt_width, task.response_width
        self.use_scratchpad = bool(getattr(task, "use_scratchpad", False))

    def sample(self, rng: np.random.Generator, level: int) -> Problem:
        drawn = self.inner.sample(rng, level)
        return drawn if split_of(drawn.prompt) == "test" else self.problem

    def verify(self, prompt: str, response: str) -> bool:
        return self.inner.verify(prompt, response)

    def check_steps(self, prompt: str, response: str) -> StepMarks | None:
        return self.inner.check_steps(prompt, response)


def sampled_accuracy(model: GPT, task: Task, problems: list[Problem], samples: int, seed: int) -> list[float]:
    """Each problem's share of `samples` responses (T = 1) its verifier accepts."""
    torch.manual_seed(seed)
    prompts = [p.prompt for p in problems for _ in range(samples)]
    model.eval()
    gen = generate(model, encode_prompts(prompts, task.prompt_width), task.response_width, temperature=1.0)
    ok = [task.verify(p, r) for p, r in zip(prompts, decode_responses(gen), strict=True)]
    return [sum(ok[i * samples : (i + 1) * samples]) / samples for i in range(len(problems))]


def pick_example(model: GPT, task: Task, seed: int, candidates: int = 64, samples: int = 16) -> tuple[Problem, float]:
    """The train problem, of `candidates` distinct ones drawn at the task's top level (seeded by `seed`),
    whose sampled accuracy under `model` is nearest 1/2 (the first such in the draw's order), and
    that accuracy."""
    rng = np.random.default_rng(seed + 40_000)
    top = [0.0] * (len(task.levels) - 1) + [1.0]  # the top level only
    problems = sample_problems(task, rng, candidates, "train", mix=top, distinct=True)
    acc = sampled_accuracy(model, task, problems, samples, seed + 40_000)
    best = int(np.argmin([abs(a - 0.5) for a in acc]))
    return problems[best], acc[best]
