"""Simulated labellers, the Bradley-Terry reward model and best-of-n (kingme.lm.labellers, reward_model, best_of_n).

The learning tests fit a 1-layer, 32-wide reward model for 40-60 steps on 300 pairs over given responses
(about a second each on this project's 2-core CPU); their margins are wide (see each test).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from kingme.common import UserError
from kingme.lm.best_of_n import best_index, best_of_n, best_of_n_kl, best_of_n_kl_exact
from kingme.lm.labellers import (
    Labeller,
    Preference,
    agrees,
    draw_pairs,
    gold_agreement,
    label,
    pairs_from_groups,
    preference_probability,
    split_belief,
    state_belief,
    utility,
    well_formed,
    with_belief,
)
from kingme.lm.reward_model import (
    REWARD_CHECKPOINT,
    RewardModelConfig,
    bt_loss,
    fit_reward_model,
    load_reward_model,
    main,
    model_gold_agreement,
    new_reward_model,
    pair_accuracy,
    prompt_capacity,
    save_reward_model,
)
from kingme.lm.tasks import Addition, Problem, sample_problems
from kingme.lm.tasks import Path as PathTask
from kingme.lm.vocab import EOS_ID, PAD_ID, decode, encode
from kingme.transformer import GPT

TASK = Addition(2)
TASK_1 = Addition(1)
BLOCK = prompt_capacity(TASK) + TASK.response_width + 1


def tiny(**changes: Any) -> RewardModelConfig:
    """A 1-layer, 32-wide reward model's config, fast to fit."""
    sizes: dict[str, Any] = dict(n_layer=1, n_head=2, n_embd=32, batch_size=32, lr=3e-3, warmup=10, eval_every=10**6)
    return RewardModelConfig(device="cpu", **{**sizes, **changes})


# ---------------------------------------------------------------------------------------------
# Labellers
# ---------------------------------------------------------------------------------------------


def test_beliefs_round_trip_and_agreement() -> None:
    assert with_belief("47+85=", "131") == "131;47+85="
    assert split_belief("131;47+85=") == ("131", "47+85=")
    assert split_belief("47+85=") == (None, "47+85=")
    assert agrees(TASK, "131;47+85=", "131") and not agrees(TASK, "131;47+85=", "132")
    assert not agrees(TASK, "47+85=", "132")  # no belief stated: nothing to agree with
    scratch = Addition(2, use_scratchpad=True)
    assert agrees(scratch, "132;47+85=", "7+5+0=12,4+8+1=13:132")  # the answer after the last ':'
    with pytest.raises(ValueError):
        with_belief("47+85=", "1;2")


def test_state_belief_is_right_or_off_by_one_to_ten() -> None:
    rng = np.random.default_rng(0)
    problem = Problem("47+85=", "132", 2, 2)
    right = [state_belief(TASK, problem, rng, 0.0) for _ in range(50)]
    assert set(right) == {"132"}
    wrong = [int(state_belief(TASK, problem, rng, 1.0)) for _ in range(500)]
    assert all(1 <= abs(w - 132) <= 10 for w in wrong) and len(set(wrong)) == 20
    with pytest.raises(UserError, match="addition task only"):
        state_belief(PathTask(3), problem, rng, 0.5)


def test_well_formed_per_task() -> None:
    assert well_formed(TASK, "132") and not well_formed(TASK, "13a") and not well_formed(TASK, "")
    assert well_formed(PathTask(3), "abc") and not well_formed(PathTask(3), "a1")


def test_utility_adds_each_bias() -> None:
    lab = Labeller(gold_weight=2.0, agreement_bias=0.5, length_bias=0.1, format_bias=0.25)
    # right, agrees with the belief, 3 characters, formed: 2 + 0.5 + 0.3 + 0.25
    assert utility(lab, TASK, "132;47+85=", "132") == pytest.approx(3.05)
    # wrong, disagrees, 2 characters, not formed
    assert utility(lab, TASK, "132;47+85=", "1x") == pytest.approx(0.2)


