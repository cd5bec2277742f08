"""The side-to-move frame and the observation planes: the one place their layout is defined.

The frame. A network sees the board from the side to move: the board is rotated 180 degrees for
White, so the side to move always sits on squares 1-12 at the start and moves towards square 32.
Frame square ``s`` is real square ``s`` for Black and ``33 - s`` for White; as a 0-based index,

    index(sq, side) = sq - 1        (side 0, Black)
                      32 - sq       (side 1, White)

(`frame_index`; its own inverse up to the 1-based shift: `board_square`). Directions in the frame
are the shifts of the padded layout in `kingme.checkers.core`: 0 = +4 and 1 = +5 (forward, towards
32), 2 = -4 and 3 = -5 (backward, kings only); a real direction ``d`` is ``d`` for Black and
``d ^ 2`` for White (`frame_direction`, its own inverse).

Actions. ``action = 4 * index + direction``, `NUM_ACTIONS` = 32 x 4 = 128 (`action`).

Planes. The observation is `OBS_SHAPE` = (`PLANES`, `SQUARES`) = (6, 32) float32, each plane over
the 32 frame squares: `OWN_MEN`, `OWN_KINGS`, `OPP_MEN`, `OPP_KINGS` (0..3), `JUMPING` (4: the
piece that must continue a multi-jump, all zero otherwise) and `CLOCK` (5: the draw clock, plies
since the last capture or man move divided by 80, on every square). The first `PIECE_PLANES`
(4) planes flattened are the `PIECE_FEATURES` (128) inputs of the evaluation network.

Who reads them:
- `kingme.envs.checkers_vec` writes observations and action masks (`write_observation`), the
  environment the learners see;
- `kingme.envs.bridge` converts actions and observations to and from the engine's moves and boards;
- `kingme.players.search` expands moves to action indices (the policy's move ordering);
- `kingme.players.evalnet` writes the piece features (`features`), and `kingme.players.alphabeta`
  adds the evaluation network's first-layer rows of a position (`net_value`);
- the networks' shapes (`kingme.players.policy`, `kingme.selfplay`, `kingme.envs.checkers_gym`).

The functions are compiled inline into their callers. numba's on-disk cache of a caller does not
notice an edit here: after changing a formula, delete the ``__pycache__`` folders under
``src/kingme``.
"""

from __future__ import annotations

from numba import njit

from kingme.checkers.core import BIT_SQUARES, SQUARE_BITS

__all__ = [
    "CLOCK",
    "DIRECTIONS",
    "JUMPING",
    "NUM_ACTIONS",
    "OBS_SHAPE",
    "OPP_KINGS",
    "OPP_MEN",
    "OWN_KINGS",
    "OWN_MEN",
    "PIECE_FEATURES",
    "PIECE_PLANES",
    "PLANES",
    "SQUARES",
    "action",
    "bit_of_frame_index",
    "board_square",
    "frame_direction",
    "frame_index",
    "frame_index_of_bit",
]

SQUARES = 32
DIRECTIONS = 4
NUM_ACTIONS = SQUARES * DIRECTIONS  # 128
OWN_MEN, OWN_KINGS, OPP_MEN, OPP_KINGS, JUMPING, CLOCK = 0, 1, 2, 3, 4, 5
PLANES = 6
OBS_SHAPE = (PLANES, SQUARES)  # (6, 32)
PIECE_PLANES = 4  # own men, own kings, opponent men, opponent kings
PIECE_FEATURES = PIECE_PLANES * SQUARES  # 128: the evaluation network's inputs


@njit(inline="always", cache=True)
def frame_index(sq: int, side: int) -> int:
    """The 0-based frame index (0..31) of real square ``sq`` (1..32) for the side to move."""
    return sq - 1 if side == 0 else SQUARES - sq


@njit(inline="always", cache=True)
def board_square(index: int, side: int) -> int:
    """The real square (1..32) of frame index ``index`` (0..31): the inverse of `frame_index`."""
    return index + 1 if side == 0 else SQUARES - index


@njit(inline="always", cache=True)
def frame_index_of_bit(b: int, side: int) -> int:
    """The frame index of the square at bit ``b`` of the engine's padded layout."""
    return frame_index(int(BIT_SQUARES[b]), side)


@njit(inline="always", cache=True)
def bit_of_frame_index(index: int, side: int) -> int:
    """The bit of the engine's padded layout of frame index ``index``: the inverse of
    `frame_index_of_bit`."""
    return int(SQUARE_BITS[board_square(index, side) - 1])


@njit(inline="always", cache=True)
def frame_direction(d: int, side: int) -> int:
    """A real direction (0..3) in the frame of the side to move, and back (its own inverse)."""
    return d if side == 0 else d ^ 2


@njit(inline="always", cache=True)
def action(index: int, direction: int) -> int:
    """The action of a frame square index and a frame direction."""
    return DIRECTIONS * index + direction
