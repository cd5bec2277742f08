"""Games in memory, as plain domain code: no web framework here.

`Games` is everything the page can ask for: start a game (from the start, a FEN or a PDN), play
a human move, ask the engine for a move, undo, step through the line, resign, export the PDN,
analyse a position. Each method returns the game's state as a JSON-ready dict or raises a
`GameError` with a one-line message; the web layer (`kingme.web.app`) maps each error class to
one HTTP status and adds nothing else.

A game holds its line of moves and a cursor into it (`ply`): the board shows the position after
the first `ply` moves; moving the cursor steps through the game, and a new move at the cursor
cuts the line there.

Concurrency: a lock per game guards its state and is only ever held for a moment. An engine move
is three steps: under the lock the game is marked *thinking* and its board copied; the search
runs with no lock held; under the lock again the move is played. While a game is thinking, reads
of it (state, PDN, analysis) are answered at once and writes are refused (`Conflict`, "the
engine is thinking"), so no request waits on another's search.

Limits on what a request may name (`request_spec`), decided from the registry's parsed spec:
- a search without a time limit may go `MAX_UNTIMED_DEPTH` plies deep; a time limit may be at
  most `MAX_MOVE_MS` ms (then any depth the registry accepts): no request searches for long (the
  registry itself refuses non-finite and absurd numbers, a time limit under 1 ms among them);
- no model file (only built-in names such as ``policy:default``): loading a file named by
  whoever sent the request would read, perhaps unpickle, any file on the machine;
- no player that reads a terminal (``human``);
- the same rules for the inner player of ``mix:EPS:SPEC``.
Specs the server was started with (``kingme play --opponent SPEC``) are trusted as they are.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kingme.checkers import Board, BoardError, Color, Move
from kingme.checkers.pdn import game_from_board, read_games, write_game
from kingme.common import UserError, mix_seed
from kingme.players import Player, PlayerSpec, is_interactive, load_player, parse_spec
from kingme.players.limits import Stopped, current
from kingme.web.analysis import UNIFORM_SOURCE, Analysis, Analyzer, SearchAnalyzer, UniformAnalyzer, analyzer_for
from kingme.web.perfect import PerfectPlay

FALLBACK_OPPONENT = "alphabeta:4"  # the default opponent when the shipped model does not load
# suggested first: the strongest kingme player (the search with the distilled critic, 100 ms a move;
# docs/arena.md) and the raw shipped policy
STRONGEST = ("search:default::100", "policy:default")
MAX_GAMES = 64
MAX_UNTIMED_DEPTH = 10  # a request's search without a time limit: depth <= this (about 1 s worst)
MAX_MOVE_MS = 2000.0  # a request's per-move time limit: at most this many milliseconds
MAX_ANALYZERS = 8  # analyzers (loaded models) kept by spec

Side = Literal["black", "white", "both"]


# ------------------------------------------------------------------------------------------------
# Errors: one class per kind of refusal (the web layer gives each one HTTP status)


class GameError(Exception):
    """A request the games cannot honour; the message is one line and nothing was changed."""


class UnknownGame(GameError):
    """No game has this id (never created, deleted, or dropped to make room)."""


class Conflict(GameError):
    """Not now: the game is over, it is not your turn, or the engine is thinking."""


class BadRequest(GameError):
    """Malformed or refused input: a move, a FEN, a PDN, a ply, a player spec."""


class EngineFailed(GameError):
    """The player or the analyzer failed (a bug in it, not in the request)."""


def request_spec(text: str, trusted: Collection[str] = ()) -> PlayerSpec:
    """``text`` parsed, if a request may name it (see the module docstring); else `BadRequest`."""
    try:
        spec = parse_spec(text)
    except UserError as e:
        raise BadRequest(str(e)) from None
    if spec.text in trusted:
        return spec
    why = refusal(spec, trusted)
    if why:
        raise BadRequest(f"player {spec.text!r}: {why}")
    return spec


def refusal(spec: PlayerSpec, trusted: Collection[str] = ()) -> str | None:
    """Why a request may not name ``spec`` (None if it may), recursing into ``mix``'s inner."""
    if spec.text in trusted:
        return None
    if spec.interactive:
        return "it reads a terminal; it cannot play in the browser"
    if spec.path is not None:
        return "a request may not name a model file (only policy:default or the server's --opponent)"
    if spec.ms is not None and spec.ms > MAX_MOVE_MS:
        return f"a request's time limit is at most {MAX_MOVE_MS:g} ms per move"
    if spec.depth is not None and spec.ms is None and spec.depth > MAX_UNTIMED_DEPTH:
        return (
            f"a search deeper than {MAX_UNTIMED_DEPTH} plies needs a time limit of at most "
            f"{MAX_MOVE_MS:g} ms, e.g. alphabeta:20:1000"
        )
    if spec.inner is not None:
        return refusal(spec.inner, trusted)
    return None


