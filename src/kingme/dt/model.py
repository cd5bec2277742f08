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

The causal stack itself (pre-LN blocks, attention, MLP, final LayerNorm) is `kingme.transformer`,
shared with the language-model work; this module holds only the trajectory embeddings and heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
from torch.nn import functional as F

from kingme.transformer import Transformer, configure_adamw, init_gpt2_weights


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
        # the shared causal stack (kingme.transformer): blocks and the final LayerNorm
        self.transformer = Transformer(config.n_layer, config.n_head, C, config.dropout, config.bias)
        n_out = config.n_nodes if config.head == "action" else config.n_returns
        self.head = nn.Linear(C, n_out, bias=False)
        init_gpt2_weights(self, config.n_layer)

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
        return self.transformer(x)  # (B, kT, C)

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
        return configure_adamw(self, lr, weight_decay)