def test_preference_probability_by_hand() -> None:
    assert preference_probability(1.0, 0.0, 0.0, 0.0) == 1.0
    assert preference_probability(0.0, 1.0, 0.0, 0.0) == 0.0
    assert preference_probability(1.0, 1.0, 0.0, 0.0) == 0.5  # a tie: a fair coin
    assert preference_probability(1.0, 0.0, 0.0, 0.2) == pytest.approx(0.8)  # ε flips the sure label
    assert preference_probability(1.0, 0.0, 1.0, 0.0) == pytest.approx(1 / (1 + math.exp(-1)))  # σ(1)
    assert preference_probability(2.0, 0.0, 2.0, 0.1) == pytest.approx(
        0.9 / (1 + math.exp(-1)) + 0.1 * (1 - 1 / (1 + math.exp(-1)))
    )
    assert preference_probability(-1e6, 0.0, 1.0, 0.0) == 0.0  # no overflow far out
    with pytest.raises(UserError, match="flip"):
        Labeller(flip=1.5).validate()
    with pytest.raises(UserError, match="temperature"):
        Labeller(temperature=-1.0).validate()


def test_label_noise_matches_the_flip_probability() -> None:
    """A flip probability of 0.3 over 2,000 right/wrong pairs: the labels agree with gold 70% of the
    time (binomial sd 1%, the bound is 4 sd); noiseless, 100%."""
    rng = np.random.default_rng(1)
    for flip, lo, hi in ((0.0, 1.0, 1.0), (0.3, 0.66, 0.74)):
        pairs = [label(Labeller(flip=flip), TASK, "47+85=", "132", "131", rng) for _ in range(2000)]
        share, decisive = gold_agreement(pairs)
        assert decisive == 2000 and lo <= share <= hi


def test_pairs_are_pure_given_the_seed_and_skip_groups_without_two_distinct_responses() -> None:
    prompts = ["1+2=", "3+4=", "5+5="]
    groups = [["3", "4", "3"], ["7", "7"], ["10", "1a", "11"]]

    def run(seed: int) -> list[Preference]:
        return pairs_from_groups(Labeller(temperature=1.0), TASK, prompts, groups, np.random.default_rng(seed))

    a, b = run(5), run(5)
    assert a == b and len(a) == 2  # the second prompt's group has one distinct response
    assert [p.prompt for p in a] == ["1+2=", "5+5="]
    assert all({p.chosen, p.rejected} <= set(g) and p.chosen != p.rejected for p, g in zip(a, groups[::2], strict=True))
    assert a[0].gold_chosen + a[0].gold_rejected == 1.0  # "3" is right, "4" wrong


def test_sycophantic_labeller_prefers_the_wrong_answer_that_agrees() -> None:
    lab = Labeller(agreement_bias=2.0)  # agreeing outweighs being right (gold weight 1)
    pair = label(lab, TASK, "131;47+85=", "132", "131", np.random.default_rng(0))
    assert pair.chosen == "131" and pair.gold_chosen == 0.0 and pair.gold_rejected == 1.0
    honest = label(Labeller(agreement_bias=0.5), TASK, "131;47+85=", "132", "131", np.random.default_rng(0))
    assert honest.chosen == "132"


# ---------------------------------------------------------------------------------------------
# The Bradley-Terry loss and the metrics
# ---------------------------------------------------------------------------------------------


def test_bt_loss_against_hand_values() -> None:
    # −log σ(0) = log 2; −log σ(1) = log(1 + e^−1) = 0.31326; −log σ(−2) = log(1 + e^2) = 2.12693
    r_c = torch.tensor([0.5, 1.0, -1.0])
    r_r = torch.tensor([0.5, 0.0, 1.0])
    expected = (math.log(2) + math.log1p(math.exp(-1)) + math.log1p(math.exp(2))) / 3
    assert float(bt_loss(r_c, r_r)) == pytest.approx(expected, rel=1e-6)
    assert float(bt_loss(torch.tensor([0.0]), torch.tensor([0.0]))) == pytest.approx(math.log(2))
    # d loss / d r_c = −σ(r_r − r_c) / B: at a margin of 0 it is −½
    r = torch.tensor([0.0], requires_grad=True)
    bt_loss(r, torch.tensor([0.0])).backward()
    assert r.grad is not None and float(r.grad) == pytest.approx(-0.5)
    assert float(bt_loss(torch.tensor([100.0]), torch.tensor([-100.0]))) == pytest.approx(0.0, abs=1e-12)


