"""`human`: moves typed on the terminal in PDN (``11-15``, ``9x18x27``, or ``9x27`` when that is
unambiguous). An illegal or malformed move is answered with the engine's error and asked again;
``moves`` lists the legal moves, ``quit`` (or end of input) stops the match."""

from __future__ import annotations

from collections.abc import Callable

from kingme.checkers import Board, BoardError, Move
from kingme.checkers.render import ascii_board
from kingme.common import UserError


class HumanPlayer:
    interactive = True  # the arena plays a human's games one at a time, in the main process

    def __init__(
        self,
        name: str = "human",
        input_fn: Callable[[str], str] = input,
        print_fn: Callable[[str], None] = print,
    ) -> None:
        self.name = name
        self.input_fn = input_fn
        self.print_fn = print_fn

    def reseed(self, seed: int) -> None:  # a human needs no generator
        pass

    def choose(self, board: Board) -> Move:
        if board.move_stack:
            self.print_fn(f"last move: {board.move_stack[-1]}")
        self.print_fn(ascii_board(board, numbers=True))
        side = f"{board.turn.title} ({board.turn.letter.lower()})"
        while True:
            try:
                text = self.input_fn(f"{side} to move> ").strip()
            except EOFError:
                raise UserError("input ended: the human player stopped the match") from None
            if text in ("quit", "exit"):
                raise UserError("the human player stopped the match")
            if text in ("moves", "?", ""):
                self.print_fn("legal moves: " + " ".join(str(m) for m in board.legal_moves()))
                continue
            try:
                return board.parse_move(text)
            except BoardError as e:
                self.print_fn(f"{e}; legal moves: " + " ".join(str(m) for m in board.legal_moves()))
