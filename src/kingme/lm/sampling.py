"""Sampling responses from the language model: a KV cache, temperature and top-k.

`generate` feeds the prompts once (they are left-padded to one width, so the batch is a rectangle),
then one token per step; with `use_cache` each step reuses the keys and values of the tokens before
it (`kingme.transformer.KVCache`), without it each step recomputes the whole sequence. Both give the
same logits (tests/test_lm_sampling.py). A sequence that has written EOS is finished: its later
tokens are PAD and its `mask` is False there.

The next token is drawn from softmax(logits / temperature) restricted to the k most likely tokens,
with the Gumbel-max trick of `kingme.ppo.core.sample_actions`; temperature 0 is greedy (argmax).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kingme.lm.vocab import EOS_ID, PAD_ID, decode, encode, pad_left
from kingme.ppo.core import log_prob, mask_logits, sample_actions
from kingme.transformer import GPT


@dataclass
class Generation:
    tokens: torch.Tensor  # (B, N) response tokens, PAD after the first EOS
    mask: torch.Tensor  # (B, N) bool: True up to and including the first EOS
    logits: torch.Tensor | None  # (B, N, V) the model's raw logits at each step (when asked for)

    @property
    def lengths(self) -> torch.Tensor:
        """(B,) response lengths in tokens, EOS included."""
        return self.mask.sum(dim=1)


def sampling_logits(
    logits: torch.Tensor, temperature: float, top_k: int | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The logits whose softmax is the distribution the sampler draws from, and the tokens it may draw.

    logits (..., V) -> (logits / T with every token outside the k largest masked by
    `ppo.core.mask_logits`, keep (..., V) bool or None when every token may be drawn); temperature > 0.
    The sampler (`next_token`) and the RL update (`kingme.lm.rl.response_logprobs`) both go through
    here, so the update's log π is the log-probability of the distribution each token was drawn from.
    """
    if temperature != 1.0:
        logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (..., 1) the k-th largest
        keep = logits >= kth  # (..., V)
        return mask_logits(logits, keep), keep
    return logits, None


def next_token(logits: torch.Tensor, temperature: float, top_k: int | None) -> torch.Tensor:
    """One token per row from logits (B, V): greedy at temperature 0, else a sample of
    softmax(logits / T) over the top_k largest logits (None = all), by `sampling_logits`."""
    if temperature == 0.0:
        return torch.argmax(logits, dim=-1)
    return sample_actions(sampling_logits(logits, temperature, top_k)[0])


@torch.no_grad()
def generate(
    model: GPT,
    prompts: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    use_cache: bool = True,
    return_logits: bool = False,
) -> Generation:
    """Up to `max_new_tokens` response tokens after each prompt of prompts (B, P)."""
    B, P = prompts.shape
    if P + max_new_tokens > model.config.block_size:
        raise ValueError(f"{P} + {max_new_tokens} tokens exceed block_size={model.config.block_size}")
    was_training = model.training
    model.eval()
    cache = model.new_cache(B, prompts.device) if use_cache else None
    tokens = torch.full((B, max_new_tokens), PAD_ID, dtype=torch.long, device=prompts.device)
    mask = torch.zeros((B, max_new_tokens), dtype=torch.bool, device=prompts.device)
    all_logits = []
    done = torch.zeros(B, dtype=torch.bool, device=prompts.device)
    seq = prompts
    step_input = prompts  # with a cache: only the tokens the cache has not seen
    for i in range(max_new_tokens):
        logits, _ = model(step_input if use_cache else seq, cache=cache)
        last = logits[:, -1, :]  # (B, V) the prediction of the next token
        if return_logits:
            all_logits.append(last)
        tok = next_token(last, temperature, top_k)  # (B,)
        tok = torch.where(done, PAD_ID, tok)
        tokens[:, i] = tok
        mask[:, i] = ~done
        done = done | (tok == EOS_ID)
        step_input = tok[:, None]  # (B, 1)
        seq = torch.cat([seq, step_input], dim=1)  # (B, P + i + 1)
        if bool(done.all()):
            tokens, mask = tokens[:, : i + 1], mask[:, : i + 1]
            break
    model.train(was_training)
    stacked = torch.stack(all_logits, dim=1) if return_logits else None  # (B, N, V)
    return Generation(tokens, mask, stacked)


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log π(token) and the full log-softmax, for logits (B, N, V) and tokens (B, N): ((B, N), (B, N, V))."""
    B, N, V = logits.shape
    log_probs = torch.log_softmax(logits.float(), dim=-1)  # (B, N, V)
    logp = log_prob(log_probs.reshape(B * N, V), tokens.reshape(B * N)).view(B, N)  # (B, N)
    return logp, log_probs


def encode_prompts(prompts: list[str], width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Prompts as one (B, width) tensor of token ids, each left-padded to `width`."""
    return torch.tensor([pad_left(encode(p), width) for p in prompts], dtype=torch.long, device=device)


def decode_responses(gen: Generation) -> list[str]:
    """The text of every response exactly as written, cut at its EOS: a PAD token the model wrote
    inside a response stays in the text as "_" (which no verifier accepts as part of an answer), so
    a verifier reads what was written, not a cleaned-up version of it."""
    return [decode(row[m], keep_pad=True) for row, m in zip(gen.tokens, gen.mask, strict=True)]
