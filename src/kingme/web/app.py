"""The JSON API and the static page behind `kingme play` (FastAPI; schema at /docs, /openapi.json).

Games live in memory, one id each, at most `max_games` at once (the least recently used one is
dropped to make room). A game holds its line of moves and a cursor into it (`ply`): the board
shows the position after the first `ply` moves; stepping back and forth moves the cursor, a new
move at the cursor cuts the line there. Every request is validated; a bad one is answered with a
4xx status and one line (``{"detail": "..."}``) and changes nothing.

Endpoints are plain ``def`` functions, so FastAPI runs them in its threadpool: a bot thinking
never blocks the event loop. A lock per game serialises requests on the same game.

Safety: the server binds 127.0.0.1 unless told otherwise and runs nothing from a request. A
request may name any built-in player; a `policy:` spec from a request may only name the shipped
model (``policy:default``) or a spec the server was started with (``--opponent``), since loading
a model file is reading (possibly unpickling) a file chosen by whoever sent the request; and a
search without a time limit is capped at `MAX_REQUEST_DEPTH`.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from kingme.arena.commands import LADDER
from kingme.checkers import Board, BoardError, Move
from kingme.checkers.board import DRAW_PLIES, Color
from kingme.checkers.pdn import game_from_board, read_games, write_game
from kingme.common import UserError
from kingme.players import Player, is_interactive, load_player, mix_seed
from kingme.web.analysis import UNIFORM_SOURCE, Analyzer, UniformAnalyzer, analyzer_for

STATIC = Path(__file__).resolve().parent / "static"
FALLBACK_OPPONENT = "alphabeta:4"
MAX_GAMES = 64
MAX_REQUEST_DEPTH = 12  # alphabeta:D from a request without a time limit: D <= this
MAX_SPEC = 200
MAX_FEN = 300
MAX_PDN = 200_000

Side = Literal["black", "white", "both"]


def default_opponent() -> str:
    """``policy:default`` when a shipped model loads, else `FALLBACK_OPPONENT`."""
    try:
        load_player("policy:default")
    except Exception:
        return FALLBACK_OPPONENT
    return "policy:default"


def color_name(c: Color) -> str:
    return "black" if c is Color.BLACK else "white"


def result_reason(board: Board) -> str | None:
    """Why the game on ``board`` is over, in words (None while it is on)."""
    r = board.result()
    if r is None:
        return None
    if r != "1/2-1/2":
        loser = "Black" if board.turn is Color.BLACK else "White"
        winner = "White" if loser == "Black" else "Black"
        return f"{winner} wins: {loser} has no legal move"
    if board.repetitions() >= 3:
        return "Draw: the same position occurred three times"
    return f"Draw: {DRAW_PLIES} plies without a capture or a man move"


# ------------------------------------------------------------------------------------------------
# Requests


class NewGame(BaseModel):
    opponent: str | None = Field(
        None, max_length=MAX_SPEC, description="player spec; default: the server's"
    )
    human: Side = Field(
        "black", description="the side you play; 'both' = analysis (no bot replies)"
    )
    fen: str | None = Field(
        None, max_length=MAX_FEN, description="start from this position (PDN FEN)"
    )
    pdn: str | None = Field(None, max_length=MAX_PDN, description="load this game (its first game)")
    ply: int | None = Field(None, ge=0, description="cursor after loading a PDN (default: its end)")


class MoveRequest(BaseModel):
    move: str = Field(..., max_length=100, description="PDN move text, e.g. 11-15 or 9x18x27")


class GotoRequest(BaseModel):
    ply: int = Field(..., ge=0, description="show the position after this many moves of the line")


class AnalyzeRequest(BaseModel):
    fen: str | None = Field(None, max_length=MAX_FEN, description="a position (PDN FEN)")
    pdn: str | None = Field(None, max_length=MAX_PDN, description="a game: its final position")
    model: str | None = Field(None, max_length=MAX_SPEC, description="a player spec to ask")


# ------------------------------------------------------------------------------------------------
# Games


@dataclass
class GameSession:
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
    seed: int = 0
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
            raise HTTPException(422, f"ply {ply} is not in 0-{len(self.line)}")
        b = self.new_board()
        for m in self.line[:ply]:
            b.push(m)
        self.board, self.ply = b, ply

    def result(self) -> str | None:
        if self.resigned is not None and self.ply == len(self.line):
            return "0-1" if self.resigned is Color.BLACK else "1-0"
        return self.board.result()

    def reason(self) -> str | None:
        if self.resigned is not None and self.ply == len(self.line):
            who = "Black" if self.resigned is Color.BLACK else "White"
            return f"{'White' if who == 'Black' else 'Black'} wins: {who} resigned"
        return result_reason(self.board)

    def push(self, move: Move) -> None:
        """Play ``move`` at the cursor, cutting the line there."""
        del self.line[self.ply :]
        self.line.append(self.board.push(move))
        self.ply += 1
        self.resigned = None
        self.recorded_result = None

    def bot_to_move(self) -> bool:
        return self.play_mode and self.result() is None and self.board.turn is not self.human_color

    def bot_reply(self) -> Move | None:
        """The opponent's move at the cursor, played (None if the game is over)."""
        if self.result() is not None:
            return None
        self.opponent.reseed(mix_seed(self.seed, self.ply))
        m = self.opponent.choose(self.board.copy())
        m = self.board.parse_move(m)  # a buggy player must not corrupt the game
        self.push(m)
        return m

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
        return {
            "id": self.id,
            "opponent": self.opponent_spec,
            "human": self.human,
            "fen": b.fen(),
            "start_fen": start.fen(),
            "start_turn": color_name(start.turn),
            "turn": color_name(b.turn),
            "squares": squares,
            "legal_moves": [
                {"move": str(m), "path": list(m.path), "captures": list(m.captures)} for m in legal
            ],
            "line": [str(m) for m in self.line],
            "ply": self.ply,
            "last_move": {
                "move": str(self.line[self.ply - 1]),
                "path": list(self.line[self.ply - 1].path),
            }
            if self.ply
            else None,
            "reply": str(reply) if reply is not None else None,
            "clock": b.clock,
            "result": over,
            "reason": self.reason(),
            "recorded_result": self.recorded_result,
            "your_turn": over is None and (not self.play_mode or b.turn is self.human_color),
        }


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
                raise HTTPException(404, f"unknown game id {gid!r}")
            self._games.move_to_end(gid)
            return g

    def remove(self, gid: str) -> None:
        with self._lock:
            if self._games.pop(gid, None) is None:
                raise HTTPException(404, f"unknown game id {gid!r}")

    def __len__(self) -> int:
        return len(self._games)


