"""One small decoder-only causal transformer, in the style of nanoGPT.

Two users share it (one transformer, not two copies):

- the Decision Transformer (`kingme.dt.model`) puts its own embeddings of returns, states and actions
  in front of the `Transformer` stack and its own heads behind it;
- the language-model work (`kingme.lm`) uses `GPT`: a token and a position embedding, the stack,
  and a head over the vocabulary (tied to the token embedding by default, as in GPT-2).

Each block is pre-LayerNorm: x + attn(ln_1(x)), then x + mlp(ln_2(x)); the MLP is 4x wide with a
GELU. Weights start as in GPT-2: N(0, 0.02), with the residual projections scaled by 1/sqrt(2·n_layer).

Sampling feeds one token at a time; a `KVCache` keeps every layer's keys and values for the tokens
seen so far, so each new token costs one row of attention instead of a pass over the whole sequence.
With a cache or without, the outputs are the same (tests/test_transformer.py). `GPT.hidden_shared`
runs B sequences that share U < B distinct prefixes (the G samples of one prompt) with each prefix
computed once, for the RL update's teacher-forced passes.

Shapes: B batch, L tokens in this call, C = n_embd, nh heads of hs = C / nh, S = tokens in the cache
after this call (past + L), V the vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class TransformerConfig:
    """The shape of a `GPT` language model."""

    vocab_size: int = 32  # tokens are ids in [0, vocab_size)
    block_size: int = 64  # longest sequence (prompt + response) the position embedding covers
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True  # biases in Linears and LayerNorms, like GPT-2
    tie_weights: bool = True  # the output head shares the token embedding's matrix (GPT-2)


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (PyTorch's cannot turn off only the bias)."""

    def __init__(self, ndim: int, bias: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class KVCache:
    """Every layer's keys and values for the first `pos` tokens of a batch of sequences.

    k, v: (n_layer, B, nh, max_len, hs), filled up to `pos`. `Transformer.forward` writes the new
    tokens' keys and values at [pos, pos + L) in every layer, then moves `pos` on by L.
    """

    def __init__(
        self,
        n_layer: int,
        batch: int,
        n_head: int,
        max_len: int,
        head_size: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        shape = (n_layer, batch, n_head, max_len, head_size)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.max_len = max_len
        self.pos = 0

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, nh, L, hs) at [pos, pos + L) of `layer`; return all keys and values so far, (B, nh, S, hs)."""
        end = self.pos + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"KV cache holds {self.max_len} tokens, asked for {end}")
        self.k[layer, :, :, self.pos : end] = k
        self.v[layer, :, :, self.pos : end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def select(self, rows: torch.Tensor) -> None:
        """Keep the sequences at `rows` (R,) of the batch, in that order (an index may repeat):
        k, v (n_layer, B, nh, max_len, hs) -> (n_layer, R, nh, max_len, hs)."""
        self.k = self.k.index_select(1, rows)
        self.v = self.v.index_select(1, rows)


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float, bias: bool) -> None:
        super().__init__()
        assert n_embd % n_head == 0, f"n_embd={n_embd} is not a multiple of n_head={n_head}"
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.attn_dropout = dropout
        self.resid_dropout = nn.Dropout(dropout)
        self.n_head = n_head
        self.n_embd = n_embd

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, L, C = x.size()  # batch, tokens in this call, embedding size
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # 3 x (B, L, C)
        q = q.view(B, L, self.n_head, hs).transpose(1, 2)  # (B, nh, L, hs)
        k = k.view(B, L, self.n_head, hs).transpose(1, 2)  # (B, nh, L, hs)
        v = v.view(B, L, self.n_head, hs).transpose(1, 2)  # (B, nh, L, hs)
        past = 0
        if cache is not None:
            past = cache.pos
            k, v = cache.write(layer, k, v)  # (B, nh, S, hs), S = past + L
        dropout_p = self.attn_dropout if self.training else 0.0
        if past == 0:
            # causal: token i attends to tokens 0..i only
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)  # (B, nh, L, hs)
        elif L == 1:
            # one new token after a cached past: it may see every key, no mask needed
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)  # (B, nh, 1, hs)
        else:
            # L new tokens after `past` cached ones: new token i (absolute position past + i) sees 0..past + i
            S = k.shape[2]
            allowed = torch.arange(S, device=x.device)[None, :] <= (past + torch.arange(L, device=x.device))[:, None]
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout_p)  # (B, nh, L, hs)
        y = y.transpose(1, 2).contiguous().view(B, L, C)  # (B, L, C): heads side by side
        return self.resid_dropout(self.c_proj(y))

    def forward_shared(
        self, xp: torch.Tensor, xr: torch.Tensor, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attention over sequences that share prefixes: xp (U, P, C) the distinct prefixes, xr (B, L, C)
        the rest of each sequence, rows (B,) the prefix of each. A prefix token attends causally within
        its prefix; token i of a rest attends to its whole prefix and to rest tokens 0..i. Returns
        (U, P, C), (B, L, C): the outputs `forward` gives on the B full sequences, each prefix computed once."""
        (U, P, C), (B, L, _) = xp.shape, xr.shape
        hs = C // self.n_head
        dropout_p = self.attn_dropout if self.training else 0.0

        def heads(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            n, t = x.shape[0], x.shape[1]
            return tuple(z.view(n, t, self.n_head, hs).transpose(1, 2) for z in self.c_attn(x).split(C, dim=2))

        qp, kp, vp = heads(xp)  # (U, nh, P, hs) each
        qr, kr, vr = heads(xr)  # (B, nh, L, hs) each
        yp = F.scaled_dot_product_attention(qp, kp, vp, dropout_p=dropout_p, is_causal=True)  # (U, nh, P, hs)
        k = torch.cat([kp.index_select(0, rows), kr], dim=2)  # (B, nh, P + L, hs)
        v = torch.cat([vp.index_select(0, rows), vr], dim=2)  # (B, nh, P + L, hs)
        allowed = torch.ones(L, P + L, dtype=torch.bool, device=xr.device)  # (L, P + L)
        allowed[:, P:] = torch.ones(L, L, dtype=torch.bool, device=xr.device).tril()
        yr = F.scaled_dot_product_attention(qr, k, v, attn_mask=allowed, dropout_p=dropout_p)  # (B, nh, L, hs)
        yp = yp.transpose(1, 2).contiguous().view(U, P, C)
        yr = yr.transpose(1, 2).contiguous().view(B, L, C)
        return self.resid_dropout(self.c_proj(yp)), self.resid_dropout(self.c_proj(yr))


class MLP(nn.Module):
    def __init__(self, n_embd: int, dropout: float, bias: bool) -> None:
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-LN transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, n_embd: int, n_head: int, dropout: float, bias: bool) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, bias)
        self.ln_2 = LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, dropout, bias)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        x = x + self.mlp(self.ln_2(x))
        return x

    def forward_shared(
        self, xp: torch.Tensor, xr: torch.Tensor, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`forward` on sequences that share prefixes (`CausalSelfAttention.forward_shared`)."""
        ap, ar = self.attn.forward_shared(self.ln_1(xp), self.ln_1(xr), rows)
        xp, xr = xp + ap, xr + ar
        return xp + self.mlp(self.ln_2(xp)), xr + self.mlp(self.ln_2(xr))


class Transformer(nn.Module):
    """The stack: n_layer blocks and a final LayerNorm, from embeddings (B, L, C) to hidden states (B, L, C)."""

    def __init__(self, n_layer: int, n_head: int, n_embd: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.n_layer, self.n_head, self.n_embd = n_layer, n_head, n_embd
        self.blocks = nn.ModuleList([Block(n_embd, n_head, dropout, bias) for _ in range(n_layer)])
        self.ln_f = LayerNorm(n_embd, bias=bias)

    def new_cache(
        self, batch: int, max_len: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
    ) -> KVCache:
        """An empty cache for `batch` sequences of up to `max_len` tokens."""
        return KVCache(self.n_layer, batch, self.n_head, max_len, self.n_embd // self.n_head, device, dtype)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """x (B, L, C) -> (B, L, C). With a cache, x holds the tokens after the cache's `pos` ones."""
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        if cache is not None:
            cache.pos += x.shape[1]
        return self.ln_f(x)

    def forward_shared(
        self, xp: torch.Tensor, xr: torch.Tensor, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`forward` on B sequences given as U distinct prefixes xp (U, P, C), the rests xr (B, L, C) and
        the prefix of each, rows (B,): -> (U, P, C), (B, L, C)."""
        for block in self.blocks:
            assert isinstance(block, Block)
            xp, xr = block.forward_shared(xp, xr, rows)
        return self.ln_f(xp), self.ln_f(xr)


def init_gpt2_weights(model: nn.Module, n_layer: int) -> None:
    """GPT-2's initialisation: Linear and Embedding weights N(0, 0.02), biases 0, and the residual
    projections (`c_proj`) N(0, 0.02 / sqrt(2·n_layer)), so the residual stream's variance does not
    grow with depth."""

    def init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    model.apply(init)
    for name, p in model.named_parameters():
        if name.endswith("c_proj.weight"):
            torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))


def configure_adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW (β = 0.9, 0.95) with weight decay on matrices only (not on biases, norms or embeddings' rows)."""
    params = dict(model.named_parameters())  # a tied matrix appears once, under its first name
    embeddings = {n for n, m in model.named_modules() if isinstance(m, nn.Embedding)}
    is_emb = {n: n.rsplit(".", 1)[0] in embeddings for n in params}
    decay = [p for n, p in params.items() if p.dim() >= 2 and not is_emb[n]]
    no_decay = [p for n, p in params.items() if p.dim() < 2 or is_emb[n]]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))


