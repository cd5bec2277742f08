"""Perft against the published counts (tests/data/perft.tsv, copied from shared/reference)."""

from pathlib import Path

import pytest

from kingme.checkers import Board, perft, perft_divide

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
