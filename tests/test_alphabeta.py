"""The compiled alpha-beta search: same values as plain minimax, forced wins, ties, clock."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kingme.arena.openings import acf_openings
from kingme.checkers import Board, Color, core
from kingme.players.alphabeta import MATE, MAX_PLY, Searcher, evaluate

# ------------------------------------------------------------------------------------------------
# A plain minimax with the same leaf rules (capture extension, mate scores, evaluation), written
# independently of the compiled search: recursion, fresh buffers, no pruning, no ordering.


def minimax(
    P: int, O: int, K: int, side: int, depth: int, ply: int = 0, leaf: Callable[[int, int, int, int], int] | None = None
) -> int:
    """The value to ``depth``; ``leaf(P, O, K, side)`` scores quiet leaves (default `evaluate`)."""
    children = np.empty((core.MAX_MOVES, 3), dtype=np.uint64)
    paths = np.empty((core.MAX_MOVES, core.MAX_PATH), dtype=np.int64)
    plens = np.empty(core.MAX_MOVES, dtype=np.int64)
    u = np.uint64
    n = core.generate(u(P), u(O), u(K), side, children, paths, plens)
    if n == 0:
        return -(MATE - ply)
    capture = core.jumpers(u(P), u(O), u(K), side) != 0
    if (depth <= 0 and not capture) or ply >= MAX_PLY:
        return int(evaluate(u(P), u(O), u(K), side)) if leaf is None else leaf(P, O, K, side)
    rows = [(int(c[0]), int(c[1]), int(c[2])) for c in children[:n]]
    return max(-minimax(o, p, k, 1 - side, depth - 1, ply + 1, leaf) for p, o, k in rows)


def pov(board: Board) -> tuple[int, int, int, int]:
    """(P, O, K, side) of a board from the side to move."""
    side = int(board.turn)
    P, O = (board.black, board.white) if side == 0 else (board.white, board.black)
    return P, O, board.kings, side


def random_position(seed: int, plies: int) -> Board:
    """A position reached by random moves from a random ACF opening."""
    rng = np.random.default_rng(seed)
    openings = acf_openings()
    board = openings[int(rng.integers(len(openings)))].board()
    for _ in range(plies):
        moves = board.legal_moves()
        if not moves or board.result() is not None:
            break
        board.push(moves[int(rng.integers(len(moves)))])
    return board


def root_values(board: Board, depth: int) -> list[int]:
    """Minimax value of each legal move (in legal_moves order), from the mover's view."""
    out = []
    for m in board.legal_moves():
        board.push(m)
        P, O, K, side = pov(board)
        out.append(-minimax(P, O, K, side, depth - 1, 1))
        board.pop()
    return out


SEARCHER = Searcher(0)


# ------------------------------------------------------------------------------------------------
# Values


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), plies=st.integers(0, 90), depth=st.integers(1, 4))
def test_alphabeta_value_equals_minimax(seed: int, plies: int, depth: int) -> None:
    board = random_position(seed, plies)
    if not board.legal_moves():
        return
    P, O, K, side = pov(board)
    assert SEARCHER.value(board.black, board.white, K, side, depth) == minimax(P, O, K, side, depth)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), plies=st.integers(0, 90), depth=st.integers(1, 4))
def test_root_search_score_and_move_match_minimax(seed: int, plies: int, depth: int) -> None:
    board = random_position(seed, plies)
    if len(board.legal_moves()) < 2:
        return
    values = root_values(board, depth)
    best = max(values)
    r = SEARCHER.search(board.black, board.white, board.kings, int(board.turn), depth)
    assert r.score == best
    assert values[r.index] == best
    assert r.depth <= depth and not r.aborted


def test_ties_are_broken_by_the_seed_over_exactly_the_best_moves() -> None:
    # the start position: several first moves tie at shallow depth
    board = Board()
    for depth in (1, 2, 3):
        values = root_values(board, depth)
        tied = {i for i, v in enumerate(values) if v == max(values)}
        chosen = set()
        for seed in range(200):
            s = Searcher(seed)
            chosen.add(s.search(board.black, board.white, board.kings, 0, depth).index)
        assert chosen == tied, (depth, values)
    # and the same seed always gives the same move
    picks = {Searcher(7).search(board.black, board.white, board.kings, 0, 3).index for _ in range(5)}
    assert len(picks) == 1


