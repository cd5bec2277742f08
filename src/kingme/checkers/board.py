"""The typed Python face of the engine: `Board`, `Move`, squares, FEN.

    >>> from kingme.checkers import Board
    >>> board = Board()
    >>> len(board.legal_moves())
    7
    >>> board.push("11-15")
    Move('11-15')
    >>> board.fen()
    'W:W21,22,23,24,25,26,27,28,29,30,31,32:B1,2,3,4,5,6,7,8,9,10,12,15'

Squares are the standard numbers 1-32 (Black's men start on 1-12 and move first, towards 32).
Move generation, perft and everything hot run in the compiled kernels of `kingme.checkers.core`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import NamedTuple

import numpy as np

from kingme.checkers import core

Square = int  # 1..32, standard numbering
Bitboard = int  # a Python int holding the padded 35-bit layout of `core`

NUM_SQUARES = 32  # the dark squares, numbered 1..NUM_SQUARES
SQUARES: tuple[Square, ...] = tuple(range(1, NUM_SQUARES + 1))
MAX_PIECES = 12  # men per side at the start; no side can have more pieces
BLACK_CROWN_SQUARES = frozenset(range(29, 33))  # Black's men crown on White's home row
WHITE_CROWN_SQUARES = frozenset(range(1, 5))  # White's men crown on Black's home row
DRAW_PLIES = core.DRAW_PLIES  # 80 consecutive plies with no capture and no man move
REPETITIONS = 3  # the occurrence of a position (same side to move) that draws
STEP_BITS = (4, 5)  # a step moves 4 or 5 bits in core's layout; a jump moves 8 or 10
START_FEN = "B:W21-32:B1-12"


class Color(IntEnum):
    BLACK = 0
    WHITE = 1

    @property
    def other(self) -> Color:
        return Color(1 - self)

    @property
    def letter(self) -> str:
        return "B" if self is Color.BLACK else "W"

    @property
    def title(self) -> str:
        """`Black` or `White`."""
        return "Black" if self is Color.BLACK else "White"


class Termination(StrEnum):
    """Why a game ended (the values are the words the arena records)."""

    NO_MOVES = "no moves"  # the side to move has no legal move and loses
    DRAW_RULE = "80-ply rule"  # DRAW_PLIES plies without a capture or a man move
    REPETITION = "threefold repetition"  # the same position, same side to move, a third time


RESULT_BLACK_WINS = "1-0"  # English-checkers PDN habit: the first player (Black) is named first
RESULT_WHITE_WINS = "0-1"
RESULT_DRAW = "1/2-1/2"


@dataclass(frozen=True)
class Outcome:
    """How a finished game ended: the termination and the winner (None for a draw).

    >>> board = Board("W:W:B1")
    >>> board.outcome()
    Outcome(termination=<Termination.NO_MOVES: 'no moves'>, winner=<Color.BLACK: 0>)
    >>> board.outcome().result
    '1-0'
    >>> board.outcome().describe()
    'Black wins: White has no legal move'
    """

    termination: Termination
    winner: Color | None

    @property
    def result(self) -> str:
        """`"1-0"` Black won, `"0-1"` White won, `"1/2-1/2"` drawn (as `Board.result()`)."""
        if self.winner is None:
            return RESULT_DRAW
        return RESULT_BLACK_WINS if self.winner is Color.BLACK else RESULT_WHITE_WINS

    def describe(self) -> str:
        """The ending in words, e.g. `White wins: Black has no legal move`."""
        if self.termination is Termination.NO_MOVES:
            winner = self.winner if self.winner is not None else Color.BLACK
            return f"{winner.title} wins: {winner.other.title} has no legal move"
        if self.termination is Termination.REPETITION:
            return "Draw: the same position occurred three times"
        return f"Draw: {DRAW_PLIES} plies without a capture or a man move"


class Piece(NamedTuple):
    color: Color
    king: bool

    def symbol(self) -> str:
        """`b`/`w` for men, `B`/`W` for kings."""
        s = "b" if self.color is Color.BLACK else "w"
        return s.upper() if self.king else s


class BoardError(ValueError):
    """Malformed or illegal input given to the engine (a bad FEN, an illegal move text...)."""


def bit(square: Square) -> int:
    return 1 << core.square_to_bit(square)


def squares_of(bb: Bitboard) -> list[Square]:
    """The squares set in a bitboard, ascending."""
    out = []
    while bb:
        low = bb & -bb
        out.append(int(core.BIT_SQUARES[low.bit_length() - 1]))
        bb ^= low
    return out


@dataclass(frozen=True)
class Move:
    """A complete move: the path of the moving piece (start, then every landing square).

    A step has a path of two squares and reads `11-15`; a capture reads `9x18x27` with every
    landing square, so the two directions round a king's ring capture are different moves.
    """

    path: tuple[Square, ...]
    captures: tuple[Square, ...] = field(default=())

    @property
    def from_square(self) -> Square:
        return self.path[0]

    @property
    def to_square(self) -> Square:
        return self.path[-1]

    @property
    def is_capture(self) -> bool:
        return bool(self.captures)

    def __str__(self) -> str:
        return ("x" if self.captures else "-").join(map(str, self.path))

    def __repr__(self) -> str:
        return f"Move({str(self)!r})"


_MOVE_RE = re.compile(r"^\s*(\d{1,2})(?:\s*([-x:])\s*(\d{1,2}))+\s*$")


def parse_move_text(text: str) -> tuple[tuple[Square, ...], bool]:
    """Split PDN move text into its squares and whether it is written as a capture."""
    if not isinstance(text, str) or not _MOVE_RE.match(text):
        raise BoardError(f"malformed move {text!r}: expected e.g. 11-15 or 9x18x27")
    seps = set(re.findall(r"[-x:]", text))
    if len(seps) > 1:
        raise BoardError(f"malformed move {text!r}: mixes '-' and 'x'")
    squares = tuple(int(t) for t in re.findall(r"\d+", text))
    for s in squares:
        if not 1 <= s <= NUM_SQUARES:
            raise BoardError(f"malformed move {text!r}: square {s} is not in 1-{NUM_SQUARES}")
    return squares, seps != {"-"}


# ------------------------------------------------------------------------------------------------
# FEN

_FEN_SQ_RE = re.compile(r"^(K?)(\d{1,2})(?:-(\d{1,2}))?$")


def parse_fen(text: str) -> tuple[Bitboard, Bitboard, Bitboard, Color]:
    """Parse PDN FEN, e.g. `B:W21,22,K30:B1,2,K9` (ranges such as `1-12` accepted)."""
    if not isinstance(text, str):
        raise BoardError("FEN must be a string")
    t = text.strip().strip('"').strip()
    if t.endswith("."):
        t = t[:-1]
    parts = [p.strip() for p in t.split(":")]
    if len(parts) != 3:
        raise BoardError(f"malformed FEN {text!r}: expected TURN:W...:B... (three fields separated by ':')")
    turn = parts[0].upper()
    if turn not in ("B", "W"):
        raise BoardError(f"malformed FEN {text!r}: side to move must be B or W, not {parts[0]!r}")
    boards = {"B": 0, "W": 0}
    kings = 0
    seen_colors = set()
    for part in parts[1:]:
        if not part or part[0].upper() not in ("B", "W"):
            raise BoardError(f"malformed FEN {text!r}: each side's field starts with B or W")
        color = part[0].upper()
        if color in seen_colors:
            raise BoardError(f"malformed FEN {text!r}: colour {color} given twice")
        seen_colors.add(color)
        body = part[1:].strip()
        if not body:
            continue
        for item in body.split(","):
            item = item.strip()
            m = _FEN_SQ_RE.match(item)
            if not m:
                raise BoardError(f"malformed FEN {text!r}: bad square {item!r}")
            lo = int(m.group(2))
            hi = int(m.group(3)) if m.group(3) else lo
            if not (1 <= lo <= NUM_SQUARES and 1 <= hi <= NUM_SQUARES and lo <= hi):
                raise BoardError(f"malformed FEN {text!r}: square {item!r} is not in 1-{NUM_SQUARES}")
            for s in range(lo, hi + 1):
                b = bit(s)
                if (boards["B"] | boards["W"]) & b:
                    raise BoardError(f"malformed FEN {text!r}: square {s} is given twice")
                boards[color] |= b
                if m.group(1):
                    kings |= b
    black, white = boards["B"], boards["W"]
    for sq in squares_of(black & ~kings):
        if sq in BLACK_CROWN_SQUARES:
            raise BoardError(f"invalid FEN {text!r}: a black man on square {sq} would already be crowned")
    for sq in squares_of(white & ~kings):
        if sq in WHITE_CROWN_SQUARES:
            raise BoardError(f"invalid FEN {text!r}: a white man on square {sq} would already be crowned")
    if len(squares_of(black)) > MAX_PIECES or len(squares_of(white)) > MAX_PIECES:
        raise BoardError(f"invalid FEN {text!r}: more than {MAX_PIECES} pieces of one colour")
    return black, white, kings, Color.BLACK if turn == "B" else Color.WHITE


def _fen_side(bb: Bitboard, kings: Bitboard) -> str:
    return ",".join(("K" if bit(s) & kings else "") + str(s) for s in squares_of(bb))


# ------------------------------------------------------------------------------------------------
# Board


class _State(NamedTuple):
    black: Bitboard
    white: Bitboard
    kings: Bitboard
    turn: Color
    clock: int
    move: Move


class Board:
    """A checkers position plus the game history needed for the draw rules and `pop()`.

    Rules: American checkers / English draughts (see docs/checkers.md). `result()` is None while
    the game is on, else `"1-0"` (Black won), `"0-1"` (White won) or `"1/2-1/2"`.
    """

    def __init__(self, fen: str | None = None) -> None:
        self.black, self.white, self.kings, self.turn = parse_fen(START_FEN if fen is None else fen)
        self.clock = 0  # plies since the last capture or man move
        self.move_stack: list[Move] = []
        self._stack: list[_State] = []
        self._seen: Counter[tuple[int, int, int, int]] = Counter([self._key()])
        self._start_fen = self.fen() if fen is not None else START_FEN_CANONICAL
        self._moves_cache: list[tuple[Move, tuple[int, int, int]]] | None = None

    @classmethod
    def from_fen(cls, text: str) -> Board:
        return cls(text)

    # --- queries ---------------------------------------------------------------------------

    def _key(self) -> tuple[int, int, int, int]:
        return (self.black, self.white, self.kings, int(self.turn))

    def fen(self) -> str:
        return f"{self.turn.letter}:W{_fen_side(self.white, self.kings)}:B{_fen_side(self.black, self.kings)}"

    @property
    def starting_fen(self) -> str:
        return self._start_fen

    def piece_at(self, square: Square) -> Piece | None:
        b = bit(square)
        if self.black & b:
            return Piece(Color.BLACK, bool(self.kings & b))
        if self.white & b:
            return Piece(Color.WHITE, bool(self.kings & b))
        return None

    def pieces(self, color: Color, king: bool | None = None) -> list[Square]:
        bb = self.black if color is Color.BLACK else self.white
        if king is True:
            bb &= self.kings
        elif king is False:
            bb &= ~self.kings
        return squares_of(bb)

    def legal_moves(self) -> list[Move]:
        """Every legal complete move (captures are compulsory; a multi-jump is one move)."""
        return [m for m, _ in self._generated()]

    def _generated(self) -> list[tuple[Move, tuple[int, int, int]]]:
        """The legal moves with the positions they lead to, generated once per position."""
        if self._moves_cache is None:
            self._moves_cache = self._generate()
        return self._moves_cache

    def _generate(self) -> list[tuple[Move, tuple[int, int, int]]]:
        children = np.empty((core.MAX_MOVES, 3), dtype=np.uint64)
        paths = np.empty((core.MAX_MOVES, core.MAX_PATH), dtype=np.int64)
        plens = np.empty(core.MAX_MOVES, dtype=np.int64)
        P, O = (self.black, self.white) if self.turn is Color.BLACK else (self.white, self.black)
        n = core.generate(np.uint64(P), np.uint64(O), np.uint64(self.kings), int(self.turn), children, paths, plens)
        out = []
        for i in range(n):
            bits = paths[i, : plens[i]]
            path = tuple(int(core.BIT_SQUARES[b]) for b in bits)
            caps: tuple[Square, ...] = ()
            if abs(int(bits[1]) - int(bits[0])) not in STEP_BITS:  # a jump: name the pieces it takes
                caps = tuple(int(core.BIT_SQUARES[(int(a) + int(b)) // 2]) for a, b in zip(bits[:-1], bits[1:]))
            p2, o2, k2 = (int(x) for x in children[i])
            black, white = (p2, o2) if self.turn is Color.BLACK else (o2, p2)
            out.append((Move(path, caps), (black, white, k2)))
        return out

    def parse_move(self, move: Move | str) -> Move:
        """The legal move meant by `move` (a Move or PDN text); BoardError if illegal or ambiguous.

        Text may give every square (`9x18x27`) or only the start and end (`9x27`) when that is
        unambiguous; `:` is read as `x`.
        """
        legal = self.legal_moves()
        if isinstance(move, Move):
            if move in legal:
                return move
            raise BoardError(f"illegal move {move} in {self.fen()}")
        squares, capture = parse_move_text(move)
        exact = [m for m in legal if m.path == squares]
        if exact:
            return exact[0]
        if len(squares) == 2:
            ends = [m for m in legal if (m.from_square, m.to_square) == squares]
            if len(ends) == 1:
                return ends[0]
            if len(ends) > 1:
                options = ", ".join(str(m) for m in ends)
                raise BoardError(f"ambiguous move {move!r}: could be {options}")
        hint = " (a capture is compulsory)" if legal and legal[0].is_capture and not capture else ""
        raise BoardError(f"illegal move {move!r} in {self.fen()}{hint}")

    def is_legal(self, move: Move | str) -> bool:
        try:
            self.parse_move(move)
            return True
        except BoardError:
            return False

    def repetitions(self) -> int:
        """How many times the current position (with the same side to move) has occurred."""
        return self._seen[self._key()]

    def outcome(self) -> Outcome | None:
        """How the game ended, or None while it is on; the one place the game-end rules live.

        A side with no legal move loses; else 80 plies without a capture or a man move, or the
        third occurrence of a position with the same side to move, is a draw (checked in that
        order).
        """
        if not self._generated():
            return Outcome(Termination.NO_MOVES, self.turn.other)
        if self.clock >= DRAW_PLIES:
            return Outcome(Termination.DRAW_RULE, None)
        if self.repetitions() >= REPETITIONS:
            return Outcome(Termination.REPETITION, None)
        return None

    def result(self) -> str | None:
        """None while the game is on; "1-0" Black won, "0-1" White won, "1/2-1/2" drawn."""
        outcome = self.outcome()
        return None if outcome is None else outcome.result

    def is_game_over(self) -> bool:
        return self.outcome() is not None

    def winner(self) -> Color | None:
        """The side that won, or None while the game is on or when it was drawn."""
        outcome = self.outcome()
        return None if outcome is None else outcome.winner

    # --- make / unmake --------------------------------------------------------------------------

    def push(self, move: Move | str) -> Move:
        """Play a legal move (a Move or its PDN text); BoardError, with the board unchanged, if not."""
        m = self.parse_move(move)
        after = dict(self._generated())[m]
        mover_men = (self.black if self.turn is Color.BLACK else self.white) & ~self.kings
        irreversible = m.is_capture or bool(mover_men & bit(m.from_square))
        self._stack.append(_State(self.black, self.white, self.kings, self.turn, self.clock, m))
        self.black, self.white, self.kings = after
        self.turn = self.turn.other
        self.clock = 0 if irreversible else self.clock + 1
        self.move_stack.append(m)
        self._seen[self._key()] += 1
        self._moves_cache = None
        return m

    def peek(self) -> Move:
        """The last move pushed; BoardError if none."""
        if not self.move_stack:
            raise BoardError("no move has been played")
        return self.move_stack[-1]

    def pop(self) -> Move:
        """Take back the last move and return it."""
        if not self._stack:
            raise BoardError("no move to take back")
        self._seen[self._key()] -= 1
        s = self._stack.pop()
        self.black, self.white, self.kings, self.turn, self.clock = s.black, s.white, s.kings, s.turn, s.clock
        self.move_stack.pop()
        self._moves_cache = None
        return s.move

    def copy(self) -> Board:
        b = Board.__new__(Board)
        b.black, b.white, b.kings, b.turn, b.clock = self.black, self.white, self.kings, self.turn, self.clock
        b.move_stack = list(self.move_stack)
        b._stack = list(self._stack)
        b._seen = Counter(self._seen)
        b._start_fen = self._start_fen
        b._moves_cache = None
        return b

    # --- comparison and display -------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        """Same position and side to move (history is not compared)."""
        return isinstance(other, Board) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Board({self.fen()!r})"

    def __str__(self) -> str:
        from kingme.checkers.render import ascii_board

        return ascii_board(self)

    def _repr_svg_(self) -> str:
        from kingme.checkers.render import svg_board

        return svg_board(self)


START_FEN_CANONICAL = "B:W21,22,23,24,25,26,27,28,29,30,31,32:B1,2,3,4,5,6,7,8,9,10,11,12"


def perft(board: Board, depth: int, bulk: bool = True) -> int:
    """Leaf nodes of the legal-move tree `depth` plies deep (the game-end rules are not applied,
    as in the published counts). With `bulk`, the last ply is counted without being generated."""
    if depth < 0:
        raise BoardError(f"perft depth must be >= 0, not {depth}")
    return int(
        core.perft_kernel(
            np.uint64(board.black), np.uint64(board.white), np.uint64(board.kings), int(board.turn), depth, bulk
        )
    )


def perft_divide(board: Board, depth: int) -> dict[str, int]:
    """Perft split by first move: {move text: leaf count below it}."""
    if depth < 1:
        raise BoardError(f"perft --divide needs depth >= 1, not {depth}")
    out = {}
    for m in board.legal_moves():
        board.push(m)
        out[str(m)] = perft(board, depth - 1)
        board.pop()
    return out
