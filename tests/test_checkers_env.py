"""The vectorised environment agrees with the Board API move for move; the bridge between moves,
actions, mid-jump positions and observations round-trips on random positions; the standard
wrappers pass their libraries' checkers; property tests over random games."""

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kingme.checkers import Board, BoardError, Color
from kingme.envs import bridge
from kingme.envs.bridge import (
    NUM_ACTIONS,
    OBS_SHAPE,
    Position,
    actions_to_move,
    after_actions,
    decode_action,
    encode_action,
    legal_path,
    legal_paths,
    move_to_actions,
    observe_board,
    position_from_observation,
)
from kingme.envs.checkers_vec import CheckersVecEnv, random_legal_actions


def _env_position(env: CheckersVecEnv, i: int = 0) -> str:
    return env.fen(i)


def _first_actions(board: Board) -> set[int]:
    return {move_to_actions(m, board.turn)[0] for m in board.legal_moves()}


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_vec_env_and_board_agree_move_for_move(seed: int) -> None:
    rng = np.random.default_rng(seed)
    env = CheckersVecEnv(1, max_plies=10_000)
    board = Board()
    while True:
        legal = board.legal_moves()
        mask_actions = set(np.flatnonzero(env.mask[0]).tolist())
        assert mask_actions == _first_actions(board)
        move = legal[rng.integers(len(legal))]
        side = board.turn
        actions = move_to_actions(move, side)
        board.push(move)
        for k, a in enumerate(actions):
            assert env.mask[0, a]
            step = env.step(np.array([a]))
            if k < len(actions) - 1:
                assert env.side[0] == side and not step.terminated[0]
        result = board.result()
        if result is None:
            assert not (step.terminated[0] or step.truncated[0])
            assert _env_position(env) == board.fen()
            assert env.clock[0] == board.clock
            assert np.allclose(env.obs[0, 5], board.clock / 80)
        else:
            assert step.terminated[0]
            won = result in ("1-0", "0-1")
            assert step.reward[0] == (1.0 if won else 0.0)
            assert env.outcome[0] == (1 if won else 0)
            assert env.acting_side[0] == side
            assert _env_position(env) == Board().fen()  # auto-reset
            return


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 200))
def test_push_then_pop_restores_the_exact_position(seed: int, plies: int) -> None:
    rng = np.random.default_rng(seed)
    board = Board()
    snapshots = []
    for _ in range(plies):
        legal = board.legal_moves()
        if not legal or board.result() is not None:
            break
        snapshots.append((board.fen(), board.clock, board.repetitions()))
        move = legal[rng.integers(len(legal))]
        assert move in board.legal_moves()
        board.push(move)
    while snapshots:
        board.pop()
        assert (board.fen(), board.clock, board.repetitions()) == snapshots.pop()


def test_observation_is_from_the_side_to_move() -> None:
    env = CheckersVecEnv(1)
    obs0 = env.obs[0].copy()
    assert obs0[0, :12].sum() == 12 and obs0[2, 20:].sum() == 12
    env.step(np.array([4 * 10 + 0]))  # Black 11-15: canonical square 11, direction +4
    assert env.side[0] == 1
    # White to move sees its own men on canonical 1-12 as well
    assert env.obs[0, 0, :12].sum() == 12 and env.obs[0, 2].sum() == 12
    assert decode_action(4 * 10, 0) == (11, 0) and decode_action(4 * 10, 1) == (22, 2)


def test_multi_jump_keeps_the_move_and_marks_the_jumper() -> None:
    env = CheckersVecEnv(1)
    # set up Black 14 with White men on 18 and 27 by playing it through the Board helper
    board = Board("B:W18,27,29:B14,1")
    from kingme.checkers.board import bit

    env.black[0], env.white[0], env.kings[0] = bit(14) | bit(1), bit(18) | bit(27) | bit(29), 0
    env.position(0).observe_into(env.obs[0], env.mask[0])
    assert set(np.flatnonzero(env.mask[0])) == _first_actions(board)
    first, second = move_to_actions(board.legal_moves()[0], Color.BLACK)
    env.step(np.array([first]))
    assert env.side[0] == 0 and env.jumping[0] >= 0 and env.obs[0, 4].sum() == 1
    assert np.flatnonzero(env.mask[0]).tolist() == [second]
    env.step(np.array([second]))
    assert env.side[0] == 1 and env.fen(0) == "W:W29:B1,K32"


# ------------------------------------------------------------------------------------------------
# The bridge


def _random_position(seed: int, plies: int) -> Board:
    """A position ``plies`` random moves from the start (fewer if the game ends), as a fresh Board."""
    rng = np.random.default_rng(seed)
    board = Board()
    for _ in range(plies):
        if board.outcome() is not None:
            break
        moves = board.legal_moves()
        board.push(moves[rng.integers(len(moves))])
    return Board(board.fen())  # no history, clock 0: what the env starts from


