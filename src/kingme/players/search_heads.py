"""The fast network pass of the search: a checkers network's value and policy heads as plain
functions of a batch of observations (`network_heads`), without the modules' call overhead, which
is most of the cost of the search's small batches."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from kingme.nets import ActorCritic, MLPActorCritic, categorical_value

__all__ = ["Head", "network_heads"]


Head = Callable[[torch.Tensor], torch.Tensor]


def _detached(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach()


def _functional(seq: object) -> Head | None:
    """A plain function computing an ``nn.Sequential`` of Linear / ReLU / Tanh layers on a flat
    batch (the same arithmetic without the modules' call overhead, which is most of a small
    batch's cost); None for any other module."""
    if not isinstance(seq, nn.Sequential):
        return None
    steps: list[Head] = []
    for layer in seq:
        if isinstance(layer, nn.Linear):
            steps.append(partial(F.linear, weight=layer.weight.detach(), bias=_detached(layer.bias)))
        elif isinstance(layer, nn.ReLU):
            steps.append(torch.relu)
        elif isinstance(layer, nn.Tanh):
            steps.append(torch.tanh)
        else:
            return None

    def run(x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1)
        for f in steps:
            x = f(x)
        return x

    return run


def network_heads(agent: ActorCritic) -> tuple[Head, Head]:
    """(value, logits) functions of a batch of observations: `agent.value` and `agent.logits`,
    or for an MLP with separate trunks the same layers called directly."""
    value: Head = agent.value
    logits: Head = agent.logits
    if isinstance(agent, MLPActorCritic) and agent.trunk_kind == "separate":
        v, pi = _functional(agent.critic), _functional(agent.actor)
        support = agent.value_support
        if v is not None and support is None:
            value = lambda x: v(x).squeeze(-1)  # noqa: E731
        elif v is not None and support is not None:  # a win / draw / loss critic: V = Σ_i p_i z_i
            points = support
            value = lambda x: categorical_value(v(x), points)  # noqa: E731
        if pi is not None:
            logits = pi
    return value, logits
