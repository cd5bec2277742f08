"""`egdb:SPEC`: any player, kept from throwing away an endgame's true result by the database.

In a position the database covers, the player's own move is played if it keeps the position's
true result (a won position stays won, a drawn one drawn); otherwise a move that does: first one
that resets the 80-ply clock (a capture, a crowning, a man's step: progress), else one drawn by
the player's seeded generator. Outside the database it is the inner player unchanged. In a lost
position every move keeps the result, so the inner player's move is played.

The tables hold only win / draw / loss, not the distance to a win, so the wrapper never spoils a
result but does not by itself make progress in a won ending: the inner player does (a search
sees captures and crownings); `kingme egdb grade --endings N` measures how often won endings are
actually won. Importing this module registers the kind (`register`); `kingme egdb grade` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kingme.checkers import Board, Move
from kingme.checkers.board import bit
from kingme.egdb.probe import KEEPS, board_result, move_results
from kingme.egdb.store import Store, open_store
from kingme.players.base import Player, choose_many

USAGE = "egdb:SPEC"


class EgdbPlayer:
    """``inner`` with the database's veto on moves that change a covered position's result."""

    def __init__(self, inner: Player, store: Store, seed: int = 0, name: str = "") -> None:
        self.inner = inner
        self.store = store
        self.name = name or f"egdb:{getattr(inner, 'name', 'player')}"
        self.rng = np.random.default_rng(seed)
        self.vetoes = 0  # moves of the inner player replaced

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        reseed = getattr(self.inner, "reseed", None)
        if reseed is not None:
            reseed(seed)

    def choose(self, board: Board) -> Move:
        return self._keep(board, self.inner.choose(board))

    def choose_batch(self, boards: Sequence[Board]) -> list[Move]:
        return [self._keep(b, m) for b, m in zip(boards, choose_many(self.inner, boards))]

    def _keep(self, board: Board, move: Move) -> Move:
        v = board_result(self.store, board)
        if v < 0:
            return move  # not covered
        keeping = [m for m, r in move_results(self.store, board) if r == KEEPS[v]]
        if move in keeping:
            return move
        self.vetoes += 1
        mover_men = (board.black if int(board.turn) == 0 else board.white) & ~board.kings
        resetting = [m for m in keeping if m.is_capture or mover_men & bit(m.from_square)]
        pool = resetting or keeping
        return pool[int(self.rng.integers(len(pool)))]


def egdb_player(args: str, seed: int, folder: Path | None = None) -> EgdbPlayer:
    """The factory of ``egdb:SPEC``: the inner player of SPEC over the default database (UserError
    if SPEC is malformed or the database is not built)."""
    from kingme.players import load_player

    if not args.strip():
        from kingme.common import UserError

        raise UserError(f"egdb: needs the player it guards, e.g. egdb:alphabeta:4 ({USAGE})")
    inner = load_player(args, seed)
    return EgdbPlayer(inner, open_store(folder), seed, f"egdb:{args}")


def register() -> None:
    """Make ``egdb:SPEC`` a player kind (`kingme.players.register_player_kind`)."""
    from kingme.players import register_player_kind

    register_player_kind("egdb", lambda args, seed: egdb_player(args, seed), USAGE)


register()
