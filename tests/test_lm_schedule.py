"""The RL loop's schedule: learning-rate warm-up, the time limit, stopping at a target, per-level rewards."""

from __future__ import annotations

import pytest
import torch

from kingme.lm.rl import RLConfig, Rollout, budget_spent, level_rewards, rl_learning_rate, train
from kingme.lm.tasks import Problem, make_task
from kingme.lm.vocab import VOCAB_SIZE
from kingme.transformer import GPT, TransformerConfig


def _tiny_base() -> tuple[GPT, object]:
    torch.manual_seed(0)
    task = make_task("addition", 1)
    model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=task.block_size, n_layer=1, n_head=2, n_embd=16))
    return model, task


def test_warmup_rises_linearly_to_the_learning_rate() -> None:
    cfg = RLConfig(lr=1e-3, warmup=4)
    assert [rl_learning_rate(u, cfg) for u in (1, 2, 3, 4, 5, 100)] == pytest.approx(
        [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3]
    )
    assert rl_learning_rate(1, RLConfig(lr=1e-3, warmup=0)) == 1e-3  # no warm-up: the full rate at once


def test_cosine_decay_goes_from_lr_to_lr_final_over_the_budget() -> None:
    cfg = RLConfig(lr=1e-3, warmup=4, lr_decay="cosine", lr_final=0.1, updates=100)
    assert rl_learning_rate(2, cfg, 0.0) == pytest.approx(5e-4)  # the warm-up comes first
    # by hand: 1e-3 * (0.1 + 0.9 * (1 + cos(pi * s)) / 2) for s = 0, 0.5, 1
    assert [rl_learning_rate(10, cfg, s) for s in (0.0, 0.5, 1.0, 2.0)] == pytest.approx([1e-3, 5.5e-4, 1e-4, 1e-4])
    assert budget_spent(25, 0.0, cfg) == 0.25  # no time limit: the share of --updates
    timed = RLConfig(updates=100, max_minutes=2.0)
    assert budget_spent(25, 90.0, timed) == 0.75 and budget_spent(90, 30.0, timed) == 0.9  # whichever is further
    assert budget_spent(200, 0.0, timed) == 1.0


def test_cosine_decay_is_applied_and_logged() -> None:
    cfg = RLConfig(updates=4, warmup=0, lr=1e-3, lr_decay="cosine", lr_final=0.0, prompts_per_update=2,
                   group_size=2, eval_every=1000, eval_problems=4, device="cpu")  # fmt: skip
    rows: list[dict] = []
    train(cfg, base=_tiny_base(), log=rows.append)  # type: ignore[arg-type]
    # the rate of update u is set from the budget spent before it, (u - 1) / 4
    assert [r["charts/learning_rate"] for r in rows] == pytest.approx([1e-3, 8.5355e-4, 5e-4, 1.4645e-4], rel=1e-4)


def test_time_limit_stops_early_and_evaluates_the_last_update() -> None:
    cfg = RLConfig(updates=50, max_minutes=1e-9, prompts_per_update=2, group_size=2, eval_every=1000,
                   eval_problems=4, device="cpu")  # fmt: skip
    rows: list[dict] = []
    _, summary = train(cfg, base=_tiny_base(), log=rows.append)  # type: ignore[arg-type]
    assert summary["updates_done"] == 1 and len(rows) == 1
    assert "charts/test_pass1" in rows[0] and "test_pass1_end" in summary


def test_target_stops_at_the_first_evaluation_that_reaches_it() -> None:
    cfg = RLConfig(updates=50, target_pass1=0.0, prompts_per_update=2, group_size=2, eval_every=3,
                   eval_problems=4, device="cpu")  # fmt: skip
    _, summary = train(cfg, base=_tiny_base())  # type: ignore[arg-type]
    assert summary["updates_done"] == 3 and summary["target_reached"]["update"] == 3
    assert summary["target_reached"]["time_s"] > 0
    _, never = train(RLConfig(updates=4, target_pass1=1.01, prompts_per_update=2, group_size=2, eval_every=2,
                              eval_problems=4, device="cpu"), base=_tiny_base())  # type: ignore[arg-type]  # fmt: skip
    assert never["updates_done"] == 4 and "target_reached" not in never


def test_level_rewards_average_each_level_apart() -> None:
    problems = [Problem("1+2=", "3", 1, 0), Problem("12+3=", "15", 2, 0)]
    G = 2
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0])  # level 1: one of two right; level 2: both
    roll = Rollout([""] * 4, torch.zeros(4, 1), torch.zeros(4, 1), torch.ones(4, 1, dtype=torch.bool), [""] * 4,
                   rewards, G)  # fmt: skip
    assert level_rewards(roll, problems) == {"charts/reward_level_1": 0.5, "charts/reward_level_2": 1.0}


def test_a_negative_warmup_is_a_user_error() -> None:
    from kingme.common import UserError

    with pytest.raises(UserError, match="warmup"):
        RLConfig(warmup=-1).validate()
    with pytest.raises(UserError, match="max-minutes"):
        RLConfig(max_minutes=0).validate()


def test_the_defaults_are_the_measured_ones() -> None:
    """docs/reasoning.md, Measured results: P = 32, lr 5e-4 after a 20-update warm-up took GRPO from 0.31 to 0.9."""
    cfg = RLConfig()
    assert (cfg.prompts_per_update, cfg.group_size, cfg.lr, cfg.warmup, cfg.epochs) == (32, 8, 5e-4, 20, 1)
