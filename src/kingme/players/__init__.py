"""Anything that picks a move, and the one registry that turns spec strings into players.

A player answers one question, given a `Board` whose game is not over: which legal move? The
built-in kinds are ``random``, ``greedy``, ``alphabeta:D[:MS]`` (the compiled search of
`players.alphabeta`), ``policy:NAME_OR_PATH`` (a trained checkers network, `players.policy`,
batched: one forward pass for many boards), ``search:MODEL:DEPTH[:MS]`` / ``search:MODEL::MS``
(alpha-beta with that network's critic at the leaves and its policy ordering the moves,
`players.search`), ``human`` (moves typed on the terminal) and ``mix:EPS:SPEC`` (a calibration
instrument). `parse_spec(text)` reads a spec into a `PlayerSpec` (the grammar:
`players.specs`), `build_player(spec, seed)` builds the player of a parsed spec
(`choose(board) -> Move`, `reseed(seed)`), `load_player(text, seed)` does both, and
`register_player_kind(prefix, factory)` adds a kind. Every player draws from its own seeded
generator, so games replay exactly. Every kind honours a cost bound (`players.limits`: ``with
bounded(Limit(seconds=...))``). See docs/arena.md.

    >>> from kingme.checkers import Board
    >>> from kingme.players import load_player, parse_spec
    >>> player = load_player("alphabeta:4", seed=1)
    >>> player.choose(Board()) in Board().legal_moves()
    True
    >>> inner = parse_spec("mix:0.25:alphabeta:6:200").inner
    >>> inner.kind, inner.depth, inner.ms
    ('alphabeta', 6, 200.0)
"""

from kingme.common import mix_seed
from kingme.players.base import (
    BatchPlayer,
    Player,
    choose_many,
    is_batched,
    is_interactive,
)
from kingme.players.registry import (
    PlayerFactory,
    PlayerSpec,
    build_player,
    load_player,
    parse_spec,
    player_kinds,
    register_player_kind,
)

__all__ = [
    "BatchPlayer",
    "Player",
    "PlayerFactory",
    "PlayerSpec",
    "build_player",
    "choose_many",
    "is_batched",
    "is_interactive",
    "load_player",
    "mix_seed",
    "parse_spec",
    "player_kinds",
    "register_player_kind",
]
