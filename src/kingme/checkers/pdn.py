"""PDN games: write a game with its tags and result; read games from this project or elsewhere.

Results follow the English-checkers PDN habit of naming the first player (Black) first:
`1-0` or `2-0` Black won, `0-1` or `0-2` White won, `1/2-1/2` or `1-1` drawn, `*` unfinished.
Reading skips comments `{...}` and `;` to end of line, move numbers (`1.`, `1...`), annotation
marks (`!`, `?`, `$n`) and variations `(...)` (kept as text in `Game.variations`). It reads the
text once, left to right; an unclosed comment, variation or tag is a `PDNError` naming where it
starts.

    >>> game = read_game('[Black "Ann"]\\n1. 11-15 {the Old Fourteenth} 23-19 (22-18) 2. 8-11 *')
    >>> game.tags["Black"], game.moves, game.variations
    ('Ann', [Move('11-15'), Move('23-19'), Move('8-11')], ['( 22-18 )'])
    >>> read_games("1. 11-15 {never closed 23-19")
    Traceback (most recent call last):
    ...
    kingme.checkers.pdn.PDNError: game 1: unclosed comment '{' at line 1, column 10
    >>> print(write_game(game))  # doctest: +NORMALIZE_WHITESPACE
    [Event "?"]
    [Site "?"]
    [Date "????.??.??"]
    [Round "?"]
    [Black "Ann"]
    [White "?"]
    [Result "*"]
    [GameType "21"]
    <BLANKLINE>
    1. 11-15 23-19 2. 8-11 *
    <BLANKLINE>
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from kingme.checkers.board import START_FEN_CANONICAL, Board, BoardError, Color, Move

RESULTS = {"1-0": "1-0", "2-0": "1-0", "0-1": "0-1", "0-2": "0-1", "1/2-1/2": "1/2-1/2", "1-1": "1/2-1/2", "*": "*"}


class PDNError(BoardError):
    """A PDN text that cannot be read (with the game number and what is wrong)."""


@dataclass
class Game:
    tags: dict[str, str] = field(default_factory=dict)
    moves: list[Move] = field(default_factory=list)
    result: str = "*"
    variations: list[str] = field(default_factory=list)

    @property
    def fen(self) -> str | None:
        return self.tags.get("FEN")

    def board(self, upto: int | None = None) -> Board:
        """The position after the first `upto` moves (all by default)."""
        b = Board(self.fen) if self.fen else Board()
        for m in self.moves[: len(self.moves) if upto is None else upto]:
            b.push(m)
        return b


def game_from_board(board: Board, result: str | None = None, **tags: str) -> Game:
    """A Game holding `board`'s history (from its starting position)."""
    start = board.starting_fen
    replay = Board(start) if start != START_FEN_CANONICAL else Board()
    moves = []
    for m in board.move_stack:
        moves.append(replay.push(m))
    res = result or board.result() or "*"
    t = dict(tags)
    if start != START_FEN_CANONICAL:
        t.setdefault("SetUp", "1")
        t["FEN"] = start
    return Game(tags=t, moves=moves, result=res)


