"""American checkers (English draughts): the game alone, exact and fast, with a typed Python API.

`Board` holds a position and its history: `legal_moves()`, `push`/`pop`/`peek`, and `outcome()`,
the one place the game-end rules live (no legal move loses; the 80-ply rule and threefold
repetition draw). Moves and positions read and write the game's standard notations (PDN move text,
FEN, whole PDN games in `read_games`/`write_game`), and `perft` counts the move tree with compiled
bitboard kernels (`kingme.checkers.core`), checked against the published counts. The package
imports nothing else from kingme, and never torch: learning code builds on it, not the other way.

    >>> from kingme.checkers import Board, perft
    >>> board = Board()
    >>> board.legal_moves()[:3]
    [Move('9-13'), Move('10-14'), Move('11-15')]
    >>> board.push("11-15")
    Move('11-15')
    >>> board.peek()
    Move('11-15')
    >>> print(board.outcome())
    None
    >>> perft(Board(), 6)
    36768
    >>> Board("W:W:B1").outcome().describe()
    'Black wins: White has no legal move'
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
