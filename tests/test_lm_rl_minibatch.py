"""The update's minibatches (--minibatches) and length buckets (--length-buckets): M = 1 with one
bucket is the one-step update written out by hand, bit for bit; M parts average to the whole batch's
gradient under every normaliser; buckets change only float rounding."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from kingme.lm.algos import (
    clipped_surrogate,
    group_advantages,
    kl_penalised_scores,
    masked_mean,
    token_weights,
    weighted_k3,
)
from kingme.lm.rl import (
    RLConfig,
    Rollout,
    ValueHead,
    bucketed_logprobs,
    forward_responses,
    response_logprobs,
    rl_update,
    token_entropy,
)
from kingme.lm.vocab import EOS_ID, VOCAB_SIZE
from kingme.transformer import GPT, TransformerConfig

P, G, PW, N = 4, 4, 5, 6


def _rollout() -> Rollout:
    """P·G responses of lengths 1..N (rows of one prompt adjacent), rewards with signal in three groups."""
    g = torch.Generator().manual_seed(3)
    B = P * G
    prompts = torch.randint(2, VOCAB_SIZE, (P, PW), generator=g).repeat_interleave(G, dim=0)  # (B, PW)
    responses = torch.randint(2, VOCAB_SIZE, (B, N), generator=g)
    lengths = torch.randint(1, N + 1, (B,), generator=g)
    mask = torch.arange(N)[None, :] < lengths[:, None]  # (B, N)
    responses[torch.arange(B), lengths - 1] = EOS_ID
    responses[~mask] = 0
    rewards = torch.tensor([1.0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0])
    return Rollout([""] * B, prompts, responses, mask, [""] * B, rewards, G, None, N + 2)


def _model() -> GPT:
    torch.manual_seed(0)
    return GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=PW + N, n_layer=1, n_head=2, n_embd=16))


class GradientRecorder(torch.optim.Optimizer):
    """An optimizer that keeps a copy of every step's gradient and never moves the parameters."""

    def __init__(self, params: list[torch.nn.Parameter]) -> None:
        super().__init__(params, {})
        self.grads: list[torch.Tensor] = []

    def step(self, closure: object = None) -> None:  # type: ignore[override]
        ps = [p for group in self.param_groups for p in group["params"]]
        self.grads.append(torch.cat([torch.zeros(p.numel()) if p.grad is None else p.grad.flatten() for p in ps]))


@pytest.mark.parametrize("share", [True, False])
def test_one_minibatch_one_bucket_is_the_update_written_out_bit_for_bit(share: bool) -> None:
    """GRPO, one epoch, M = 1, one bucket: the parameters after rl_update are exactly those of the
    one Adam step on L = Σ w·(−min(ρÂ, clip(ρ)Â)) + β Σ w·k3, computed here by hand (with each
    prompt's pass shared by its group or not)."""
    model, roll = _model(), _rollout()
    reference = copy.deepcopy(model).eval()
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.1 * torch.randn_like(p))
    cfg = RLConfig(algo="grpo", minibatches=1, length_buckets=1, share_prompts=share).resolved()
    policy = copy.deepcopy(model)
    rl_update(policy, reference, None, torch.optim.Adam(policy.parameters(), lr=1e-2), roll, cfg)

    by_hand = copy.deepcopy(model).eval()
    opt = torch.optim.Adam(by_hand.parameters(), lr=1e-2)
    logp, log_probs, keep, _ = response_logprobs(by_hand, roll.prompts, roll.responses, share_prompts=share)
    with torch.no_grad():
        ref_logp = response_logprobs(reference, roll.prompts, roll.responses, share_prompts=share)[0]
        scores = kl_penalised_scores(roll.rewards, logp.detach(), ref_logp, roll.mask, 0.0)
        adv = group_advantages(scores.view(P, G), True).reshape(P * G, 1) * roll.mask  # (B, N)
        w = token_weights(roll.mask, "sequence", roll.max_len)  # (B, N): 1 / (B·|o_i|)
        ent = masked_mean(token_entropy(log_probs, keep), roll.mask)
    ratio = torch.exp(logp - logp.detach())
    loss = clipped_surrogate(ratio, adv, w, 0.2, 0.2) + 0.04 * weighted_k3(logp, ref_logp, w) - 0.0 * ent
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(by_hand.parameters()), 1.0)
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(policy.parameters(), by_hand.parameters(), strict=True))


@pytest.mark.parametrize(
    ("norm", "algo"), [("sequence", "grpo"), ("token", "grpo"), ("constant", "grpo"), ("sum", "grpo"), ("token", "ppo")]
)
def test_m_minibatches_average_to_the_whole_batch_gradient(norm: str, algo: str) -> None:
    """At θ_old (the recorder never moves θ), the mean of the M parts' gradients equals the one
    gradient of M = 1, for every normaliser (each token keeps its whole-batch weight, times M), and
    the logged policy loss is the same mean; with the groups without signal left out too."""
    model, roll = _model(), _rollout()
    for drop in (False, True):
        grads = {}
        for M in (1, 4):
            cfg = RLConfig(
                algo=algo,  # type: ignore[arg-type]
                loss_norm=norm,  # type: ignore[arg-type]
                minibatches=M,
                max_grad_norm=None,
                drop_equal_groups=drop,
            ).resolved()
            policy = copy.deepcopy(model)
            head = ValueHead(16) if algo == "ppo" else None
            params = list(policy.parameters()) + (list(head.parameters()) if head is not None else [])
            rec = GradientRecorder(params)
            torch.manual_seed(7)
            stats = rl_update(policy, copy.deepcopy(model).eval(), head, rec, roll, cfg)
            assert len(rec.grads) == M
            grads[M] = (torch.stack(rec.grads).mean(dim=0), stats["losses/policy_loss"])
        (whole, loss_whole), (parts, loss_parts) = grads[1], grads[4]
        assert whole.abs().max() > 1e-4  # there is a gradient to compare
        torch.testing.assert_close(parts, whole, atol=1e-6, rtol=1e-4)
        assert loss_parts == pytest.approx(loss_whole, abs=1e-6)


