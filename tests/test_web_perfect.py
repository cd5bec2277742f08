"""The true result from the endgame database in the analysis of `kingme play` (``"perfect"``),
with a tiny 3-piece database built into a temporary folder, as tests/test_egdb.py builds its own."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="kingme play needs fastapi (pip install fastapi uvicorn httpx)")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette may warn about its httpx-based client
    from fastapi.testclient import TestClient

from kingme.checkers import Board
from kingme.cli import main as cli_main
from kingme.egdb.build import build
from kingme.egdb.probe import board_result
from kingme.egdb.store import open_store
from kingme.web.app import create_app

TWO_KINGS = "B:WK1:BK28,K32"  # two kings against one: the stronger side wins
TWO_KINGS_WHITE = "W:WK1:BK28,K32"  # the same with the lone king to move: it loses
DRAWN = "B:WK11:BK3,K4"  # drawn, but 3-7 walks into the white king's jump and loses
FOUR_PIECES = "W:W18,K30:B14,K5"  # more pieces than the tiny database covers


@pytest.fixture(scope="module")
def db3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("egdb3")
    build(folder, 3)  # about a second
    return folder


@pytest.fixture(scope="module")
def client(db3: Path) -> TestClient:
    return TestClient(create_app("random", max_games=4, egdb=db3))


def analyse(client: TestClient, fen: str) -> dict[str, Any]:
    r = client.post("/api/analysis", json={"fen": fen, "model": "random"})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_covered_position_has_its_true_result_and_each_moves(client: TestClient) -> None:
    a = analyse(client, TWO_KINGS)
    assert a["perfect"] == {"result": "win", "for": "black", "moves": {"28-24": "win", "32-27": "win"}}
    assert analyse(client, TWO_KINGS_WHITE)["perfect"] == {
        "result": "loss",
        "for": "white",
        "moves": {"1-5": "loss", "1-6": "loss"},
    }
    # a move's result is the mover's: the one move that throws the draw away is a loss
    d = analyse(client, DRAWN)["perfect"]
    assert d == {"result": "draw", "for": "black", "moves": {"3-7": "loss", "4-8": "draw", "3-8": "draw"}}
    board = Board(DRAWN)
    assert set(d["moves"]) == {str(m) for m in board.legal_moves()}
    board.push(board.parse_move("3-7"))
    assert board.parse_move("11x2") in board.legal_moves()  # the jump it walks into


def test_the_same_result_as_the_database_and_a_games_analysis_carries_it(client: TestClient, db3: Path) -> None:
    store = open_store(db3)
    assert board_result(store, Board(TWO_KINGS)) == 1  # WIN: the page and the database agree
    r = client.post("/api/games", json={"opponent": "random", "human": "both", "fen": DRAWN})
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    a = client.get(f"/api/games/{gid}/analysis", params={"model": "random"}).json()
    assert a["perfect"]["result"] == "draw" and a["perfect"]["for"] == "black"
    # after 3-7 the white king's jump wins: White to move, a win for White
    r = client.post(f"/api/games/{gid}/move", json={"move": "3-7"})
    assert r.status_code == 200, r.text
    a = client.get(f"/api/games/{gid}/analysis", params={"model": "random"}).json()
    assert (a["perfect"]["result"], a["perfect"]["for"]) == ("win", "white")


def test_null_when_not_covered_or_over(client: TestClient) -> None:
    assert analyse(client, FOUR_PIECES)["perfect"] is None
    assert analyse(client, "B:W21-32:B1-12")["perfect"] is None
    assert analyse(client, "W:W:B5")["perfect"] is None  # no White piece: the game is over
    r = client.post("/api/games", json={"opponent": "random", "human": "both", "fen": TWO_KINGS})
    gid = r.json()["id"]
    assert client.post(f"/api/games/{gid}/resign").status_code == 200
    assert client.get(f"/api/games/{gid}/analysis").json()["perfect"] is None  # resigned


def test_null_without_a_database_and_the_server_still_serves(tmp_path: Path) -> None:
    app = create_app("random", max_games=4, egdb=tmp_path / "none")
    client = TestClient(app)
    r = client.post("/api/analysis", json={"fen": TWO_KINGS, "model": "random"})
    assert r.status_code == 200, r.text
    assert r.json()["perfect"] is None
    assert "no endgame database" in (app.state.games.perfect.problem or "")


def test_play_refuses_an_egdb_folder_without_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["play", "--egdb", str(tmp_path), "--no-browser", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--egdb" in err and "kingme egdb build" in err
