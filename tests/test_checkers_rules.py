"""One test per rule of American checkers, FEN and PDN round trips, and bad input."""

import pytest

from kingme.checkers import Board, BoardError, Color, PDNError, game_from_board, read_games, write_game


def moves(fen: str) -> list[str]:
    return sorted(str(m) for m in Board(fen).legal_moves())


def test_start_position() -> None:
    b = Board()
    assert b.turn is Color.BLACK
    assert b.pieces(Color.BLACK) == list(range(1, 13))
    assert b.pieces(Color.WHITE) == list(range(21, 33))
    assert sorted(map(str, b.legal_moves())) == ["10-14", "10-15", "11-15", "11-16", "12-16", "9-13", "9-14"]


def test_men_move_forward_only() -> None:
    assert moves("B:W32:B14") == ["14-17", "14-18"]
    assert moves("W:W18:B1") == ["18-14", "18-15"]


def test_kings_move_both_ways() -> None:
    assert moves("B:W32:BK14") == ["14-10", "14-17", "14-18", "14-9"]


def test_capture_is_compulsory() -> None:
    # black man on 14 can capture 18; the quiet moves of the man on 1 are not allowed
    assert moves("B:W18:B1,14") == ["14x23"]


def test_multi_jump_continues() -> None:
    assert moves("B:W18,27:B14") == ["14x23x32"]


def test_men_never_capture_backwards() -> None:
    # the white man on 10 sits behind the black man on 14 (Black moves towards 32)
    assert moves("B:W10:B14") == ["14-17", "14-18"]
    # a king does capture backwards
    assert moves("B:W10:BK14") == ["14x7"]


def test_crowning_ends_the_move() -> None:
    # black man jumps 19 -> 26... lands on 28? use 24x31: it crowns on 31 and may not continue over 27
    b = Board("B:W27,28:B24")
    assert [str(m) for m in b.legal_moves()] == ["24x31"]
    b.push("24x31")
    assert b.piece_at(31) is not None and b.piece_at(31).king
    assert b.turn is Color.WHITE  # the move ended even though the new king could jump 27


def test_side_without_moves_loses() -> None:
    assert Board("W:W:B1").result() == "1-0"
    assert Board("B:W29,30:B").result() == "0-1"
    # blocked: white man on 29 cannot move (black pieces on 25 and 22 behind it)
    b = Board("W:W29:B25,22")
    assert b.legal_moves() == [] and b.result() == "1-0"


def test_eighty_ply_rule_alone() -> None:
    b = Board("B:WK29:BK4")
    b.clock = 79
    assert b.result() is None
    b.push(b.legal_moves()[0])
    assert b.clock == 80 and b.repetitions() == 1
    assert b.result() == "1/2-1/2"


def test_man_move_or_capture_resets_the_clock() -> None:
    b = Board("B:WK29,21:BK4,9")
    b.push("4-8")
    assert b.clock == 1
    b.push("29-25")
    assert b.clock == 2
    b.push("9-13")  # a man move
    assert b.clock == 0


def test_threefold_repetition() -> None:
    b = Board("B:WK32:BK1")
    for _ in range(2):
        for m in ("1-5", "32-28", "5-1", "28-32"):
            assert b.result() is None
            b.push(m)
    assert b.repetitions() == 3
    assert b.result() == "1/2-1/2"


def test_push_pop_restores_everything() -> None:
    b = Board()
    before = (b.fen(), b.clock, b.repetitions())
    b.push("11-15")
    b.push("22-18")
    b.push("15x22")
    b.pop()
    b.pop()
    b.pop()
    assert (b.fen(), b.clock, b.repetitions()) == before
    assert b.move_stack == []


def test_illegal_and_malformed_moves_leave_the_board_unchanged() -> None:
    b = Board()
    fen = b.fen()
    for text in ["11-16x", "11-17", "33-29", "abc", "", "21-17"]:
        with pytest.raises(BoardError):
            b.push(text)
        assert b.fen() == fen and b.move_stack == []


def test_short_capture_notation_and_ambiguity() -> None:
    b = Board("B:W18,27:B14")
    assert str(b.push("14x32")) == "14x23x32"
    ring = Board("W:WK2:B6,7,14,15")
    with pytest.raises(BoardError, match="ambiguous"):
        ring.push("2x2")


def test_fen_round_trip_and_ranges() -> None:
    b = Board("W:W21-24,K30:B1-3,K9")
    assert b.fen() == "W:W21,22,23,24,K30:B1,2,3,K9"
    assert Board(b.fen()) == b
    assert Board("B:W21-32:B1-12") == Board()


@pytest.mark.parametrize(
    "fen",
    [
        "",
        "B",
        "B:W21",
        "X:W21:B1",
        "B:W21:W22",
        "B:W21:B1,1",
        "B:W21:B0",
        "B:W21:B5-3",
        "B:W21:Bx",
        "B:W21:B29",
        "B:W1:B9",
        "B:W21,K:B1",
    ],
)
def test_malformed_fen_is_rejected(fen: str) -> None:
    with pytest.raises(BoardError):
        Board(fen)


def test_pdn_round_trip_with_fen() -> None:
    b = Board("W:W21,22,K30:B1,2,K9")
    for _ in range(6):
        b.push(b.legal_moves()[0])
    text = write_game(game_from_board(b, Black="a", White="b"))
    assert '[FEN "W:W21,22,K30:B1,2,K9"]' in text and "1..." in text
    game = read_games(text)[0]
    assert game.board() == b and [str(m) for m in game.moves] == [str(m) for m in b.move_stack]


def test_pdn_from_other_programs() -> None:
    text = """
[Event "Club"]
[Black "Smith, A"]
[White "Jones, B"]
[Result "2-0"]

1. 11-15 {the Old Fourteenth starts} 23-19 2. 8-11 22-17 (2... 22-18 15x22) 3. 9-13 17-14
4. 10x17 ; a comment to end of line
4... 21x14 5. 4-8! $1 19x10 2-0

[Result "1-1"]
1. 11-15 23-19 1-1
"""
    g1, g2 = read_games(text)
    assert g1.result == "1-0" and g1.tags["Black"] == "Smith, A"
    assert [str(m) for m in g1.moves][:4] == ["11-15", "23-19", "8-11", "22-17"]
    assert len(g1.moves) == 10 and str(g1.moves[6]) == "10x17"
    assert g1.variations == ["( 2... 22-18 15x22 )"]
    assert g2.result == "1/2-1/2" and len(g2.moves) == 2


def test_corrupt_pdn_names_the_problem() -> None:
    with pytest.raises(PDNError, match="game 1, move 2"):
        read_games("1. 11-15 11-16 *")
    with pytest.raises(PDNError, match="malformed tag"):
        read_games('[Event "x]\n1. 11-15')
    with pytest.raises(PDNError, match="FEN"):
        read_games('[FEN "nonsense"]\n1. 11-15')
    with pytest.raises(PDNError, match="unclosed"):
        read_games("1. 11-15 (23-19")


def test_ascii_and_svg() -> None:
    b = Board()
    art = str(b).splitlines()
    assert art[0].split() == ["b"] * 4 and art[7].split() == ["w"] * 4 and art[8] == "Black to move"
    svg = b._repr_svg_()
    assert svg.startswith("<svg") and svg.count("<circle") == 24
