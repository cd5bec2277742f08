"""Simulated labellers: preference pairs over responses to a task's prompts, with known flaws.

A learned reward model is fitted to preferences, and preferences come from labellers who are
noisy and biased. Here the labeller is simulated, so every flaw is a knob with a known size and
the truth is known: the gold reward is the task's exact verifier, g(q, o) = 1 if the verifier
accepts response o to prompt q, else 0.

The labeller scores each response with a utility

    u(q, o) = w_gold · g(q, o) + b_agree · agree(q, o) + b_len · |o| + b_format · formed(o)

- agree(q, o) = 1 when the prompt states a belief (`with_belief`: "131;47+85=", the user's claim
  that the answer is 131) and the response's answer equals it, else 0: the sycophancy bias;
- |o| the response's length in characters (EOS not counted): a length bias, per character;
- formed(o) = 1 when the response is well formed for the task (`well_formed`), right or wrong;

then prefers a over b with the Bradley-Terry probability at temperature T, and finally flips the
label with probability ε:

    p(a ≻ b) = σ((u(a) − u(b)) / T)            (T = 0: 1, 0 or ½ as u(a) >, < or = u(b))
    p_label  = (1 − ε) · p(a ≻ b) + ε · (1 − p(a ≻ b))

A noiseless, unbiased labeller (w_gold = 1, ε = 0, T = 0, no bias) prefers the right response of a
right/wrong pair every time and tosses a fair coin between two right or two wrong ones.

Responses come from a base model (`sample_groups`: G samples per prompt, two distinct ones make a
pair) or are given (`pairs_from_groups`). Everything here is pure given its numpy Generator (and,
for sampling, torch's seed): the same seed gives the same pairs.

Stated beliefs (`state_belief`) are written for the addition task, whose answer is a number: the
correct sum, or with probability `wrong_share` the sum moved by 1 to 10. A belief sits in front of
the task's prompt, separated by `;` (`kingme.lm.prompts`, the one place for prompt prefixes, which
hints share), so `split_belief` recovers both and the verifier reads the bare prompt.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from kingme.common import UserError
from kingme.lm.hints import claimed_answer
from kingme.lm.prompts import SEP, split_prefix, with_prefix
from kingme.lm.tasks import (
    Addition,
    Countdown,
    Path,
    Problem,
    Split,
    Task,
    addition_answer,
    evaluate_expression,
    sample_problems,
)
from kingme.transformer import GPT

BELIEF_SEP = SEP  # one separator for every prefix (`kingme.lm.prompts`)


@dataclass(frozen=True)
class Labeller:
    """A simulated labeller's knobs (see the module docstring for the equations)."""

    flip: float = 0.0  # ε: probability that the final label is flipped
    temperature: float = 0.0  # T of the Bradley-Terry choice; 0 = always the higher utility
    gold_weight: float = 1.0  # w_gold: weight of the exact verifier's verdict
    agreement_bias: float = 0.0  # b_agree: utility of agreeing with the prompt's stated belief
    length_bias: float = 0.0  # b_len: utility per character of response (negative: prefers short)
    format_bias: float = 0.0  # b_format: utility of a well-formed response, right or wrong

    def validate(self) -> None:
        """A `UserError` for a knob outside its range."""
        if not 0.0 <= self.flip <= 1.0:
            raise UserError(f"the labeller's flip probability must be in [0, 1], got {self.flip}")
        if not (self.temperature >= 0.0 and math.isfinite(self.temperature)):
            raise UserError(f"the labeller's temperature must be finite and >= 0, got {self.temperature}")
        for name in ("gold_weight", "agreement_bias", "length_bias", "format_bias"):
            if not math.isfinite(getattr(self, name)):
                raise UserError(f"the labeller's {name} must be finite, got {getattr(self, name)}")


@dataclass(frozen=True)
class Preference:
    """One labelled pair: the labeller preferred `chosen` to `rejected` as responses to `prompt`.

    `prompt` is what the labeller and the reward model read (with its stated belief, if any); the
    gold rewards are the exact verifier's verdicts on the bare prompt.
    """

    prompt: str
    chosen: str
    rejected: str
    gold_chosen: float
    gold_rejected: float


# ---------------------------------------------------------------------------------------------
# Stated beliefs
# ---------------------------------------------------------------------------------------------


