"""The HTTP layer of `kingme play`: FastAPI routes over `kingme.web.sessions.Games`, one error
mapping, the static page and a local API page.

Each route validates its body (pydantic), calls one `Games` method and returns its JSON. The
domain raises `GameError`s; `STATUS` maps each class to one HTTP status and the answer is always
one line, ``{"detail": "..."}``; a malformed body is 422 the same way. The schema is at
``/openapi.json``; ``/docs`` is a small page served from here (no CDN) that lists the endpoints
and links the schema.

The routes that can make an engine move (new game, move, engine move, undo) run the domain call
in a daemon thread of its own and await it: the event loop is never blocked, a search is never
waited for when the server stops (`SHUTDOWN_GRACE_S`), and it never keeps the process alive.
The other routes are plain ``def`` (FastAPI's threadpool); none waits on a search.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
)
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from kingme.web.sessions import (
    FALLBACK_OPPONENT,
    MAX_GAMES,
    MAX_MOVE_MS,
    MAX_UNTIMED_DEPTH,
    BadRequest,
    Conflict,
    EngineFailed,
    GameError,
    Games,
    Side,
    UnknownGame,
)

__all__ = ["FALLBACK_OPPONENT", "STATUS", "create_app"]

STATIC = Path(__file__).resolve().parent / "static"
MAX_SPEC = 200
MAX_FEN = 300
MAX_PDN = 200_000
SHUTDOWN_GRACE_S = 1  # on SIGTERM / Ctrl-C, requests still running after this are dropped

# One status per domain error (the most specific class wins: they do not overlap).
STATUS: dict[type[GameError], int] = {
    UnknownGame: 404,
    Conflict: 409,
    BadRequest: 422,
    EngineFailed: 502,
}

T = TypeVar("T")


def one_line(text: str) -> str:
    return " ".join(text.split()) or "error"


class ServerStopping(Exception):
    """A request was still waiting for the engine when the server stopped (answered 503)."""


async def in_daemon_thread(fn: Callable[[], T]) -> T:
    """``fn()`` run in a new daemon thread, awaited. If the await is cancelled (uvicorn does so
    to requests still running `SHUTDOWN_GRACE_S` after a SIGTERM), the thread is abandoned: it
    finishes on its own and never holds the process; the request is answered 503."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def work() -> None:
        try:
            result, error = fn(), None
        except BaseException as e:
            result, error = None, e
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name="kingme-play-engine", daemon=True).start()
    try:
        return await future
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()  # handled here: answer 503 rather than end in a traceback
        raise ServerStopping("the server is stopping; the engine's move was abandoned") from None


# ------------------------------------------------------------------------------------------------
# Requests


class NewGame(BaseModel):
    opponent: str | None = Field(None, max_length=MAX_SPEC, description="player spec; default: the server's")
    human: Side = Field("black", description="the side you play; 'both' = analysis (no bot replies)")
    fen: str | None = Field(None, max_length=MAX_FEN, description="start from this position (PDN FEN)")
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
# The app


def api_page(app: FastAPI) -> str:
    """A self-contained HTML page listing the API's endpoints (no external host referenced)."""
    rows = []
    for path, ops in app.openapi().get("paths", {}).items():
        for method, op in ops.items():
            rows.append(
                f"<tr><td><code>{html.escape(method.upper())}</code></td>"
                f"<td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op.get('summary', ''))}</td></tr>"
            )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kingme play: API</title>