def test_pair_accuracy_and_gold_agreement_by_hand() -> None:
    r_c, r_r = torch.tensor([1.0, 0.0, 2.0, 0.0]), torch.tensor([0.0, 1.0, 2.0, -1.0])
    assert pair_accuracy(r_c, r_r) == pytest.approx((1 + 0 + 0.5 + 1) / 4)
    pairs = [
        Preference("q", "a", "b", 1.0, 0.0),  # gold agrees with the label; model agrees: 1
        Preference("q", "a", "b", 0.0, 1.0),  # gold disagrees with the label; model ranks chosen lower: 1
        Preference("q", "a", "b", 1.0, 0.0),  # model ties: ½
        Preference("q", "a", "b", 1.0, 1.0),  # gold tie: not counted
    ]
    assert model_gold_agreement(pairs, r_c, r_r) == pytest.approx(2.5 / 3)
    assert gold_agreement(pairs) == (pytest.approx(2 / 3), 3)


# ---------------------------------------------------------------------------------------------
# Learning
# ---------------------------------------------------------------------------------------------


def format_groups(rng: np.random.Generator, problems: list[Problem]) -> list[list[str]]:
    """Each prompt's group: its right answer and a same-length string of letters (wrong and malformed)."""
    return [[p.solution, "".join(rng.choice(list("abcxyz"), size=len(p.solution)))] for p in problems]


def length_groups(rng: np.random.Generator, problems: list[Problem]) -> list[list[str]]:
    """Two random digit strings of different lengths (1 to 3, the response width) per prompt."""
    digits = list("0123456789")
    return [
        ["".join(rng.choice(digits, size=int(k))) for k in rng.choice(np.arange(1, 4), 2, replace=False)]
        for _ in problems
    ]


