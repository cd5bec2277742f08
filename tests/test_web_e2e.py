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

SLOW = "alphabeta:40:1500"  # an opponent that thinks for 1.5 s (trusted by the test server)

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
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    uvicorn = need("uvicorn", "uvicorn")
    need("fastapi", "fastapi")
    from kingme.egdb.build import build
    from kingme.web.app import create_app

    egdb = tmp_path_factory.mktemp("egdb3")
    build(egdb, 3)  # a tiny endgame database (about a second): the page's "Perfect play" line

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app("alphabeta:2", trusted_specs=(SLOW,), warm=True, egdb=egdb)  # warm: no first request pays
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
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
    shown = pg.evaluate("analysis.moves.filter(m => m.prob >= 0.0005).length")  # 0.0% gets no arrow
    assert pg.locator("#board .arrow").count() == shown > 0
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
        "1.",
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
    assert pg.eval_on_selector_all("#moves .mv", "els => els.map(e => e.textContent)") == ["1x10x19"]
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


# A game of 24 plies (12 numbered moves), with tags, for the move list and the PDN round trip.
LONG_PDN = (
    '[Event "Club match"]\n[Black "Ann"]\n[White "Bob"]\n[Date "2024.01.02"]\n'
    "1. 10-14 22-17 2. 6-10 24-20 3. 10-15 17x10 4. 7x14 21-17 5. 14x21 27-24 6. 11-16 20x11 "
    "7. 12-16 26-22 8. 9-14 24-19 9. 15x24 28x19x12 10. 8x15 31-27 11. 15-19 23x16 12. 14-18 22x15 *"
)


def load(pg: Any, text: str) -> None:
    pg.fill("#load-text", text)
    pg.click("#load")
    pg.wait_for_function("document.querySelector('#status').textContent.includes('analysis')")


def test_a_position_the_database_covers_shows_its_true_result(page: Any) -> None:
    pg = page
    perfect = "document.querySelector('#perfect').textContent"
    load(pg, "W:WK1:BK28,K32")  # two kings against one, the lone king to move
    pg.wait_for_function(f"{perfect} === 'Perfect play: Black wins'")
    load(pg, "B:WK11:BK3,K4")
    pg.wait_for_function(f"{perfect} === 'Perfect play: draw'")
    assert "loss for Black" in (pg.get_attribute('#probs tr[data-move="3-7"]', "title") or "")
    load(pg, "B:W21-32:B1-12")  # not covered: no line
    pg.wait_for_function("analysis && analysis.fen === game.fen")
    assert pg.inner_text("#perfect") == ""


def test_move_numbers_past_nine_are_shown_whole(page: Any) -> None:
    """Before: the list's own markers were clipped by the scrolling box ("10." showed as "0.")."""
    pg = page
    load(pg, LONG_PDN)
    pg.wait_for_function("document.querySelectorAll('#moves .mv').length === 24")
    nums = pg.eval_on_selector_all("#moves li .num", "els => els.map(e => e.textContent)")
    assert nums == [f"{i}." for i in range(1, 13)]
    for i in (9, 11):  # "10." and "12.": inside the box, not cut at its left edge
        pg.eval_on_selector_all("#moves li .num", f"els => els[{i}].scrollIntoView()")
        box = pg.eval_on_selector("#moves", "e => e.getBoundingClientRect().left")
        left = pg.eval_on_selector_all("#moves li .num", f"els => els[{i}].getBoundingClientRect().left")
        assert left >= box, (nums[i], left, box)


def test_a_search_model_shows_its_choice_and_line_not_uniform_percentages(page: Any) -> None:
    """Before: alphabeta as the model listed every move at 14.3% and marked nothing it chose."""
    pg = page
    load(pg, "B:W21-32:B1-12")
    pg.fill("#model", "alphabeta:4")
    pg.dispatch_event("#model", "change")
    pg.wait_for_selector("#probs tr.best")
    a = pg.evaluate("analysis")
    assert a["best"] and a["pv"][0] == a["best"]
    assert pg.get_attribute("#probs tr.best", "data-move") == a["best"]
    assert "%" not in pg.inner_text("#probs")  # no policy: no invented probabilities
    pv = pg.eval_on_selector_all("#board .arrow.pv", "els => els.map(e => e.dataset.move)")
    assert pv == a["pv"][: len(pv)] and pv and pg.locator("#board .arrow").count() == len(pv)
    assert f"search plays {a['best']}" in pg.inner_text("#pv")


