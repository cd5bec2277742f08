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
from kingme.ppo.core import gumbel_noise, log_prob, mask_logits, sample_actions
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
    """Up to `max_new_tokens` response tokens after each prompt of prompts (B, P).

    With the cache, two savings leave every token as it was (same logits, same random draws):
    - each distinct prompt is fed once (the G samples of a group share theirs) and its cache rows
      and last logits copied to the rows that hold it;
    - a row that has written EOS leaves the batch (its cache rows dropped), so later steps compute
      only the rows still writing. The Gumbel noise is still drawn for all B rows at every step,
      so the random stream, and the draws of the rows still running, are those of a full batch.
    With `return_logits` every row runs to the last step (its logits after EOS are returned too).
    """
    B, P = prompts.shape
    if P + max_new_tokens > model.config.block_size:
        raise ValueError(f"{P} + {max_new_tokens} tokens exceed block_size={model.config.block_size}")
    was_training = model.training
    model.eval()
    try:
        if use_cache and not return_logits:
            tokens, mask = _generate_compact(model, prompts, max_new_tokens, temperature, top_k)
            return Generation(tokens, mask, None)
        return _generate_full(model, prompts, max_new_tokens, temperature, top_k, use_cache, return_logits)
    finally:
        model.train(was_training)


def _draw(logits: torch.Tensor, temperature: float, top_k: int | None, noise: torch.Tensor | None) -> torch.Tensor:
    """`next_token` with the Gumbel noise given (rows of a full batch's draw)."""
    if temperature == 0.0:
        return torch.argmax(logits, dim=-1)
    return sample_actions(sampling_logits(logits, temperature, top_k)[0], noise)


def _generate_compact(
    model: GPT, prompts: torch.Tensor, max_new_tokens: int, temperature: float, top_k: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """`generate` with the cache, each distinct prompt fed once and finished rows dropped."""
    B = prompts.shape[0]
    device = prompts.device
    tokens = torch.full((B, max_new_tokens), PAD_ID, dtype=torch.long, device=device)
    mask = torch.zeros((B, max_new_tokens), dtype=torch.bool, device=device)
    distinct, inverse = torch.unique(prompts, dim=0, return_inverse=True)  # (U, P), (B,)
    cache = model.new_cache(distinct.shape[0], device)
    logits, _ = model(distinct, cache=cache)
    last = logits[:, -1, :].index_select(0, inverse)  # (U, V) -> (B, V)
    cache.select(inverse)  # (U, ...) -> (B, ...): row b holds its prompt's keys and values
    rows = torch.arange(B, device=device)  # the batch row of each row still writing
    for i in range(max_new_tokens):
        noise = gumbel_noise((B, last.shape[-1]), device) if temperature != 0.0 else None  # a full batch's draw
        tok = _draw(last, temperature, top_k, noise[rows] if noise is not None else None)  # (R,)
        tokens[rows, i] = tok
        mask[rows, i] = True
        going = tok != EOS_ID  # (R,)
        if not bool(going.any()):
            return tokens[:, : i + 1], mask[:, : i + 1]
        if i + 1 == max_new_tokens:
            break
        if not bool(going.all()):
            keep = torch.nonzero(going).flatten()  # (R',)
            rows, tok = rows[keep], tok[keep]
            cache.select(keep)
        logits, _ = model(tok[:, None], cache=cache)  # (R, 1, V)
        last = logits[:, -1, :]
    return tokens, mask


def _generate_full(
    model: GPT,
    prompts: torch.Tensor,
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    use_cache: bool,
    return_logits: bool,
) -> Generation:
    """`generate` over every row to the end: without the cache (a pass over the whole sequence per
    token) or with it when every step's logits are asked for."""
    B = prompts.shape[0]
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
