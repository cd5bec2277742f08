"""PDN games: write a game with its tags and result; read games from this project or elsewhere.

Results follow the English-checkers PDN habit of naming the first player (Black) first:
`1-0` or `2-0` Black won, `0-1` or `0-2` White won, `1/2-1/2` or `1-1` drawn, `*` unfinished.
Reading skips comments `{...}` and `;` to end of line, move numbers (`1.`, `1...`), annotation
marks (`!`, `?`, `$n`) and variations `(...)` (kept as text in `Game.variations`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kingme.checkers.board import START_FEN_CANONICAL, Board, BoardError, Move

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


def write_game(game: Game, width: int = 79) -> str:
    """PDN text of one game: seven-tag roster, FEN when needed, numbered movetext, result."""
    tags = {"Event": "?", "Site": "?", "Date": "????.??.??", "Round": "?", "Black": "?", "White": "?"}
    tags.update(game.tags)
    tags["Result"] = game.result
    tags.setdefault("GameType", "21")
    lines = [f'[{k} "{v}"]' for k, v in tags.items()]
    start = Board(game.fen) if game.fen else Board()
    white_first = start.turn == 1
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


_TAG_RE = re.compile(r'^\s*\[\s*(\w+)\s+"((?:[^"\\]|\\.)*)"\s*\]\s*$')
_TOKEN_RE = re.compile(r"\{[^}]*\}|;[^\n]*|\(|\)|[^\s(){};]+")
_MOVENUM_RE = re.compile(r"^\d+\.+$")
_NUM_PREFIX_RE = re.compile(r"^(\d+)\.+(.+)$")


def read_games(text: str) -> list[Game]:
    """Parse every game in a PDN text; PDNError naming the game and the problem if one is bad."""
    games: list[Game] = []
    tags: dict[str, str] = {}
    movetext: list[str] = []
    in_moves = False

    def flush() -> None:
        nonlocal tags, movetext, in_moves
        if tags or "".join(movetext).strip():
            games.append(_parse_game(tags, "\n".join(movetext), len(games) + 1))
        tags, movetext, in_moves = {}, [], False

    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[%"):
            if in_moves:
                flush()
            m = _TAG_RE.match(stripped)
            if not m:
                raise PDNError(f"game {len(games) + 1}, line {lineno}: malformed tag {stripped!r}")
            tags[m.group(1)] = m.group(2).replace('\\"', '"')
        elif stripped:
            in_moves = True
            movetext.append(line)
    flush()
    return games


def _parse_game(tags: dict[str, str], movetext: str, number: int) -> Game:
    fen = tags.get("FEN")
    try:
        board = Board(fen) if fen else Board()
    except BoardError as e:
        raise PDNError(f"game {number}: bad FEN tag: {e}") from None
    game = Game(tags=dict(tags), result=RESULTS.get(tags.get("Result", "*"), "*"))
    depth = 0
    var_buf: list[str] = []
    for tok in _TOKEN_RE.findall(movetext):
        if tok == "(":
            depth += 1
            var_buf.append(tok)
            continue
        if tok == ")":
            if depth == 0:
                raise PDNError(f"game {number}: unbalanced ')' in movetext")
            depth -= 1
            var_buf.append(tok)
            if depth == 0:
                game.variations.append(" ".join(var_buf))
                var_buf = []
            continue
        if depth > 0:
            var_buf.append(tok)
            continue
        if tok.startswith("{") or tok.startswith(";") or tok.startswith("$") or _MOVENUM_RE.match(tok):
            continue
        if tok in RESULTS:
            game.result = RESULTS[tok]
            continue
        m = _NUM_PREFIX_RE.match(tok)
        if m:
            tok = m.group(2)
        tok = tok.rstrip("!?*+")
        if not tok:
            continue
        try:
            game.moves.append(board.push(tok))
        except BoardError as e:
            raise PDNError(f"game {number}, move {len(game.moves) + 1}: {e}") from None
    if depth:
        raise PDNError(f"game {number}: unclosed '(' in movetext")
    return game


def read_game(text: str) -> Game:
    games = read_games(text)
    if len(games) != 1:
        raise PDNError(f"expected one game, found {len(games)}")
    return games[0]
