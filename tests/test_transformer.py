"""The shared causal transformer: causality, the KV cache against full recomputation, tied heads."""

from __future__ import annotations

import pytest
import torch

from kingme.transformer import GPT, TransformerConfig


def _model(tie: bool = True, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    model = GPT(TransformerConfig(vocab_size=11, block_size=24, n_layer=2, n_head=2, n_embd=16, tie_weights=tie))
    with torch.no_grad():  # larger weights than GPT-2's init, so that logits differ clearly between tokens
        for p in model.parameters():
            p.mul_(3.0)
    return model.eval()


def test_no_position_sees_a_later_token() -> None:
    model = _model()
    idx = torch.randint(0, 11, (3, 12), generator=torch.Generator().manual_seed(1))
    logits, _ = model(idx)
    for t in range(12):
        changed = idx.clone()
        changed[:, t] = (changed[:, t] + 1) % 11
        logits2, _ = model(changed)
        diff = (logits2 - logits).abs().amax(dim=(0, 2))  # (L,)
        assert torch.all(diff[:t] == 0), f"token {t} leaked into earlier positions"
        assert diff[t] > 1e-4


@pytest.mark.parametrize("chunks", [[12], [1] * 12, [5, 1, 1, 3, 2], [7, 5]])
def test_kv_cache_gives_the_logits_of_full_recomputation(chunks: list[int]) -> None:
    """Feeding a sequence in pieces through the cache (a prefill, single tokens, several at once)
    gives the logits of one pass over the whole sequence, within 1e-5."""
    model = _model()
    idx = torch.randint(0, 11, (3, 12), generator=torch.Generator().manual_seed(2))
    full, _ = model(idx)
    cache = model.new_cache(3)
    pieces, start = [], 0
    for n in chunks:
        logits, _ = model(idx[:, start : start + n], cache=cache)
        pieces.append(logits)
        start += n
    assert cache.pos == 12
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=0)


def test_cache_and_positions_refuse_to_overflow() -> None:
    model = _model()
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros((1, 25), dtype=torch.long))
    cache = model.new_cache(1)
    model(torch.zeros((1, 20), dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros((1, 5), dtype=torch.long), cache=cache)


def test_tied_head_shares_the_token_embedding() -> None:
    tied, untied = _model(tie=True), _model(tie=False)
    assert tied.lm_head.weight is tied.wte.weight
    assert untied.lm_head.weight is not untied.wte.weight
    assert tied.num_params() == untied.num_params() - 11 * 16


def test_loss_is_averaged_over_the_mask_only() -> None:
    model = _model()
    idx = torch.randint(0, 11, (2, 8), generator=torch.Generator().manual_seed(3))
    targets = torch.randint(0, 11, (2, 8), generator=torch.Generator().manual_seed(4))
    mask = torch.zeros((2, 8), dtype=torch.bool)
    mask[:, 5:] = True
    _, loss = model(idx, targets=targets, mask=mask)
    other = targets.clone()
    other[:, :5] = (other[:, :5] + 1) % 11
    _, loss2 = model(idx, targets=other, mask=mask)
    assert loss is not None and loss2 is not None
    assert torch.allclose(loss, loss2)
