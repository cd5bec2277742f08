"""The HTTP layer of `kingme play`: FastAPI routes over `kingme.web.sessions.Games`, one error
mapping, the static page and a local API page.

Each route validates its body (pydantic), calls one `Games` method and returns its JSON. The
domain raises `GameError`s; `STATUS` maps each class to one HTTP status and the answer is always
one line, ``{"detail": "..."}``; a malformed body is 422 the same way, a body over `MAX_BODY`
bytes 413 (refused on its Content-Length, before it is read). The schema is at
``/openapi.json``; ``/docs`` is a small page served from here (no CDN) that lists the endpoints
and links the schema.

Two kinds of route. The routes that can run a player (new game, move, engine move, undo, the two
analyses) hand the domain call to the search pool (`kingme.web.pool`): about one worker per core
and a short queue; a full pool is 503 at once. Each request has a budget (`request_seconds`:
`REQUEST_SECONDS`, or a trusted spec's own longer time limit) counted from its arrival: its
work runs under a `Limit` that ends `WRAP_UP_S` before the budget, so every player kind's work
ends in time to answer within it, and the route answers by the budget plus `GRACE_S` whatever
the player does. Work cut by the budget is
422; a request that waited its whole budget for a worker is 503. The route polls its client
while it waits; a client that goes away stops its job. On SIGTERM the pool is closed
(`close_pool`): every job stops and its request is answered 503 at once. The other routes
(reads, goto, resign, delete, the opponent in analysis mode) are plain ``def``: they run in
FastAPI's own thread pool and never wait behind a search.
"""

from __future__ import annotations

import asyncio
import html
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from kingme.players import PlayerSpec
from kingme.players.limits import MAX_SECONDS
from kingme.web.pool import Busy, Closed, SearchPool, Stopped
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
    request_spec,
    warm_up,
)

__all__ = ["FALLBACK_OPPONENT", "STATUS", "create_app"]

STATIC = Path(__file__).resolve().parent / "static"
MAX_SPEC = 200
MAX_FEN = 300
MAX_PDN = 200_000
MAX_BODY = 512 * 1024  # bytes of a request body (a PDN of MAX_PDN characters fits, escaped)
SHUTDOWN_GRACE_S = 1  # on SIGTERM / Ctrl-C, requests still running after this are dropped
SEARCH_WORKERS = max(1, os.cpu_count() or 1)  # engine work runs on at most this many threads
SEARCH_QUEUE = 4 * SEARCH_WORKERS  # and at most this many jobs wait; more is 503 at once
REQUEST_SECONDS = MAX_MOVE_MS / 1000 + 0.5  # one request's engine work, wall clock, at most
POLL_S = 0.05  # how often a waiting route checks that its client is still there
WRAP_UP_S = 0.2  # the player's limit ends this much before the request's budget (to answer in it)
GRACE_S = 0.25  # past its budget, a request is answered even if its player has not stopped yet

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
    """The server stopped while the request waited for the engine (answered 503)."""


class OverBudget(Exception):
    """The request's engine work ran over its cost bound (answered 422)."""


class ClientGone(Exception):
    """The client went away; its job was stopped (nobody reads the answer)."""


def spec_ms(spec: PlayerSpec) -> float:
    """The longest per-move time limit in ``spec`` (``mix``'s inner included), 0 for none."""
    inner = spec_ms(spec.inner) if spec.inner is not None else 0.0
    return max(spec.ms or 0.0, inner)


def request_seconds(
    spec_text: str | None, trusted: frozenset[str] = frozenset(), budget: float = REQUEST_SECONDS
) -> float:
    """The cost bound of one request whose player is ``spec_text``: ``budget``, or for a trusted
    spec (``--opponent``) with a longer time limit, that limit plus 0.5 s."""
    if not spec_text:
        return budget
    try:
        spec = request_spec(spec_text, trusted)
    except GameError:
        return budget  # the job itself refuses it
    return min(max(budget, spec_ms(spec) / 1000 + 0.5), MAX_SECONDS)


