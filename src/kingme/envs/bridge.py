"""The one bridge between the engine's `Board` and `Move`s and the learning side's arrays.

The vectorised environment (`kingme.envs.checkers_vec`) speaks in single actions and (6, 32)
observations; the engine speaks in complete moves. Everything that crosses between the two goes
through this module:

- `NUM_ACTIONS` (128) and `OBS_SHAPE` (6, 32): the action space and the observation's shape
  (re-exported from `kingme.envs.planes`, which defines the side-to-move frame and the planes).
- `encode_action` / `decode_action`: an action index to and from a real (square, direction).
- `move_to_actions(move, side)`: the actions that play a complete move (one per step or single
  jump); `actions_to_move(board, actions)`: the legal move that a sequence of actions plays.
- `Position`: a position as the environment holds it, mid-move states included (the piece that
  must continue a multi-jump, the draw clock); `Position.from_board`, `.fen()`, `.board()`,
  `.observe()`; `after_actions(board, move, k)`: the position after the first k actions of a move
  (what a network sees at each decision point of a multi-jump); `legal_paths(position)`: the
  legal moves' square paths in the engine's order, without building a `Board`; `legal_path(...,
  index)`: just the one a search picked.
- `position_from_observation(obs)`: the pieces back from an observation (the side it was seen
  from must be given: the observation is in that side's frame).

    >>> from kingme.checkers import Board
    >>> board = Board("B:W18,27:B14,1")
    >>> move = board.legal_moves()[0]
    >>> str(move), move_to_actions(move, board.turn)
    ('14x23x32', [53, 89])
    >>> actions_to_move(board, [53, 89]) == move
    True
    >>> after_actions(board, move, 1).fen()  # mid-jump: Black keeps the move
    'B:W27:B1,23'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kingme.checkers import Board, BoardError, Color, Move, core
from kingme.checkers.board import bit, squares_of
from kingme.checkers.core import DRAW_PLIES, square_to_bit
from kingme.envs.checkers_vec import write_observation
from kingme.envs.planes import (
    CLOCK,
    DIRECTIONS,
    JUMPING,
    NUM_ACTIONS,
    OBS_SHAPE,
    OPP_KINGS,
    OPP_MEN,
    OWN_KINGS,
    OWN_MEN,
    PIECE_PLANES,
    action,
    board_square,
    frame_direction,
    frame_index,
)

__all__ = [
    "NUM_ACTIONS",
    "OBS_SHAPE",
    "Position",
    "actions_to_move",
    "after_actions",
    "decode_action",
    "encode_action",
    "legal_path",
    "legal_paths",
    "move_to_actions",
    "observe_board",
    "position_from_observation",
]

# single-step bit offsets of the padded layout -> canonical direction (0 = +4, 1 = +5, 2 = -4, 3 = -5)
_DIRECTION = {4: 0, 5: 1, -4: 2, -5: 3}


# ------------------------------------------------------------------------------------------------
# Actions


def encode_action(square: int, direction: int, side: Color | int) -> int:
    """Action index of a real (from-square 1..32, real direction 0..3) pair for ``side``."""
    s = int(side)
    return int(action(frame_index(square, s), frame_direction(direction, s)))


def decode_action(action: int, side: Color | int) -> tuple[int, int]:
    """(real from-square, real direction 0..3) of an action taken by ``side``."""
    csq, cdir = divmod(int(action), DIRECTIONS)
    s = int(side)
    return int(board_square(csq, s)), int(frame_direction(cdir, s))


def move_to_actions(move: Move | Sequence[int], side: Color | int) -> list[int]:
    """The actions that play a complete move (given as a `Move` or its path of squares), one per
    step or single jump, in the frame of ``side`` (the side making the move)."""
    path = move.path if isinstance(move, Move) else tuple(move)
    out = []
    for a, b in zip(path[:-1], path[1:]):
        delta = square_to_bit(b) - square_to_bit(a)
        step = delta // 2 if abs(delta) > 5 else delta  # a jump covers two steps
        out.append(encode_action(a, _DIRECTION[step], side))
    return out


def actions_to_move(board: Board, actions: Sequence[int]) -> Move:
    """The legal move of ``board`` that ``actions`` play, all of them (BoardError if none does)."""
    wanted = [int(a) for a in actions]
    for m in board.legal_moves():
        if move_to_actions(m, board.turn) == wanted:
            return m
    raise BoardError(f"actions {wanted} play no legal move in {board.fen()}")


# ------------------------------------------------------------------------------------------------
# Positions and observations


@dataclass(frozen=True)
class Position:
    """A position as the environment holds it: bitboards in the engine's padded layout, the side
    to move, the bit index of the piece that must continue a multi-jump (-1 if none) and the draw
    clock (plies since the last capture or man move)."""

    black: int
    white: int
    kings: int
    side: Color
    jumping: int = -1
    clock: int = 0

    @classmethod
    def from_board(cls, board: Board) -> Position:
        return cls(board.black, board.white, board.kings, board.turn, -1, board.clock)

    def fen(self) -> str:
        """The FEN of the pieces as they stand (mid-jump: the jumping piece where it has landed)."""

        def side(bb: int) -> str:
            return ",".join(("K" if bit(s) & self.kings else "") + str(s) for s in squares_of(bb))

        return f"{Color(self.side).letter}:W{side(self.white)}:B{side(self.black)}"

    def board(self) -> Board:
        """A `Board` of this position (no history; the draw clock is kept). Not mid-jump."""
        if self.jumping >= 0:
            raise ValueError("a position in the middle of a multi-jump is not a Board position")
        b = Board(self.fen())
        b.clock = self.clock
        return b

    def observe_into(self, obs: np.ndarray, mask: np.ndarray) -> int:
        """Write the observation (OBS_SHAPE float32) and the legal-action mask (NUM_ACTIONS bool) into
        the given arrays; return the number of legal actions."""
        return int(
            write_observation(
                np.uint64(self.black),
                np.uint64(self.white),
                np.uint64(self.kings),
                int(self.side),
                int(self.jumping),
                int(self.clock),
                obs,
                mask,
            )
        )

    def observe(self) -> tuple[np.ndarray, np.ndarray]:
        """(observation, legal-action mask) of this position, from the side to move's view."""
        obs = np.zeros(OBS_SHAPE, dtype=np.float32)
        mask = np.zeros(NUM_ACTIONS, dtype=np.bool_)
        self.observe_into(obs, mask)
        return obs, mask


