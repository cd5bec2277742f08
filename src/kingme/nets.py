"""Actor and critic networks.

The interface every network used by `kingme.ppo` follows is the `ActorCritic` base class:

    forward(obs) -> (logits, value)
        obs     (B, *obs_shape) float32
        logits  (B, A)  unnormalised log-probabilities over the A discrete actions (no masking:
                        the caller sets illegal actions' logits to the masked value)
        value   (B,)    the critic's estimate V(s) of the discounted return
    logits(obs), value(obs)   one head only (defaults call forward; override them to skip the
                        other head: the rollout loop only needs the logits at each step)
    actor_parameters()  the parameters that shape the policy's logits
    critic_parameters() the parameters that shape the value, minus any shared with the actor

The two parameter groups let callers report them separately (and optimise them separately if they
want); with a shared trunk the trunk belongs to the actor group. One call computes both heads, so
the rollout loop pays for one forward pass per step.

A new architecture (for example a convolutional net over a board) subclasses `ActorCritic`,
implements `forward`, and builds its layers with `layer_init`: orthogonal weights with gain sqrt(2)
for hidden layers, a small gain (0.01) for the policy head so that the first policy is close to
uniform, and gain 1 for the value head (Andrychowicz et al. 2021 found the small policy-head
initialisation among the choices that matter most).

`MLPActorCritic` is the fully connected version for flat observations, with either separate actor
and critic networks (the default, recommended by Andrychowicz et al. 2021) or one shared trunk with
two linear heads.

The checkers networks read the checkers observation, shape (B, 6, 32): six planes over the 32
squares in the side-to-move frame (`kingme.envs.bridge.OBS_SHAPE`), with logits over the 128
single-step actions. `make_network(kind, ...)` builds one by name: ``mlp`` (an `MLPActorCritic`
with separate trunks, ReLU) or ``conv`` (`ConvActorCritic`: the squares scattered onto an 8x8
grid, 3x3 convolutions). Which one is the default was decided by measurement (docs/selfplay.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Literal

import torch
from torch import nn

Activation = Literal["tanh", "relu"]
Trunk = Literal["separate", "shared"]
NetKind = Literal["mlp", "conv"]
ValueHead = Literal["scalar", "wdl"]

# The support of the win / draw / loss critic: a return of -1 (loss), 0 (draw), +1 (win).
WDL_SUPPORT = (-1.0, 0.0, 1.0)


def categorical_value(value_logits: torch.Tensor, support: tuple[float, ...]) -> torch.Tensor:
    """V = Σ_i p_i z_i: the mean of a categorical critic's distribution, (B, K) -> (B,)."""
    z = torch.tensor(support, dtype=value_logits.dtype, device=value_logits.device)
    return torch.softmax(value_logits, dim=-1) @ z


def wdl_support(draw_value: float = 0.0) -> tuple[float, float, float]:
    """The win / draw / loss support when a draw is worth `draw_value` (a draw penalty, -1 < c < 1):
    a drawn game's return is then exactly the middle point, so the critic's three probabilities
    stay win / draw / loss and its value is P(win) - P(loss) + c P(draw)."""
    if not -1.0 < draw_value < 1.0:
        raise ValueError(f"a draw must be worth between -1 and 1, got {draw_value}")
    return (-1.0, float(draw_value), 1.0)


HIDDEN_GAIN = math.sqrt(2.0)
POLICY_HEAD_GAIN = 0.01
VALUE_HEAD_GAIN = 1.0


def layer_init(layer: nn.Linear, gain: float) -> nn.Linear:
    """Orthogonal weights scaled by `gain`, zero biases (the usual PPO initialisation)."""
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def _activation(name: Activation) -> nn.Module:
    return nn.Tanh() if name == "tanh" else nn.ReLU()


