"""Scoring a model on a task: greedy accuracy, and pass@k from n samples per problem (Chen et al. 2021)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from kingme.lm.algos import pass_at_k
from kingme.lm.sampling import decode_responses, encode_prompts, generate
from kingme.lm.tasks import Problem, Task
from kingme.transformer import GPT


def correct(task: Task, prompts: Sequence[str], responses: Sequence[str]) -> list[bool]:
    return [task.verify(p, r) for p, r in zip(prompts, responses, strict=True)]


def greedy_accuracy(
    model: GPT, task: Task, problems: Sequence[Problem], batch: int = 256, device: str = "cpu"
) -> dict[str, float]:
    """Greedy pass@1 over `problems`: {"all": share correct, "level_L": share at level L}."""
    hits: list[bool] = []
    for start in range(0, len(problems), batch):
        chunk = problems[start : start + batch]
        prompts = [p.prompt for p in chunk]
        gen = generate(model, encode_prompts(prompts, task.prompt_width, device), task.response_width, 0.0)
        hits += correct(task, prompts, decode_responses(gen))
    out = {"all": float(np.mean(hits)) if hits else float("nan")}
    for level in task.levels:
        at = [h for h, p in zip(hits, problems, strict=True) if p.level == level]
        if at:
            out[f"level_{level}"] = float(np.mean(at))
    return out


def pass_at_ks(
    model: GPT,
    task: Task,
    problems: Sequence[Problem],
    ks: Sequence[int],
    n: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    batch: int = 512,
    device: str = "cpu",
) -> dict[int, float]:
    """The unbiased pass@k for each k in ks, from n ≥ max(ks) samples of every problem, averaged over problems."""
    if n < max(ks):
        raise ValueError(f"pass@{max(ks)} needs at least {max(ks)} samples per problem, got {n}")
    counts = []
    per_call = max(1, batch // n)  # problems per generate call, each repeated n times
    for start in range(0, len(problems), per_call):
        chunk = problems[start : start + per_call]
        prompts = [p.prompt for p in chunk for _ in range(n)]
        with torch.no_grad():
            gen = generate(
                model, encode_prompts(prompts, task.prompt_width, device), task.response_width, temperature, top_k
            )
        ok = np.array(correct(task, prompts, decode_responses(gen))).reshape(len(chunk), n)  # (problems, n)
        counts += ok.sum(axis=1).tolist()
    return {k: float(np.mean([pass_at_k(n, c, k) for c in counts])) for k in ks}