def legal_paths(pos: Position) -> list[tuple[int, ...]]:
    """The square paths of the legal complete moves of a position that is not mid-jump, in the
    engine's order (the order of `Board.legal_moves()`, which `Searcher.search` indexes), without
    building a `Board`: for opponents searched inside the environment's step."""
    if pos.jumping >= 0:
        raise ValueError("legal_paths: the position is in the middle of a multi-jump")
    n = _generate(pos.black, pos.white, pos.kings, int(pos.side))
    return [_path(i) for i in range(n)]


def legal_path(black: int, white: int, kings: int, side: int, index: int) -> tuple[int, ...]:
    """The square path of legal move ``index`` (the engine's order, as in `legal_paths`) of the
    position (black, white, kings bitboards, side to move), not mid-jump: the one path a search's
    result names, without converting the others (a search bot's move inside the step)."""
    n = _generate(black, white, kings, side)
    if not 0 <= index < n:
        raise ValueError(f"legal_path: move {index} of a position with {n} legal moves")
    return _path(index)


def _generate(black: int, white: int, kings: int, side: int) -> int:
    """Generate a position's legal moves into the scratch arrays below; returns how many."""
    P, O = (black, white) if side == Color.BLACK else (white, black)
    return int(core.generate(np.uint64(P), np.uint64(O), np.uint64(kings), int(side), _CHILDREN, _PATHS, _PLENS))


def _path(i: int) -> tuple[int, ...]:
    """Move i of the last `_generate` as its path of squares."""
    return tuple(int(core.BIT_SQUARES[b]) for b in _PATHS[i, : _PLENS[i]])


_CHILDREN = np.empty((core.MAX_MOVES, 3), dtype=np.uint64)  # scratch space for core.generate
_PATHS = np.empty((core.MAX_MOVES, core.MAX_PATH), dtype=np.int64)
_PLENS = np.empty(core.MAX_MOVES, dtype=np.int64)


def observe_board(board: Board) -> tuple[np.ndarray, np.ndarray]:
    """(observation, legal-action mask) of a board's position, as the environment would show it."""
    return Position.from_board(board).observe()


def after_actions(board: Board, move: Move, k: int) -> Position:
    """The position after the first ``k`` actions (single jumps) of ``move`` on ``board``: the
    jumped pieces are gone, the mover stands on its k-th landing square and still has the move
    (``jumping`` is its bit). ``k = 0`` is the board's own position. Crowning ends a move, so it
    never happens before the last action."""
    if k == 0:
        return Position.from_board(board)
    path = move.path
    if not 0 < k < len(path) - 1 or not move.is_capture:
        raise ValueError(f"after_actions: k must be 0 or a jump of {move} before its last, not {k}")
    mover, here = bit(path[0]), bit(path[k])
    own, opp = (board.black, board.white) if board.turn == Color.BLACK else (board.white, board.black)
    kings = board.kings
    for j in range(k):  # remove the pieces jumped so far
        mid = 1 << ((square_to_bit(path[j]) + square_to_bit(path[j + 1])) // 2)
        opp &= ~mid
        kings &= ~mid
    own = (own & ~mover) | here
    if kings & mover:
        kings = (kings & ~mover) | here
    black, white = (own, opp) if board.turn == Color.BLACK else (opp, own)
    return Position(black, white, kings, board.turn, here.bit_length() - 1, board.clock)


def position_from_observation(obs: np.ndarray, side: Color | int) -> Position:
    """The pieces of an observation seen by ``side`` (planes 0-3), as a `Position` with ``side`` to
    move; the jump plane (4) and the draw clock (5) are read back too."""
    bbs = [0] * PIECE_PLANES
    s = int(side)
    for plane in range(PIECE_PLANES):  # OWN_MEN, OWN_KINGS, OPP_MEN, OPP_KINGS
        for idx in np.flatnonzero(obs[plane]):
            bbs[plane] |= bit(int(board_square(int(idx), s)))
    own, opp = bbs[OWN_MEN] | bbs[OWN_KINGS], bbs[OPP_MEN] | bbs[OPP_KINGS]
    black, white = (own, opp) if side == Color.BLACK else (opp, own)
    jumping = -1
    marked = np.flatnonzero(obs[JUMPING])
    if marked.size:
        jumping = square_to_bit(int(board_square(int(marked[0]), s)))
    clock = int(round(float(obs[CLOCK, 0]) * DRAW_PLIES))
    return Position(black, white, bbs[OWN_KINGS] | bbs[OPP_KINGS], Color(s), jumping, clock)
