"""American checkers (English draughts): an exact, fast engine with a typed Python API.

`Board` holds a position and its history; `perft` counts the move tree with compiled kernels.
Imports nothing else from kingme, and never torch.
"""

from kingme.checkers.board import (
    DRAW_PLIES,
    SQUARES,
    START_FEN,
    Bitboard,
    Board,
    BoardError,
    Color,
    Move,
    Outcome,
    Piece,
    Square,
    Termination,
    parse_fen,
    perft,
    perft_divide,
)
from kingme.checkers.pdn import Game, PDNError, game_from_board, read_game, read_games, write_game

__all__ = [
    "DRAW_PLIES",
    "SQUARES",
    "START_FEN",
    "Bitboard",
    "Board",
    "BoardError",
    "Color",
    "Game",
    "Move",
    "Outcome",
    "PDNError",
    "Piece",
    "Square",
    "Termination",
    "game_from_board",
    "parse_fen",
    "perft",
    "perft_divide",
    "read_game",
    "read_games",
    "write_game",
]