class GPT(nn.Module):
    """A character-level language model: token + position embeddings, the `Transformer`, a head over V."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        C = config.n_embd
        self.wte = nn.Embedding(config.vocab_size, C)  # token
        self.wpe = nn.Embedding(config.block_size, C)  # position
        self.drop = nn.Dropout(config.dropout)
        self.transformer = Transformer(config.n_layer, config.n_head, C, config.dropout, config.bias)
        self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        init_gpt2_weights(self, config.n_layer)
        if config.tie_weights:
            self.lm_head.weight = self.wte.weight  # one (V, C) matrix reads tokens in and writes them out

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def new_cache(self, batch: int, device: torch.device | str = "cpu") -> KVCache:
        """An empty KV cache for `batch` sequences of up to block_size tokens."""
        return self.transformer.new_cache(batch, self.config.block_size, device)

    def hidden(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Final hidden states (B, L, C) of tokens idx (B, L), which follow the cache's tokens if given."""
        B, L = idx.shape
        start = cache.pos if cache is not None else 0
        if start + L > self.config.block_size:
            raise ValueError(f"sequence of {start + L} tokens exceeds block_size={self.config.block_size}")
        pos = torch.arange(start, start + L, device=idx.device)  # (L,)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, L, C) + (L, C) broadcast
        return self.transformer(x, cache)

    def hidden_shared(
        self, prefixes: torch.Tensor, rows: torch.Tensor, rest: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Final hidden states of the B sequences cat(prefixes[rows], rest), each distinct prefix
        computed once: prefixes (U, P) token ids, rows (B,) indices into them, rest (B, L) ->
        ((U, P, C), (B, L, C)). Equal to `hidden` on the full sequences up to float rounding: a
        prompt shared by a group of G samples costs one row, not G."""
        n = prefixes.shape[1] + rest.shape[1]  # P + L
        if n > self.config.block_size:
            raise ValueError(f"sequence of {n} tokens exceeds block_size={self.config.block_size}")
        pos = torch.arange(n, device=rest.device)  # (P + L,)
        xp = self.drop(self.wte(prefixes) + self.wpe(pos[: prefixes.shape[1]]))  # (U, P, C)
        xr = self.drop(self.wte(rest) + self.wpe(pos[prefixes.shape[1] :]))  # (B, L, C)
        return self.transformer.forward_shared(xp, xr, rows)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Next-token logits (B, L, V) and, given `targets` (B, L), the cross-entropy averaged over `mask`.

        logits[:, i] predicts the token after idx[:, i], so targets are idx shifted left by one.
        """
        logits = self.lm_head(self.hidden(idx, cache))  # (B, L, V)
        if targets is None:
            return logits, None
        B, L, V = logits.shape
        loss = F.cross_entropy(logits.reshape(B * L, V), targets.reshape(B * L), reduction="none")  # (B*L,)
        if mask is None:
            return logits, loss.mean()
        m = mask.reshape(B * L).to(loss.dtype)
        return logits, (loss * m).sum() / m.sum().clamp(min=1.0)

    def configure_optimizer(self, lr: float, weight_decay: float) -> torch.optim.AdamW:
        return configure_adamw(self, lr, weight_decay)