async def run_in_pool(request: Request, pool: SearchPool, fn: Callable[[], T], seconds: float) -> T:
    """``fn()`` run in the search pool under a budget of ``seconds`` from now, awaited: the
    player's limit ends `WRAP_UP_S` before the budget, so the answer comes within it, and
    within the budget plus `GRACE_S` whatever the player does. The client is polled
    every `POLL_S`: if it has gone, the job is stopped. `Busy` if the pool is full (or the job
    waited its whole budget in the queue); `ServerStopping` if the server stops meanwhile;
    `OverBudget` if the budget cut the work."""
    try:
        job = pool.submit(fn, max(seconds - WRAP_UP_S, seconds / 2))  # time left to answer
    except Closed:
        raise ServerStopping("the server is stopping") from None
    waiting = asyncio.wrap_future(job.future)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds + GRACE_S
    try:
        while not waiting.done():
            left = deadline - loop.time()
            if left <= 0 or pool.closed:
                job.limit.stop()  # the player ignored its budget: answer now, cut it anyway
                break
            await asyncio.wait({waiting}, timeout=min(POLL_S, left))
            if not waiting.done() and await request.is_disconnected():
                job.stop()
                raise ClientGone("the client went away")
    except asyncio.CancelledError:  # uvicorn cancels requests still running after the grace
        job.stop()
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()  # handled here: answer 503 rather than end in a traceback
        raise ServerStopping("the server is stopping; the engine's work was abandoned") from None
    if pool.closed:  # whatever the job did: the server is going
        raise ServerStopping("the server is stopping; the engine's work was abandoned")
    if waiting.done() and waiting.exception() is None:
        return waiting.result()
    if waiting.done() and not isinstance(waiting.exception(), Stopped):
        return waiting.result()  # raises the job's own error
    if job.stopped:
        raise ClientGone("the client went away")
    if job.started is None or job.started - job.limit.start > seconds / 2:
        raise Busy(f"the server is busy: this request waited {seconds:g} s for a search thread; try again shortly")
    raise OverBudget(
        f"the engine's work ran over this request's budget of {seconds:g} s; "
        f"give the search a time limit (e.g. alphabeta:20:1000) or less depth"
    )


class BodyCap:
    """ASGI middleware: a request body over ``cap`` bytes is 413. A Content-Length over the cap is
    answered before any of the body is read (and the connection closed); a body without one is
    counted as it arrives."""

    def __init__(self, app: Any, cap: int = MAX_BODY) -> None:
        self.app = app
        self.cap = cap

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.cap:
            response = JSONResponse(
                {"detail": f"request body over {self.cap} bytes"}, status_code=413, headers={"Connection": "close"}
            )
            await response(scope, receive, send)
            return
        received = 0

        async def capped() -> Any:
            nonlocal received
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > self.cap:
                    raise HTTPException(413, f"request body over {self.cap} bytes")
            return message

        await self.app(scope, capped, send)


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


