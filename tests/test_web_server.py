"""`kingme play` as a real server: a search blocks no other request, and SIGTERM stops it at once.

The first test runs uvicorn in a thread on a free 127.0.0.1 port; the second starts the command
itself (`kingme play --no-browser --port 0`) as a subprocess. Both use a slow search that is still
capped (a time limit), and plain urllib, so they need fastapi and uvicorn only.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="kingme play needs fastapi and uvicorn")
uvicorn = pytest.importorskip("uvicorn", reason="kingme play needs fastapi and uvicorn")


SLOW = "alphabeta:40:5000"  # a 5 s search (capped by its time limit); trusted by the test server


def call(base: str, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
    """(status, JSON) of one request."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read()
            is_json = r.headers.get_content_type() == "application/json"
            return r.status, (json.loads(text) if is_json else text.decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def timed(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
    t0 = time.perf_counter()
    status, out = call(base, method, path, body)
    return status, out, time.perf_counter() - t0


def wait_thinking(base: str, gid: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status, g = call(base, "GET", f"/api/games/{gid}", timeout=within)
        if status == 200 and g.get("thinking"):
            return
        time.sleep(0.05)
    pytest.fail("the game never showed the engine thinking")


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free 127.0.0.1 port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module", autouse=True)
def warm() -> None:
    from kingme.web.sessions import warm_up

    warm_up()  # torch, the shipped model, the compiled searches: once, outside any budget


@pytest.fixture
def live_server() -> Iterator[str]:
    from kingme.web.app import create_app

    with serving(create_app("random", trusted_specs=(SLOW,))) as base:
        yield base


def test_a_search_blocks_no_other_request(live_server: str) -> None:
    base = live_server
    call(base, "POST", "/api/games", {"opponent": "alphabeta:2", "human": "white"})  # compile
    status, g = call(base, "POST", "/api/games", {"opponent": SLOW})
    assert status == 201
    gid = g["id"]
    answer: dict[str, Any] = {}
    mover = threading.Thread(
        target=lambda: answer.update(
            zip(("status", "game"), call(base, "POST", f"/api/games/{gid}/move", {"move": "11-15"}))
        )
    )
    mover.start()
    try:
        wait_thinking(base, gid)  # before the fix: the game's lock was held, this waited
        # while it thinks: reads of the same game, other games, and a refused conflicting write
        for method, path, body, want in [
            ("GET", f"/api/games/{gid}", None, 200),
            ("GET", f"/api/games/{gid}/pdn", None, 200),
            ("GET", "/api/players", None, 200),
            ("POST", "/api/games", {"opponent": "random"}, 201),
            ("POST", f"/api/games/{gid}/move", {"move": "9-13"}, 409),
            ("POST", f"/api/games/{gid}/undo", None, 409),
        ]:
            status, out, dt = timed(base, method, path, body)
            assert status == want, (path, status, out)
            assert dt < 1.0, f"{method} {path} took {dt:.2f} s while the engine thought"
            if status == 409:
                assert "thinking" in out["detail"]
        status, g, _ = timed(base, "GET", f"/api/games/{gid}")  # all of that during the search
        assert g["thinking"] and not g["your_turn"] and g["line"] == ["11-15"], g
    finally:
        mover.join(timeout=30)
    assert answer["status"] == 200, answer
    g = answer["game"]
    assert len(g["line"]) == 2 and g["reply"] == g["line"][1] and not g["thinking"]


def read_line(proc: subprocess.Popen[str], within: float) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout=within):
        pytest.fail(f"kingme play printed nothing in {within} s")
    return proc.stdout.readline()


def test_sigterm_during_a_search_answers_503_and_exits_within_a_second() -> None:
    """Before: the client got a plain 500, stderr a 50-line CancelledError, and the server waited
    for its grace period."""
    code = "import sys; from kingme.cli import main; sys.exit(main(sys.argv[1:]))"
    # the command line's opponent is trusted: a 20 s search, still capped
    argv = ["play", "--no-browser", "--port", "0", "--opponent", "alphabeta:40:20000"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answers: dict[str, tuple[int, Any]] = {}
    try:
        line = read_line(proc, 60)
        assert "serving on http://127.0.0.1:" in line, line  # this machine only, by default
        base = line.split("serving on ")[1].split()[0].rstrip("/")
        status, g = call(base, "POST", "/api/games", {"human": "black"})
        assert status == 201 and g["opponent"] == "alphabeta:40:20000"

        def ask(name: str, method: str, path: str, body: Any) -> None:
            with contextlib.suppress(OSError, ValueError):
                answers[name] = call(base, method, path, body)

        analysis = {"fen": "B:W21-32:B1-12", "model": "alphabeta:40:20000"}
        for args in [
            ("move", "POST", f"/api/games/{g['id']}/move", {"move": "11-15"}),
            ("analysis", "POST", "/api/analysis", analysis),
        ]:
            threading.Thread(target=ask, args=args, daemon=True).start()
        wait_thinking(base, g["id"])
        time.sleep(0.5)  # the analysis is searching too
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            pytest.fail("kingme play did not stop within 8 s of SIGTERM during a search")
        stopped_in = time.monotonic() - t0
        time.sleep(0.2)  # the answers' threads
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read()
        proc.stderr.close()
    assert stopped_in < 2.0, f"stopped {stopped_in:.1f} s after SIGTERM"
    for name in ("move", "analysis"):
        status, out = answers[name]
        assert status == 503 and "stopping" in out["detail"] and "\n" not in out["detail"], (name, status, out)
    assert "Traceback" not in err and "CancelledError" not in err, err


def test_reads_never_wait_behind_searches() -> None:
    """45 slow analyses at once (more than the web framework's 40 threads): before the pool,
    reads of a game waited 2.3-2.7 s behind them. Now the searches beyond the pool's room are
    refused at once and reads answer at once."""
    from kingme.web.app import create_app

    app = create_app("random", workers=2, queue=2)
    with serving(app) as base:
        _, g = call(base, "POST", "/api/games", {"opponent": "random", "human": "both"})
        body = {"fen": "B:W21-32:B1-12", "model": "alphabeta:40:2000"}
        answers: list[tuple[int, Any, float]] = []
        threads = [
            threading.Thread(target=lambda: answers.append(timed(base, "POST", "/api/analysis", body)))
            for _ in range(45)
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while (app.state.pool.load() < 2 or len(answers) < 45 - 4) and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(5):  # while the admitted searches run
            status, out, dt = timed(base, "GET", f"/api/games/{g['id']}")
            assert status == 200 and dt < 0.5, f"a read took {dt:.2f} s behind the searches"
            time.sleep(0.1)
        assert app.state.pool.load() > 0, "the searches ended before the reads: the test saw nothing"
        for t in threads:
            t.join(30)
    # The 4 admitted searches answer 200, or, on a machine too loaded to finish them in the request's
    # budget, its documented one-line answers (422: the work ran over the budget; 503: it waited the
    # budget for a thread). Every other request is refused as busy.
    assert len(answers) == 45 and all(s in (200, 422, 503) for s, _, _ in answers), [a[:2] for a in answers]
    assert all(s == 200 or "busy" in out["detail"] or "budget" in out["detail"] for s, out, _ in answers)
    assert all("budget" in out["detail"] for s, out, _ in answers if s == 422)
    at_once = [dt for s, _, dt in answers if s == 503 and dt < 1.0]
    assert len(at_once) >= 45 - 4, f"the pool admits 2 running + 2 waiting; {sorted(a[::2] for a in answers)}"


def test_a_client_that_goes_away_stops_its_search() -> None:
    from kingme.web.app import create_app

    app = create_app("random")
    with serving(app) as base:
        host, port = base.removeprefix("http://").split(":")
        body = json.dumps({"fen": "B:W21-32:B1-12", "model": "alphabeta:40:2000"}).encode()
        head = f"POST /api/analysis HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        conn = socket.create_connection((host, int(port)))
        conn.sendall(head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        deadline = time.monotonic() + 10
        while app.state.pool.load() < 1:
            assert time.monotonic() < deadline, "the analysis never started"
            time.sleep(0.01)
        time.sleep(0.2)
        t0 = time.monotonic()
        conn.close()
        while app.state.pool.load() > 0:  # the search would run on for 2 s
            assert time.monotonic() - t0 < 0.6, "the search ran on after its client left"
            time.sleep(0.01)


def test_a_300_mb_body_is_refused_before_it_is_read() -> None:
    """Before: the server read it all (11 s, 1.16 GB)."""
    from kingme.web.app import create_app

    with serving(create_app("random")) as base:
        host, port = base.removeprefix("http://").split(":")
        head = (
            f"POST /api/analysis HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {300 * 2**20}\r\n\r\n"
        )
        t0 = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(head.encode() + b'{"fen": "' + b"x" * 65536)
            reply = conn.recv(4096)
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert time.monotonic() - t0 < 2.0