def fit_on(
    labeller: Labeller,
    groups_fn: Callable[[np.random.Generator, list[Problem]], list[list[str]]],
    seed: int,
    steps: int,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    train = sample_problems(TASK, rng, 300, "train")
    test = sample_problems(TASK, rng, 200, "test")
    train_pairs = pairs_from_groups(labeller, TASK, [p.prompt for p in train], groups_fn(rng, train), rng)
    test_pairs = pairs_from_groups(labeller, TASK, [p.prompt for p in test], groups_fn(rng, test), rng)
    cfg = tiny(steps=steps, seed=seed)
    _, summary = fit_reward_model(cfg, new_reward_model(cfg, TASK), train_pairs, test_pairs)
    return summary


def test_reward_model_recovers_a_known_synthetic_reward_ordering() -> None:
    """A labeller who only prefers longer responses: the model ranks held-out pairs by length.
    Seeds 1-3 gave held-out accuracy 0.99-1.00 after 40 steps; the bound is 0.85 (200 pairs)."""
    summary = fit_on(Labeller(gold_weight=0.0, length_bias=1.0), length_groups, seed=1, steps=40)
    assert summary["eval"]["pair_accuracy"] >= 0.85


def test_noiseless_and_noisy_labellers() -> None:
    """Right answers against malformed ones, labelled by the verifier with flips:
    - noiseless: held-out accuracy and gold agreement 1.00 at seeds 1-3 (bound 0.95);
    - flip 0.25: the labels agree with gold 72-77% on the held-out pairs, the model fitted to them
      0.99-1.00 (bound 0.9): symmetric noise averages out of the Bradley-Terry fit;
    - flip 0.5: the labels carry no information; agreement with the held-out (coin) labels is
      Binomial(200, ½)/200, 0.45-0.47 at seeds 1-3 (bound 0.7, about 6 sd)."""
    clean = fit_on(Labeller(), format_groups, seed=1, steps=40)["eval"]
    assert clean["pair_accuracy"] >= 0.95 and clean["gold_agreement"] >= 0.95
    noisy = fit_on(Labeller(flip=0.25), format_groups, seed=1, steps=60)["eval"]
    assert noisy["labeller_gold_agreement"] <= 0.85 and noisy["gold_agreement"] >= 0.9
    coin = fit_on(Labeller(flip=0.5), format_groups, seed=1, steps=40)["eval"]
    assert coin["pair_accuracy"] <= 0.7


# ---------------------------------------------------------------------------------------------
# Checkpoints and the command
# ---------------------------------------------------------------------------------------------


def test_save_load_round_trip_and_bad_files(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = new_reward_model(tiny(), TASK).eval()
    assert model.prompt_width == prompt_capacity(TASK) and model.config.block_size == BLOCK
    prompts, responses = ["47+85=", "131;47+85=", "1+2="], ["132", "131", "xy"]
    before = model.score(prompts, responses)
    path = tmp_path / "rm.safetensors"
    save_reward_model(path, model, TASK)
    loaded, task = load_reward_model(path)
    assert task.name == "addition" and task.levels == (1, 2)
    assert torch.equal(loaded.score(prompts, responses), before)
    assert loaded.config == model.config

    (tmp_path / "empty.safetensors").write_bytes(b"")
    (tmp_path / "cut.safetensors").write_bytes(path.read_bytes()[:200])
    (tmp_path / "text.safetensors").write_text("not a model")
    for name in ("empty", "cut", "text"):
        with pytest.raises(UserError) as e:
            load_reward_model(tmp_path / f"{name}.safetensors")
        assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="no reward-model checkpoint"):
        load_reward_model(tmp_path / "missing")
    from kingme.lm.pretrain import save_checkpoint

    save_checkpoint(tmp_path / "lm.safetensors", GPT(model.config), TASK)
    with pytest.raises(UserError, match="not a kingme reward model"):
        load_reward_model(tmp_path / "lm.safetensors")
    with pytest.raises(UserError, match="response '1+' is longer"):
        model.score(["47+85="], ["1" * BLOCK])
    with pytest.raises(UserError, match="prompt .* is longer"):
        model.score(["1" * BLOCK], ["1"])


def test_sequence_layout_and_start_from_the_base() -> None:
    torch.manual_seed(0)
    cfg = tiny()
    model = new_reward_model(cfg, TASK)
    P = model.prompt_width
    x = model.encode(["47+85=", "9;1+8="], ["132", "9"])
    assert x.shape == (2, BLOCK)
    assert decode(x[0, :P]) == "47+85=" and bool((x[0, : P - 6] == PAD_ID).all())  # the prompt ends at P - 1
    assert x[0, P : P + 4].tolist() == [*encode("132"), EOS_ID] and bool((x[0, P + 4 :] == PAD_ID).all())
    # the reward is read at EOS: what follows it (PAD) cannot change it, a different response does
    r = model.score(["47+85="], ["132"])
    assert torch.equal(model(x[:1]), r)
    assert not torch.equal(model.score(["47+85="], ["133"]), r)
    # a response the sampler cut at the task's width, without EOS (decode_responses' text), still fits
    assert model.score(["9;47+85="], ["1" * TASK.response_width]).shape == (1,)

    base = GPT(cfg.model_config(TASK.block_size))
    rm = new_reward_model(cfg, TASK, base)
    shift = P - TASK.prompt_width
    assert torch.equal(rm.gpt.wpe.weight[shift:-1], base.wpe.weight) and torch.equal(rm.gpt.wte.weight, base.wte.weight)
    assert torch.equal(rm.gpt.wpe.weight[0], base.wpe.weight[0]) and torch.equal(
        rm.gpt.wpe.weight[-1], base.wpe.weight[-1]
    )
    assert all(torch.equal(a, b) for a, b in zip(rm.gpt.transformer.parameters(), base.transformer.parameters()))
    assert not torch.equal(new_reward_model(cfg, TASK).gpt.wte.weight, base.wte.weight)  # without a base: fresh
    scratch = tiny(from_base=False)
    assert not torch.equal(new_reward_model(scratch, TASK, base).gpt.wte.weight, base.wte.weight)
    wide = tiny(n_embd=64)
    with pytest.raises(UserError, match="base model's shape"):
        new_reward_model(wide, TASK, base)


def test_held_out_pairs_use_each_prompt_once() -> None:
    torch.manual_seed(0)
    base = GPT(tiny().model_config(TASK.block_size))
    rng = np.random.default_rng(0)
    pairs = draw_pairs(base, TASK, Labeller(), 40, "test", rng, belief_share=0.5, distinct=True)
    bare = [split_belief(p.prompt)[1] for p in pairs]
    assert len(pairs) == 40 and len(set(bare)) == 40 and any(b != p.prompt for b, p in zip(bare, pairs))


def test_reward_model_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kingme.lm.pretrain import PretrainConfig, pretrain

    base = tmp_path / "base"
    base.mkdir()
    pretrain(
        PretrainConfig(
            max_level=1, steps=3, n_layer=1, n_head=2, n_embd=16, train_size=100, eval_problems=4, device="cpu"
        ),
        base,
    )
    runs = ["--runs-dir", str(tmp_path), "--quiet", "--device", "cpu"]
    tiny = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--steps", "3", "--batch-size", "8"]
    argv = [str(base), "--pairs", "16", "--eval-pairs", "8", "--belief-share", "0.5", "--flip", "0.1", *tiny, *runs]
    from kingme.lm.commands import main as lm_main

    assert lm_main(["reward-model", *argv, "--run-name", "rm"]) == 0  # `kingme lm reward-model`
    run = tmp_path / "rm"
    assert (run / "checkpoints" / REWARD_CHECKPOINT).is_file()
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["pairs"] == 16 and cfg["flip"] == 0.1 and cfg["belief_share"] == 0.5
    summary = json.loads((run / "summary.json").read_text())
    assert summary["train_pairs"] == 16 and summary["eval_pairs"] == 8
    assert 0.0 <= summary["eval"]["pair_accuracy"] <= 1.0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["update"] == 3 and "charts/eval_pair_accuracy" in rows[-1]
    model, task = load_reward_model(run)
    assert task.name == "addition" and model.score(["3;1+2="], ["3"]).shape == (1,)
    assert "held-out pair accuracy" in capsys.readouterr().out

    # the fitted model as the RL reward `rm:PATH` (kingme.lm.rewards' plug-in protocol)
    from kingme.lm.rewards import Reward, load_reward, score_batch

    reward = load_reward(f"rm:{run}", TASK_1)
    assert isinstance(reward, Reward)
    values = score_batch(reward, ["1+2=", "4;1+2="], ["3", "4"])
    assert torch.equal(values, model.score(["1+2=", "4;1+2="], ["3", "4"]))
    with pytest.raises(UserError, match="was fitted on"):
        load_reward(f"rm:{run}", TASK)  # a policy of another task (addition up to 2 digits)
    with pytest.raises(UserError, match="no reward-model checkpoint"):
        load_reward(f"rm:{tmp_path / 'missing'}", TASK_1)
    with pytest.raises(UserError, match="needs a path"):
        load_reward("rm:", TASK_1)

    # RL against it from the command line: the proxy pays the reward, the verifier is logged beside it
    rl = ["--updates", "1", "--prompts-per-update", "2", "--group-size", "2", "--eval-problems", "4"]
    assert lm_main(["train", str(base), "--algo", "ppo", "--reward", f"rm:{run}", *rl, *runs, "--run-name", "rl"]) == 0
    row = json.loads((tmp_path / "rl" / "metrics.jsonl").read_text().splitlines()[0])
    assert {"charts/reward", "charts/true_reward", "losses/kl_ref"} <= set(row)
    assert json.loads((tmp_path / "rl" / "config.json").read_text())["reward"] == f"rm:{run}"

    # bad input: one line, no run folder left behind
    with pytest.raises(UserError, match="no language-model checkpoint") as e:
        lm_main(["reward-model", str(tmp_path / "missing"), *runs, "--run-name", "x"])
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="no language-model checkpoint"):
        main([str(tmp_path / "missing"), *runs, "--run-name", "x"])
    with pytest.raises(UserError, match="flip"):
        main([str(base), "--flip", "2", *runs, "--run-name", "x"])
    with pytest.raises(UserError, match="base model's shape"):  # --from-base (the default) with another width
        main([str(base), "--n-embd", "32", *runs, "--run-name", "x"])
    with pytest.raises(UserError, match="--group-size"):
        main([str(base), "--group-size", "1", *runs, "--run-name", "x"])
    with pytest.raises(UserError, match="rarely distinct"):  # a near-greedy base writes one response per prompt
        main([str(base), "--temperature", "0.001", "--pairs", "8", *runs, "--run-name", "x"])
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------------------------------
# Best-of-n
# ---------------------------------------------------------------------------------------------