class OpponentRequest(BaseModel):
    opponent: str = Field(..., max_length=MAX_SPEC, description="player spec (analysis mode only)")


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
    workers: int = SEARCH_WORKERS,
    queue: int = SEARCH_QUEUE,
    budget: float = REQUEST_SECONDS,
    warm: bool = False,
    egdb: Path | None = None,
) -> FastAPI:
    """The web app. ``opponent`` is the default opponent (None: the shipped policy if it loads,
    else `FALLBACK_OPPONENT`); it and ``trusted_specs`` (the command line's ``--opponent``) skip
    the request limits. Engine work runs in a pool of ``workers`` threads with room for ``queue``
    waiting jobs (`app.state.pool`; `close_pool(app)` stops it), each request's under a cost bound
    of ``budget`` seconds (`request_seconds`). ``warm``: pay the one-time costs (torch, the
    shipped model, the compiled searches, the endgame database) now, not in the first requests
    (`warm_up`). ``egdb``: the endgame database's folder (None: its default folder), opened at
    the first analysis or by ``warm``; where there is none, the analyses' ``perfect`` is null."""
    games = Games(opponent, max_games=max_games, trusted=trusted_specs, egdb=egdb)
    pool = SearchPool(workers, queue)
    if warm:
        warm_up(egdb)
    app = FastAPI(
        title="kingme play",
        version="1",
        summary="Play checkers against a kingme player and see what its policy and value think.",
        docs_url=None,  # FastAPI's /docs and /redoc load their scripts from a CDN
        redoc_url=None,
    )
    app.add_middleware(BodyCap, cap=MAX_BODY)
    app.state.games = games
    app.state.pool = pool
    app.state.default_opponent = games.default
    app.router.add_event_handler("shutdown", pool.close)

    def seconds_for(spec: str | None) -> float:
        return request_seconds(spec, games.trusted, budget)

    async def engine(request: Request, fn: Callable[[], T], spec: str | None) -> T:
        return await run_in_pool(request, pool, fn, seconds_for(spec))

    @app.exception_handler(GameError)
    async def _game_error(request: Request, exc: GameError) -> JSONResponse:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        return JSONResponse({"detail": one_line(str(exc))}, status_code=status)

    @app.exception_handler(ServerStopping)
    async def _stopping(request: Request, exc: ServerStopping) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Connection": "close"})

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(OverBudget)
    async def _over(request: Request, exc: OverBudget) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(ClientGone)
    async def _gone(request: Request, exc: ClientGone) -> Response:
        return Response(status_code=499)  # nginx's "client closed request": nobody reads it

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

    # --- API: reads and cheap writes (FastAPI's thread pool; never behind a search) ----------

    @app.get("/api/players", summary="The accepted player specs, suggestions, default and limits")
    def players() -> dict[str, Any]:
        info = games.players()
        info["limits"] |= {"request_seconds": budget, "max_body": MAX_BODY}
        return info

    @app.get("/api/games/{gid}", summary="A game's state")
    def get_game(gid: str) -> dict[str, Any]:
        return games.state(gid)

    @app.delete("/api/games/{gid}", status_code=204, summary="Forget a game")
    def delete_game(gid: str) -> None:
        games.delete(gid)

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

    # --- API: engine work (the search pool, under a cost bound) -----------------------------

    @app.post("/api/games", status_code=201, summary="Start a game (or load a FEN or PDN)")
    async def new_game(req: NewGame, request: Request) -> dict[str, Any]:
        spec = (req.opponent or "").strip() or games.default
        return await engine(request, lambda: games.new_game(req.opponent, req.human, req.fen, req.pdn, req.ply), spec)

    @app.post("/api/games/{gid}/move", summary="Play your move; the opponent replies")
    async def move(gid: str, req: MoveRequest, request: Request) -> dict[str, Any]:
        return await engine(request, lambda: games.move(gid, req.move), games.opponent_spec(gid))

    @app.post("/api/games/{gid}/reply", summary="Ask the engine to move now (not on your turn)")
    async def reply(gid: str, request: Request) -> dict[str, Any]:
        return await engine(request, lambda: games.engine_move(gid), games.opponent_spec(gid))

    @app.post("/api/games/{gid}/undo", summary="Take back your last move (and the reply to it)")
    async def undo(gid: str, request: Request) -> dict[str, Any]:
        return await engine(request, lambda: games.undo(gid), games.opponent_spec(gid))

    @app.post("/api/games/{gid}/opponent", summary="Change the opponent of a game in analysis mode")
    def set_opponent(gid: str, req: OpponentRequest) -> dict[str, Any]:
        return games.set_opponent(gid, req.opponent)

    @app.get("/api/games/{gid}/analysis", summary="Policy, value and search at the game's current position")
    async def game_analysis(
        gid: str,
        request: Request,
        model: str | None = Query(None, max_length=MAX_SPEC, description="a player spec"),
    ) -> dict[str, Any]:
        spec = (model or "").strip() or games.opponent_spec(gid)
        return await engine(request, lambda: games.analysis(gid, model), spec)

    @app.post("/api/analysis", summary="Policy, value and search for a FEN (or a PDN's final position)")
    async def analysis(req: AnalyzeRequest, request: Request) -> dict[str, Any]:
        return await engine(request, lambda: games.analyze_position(req.fen, req.pdn, req.model), req.model)

    return app


def close_pool(app: FastAPI) -> None:
    """Stop every engine job of ``app`` and take no more (on SIGTERM: their requests answer 503)."""
    app.state.pool.close()
