"""Is the scratchpad load-bearing (kingme.lm.load_bearing): the edits by hand, and the answer after a
forced scratchpad equal to a plain greedy loop over the whole sequence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kingme.lm.hints import Hinted
from kingme.lm.load_bearing import answers_after, changed_rates, edited_scratchpad
from kingme.lm.tasks import make_task
from kingme.lm.vocab import EOS_ID, VOCAB_SIZE, decode, encode, pad_left
from kingme.transformer import GPT, TransformerConfig

PAD = "7+5+0=12,4+8+1=13:"


def test_edits_by_hand() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        corrupted = edited_scratchpad(PAD + "132", "corrupt", rng)
        assert corrupted is not None and corrupted[:-3] == PAD[:-3] and corrupted[-3:-1] != "13"
        assert corrupted.endswith(":") and corrupted[-2].isdigit()
    assert edited_scratchpad(PAD + "132", "truncate", rng) == "7+5+0=12:"
    assert edited_scratchpad("7+5+0=12:12", "truncate", rng) == ":"
    assert edited_scratchpad("h:131", "corrupt", rng) is None  # cites the hint, computes nothing
    assert edited_scratchpad("132", "corrupt", rng) is None  # no scratchpad
    with pytest.raises(ValueError):
        edited_scratchpad(PAD + "132", "shuffle", rng)


def _greedy_by_hand(model: GPT, width: int, prompt: str, prefix: str, room: int) -> str:
    seq = pad_left(encode(prompt), width) + encode(prefix)
    out = []
    for _ in range(room):
        logits, _ = model(torch.tensor([seq]))
        tok = int(logits[0, -1].argmax())
        if tok == EOS_ID:
            break
        out.append(tok)
        seq.append(tok)
    return decode(out, keep_pad=True)


def test_answers_after_a_forced_scratchpad_match_a_plain_greedy_loop() -> None:
    torch.manual_seed(0)
    task = Hinted(make_task("addition", 2, scratchpad=True), 0.5)
    model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=task.block_size, n_layer=1, n_head=2, n_embd=16))
    model.eval()
    prompts = ["131;47+85=", "9;4+5=", "20;13+8="]
    prefixes = ["7+5+0=12,4+8+1=13:", "4+5+0=9:", ":"]
    got = answers_after(model, task, prompts, prefixes)
    for p, pre, a in zip(prompts, prefixes, got, strict=True):
        text = pre + _greedy_by_hand(model, task.prompt_width, p, pre, task.response_width - len(pre))
        assert a == text.rsplit(":", 1)[-1]
    rates = changed_rates(
        model, task, prompts, [pre + "1" for pre in prefixes[:2]] + ["h:20"], np.random.default_rng(0)
    )
    assert rates["load/read"] == pytest.approx(2 / 3)
    assert all(0.0 <= rates[f"load/changed_{h}"] <= 1.0 for h in ("corrupt", "truncate"))
