"""The coin-flip reward (kingme.lm.random_reward): seeded, fresh flips per call, independent of the text."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kingme.common import UserError
from kingme.lm.random_reward import CoinReward, parse_coin
from kingme.lm.rewards import load_reward, reward_names, score_batch
from kingme.lm.tasks import make_task

TASK = make_task("addition", 2, scratchpad=True)
PROMPTS = ["47+85="] * 400
RESPONSES = ["7+5+0=12,4+8+1=13:132"] * 200 + ["132"] * 200


def test_spec_loads_through_the_prefix_registry() -> None:
    reward = load_reward("coin:0.5:7", TASK)
    assert isinstance(reward, CoinReward) and reward.p == 0.5 and reward.seed == 7
    assert "coin:ARG" in reward_names()  # registered on first use of the prefix
    values = score_batch(reward, PROMPTS, RESPONSES)
    assert values.shape == (400,) and set(values.tolist()) <= {0.0, 1.0}


def test_reproducible_and_fresh_each_call() -> None:
    a, b = load_reward("coin:0.5:3", TASK), load_reward("coin:0.5:3", TASK)
    first_a, first_b = a.score(PROMPTS, RESPONSES), b.score(PROMPTS, RESPONSES)
    assert first_a == first_b  # the same seed, the same flips
    assert a.score(PROMPTS, RESPONSES) != first_a  # a second call flips again
    assert load_reward("coin:0.5:4", TASK).score(PROMPTS, RESPONSES) != first_a


def test_default_seed_is_torchs_initial_seed() -> None:
    torch.manual_seed(11)
    a = load_reward("coin:0.5", TASK)
    torch.manual_seed(11)
    b = load_reward("coin:0.5", TASK)
    torch.manual_seed(12)
    c = load_reward("coin:0.5", TASK)
    assert isinstance(a, CoinReward) and a.seed == 11
    assert a.score(PROMPTS, RESPONSES) == b.score(PROMPTS, RESPONSES) != c.score(PROMPTS, RESPONSES)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_rate_and_independence_from_the_response(p: float) -> None:
    reward = CoinReward(p, seed=5)
    flips = np.array([reward.score(PROMPTS, RESPONSES) for _ in range(25)])  # (25, 400)
    assert abs(flips.mean() - p) < 0.015  # 10,000 flips: sd at most 0.005
    pad, bare = flips[:, :200].mean(), flips[:, 200:].mean()
    assert abs(pad - bare) < 0.03  # the scratchpad and the bare answer are paid alike (sd of the gap <= 0.0071)


def test_bad_specs_are_one_line_errors() -> None:
    for spec in ("coin:x", "coin:1.5", "coin:-0.1", "coin:0.5:abc", "coin:"):
        with pytest.raises(UserError, match="coin"):
            load_reward(spec, TASK)
    assert parse_coin("0.25") == (0.25, None) and parse_coin("1:9") == (1.0, 9)
    with pytest.raises(ValueError, match="responses"):
        CoinReward(0.5, 0).score(["a"], [])
