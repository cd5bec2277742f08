"""The player protocol: anything that picks a move.

A player is named by a spec string (``random``, ``greedy``, ``alphabeta:6``, ``policy:default``,
``human``; see `kingme.players.load_player`) and answers one question: given a `Board` whose game
is not over, which legal move? Players that gain from seeing many positions at once (a network
evaluating a batch in one forward pass) also implement ``choose_batch``; the arena then plays
their games in lockstep.

Randomness is explicit: every player draws from its own generator, and ``reseed(seed)`` resets
it. The arena reseeds a player before every move it asks for (from the match seed, the game and
the ply), so a game's moves do not depend on which process played it or in what order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from kingme.checkers import Board, Move
from kingme.common import mix_seed as mix_seed  # the one seed mixer, re-exported


@runtime_checkable
class Player(Protocol):
    """Picks one legal move for the side to move."""

    name: str  # the spec string the player was loaded from, e.g. "alphabeta:6"

    def choose(self, board: Board) -> Move:
        """A legal move of ``board`` (whose game is not over); the board is left unchanged."""
        ...

    def reseed(self, seed: int) -> None:
        """Reset the player's random generator."""
        ...


@runtime_checkable
class BatchPlayer(Player, Protocol):
    """A player that chooses moves for many boards at once (one network forward pass)."""

    def choose_batch(self, boards: Sequence[Board]) -> list[Move]:
        """One legal move per board, in order; the boards are left unchanged."""
        ...


def is_batched(player: Player) -> bool:
    """Whether the arena should play this player's games in lockstep."""
    return callable(getattr(player, "choose_batch", None))


def is_interactive(player: Player) -> bool:
    """Whether the player reads a terminal (its games must run one at a time, in this process)."""
    return bool(getattr(player, "interactive", False))


def choose_many(player: Player, boards: Sequence[Board]) -> list[Move]:
    """``choose_batch`` if the player has it, else ``choose`` on each board."""
    if is_batched(player):
        return player.choose_batch(boards)  # type: ignore[attr-defined,no-any-return]
    return [player.choose(b) for b in boards]
