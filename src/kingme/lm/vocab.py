"""The character vocabulary shared by every task: one token per character, plus padding and end.

    PAD "_"   fills prompts on the left to a task's fixed prompt width, and sequences on the right
    EOS "$"   ends a response; the sampler stops a sequence there

A fixed alphabet rather than one built from the data: a checkpoint's token ids mean the same thing
for every task, so one base model can be read, sampled and trained without its data.
"""

from __future__ import annotations

import torch

from kingme.common import UserError

PAD = "_"
EOS = "$"
ALPHABET = PAD + EOS + "0123456789+-*/=()<>,:;|.abcdefghijklmnopqrstuvwxyz"
PAD_ID = 0
EOS_ID = 1
STOI = {ch: i for i, ch in enumerate(ALPHABET)}
VOCAB_SIZE = len(ALPHABET)


def encode(text: str) -> list[int]:
    """Token ids of `text`; a character outside the alphabet is a `UserError`."""
    try:
        return [STOI[ch] for ch in text]
    except KeyError as e:
        raise UserError(f"character {e.args[0]!r} is not in the vocabulary {ALPHABET!r}") from None


def decode(ids: list[int] | torch.Tensor, stop_at_eos: bool = True, keep_pad: bool = False) -> str:
    """The text of token ids, by default cut at the first EOS; PAD tokens are dropped (a prompt's
    left padding) unless `keep_pad`, which writes each as "_" (a response, read as written)."""
    if isinstance(ids, torch.Tensor):
        ids = ids.tolist()
    out = []
    for i in ids:
        if i == EOS_ID and stop_at_eos:
            break
        if i != PAD_ID or keep_pad:
            out.append(ALPHABET[i])
    return "".join(out)


def pad_left(ids: list[int], width: int) -> list[int]:
    """`ids` padded on the left with PAD to `width` tokens (a prompt longer than `width` is an error)."""
    if len(ids) > width:
        raise UserError(f"prompt of {len(ids)} tokens is longer than the task's prompt width {width}")
    return [PAD_ID] * (width - len(ids)) + ids
