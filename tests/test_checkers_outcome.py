"""`Board.outcome()` (each termination, its precedence, its words) and `Board.peek()`."""

import pytest

from kingme.checkers import DRAW_PLIES, Board, BoardError, Color, Outcome, Termination


def test_game_on_has_no_outcome() -> None:
    b = Board()
    assert b.outcome() is None and b.result() is None and not b.is_game_over() and b.winner() is None


def test_no_moves_loses() -> None:
    out = Board("W:W:B1").outcome()
    assert out == Outcome(Termination.NO_MOVES, Color.BLACK)
    assert out.result == "1-0" and out.describe() == "Black wins: White has no legal move"
    out = Board("B:W29,30:B").outcome()
    assert out == Outcome(Termination.NO_MOVES, Color.WHITE)
    assert out.result == "0-1" and out.describe() == "White wins: Black has no legal move"
    blocked = Board("W:W29:B25,22")
    assert blocked.outcome() == Outcome(Termination.NO_MOVES, Color.BLACK)
    assert blocked.winner() is Color.BLACK and blocked.is_game_over()


def test_draw_rule() -> None:
    b = Board("B:WK29:BK4")
    b.clock = DRAW_PLIES - 1
    assert b.outcome() is None
    b.push(b.legal_moves()[0])
    out = b.outcome()
    assert out == Outcome(Termination.DRAW_RULE, None)
    assert out.result == "1/2-1/2" and b.result() == "1/2-1/2" and b.winner() is None
    assert out.describe() == "Draw: 80 plies without a capture or a man move"


def _repeat_three_times(b: Board) -> None:
    for _ in range(2):
        for m in ("1-5", "32-28", "5-1", "28-32"):
            assert b.outcome() is None
            b.push(m)


def test_repetition() -> None:
    b = Board("B:WK32:BK1")
    _repeat_three_times(b)
    out = b.outcome()
    assert out == Outcome(Termination.REPETITION, None)
    assert out.result == "1/2-1/2" and out.describe() == "Draw: the same position occurred three times"


def test_precedence_no_moves_then_draw_rule_then_repetition() -> None:
    b = Board("B:WK32:BK1")
    b.clock = DRAW_PLIES - 8
    _repeat_three_times(b)
    assert b.clock >= DRAW_PLIES and b.repetitions() == 3
    assert b.outcome() == Outcome(Termination.DRAW_RULE, None)
    stuck = Board("W:W29:B25,22")
    stuck.clock = DRAW_PLIES
    assert stuck.outcome() == Outcome(Termination.NO_MOVES, Color.BLACK)


def test_termination_values_are_the_arena_words() -> None:
    assert [t.value for t in Termination] == ["no moves", "80-ply rule", "threefold repetition"]
    assert Termination.NO_MOVES == "no moves"


def test_peek() -> None:
    b = Board()
    with pytest.raises(BoardError):
        b.peek()
    m = b.push("11-15")
    assert b.peek() == m and b.move_stack == [m]
    b.push("22-18")
    assert str(b.peek()) == "22-18"
    b.pop()
    assert b.peek() == m
