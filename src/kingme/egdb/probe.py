"""Reading the database for a `Board`: the position's true result, and each legal move's."""

from __future__ import annotations

from kingme.checkers import Board, Move
from kingme.egdb.index import DRAW, LOSS, WIN
from kingme.egdb.store import Store

# The result a move must leave the opponent to keep the mover's result (value-preserving moves).
KEEPS = {WIN: LOSS, DRAW: DRAW, LOSS: WIN}


def board_result(store: Store, board: Board) -> int:
    """WIN / DRAW / LOSS for the side to move with perfect play, -1 if the database does not cover
    the position (too many pieces). The draw rules' state (clock, repetitions) is not read: the
    result is the position's, with a fresh clock (docs/endgames.md)."""
    return store.probe(board.black, board.white, board.kings, int(board.turn))


def move_results(store: Store, board: Board) -> list[tuple[Move, int]]:
    """Each legal move and the result it leaves the opponent (the side to move after it)."""
    out = []
    for move, (black, white, kings) in board._generated():
        out.append((move, store.probe(black, white, kings, 1 - int(board.turn))))
    return out


def preserves(store: Store, board: Board, move: Move) -> bool:
    """Whether ``move`` keeps the position's true result (a won position stays won, a drawn one
    drawn; every move of a lost position does)."""
    v = board_result(store, board)
    after = dict(board._generated())[move]
    return store.probe(*after, 1 - int(board.turn)) == KEEPS[v]
