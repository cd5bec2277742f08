"""Perft against the published counts (tests/data/perft.tsv, copied from shared/reference)."""

from pathlib import Path

import numpy as np
import pytest

from kingme.checkers import Board, Color, core, perft, perft_divide

REF = {
    int(d): int(n)
    for d, n in (
        line.split("\t")
        for line in (Path(__file__).parent / "data" / "perft.tsv").read_text().splitlines()
        if line and not line.startswith("#") and not line.startswith("depth")
    )
}


@pytest.mark.parametrize("depth", range(1, 10))
def test_perft_start_position(depth: int) -> None:
    assert perft(Board(), depth) == REF[depth]


@pytest.mark.parametrize("depth", range(1, 8))
def test_perft_without_bulk_counting_agrees(depth: int) -> None:
    assert perft(Board(), depth, bulk=False) == REF[depth]


@pytest.mark.slow
@pytest.mark.parametrize("depth", [10, 11])
def test_perft_deep(depth: int) -> None:
    assert perft(Board(), depth) == REF[depth]


def test_ring_capture_counts_both_directions() -> None:
    board = Board("W:WK2:B6,7,14,15")
    moves = sorted(str(m) for m in board.legal_moves())
    assert moves == ["2x11x18x9x2", "2x9x18x11x2"]
    assert perft(board, 1) == 2
    for m in board.legal_moves():
        assert sorted(m.captures) == [6, 7, 14, 15]


def test_divide_sums_to_perft() -> None:
    div = perft_divide(Board(), 4)
    assert sum(div.values()) == REF[4]
    assert set(div) == {"9-13", "9-14", "10-14", "10-15", "11-15", "11-16", "12-16"}


def _reference_perft(board: Board, depth: int) -> int:
    """Perft through the typed Board (push/pop), independent of the compiled perft walk."""
    if depth == 0:
        return 1
    total = 0
    for m in board.legal_moves():
        board.push(m)
        total += _reference_perft(board, depth - 1)
        board.pop()
    return total


@pytest.mark.parametrize(
    "fen",
    ["W:WK2:B6,7,14,15", "B:W18,27,K30:B14,K1", "W:W21,22,23,K5:BK25,K26,10,11", "B:W6,7,K15,K16:B24,K28"],
)
@pytest.mark.parametrize("bulk", [True, False])
def test_perft_from_positions_with_kings_and_captures(fen: str, bulk: bool) -> None:
    for depth in range(5):
        assert perft(Board(fen), depth, bulk=bulk) == _reference_perft(Board(fen), depth)


def test_generate_children_matches_generate() -> None:
    rng = np.random.default_rng(0)
    children = np.empty((core.MAX_MOVES, 3), dtype=np.uint64)
    full = np.empty((core.MAX_MOVES, 3), dtype=np.uint64)
    paths = np.empty((core.MAX_MOVES, core.MAX_PATH), dtype=np.int64)
    plens = np.empty(core.MAX_MOVES, dtype=np.int64)
    positions = 0
    for _ in range(15):
        board = Board()
        while not board.is_game_over() and len(board.move_stack) < 120:
            P, O = (board.black, board.white) if board.turn is Color.BLACK else (board.white, board.black)
            args = (np.uint64(P), np.uint64(O), np.uint64(board.kings), int(board.turn))
            n = core.generate_children(*args, children)
            m = core.generate(*args, full, paths, plens)
            assert n == m == core.count_moves(*args, full, paths, plens)
            assert sorted(map(tuple, children[:n].tolist())) == sorted(map(tuple, full[:m].tolist()))
            positions += 1
            moves = board.legal_moves()
            board.push(moves[int(rng.integers(len(moves)))])
    assert positions > 800


def test_bulk_counting_matches_generation_in_random_positions() -> None:
    """The last ply's count (men's single jumps by popcount, the rest walked) against the moves
    generated, in positions from random games (kings, multi-jumps and crowning among them)."""
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(30):
        board = Board()
        while not board.is_game_over() and len(board.move_stack) < 150:
            for depth in (1, 2, 3):
                assert perft(board, depth, bulk=True) == perft(board, depth, bulk=False)
            checked += 1
            moves = board.legal_moves()
            board.push(moves[int(rng.integers(len(moves)))])
    assert checked > 1500