def default_opponent() -> str:
    """``policy:default`` when the shipped model loads, else `FALLBACK_OPPONENT`."""
    try:
        load_player("policy:default")
    except Exception:
        return FALLBACK_OPPONENT
    return "policy:default"


def warm_up(egdb: Path | None = None) -> None:
    """Pay the process's one-time costs before the first request does: importing torch, loading
    the shipped model, compiling the searches, opening the endgame database in ``egdb`` (None: its
    default folder) if it is built (seconds, more than a request's budget)."""
    PerfectPlay(egdb).warm_up()
    board = Board()
    for spec in ("alphabeta:2", "policy:default", "search:policy:default:2"):
        try:
            player = load_player(spec)
            player.choose(board.copy())
            analyzer = analyzer_for(player)
            if analyzer is not None:
                analyzer.analyze(board)
        except Exception:  # a model that does not load: requests will say so
            continue


def color_name(c: Color) -> str:
    return "black" if c is Color.BLACK else "white"


def parse_position(fen: str | None, pdn: str | None) -> tuple[str | None, list[Move], str | None, dict[str, str]]:
    """(start FEN or None for the standard start, moves, recorded result, the PDN's tags but
    those the position and result make: Result, FEN, SetUp) from a FEN or a PDN."""
    if fen is not None and pdn is not None:
        raise BadRequest("give a FEN or a PDN, not both")
    if fen is not None:
        try:
            return Board(fen).fen(), [], None, {}
        except BoardError as e:
            raise BadRequest(str(e)) from None
    if pdn is not None:
        try:
            games = read_games(pdn)
        except BoardError as e:  # PDNError included: it names the line and column
            raise BadRequest(f"bad PDN: {e}") from None
        if not games:
            raise BadRequest("bad PDN: no game found")
        g = games[0]
        tags = {k: v for k, v in g.tags.items() if k not in DERIVED_TAGS}
        return g.fen, list(g.moves), (g.result if g.result != "*" else None), tags
    return None, [], None, {}


DERIVED_TAGS = frozenset({"Result", "FEN", "SetUp"})  # written from the game itself on export


# ------------------------------------------------------------------------------------------------
# One game


