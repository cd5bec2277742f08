"""kingme.lm.sft: fine-tuning copies the model, lowers the loss on its solutions, stops at the target;
and kingme.lm.three_tasks: the three tasks, their views and the off-form solutions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kingme.common import UserError
from kingme.lm.evaluate import greedy_accuracy
from kingme.lm.sft import SFTConfig, sft
from kingme.lm.tasks import make_task, sample_problems
from kingme.lm.tasks import test_set as held_out
from kingme.lm.three_tasks import LEVELS, ThreeTasks, off_form
from kingme.lm.vocab import VOCAB_SIZE
from kingme.transformer import GPT, TransformerConfig


def test_three_tasks_and_views() -> None:
    whole = make_task("kingme.lm.three_tasks:Three", 1)
    assert isinstance(whole, ThreeTasks) and whole.levels == (1, 2, 3, 4, 5)
    assert whole.verify("47+85=", "7+5+0=12,4+8+1=13:132") and not whole.verify("47+85=", "7+5+0=12,4+8+1=13:131")
    assert whole.verify("ab,bc,cd|a>c:", "abc") and not whole.verify("ab,bc,cd|a>c:", "ac")
    assert whole.verify("3,14:42=", "14*3") and whole.verify("3,14:42=", off_form("14*3"))
    assert off_form("14*3") == "((14*3))" and not whole.verify("3,14:42=", "14+3")
    for letter, levels in LEVELS.items():
        view = whole.view(letter)
        assert view.levels == levels and view.block_size == whole.block_size  # one model reads every view
        problems = sample_problems(view, np.random.default_rng(0), 30, "train")
        assert {whole.which(p.prompt) for p in problems} == {letter}
        assert all(view.verify(p.prompt, p.solution) for p in problems)
        assert all(len(p.prompt) <= view.prompt_width and len(p.solution) < view.response_width for p in problems)
    c_problems = sample_problems(whole.view("C"), np.random.default_rng(1), 200, "train")
    assert all(len(off_form(p.solution)) < whole.response_width for p in c_problems)  # room for EOS
    assert len({p.prompt for p in held_out(whole.view("C"), 1, 120)}) == 120  # C's test split holds 126
    with pytest.raises(UserError, match="letters of ABC"):
        ThreeTasks("D")


def _tiny_model() -> GPT:
    torch.manual_seed(0)
    task = ThreeTasks()
    return GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=task.block_size, n_layer=1, n_head=2, n_embd=32))


def test_sft_learns_its_solutions_and_leaves_the_model_alone() -> None:
    view = ThreeTasks().view("C")
    problems = sample_problems(view, np.random.default_rng(0), 8, "train")
    model = _tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses: list[float] = []
    cfg = SFTConfig(steps=150, batch_size=8, lr=3e-3, eval_every=50, seed=0)

    def score(m: GPT) -> float:
        return greedy_accuracy(m, view, problems)["all"]

    tuned, summary = sft(model, view, problems, cfg, score, lambda row: losses.append(row["losses/sft_loss"]))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the given model is untouched
    assert summary["steps"] == 150 and not summary["reached"] and len(losses) == 3
    assert losses[-1] < 0.5 * losses[0]  # eight solutions memorised: the loss falls by far more than half
    assert summary["score"] >= 0.5  # and greedy decoding writes most of them


def test_sft_stops_at_the_target() -> None:
    view = ThreeTasks().view("C")
    problems = sample_problems(view, np.random.default_rng(0), 4, "train")
    calls: list[int] = []
    cfg = SFTConfig(steps=100, batch_size=4, eval_every=5, target=0.0)  # any score reaches 0

    def score(m: GPT) -> float:
        calls.append(1)
        return 0.0

    _, summary = sft(_tiny_model(), view, problems, cfg, score)
    assert summary["steps"] == 5 and summary["reached"] and len(calls) == 1
    with pytest.raises(UserError, match="steps"):
        SFTConfig(steps=0).validate()
