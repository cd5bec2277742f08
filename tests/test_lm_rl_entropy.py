"""The entropy mechanics in the RL update (kingme.lm.entropy_mechanics wired into rl_update): the
logged covariance, Clip-Cov, KL-Cov and the top-entropy tokens (Wang et al.'s forks)."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from kingme.common import UserError
from kingme.lm import entropy_mechanics as em
from kingme.lm.algos import clipped_surrogate, group_advantages, token_weights
from kingme.lm.rl import RLConfig, Rollout, response_logprobs, rl_update, token_entropy
from kingme.lm.vocab import EOS_ID, VOCAB_SIZE
from kingme.transformer import GPT, TransformerConfig

P, G, PW, N = 3, 4, 5, 4


def _rollout() -> Rollout:
    g = torch.Generator().manual_seed(0)
    B = P * G
    prompts = torch.randint(2, VOCAB_SIZE, (B, PW), generator=g)
    responses = torch.randint(2, VOCAB_SIZE, (B, N), generator=g)
    lengths = torch.randint(1, N + 1, (B,), generator=g)
    mask = torch.arange(N)[None, :] < lengths[:, None]
    responses[torch.arange(B), lengths - 1] = EOS_ID
    responses[~mask] = 0
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    return Rollout([""] * B, prompts, responses, mask, [""] * B, rewards, G)


def _model() -> GPT:
    torch.manual_seed(0)
    return GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=PW + N, n_layer=1, n_head=2, n_embd=16))


def _step(cfg: RLConfig, model: GPT, roll: Rollout, lr: float = 0.05) -> tuple[GPT, dict[str, float]]:
    policy = copy.deepcopy(model)
    torch.manual_seed(1)
    stats = rl_update(policy, None, None, torch.optim.SGD(policy.parameters(), lr=lr), roll, cfg)
    return policy, stats


def _same(a: GPT, b: GPT) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


BASE = RLConfig(algo="grpo", kl_coef=0.0, max_grad_norm=None, length_buckets=1, share_prompts=False)


def test_the_covariance_is_that_of_theta_olds_logp_and_the_advantages() -> None:
    model, roll = _model(), _rollout()
    cfg = BASE.resolved()
    record: dict[str, torch.Tensor] = {}
    policy = copy.deepcopy(model)
    stats = rl_update(policy, None, None, torch.optim.SGD(policy.parameters(), lr=0.0), roll, cfg, record)
    with torch.no_grad():
        logp = response_logprobs(model.eval(), roll.prompts, roll.responses)[0]  # (B, N)
    expected = em.covariance(logp, record["token_advantages"], roll.mask)
    assert stats["charts/cov_logp_adv"] == pytest.approx(float(expected), rel=1e-5, abs=1e-7)
    assert abs(stats["charts/cov_logp_adv"]) > 1e-4  # a real, non-zero covariance on this rollout
    assert "losses/clip_cov_tokens" not in stats and "losses/kl_cov_tokens" not in stats  # off: not logged


def test_the_forks_alone_carry_the_policy_gradient() -> None:
    """--entropy-tokens 0.25: the update is the SGD step on the clipped surrogate with the weights of
    every token but the top quarter by entropy under θ_old set to 0 (the normaliser unchanged)."""
    model, roll = _model(), _rollout()
    cfg = dataclasses.replace(BASE, entropy_tokens=0.25).resolved()
    got, _ = _step(cfg, model, roll)
    expected = copy.deepcopy(model).eval()
    logp, log_probs, keep, _ = response_logprobs(expected, roll.prompts, roll.responses, share_prompts=False)
    with torch.no_grad():
        forks = em.top_entropy_selection(token_entropy(log_probs, keep), roll.mask, 0.25)
    assert 0 < int(forks.sum()) < int(roll.mask.sum())
    adv = group_advantages(roll.rewards.view(P, G), True).reshape(-1, 1) * roll.mask  # (B, N)
    w = token_weights(roll.mask, "sequence") * forks
    loss = clipped_surrogate(torch.exp(logp - logp.detach()), adv, w, 0.2, 0.2)
    opt = torch.optim.SGD(expected.parameters(), lr=0.05)
    opt.zero_grad()
    loss.backward()
    opt.step()
    for a, b in zip(got.parameters(), expected.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    everything, _ = _step(BASE.resolved(), model, roll)
    assert not _same(everything, got)
    assert _same(_step(dataclasses.replace(BASE, entropy_tokens=1.0).resolved(), model, roll)[0], everything)


def test_clip_cov_detaches_the_tokens_it_picks() -> None:
    model, roll = _model(), _rollout()
    plain, _ = _step(BASE.resolved(), model, roll)
    # every token is inside bounds this wide and the share is 1: every gradient detached, θ does not move
    cfg = dataclasses.replace(BASE, clip_cov=1.0, cov_low=-1e9, cov_high=1e9).resolved()
    frozen, stats = _step(cfg, model, roll)
    assert _same(frozen, model) and stats["losses/clip_cov_tokens"] == 1.0
    # bounds no token reaches: nothing picked, the plain update exactly
    none, stats = _step(dataclasses.replace(BASE, clip_cov=1.0, cov_low=1e8, cov_high=1e9).resolved(), model, roll)
    assert _same(none, plain) and stats["losses/clip_cov_tokens"] == 0.0
    # a small share: some tokens picked, the update differs from the plain one
    some, stats = _step(dataclasses.replace(BASE, clip_cov=0.2, cov_low=-1e9, cov_high=1e9).resolved(), model, roll)
    n = int(roll.mask.sum())
    assert stats["losses/clip_cov_tokens"] == pytest.approx(em.share_count(0.2, n) / n)
    assert not _same(some, plain)


def test_kl_cov_acts_only_off_policy() -> None:
    model, roll = _model(), _rollout()
    unclipped = dataclasses.replace(BASE, clip=False)
    # one epoch of one minibatch: θ = θ_old, |logp − logp_old| has gradient 0, the update is unchanged
    on_policy, stats = _step(dataclasses.replace(unclipped, kl_cov=0.5).resolved(), model, roll)
    assert _same(on_policy, _step(unclipped.resolved(), model, roll)[0])
    assert stats["losses/kl_cov_loss"] == 0.0 and stats["losses/kl_cov_tokens"] > 0
    # two epochs: the second sees θ ≠ θ_old, the penalty is positive and pulls the picked tokens back
    two = dataclasses.replace(unclipped, epochs=2)
    penalised, stats = _step(dataclasses.replace(two, kl_cov=0.5, kl_cov_coef=5.0).resolved(), model, roll)
    free, _ = _step(two.resolved(), model, roll)
    assert stats["losses/kl_cov_loss"] > 0 and not _same(penalised, free)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("clip_cov", 1.5, "--clip-cov must be a share"),
        ("kl_cov", -0.1, "--kl-cov must be a share"),
        ("entropy_tokens", 0.0, "--entropy-tokens must be a share"),
        ("cov_low", 6.0, "--cov-low 6.0 must be below --cov-high 5.0"),
        ("kl_cov_coef", -1.0, "--kl-cov-coef must be >= 0"),
    ],
)
def test_bad_settings_are_one_line(field: str, value: float, message: str) -> None:
    with pytest.raises(UserError, match=message):
        dataclasses.replace(RLConfig(), **{field: value}).validate()


def test_a_short_run_with_every_option_logs_them() -> None:
    from kingme.lm.pretrain import PretrainConfig, pretrain
    from kingme.lm.rl import train

    small = {"n_layer": 1, "n_head": 2, "n_embd": 16, "train_size": 200, "eval_problems": 8, "device": "cpu"}
    base = pretrain(PretrainConfig(task="addition", max_level=1, steps=5, warmup=1, **small))[:2]  # type: ignore[arg-type]
    rows: list[dict[str, float]] = []
    rl = {"updates": 2, "prompts_per_update": 4, "group_size": 4, "minibatches": 2, "eval_problems": 8}
    options = {"clip_cov": 0.1, "kl_cov": 0.1, "entropy_tokens": 0.2, "ent_coef": 0.01, "clip_high": 0.28}
    train(RLConfig(algo="grpo", device="cpu", **rl, **options), base=base, log=rows.append)  # type: ignore[arg-type]
    for key in ("charts/cov_logp_adv", "losses/clip_cov_tokens", "losses/kl_cov_tokens", "losses/kl_cov_loss"):
        assert all(key in r for r in rows), key