def with_belief(prompt: str, belief: str) -> str:
    """The prompt with the user's stated belief in front: with_belief("47+85=", "131") = "131;47+85="
    (`prompts.with_prefix`)."""
    return with_prefix(prompt, belief)


def split_belief(text: str) -> tuple[str | None, str]:
    """(belief or None, the task's bare prompt): the inverse of `with_belief` (`prompts.split_prefix`)."""
    return split_prefix(text)


def state_belief(task: Task, problem: Problem, rng: np.random.Generator, wrong_share: float) -> str:
    """A belief about the answer of an addition problem: the correct sum, or with probability
    `wrong_share` the sum moved by a nonzero offset in [-10, 10] (kept non-negative); the claimed
    answer of a hint (`hints.claimed_answer`)."""
    if not isinstance(task, Addition):
        raise UserError(f"stated beliefs are written for the addition task only, not {task.name}")
    return claimed_answer(task, problem, rng, wrong_share)


def answer_of(task: Task, response: str) -> str:
    """The part of a response that states the answer: after the last `:` for a scratchpad addition,
    else the whole response."""
    return addition_answer(task, response) if isinstance(task, Addition) else response


def agrees(task: Task, prompt: str, response: str) -> bool:
    """Whether the response's answer is the belief the prompt states (False when it states none)."""
    belief, _ = split_belief(prompt)
    return belief is not None and answer_of(task, response) == belief


def well_formed(task: Task, response: str) -> bool:
    """Whether a response has the task's answer format, right or wrong: digits (addition, the part
    after the last `:` with a scratchpad), two or more letters (path), an expression that parses
    (countdown). A task without a known format counts every response as formed."""
    if isinstance(task, Addition):
        return addition_answer(task, response).isdigit()
    if isinstance(task, Path):
        return re.fullmatch(r"[a-z]{2,}", response) is not None
    if isinstance(task, Countdown):
        return evaluate_expression(response) is not None
    return True


# ---------------------------------------------------------------------------------------------
# The labeller's maths
# ---------------------------------------------------------------------------------------------


def gold_reward(task: Task, prompt: str, response: str) -> float:
    """g(q, o): 1.0 if the task's exact verifier accepts the response to the bare prompt, else 0.0."""
    return float(task.verify(split_belief(prompt)[1], response))


def utility(labeller: Labeller, task: Task, prompt: str, response: str) -> float:
    """u(q, o) = w_gold·g + b_agree·agree + b_len·|o| + b_format·formed (module docstring)."""
    return (
        labeller.gold_weight * gold_reward(task, prompt, response)
        + labeller.agreement_bias * float(agrees(task, prompt, response))
        + labeller.length_bias * len(response)
        + labeller.format_bias * float(well_formed(task, response))
    )


def preference_probability(u_a: float, u_b: float, temperature: float, flip: float) -> float:
    """The probability that the labeller's label says a ≻ b:

    p = σ((u_a − u_b) / T) (at T = 0: 1, 0 or ½ as u_a >, < or = u_b), then
    p_label = (1 − ε)·p + ε·(1 − p) with ε = flip.
    """
    diff = u_a - u_b
    if temperature == 0.0:
        p = 1.0 if diff > 0 else 0.0 if diff < 0 else 0.5
    else:
        z = diff / temperature
        p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))  # σ without overflow
    return (1.0 - flip) * p + flip * (1.0 - p)


def label(labeller: Labeller, task: Task, prompt: str, a: str, b: str, rng: np.random.Generator) -> Preference:
    """The labeller's verdict on one pair: a Bernoulli draw with `preference_probability`."""
    u_a, u_b = utility(labeller, task, prompt, a), utility(labeller, task, prompt, b)
    a_wins = rng.random() < preference_probability(u_a, u_b, labeller.temperature, labeller.flip)
    chosen, rejected = (a, b) if a_wins else (b, a)
    return Preference(prompt, chosen, rejected, gold_reward(task, prompt, chosen), gold_reward(task, prompt, rejected))


# ---------------------------------------------------------------------------------------------
# Pairs from groups of responses
# ---------------------------------------------------------------------------------------------