def test_the_search_and_the_static_value_are_told_apart(page: Any) -> None:
    """Before: "value +0.06" stood beside "score +1.989" with nothing saying which is which."""
    pg = page
    load(pg, "B:W21-32:B1-12")
    pg.fill("#model", "search:policy:default:2")
    pg.dispatch_event("#model", "change")
    pg.wait_for_function("document.querySelector('#pv').textContent.startsWith('search plays')")
    assert "before any search" in pg.inner_text("#value")
    pg.evaluate("analysis = Object.assign({}, analysis, {score: 1.989, forced: {win: true, plies: 11}}); render()")
    assert "Black wins by force within 11 plies" in pg.inner_text("#pv")
    assert "1.989" not in pg.inner_text("#pv")


def test_zero_percent_moves_get_no_arrow(page: Any) -> None:
    pg = page
    pg.wait_for_selector("#probs tr")
    moves = pg.evaluate(
        "arrowsOf({policy: true, pv: null, pv_paths: null, moves: ["
        "{move: '9-13', path: [9, 13], prob: 0.9999}, {move: '9-14', path: [9, 14], prob: 0.0001}]})"
        ".map(a => a.move)"
    )
    assert moves == ["9-13"]


def test_the_old_position_is_not_shown_while_the_engine_thinks(page: Any) -> None:
    """Before: the board kept the position before your move, with its arrows, until the reply."""
    pg = page
    pg.fill("#opponent", SLOW)
    pg.click("#new")
    pg.wait_for_function("document.querySelector('#status').textContent.startsWith('your move')")
    pg.wait_for_selector("#board .arrow")
    click_square(pg, 11)
    click_square(pg, 15)
    pieces = pieces_on_page(pg)  # at once: your move is on the board, the old arrows are gone
    assert pieces.get(15) == "b" and 11 not in pieces
    assert pg.locator("#board .arrow").count() == 0
    assert "thinking" in pg.inner_text("#source") and pg.locator("#probs tr").count() == 0
    pg.wait_for_selector('#moves .mv[data-ply="2"]', timeout=20_000)
    pg.wait_for_selector("#board .arrow")  # the new position's analysis


def test_after_resigning_the_panel_offers_nothing(page: Any) -> None:
    pg = page
    pg.wait_for_function("document.querySelector('#status').textContent.startsWith('your move')")
    pg.on("dialog", lambda d: d.accept())
    pg.click("#resign")
    pg.wait_for_selector("#result:not([hidden])")
    assert "resigned" in pg.inner_text("#result")
    assert "game is over" in pg.inner_text("#value") and "win" not in pg.inner_text("#value")
    assert pg.locator("#probs tr").count() == 0 and pg.locator("#board .arrow").count() == 0


def test_editing_the_opponent_in_analysis_mode_applies_at_once(page: Any) -> None:
    pg = page
    load(pg, "B:W21-32:B1-12")
    pg.fill("#opponent", "greedy")
    pg.dispatch_event("#opponent", "change")
    pg.wait_for_function("game.opponent === 'greedy' && !busy")
    pg.click("#bot")
    pg.wait_for_selector('#moves .mv[data-ply="1"]')
    assert "greedy" in pg.evaluate("game.opponent")


def test_the_engine_move_button_hides_the_old_arrows_while_it_thinks(page: Any) -> None:
    pg = page
    load(pg, "B:W21-32:B1-12")
    pg.fill("#opponent", SLOW)
    pg.dispatch_event("#opponent", "change")
    pg.wait_for_function(f"game.opponent === '{SLOW}' && !busy")
    pg.wait_for_selector("#board .arrow")
    pg.click("#bot")
    pg.wait_for_function("document.querySelector('#source').textContent.includes('thinking')")
    assert pg.locator("#board .arrow").count() == 0 and pg.locator("#probs tr").count() == 0
    pg.wait_for_selector('#moves .mv[data-ply="1"]', timeout=20_000)
    pg.wait_for_selector("#board .arrow")
