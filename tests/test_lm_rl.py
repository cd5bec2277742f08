"""One RL update moves the policy the right way, for every algorithm; the presets and their overrides."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from kingme.common import UserError
from kingme.lm.rl import (
    ALGO_PRESETS,
    RLConfig,
    Rollout,
    ValueHead,
    clip_share,
    concat_rollouts,
    dynamic_sampling,
    forward_responses,
    response_logprobs,
    rl_update,
    select_groups,
    signal_groups,
)
from kingme.lm.sampling import token_logprobs
from kingme.lm.tasks import Problem
from kingme.lm.vocab import EOS_ID, PAD_ID, VOCAB_SIZE
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
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0])  # the last group all right
    return Rollout([""] * B, prompts, responses, mask, [""] * B, rewards, G)


def _seq_logp(model: GPT, roll: Rollout) -> torch.Tensor:
    with torch.no_grad():
        logits, _ = forward_responses(model, roll.prompts, roll.responses)
        logp, _ = token_logprobs(logits, roll.responses)
    return (logp * roll.mask).sum(dim=1)  # (B,)


@pytest.mark.parametrize("algo", sorted(ALGO_PRESETS))
def test_one_small_step_raises_rewarded_responses_and_lowers_the_others(algo: str) -> None:
    torch.manual_seed(0)
    model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=PW + N, n_layer=1, n_head=2, n_embd=16))
    roll = _rollout()
    cfg = RLConfig(algo=algo, max_grad_norm=None).resolved()  # type: ignore[arg-type]
    policy, reference = copy.deepcopy(model), copy.deepcopy(model).eval()
    value_head = ValueHead(16) if cfg.advantage == "gae" else None
    params = list(policy.parameters()) + (list(value_head.parameters()) if value_head is not None else [])
    opt = torch.optim.SGD(params, lr=0.05)
    before = _seq_logp(policy, roll)
    stats = rl_update(policy, reference, value_head, opt, roll, cfg)
    change = _seq_logp(policy, roll) - before
    right = roll.rewards > 0.5
    assert change[right].mean() > change[~right].mean() + 0.02  # the rewarded responses gain on the others
    if algo != "ppo":  # the group methods learn from the two mixed groups only: right up, wrong down
        mixed = right[: 2 * G]
        assert change[: 2 * G][mixed].mean() > 0 > change[: 2 * G][~mixed].mean()
    assert stats["charts/zero_adv_groups"] == pytest.approx(1 / 3)
    assert stats["losses/kl_ref"] == pytest.approx(0.0, abs=1e-6)  # the first step starts at the reference


def test_presets_fill_only_what_was_not_given() -> None:
    grpo = RLConfig(algo="grpo").resolved()
    assert (grpo.advantage, grpo.scale_by_std, grpo.loss_norm, grpo.kl_coef) == ("group", True, "sequence", 0.04)
    assert grpo.clip_high == grpo.clip_low == 0.2
    ablated = RLConfig(algo="grpo", scale_by_std=False, kl_coef=0.0, clip_high=0.28).resolved()
    assert (ablated.scale_by_std, ablated.kl_coef, ablated.clip_high, ablated.loss_norm) == (
        False,
        0.0,
        0.28,
        "sequence",
    )
    assert RLConfig(algo="ppo").resolved().kl_in_reward is True
    assert RLConfig(algo="rloo").resolved().advantage == "loo"


def test_dropping_equal_groups_leaves_them_out_of_the_loss() -> None:
    torch.manual_seed(0)
    model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=PW + N, n_layer=1, n_head=2, n_embd=16))
    roll = _rollout()
    roll.rewards[: 2 * G] = 1.0  # every group all right: no signal anywhere
    cfg = RLConfig(algo="dr_grpo", drop_equal_groups=True, max_grad_norm=None).resolved()
    policy = copy.deepcopy(model)
    opt = torch.optim.SGD(policy.parameters(), lr=0.05)
    stats = rl_update(policy, None, None, opt, roll, cfg)
    assert stats["charts/zero_adv_groups"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(policy.parameters(), model.parameters(), strict=True))


def test_clip_share_counts_both_bounds() -> None:
    ratio = torch.tensor([0.7, 0.85, 1.0, 1.25, 1.3])
    assert clip_share(ratio, 0.2, 0.2) == pytest.approx(3 / 5)  # 0.7, 1.25, 1.3
    assert clip_share(ratio, 0.2, 0.28) == pytest.approx(2 / 5)  # clip-higher: 1.25 is inside now
    assert clip_share(ratio[:0], 0.2, 0.2) == 0.0


def test_a_flawed_reward_is_paid_and_the_exact_verdict_kept() -> None:
    from kingme.lm.rl import collect_rollout, response_stats
    from kingme.lm.tasks import Addition, sample_problems

    torch.manual_seed(0)
    task = Addition(2, use_scratchpad=True)
    model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=task.block_size, n_layer=1, n_head=2, n_embd=16))
    problems = sample_problems(task, np.random.default_rng(0), 4, "train")
    roll = collect_rollout(model, task, problems, 2, 1.0, None, "cpu", reward="format")
    verdicts = [task.verify(p, r) for p, r in zip(roll.prompt_text, roll.response_text, strict=True)]
    assert roll.is_correct().tolist() == verdicts
    assert all(r in (0.0, 0.1, 1.0) and (r == 1.0) == v for r, v in zip(roll.rewards.tolist(), verdicts, strict=True))
    stats = response_stats(roll)
    assert stats["charts/true_reward"] == sum(verdicts) / len(verdicts)
    assert stats["charts/reward"] == pytest.approx(float(roll.rewards.mean()))


def test_measure_kl_logs_the_kl_without_a_kl_term() -> None:
    from kingme.lm.pretrain import PretrainConfig, pretrain
    from kingme.lm.rl import train

    small = {"n_layer": 1, "n_head": 2, "n_embd": 16, "train_size": 200, "eval_problems": 8, "device": "cpu"}
    base = pretrain(PretrainConfig(task="path", max_level=1, steps=5, warmup=1, **small))[:2]  # type: ignore[arg-type]
    rl = {"algo": "dr_grpo", "updates": 3, "prompts_per_update": 4, "group_size": 4, "warmup": 0, "lr": 1e-2}
    rl["ent_coef"] = 0.1  # a gradient even when every reward of a group is equal
    rows: list[dict[str, float]] = []
    train(RLConfig(measure_kl=True, eval_problems=8, device="cpu", **rl), base=base, log=rows.append)  # type: ignore[arg-type]
    assert rows[0]["losses/kl_ref"] == pytest.approx(0.0, abs=1e-6)  # the first rollout: π_θ = π_ref
    assert rows[-1]["losses/kl_ref"] > 0 and rows[-1]["losses/kl_loss"] == 0.0  # measured, not in the loss
    rows.clear()
    train(RLConfig(eval_problems=8, device="cpu", **rl), base=base, log=rows.append)  # type: ignore[arg-type]
    assert all(r["losses/kl_ref"] == 0.0 for r in rows)  # no reference without it


def _groups(tag: str, rewards: list[list[float]], n: int) -> tuple[Rollout, list[Problem]]:
    """A rollout of len(rewards) groups of G, responses n wide, each row's text naming its group and
    sample ("a0.1"), and its problems (the prompt names the group)."""
    rows = [f"{tag}{k}.{j}" for k in range(len(rewards)) for j in range(G)]
    B = len(rows)
    lengths = torch.arange(B) % n + 1  # (B,) 1..n tokens, EOS included
    mask = torch.arange(n)[None, :] < lengths[:, None]  # (B, n)
    responses = torch.where(mask, 2 + torch.arange(B)[:, None] % (VOCAB_SIZE - 2), PAD_ID)  # (B, n)
    responses[torch.arange(B), lengths - 1] = EOS_ID
    prompts = torch.full((B, PW), 2 + len(tag))  # (B, PW)
    roll = Rollout(rows, prompts, responses, mask, rows, torch.tensor(rewards).flatten(), G)
    return roll, [Problem(f"{tag}{k}", "", 1, 1) for k in range(len(rewards))]


MIXED, ALL_RIGHT, ALL_WRONG = [1.0, 0.0, 0.0, 1.0], [1.0] * G, [0.0] * G


def test_select_and_concat_groups_keep_order_and_pad_like_generate() -> None:
    a, _ = _groups("a", [MIXED, ALL_RIGHT, [0.0, 0.0, 0.0, 1.0]], n=2)
    b, _ = _groups("b", [ALL_WRONG, MIXED], n=4)
    b.correct = b.rewards > 0.5
    assert signal_groups(a) == [0, 2] and signal_groups(b) == [1]
    assert signal_groups(_rollout()) == [0, 1]
    picked = select_groups(a, [2, 0])  # the order given, each group's G rows together
    assert picked.prompt_text == [f"a2.{j}" for j in range(G)] + [f"a0.{j}" for j in range(G)]
    assert torch.equal(picked.responses, torch.cat([a.responses[2 * G :], a.responses[:G]]))
    assert torch.equal(picked.rewards, torch.tensor([0.0, 0.0, 0.0, 1.0] + MIXED))
    assert picked.correct is None and picked.group_size == G
    both = concat_rollouts([picked, select_groups(b, [1])])
    assert both.responses.shape == both.mask.shape == (3 * G, 4) and both.prompts.shape == (3 * G, PW)
    assert both.response_text == picked.response_text + [f"b1.{j}" for j in range(G)]
    assert torch.equal(both.responses[: 2 * G, :2], picked.responses)  # the narrow rollout, right-padded
    assert (both.responses[: 2 * G, 2:] == PAD_ID).all() and not both.mask[: 2 * G, 2:].any()
    assert torch.equal(both.mask[: 2 * G, :2], picked.mask)
    assert torch.equal(both.responses[2 * G :], b.responses[G:]) and torch.equal(both.mask[2 * G :], b.mask[G:])
    assert both.rewards.tolist() == picked.rewards.tolist() + MIXED
    assert both.correct is not None and both.correct.tolist() == [r > 0.5 for r in both.rewards.tolist()]
    with pytest.raises(ValueError):
        concat_rollouts([a, dataclasses.replace(b, prompts=b.prompts[:, 1:])])  # prompt widths differ


def test_dynamic_sampling_tops_up_to_p_signal_groups() -> None:
    first, first_problems = _groups("a", [MIXED, ALL_RIGHT, MIXED], n=2)
    rounds = [_groups("b", [ALL_WRONG, ALL_RIGHT, ALL_WRONG], n=3), _groups("c", [ALL_RIGHT, MIXED, MIXED], n=4)]
    calls = iter(rounds)
    roll, problems, used = dynamic_sampling(first, first_problems, 3, 4, lambda: next(calls))
    assert used == 2  # a gives 2 groups, b none, c the third (its second one is cut)
    assert [p.prompt for p in problems] == ["a0", "a2", "c1"]
    assert [t.split(".")[0] for t in roll.prompt_text[::G]] == ["a0", "a2", "c1"]  # problems aligned with groups
    assert roll.responses.shape == (3 * G, 4) and signal_groups(roll) == [0, 1, 2]
    # out of rounds: train on what was kept; nothing kept: the first rollout as it was
    dull = _groups("d", [ALL_WRONG] * 3, n=2)
    roll, problems, used = dynamic_sampling(first, first_problems, 3, 2, lambda: dull)
    assert (used, [p.prompt for p in problems], roll.rewards.numel()) == (2, ["a0", "a2"], 2 * G)
    roll, problems, used = dynamic_sampling(dull[0], dull[1], 3, 2, lambda: dull)
    assert used == 2 and roll is dull[0] and problems is dull[1]
    # enough signal at once: no extra round, cut to P
    roll, problems, used = dynamic_sampling(first, first_problems, 1, 4, lambda: next(calls))
    assert (used, [p.prompt for p in problems], roll.rewards.numel()) == (0, ["a0"], G)


def test_refill_rounds_must_be_positive() -> None:
    with pytest.raises(UserError, match="--refill-rounds"):
        RLConfig(refill_rounds=0).validate()


def test_refill_groups_trains_on_p_signal_groups_reproducibly() -> None:
    from kingme.lm.pretrain import PretrainConfig, pretrain
    from kingme.lm.rl import train

    small = {"n_layer": 1, "n_head": 2, "n_embd": 32, "train_size": 200, "eval_problems": 8, "device": "cpu"}
    base = pretrain(PretrainConfig(task="addition", max_level=1, steps=200, warmup=1, **small))[:2]  # type: ignore[arg-type]
    rl = {"algo": "dr_grpo", "updates": 4, "prompts_per_update": 4, "group_size": 4, "warmup": 0, "lr": 1e-4}
    cfg = RLConfig(refill_groups=True, eval_problems=8, device="cpu", **rl)  # type: ignore[arg-type]
    runs = []
    for _ in range(2):
        rows: list[dict[str, float]] = []
        _, summary = train(cfg, base=base, log=rows.append)
        runs.append((summary["rewards"], rows))
    (rewards, rows), (rewards_again, rows_again) = runs
    assert all(r["charts/kept_groups"] == 4 for r in rows)  # the base is right often enough: P groups every time
    assert all(r["charts/zero_adv_groups"] == 0.0 for r in rows)  # ... and the batch trained on has only those
    assert any(r["charts/refill_rounds"] >= 1 for r in rows)  # some updates needed extra rounds
    assert rewards == rewards_again  # reproducible from the seed
    assert [r["charts/refill_rounds"] for r in rows] == [r["charts/refill_rounds"] for r in rows_again]


def _step(cfg: RLConfig, model: GPT, reference: GPT | None, roll: Rollout) -> tuple[GPT, dict[str, float]]:
    """One rl_update of a copy of `model` by SGD (lr 0.05, no gradient clipping): (the policy after, stats)."""
    policy = copy.deepcopy(model)
    value_head = ValueHead(model.config.n_embd) if cfg.advantage == "gae" else None
    params = list(policy.parameters()) + (list(value_head.parameters()) if value_head is not None else [])
    stats = rl_update(policy, reference, value_head, torch.optim.SGD(params, lr=0.05), roll, cfg)
    return policy, stats


def _same(a: GPT, b: GPT) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize(
    ("algo", "advantage"), [("grpo", None), ("dr_grpo", None), ("rloo", None), ("reinforce", None), ("ppo", "group")]
)
def test_the_kl_in_the_reward_applies_to_every_per_response_advantage(algo: str, advantage: str | None) -> None:
    """--kl-in-reward with a group or leave-one-out advantage: the update is the one on the rewards
    r_i − β Σ_t (logp_old − ref_logp)_i,t with β = 0 elsewhere, and not the update without the KL."""
    torch.manual_seed(0)
    model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=PW + N, n_layer=1, n_head=2, n_embd=16))
    reference = copy.deepcopy(model).eval()
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.3 * torch.randn_like(p))  # a reference the policy has moved away from
    roll = _rollout()
    fields = {"algo": algo, "advantage": advantage, "max_grad_norm": None, "scale_by_std": False}
    cfg = RLConfig(kl_coef=0.5, kl_in_reward=True, **fields).resolved()  # type: ignore[arg-type]
    without = RLConfig(kl_coef=0.0, kl_in_reward=True, **fields).resolved()  # type: ignore[arg-type]
    with_kl, stats = _step(cfg, model, reference, roll)
    assert stats["losses/kl_loss"] == 0.0  # the KL is in the reward, not in the loss
    assert not _same(with_kl, _step(without, model, None, roll)[0])  # the KL changed the update
    from kingme.lm.algos import kl_penalised_scores

    with torch.no_grad():
        logp = _token_logp(model, roll)
        ref_logp = _token_logp(reference, roll)
    shaped = dataclasses.replace(roll, rewards=kl_penalised_scores(roll.rewards, logp, ref_logp, roll.mask, 0.5))
    by_hand, _ = _step(without, model, None, shaped)
    for a, b in zip(with_kl.parameters(), by_hand.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def _token_logp(model: GPT, roll: Rollout) -> torch.Tensor:
    logits, _ = forward_responses(model.eval(), roll.prompts, roll.responses)
    return token_logprobs(logits, roll.responses)[0]  # (B, N)


def test_with_dropout_theta_old_is_the_sampler_and_the_first_ratio_is_one() -> None:
    """A base with dropout 0.1, handed over in train mode (as the training loop once did): the update
    runs without dropout, so θ_old's log-probabilities are the sampler's and, while θ = θ_old, every
    ratio is exactly 1."""
    from kingme.lm.sampling import generate

    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=VOCAB_SIZE, block_size=PW + N, n_layer=1, n_head=2, n_embd=16, dropout=0.1)
    model = GPT(config)
    roll = _rollout()
    cfg = RLConfig(algo="grpo", epochs=3, max_grad_norm=None).resolved()
    policy = copy.deepcopy(model).train()
    opt = torch.optim.SGD(policy.parameters(), lr=0.0)  # θ stays θ_old through every epoch
    stats = rl_update(policy, copy.deepcopy(model).eval(), None, opt, roll, cfg)
    assert stats["losses/approx_kl"] == 0.0 and stats["losses/clipfrac"] == 0.0
    assert stats["losses/kl_ref"] == pytest.approx(0.0, abs=1e-7)
    assert not policy.training  # and the log-probabilities it computes are the sampler's:
    gen = generate(policy, roll.prompts, N, temperature=0.0, return_logits=True)
    assert gen.logits is not None
    sampler_logp = token_logprobs(gen.logits, gen.tokens)[0]  # (B, n)
    ours = response_logprobs(policy, roll.prompts, gen.tokens)[0]
    torch.testing.assert_close(ours[gen.mask], sampler_logp[gen.mask], atol=1e-5, rtol=0)


def test_training_from_a_dropout_base_starts_at_ratio_one() -> None:
    from kingme.lm.pretrain import PretrainConfig, pretrain
    from kingme.lm.rl import train

    small = {"n_layer": 1, "n_head": 2, "n_embd": 16, "train_size": 200, "eval_problems": 8, "device": "cpu"}
    base = pretrain(PretrainConfig(task="path", max_level=1, steps=5, warmup=1, dropout=0.1, **small))[:2]  # type: ignore[arg-type]
    rows: list[dict[str, float]] = []
    rl = {"updates": 2, "prompts_per_update": 4, "group_size": 4, "epochs": 2, "lr": 0.0, "eval_problems": 8}
    train(RLConfig(algo="grpo", device="cpu", **rl), base=base, log=rows.append)  # type: ignore[arg-type]
    assert all(r["losses/approx_kl"] == 0.0 and r["losses/clipfrac"] == 0.0 for r in rows)


def test_the_update_optimises_the_sampling_distribution() -> None:
    """With --temperature and --top-k, log π in the update is that of softmax(logits / T) over the
    top k, the distribution each token was drawn from."""
    from kingme.lm.sampling import generate, sampling_logits

    torch.manual_seed(0)
    model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=PW + N, n_layer=1, n_head=2, n_embd=16))
    roll = _rollout()
    torch.manual_seed(1)
    gen = generate(model, roll.prompts, N, temperature=0.7, top_k=3, return_logits=True)
    assert gen.logits is not None
    drawn_from = torch.log_softmax(sampling_logits(gen.logits, 0.7, 3)[0], dim=-1)  # (B, n, V)
    expected = drawn_from.gather(-1, gen.tokens.unsqueeze(-1)).squeeze(-1)  # (B, n)
    ours = response_logprobs(model, roll.prompts, gen.tokens, 0.7, 3)[0]
    torch.testing.assert_close(ours[gen.mask], expected[gen.mask], atol=1e-5, rtol=0)
    assert not torch.allclose(ours[gen.mask], token_logprobs(gen.logits, gen.tokens)[0][gen.mask])  # not T = 1
    # top-1 sampling is greedy: every token drawn has probability 1, so there is nothing to optimise
    greedy = generate(model, roll.prompts, N, temperature=1.0, top_k=1)
    top1 = dataclasses.replace(roll, responses=greedy.tokens, mask=greedy.mask)
    cfg = RLConfig(algo="dr_grpo", top_k=1, max_grad_norm=None).resolved()
    assert _same(_step(cfg, model, None, top1)[0], model)
    assert not _same(_step(dataclasses.replace(cfg, top_k=None), model, None, top1)[0], model)


def test_dr_grpo_divides_by_the_response_cap() -> None:
    """A rollout keeps the sampler's cap: the constant normaliser is B · cap, however long the batch's
    longest response happens to be."""
    from kingme.lm.rl import collect_rollout
    from kingme.lm.tasks import Addition, sample_problems

    task = Addition(1)
    model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=task.block_size, n_layer=1, n_head=2, n_embd=16))
    roll = collect_rollout(
        model, task, sample_problems(task, np.random.default_rng(0), 2, "train"), 2, 1.0, None, "cpu"
    )
    assert roll.max_len == task.response_width
    short = select_groups(roll, [0])
    assert short.max_len == task.response_width and concat_rollouts([short]).max_len == task.response_width


def test_the_statistics_are_means_over_every_epoch() -> None:
    """Two epochs: the first at θ = θ_old (approximate KL 0), the second one SGD step later; the
    logged approximate KL is the mean of the two, not the last epoch's."""
    torch.manual_seed(0)
    model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=PW + N, n_layer=1, n_head=2, n_embd=16))
    roll = _rollout()
    cfg = RLConfig(algo="dr_grpo", max_grad_norm=None).resolved()
    one_step, _ = _step(cfg, model, None, roll)
    with torch.no_grad():
        delta = (_token_logp(one_step, roll) - _token_logp(model, roll))[roll.mask]
    second_epoch_kl = float(((delta.exp() - 1) - delta).mean())  # k3 of ratio = π_θ / π_θ_old
    assert second_epoch_kl > 1e-6
    _, stats = _step(dataclasses.replace(cfg, epochs=2), model, None, roll)
    assert stats["losses/approx_kl"] == pytest.approx(second_epoch_kl / 2, rel=1e-3)
