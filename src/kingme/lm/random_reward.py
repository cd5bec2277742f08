"""A reward that is a coin flip: `--reward coin:P` pays 1 with probability P, else 0, whatever the response.

Shao et al. 2025 ("Spurious rewards", arXiv 2506.10947) paid GRPO's responses Bernoulli(γ) draws
independent of the response (γ = 0.5) and still saw Qwen2.5-Math improve; `coin:0.5` is that reward.
Each call of `score` draws fresh flips, one per response, from the reward's own NumPy generator, so
the flips never touch torch's random stream (the rollout's samples are those of any other reward)
and a run is reproducible:

- `coin:P:SEED` seeds the generator with SEED;
- `coin:P` seeds it with torch's initial seed at the moment the reward is built, which `kingme lm
  train` (`rl.train`) has just set to the run's --seed: runs of different seeds flip different coins.

A resumed run (`--resume`) builds the reward again, so its flips after the resume are not those of
the run had it not stopped (the generator's state is not in the checkpoint).

Imported on first use of the prefix `coin` (`rewards.PREFIX_MODULES`), which registers it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from kingme.common import UserError
from kingme.lm.rewards import register_reward
from kingme.lm.tasks import Task

PREFIX = "coin"


class CoinReward:
    """1 with probability `p`, else 0, drawn afresh for every response of every call; the response is not read."""

    def __init__(self, p: float, seed: int) -> None:
        if not 0.0 <= p <= 1.0:
            raise UserError(f"the coin reward's probability must be in [0, 1], got {p:g}")
        self.p, self.seed = p, seed
        self.rng = np.random.default_rng(seed)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        return [float(x) for x in (self.rng.random(len(responses)) < self.p)]


def parse_coin(arg: str) -> tuple[float, int | None]:
    """(P, SEED or None) from the text after `coin:`: "P" or "P:SEED"; a `UserError` otherwise."""
    p_text, sep, seed_text = arg.partition(":")
    try:
        p = float(p_text)
        seed = int(seed_text) if sep else None
    except ValueError:
        raise UserError(
            f"--reward coin takes coin:P or coin:P:SEED (P in [0, 1], SEED an integer), got coin:{arg}"
        ) from None
    if not 0.0 <= p <= 1.0:
        raise UserError(f"--reward coin:P needs P in [0, 1], got {p_text}")
    return p, seed


def coin_reward(task: Task, arg: str, device: str) -> CoinReward:
    """The factory registered under `coin`: `coin:P[:SEED]` (module docstring)."""
    p, seed = parse_coin(arg)
    return CoinReward(p, seed if seed is not None else torch.initial_seed())


register_reward(
    PREFIX,
    coin_reward,
    "coin flips: 1 with probability P, else 0, whatever the response (Shao et al. 2025's random reward)",
    prefix=True,
)