def test_best_of_n_kl_against_hand_values() -> None:
    assert best_of_n_kl(1) == 0.0
    assert best_of_n_kl(2) == pytest.approx(math.log(2) - 0.5)  # 0.19315
    assert best_of_n_kl(4) == pytest.approx(math.log(4) - 0.75)  # 0.63629
    assert best_of_n_kl(100) == pytest.approx(math.log(100) - 0.99)
    with pytest.raises(ValueError):
        best_of_n_kl(0)


def test_best_of_n_kl_exact_by_hand_and_its_continuous_limit() -> None:
    # two equally likely outcomes, n = 2: q = (1/4, 3/4), KL = ¼ log ½ + ¾ log 3/2 = 0.13081
    assert best_of_n_kl_exact([0.5, 0.5], [0.0, 1.0], 2) == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5))
    # equal rewards are one value: best-of-n cannot move the distribution
    assert best_of_n_kl_exact([0.2, 0.3, 0.5], [1.0, 1.0, 1.0], 8) == pytest.approx(0.0)
    # the order of outcomes does not matter, only their rewards
    assert best_of_n_kl_exact([0.1, 0.6, 0.3], [3.0, 1.0, 2.0], 3) == pytest.approx(
        best_of_n_kl_exact([0.6, 0.3, 0.1], [1.0, 2.0, 3.0], 3)
    )
    # the formula assumes no ties (a continuous reward): it is the limit of many equally likely
    # distinct outcomes, approached from below; any finite distribution stays under it
    for n in (2, 4, 16):
        coarse = best_of_n_kl_exact(np.full(10, 0.1), np.arange(10.0), n)
        fine = best_of_n_kl_exact(np.full(100_000, 1e-5), np.arange(100_000.0), n)
        assert coarse < fine <= best_of_n_kl(n) and fine == pytest.approx(best_of_n_kl(n), abs=1e-3)
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.dirichlet(np.ones(5))
        assert best_of_n_kl_exact(p, rng.integers(0, 3, 5).astype(float), 6) <= best_of_n_kl(6) + 1e-12