@dataclass
class GameSession:
    """One game: its players, its line of moves and the cursor. Guard every use with `lock`."""

    id: str
    opponent: Player
    opponent_spec: str
    human: Side
    start_fen: str | None  # None = the standard start
    line: list[Move] = field(default_factory=list)
    ply: int = 0
    board: Board = field(default_factory=Board)
    resigned: Color | None = None
    recorded_result: str | None = None  # the Result of a loaded PDN
    tags: dict[str, str] = field(default_factory=dict)  # a loaded PDN's tags, kept on export
    seed: int = 0
    thinking: bool = False  # an engine move is being searched (writes are refused meanwhile)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def play_mode(self) -> bool:
        return self.human != "both"

    @property
    def human_color(self) -> Color | None:
        return {"black": Color.BLACK, "white": Color.WHITE}.get(self.human)

    def new_board(self) -> Board:
        return Board(self.start_fen) if self.start_fen else Board()

    def goto(self, ply: int) -> None:
        if not 0 <= ply <= len(self.line):
            raise BadRequest(f"ply {ply} is not in 0-{len(self.line)}")
        b = self.new_board()
        for m in self.line[:ply]:
            b.push(m)
        self.board, self.ply = b, ply

    def resigned_here(self) -> bool:
        return self.resigned is not None and self.ply == len(self.line)

    def result(self) -> str | None:
        if self.resigned_here():
            return "0-1" if self.resigned is Color.BLACK else "1-0"
        return self.board.result()

    def reason(self) -> str | None:
        if self.resigned is not None and self.resigned_here():
            return f"{self.resigned.other.title} wins: {self.resigned.title} resigned"
        outcome = self.board.outcome()
        return outcome.describe() if outcome is not None else None

    def push(self, move: Move) -> None:
        """Play ``move`` at the cursor, cutting the line there."""
        del self.line[self.ply :]
        self.line.append(self.board.push(move))
        self.ply += 1
        self.resigned = None
        self.recorded_result = None

    def bot_to_move(self) -> bool:
        return self.play_mode and self.result() is None and self.board.turn is not self.human_color

    # --- checks before a write -------------------------------------------------------------

    def require_idle(self) -> None:
        if self.thinking:
            raise Conflict("the engine is thinking; wait for its move")

    def require_on(self) -> None:
        over = self.result()
        if over is not None:
            raise Conflict(f"the game is over ({over})")

    # --- an engine move in three steps: begin (locked), search (unlocked), end (locked) ----

    def begin_search(self) -> Board:
        """Mark the game thinking and return a copy of the board to search (lock held)."""
        self.require_idle()
        self.thinking = True
        self.opponent.reseed(mix_seed(self.seed, self.ply))
        return self.board.copy()

    def pdn(self) -> str:
        full = self.new_board()
        for m in self.line:
            full.push(m)
        res = full.result() or "*"
        if self.resigned is not None:
            res = "0-1" if self.resigned is Color.BLACK else "1-0"
        elif res == "*" and self.recorded_result:
            res = self.recorded_result
        names = {"black": "?", "white": "?"}
        if self.play_mode:
            names[self.human] = "human"
            names["white" if self.human == "black" else "black"] = self.opponent_spec
        tags = {"Event": "kingme play", "Black": names["black"], "White": names["white"]}
        tags.update(self.tags)  # a loaded game's own tags win
        return write_game(game_from_board(full, result=res, **tags))

    def state(self, reply: Move | None = None) -> dict[str, Any]:
        b = self.board
        squares: dict[str, str] = {}
        for sq in range(1, 33):
            p = b.piece_at(sq)
            if p is not None:
                squares[str(sq)] = p.symbol()
        over = self.result()
        legal = [] if over else b.legal_moves()
        start = self.new_board()
        last = self.line[self.ply - 1] if self.ply else None
        return {
            "id": self.id,
            "opponent": self.opponent_spec,
            "human": self.human,
            "fen": b.fen(),
            "start_fen": start.fen(),
            "start_turn": color_name(start.turn),
            "turn": color_name(b.turn),
            "squares": squares,
            "legal_moves": [{"move": str(m), "path": list(m.path), "captures": list(m.captures)} for m in legal],
            "line": [str(m) for m in self.line],
            "ply": self.ply,
            "last_move": {"move": str(last), "path": list(last.path)} if last else None,
            "reply": str(reply) if reply is not None else None,
            "clock": b.clock,
            "result": over,
            "reason": self.reason(),
            "recorded_result": self.recorded_result,
            "thinking": self.thinking,
            "your_turn": not self.thinking and over is None and (not self.play_mode or b.turn is self.human_color),
        }


