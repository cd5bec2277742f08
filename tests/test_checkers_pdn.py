"""PDN reading: unclosed comments, variations and tags are errors naming where they start, and
parsing takes time linear in the text's length."""

import contextlib
import gc
import time
from collections.abc import Callable

import pytest

from kingme.checkers import Board, PDNError, game_from_board, read_game, read_games, write_game


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1. 11-15\n  {oops 23-19 2. 8-11", "game 1: unclosed comment '{' at line 2, column 3"),
        ("1. 11-15 23-19 (2. 8-11\n 22-17 {fine} *", "game 1: unclosed variation '(' at line 1, column 16"),
        ("1. 11-15 ((23-19) *", "game 1: unclosed variation '(' at line 1, column 10"),
        ('[Event "x"]\n[Black "y"\n1. 11-15', "game 1: unclosed tag '[' at line 2, column 1"),
        ('[Event "a"]\n1. 11-15 *\n\n[Event "b"]\n1. 11-15 {', "game 2: unclosed comment '{' at line 5, column 10"),
        ("[", "game 1: unclosed tag '[' at line 1, column 1"),
        ("{" * 200_000, "game 1: unclosed comment '{' at line 1, column 1"),
    ],
)
def test_unclosed_comment_variation_or_tag_is_an_error(text: str, message: str) -> None:
    with pytest.raises(PDNError) as err:
        read_games(text)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)
    assert isinstance(err.value, ValueError)


def test_text_of_an_unclosed_comment_is_not_read_as_moves() -> None:
    with pytest.raises(PDNError, match="unclosed comment"):
        read_games("1. 11-15 {23-19")


def test_comments_and_variations_that_close_are_skipped() -> None:
    game = read_game('[Event "e"]\n1. 11-15 {a (b} 23-19 (22-18 {c} (9-14)) ; x {\n2. 8-11 *')
    assert [str(m) for m in game.moves] == ["11-15", "23-19", "8-11"]
    assert game.variations == ["( 22-18 {c} ( 9-14 ) )"]


def test_unbalanced_close_names_where() -> None:
    with pytest.raises(PDNError, match=r"unbalanced '\)' at line 1, column 10"):
        read_games("1. 11-15 ) 23-19")


def test_illegal_move_names_where() -> None:
    with pytest.raises(PDNError, match=r"game 1, move 2 \(line 2, column 4\): illegal move"):
        read_games("1. 11-15\n2. 11-16 *")


def test_tag_values_with_quotes_and_backslashes_round_trip() -> None:
    b = Board()
    b.push("11-15")
    text = write_game(game_from_board(b, Event='The "Open" \\ 2026'))
    assert read_game(text).tags["Event"] == 'The "Open" \\ 2026'


def _best_seconds(fn: Callable[[], object], repeats: int = 3) -> float:
    """Best of a few timings, with the cyclic garbage collector paused (its passes add noise)."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    finally:
        gc.enable()
    return best


def _read_or_error(text: str) -> None:
    with contextlib.suppress(PDNError):
        read_games(text)


def _shuffle_game(chars: int) -> str:
    """A valid game of about ``chars`` characters: two kings walking back and forth."""
    cycle = "1-5 32-28 5-1 28-32 {a note} "
    return '[FEN "B:WK32:BK1"]\n' + cycle * (chars // len(cycle)) + "*"


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "{" * n,  # an unclosed comment: the old reader took 10 s on 200,000 and gave an empty game
        lambda n: "(" * n,
        lambda n: "{} " * (n // 3) + "11-15 *",
        lambda n: "1. 11-15 (" + "(23-19) " * (n // 8) + ") *",
        lambda n: "[" + "x" * n,
    ],
)
def test_parsing_takes_linear_time(make: Callable[[int], str]) -> None:
    # 16 times the input: linear work takes about 16 times as long, quadratic work 256 times. The
    # bound (64) sits between the two with room for a loaded machine's noise in either timing.
    small, large = make(25_000), make(400_000)
    _read_or_error(small)  # warm up
    t_small = _best_seconds(lambda: _read_or_error(small))
    t_large = _best_seconds(lambda: _read_or_error(large))
    assert t_large < 5.0  # the old reader took 10 s on 200,000 '{'
    assert t_large < 64.0 * t_small + 0.05


def test_a_long_valid_game_parses_in_linear_time() -> None:
    small, large = _shuffle_game(12_500), _shuffle_game(100_000)
    moves = len(read_games(large)[0].moves)
    assert moves > 8000
    t_small = _best_seconds(lambda: read_games(small), 2)
    t_large = _best_seconds(lambda: read_games(large), 2)
    assert t_large < 32.0 * t_small + 0.05  # 8 times the input: linear ~8x, quadratic ~64x