def test_token_mean_weights_count_the_whole_batch_by_hand() -> None:
    """By hand, for `token` with M = 2: a part's loss at ratio 1 is −Σ_part 2·Â_i,t / T_all, T_all the
    tokens of the whole batch (not of the part); the two parts' losses average to −Σ Â / T_all."""
    model, roll = _model(), _rollout()
    cfg = RLConfig(algo="reinforce", minibatches=2, max_grad_norm=None).resolved()
    adv = group_advantages(roll.rewards.view(P, G), False).reshape(P * G, 1) * roll.mask  # (B, N)
    t_all = float(roll.mask.sum())
    policy = copy.deepcopy(model)
    torch.manual_seed(11)
    rows = list(torch.randperm(P * G).chunk(2))  # the permutation rl_update draws with this seed
    expected = [float(-(2 * adv[r].sum()) / t_all) for r in rows]
    torch.manual_seed(11)
    stats = rl_update(policy, None, None, GradientRecorder(list(policy.parameters())), roll, cfg)
    assert stats["losses/policy_loss"] == pytest.approx(sum(expected) / 2, abs=1e-6)
    assert sum(expected) / 2 == pytest.approx(float(-adv.sum() / t_all), abs=1e-6)


def test_minibatches_take_m_steps_and_differ_from_one() -> None:
    model, roll = _model(), _rollout()
    after = {}
    for M in (1, 2):
        cfg = RLConfig(algo="dr_grpo", minibatches=M, max_grad_norm=None).resolved()
        policy = copy.deepcopy(model)
        torch.manual_seed(1)
        stats = rl_update(policy, None, None, torch.optim.SGD(policy.parameters(), lr=0.5), roll, cfg)
        after[M] = torch.cat([p.detach().flatten() for p in policy.parameters()])
        if M == 2:
            assert stats["losses/approx_kl"] > 0  # the second part is trained one step after θ_old
    assert not torch.equal(after[1], after[2])


def test_length_buckets_change_only_rounding() -> None:
    model, roll = _model(), _rollout()
    full = response_logprobs(model, roll.prompts, roll.responses)
    parts = bucketed_logprobs(model, roll.prompts, roll.responses, roll.mask, buckets=3)
    on = roll.mask
    torch.testing.assert_close(parts[0][on], full[0][on], atol=1e-5, rtol=0)
    torch.testing.assert_close(parts[3][on], full[3][on], atol=1e-5, rtol=0)
    for algo in ("grpo", "ppo"):
        base = RLConfig(algo=algo, max_grad_norm=None, length_buckets=1).resolved()  # type: ignore[arg-type]
        moved = []
        for cfg in (base, dataclasses.replace(base, length_buckets=3)):
            policy = copy.deepcopy(model)
            head = ValueHead(16) if algo == "ppo" else None
            params = list(policy.parameters()) + (list(head.parameters()) if head is not None else [])
            rl_update(policy, copy.deepcopy(model).eval(), head, torch.optim.SGD(params, lr=0.5), roll, cfg)
            moved.append(torch.cat([p.detach().flatten() for p in policy.parameters()]))
        assert not torch.equal(moved[0], torch.cat([p.flatten() for p in model.parameters()]))
        torch.testing.assert_close(moved[1], moved[0], atol=1e-5, rtol=0)


def test_a_shared_prompt_pass_equals_the_full_sequences() -> None:
    """GPT.hidden_shared on the distinct prompts and the responses gives `hidden`'s states on the
    full sequences; forward_responses shares the prompts of a rollout's groups, and its logits and
    their gradients match the unshared pass."""
    model, roll = _model(), _rollout()
    distinct, rows = torch.unique(roll.prompts, dim=0, return_inverse=True)
    assert distinct.shape[0] == P
    hp, hr = model.hidden_shared(distinct, rows, roll.responses)
    full = model.hidden(torch.cat([roll.prompts, roll.responses], dim=1))  # (B, PW + N, C)
    torch.testing.assert_close(hr, full[:, PW:], atol=1e-5, rtol=0)
    torch.testing.assert_close(hp.index_select(0, rows), full[:, :PW], atol=1e-5, rtol=0)
    grads = []
    for share in (True, False):
        model.zero_grad()
        logits, _ = forward_responses(model, roll.prompts, roll.responses, share)
        (logits * torch.linspace(-1, 1, logits.numel()).view_as(logits)).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-4)


def test_minibatches_are_checked() -> None:
    from kingme.common import UserError

    with pytest.raises(UserError, match="--minibatches"):
        RLConfig(minibatches=0).validate()
    with pytest.raises(UserError, match="exceeds"):
        RLConfig(prompts_per_update=2, group_size=2, minibatches=5).validate()
    with pytest.raises(UserError, match="--length-buckets"):
        RLConfig(length_buckets=0).validate()