# ------------------------------------------------------------------------------------------------
# The app


def create_app(
    opponent: str | None = None,
    max_games: int = MAX_GAMES,
    trusted_specs: tuple[str, ...] = (),
) -> FastAPI:
    """The web app. ``opponent`` is the default opponent (None: `default_opponent()`);
    ``trusted_specs`` may name model files (the command line's ``--opponent``)."""
    default = opponent or default_opponent()
    trusted = {default, *trusted_specs}
    store = GameStore(max_games)
    analyzers: OrderedDict[str, Analyzer | None] = OrderedDict()
    analyzers_lock = threading.Lock()

    app = FastAPI(
        title="kingme play",
        version="1",
        summary="Play checkers against a kingme player and see what its policy and value think.",
    )
    app.state.store = store
    app.state.default_opponent = default

    @app.exception_handler(RequestValidationError)
    def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        if errs:
            e = errs[0]
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            msg = f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg", "invalid"))
        else:
            msg = "invalid request"
        return JSONResponse({"detail": msg}, status_code=422)

    def check_spec(spec: str) -> str:
        spec = spec.strip()
        if spec in trusted:
            return spec
        tokens = spec.split(":")
        if "policy" in tokens:
            i = tokens.index("policy")
            if i + 1 >= len(tokens) or tokens[i + 1].strip() != "default":
                raise HTTPException(
                    422,
                    f"player {spec!r}: a request may only name policy:default "
                    "or the server's --opponent",
                )
        if "alphabeta" in tokens:
            i = tokens.index("alphabeta")
            rest = tokens[i + 1 : i + 3]
            if rest and rest[0].strip().isdigit() and int(rest[0]) > MAX_REQUEST_DEPTH:
                has_limit = len(rest) == 2 and rest[1].replace(".", "", 1).isdigit()
                if not has_limit:
                    raise HTTPException(
                        422,
                        f"player {spec!r}: depth over {MAX_REQUEST_DEPTH} needs a time limit, "
                        "e.g. alphabeta:20:1000",
                    )
        return spec

    def make_player(spec: str, seed: int) -> Player:
        spec = check_spec(spec)
        try:
            player = load_player(spec, seed)
        except UserError as e:
            raise HTTPException(422, str(e)) from None
        if is_interactive(player):
            raise HTTPException(
                422, f"player {spec!r} reads a terminal; it cannot play in the browser"
            )
        return player

    def analyzer(spec: str) -> Analyzer | None:
        with analyzers_lock:
            if spec in analyzers:
                analyzers.move_to_end(spec)
                return analyzers[spec]
        a = analyzer_for(make_player(spec, 0))
        with analyzers_lock:
            analyzers[spec] = a
            while len(analyzers) > 8:
                analyzers.popitem(last=False)
        return a

    def analyze(board: Board, model: str | None, game: GameSession | None) -> dict[str, Any]:
        a: Analyzer | None = None
        if model:
            a = analyzer(model)
        else:
            if game is not None:
                a = analyzer_for(game.opponent)
            if a is None:
                try:
                    a = analyzer("policy:default")
                except HTTPException:
                    a = None
        if a is None:
            a = UniformAnalyzer(UNIFORM_SOURCE)
        try:
            out = a.analyze(board)
        except ValueError as e:
            raise HTTPException(502, f"analysis failed: {e}") from None
        data = out.to_json()
        data["turn"] = color_name(board.turn)
        data["fen"] = board.fen()
        return data

    def parse_board(fen: str | None, pdn: str | None) -> tuple[str | None, list[Move], str | None]:
        """(start FEN or None, moves, recorded result) from a FEN or a PDN; 422 if bad."""
        if fen is not None and pdn is not None:
            raise HTTPException(422, "give a FEN or a PDN, not both")
        if fen is not None:
            try:
                return Board(fen).fen(), [], None
            except BoardError as e:
                raise HTTPException(422, str(e)) from None
        if pdn is not None:
            try:
                games = read_games(pdn)
            except BoardError as e:
                raise HTTPException(422, f"bad PDN: {e}") from None
            if not games:
                raise HTTPException(422, "bad PDN: no game found")
            g = games[0]
            res = g.result if g.result != "*" else None
            return g.fen, list(g.moves), res
        return None, [], None

    @contextmanager
    def locked(gid: str) -> Iterator[GameSession]:
        g = store.get(gid)
        with g.lock:
            yield g

    # --- pages ----------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/static/index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    # --- API --------------------------------------------------------------------------------

    @app.get("/api/players", summary="The accepted player specs and the default opponent")
    def players() -> dict[str, Any]:
        from kingme.players import player_kinds

        return {
            "default": default,
            "kinds": player_kinds(),
            "suggested": list(LADDER),
        }

    @app.post("/api/games", status_code=201, summary="Start a game (or load a FEN or PDN)")
    def new_game(req: NewGame) -> dict[str, Any]:
        start_fen, moves, recorded = parse_board(req.fen, req.pdn)
        seed = secrets.randbits(63)
        spec = (req.opponent or default).strip() or default
        player = make_player(spec, seed)
        g = GameSession(
            id=secrets.token_urlsafe(9),
            opponent=player,
            opponent_spec=spec,
            human=req.human,
            start_fen=start_fen,
            line=moves,
            seed=seed,
            recorded_result=recorded,
        )
        g.goto(len(moves) if req.ply is None else min(req.ply, len(moves)))
        g.recorded_result = recorded
        reply = g.bot_reply() if not moves and g.bot_to_move() else None
        store.add(g)
        return g.state(reply)

    @app.get("/api/games/{gid}", summary="A game's state")
    def get_game(gid: str) -> dict[str, Any]:
        with locked(gid) as g:
            return g.state()

    @app.delete("/api/games/{gid}", status_code=204, summary="Forget a game")
    def delete_game(gid: str) -> None:
        store.remove(gid)

    @app.post("/api/games/{gid}/move", summary="Play your move; the opponent replies")
    def move(gid: str, req: MoveRequest) -> dict[str, Any]:
        with locked(gid) as g:
            if g.result() is not None:
                raise HTTPException(409, f"the game is over ({g.result()})")
            if g.play_mode and g.board.turn is not g.human_color:
                raise HTTPException(409, "it is not your turn (ask the opponent to reply)")
            try:
                m = g.board.parse_move(req.move)
            except BoardError as e:
                raise HTTPException(422, str(e)) from None
            g.push(m)
            reply = g.bot_reply() if g.bot_to_move() else None
            return g.state(reply)

    @app.post("/api/games/{gid}/reply", summary="Ask the opponent to move now")
    def reply(gid: str) -> dict[str, Any]:
        with locked(gid) as g:
            if g.result() is not None:
                raise HTTPException(409, f"the game is over ({g.result()})")
            return g.state(g.bot_reply())

    @app.post("/api/games/{gid}/undo", summary="Take back your last move (and the reply to it)")
    def undo(gid: str) -> dict[str, Any]:
        with locked(gid) as g:
            if g.resigned is not None and g.ply == len(g.line):
                g.resigned = None
                return g.state()
            if g.ply == 0:
                raise HTTPException(409, "no move to take back")
            del g.line[g.ply :]
            g.goto(g.ply - 1)
            if g.play_mode:
                while g.ply > 0 and g.board.turn is not g.human_color:
                    g.goto(g.ply - 1)
            del g.line[g.ply :]
            g.recorded_result = None
            reply = g.bot_reply() if g.bot_to_move() else None
            return g.state(reply)

    @app.post(
        "/api/games/{gid}/goto", summary="Step through the line: show the position after PLY moves"
    )
    def goto(gid: str, req: GotoRequest) -> dict[str, Any]:
        with locked(gid) as g:
            g.goto(req.ply)
            return g.state()

    @app.post("/api/games/{gid}/resign", summary="Resign the game")
    def resign(gid: str) -> dict[str, Any]:
        with locked(gid) as g:
            if g.result() is not None:
                raise HTTPException(409, f"the game is over ({g.result()})")
            del g.line[g.ply :]
            g.resigned = g.human_color if g.play_mode else g.board.turn
            return g.state()

    @app.get("/api/games/{gid}/pdn", response_class=PlainTextResponse, summary="The game as PDN")
    def pdn(gid: str) -> PlainTextResponse:
        with locked(gid) as g:
            text = g.pdn()
        return PlainTextResponse(
            text, headers={"Content-Disposition": f'attachment; filename="kingme-{gid}.pdn"'}
        )

    @app.get("/api/games/{gid}/analysis", summary="Policy and value at the game's current position")
    def game_analysis(
        gid: str, model: str | None = Query(None, max_length=MAX_SPEC, description="a player spec")
    ) -> dict[str, Any]:
        with locked(gid) as g:
            return analyze(g.board.copy(), model, g)

    @app.post("/api/analysis", summary="Policy and value for a FEN (or a PDN's final position)")
    def analysis(req: AnalyzeRequest) -> dict[str, Any]:
        if req.fen is None and req.pdn is None:
            raise HTTPException(422, "give a fen or a pdn")
        start, moves, _ = parse_board(req.fen, req.pdn)
        board = Board(start) if start else Board()
        for m in moves:
            board.push(m)
        return analyze(board, req.model, None)

    return app