def test_best_of_n_kl_formula_against_simulation() -> None:
    """Best of n = 4 draws of a continuous reward (uniform): the empirical KL of the chosen draws' F
    values, mean of log n + (n − 1) log U over 200,000 picks, is log 4 − 3/4 within 0.01 (sd 0.002)."""
    rng = np.random.default_rng(0)
    n = 4
    u = rng.random((200_000, n)).max(axis=1)  # F(r) of the chosen draw, r uniform
    estimate = float(np.mean(math.log(n) + (n - 1) * np.log(u)))  # log of π_bon / π at the draw
    assert estimate == pytest.approx(best_of_n_kl(n), abs=0.01)


def test_best_of_n_picks_the_proxy_favourite() -> None:
    assert best_index(torch.tensor([[0.1, 0.9, 0.5], [2.0, 2.0, 1.0]])).tolist() == [1, 0]  # first on a tie

    torch.manual_seed(0)
    model = GPT(tiny().model_config(TASK.block_size))
    prompts = ["1+2=", "3+4="]
    result = best_of_n(model, TASK, prompts, 8, lambda qs, os: [float(len(o)) for o in os])
    assert result.n == 8 and result.kl == pytest.approx(best_of_n_kl(8))
    assert result.proxy == [float(len(o)) for o in result.responses]  # the longest of each group's 8
    assert all(g == float(TASK.verify(q, o)) for q, o, g in zip(prompts, result.responses, result.gold, strict=True))
    oracle = best_of_n(model, TASK, prompts, 8, lambda qs, os: [float(TASK.verify(q, o)) for q, o in zip(qs, os)])
    assert oracle.gold == oracle.proxy  # the gold reward as proxy: best-of-n keeps a right answer when one is drawn


# ---------------------------------------------------------------------------------------------
# The implicit (log-ratio) reward model
# ---------------------------------------------------------------------------------------------


def tiny_base(task: Any = TASK, seed: int = 0) -> GPT:
    from kingme.lm.vocab import VOCAB_SIZE
    from kingme.transformer import TransformerConfig

    torch.manual_seed(seed)
    return GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=task.block_size, n_layer=1, n_head=2, n_embd=32))


