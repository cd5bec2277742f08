"""The signed advantage (--advantage signed --positive-weight --negative-weight): Zhu et al. 2025's
positive-sample (PSR) and negative-sample (NSR) reinforcement and their weighted sum, by hand."""

from __future__ import annotations

import copy

import pytest
import torch

from kingme.common import UserError
from kingme.lm.algos import signed_advantages
from kingme.lm.rl import RLConfig, Rollout, forward_responses, rl_update
from kingme.lm.sampling import token_logprobs
from kingme.lm.vocab import EOS_ID, VOCAB_SIZE
from kingme.transformer import GPT, TransformerConfig

P, G, PW, N = 2, 4, 4, 3


def test_signed_advantages_by_hand() -> None:
    r = torch.tensor([[1.0, 0.0, 0.5]])
    assert signed_advantages(r, 1.0, 1.0).tolist() == [[1.0, -1.0, 0.0]]
    assert signed_advantages(r, 0.1, 1.0)[0].tolist() == pytest.approx([0.1, -1.0, -0.45])
    assert signed_advantages(r, 1.0, 0.0).tolist() == [[1.0, 0.0, 0.5]]  # PSR: the wrong ones count nothing
    assert signed_advantages(r, 0.0, 1.0).tolist() == [[0.0, -1.0, -0.5]]  # NSR: the right ones count nothing


def _rollout() -> Rollout:
    g = torch.Generator().manual_seed(1)
    B = P * G
    prompts = torch.randint(2, VOCAB_SIZE, (P, PW), generator=g).repeat_interleave(G, dim=0)
    responses = torch.randint(2, VOCAB_SIZE, (B, N), generator=g)
    responses[:, -1] = EOS_ID
    mask = torch.ones(B, N, dtype=torch.bool)
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0])  # one group mostly wrong, one mostly right
    return Rollout([""] * B, prompts, responses, mask, [""] * B, rewards, G)


def _seq_logp(model: GPT, roll: Rollout) -> torch.Tensor:
    with torch.no_grad():
        logp, _ = token_logprobs(forward_responses(model, roll.prompts, roll.responses)[0], roll.responses)
    return logp.sum(dim=1)  # (B,)


@pytest.mark.parametrize(("pos", "neg"), [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.1, 1.0)])
def test_each_arm_by_hand_and_its_step(pos: float, neg: float) -> None:
    """At ratio 1 the logged loss is −Σ_i Â_i·|o_i| / T (token mean, T the batch's tokens) with
    Â = +w₊ on the right responses and −w₋ on the wrong ones; one small SGD step raises the right
    responses' log-probability relative to the wrong ones'."""
    torch.manual_seed(0)
    model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=PW + N, n_layer=1, n_head=2, n_embd=16))
    roll = _rollout()
    cfg = RLConfig(
        algo="reinforce", advantage="signed", positive_weight=pos, negative_weight=neg, max_grad_norm=None
    ).resolved()
    policy = copy.deepcopy(model)
    stats = rl_update(policy, None, None, torch.optim.SGD(policy.parameters(), lr=0.05), roll, cfg)
    right = roll.rewards > 0.5
    adv = torch.where(right, pos, -neg)  # (B,)
    lengths = roll.mask.sum(dim=1).float()
    assert stats["losses/policy_loss"] == pytest.approx(float(-(adv * lengths).sum() / lengths.sum()), abs=1e-6)
    change = _seq_logp(policy, roll) - _seq_logp(model, roll)
    assert change[right].mean() > change[~right].mean()


def test_negative_weights_are_refused() -> None:
    with pytest.raises(UserError, match="--positive-weight"):
        RLConfig(positive_weight=-1.0).validate()
