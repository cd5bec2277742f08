"""Sampling with the KV cache equals sampling by full recomputation; temperature, top-k and EOS."""

from __future__ import annotations

import torch

from kingme.lm.rl import forward_responses
from kingme.lm.sampling import decode_responses, generate, next_token
from kingme.lm.vocab import EOS_ID, PAD_ID, VOCAB_SIZE
from kingme.transformer import GPT, TransformerConfig


def _model(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    model = GPT(TransformerConfig(vocab_size=VOCAB_SIZE, block_size=40, n_layer=2, n_head=2, n_embd=32))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)  # sharper than GPT-2's init (logits up to ~5), so greedy choices are not near-ties
        model.wte.weight[EOS_ID] = 0.0  # keep the untrained model from stopping at once
    return model.eval()


def _prompts(B: int = 4, P: int = 7) -> torch.Tensor:
    return torch.randint(2, VOCAB_SIZE, (B, P), generator=torch.Generator().manual_seed(5))


def test_greedy_with_kv_cache_equals_full_recomputation() -> None:
    model, prompts = _model(), _prompts()
    fast = generate(model, prompts, 20, temperature=0.0, use_cache=True, return_logits=True)
    slow = generate(model, prompts, 20, temperature=0.0, use_cache=False, return_logits=True)
    assert torch.equal(fast.tokens, slow.tokens)  # exact under greedy decoding
    assert fast.logits is not None and slow.logits is not None
    torch.testing.assert_close(fast.logits, slow.logits, atol=1e-5, rtol=0)
    # and the RL update's one teacher-forced pass over prompt + response gives the same logits again
    torch.testing.assert_close(forward_responses(model, prompts, fast.tokens)[0], slow.logits, atol=1e-5, rtol=0)


def test_seeded_sampling_with_cache_equals_full_recomputation() -> None:
    model, prompts = _model(), _prompts()
    torch.manual_seed(9)
    fast = generate(model, prompts, 15, temperature=1.0, top_k=5, use_cache=True)
    torch.manual_seed(9)
    slow = generate(model, prompts, 15, temperature=1.0, top_k=5, use_cache=False)
    assert torch.equal(fast.tokens, slow.tokens)


def test_top_k_and_temperature() -> None:
    torch.manual_seed(0)
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.5, -1.0]]).repeat(2000, 1)
    assert torch.equal(next_token(logits, 0.0, None), torch.full((2000,), 1))
    assert torch.equal(next_token(logits, 1.0, 1), torch.full((2000,), 1))  # top-1 is greedy
    drawn = next_token(logits, 1.0, 2)
    assert set(drawn.tolist()) == {1, 3}  # only the two largest logits
    share = (drawn == 1).float().mean().item()
    expected = 1 / (1 + torch.exp(torch.tensor(-0.5)).item())  # softmax over (3.0, 2.5)
    assert abs(share - expected) < 0.04
    cold = (next_token(logits, 0.1, None) == 1).float().mean().item()
    assert cold > 0.99  # a low temperature sharpens towards the argmax


def test_eos_ends_a_response_and_pads_after_it() -> None:
    model = _model()
    with torch.no_grad():  # every hidden state becomes the same vector, which favours EOS ...
        model.transformer.ln_f.weight.zero_()
        assert model.transformer.ln_f.bias is not None
        model.transformer.ln_f.bias.fill_(1.0)
        model.wte.weight[EOS_ID] = 5.0  # ... through the tied head
    gen = generate(model, _prompts(), 10, temperature=0.0)
    assert gen.tokens.shape == (4, 1)  # every response stopped after one token: no wasted steps
    assert torch.all(gen.tokens[:, 0] == EOS_ID) and torch.all(gen.lengths == 1)


def test_finished_rows_are_padded_and_masked() -> None:
    model, prompts = _model(), _prompts()
    gen = generate(model, prompts, 20, temperature=1.0)
    for row, m in zip(gen.tokens.tolist(), gen.mask.tolist(), strict=True):
        if EOS_ID in row:
            end = row.index(EOS_ID)
            assert all(m[: end + 1]) and not any(m[end + 1 :])
            assert all(t == PAD_ID for t in row[end + 1 :])
        else:
            assert all(m)


def test_a_pad_token_inside_a_response_is_read_as_written() -> None:
    from kingme.lm.sampling import Generation
    from kingme.lm.tasks import Addition
    from kingme.lm.vocab import encode

    written = encode("1") + [PAD_ID] + encode("32") + [EOS_ID, PAD_ID]  # "1_32$" then the sampler's padding
    tokens = torch.tensor([written, encode("132") + [EOS_ID, PAD_ID, PAD_ID]])  # (2, 6)
    mask = torch.tensor([[True] * 5 + [False], [True] * 4 + [False] * 2])
    texts = decode_responses(Generation(tokens, mask, None))
    assert texts == ["1_32", "132"]  # the PAD stays in the text; the padding after EOS does not
    task = Addition(2)
    assert [task.verify("47+85=", t) for t in texts] == [False, True]  # "1 _ 3 2 $" is not 132