def mlp(
    in_dim: int, hidden: Sequence[int], out_dim: int | None, activation: Activation, out_gain: float
) -> nn.Sequential:
    """Linear-activation blocks; a final linear layer to `out_dim` unless it is None."""
    layers: list[nn.Module] = []
    d = in_dim
    for h in hidden:
        layers += [layer_init(nn.Linear(d, h), HIDDEN_GAIN), _activation(activation)]
        d = h
    if out_dim is not None:
        layers.append(layer_init(nn.Linear(d, out_dim), out_gain))
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """Base class: a policy over discrete actions and a state-value function in one module.

    A categorical critic sets `value_support` to its K increasing points and implements
    `forward_categorical(obs) -> (logits (B, A), value_logits (B, K))`; its value is the mean
    Σ p_i z_i, and PPO trains it by cross-entropy (`kingme.ppo.core.categorical_value_loss`)."""

    value_support: tuple[float, ...] | None = None

    def forward_categorical(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} has a scalar critic")

    def value_distribution(self, obs: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        """(B, K) a categorical critic's probabilities over `value_support`."""
        raise NotImplementedError(f"{type(self).__name__} has a scalar critic")

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def actor_parameters(self) -> Iterator[nn.Parameter]:  # pragma: no cover
        raise NotImplementedError

    def critic_parameters(self) -> Iterator[nn.Parameter]:
        actor = {id(p) for p in self.actor_parameters()}
        return (p for p in self.parameters() if id(p) not in actor)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        """The policy's logits, shape (B, A). Subclasses may override it to skip the value head."""
        return self.forward(obs)[0]

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """V(obs), shape (B,). Subclasses may override it to skip the policy head."""
        return self.forward(obs)[1]


class MLPActorCritic(ActorCritic):
    """Fully connected actor and critic for flat observations (obs_shape is flattened)."""

    def __init__(
        self,
        obs_shape: Sequence[int],
        num_actions: int,
        hidden: Sequence[int] = (64, 64),
        activation: Activation = "tanh",
        trunk: Trunk = "separate",
        value_head: ValueHead = "scalar",
        draw_value: float = 0.0,
    ) -> None:
        super().__init__()
        self.obs_dim = int(math.prod(obs_shape))
        self.num_actions = num_actions
        self.trunk_kind = trunk
        # "wdl": the critic's last layer gives 3 logits over WDL_SUPPORT (loss, draw, win)
        self.value_support = wdl_support(draw_value) if value_head == "wdl" else None
        v_out = 1 if self.value_support is None else len(self.value_support)
        if trunk == "separate":
            self.actor = mlp(self.obs_dim, hidden, num_actions, activation, POLICY_HEAD_GAIN)
            self.critic = mlp(self.obs_dim, hidden, v_out, activation, VALUE_HEAD_GAIN)
        elif trunk == "shared":
            last = hidden[-1] if hidden else self.obs_dim
            self.trunk = mlp(self.obs_dim, hidden, None, activation, 1.0)
            self.policy_head = layer_init(nn.Linear(last, num_actions), POLICY_HEAD_GAIN)
            self.value_head = layer_init(nn.Linear(last, v_out), VALUE_HEAD_GAIN)
        else:
            raise ValueError(f"unknown trunk {trunk!r}")

    def _value_out(self, out: torch.Tensor) -> torch.Tensor:
        """The critic's raw output (B, 1) or (B, K) as the value (B,)."""
        if self.value_support is None:
            return out.squeeze(-1)
        return categorical_value(out, self.value_support)

    def forward_categorical(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.value_support is None:
            raise NotImplementedError("this network has a scalar critic")
        x = obs.reshape(obs.shape[0], self.obs_dim)  # (B, *obs_shape) -> (B, D)
        if self.trunk_kind == "separate":
            return self.actor(x), self.critic(x)  # (B, A), (B, K)
        h = self.trunk(x)  # (B, H)
        return self.policy_head(h), self.value_head(h)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = obs.reshape(obs.shape[0], self.obs_dim)  # (B, *obs_shape) -> (B, D)
        if self.trunk_kind == "separate":
            return self.actor(x), self._value_out(self.critic(x))  # (B, A), (B,)
        h = self.trunk(x)  # (B, H)
        return self.policy_head(h), self._value_out(self.value_head(h))

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.reshape(obs.shape[0], self.obs_dim)
        if self.trunk_kind == "separate":
            return self.actor(x)
        return self.policy_head(self.trunk(x))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.reshape(obs.shape[0], self.obs_dim)
        if self.trunk_kind == "separate":
            return self._value_out(self.critic(x))
        return self._value_out(self.value_head(self.trunk(x)))

    def value_distribution(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, K) the critic's probabilities over `value_support` (loss, draw, win for "wdl")."""
        x = obs.reshape(obs.shape[0], self.obs_dim)
        out = self.critic(x) if self.trunk_kind == "separate" else self.value_head(self.trunk(x))
        if self.value_support is None:
            raise NotImplementedError("this network has a scalar critic")
        return torch.softmax(out, dim=-1)

    def actor_parameters(self) -> Iterator[nn.Parameter]:
        if self.trunk_kind == "separate":
            yield from self.actor.parameters()
        else:
            yield from self.trunk.parameters()
            yield from self.policy_head.parameters()


# ------------------------------------------------------------------------------------------------
# Checkers networks


def _board_cells() -> torch.Tensor:
    """(32,) the row-major 8x8 cell index of each of the squares 1..32."""
    from kingme.checkers.render import square_coords

    return torch.tensor([8 * r + c for r, c in (square_coords(s) for s in range(1, 33))], dtype=torch.long)


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
        self.register_buffer("cells", _board_cells(), persistent=False)

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
    kind: NetKind,
    hidden: Sequence[int],
    channels: int,
    obs_shape: Sequence[int] = (6, 32),
    num_actions: int = 128,
    value_head: ValueHead = "scalar",
    draw_value: float = 0.0,
) -> ActorCritic:
    """The checkers network named by `kind` (`hidden` sizes the MLP, `channels` the conv net);
    the defaults of `obs_shape` and `num_actions` are the checkers observation and action space.
    ``value_head="wdl"`` (MLP only) makes the critic predict win / draw / loss (`wdl_support`)."""
    if kind == "mlp":
        return MLPActorCritic(obs_shape, num_actions, tuple(hidden), "relu", "separate", value_head, draw_value)
    if value_head != "scalar":
        raise ValueError(f"a {value_head} critic is available for the mlp network only")
    if kind == "conv":
        return ConvActorCritic(channels=channels, in_planes=obs_shape[0], num_actions=num_actions)
    raise ValueError(f"unknown network kind {kind!r}: expected mlp or conv")