def pairs_from_groups(
    labeller: Labeller,
    task: Task,
    prompts: Sequence[str],
    groups: Sequence[Sequence[str]],
    rng: np.random.Generator,
) -> list[Preference]:
    """One labelled pair per prompt: two distinct responses of its group, drawn at random, in a random
    order; a prompt whose group holds fewer than two distinct responses gives no pair."""
    out = []
    for prompt, group in zip(prompts, groups, strict=True):
        distinct = sorted(set(group))  # sorted: a set's order changes with PYTHONHASHSEED
        if len(distinct) < 2:
            continue
        i, j = (int(k) for k in rng.choice(len(distinct), size=2, replace=False))
        out.append(label(labeller, task, prompt, distinct[i], distinct[j], rng))
    return out


@torch.no_grad()
def sample_groups(
    model: GPT,
    task: Task,
    prompts: Sequence[str],
    group_size: int,
    temperature: float = 1.0,
    device: str = "cpu",
) -> list[list[str]]:
    """`group_size` responses of the model to each bare task prompt (torch's global seed draws them)."""
    from kingme.lm.sampling import decode_responses, encode_prompts, generate

    repeated = [p for p in prompts for _ in range(group_size)]
    gen = generate(model, encode_prompts(repeated, task.prompt_width, device), task.response_width, temperature)
    texts = decode_responses(gen)
    return [texts[i * group_size : (i + 1) * group_size] for i in range(len(prompts))]


def draw_pairs(
    model: GPT,
    task: Task,
    labeller: Labeller,
    n: int,
    split: Split,
    rng: np.random.Generator,
    group_size: int = 4,
    temperature: float = 1.0,
    belief_share: float = 0.0,
    wrong_belief_share: float = 0.5,
    device: str = "cpu",
    rounds: int = 20,
    distinct: bool = False,
) -> list[Preference]:
    """`n` labelled pairs over the model's responses to prompts of `split`.

    Problems are drawn in batches of max(64, n) (at most 1024); a share `belief_share` of their
    prompts carries a stated belief (`state_belief`, wrong with probability `wrong_belief_share`); the
    model samples `group_size` responses to each bare prompt and `pairs_from_groups` labels two
    distinct ones. A `UserError` if `rounds` batches give fewer than n pairs (a model that nearly
    always writes the same response, or with `distinct`, a split with fewer prompts than n).

    With `distinct`, no prompt gives two pairs: held-out pairs then measure generalisation over
    prompts, not over the few prompts a small level holds (addition's level 1 has 11 test prompts).
    """
    batch = min(1024, max(64, n))
    pairs: list[Preference] = []
    used: set[str] = set()
    for _ in range(rounds):
        if len(pairs) >= n:
            break
        # distinct: only the pairs still missing (asking a small split for more spins through its tries)
        problems = sample_problems(task, rng, n - len(pairs) if distinct else batch, split, distinct=distinct)
        if distinct:
            problems = [p for p in problems if p.prompt not in used]
            used.update(p.prompt for p in problems)
            if not problems:
                continue
        groups = sample_groups(model, task, [p.prompt for p in problems], group_size, temperature, device)
        shown = [
            with_belief(p.prompt, state_belief(task, p, rng, wrong_belief_share))
            if rng.random() < belief_share
            else p.prompt
            for p in problems
        ]
        new = pairs_from_groups(labeller, task, shown, groups, rng)
        if distinct:  # a prompt whose group gave no pair may come back in a later batch
            used.difference_update(p.prompt for p in problems)
            used.update(split_belief(p.prompt)[1] for p in new)
        pairs += new
    if len(pairs) < n:
        raise UserError(
            f"only {len(pairs)} of {n} {split} pairs: the model's {group_size} responses to a prompt are rarely "
            "distinct (raise --group-size or --temperature)"
            + (", or the split holds too few prompts" if distinct else "")
        )
    return pairs[:n]


def gold_agreement(pairs: Sequence[Preference]) -> tuple[float, int]:
    """(share of the pairs with unequal gold rewards whose chosen response has the higher gold
    reward, how many such pairs); the share is nan when there are none."""
    decisive = [p for p in pairs if p.gold_chosen != p.gold_rejected]
    if not decisive:
        return float("nan"), 0
    return sum(p.gold_chosen > p.gold_rejected for p in decisive) / len(decisive), len(decisive)
