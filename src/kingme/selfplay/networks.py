"""Networks for checkers: a small MLP and a small convolutional net over the board.

Both read the `CheckersVecEnv` observation, shape (B, 6, 32): six planes over the 32 squares in
the side-to-move frame, and follow the `kingme.nets.ActorCritic` interface (logits over the 128
single-step actions, and a value). Which one is the default was decided by measurement (see
docs/selfplay.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
from torch import nn

from kingme.checkers.render import square_coords
from kingme.nets import HIDDEN_GAIN, POLICY_HEAD_GAIN, VALUE_HEAD_GAIN, ActorCritic, MLPActorCritic, layer_init

NetKind = Literal["mlp", "conv"]

# where each of the 32 squares sits on the 8x8 board (row-major cell index)
_CELLS = torch.tensor([8 * r + c for r, c in (square_coords(s) for s in range(1, 33))], dtype=torch.long)


class ConvActorCritic(ActorCritic):
    """Squares scattered onto an 8x8 grid, a few 3x3 convolutions (shared trunk), then a linear
    policy head (128 logits) and a small value head."""

    def __init__(self, channels: int = 64, layers: int = 3, in_planes: int = 6, num_actions: int = 128) -> None:
        super().__init__()
        self.in_planes = in_planes
        convs: list[nn.Module] = []
        c_in = in_planes
        for _ in range(layers):
            conv = nn.Conv2d(c_in, channels, 3, padding=1)
            nn.init.orthogonal_(conv.weight, HIDDEN_GAIN)
            assert conv.bias is not None
            nn.init.zeros_(conv.bias)
            convs += [conv, nn.ReLU()]
            c_in = channels
        self.trunk = nn.Sequential(*convs)
        self.policy_head = layer_init(nn.Linear(channels * 64, num_actions), POLICY_HEAD_GAIN)
        self.value_hidden = layer_init(nn.Linear(channels * 64, 64), HIDDEN_GAIN)
        self.value_out = layer_init(nn.Linear(64, 1), VALUE_HEAD_GAIN)
        self.cells: torch.Tensor
        self.register_buffer("cells", _CELLS.clone(), persistent=False)

    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        B = obs.shape[0]
        grid = obs.new_zeros((B, self.in_planes, 64))  # (B, C, 64)
        grid[:, :, self.cells] = obs  # (B, C, 32) scattered onto the dark squares
        h = self.trunk(grid.view(B, self.in_planes, 8, 8))  # (B, ch, 8, 8)
        return h.flatten(1)  # (B, ch * 64)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self._features(obs)
        value = self.value_out(torch.relu(self.value_hidden(h))).squeeze(-1)
        return self.policy_head(h), value

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self.policy_head(self._features(obs))

    def actor_parameters(self) -> Iterator[nn.Parameter]:
        yield from self.trunk.parameters()
        yield from self.policy_head.parameters()


def make_network(
    kind: NetKind, hidden: tuple[int, ...], channels: int, obs_shape: tuple[int, ...], num_actions: int
) -> ActorCritic:
    """The checkers network named by `kind` (`hidden` sizes the MLP, `channels` the conv net)."""
    if kind == "mlp":
        return MLPActorCritic(obs_shape, num_actions, hidden, "relu", "separate")
    if kind == "conv":
        return ConvActorCritic(channels=channels, in_planes=obs_shape[0], num_actions=num_actions)
    raise ValueError(f"unknown network kind {kind!r}: expected mlp or conv")