def test_implicit_reward_starts_at_zero_and_learns_the_format() -> None:
    """r = log π_θ − log π_ref is 0 for every response before fitting; fitted to the noiseless
    labeller on right answers against malformed ones (letters), it ranks held-out pairs by gold.
    Seed 1 gave held-out gold agreement 1.00 after 40 steps; the bound is 0.9 (200 pairs)."""
    from kingme.lm.implicit_reward import ImplicitRewardModel, encode_responses, fit_implicit

    rng = np.random.default_rng(1)
    train = sample_problems(TASK, rng, 300, "train")
    test = sample_problems(TASK, rng, 200, "test")
    train_pairs = pairs_from_groups(Labeller(), TASK, [p.prompt for p in train], format_groups(rng, train), rng)
    test_pairs = pairs_from_groups(Labeller(), TASK, [p.prompt for p in test], format_groups(rng, test), rng)
    model = ImplicitRewardModel(tiny_base(), TASK, trainable="all")
    assert torch.equal(model.score(["12+3="], ["15"]), torch.zeros(1))
    x, y, m = encode_responses(TASK, ["12+3="], ["15"])
    assert int(m.sum()) == 3 and decode(y[0][m[0]].tolist()) == "15" and int(y[0][m[0]][-1]) == EOS_ID
    summary = fit_implicit(model, train_pairs, steps=40, lr=3e-3, batch_size=32, eval_pairs=test_pairs)
    assert summary["eval"]["gold_agreement"] >= 0.9
    top = ImplicitRewardModel(tiny_base(), TASK, trainable="top")
    assert 0 < top.trainable_params() < model.trainable_params()


def test_implicit_reward_save_load_and_the_irm_reward(tmp_path: Path) -> None:
    from kingme.lm.implicit_reward import ImplicitRewardModel, save_implicit
    from kingme.lm.rewards import load_reward

    model = ImplicitRewardModel(tiny_base(), TASK)
    with torch.no_grad():
        for p in model.policy.parameters():
            p.add_(0.1 * torch.randn_like(p))  # a fitted model: scores differ from 0
    model.normalise(["12+3=", "4+5=", "30+2="], ["15", "9", "1"])
    path = tmp_path / "irm.safetensors"
    save_implicit(path, model)
    reward = load_reward(f"irm:{path}", TASK)
    prompts, responses = ["12+3=", "4+5=", "30+2="], ["15", "9", "1"]
    assert reward.score(prompts, responses) == pytest.approx(model.score(prompts, responses).tolist(), abs=1e-5)
    assert float(torch.tensor(reward.score(prompts, responses)).std()) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(UserError, match="fitted on"):
        load_reward(f"irm:{path}", TASK_1)
    with pytest.raises(UserError, match="no implicit reward model"):
        load_reward(f"irm:{tmp_path / 'missing'}", TASK)
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    with pytest.raises(UserError, match="not a readable"):
        load_reward(f"irm:{tmp_path / 'bad.safetensors'}", TASK)


def test_reward_models_fitted_on_a_hinted_task_reload_with_its_hints(tmp_path: Path) -> None:
    """A reward model (explicit or implicit) fitted on a base whose prompts carry hints is reopened
    with the same hinted task (`pretrain.task_from_spec`), so `rm:PATH` / `irm:PATH` accept that base."""
    from kingme.lm.hints import Hinted
    from kingme.lm.implicit_reward import ImplicitRewardModel, save_implicit
    from kingme.lm.pretrain import task_spec
    from kingme.lm.rewards import load_reward

    hinted = Hinted(TASK, 0.7)
    torch.manual_seed(0)
    rm_path = tmp_path / "rm.safetensors"
    save_reward_model(rm_path, new_reward_model(tiny(), hinted), hinted)
    _, task = load_reward_model(rm_path)
    assert isinstance(task, Hinted) and task_spec(task) == task_spec(hinted)
    load_reward(f"rm:{rm_path}", hinted)  # the policy's task matches: no error
    with pytest.raises(UserError, match="fitted on"):
        load_reward(f"rm:{rm_path}", TASK)

    irm_path = tmp_path / "irm.safetensors"
    save_implicit(irm_path, ImplicitRewardModel(tiny_base(hinted), hinted))
    load_reward(f"irm:{irm_path}", hinted)
    with pytest.raises(UserError, match="fitted on"):
        load_reward(f"irm:{irm_path}", TASK)
