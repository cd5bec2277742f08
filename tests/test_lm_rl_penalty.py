"""Monitors in the reward (--penalty, --penalty-coef) and reward targeting (--penalty-target answer):
by hand, the advantages are those of r − λ·m, and under targeting the scratchpad's tokens keep the
task's advantage (the penalty's gradient reaches only the answer's tokens)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from kingme.lm.algos import group_advantages
from kingme.lm.rl import RLConfig, Rollout, rl_update
from kingme.lm.vocab import EOS_ID, VOCAB_SIZE, encode
from kingme.transformer import GPT, TransformerConfig

G = 4
TEXTS = ["1:7", "12:7", "3", "1:2:9", "5:5", "7", "9:91", "2"]  # answers after the last ':' (or all of it)
ANSWER_AT = [2, 3, 0, 4, 2, 0, 2, 0]  # monitors.answer_start of each
N = max(len(t) for t in TEXTS) + 1


def _rollout(penalty: list[float] | None) -> Rollout:
    B = len(TEXTS)
    prompts = torch.tensor([encode("3+4=")] * G + [encode("5+6=")] * G)  # (B, 4)
    responses = torch.zeros(B, N, dtype=torch.long)
    mask = torch.zeros(B, N, dtype=torch.bool)
    for i, t in enumerate(TEXTS):
        ids = [*encode(t), EOS_ID]
        responses[i, : len(ids)] = torch.tensor(ids)
        mask[i, : len(ids)] = True
    rewards = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    pen = torch.tensor(penalty) if penalty is not None else None
    return Rollout(["3+4="] * G + ["5+6="] * G, prompts, responses, mask, list(TEXTS), rewards, G, None, N, pen)


def _advantages(cfg: RLConfig, roll: Rollout) -> torch.Tensor:
    torch.manual_seed(0)
    model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=4 + N, n_layer=1, n_head=2, n_embd=16))
    record: dict[str, Any] = {}
    rl_update(copy.deepcopy(model), None, None, torch.optim.SGD(model.parameters(), lr=0.0), roll, cfg, record)
    return record["token_advantages"]  # (B, N)


M = [0.0, 1.0, 0.0, 0.5, 1.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize("algo", ["grpo", "rloo", "reinforce"])
def test_the_penalised_reward_and_its_targeting_by_hand(algo: str) -> None:
    lam = 0.4
    roll = _rollout(M)
    base = RLConfig(algo=algo, kl_coef=0.0, penalty_coef=lam).resolved()  # type: ignore[arg-type]
    plain = _advantages(RLConfig(algo=algo, kl_coef=0.0).resolved(), _rollout(None))  # type: ignore[arg-type]
    everywhere = _advantages(base, roll)
    targeted = _advantages(RLConfig(**{**base.__dict__, "penalty_target": "answer"}), roll)
    if algo == "grpo":  # Â of r − λ·m by hand, the same on every token of a response
        paid = (roll.rewards - lam * torch.tensor(M)).view(2, G)
        expected = group_advantages(paid, True).reshape(-1, 1) * roll.mask
        torch.testing.assert_close(everywhere, expected)
    assert not torch.allclose(everywhere, plain)  # the penalty changes the advantages
    answer = torch.arange(N)[None, :] >= torch.tensor(ANSWER_AT)[:, None]  # (B, N)
    pad = ~answer & roll.mask  # the scratchpad's tokens
    assert pad.any()
    torch.testing.assert_close(targeted[pad], plain[pad])  # the scratchpad sees the task's Â only
    torch.testing.assert_close(targeted[answer & roll.mask], everywhere[answer & roll.mask])


def test_targeting_leaves_the_scratchpad_logits_gradient_unchanged_by_lambda() -> None:
    """The gradient of the loss with respect to the logits at the scratchpad's tokens is the same
    for λ = 0.4 and λ = 2 under --penalty-target answer; at the answer's tokens it differs."""
    roll = _rollout(M)
    grads = []
    for lam in (0.4, 2.0):
        cfg = RLConfig(
            algo="reinforce", penalty_coef=lam, penalty_target="answer", max_grad_norm=None, length_buckets=1
        ).resolved()
        torch.manual_seed(0)
        model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=4 + N, n_layer=1, n_head=2, n_embd=16))
        seen: list[torch.Tensor] = []

        def keep(_m: Any, _gi: Any, go: tuple[torch.Tensor, ...], s: list[torch.Tensor] = seen) -> None:
            s.append(go[0].detach())

        handle = model.lm_head.register_full_backward_hook(keep)
        rl_update(model, None, None, torch.optim.SGD(model.parameters(), lr=0.0), roll, cfg)
        handle.remove()
        grads.append(torch.cat(seen))  # (B, N, V): dL/dlogits
    answer = torch.arange(N)[None, :] >= torch.tensor(ANSWER_AT)[:, None]
    pad = ~answer & roll.mask
    torch.testing.assert_close(grads[0][pad], grads[1][pad])
    assert not torch.allclose(grads[0][answer & roll.mask], grads[1][answer & roll.mask])


def test_training_logs_the_penalty() -> None:
    from kingme.lm.pretrain import PretrainConfig, pretrain
    from kingme.lm.rl import train

    small = {"n_layer": 1, "n_head": 2, "n_embd": 16, "train_size": 200, "eval_problems": 4, "device": "cpu"}
    base = pretrain(PretrainConfig(task="addition", max_level=1, scratchpad=True, steps=20, **small))[:2]  # type: ignore[arg-type]
    rows: list[dict[str, Any]] = []
    cfg = RLConfig(updates=1, prompts_per_update=2, group_size=2, eval_problems=4, device="cpu",
                   penalty=("wrong_steps",), penalty_coef=0.5)  # fmt: skip
    train(cfg, base=base, log=rows.append)
    assert 0.0 <= rows[0]["charts/penalty"] <= 1.0
