"""A small causal transformer over trajectories, in the style of nanoGPT.

One class serves the three sequence models of the comparison; `GPTConfig` says which:

- Decision Transformer (`return_tokens=True, head="action"`): tokens R_0, s_0, a_0, R_1, s_1, a_1,
  ...; the output at s_t predicts a_t, so the action is read after seeing the return still wanted.
- Behaviour cloning (`return_tokens=False, head="action"`): tokens s_0, a_0, s_1, a_1, ...; the
  output at s_t predicts a_t.
- Return prediction (`return_tokens=False, head="return"`): tokens s_0, a_0, s_1, a_1, ...; the
  output at a_t predicts the return-to-go R_t of (history, s_t, a_t). It sees no return tokens:
  R_{t-1} together with r_{t-1} would give away R_t.

Every token is a learned embedding of its value (returns-to-go are integers in [-max_steps, 0] here,
so they get an embedding table too) plus a learned embedding of its timestep t; in the goal-
conditioned variant the state token also adds an embedding of the goal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class GPTConfig:
    n_nodes: int = 20  # states and actions are node ids in [0, n_nodes)
    max_steps: int = 10  # timesteps lie in [0, max_steps); returns-to-go in [-max_steps, 0]
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 64
    dropout: float = 0.0
    bias: bool = True  # biases in Linears and LayerNorms, like GPT-2
    return_tokens: bool = True  # interleave R_t before s_t (Decision Transformer)
    goal_tokens: bool = False  # add an embedding of the goal to each state token
    head: Literal["action", "return"] = "action"  # predict a_t (at s_t) or R_t (at a_t)

    @property
    def tokens_per_step(self) -> int:
        return 3 if self.return_tokens else 2

    @property
    def block_size(self) -> int:
        return self.tokens_per_step * self.max_steps

    @property
    def n_returns(self) -> int:
        return self.max_steps + 1  # R in {0, -1, ..., -max_steps}, class index -R


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (PyTorch's cannot turn off only the bias)."""

    def __init__(self, ndim: int, bias: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, C = x.size()  # batch, sequence length (tokens), embedding size
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # 3 x (B, L, C)
        q = q.view(B, L, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, L, hs)
        k = k.view(B, L, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, L, hs)
        v = v.view(B, L, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, L, hs)
        # causal: token i attends to tokens 0..i only
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_dropout if self.training else 0.0, is_causal=True
        )  # (B, nh, L, hs)
        y = y.transpose(1, 2).contiguous().view(B, L, C)  # (B, L, C): heads side by side
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


def interleave(*streams: torch.Tensor) -> torch.Tensor:
    """k streams of shape (B, T, C) -> one sequence (B, k*T, C): x0_0, x1_0, ..., x0_1, x1_1, ..."""
    B, T, C = streams[0].shape
    return torch.stack(streams, dim=2).reshape(B, len(streams) * T, C)  # (B, T, k, C) -> (B, kT, C)


class TrajectoryGPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        C = config.n_embd
        self.wre = nn.Embedding(config.n_returns, C)  # return-to-go R, index -R
        self.wse = nn.Embedding(config.n_nodes, C)  # state: current node
        self.wge = nn.Embedding(config.n_nodes, C)  # goal (goal-conditioned variant only)
        self.wae = nn.Embedding(config.n_nodes, C)  # action: node moved to
        self.wte = nn.Embedding(config.max_steps, C)  # timestep, shared by a step's tokens
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = LayerNorm(C, bias=config.bias)
        n_out = config.n_nodes if config.head == "action" else config.n_returns
        self.head = nn.Linear(C, n_out, bias=False)
        self.apply(self._init_weights)
        # GPT-2: scale the residual projections by 1/sqrt(2 * n_layer)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def embed(
        self,
        states: torch.Tensor,
        actions: torch.Tensor,
        timesteps: torch.Tensor,
        returns: torch.Tensor | None = None,
        goals: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Token embeddings, interleaved per step: (B, T) inputs -> (B, k*T, C).

        `returns` holds R_t (integers <= 0, clipped into the table); `actions[:, t]` may be any node
        where a_t is unknown yet, since nothing before a_t's own token attends to it.
        """
        cfg = self.config
        B, T = states.shape
        assert cfg.max_steps >= T, f"{T} steps exceed max_steps={cfg.max_steps}"
        time = self.wte(timesteps)  # (B, T, C)
        s = self.wse(states) + time  # (B, T, C)
        if cfg.goal_tokens:
            assert goals is not None, "goal-conditioned model needs goals"
            s = s + self.wge(goals)
        a = self.wae(actions) + time  # (B, T, C)
        if cfg.return_tokens:
            assert returns is not None, "Decision Transformer needs returns-to-go"
            r_idx = (-returns).clamp(0, cfg.n_returns - 1)  # R -> class index -R
            r = self.wre(r_idx) + time  # (B, T, C)
            return interleave(r, s, a)  # (B, 3T, C): R_0, s_0, a_0, R_1, ...
        return interleave(s, a)  # (B, 2T, C): s_0, a_0, s_1, ...

    def hidden(
        self,
        states: torch.Tensor,
        actions: torch.Tensor,
        timesteps: torch.Tensor,
        returns: torch.Tensor | None = None,
        goals: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Final hidden state of every token, (B, k*T, C); same arguments as `embed`."""
        x = self.drop(self.embed(states, actions, timesteps, returns=returns, goals=goals))
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)

    def forward(
        self,
        states: torch.Tensor,
        actions: torch.Tensor,
        timesteps: torch.Tensor,
        returns: torch.Tensor | None = None,
        goals: torch.Tensor | None = None,
        targets: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-step logits (B, T, V) and, given `targets` (B, T), the cross-entropy over `mask`.

        head="action": V = n_nodes, read at the s_t tokens, targets are the actions a_t.
        head="return": V = max_steps + 1, read at the a_t tokens, targets are the classes -R_t.
        """
        cfg = self.config
        B, T = states.shape
        h = self.hidden(states, actions, timesteps, returns=returns, goals=goals)  # (B, kT, C)
        h = h.view(B, T, cfg.tokens_per_step, cfg.n_embd)  # (B, T, k, C): one row per step
        slot = cfg.tokens_per_step - (2 if cfg.head == "action" else 1)  # s_t or a_t token
        logits = self.head(h[:, :, slot, :])  # (B, T, V)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T), reduction="none")
        if mask is not None:
            m = mask.reshape(B * T).float()
            return logits, (loss * m).sum() / m.sum().clamp(min=1.0)
        return logits, loss.mean()

    def configure_optimizer(self, lr: float, weight_decay: float) -> torch.optim.AdamW:
        """AdamW with weight decay on matrices only (not on biases, norms or embeddings' rows)."""
        params = dict(self.named_parameters())
        embeddings = {n for n, m in self.named_modules() if isinstance(m, nn.Embedding)}
        is_emb = {n: n.rsplit(".", 1)[0] in embeddings for n in params}
        decay = [p for n, p in params.items() if p.dim() >= 2 and not is_emb[n]]
        no_decay = [p for n, p in params.items() if p.dim() < 2 or is_emb[n]]
        groups = [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))