class OneAtATime:
    """An analyzer that serves one request at a time: a search keeps state between its calls (its
    last result, its tables), so two threads must not share it. A request waits for it at most
    its budget's remaining time (`kingme.players.limits.current`), then is `Stopped`."""

    def __init__(self, inner: Analyzer) -> None:
        self.inner = inner
        self.source = inner.source
        self._lock = threading.Lock()

    def analyze(self, board: Board) -> Analysis:
        limit = current()
        wait = threading.TIMEOUT_MAX if limit is None else min(limit.remaining(), threading.TIMEOUT_MAX)
        if not self._lock.acquire(timeout=max(wait, 0.0)):
            raise Stopped(f"{self.source} was busy with another request for this request's whole budget")
        try:
            return self.inner.analyze(board)
        finally:
            self._lock.release()


class GameStore:
    """At most ``cap`` games by id; the least recently used one goes when a new one comes."""

    def __init__(self, cap: int = MAX_GAMES) -> None:
        self.cap = cap
        self._games: OrderedDict[str, GameSession] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, game: GameSession) -> None:
        with self._lock:
            while len(self._games) >= self.cap:
                self._games.popitem(last=False)
            self._games[game.id] = game

    def get(self, gid: str) -> GameSession:
        with self._lock:
            g = self._games.get(gid)
            if g is None:
                raise UnknownGame(f"unknown game id {gid!r}")
            self._games.move_to_end(gid)
            return g

    def remove(self, gid: str) -> None:
        with self._lock:
            if self._games.pop(gid, None) is None:
                raise UnknownGame(f"unknown game id {gid!r}")

    def __len__(self) -> int:
        return len(self._games)


# ------------------------------------------------------------------------------------------------
# All games: what the page can ask for