def _check_round_trip(board: Board) -> int:
    """move -> actions -> move is the identity on every legal move of ``board``, and stepping the
    env with those actions passes through exactly the mid-jump positions and observations that
    `after_actions` gives. Returns the number of multi-jumps among the moves."""
    if board.outcome() is not None:
        return 0
    start = np.array([[board.black, board.white, board.kings, int(board.turn)]], dtype=np.uint64)
    env = CheckersVecEnv(1, starts=start)
    obs, mask = observe_board(board)
    assert np.array_equal(env.obs[0], obs) and np.array_equal(env.mask[0], mask)
    assert env.position(0) == Position.from_board(board)
    assert legal_paths(Position.from_board(board)) == [m.path for m in board.legal_moves()]
    args = (board.black, board.white, board.kings, int(board.turn))
    assert [legal_path(*args, i) for i in range(len(board.legal_moves()))] == [m.path for m in board.legal_moves()]
    with pytest.raises(ValueError, match="legal moves"):
        legal_path(*args, len(board.legal_moves()))
    multi = 0
    for m in board.legal_moves():
        actions = move_to_actions(m, board.turn)
        assert len(actions) == len(m.path) - 1
        multi += len(actions) > 1
        assert actions_to_move(board, actions) == m
        assert move_to_actions(m.path, board.turn) == actions  # a path works as well as a Move
        env.reset()
        for k, a in enumerate(actions):
            pos = after_actions(board, m, k)
            assert env.position(0) == pos
            o, msk = pos.observe()
            assert np.array_equal(env.obs[0], o) and np.array_equal(env.mask[0], msk)
            assert position_from_observation(o, pos.side) == pos
            assert env.mask[0, a]
            env.step(np.array([a]))
        after = board.copy()
        after.push(m)
        if not (env.terminated[0] or env.truncated[0]):
            assert env.fen(0) == after.fen() and env.side[0] == int(after.turn)
    return multi


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 120))
def test_bridge_round_trips_on_random_positions(seed: int, plies: int) -> None:
    _check_round_trip(_random_position(seed, plies))


def test_bridge_round_trips_along_whole_games_with_multi_jumps() -> None:
    multi = 0
    for seed in range(8):  # every position of 8 random games
        rng = np.random.default_rng(seed)
        board = Board()
        while board.outcome() is None and len(board.move_stack) < 300:
            multi += _check_round_trip(Board(board.fen()))
            moves = board.legal_moves()
            board.push(moves[rng.integers(len(moves))])
    assert multi >= 5  # random games reach multi-jumps; each was checked action by action


def test_bridge_on_a_multi_jump_by_hand() -> None:
    board = Board("B:W18,27:B14,1")
    (m,) = [m for m in board.legal_moves() if m.from_square == 14]
    assert str(m) == "14x23x32"
    first, second = move_to_actions(m, Color.BLACK)
    (sq1, d1), (sq2, d2) = decode_action(first, Color.BLACK), decode_action(second, Color.BLACK)
    assert (sq1, sq2) == (14, 23) and {d1, d2} <= {0, 1}  # both jumps forward, from 14 then from 23
    mid = after_actions(board, m, 1)
    assert mid.side == Color.BLACK and mid.fen() == "B:W27:B1,23" and mid.jumping >= 0
    obs, mask = mid.observe()
    assert obs.shape == OBS_SHAPE and mask.shape == (NUM_ACTIONS,)
    assert obs[4].sum() == 1 and np.flatnonzero(mask).tolist() == [second]
    with pytest.raises(BoardError, match="play no legal move"):
        actions_to_move(board, [first])  # half a move is not a move
    with pytest.raises(ValueError):
        mid.board()
    with pytest.raises(ValueError):
        after_actions(board, m, 2)  # the move is over after its last jump


def test_actions_are_in_the_side_to_move_frame() -> None:
    for side in (Color.BLACK, Color.WHITE):
        for sq in range(1, 33):
            for d in range(4):
                a = encode_action(sq, d, side)
                assert 0 <= a < NUM_ACTIONS and decode_action(a, side) == (sq, d)
    # White's 22-18 is the mirror of Black's 11-15: the same action
    assert move_to_actions((22, 18), Color.WHITE) == move_to_actions((11, 15), Color.BLACK)


def test_bridge_doctests() -> None:
    assert doctest.testmod(bridge).failed == 0


def test_illegal_action_is_rejected_without_changing_any_game() -> None:
    env = CheckersVecEnv(3)
    before = env.obs.copy()
    actions = np.array([4 * 10, 0, 4 * 10])  # action 0 (square 1 forward) is illegal at the start
    try:
        env.step(actions)
        raise AssertionError("expected a ValueError")
    except ValueError as e:
        assert "game 1" in str(e)
    assert np.array_equal(env.obs, before) and (env.side == 0).all()


def test_random_games_in_lockstep_end_and_reset() -> None:
    env = CheckersVecEnv(64, max_plies=50)
    rng = np.array([7], dtype=np.uint64)
    act = np.zeros(64, dtype=np.int64)
    ended = 0
    for _ in range(400):
        random_legal_actions(env.mask, rng, act)
        step = env.step(act)
        ended += int((step.terminated | step.truncated).sum())
        assert env.mask.any(axis=1).all()  # every live game has a legal action
    assert ended > 64


def test_gymnasium_check_env_passes() -> None:
    from gymnasium.utils.env_checker import check_env

    from kingme.envs.checkers_gym import CheckersGymEnv

    check_env(CheckersGymEnv(), skip_render_check=True)


def test_gym_env_plays_to_the_end_against_random() -> None:
    from kingme.envs.checkers_gym import CheckersGymEnv

    env = CheckersGymEnv(agent_color="white")
    obs, info = env.reset(seed=3)
    rng = np.random.default_rng(0)
    total = 0.0
    for _ in range(2000):
        a = int(rng.choice(np.flatnonzero(info["action_mask"])))
        assert np.array_equal(env.action_masks(), info["action_mask"])
        obs, r, term, trunc, info = env.step(a)
        total += r
        if term or trunc:
            break
    assert term or trunc
    assert total in (-1.0, 0.0, 1.0)


def test_pettingzoo_api_test_passes() -> None:
    from pettingzoo.test import api_test

    from kingme.envs.checkers_gym import make_aec_env

    api_test(make_aec_env(), num_cycles=200, verbose_progress=False)
