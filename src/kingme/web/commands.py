"""`kingme play [--opponent SPEC] [--port 8000] [--host 127.0.0.1] [--egdb DIR] [--no-browser]`: the server.

Binds the socket itself (so a busy port is a one-line error before anything starts), then runs
uvicorn on it. SIGTERM or Ctrl-C stops it promptly: the engine's work is stopped first
(`kingme.web.app.close_pool`: its requests answer 503 at once), and requests still running after
`kingme.web.app.SHUTDOWN_GRACE_S` are dropped, not waited for.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from pathlib import Path
from types import FrameType

from kingme.common import UserError
from kingme.config import Parser

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def browser_available() -> bool:
    """Whether `webbrowser.open` has a browser to open (a display, or a registered browser)."""
    import webbrowser

    if sys.platform in ("darwin", "win32"):
        return True
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("BROWSER")):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def build_parser() -> Parser:
    p = Parser(
        prog="kingme play",
        description=(
            "Start a local web server to play checkers against a kingme player in the browser, "
            "with the policy's move probabilities and the critic's value (docs/play.md)."
        ),
    )
    p.add_argument(
        "--opponent",
        default=None,
        metavar="SPEC",
        help="default opponent, any player spec, trusted as given (default: policy:default, the "
        "shipped model; alphabeta:4 if it cannot load); the page can pick another within the "
        "request limits (docs/play.md)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port to listen on (default: 8000; 0 = any free port)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1, this machine only; the server has no authentication)",
    )
    p.add_argument("--max-games", type=int, default=64, help="games kept in memory at once (default: 64)")
    p.add_argument(
        "--egdb",
        type=Path,
        default=None,
        metavar="DIR",
        help="the endgame database (kingme egdb build) whose true results the analysis shows "
        "(default: $KINGME_EGDB_DIR, else ~/.cache/kingme/egdb, used when it is built; a DIR "
        "given here must hold one)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not in 0-65535")
    if args.max_games < 1:
        raise UserError(f"--max-games must be >= 1, not {args.max_games}")
    try:
        import uvicorn

        from kingme.web.app import SHUTDOWN_GRACE_S, close_pool, create_app
    except ImportError as e:
        raise UserError(
            f"kingme play needs fastapi and uvicorn ({e.name} is missing): pip install fastapi uvicorn"
        ) from None
    from kingme.players import load_player

    if args.opponent is not None:
        load_player(args.opponent)  # a bad spec is a UserError now, not in the browser
    if args.egdb is not None:  # a folder named here must hold a database: say so before the warm-up
        from kingme.web.perfect import open_once

        found = open_once(args.egdb)
        if isinstance(found, str):
            raise UserError(f"--egdb: {found}")
    trusted = (args.opponent,) if args.opponent else ()
    app = create_app(args.opponent, max_games=args.max_games, trusted_specs=trusted, warm=True, egdb=args.egdb)
    store = app.state.games.perfect.store()
    egdb = f"{store.max_pieces}-piece endgame database" if store is not None else "no endgame database"

    try:
        sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
        sock.listen(128)  # connections wait in the backlog until uvicorn serves them
    except OSError as e:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{port}/"
    print(f"kingme play: serving on {url}  (default opponent: {app.state.default_opponent}; {egdb}; Ctrl-C stops)")
    if args.host not in LOOPBACK:
        print("kingme play: warning: listening beyond this machine; the server has no authentication")
    sys.stdout.flush()
    if not args.no_browser and browser_available():
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=SHUTDOWN_GRACE_S)

    class PlayServer(uvicorn.Server):
        """uvicorn's server; a signal first stops the engine's work, so its requests answer 503
        at once and the graceful shutdown has nothing to wait for."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # a thread of its own: the handler may interrupt the loop inside the pool's lock
            threading.Thread(target=close_pool, args=(app,), daemon=True).start()
            super().handle_exit(sig, frame)

    PlayServer(config).run(sockets=[sock])
    return 0
