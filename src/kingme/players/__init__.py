"""Anything that picks a move: `random`, `greedy`, `alphabeta:D[:MS]`, `policy:...`, `human`.

    >>> from kingme.checkers import Board
    >>> from kingme.players import load_player
    >>> player = load_player("alphabeta:4", seed=1)
    >>> player.choose(Board()) in Board().legal_moves()
    True

`load_player(spec, seed)` turns a spec string into a `Player` (`choose(board) -> Move`,
`reseed(seed)`); `register_player_kind(prefix, factory)` adds or replaces a kind (the self-play
module registers the real `policy` loader this way). See docs/arena.md.
"""

from kingme.players.base import (
    BatchPlayer,
    Player,
    choose_many,
    is_batched,
    is_interactive,
    mix_seed,
)
from kingme.players.registry import (
    PLUGIN_MODULES,
    PlayerFactory,
    load_player,
    player_kinds,
    register_player_kind,
)

__all__ = [
    "PLUGIN_MODULES",
    "BatchPlayer",
    "Player",
    "PlayerFactory",
    "choose_many",
    "is_batched",
    "is_interactive",
    "load_player",
    "mix_seed",
    "player_kinds",
    "register_player_kind",
]