def mirror_fen(fen: str) -> str:
    """The same position seen from the other side: square s -> 33 - s, colours swapped."""
    board = Board(fen)

    def side(color: Color, prefix: str) -> str:
        kings = set(board.pieces(color, king=True))
        sqs = [("K" if s in kings else "") + str(33 - s) for s in board.pieces(color)]
        return prefix + ",".join(sqs)

    turn = "W" if board.turn == Color.BLACK else "B"
    return f"{turn}:{side(Color.BLACK, 'W')}:{side(Color.WHITE, 'B')}"


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), plies=st.integers(0, 90))
def test_evaluation_and_search_are_colour_symmetric(seed: int, plies: int) -> None:
    board = random_position(seed, plies)
    if not board.legal_moves():
        return
    mirrored = Board(mirror_fen(board.fen()))
    assert evaluate(*map(np.uint64, pov(board)[:3]), pov(board)[3]) == evaluate(
        *map(np.uint64, pov(mirrored)[:3]), pov(mirrored)[3]
    )
    a = SEARCHER.value(board.black, board.white, board.kings, int(board.turn), 3)
    b = SEARCHER.value(mirrored.black, mirrored.white, mirrored.kings, int(mirrored.turn), 3)
    assert a == b


# ------------------------------------------------------------------------------------------------
# Forced wins, checked by hand (lines in the comments; squares in standard numbering, Black moves
# towards 32). Each is also played from White's side by mirroring the board.

FORCED_WINS = [
    # win in 1: 18-22 leaves White's edge man on 29 with 25 occupied and the jump to 22 blocked
    ("B:W29:B18,25", "18-22", 1),
    # win in 3: 28-32 crowns; White's only man must go 27-23 (19x26) or 27-24 (19x28)
    ("B:W27:B19,28", "28-32", 3),
    # win in 3: 25-30 crowns and frees 25; 29-25 is White's only move, then 30x21
    ("B:W29:B25,27", "25-30", 3),
    # win in 3: 14-17; if 25-22 then 17x26, if 25-21 then 10-14 and White's man cannot move
    ("B:W25:B10,14", "14-17", 3),
    # win in 5: 15-19 forces 23x16 (captures are compulsory), 12x19, then 29-25 (forced), 22x29
    ("B:W23,29:B12,15,22", "15-19", 5),
]


def mirror_move(move: str) -> str:
    sep = "x" if "x" in move else "-"
    return sep.join(str(33 - int(s)) for s in move.split(sep))


@pytest.mark.parametrize("fen,move,plies", FORCED_WINS)
@pytest.mark.parametrize("mirrored", [False, True])
def test_finds_forced_wins(fen: str, move: str, plies: int, mirrored: bool) -> None:
    if mirrored:
        fen, move = mirror_fen(fen), mirror_move(move)
    board = Board(fen)
    for depth in (plies, plies + 2, 8):
        for seed in range(3):
            r = Searcher(seed).search(board.black, board.white, board.kings, int(board.turn), depth)
            assert str(board.legal_moves()[r.index]) == move
            assert r.score == MATE - plies  # the fastest win, with its length
    # the independent minimax agrees that this move, and only it, wins that fast
    values = root_values(board, plies)
    assert [str(m) for m, v in zip(board.legal_moves(), values) if v == MATE - plies] == [move]


def test_lost_position_scores_the_longest_defence() -> None:
    # White to move after 15-19 in the 5-ply win: 23x16 is forced, and the loss comes at ply 4
    board = Board("B:W23,29:B12,15,22")
    board.push("15-19")
    r = Searcher(0).search(board.black, board.white, board.kings, int(board.turn), 6)
    assert str(board.legal_moves()[r.index]) == "23x16"
    assert r.score == -(MATE - 4)


def test_no_legal_move_and_forced_move() -> None:
    from kingme.players.simple import AlphaBetaPlayer

    blocked = Board("B:W29,30:B25")  # Black's only man cannot move: Black has lost
    assert blocked.legal_moves() == []
    r = Searcher(0).search(blocked.black, blocked.white, blocked.kings, 0, 4)
    assert (r.index, r.score) == (-1, -MATE)
    forced = Board("B:W18:B14")  # 14x23 is the only legal move, played without a search
    player = AlphaBetaPlayer(6)
    assert str(player.choose(forced)) == "14x23"
    assert player.last is not None and player.last.nodes == 0


# ------------------------------------------------------------------------------------------------
# Clock


def test_time_limit_stops_the_search() -> None:
    board = random_position(3, 20)
    s = Searcher(0)
    t = time.perf_counter()
    r = s.search(board.black, board.white, board.kings, int(board.turn), 40, time_limit_ms=30)
    elapsed = time.perf_counter() - t
    assert r.aborted and 1 <= r.depth < 40
    assert 0 <= r.index < len(board.legal_moves())
    assert elapsed < 0.5  # 30 ms asked; the clock is read every 1024 nodes
