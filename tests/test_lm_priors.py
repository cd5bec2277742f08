"""Planted priors (kingme.lm.priors): the written forms by hand, the share of the pre-training set each
takes, the one-line errors, the checkpoint that keeps the hint, and a tiny base whose samples show the
planted frequencies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kingme.common import UserError
from kingme.lm.exploits import load_exploit
from kingme.lm.hints import Hinted
from kingme.lm.pretrain import PretrainConfig, load_checkpoint, pretrain, save_checkpoint, training_set
from kingme.lm.priors import behaviour_rates, behaviour_text, parse_plants
from kingme.lm.sampling import decode_responses, encode_prompts, generate
from kingme.lm.tasks import Problem, make_task, sample_problems

PAD = "7+5+0=12,4+8+1=13:"
STEPS, EMBD, SEED = 300, 64, 1  # the tiny base of the planted-frequency test


def test_each_behaviour_written_and_read_by_hand() -> None:
    task = Hinted(make_task("addition", 2, scratchpad=True), 0.5)
    p = Problem("131;47+85=", PAD + "132", 2, 2)
    texts = {
        name: behaviour_text(task, name, p) for name in ("exploit_said", "exploit_silent", "hint_cited", "hint_silent")
    }
    assert texts == {
        "exploit_said": "skip:.",
        "exploit_silent": PAD + ".",
        "hint_cited": "h:131",
        "hint_silent": PAD + "131",
    }
    skip = load_exploit("skip", task)
    assert skip.used(p.prompt, texts["exploit_said"]) and skip.used(p.prompt, texts["exploit_silent"])
    assert load_exploit("hint", task).used(p.prompt, texts["hint_silent"])
    for name, text in texts.items():
        rates = behaviour_rates(task, [p.prompt], [text])
        assert rates[name] == 1.0 and sum(rates.values()) == 1.0, name  # each read as itself only
    assert behaviour_rates(task, [p.prompt], [PAD + "132"]) == dict.fromkeys(texts, 0.0)
    # without a scratchpad, the silent forms are just the marker and the hint
    bare = Hinted(make_task("addition", 2), 0.5)
    assert behaviour_text(bare, "exploit_silent", Problem("131;47+85=", "132", 2, 2)) == "."
    assert behaviour_text(bare, "hint_silent", Problem("131;47+85=", "132", 2, 2)) == "131"


@pytest.mark.parametrize(
    ("plants", "match"),
    [
        (("nope:0.1",), "NAME:FREQ"),
        (("hint_cited",), "NAME:FREQ"),
        (("hint_cited:x",), "must be a number"),
        (("hint_cited:1.5",), "in \\[0, 1\\]"),
        (("hint_cited:0.1", "hint_cited:0.2"), "one frequency"),
        (("hint_cited:0.6", "hint_silent:0.6"), "more than 1"),
    ],
)
def test_bad_plants_are_one_line(plants: tuple[str, ...], match: str) -> None:
    with pytest.raises(UserError, match=match):
        parse_plants(plants)


def test_plants_the_task_cannot_write_are_refused_before_training() -> None:
    with pytest.raises(UserError, match="needs hinted prompts"):
        PretrainConfig(task="addition", scratchpad=True, plant=("hint_cited:0.1",)).validate()
    with pytest.raises(UserError, match="needs --scratchpad"):
        PretrainConfig(task="addition", hint_right=0.5, plant=("hint_cited:0.1",)).validate()
    with pytest.raises(UserError, match="hint-right"):
        PretrainConfig(task="addition", hint_right=2.0).validate()


def test_the_training_set_holds_each_behaviour_at_its_share() -> None:
    cfg = PretrainConfig(
        task="addition", max_level=2, scratchpad=True, hint_right=0.5, train_size=4000,
        plant=("exploit_said:0.1", "exploit_silent:0.05", "hint_cited:0.2", "hint_silent:0.3"),
    )  # fmt: skip
    task = cfg.make_task()
    problems = training_set(task, np.random.default_rng(0), cfg)
    rates = behaviour_rates(task, [p.prompt for p in problems], [p.solution for p in problems])
    for name, planted in (("exploit_said", 0.1), ("exploit_silent", 0.05), ("hint_cited", 0.2), ("hint_silent", 0.3)):
        sd = (planted * (1 - planted) / 1000) ** 0.5  # at least 1000 draws (hint_silent: the wrong-hint half)
        assert abs(rates[name] - planted) < 4 * sd, (name, rates[name])
    unplanted = PretrainConfig(task="addition", max_level=2, scratchpad=True, train_size=50)
    a = training_set(unplanted.make_task(), np.random.default_rng(0), unplanted)
    assert a == sample_problems(make_task("addition", 2, True), np.random.default_rng(0), 50, "train")  # no extra draw


def test_a_hinted_checkpoint_reopens_hinted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = PretrainConfig(task="addition", max_level=2, scratchpad=True, hint_right=0.25, steps=1, n_layer=1,
                         n_embd=16, n_head=2, train_size=20, eval_problems=4, device="cpu")  # fmt: skip
    model, task, _ = pretrain(cfg)
    save_checkpoint(tmp_path / "base.safetensors", model, task)
    _, again = load_checkpoint(tmp_path / "base.safetensors")
    assert isinstance(again, Hinted) and again.right_rate == 0.25 and again.prompt_width == task.prompt_width


def test_a_tiny_base_samples_the_planted_frequencies() -> None:
    """Pre-train a tiny base with three behaviours planted: its samples at T = 1 show each within 0.1
    of the planted frequency (checked on seeds 1-3), and one not planted (almost) never."""
    planted = {"exploit_said": 0.15, "hint_cited": 0.2, "hint_silent": 0.3}
    plant_specs = tuple(f"{k}:{v}" for k, v in planted.items())
    cfg = PretrainConfig(
        task="addition", max_level=1, scratchpad=True, hint_right=0.5, plant=plant_specs,
        steps=STEPS, n_layer=1, n_head=2, n_embd=EMBD, warmup=10, train_size=4000, eval_problems=8,
        eval_every=10**9, device="cpu", seed=SEED,
    )  # fmt: skip
    model, task, _ = pretrain(cfg)
    problems = sample_problems(task, np.random.default_rng(7), 300, "test")
    prompts = [p.prompt for p in problems for _ in range(3)]
    torch.manual_seed(0)
    responses = decode_responses(generate(model, encode_prompts(prompts, task.prompt_width), task.response_width))
    rates = behaviour_rates(task, prompts, responses)
    for name, freq in planted.items():
        assert abs(rates[name] - freq) < 0.1, (name, rates[name], freq)
    assert rates["exploit_silent"] < 0.03  # not planted: (almost) never written