def _escape(value: str) -> str:
    """A tag value with its backslashes and quotes escaped (as the reader undoes)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def write_game(game: Game, width: int = 79) -> str:
    """PDN text of one game: seven-tag roster, FEN when needed, numbered movetext, result."""
    tags = {"Event": "?", "Site": "?", "Date": "????.??.??", "Round": "?", "Black": "?", "White": "?"}
    tags.update(game.tags)
    tags["Result"] = game.result
    tags.setdefault("GameType", "21")
    lines = [f'[{k} "{_escape(v)}"]' for k, v in tags.items()]
    start = Board(game.fen) if game.fen else Board()
    white_first = start.turn is Color.WHITE
    tokens: list[str] = []
    num = 1
    for i, m in enumerate(game.moves):
        black_move = (i % 2 == 0) != white_first
        if i == 0 and white_first:
            tokens.append(f"{num}...")
        elif black_move:
            tokens.append(f"{num}.")
        tokens.append(str(m))
        if not black_move:
            num += 1
    tokens.append(game.result)
    body, line = [], ""
    for tok in tokens:
        if line and len(line) + 1 + len(tok) > width:
            body.append(line)
            line = tok
        else:
            line = f"{line} {tok}" if line else tok
    body.append(line)
    return "\n".join(lines) + "\n\n" + "\n".join(body) + "\n"


_SYMBOL_RE = re.compile(r"[^\s(){};\[]+")  # one character class: linear, no backtracking
_SPACE_RE = re.compile(r"\s+")
_TAG_NAME_RE = re.compile(r"\[[ \t]*(\w+)[ \t]*")
_TAG_END_RE = re.compile(r"[ \t]*\]")
_MOVENUM_RE = re.compile(r"\d+\.+")
_NUM_PREFIX_RE = re.compile(r"(\d+)\.+(.+)")


def _where(text: str, pos: int) -> str:
    """`line L, column C` (both from 1) of offset ``pos``."""
    line = text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    return f"line {line}, column {column}"


class _Token(NamedTuple):
    kind: str  # "tag", "open", "close", "comment", "symbol"
    text: str  # the token's text (for a tag: its value)
    pos: int  # offset of its first character
    name: str = ""  # a tag's name


def _tokens(text: str) -> Iterator[_Token]:
    """Split a PDN text into tokens in one left-to-right pass (each character is read once).

    Comments ``{...}`` may span lines; ``;`` runs to the end of the line; a tag ``[Name "value"]``
    closes on its own line; ``[%...]`` commands are skipped like comments. An unclosed comment,
    tag or command raises PDNError naming the line and column where it starts.
    """
    pos, n = 0, len(text)
    while pos < n:
        c = text[pos]
        if c.isspace():
            m = _SPACE_RE.match(text, pos)
            assert m is not None
            pos = m.end()
        elif c == "{":
            end = text.find("}", pos + 1)
            if end < 0:
                raise PDNError(f"unclosed comment '{{' at {_where(text, pos)}")
            yield _Token("comment", text[pos : end + 1], pos)
            pos = end + 1
        elif c == ";":
            end = text.find("\n", pos)
            end = n if end < 0 else end
            yield _Token("comment", text[pos:end], pos)
            pos = end
        elif c == "(" or c == ")":
            yield _Token("open" if c == "(" else "close", c, pos)
            pos += 1
        elif c == "[":
            pos = yield from _tag(text, pos)
        else:  # "}" or a symbol
            m = _SYMBOL_RE.match(text, pos)
            end = m.end() if m else pos + 1
            yield _Token("symbol", text[pos:end], pos)
            pos = end


def _tag(text: str, pos: int) -> Generator[_Token, None, int]:
    """Read the tag (or ``[%...]`` command) starting at ``pos``; return the offset after it."""
    eol = text.find("\n", pos)
    eol = len(text) if eol < 0 else eol
    if text.startswith("[%", pos):
        end = text.find("]", pos, eol)
        if end < 0:
            raise PDNError(f"unclosed command '[%' at {_where(text, pos)} (no ']' on its line)")
        return end + 1
    line = text[pos:eol].strip()
    m = _TAG_NAME_RE.match(text, pos, eol)
    if not m or not text.startswith('"', m.end()):
        if text.find("]", pos, eol) < 0:
            raise PDNError(f"unclosed tag '[' at {_where(text, pos)} (no ']' on its line)")
        raise PDNError(f'malformed tag {line!r} at {_where(text, pos)}: expected [Name "value"]')
    i = m.end() + 1
    value: list[str] = []
    while True:  # the quoted value, with \" and \\ escapes
        j = i
        while j < eol and text[j] != '"' and text[j] != "\\":
            j += 1
        value.append(text[i:j])
        if j >= eol:
            raise PDNError(f"malformed tag {line!r} at {_where(text, pos)}: its value's quote is not closed")
        if text[j] == '"':
            break
        value.append(text[j + 1 : j + 2] if j + 1 < eol else "")
        i = j + 2
    close = _TAG_END_RE.match(text, j + 1, eol)
    if not close:
        if text.find("]", j + 1, eol) < 0:
            raise PDNError(f"unclosed tag '[' at {_where(text, pos)} (no ']' on its line)")
        raise PDNError(f'malformed tag {line!r} at {_where(text, pos)}: expected [Name "value"]')
    yield _Token("tag", "".join(value), pos, m.group(1))
    return close.end()


def read_games(text: str) -> list[Game]:
    """Parse every game in a PDN text, in time linear in its length.

    A game is its tags, then its movetext; a tag after movetext starts the next game. PDNError
    (a ValueError) names the game and the problem: an illegal move, a bad FEN tag, an unclosed
    comment, variation or tag (with the line and column where it starts).
    """
    games: list[Game] = []
    reader: _GameReader | None = None
    tokens = _tokens(text)
    while True:
        try:
            tok = next(tokens)
        except StopIteration:
            break
        except PDNError as e:
            raise PDNError(f"game {len(games) + 1}: {e}") from None
        if tok.kind == "tag":
            if reader is not None and reader.in_moves:
                games.append(reader.finish())
                reader = None
            if reader is None:
                reader = _GameReader(text, len(games) + 1)
            reader.tags[tok.name] = tok.text
            continue
        if reader is None:
            reader = _GameReader(text, len(games) + 1)
        reader.feed(tok)
    if reader is not None:
        games.append(reader.finish())
    return games


class _GameReader:
    """One game's tags and movetext, read token by token."""

    def __init__(self, text: str, number: int) -> None:
        self.text, self.number = text, number
        self.tags: dict[str, str] = {}
        self.in_moves = False
        self.board: Board | None = None
        self.game = Game()
        self.opened: list[int] = []  # offsets of the open variations' '('
        self.var_buf: list[str] = []

    def _start_moves(self) -> Board:
        self.in_moves = True
        fen = self.tags.get("FEN")
        try:
            self.board = Board(fen) if fen else Board()
        except BoardError as e:
            raise PDNError(f"game {self.number}: bad FEN tag: {e}") from None
        self.game = Game(tags=dict(self.tags), result=RESULTS.get(self.tags.get("Result", "*"), "*"))
        return self.board

    def feed(self, tok: _Token) -> None:
        board = self.board if self.board is not None else self._start_moves()
        if tok.kind == "open":
            self.opened.append(tok.pos)
            self.var_buf.append(tok.text)
            return
        if tok.kind == "close":
            if not self.opened:
                raise PDNError(f"game {self.number}: unbalanced ')' at {_where(self.text, tok.pos)}")
            self.opened.pop()
            self.var_buf.append(tok.text)
            if not self.opened:
                self.game.variations.append(" ".join(self.var_buf))
                self.var_buf = []
            return
        if self.opened:
            self.var_buf.append(tok.text)
            return
        sym = tok.text
        if tok.kind == "comment" or sym.startswith("$") or _MOVENUM_RE.fullmatch(sym):
            return
        if sym in RESULTS:
            self.game.result = RESULTS[sym]
            return
        m = _NUM_PREFIX_RE.fullmatch(sym)
        if m:
            sym = m.group(2)
        sym = sym.rstrip("!?*+")
        if not sym:
            return
        try:
            self.game.moves.append(board.push(sym))
        except BoardError as e:
            where = _where(self.text, tok.pos)
            raise PDNError(f"game {self.number}, move {len(self.game.moves) + 1} ({where}): {e}") from None

    def finish(self) -> Game:
        if self.board is None:
            self._start_moves()
        if self.opened:
            raise PDNError(f"game {self.number}: unclosed variation '(' at {_where(self.text, self.opened[0])}")
        return self.game


def read_game(text: str) -> Game:
    games = read_games(text)
    if len(games) != 1:
        raise PDNError(f"expected one game, found {len(games)}")
    return games[0]