<link rel="icon" href="/favicon.ico"><link rel="stylesheet" href="/static/style.css"></head>
<body><main class="api">
<h1>kingme play: the JSON API</h1>
<p>The full schema (OpenAPI 3): <a href="/openapi.json">/openapi.json</a>.
Errors are a 4xx status with one line, <code>{{"detail": "..."}}</code>.
A request's player: a search without a time limit at most {MAX_UNTIMED_DEPTH} plies deep,
a time limit at most {MAX_MOVE_MS:g} ms per move, no model file, no <code>human</code>.
Back to <a href="/">the page</a>; see docs/play.md.</p>
<table class="endpoints"><thead><tr><th>method</th><th>path</th><th>does</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</main></body></html>
"""


def create_app(
    opponent: str | None = None,
    max_games: int = MAX_GAMES,
    trusted_specs: tuple[str, ...] = (),
) -> FastAPI:
    """The web app. ``opponent`` is the default opponent (None: the shipped policy if it loads,
    else `FALLBACK_OPPONENT`); it and ``trusted_specs`` (the command line's ``--opponent``) skip
    the request limits."""
    games = Games(opponent, max_games=max_games, trusted=trusted_specs)
    app = FastAPI(
        title="kingme play",
        version="1",
        summary="Play checkers against a kingme player and see what its policy and value think.",
        docs_url=None,  # FastAPI's /docs and /redoc load their scripts from a CDN
        redoc_url=None,
    )
    app.state.games = games
    app.state.default_opponent = games.default

    @app.exception_handler(GameError)
    async def _game_error(request: Request, exc: GameError) -> JSONResponse:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        return JSONResponse({"detail": one_line(str(exc))}, status_code=status)

    @app.exception_handler(ServerStopping)
    async def _stopping(request: Request, exc: ServerStopping) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        if errs:
            e = errs[0]
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            msg = f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg", "invalid"))
        else:
            msg = "invalid request"
        return JSONResponse({"detail": one_line(msg)}, status_code=422)

    # --- pages ----------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/static/index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return HTMLResponse(api_page(app))

    # --- API --------------------------------------------------------------------------------

    @app.get("/api/players", summary="The accepted player specs, suggestions, default and limits")
    def players() -> dict[str, Any]:
        return games.players()

    @app.post("/api/games", status_code=201, summary="Start a game (or load a FEN or PDN)")
    async def new_game(req: NewGame) -> dict[str, Any]:
        return await in_daemon_thread(lambda: games.new_game(req.opponent, req.human, req.fen, req.pdn, req.ply))

    @app.get("/api/games/{gid}", summary="A game's state")
    def get_game(gid: str) -> dict[str, Any]:
        return games.state(gid)

    @app.delete("/api/games/{gid}", status_code=204, summary="Forget a game")
    def delete_game(gid: str) -> None:
        games.delete(gid)

    @app.post("/api/games/{gid}/move", summary="Play your move; the opponent replies")
    async def move(gid: str, req: MoveRequest) -> dict[str, Any]:
        return await in_daemon_thread(lambda: games.move(gid, req.move))

    @app.post("/api/games/{gid}/reply", summary="Ask the engine to move now (not on your turn)")
    async def reply(gid: str) -> dict[str, Any]:
        return await in_daemon_thread(lambda: games.engine_move(gid))

    @app.post("/api/games/{gid}/undo", summary="Take back your last move (and the reply to it)")
    async def undo(gid: str) -> dict[str, Any]:
        return await in_daemon_thread(lambda: games.undo(gid))

    @app.post("/api/games/{gid}/goto", summary="Step through the line: show the position after PLY moves")
    def goto(gid: str, req: GotoRequest) -> dict[str, Any]:
        return games.goto(gid, req.ply)

    @app.post("/api/games/{gid}/resign", summary="Resign the game")
    def resign(gid: str) -> dict[str, Any]:
        return games.resign(gid)

    @app.get("/api/games/{gid}/pdn", response_class=PlainTextResponse, summary="The game as PDN")
    def pdn(gid: str) -> PlainTextResponse:
        return PlainTextResponse(
            games.pdn(gid),
            headers={"Content-Disposition": f'attachment; filename="kingme-{gid}.pdn"'},
        )

    @app.get("/api/games/{gid}/analysis", summary="Policy and value at the game's current position")
    def game_analysis(
        gid: str, model: str | None = Query(None, max_length=MAX_SPEC, description="a player spec")
    ) -> dict[str, Any]:
        return games.analysis(gid, model)

    @app.post("/api/analysis", summary="Policy and value for a FEN (or a PDN's final position)")
    def analysis(req: AnalyzeRequest) -> dict[str, Any]:
        return games.analyze_position(req.fen, req.pdn, req.model)

    return app
