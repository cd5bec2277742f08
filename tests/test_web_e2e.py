"""End to end: the page in a real headless Chromium, driven by Playwright, against a real server.

Needs the Debian package ``chromium`` (/usr/bin/chromium; the project never downloads a browser)
and the pip packages ``playwright``, ``fastapi`` and ``uvicorn``. A missing piece is a failure with
a clear message, never a silent skip. ``KINGME_CHROMIUM`` may point at another Chromium binary.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kingme.checkers import Board

pytestmark = pytest.mark.e2e

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = os.environ.get("KINGME_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            f"the e2e test needs Chromium at {path}: apt-get install -y chromium "
            "(or set KINGME_CHROMIUM to a Chromium binary)",
            pytrace=False,
        )
    return path


def need(module: str, pip_name: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        pytest.fail(f"the e2e test needs {pip_name}: pip install {pip_name}", pytrace=False)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    uvicorn = need("uvicorn", "uvicorn")
    need("fastapi", "fastapi")
    from kingme.web.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app("alphabeta:2"), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the kingme play server did not start", pytrace=False)
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = need("playwright.sync_api", "playwright")
    exe = chromium_path()
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, server_url: str) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(15_000)
    pg.goto(server_url)
    pg.wait_for_selector("#board .piece")
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def pieces_on_page(pg: Any) -> dict[int, str]:
    items = pg.eval_on_selector_all("#board .piece", "els => els.map(e => [e.dataset.square, e.dataset.piece])")
    return {int(sq): p for sq, p in items}


def pieces_of(board: Board) -> dict[int, str]:
    out = {}
    for sq in range(1, 33):
        p = board.piece_at(sq)
        if p is not None:
            out[sq] = p.symbol()
    return out


def click_square(pg: Any, sq: int) -> None:
    pg.click(f'#board g.sq[data-square="{sq}"]')


def test_click_a_move_and_see_the_reply(page: Any) -> None:
    pg = page
    pg.wait_for_function("document.querySelector('#status').textContent.startsWith('your move')")
    assert pieces_on_page(pg) == pieces_of(Board())
    # the policy panel: one row per legal move, uniform without a trained policy
    pg.wait_for_selector("#probs tr")
    assert pg.locator("#probs tr").count() == 7
    from kingme.players.policy import DEFAULT_MODEL

    expected_source = "policy:default" if DEFAULT_MODEL.exists() else "uniform (no policy loaded)"
    assert expected_source in pg.inner_text("#source")
    assert pg.locator("#board .arrow").count() == 7
    if DEFAULT_MODEL.exists():  # the critic's value is a return estimate, and says so
        value = pg.inner_text("#value")
        assert "expected return, -1..1" in value and "chance" not in value, value
    # on your move the engine may not move for you: the button is disabled and says why
    assert pg.is_disabled("#bot") and "your move" in (pg.get_attribute("#bot", "title") or "")

    click_square(pg, 11)
    targets = pg.eval_on_selector_all("#board .target", "els => els.map(e => +e.dataset.target)")
    assert sorted(targets) == [15, 16]
    click_square(pg, 15)
    pg.wait_for_selector('#moves .mv[data-ply="2"]')
    pg.wait_for_function("document.querySelector('#status').textContent.startsWith('your move')")

    moves = pg.eval_on_selector_all("#moves .mv", "els => els.map(e => e.textContent)")
    assert moves[0] == "11-15" and len(moves) == 2
    board = Board()
    board.push("11-15")
    reply = board.push(moves[1])  # the opponent's reply is a legal move of White
    assert pieces_on_page(pg) == pieces_of(board)
    assert pg.locator("#moves li").first.inner_text().replace("\n", " ").split() == [
        "11-15",
        str(reply),
    ]
    # the analysis of the new position arrives after the reply (the policy takes a moment)
    pg.wait_for_function(f"document.querySelectorAll('#probs tr').length === {len(board.legal_moves())}")


def test_multi_jump_square_by_square_and_result(page: Any) -> None:
    pg = page
    pg.fill("#load-text", "B:W6,15:B1")
    pg.click("#load")
    pg.wait_for_function("document.querySelectorAll('#board .piece').length === 3")
    pg.wait_for_function("document.querySelector('#status').textContent.includes('analysis')")
    click_square(pg, 1)
    click_square(pg, 10)  # the first jump: the move is not complete, nothing is sent
    assert pg.locator("#moves .mv").count() == 0
    targets = pg.eval_on_selector_all("#board .target", "els => els.map(e => +e.dataset.target)")
    assert targets == [19]
    click_square(pg, 19)
    pg.wait_for_selector("#result:not([hidden])")
    assert pg.inner_text("#moves").strip() == "1x10x19"
    assert "1-0" in pg.inner_text("#result") and "no legal move" in pg.inner_text("#result")
    assert pieces_on_page(pg) == {19: "b"}
    from kingme.players.policy import DEFAULT_MODEL

    if DEFAULT_MODEL.exists():  # a model with a critic is loaded: the game is over, that's all
        pg.wait_for_function("document.querySelector('#value').textContent.includes('game is over')")
        assert "no critic" not in pg.inner_text("#value")


def test_error_banner_goes_when_a_later_request_succeeds(page: Any) -> None:
    pg = page
    pg.wait_for_function("document.querySelector('#status').textContent.startsWith('your move')")
    pg.fill("#model", "nobody")
    pg.dispatch_event("#model", "change")
    pg.wait_for_selector("#error:not([hidden])")
    assert "unknown player" in pg.inner_text("#error")
    pg.fill("#model", "random")
    pg.dispatch_event("#model", "change")
    pg.wait_for_selector("#error", state="hidden")  # before the fix it stayed
    pg.wait_for_function("document.querySelector('#source').textContent.includes('uniform')")


def test_engine_move_button_in_analysis_mode(page: Any) -> None:
    pg = page
    pg.fill("#load-text", "B:W21-32:B1-12")
    pg.click("#load")
    pg.wait_for_function("document.querySelector('#status').textContent.includes('analysis')")
    assert not pg.is_disabled("#bot")
    pg.click("#bot")  # the engine plays Black's move here: in analysis mode either side's
    pg.wait_for_selector('#moves .mv[data-ply="1"]')
    pg.wait_for_function("document.querySelector('#status').textContent.startsWith('White')")
