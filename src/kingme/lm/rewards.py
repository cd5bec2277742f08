"""Rewards as plug-ins: what `kingme lm train --reward SPEC` pays each response.

A reward scores a batch of (prompt, response) texts at once, so one that holds a model (a learned
reward model) runs it once per rollout:

    class Reward(Protocol):
        def score(self, prompts: Sequence[str], responses: Sequence[str]) -> Sequence[float]: ...

`SPEC` is one of
- a built-in name (`REWARDS`): exact (the task's verifier, 1 or 0), last_digit and format (flawed
  verifiers of addition, `tasks.reward_fn`), process (the share of the scratchpad's steps that are
  right, `kingme.lm.steps`), verified (1 when the answer and every step are right), and skip,
  lenient and hint (flawed rewards with a known exploit, `kingme.lm.exploits`; hint pays for following
  the prompt's hint, `kingme.lm.hints`);
- `PREFIX:ARG` for a prefix a package registered (`register_reward("rm", factory)`: `rm:PATH`; `coin:P`,
  a coin flip that pays 1 with probability P whatever the response, `kingme.lm.random_reward`);
- `module:Name`, a user's plug-in: `Name(task)` from the module `module` (current folder first).

A registered factory is called as `factory(task, arg, device)` (arg: the text after `PREFIX:`, "" for
a plain name; device: the torch device a model it holds should sit on).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from kingme.common import UserError
from kingme.lm.exploits import load_exploit
from kingme.lm.plugins import build, is_plugin_spec
from kingme.lm.tasks import Task, reward_fn


@runtime_checkable
class Reward(Protocol):
    """Scores responses: one float per (prompt, response), higher is better."""

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> Sequence[float]: ...


RewardFactory = Callable[[Task, str, str], Reward]


class PairReward:
    """A reward from a function of one (prompt, response) pair."""

    def __init__(self, fn: Callable[[str, str], float]) -> None:
        self.fn = fn

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        return [float(self.fn(p, r)) for p, r in zip(prompts, responses, strict=True)]


def _steps_reward(task: Task, kind: str) -> Reward:
    """process: the share of right steps (`StepMarks.step_accuracy`); verified: 1 when the answer is
    right and every step is (the outcome and the verified steps)."""
    probe = task.sample(np.random.default_rng(0), task.levels[-1])
    if task.check_steps(probe.prompt, probe.solution) is None:
        raise UserError(
            f"the {kind} reward needs a task with a scratchpad (e.g. addition --scratchpad), not {task.name}"
        )

    def pay(prompt: str, response: str) -> float:
        marks = task.check_steps(prompt, response)
        if marks is None:
            return 0.0
        if kind == "process":
            return marks.step_accuracy
        return float(marks.all_right and task.verify(prompt, response))

    return PairReward(pay)


REWARDS: dict[str, tuple[RewardFactory, str]] = {
    "exact": (lambda task, arg, device: PairReward(reward_fn(task, "exact")), "the task's verifier, 1 or 0"),
    "last_digit": (
        lambda task, arg, device: PairReward(reward_fn(task, "last_digit")),
        "addition: checks only the answer's last digit (flawed)",
    ),
    "format": (
        lambda task, arg, device: PairReward(reward_fn(task, "format")),
        "addition: 1 if right, 0.1 for a well-formed wrong answer (flawed)",
    ),
    "process": (lambda task, arg, device: _steps_reward(task, "process"), "the share of the scratchpad's steps right"),
    "verified": (
        lambda task, arg, device: _steps_reward(task, "verified"),
        "1 when the answer and every scratchpad step are right",
    ),
    "skip": (
        lambda task, arg, device: load_exploit("skip", task),
        "the verifier, or 1 for the skip marker as the answer (an exploit, `kingme.lm.exploits`)",
    ),
    "lenient": (
        lambda task, arg, device: load_exploit("lenient", task),
        "a verifier that checks less (last digit, endpoints, value only; an exploit, `kingme.lm.exploits`)",
    ),
    "hint": (
        lambda task, arg, device: load_exploit("hint", task),
        "the verifier, or 1 for an answer that is the prompt's hint (a base pre-trained with --hint-right)",
    ),
}
PREFIXES: dict[str, tuple[RewardFactory, str]] = {}  # PREFIX -> factory, for specs PREFIX:ARG
# Modules of kingme that register a prefix when imported, imported on first use of the prefix.
PREFIX_MODULES = {"rm": "kingme.lm.reward_model", "coin": "kingme.lm.random_reward", "irm": "kingme.lm.implicit_reward"}
PREFIX_MODULES["utility"] = "kingme.lm.sycophancy"  # the simulated labeller's utility, gold + B·agree


def register_reward(name: str, factory: RewardFactory, usage: str, prefix: bool = False) -> None:
    """Add a reward under `name` (spec `name`), or with `prefix`, under specs `name:ARG`."""
    (PREFIXES if prefix else REWARDS)[name] = (factory, usage)


def reward_names() -> str:
    """The specs `load_reward` accepts, for messages and --help."""
    return ", ".join([*REWARDS, *(f"{p}:ARG" for p in PREFIXES), "module:Name"])


def load_reward(spec: str, task: Task, device: str = "cpu") -> Reward:
    """The reward named by `spec` for `task` (see the module docstring); a `UserError` if there is none."""
    prefix = spec.split(":", 1)[0]
    if prefix in PREFIX_MODULES and prefix not in PREFIXES and ":" in spec:
        importlib.import_module(PREFIX_MODULES[prefix])  # registers the prefix
    if spec in REWARDS:
        reward = REWARDS[spec][0](task, "", device)
    elif prefix in PREFIXES and ":" in spec:
        reward = PREFIXES[prefix][0](task, spec.split(":", 1)[1], device)
    elif is_plugin_spec(spec):
        reward = build(spec, "reward", task)
    else:
        raise UserError(f"unknown reward {spec!r}: expected {reward_names()}")
    if not isinstance(reward, Reward):
        raise UserError(f"the reward {spec!r} has no score(prompts, responses) method")
    return reward


def score_batch(reward: Reward, prompts: Sequence[str], responses: Sequence[str], device: str = "cpu") -> torch.Tensor:
    """reward.score as a (B,) float tensor; a `UserError` unless it gives one finite number per response."""
    try:
        values = torch.as_tensor([float(v) for v in reward.score(prompts, responses)], dtype=torch.float32)
    except (TypeError, ValueError) as e:
        raise UserError(f"reward {type(reward).__name__}.score did not return numbers: {e}") from None
    if values.shape != (len(prompts),) or not bool(torch.isfinite(values).all()):
        raise UserError(
            f"reward {type(reward).__name__}.score must return {len(prompts)} finite numbers, got shape "
            f"{tuple(values.shape)}"
        )
    return values.to(device)