class Games:
    """The games of one server. ``default`` is the default opponent's spec (None:
    `default_opponent()`); ``trusted`` specs (the command line's ``--opponent``) skip the request
    limits. ``egdb`` is the endgame database's folder (None: its default folder), opened at the
    first analysis (`PerfectPlay`). Every method may raise a `GameError`; the others are bugs."""

    def __init__(
        self,
        default: str | None = None,
        max_games: int = MAX_GAMES,
        trusted: Collection[str] = (),
        egdb: Path | None = None,
    ) -> None:
        self.default = (default or default_opponent()).strip()
        self.perfect = PerfectPlay(egdb)
        self.trusted = frozenset({self.default, *(s.strip() for s in trusted)})
        self.store = GameStore(max_games)
        self._analyzers: OrderedDict[str, Analyzer | None] = OrderedDict()
        self._analyzers_lock = threading.Lock()

    # --- players ----------------------------------------------------------------------------

    def make_player(self, text: str, seed: int) -> Player:
        spec = request_spec(text, self.trusted)
        try:
            player = load_player(spec.text, seed)
        except UserError as e:
            raise BadRequest(str(e)) from None
        if is_interactive(player):
            raise BadRequest(f"player {spec.text!r} reads a terminal; it cannot play in the browser")
        return player

    def players(self) -> dict[str, Any]:
        """The accepted spec forms, suggested opponents (the strongest kingme player, the shipped
        policy, the ladder), the default, the limits."""
        from kingme.arena.ladder import LADDER
        from kingme.players import player_kinds

        return {
            "default": self.default,
            "kinds": player_kinds(),
            "suggested": [*STRONGEST, *LADDER],
            "limits": {"max_untimed_depth": MAX_UNTIMED_DEPTH, "max_move_ms": MAX_MOVE_MS},
        }

    # --- games ------------------------------------------------------------------------------

    def new_game(
        self,
        opponent: str | None = None,
        human: Side = "black",
        fen: str | None = None,
        pdn: str | None = None,
        ply: int | None = None,
    ) -> dict[str, Any]:
        """A new game (from a FEN, or a PDN with the cursor at ``ply``, default its end); the
        engine moves first if it is its turn at the start."""
        if human not in ("black", "white", "both"):
            raise BadRequest(f"human must be black, white or both, not {human!r}")
        if ply is not None and ply < 0:
            raise BadRequest(f"ply must be >= 0, not {ply}")
        start_fen, moves, recorded, tags = parse_position(fen, pdn)
        seed = secrets.randbits(63)
        spec = (opponent or "").strip() or self.default
        g = GameSession(
            id=secrets.token_urlsafe(9),
            opponent=self.make_player(spec, seed),
            opponent_spec=spec,
            human=human,
            start_fen=start_fen,
            line=moves,
            seed=seed,
            tags=tags,
        )
        g.goto(len(moves) if ply is None else min(ply, len(moves)))
        g.recorded_result = recorded
        self.store.add(g)
        with g.lock:
            if moves or not g.bot_to_move():
                return g.state()
            board = g.begin_search()
        return self._search_and_play(g, board)

    def state(self, gid: str) -> dict[str, Any]:
        g = self.store.get(gid)
        with g.lock:
            return g.state()

    def delete(self, gid: str) -> None:
        self.store.remove(gid)

    def opponent_spec(self, gid: str) -> str:
        """The spec of a game's opponent (what its engine moves and default analysis run)."""
        g = self.store.get(gid)
        with g.lock:
            return g.opponent_spec

    def set_opponent(self, gid: str, text: str) -> dict[str, Any]:
        """In analysis mode, the player the engine-move button asks from now on; in a game
        against the engine the opponent is fixed (`Conflict`: start a new game)."""
        g = self.store.get(gid)
        spec = text.strip() or self.default
        with g.lock:
            g.require_idle()
            if g.play_mode:
                raise Conflict("the opponent of a game is fixed: start a new game to play another")
            seed = g.seed
        player = self.make_player(spec, seed)  # loading may take a moment: no lock held
        with g.lock:
            g.require_idle()
            g.opponent, g.opponent_spec = player, spec
            return g.state()

    def move(self, gid: str, text: str) -> dict[str, Any]:
        """Play the human's move; the engine replies if it is then its turn."""
        g = self.store.get(gid)
        with g.lock:
            g.require_idle()
            g.require_on()
            if g.play_mode and g.board.turn is not g.human_color:
                raise Conflict("it is not your turn (ask the engine to move)")
            try:
                m = g.board.parse_move(text)
            except BoardError as e:
                raise BadRequest(str(e)) from None
            g.push(m)
            if not g.bot_to_move():
                return g.state()
            board = g.begin_search()
        return self._search_and_play(g, board)

    def engine_move(self, gid: str) -> dict[str, Any]:
        """The engine moves in the position shown: on its own turn, or for either side in
        analysis mode. On the human's turn of a game against it: `Conflict`."""
        g = self.store.get(gid)
        with g.lock:
            g.require_idle()
            g.require_on()
            if g.play_mode and g.board.turn is g.human_color:
                raise Conflict("it is your turn: play a move (the engine moves on its own turn)")
            board = g.begin_search()
        return self._search_and_play(g, board)

    def undo(self, gid: str) -> dict[str, Any]:
        """Take back the human's last move and the reply to it (one ply in analysis mode);
        after a resignation, withdraw it."""
        g = self.store.get(gid)
        with g.lock:
            g.require_idle()
            if g.resigned_here():
                g.resigned = None
                return g.state()
            if g.ply == 0:
                raise Conflict("no move to take back")
            del g.line[g.ply :]
            g.goto(g.ply - 1)
            if g.play_mode:
                while g.ply > 0 and g.board.turn is not g.human_color:
                    g.goto(g.ply - 1)
            del g.line[g.ply :]
            g.recorded_result = None
            if not g.bot_to_move():
                return g.state()
            board = g.begin_search()
        return self._search_and_play(g, board)

    def goto(self, gid: str, ply: int) -> dict[str, Any]:
        g = self.store.get(gid)
        with g.lock:
            g.require_idle()
            g.goto(ply)
            return g.state()

    def resign(self, gid: str) -> dict[str, Any]:
        """The human resigns (in analysis mode: the side to move)."""
        g = self.store.get(gid)
        with g.lock:
            g.require_idle()
            g.require_on()
            del g.line[g.ply :]
            g.resigned = g.human_color if g.play_mode else g.board.turn
            return g.state()

    def pdn(self, gid: str) -> str:
        g = self.store.get(gid)
        with g.lock:
            return g.pdn()

    def _search_and_play(self, g: GameSession, board: Board) -> dict[str, Any]:
        """Search ``board`` (a copy) with no lock held, then play the move (the game is
        `thinking` meanwhile, so nothing else changed it)."""
        try:
            m = board.parse_move(g.opponent.choose(board))  # a buggy player cannot corrupt a game
        except Stopped:  # cut by the request's cost bound: the web layer says why
            with g.lock:
                g.thinking = False
            raise
        except Exception as e:
            with g.lock:
                g.thinking = False
            raise EngineFailed(f"{g.opponent_spec} failed to move: {e}") from None
        with g.lock:
            g.thinking = False
            g.push(m)
            return g.state(m)

    # --- analysis ---------------------------------------------------------------------------

    def analyzer(self, spec: str) -> Analyzer | None:
        """The analyzer of ``spec``, loaded once and kept (`MAX_ANALYZERS`), used by one request at
        a time (`OneAtATime`)."""
        with self._analyzers_lock:
            if spec in self._analyzers:
                self._analyzers.move_to_end(spec)
                return self._analyzers[spec]
        found = analyzer_for(self.make_player(spec, 0))
        a = None if found is None else OneAtATime(found)
        with self._analyzers_lock:
            self._analyzers[spec] = a
            while len(self._analyzers) > MAX_ANALYZERS:
                self._analyzers.popitem(last=False)
        return a

    def analyze_board(self, board: Board, model: str | None = None, opponent: str | None = None) -> dict[str, Any]:
        """The analysis of ``board`` by ``model``; without one, by the ``opponent`` spec if it is a
        policy, else ``policy:default`` if it loads, else the uniform fallback. The analyzer is
        a copy of its own, never the game's player (which may be searching its move). With the
        true result from the endgame database (``perfect``, None where it does not cover the
        position or there is none)."""
        a: Analyzer | None = None
        if model:
            a = self.analyzer(model.strip())
        else:
            if opponent is not None:  # the opponent's own view, if it has a policy
                a = self.analyzer(opponent)
                if isinstance(a, OneAtATime) and isinstance(a.inner, SearchAnalyzer):
                    a = None  # a bare search bot: policy:default's probabilities say more
            if a is None:
                try:
                    a = self.analyzer("policy:default")
                except GameError:
                    a = None
        if a is None:
            a = UniformAnalyzer(UNIFORM_SOURCE)
        try:
            out = a.analyze(board)
        except ValueError as e:
            raise EngineFailed(f"analysis failed: {e}") from None
        data = out.to_json()
        data["turn"] = color_name(board.turn)
        data["fen"] = board.fen()
        data["perfect"] = self.perfect.judge(board)
        return data

    def analysis(self, gid: str, model: str | None = None) -> dict[str, Any]:
        """The analysis of a game's current position (answered while the engine thinks)."""
        g = self.store.get(gid)
        with g.lock:
            board, opponent, resigned = g.board.copy(), g.opponent_spec, g.resigned_here()
            over = g.result()
        if resigned:  # the board has moves left, but the game is over: nothing to estimate
            data = Analysis([], None, f"none: the game is over ({over}, resigned)", policy=False).to_json()
            return data | {"turn": color_name(board.turn), "fen": board.fen(), "perfect": None}
        return self.analyze_board(board, model, opponent)

    def analyze_position(
        self, fen: str | None = None, pdn: str | None = None, model: str | None = None
    ) -> dict[str, Any]:
        """The analysis of a FEN, or of a PDN game's final position."""
        if fen is None and pdn is None:
            raise BadRequest("give a fen or a pdn")
        start, moves, _, _ = parse_position(fen, pdn)
        board = Board(start) if start else Board()
        for m in moves:
            board.push(m)
        return self.analyze_board(board, model)
