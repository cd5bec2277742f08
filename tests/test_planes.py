"""The side-to-move frame and the observation planes (`kingme.envs.planes`), the one definition
that the environment, the bridge, the searches and the evaluation network read."""

from __future__ import annotations

import numpy as np

from kingme.checkers import Board
from kingme.checkers.core import SQUARE_BITS
from kingme.envs import planes
from kingme.envs.bridge import Position, decode_action, encode_action
from kingme.players.evalnet import features


def test_frame_is_a_rotation_and_board_square_its_inverse() -> None:
    for side in (0, 1):
        idx = [planes.frame_index(sq, side) for sq in range(1, 33)]
        assert sorted(idx) == list(range(32))
        assert all(planes.board_square(planes.frame_index(sq, side), side) == sq for sq in range(1, 33))
        for i in range(32):
            b = planes.bit_of_frame_index(i, side)
            assert planes.frame_index_of_bit(b, side) == i
    assert planes.frame_index(1, 0) == 0 and planes.frame_index(32, 1) == 0  # each side's own back corner
    assert planes.bit_of_frame_index(0, 1) == SQUARE_BITS[31]


def test_actions_round_trip_through_the_bridge() -> None:
    assert planes.NUM_ACTIONS == 128 and planes.OBS_SHAPE == (6, 32)
    for side in (0, 1):
        for sq in range(1, 33):
            for d in range(4):
                a = encode_action(sq, d, side)
                assert a == planes.action(planes.frame_index(sq, side), planes.frame_direction(d, side))
                assert decode_action(a, side) == (sq, d)


def test_evaluation_features_are_the_observations_piece_planes() -> None:
    for fen in ("B:W18,K27,30:BK14,1,5", "W:WK3,18,27:B14,K22,1"):
        board = Board(fen)
        obs, _ = Position.from_board(board).observe()
        P, O = (board.black, board.white) if board.turn == 0 else (board.white, board.black)
        out = np.zeros(planes.PIECE_FEATURES, dtype=np.float32)
        features(np.uint64(P), np.uint64(O), np.uint64(board.kings), int(board.turn), out)
        assert np.array_equal(out, obs[: planes.PIECE_PLANES].reshape(-1))  # (4, 32) -> (128,)
