"""The JSON API behind `kingme play`, through FastAPI's TestClient (no server, no browser)."""

from __future__ import annotations

import math
import re
import threading
import time
import warnings
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="kingme play needs fastapi (pip install fastapi uvicorn httpx)")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette may warn about its httpx-based client
    from fastapi.testclient import TestClient

from kingme.checkers import Board, read_games
from kingme.players import parse_spec
from kingme.web.analysis import UNIFORM_SOURCE, Analysis, PolicyAnalyzer, analyzer_for
from kingme.web.app import MAX_BODY, REQUEST_SECONDS, create_app
from kingme.web.sessions import FALLBACK_OPPONENT, MAX_MOVE_MS, MAX_UNTIMED_DEPTH, refusal, warm_up


@pytest.fixture(scope="module", autouse=True)
def warm() -> None:
    """Torch, the shipped model and the compiled searches loaded once: a request's budget is for
    the engine's work, not for a process's first import (`kingme play` warms up at start)."""
    warm_up()


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app("random", max_games=4))


def new_game(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/api/games", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def one_line_error(r: Any, *codes: int) -> str:
    assert r.status_code in codes, (r.status_code, r.text)
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail
    return detail


def test_full_game_against_random_through_the_api(client: TestClient) -> None:
    g = new_game(client, opponent="random", human="black")
    gid = g["id"]
    board = Board()
    plies = 0
    while g["result"] is None:
        assert g["your_turn"] and g["turn"] == "black"
        assert sorted(m["move"] for m in g["legal_moves"]) == sorted(str(m) for m in board.legal_moves())
        mv = g["legal_moves"][0]["move"]
        r = client.post(f"/api/games/{gid}/move", json={"move": mv})
        assert r.status_code == 200, r.text
        g = r.json()
        board.push(mv)
        if g["reply"] is not None:
            assert g["line"][-1] == g["reply"] and g["last_move"]["move"] == g["reply"]
            board.push(g["reply"])
        assert g["fen"] == board.fen() and g["line"] == [str(m) for m in board.move_stack]
        plies = len(g["line"])
        assert plies < 400
    assert g["result"] == board.result() and g["reason"]
    assert g["legal_moves"] == [] and not g["your_turn"]
    r = client.post(f"/api/games/{gid}/move", json={"move": "11-15"})
    one_line_error(r, 409)
    pdn = client.get(f"/api/games/{gid}/pdn")
    assert pdn.status_code == 200 and "attachment" in pdn.headers["content-disposition"]
    (game,) = read_games(pdn.text)
    assert [str(m) for m in game.moves] == g["line"] and game.result == g["result"]
    assert game.tags["Black"] == "human" and game.tags["White"] == "random"


def test_bot_moves_first_when_you_play_white(client: TestClient) -> None:
    g = new_game(client, opponent="alphabeta:2", human="white")
    assert len(g["line"]) == 1 and g["reply"] == g["line"][0] and g["turn"] == "white"
    assert g["your_turn"]


def test_illegal_moves_are_rejected_and_change_nothing(client: TestClient) -> None:
    g = new_game(client, human="black")
    gid = g["id"]
    before = client.get(f"/api/games/{gid}").json()
    for bad in ["11-16x", "1-5", "22-18", "11-15-19", "99-100", "", "import os"]:
        r = client.post(f"/api/games/{gid}/move", json={"move": bad})
        one_line_error(r, 422)
        assert client.get(f"/api/games/{gid}").json() == before
    one_line_error(client.post(f"/api/games/{gid}/move", json={}), 422)
    one_line_error(client.post(f"/api/games/{gid}/move", json={"move": 11}), 422)
    one_line_error(client.post(f"/api/games/{gid}/move", content=b"{not json"), 422)
    assert client.get(f"/api/games/{gid}").json() == before
    # a compulsory capture: the plain step is refused
    g = new_game(client, fen="B:W18:B14,1", human="both")
    detail = one_line_error(client.post(f"/api/games/{g['id']}/move", json={"move": "1-6"}), 422)
    assert "capture is compulsory" in detail
    assert client.post(f"/api/games/{g['id']}/move", json={"move": "14x23"}).status_code == 200


def test_analysis_of_a_fen_sums_to_one_over_the_legal_moves(client: TestClient) -> None:
    fen = "W:W18,22,K30:B14,15,K5"
    r = client.post("/api/analysis", json={"fen": fen})
    assert r.status_code == 200, r.text
    a = r.json()
    legal = sorted(str(m) for m in Board(fen).legal_moves())
    assert sorted(m["move"] for m in a["moves"]) == legal
    assert math.isclose(sum(m["prob"] for m in a["moves"]), 1.0)
    from kingme.players.policy import DEFAULT_MODEL

    if DEFAULT_MODEL.exists():  # the shipped policy analyses: its probabilities and its value
        # the value is the critic's expected return for the side to move, in [-1, 1]
        assert a["source"].startswith("policy") and a["critic"] and a["turn"] == "white"
        assert -1.0 <= a["value"] <= 1.0
    else:
        assert a["value"] is None and a["source"] == UNIFORM_SOURCE and a["turn"] == "white"
        assert not a["critic"]
    # the same through a game, and for a PDN's final position
    g = new_game(client, fen=fen, human="both")
    assert client.get(f"/api/games/{g['id']}/analysis").json()["moves"] == a["moves"]
    r = client.post("/api/analysis", json={"pdn": "1. 11-15 23-19 *"})
    assert r.status_code == 200 and r.json()["turn"] == "black"
    assert math.isclose(sum(m["prob"] for m in r.json()["moves"]), 1.0)


def test_unknown_game_id_is_404(client: TestClient) -> None:
    for method, path in [
        ("GET", "/api/games/nope"),
        ("POST", "/api/games/nope/undo"),
        ("POST", "/api/games/nope/resign"),
        ("POST", "/api/games/nope/reply"),
        ("GET", "/api/games/nope/pdn"),
        ("GET", "/api/games/nope/analysis"),
        ("DELETE", "/api/games/nope"),
    ]:
        one_line_error(client.request(method, path), 404)
    one_line_error(client.post("/api/games/nope/move", json={"move": "11-15"}), 404)


@pytest.mark.parametrize("fen", ["X:W1:B2", "B:W21-32", "B:W33:B1", "B:W1,1:B2", "", "B:W21-32:B29"])
def test_bad_fen_is_4xx(client: TestClient, fen: str) -> None:
    one_line_error(client.post("/api/analysis", json={"fen": fen}), 400, 422)
    one_line_error(client.post("/api/games", json={"fen": fen}), 400, 422)


def test_bad_pdn_and_bad_specs_are_4xx(client: TestClient) -> None:
    one_line_error(client.post("/api/games", json={"pdn": "1. 11-15 11-15 *"}), 422)
    one_line_error(client.post("/api/games", json={"pdn": "[Event"}), 422)
    one_line_error(client.post("/api/analysis", json={}), 422)
    one_line_error(client.post("/api/games", json={"fen": "B:W21-32:B1-12", "pdn": "*"}), 422)
    for spec in [
        "nobody",
        "alphabeta:x",
        "human",
        "policy:/etc/passwd",
        "mix:0.1:policy:x.pt",
        "alphabeta:30",
    ]:
        one_line_error(client.post("/api/games", json={"opponent": spec}), 422)
        one_line_error(client.post("/api/analysis", json={"fen": "B:W21-32:B1-12", "model": spec}), 422)
    one_line_error(client.post("/api/games", json={"human": "red"}), 422)
    assert client.post("/api/games", json={"opponent": "alphabeta:20:50"}).status_code == 201


def test_undo_resign_goto_and_pdn_loading(client: TestClient) -> None:
    g = new_game(client, human="black")
    gid = g["id"]
    one_line_error(client.post(f"/api/games/{gid}/undo"), 409)
    g = client.post(f"/api/games/{gid}/move", json={"move": "11-15"}).json()
    assert len(g["line"]) == 2
    g = client.post(f"/api/games/{gid}/undo").json()
    assert g["line"] == [] and g["fen"] == Board().fen() and g["your_turn"]
    client.post(f"/api/games/{gid}/move", json={"move": "9-13"})
    g = client.post(f"/api/games/{gid}/resign").json()
    assert g["result"] == "0-1" and "Black resigned" in g["reason"]
    assert "0-1" in client.get(f"/api/games/{gid}/pdn").text
    one_line_error(client.post(f"/api/games/{gid}/move", json={"move": "13-17"}), 409)

    pdn = '[Event "t"]\n[Result "1-0"]\n\n1. 11-15 23-19 2. 8-11 22-17 1-0\n'
    g = new_game(client, pdn=pdn, human="both", ply=0)
    gid = g["id"]
    assert g["ply"] == 0 and g["line"] == ["11-15", "23-19", "8-11", "22-17"] and g["fen"] == Board().fen()
    g = client.post(f"/api/games/{gid}/goto", json={"ply": 3}).json()
    b3 = Board()
    for mv in ["11-15", "23-19", "8-11"]:
        b3.push(mv)
    assert g["ply"] == 3 and g["turn"] == "white" and g["fen"] == b3.fen()
    one_line_error(client.post(f"/api/games/{gid}/goto", json={"ply": 9}), 422)
    one_line_error(client.post(f"/api/games/{gid}/goto", json={"ply": -1}), 422)
    assert client.get(f"/api/games/{gid}").json()["ply"] == 3
    g = client.post(f"/api/games/{gid}/move", json={"move": "24-20"}).json()  # cuts the line
    assert g["line"] == ["11-15", "23-19", "8-11", "24-20"] and g["reply"] is None
    g = client.post(f"/api/games/{gid}/reply").json()  # ask the engine in analysis mode
    assert len(g["line"]) == 5 and g["reply"] == g["line"][-1]


def test_draw_by_repetition_is_reported(client: TestClient) -> None:
    g = new_game(client, fen="B:WK32:BK1", human="both")
    gid = g["id"]
    for mv in ["1-5", "32-28", "5-1", "28-32"] * 2:
        g = client.post(f"/api/games/{gid}/move", json={"move": mv}).json()
    assert g["result"] == "1/2-1/2" and "three times" in g["reason"]


def test_store_cap_drops_the_oldest_game(client: TestClient) -> None:
    ids = [new_game(client)["id"] for _ in range(5)]
    assert client.get(f"/api/games/{ids[0]}").status_code == 404
    assert all(client.get(f"/api/games/{i}").status_code == 200 for i in ids[1:])


def test_default_opponent_and_page_and_schema() -> None:
    c = TestClient(create_app())
    info = c.get("/api/players").json()
    from kingme.players.policy import DEFAULT_MODEL

    # the shipped policy is the default opponent when it loads, else the documented fallback
    assert info["default"] == ("policy:default" if DEFAULT_MODEL.exists() else FALLBACK_OPPONENT)
    page = c.get("/")
    assert page.status_code == 200 and "kingme play" in page.text
    assert c.get("/static/app.js").status_code == 200 and c.get("/static/style.css").status_code == 200
    paths = c.get("/openapi.json").json()["paths"]
    assert {"/api/games", "/api/games/{gid}/move", "/api/analysis", "/api/games/{gid}/pdn"} <= set(paths)


class FakePolicy:
    """A stand-in for a trained policy: prefers the first legal move, with a critic."""

    name = "policy:fake"

    def choose(self, board: Board) -> Any:
        return board.legal_moves()[0]

    def reseed(self, seed: int) -> None:
        pass

    def move_probabilities(self, board: Board) -> dict[str, float]:
        moves = board.legal_moves()
        return {str(m): (3.0 if i == 0 else 1.0) for i, m in enumerate(moves)}

    def value(self, board: Board) -> float:
        return -0.25  # an expected return: below 0 for a position the critic expects to draw


def test_analyzer_hook_uses_a_policy_and_normalises() -> None:
    assert analyzer_for(object()) is None
    a = analyzer_for(FakePolicy())
    assert isinstance(a, PolicyAnalyzer)
    out = a.analyze(Board())
    assert isinstance(out, Analysis) and out.value == -0.25 and out.source == "policy:fake"
    assert out.critic and out.to_json()["critic"] is True
    probs = [p for _, p in out.probs]
    assert math.isclose(sum(probs), 1.0) and math.isclose(probs[0], 3 / 9)

    class Bad(FakePolicy):
        def move_probabilities(self, board: Board) -> dict[str, float]:
            return {"1-5": 1.0}

    with pytest.raises(ValueError, match="not legal"):
        PolicyAnalyzer(Bad(), "bad").analyze(Board())


# ------------------------------------------------------------------------------------------------
# Request limits on player specs (a request must not pin a core)


@pytest.mark.parametrize(
    "spec",
    [
        "alphabeta:40:1000000",  # a time limit far over the cap (under the registry's own, a day)
        f"alphabeta:{MAX_UNTIMED_DEPTH + 1}",  # deep without a time limit
        "alphabeta:40",
        f"alphabeta:4:{MAX_MOVE_MS + 1:g}",
        "mix:0.1:alphabeta:40:1000000",  # the inner player of mix is checked too
        "mix:0.1:mix:0.2:alphabeta:30",
        "mix:0.5:human",
        "human",
        "policy:/etc/passwd",
        "policy:./model.safetensors:sample",
    ],
)
def test_request_limits_refuse_long_searches_files_and_terminals(client: TestClient, spec: str) -> None:
    detail = one_line_error(client.post("/api/games", json={"opponent": spec}), 422)
    assert repr(spec) in detail
    one_line_error(client.post("/api/analysis", json={"fen": "B:W21-32:B1-12", "model": spec}), 422)
    assert refusal(parse_spec(spec)) is not None


@pytest.mark.parametrize(
    "spec",
    [
        f"alphabeta:{MAX_UNTIMED_DEPTH}",
        "alphabeta:40:50",
        f"alphabeta:6:{MAX_MOVE_MS:g}",
        "mix:0.2:alphabeta:3",
        "greedy",
        "random",
    ],
)
def test_request_limits_accept_what_the_page_needs(client: TestClient, spec: str) -> None:
    assert refusal(parse_spec(spec)) is None
    g = new_game(client, opponent=spec, human="white")  # the engine moves first
    assert len(g["line"]) == 1 and g["opponent"] == spec and not g["thinking"]


def test_the_servers_own_opponent_is_trusted() -> None:
    c = TestClient(create_app("random", trusted_specs=("alphabeta:12",)))
    assert c.post("/api/games", json={"opponent": "alphabeta:12"}).status_code == 201
    assert c.post("/api/games", json={"opponent": "alphabeta:13"}).status_code == 422
    limits = c.get("/api/players").json()["limits"]
    assert limits == {
        "max_untimed_depth": MAX_UNTIMED_DEPTH,
        "max_move_ms": MAX_MOVE_MS,
        "request_seconds": REQUEST_SECONDS,
        "max_body": MAX_BODY,
    }


def test_engine_move_on_your_turn_is_refused(client: TestClient) -> None:
    g = new_game(client, opponent="random", human="black")
    before = client.get(f"/api/games/{g['id']}").json()
    detail = one_line_error(client.post(f"/api/games/{g['id']}/reply"), 409)
    assert "your turn" in detail
    assert client.get(f"/api/games/{g['id']}").json() == before
    # stepped back to the opponent's turn, it may move (the line is cut there)
    client.post(f"/api/games/{g['id']}/move", json={"move": "11-15"})
    g = client.post(f"/api/games/{g['id']}/goto", json={"ply": 1}).json()
    assert g["turn"] == "white" and not g["your_turn"]
    g = client.post(f"/api/games/{g['id']}/reply").json()
    assert g["ply"] == 2 and g["reply"] == g["line"][1] and g["your_turn"]
    # in analysis mode it moves for either side
    g = new_game(client, opponent="random", human="both")
    assert client.post(f"/api/games/{g['id']}/reply").json()["ply"] == 1


def test_a_bad_pdn_is_a_4xx_naming_where(client: TestClient) -> None:
    detail = one_line_error(client.post("/api/games", json={"pdn": "1. 11-15 {oops 23-19 *"}), 422)
    assert "unclosed comment" in detail and "line 1, column 10" in detail
    t0 = time.perf_counter()
    detail = one_line_error(client.post("/api/games", json={"pdn": "{" * 200_000}), 422)
    assert "line 1, column 1" in detail and time.perf_counter() - t0 < 5.0
    detail = one_line_error(client.post("/api/analysis", json={"pdn": '[Event "x"\n1. 11-15'}), 422)
    assert "unclosed tag" in detail


def test_docs_page_is_local(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/openapi.json" in page.text and "/api/games/{gid}/move" in page.text
    assert re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]", page.text, re.I) is None, "external host"
    assert client.get("/redoc").status_code == 404


def test_game_over_analysis_knows_its_critic(client: TestClient) -> None:
    from kingme.players.policy import DEFAULT_MODEL

    if not DEFAULT_MODEL.exists():
        pytest.skip("no shipped model")
    a = client.post("/api/analysis", json={"fen": "W:W:B1", "model": "policy:default"}).json()
    assert a["moves"] == [] and a["value"] is None and a["critic"] is True


def test_play_help_names_the_shipped_model() -> None:
    from kingme.web.commands import build_parser

    text = " ".join(build_parser().format_help().split())
    assert "policy:default, the shipped model" in text
    assert "none does" not in text and "once a shipped model exists" not in text


# --- the cost bound of a request -----------------------------------------------------------------

KING_ENDING = "B:WK1,K2,K3,K4,K5:BK28,K29,K30,K31,K32"  # a slow position for a search


def test_a_deep_search_analysis_answers_within_the_budget() -> None:
    """Before the budget, this request ran 11-16 s (the depth limit bounds depth, not cost)."""
    c = TestClient(create_app("random"))
    body = {"fen": KING_ENDING, "model": "search:policy:default:10"}
    c.post("/api/analysis", json={"fen": KING_ENDING, "model": "search:policy:default:1"})  # load, compile
    t0 = time.perf_counter()
    r = c.post("/api/analysis", json=body)
    dt = time.perf_counter() - t0
    assert dt < REQUEST_SECONDS + 0.5, f"answered after {dt:.1f} s, budget {REQUEST_SECONDS} s"
    assert r.status_code == 200, r.text
    a = r.json()
    assert math.isclose(sum(m["prob"] for m in a["moves"]), 1.0, abs_tol=1e-6) and a["value"] is not None
    assert a["search_cut"] or a["best"] == a["pv"][0]  # the search's result, or says it was cut


def test_a_player_that_ignores_its_budget_is_answered_at_the_budget() -> None:
    app = create_app("random", budget=0.5)
    app.state.games.analyze_position = lambda *a, **k: time.sleep(3)  # a player that never looks
    c = TestClient(app)
    t0 = time.perf_counter()
    r = c.post("/api/analysis", json={"fen": "B:W21-32:B1-12"})
    assert time.perf_counter() - t0 < 1.5
    assert "budget of 0.5 s" in one_line_error(r, 422)


def test_an_engine_move_cut_by_the_budget_is_a_one_line_4xx_and_changes_nothing() -> None:
    from kingme.players.limits import Stopped

    app = create_app("random", budget=0.5)
    c = TestClient(app)
    g = new_game(c, opponent="random", human="both")

    def over(board: Board) -> str:  # a player cut by its limit: no move to give
        time.sleep(0.5)
        raise Stopped("time budget of 0.5 s spent")

    game = app.state.games.store.get(g["id"])
    game.opponent.choose = over
    one_line_error(c.post(f"/api/games/{g['id']}/reply"), 422)
    after = c.get(f"/api/games/{g['id']}").json()
    assert after["line"] == [] and not after["thinking"]


def test_a_full_search_pool_answers_503_at_once() -> None:
    app = create_app("random", workers=1, queue=1, budget=3.0)
    release = threading.Event()
    app.state.games.analyze_position = lambda *a, **k: release.wait(5) and {"moves": []}
    c = TestClient(app)
    answers: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(c.post("/api/analysis", json={"fen": "B:W21-32:B1-12"}).status_code)
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while app.state.pool.load() < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    t0 = time.perf_counter()
    r = c.post("/api/analysis", json={"fen": "B:W21-32:B1-12"})
    assert time.perf_counter() - t0 < 0.5
    assert "busy" in one_line_error(r, 503) and r.headers["retry-after"] == "1"
    assert c.get("/api/players").status_code == 200  # a read is not behind the searches
    release.set()
    for t in threads:
        t.join(5)
    assert answers == [200, 200]


@pytest.mark.parametrize(
    "spec", ["policy:default:sample:1e308", "alphabeta:4:1e-9", "alphabeta:4:inf", "mix:nan:random", "alphabeta:1e308"]
)
def test_absurd_numbers_in_a_spec_are_a_one_line_422(client: TestClient, spec: str) -> None:
    r = client.post("/api/analysis", json={"fen": "B:W21-32:B1-12", "model": spec})
    one_line_error(r, 422)
    one_line_error(client.post("/api/games", json={"opponent": spec}), 422)


def test_request_bodies_are_capped(client: TestClient) -> None:
    big = b'{"fen": "' + b"x" * MAX_BODY + b'"}'
    r = client.post("/api/analysis", content=big, headers={"Content-Type": "application/json"})
    assert "over" in one_line_error(r, 413)

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        yield b'{"fen": "'
        for _ in range(MAX_BODY // 4096 + 2):
            yield b"x" * 4096
        yield b'"}'

    r = client.post("/api/analysis", content=chunks(), headers={"Content-Type": "application/json"})
    assert "over" in one_line_error(r, 413)


# --- the page's needs ------------------------------------------------------------------------------


def test_after_a_resignation_the_analysis_offers_nothing(client: TestClient) -> None:
    g = new_game(client, opponent="random", human="black")
    client.post(f"/api/games/{g['id']}/resign")
    a = client.get(f"/api/games/{g['id']}/analysis", params={"model": "policy:default"}).json()
    assert a["moves"] == [] and a["value"] is None and a["wdl"] is None and a["pv"] is None
    assert "over" in a["source"]


def test_an_imported_pdns_tags_are_kept_on_export(client: TestClient) -> None:
    pdn = '[Event "Club match"]\n[Black "Ann"]\n[White "Bob"]\n[Date "2024.01.02"]\n1. 11-15 23-19 *'
    g = new_game(client, pdn=pdn, human="both")
    text = client.get(f"/api/games/{g['id']}/pdn").text
    (game,) = read_games(text)
    assert {k: game.tags[k] for k in ("Event", "Black", "White", "Date")} == {
        "Event": "Club match",
        "Black": "Ann",
        "White": "Bob",
        "Date": "2024.01.02",
    }
    assert [str(m) for m in game.moves] == ["11-15", "23-19"]


def test_the_opponent_can_be_changed_in_analysis_mode_only(client: TestClient) -> None:
    g = new_game(client, opponent="random", human="both")
    r = client.post(f"/api/games/{g['id']}/opponent", json={"opponent": "alphabeta:2"})
    assert r.status_code == 200 and r.json()["opponent"] == "alphabeta:2"
    assert client.get(f"/api/games/{g['id']}").json()["opponent"] == "alphabeta:2"
    client.post(f"/api/games/{g['id']}/reply")
    assert client.get(f"/api/games/{g['id']}/pdn").status_code == 200
    one_line_error(client.post(f"/api/games/{g['id']}/opponent", json={"opponent": "nobody"}), 422)
    played = new_game(client, opponent="random", human="black")
    assert "fixed" in one_line_error(
        client.post(f"/api/games/{played['id']}/opponent", json={"opponent": "greedy"}), 409
    )


def test_a_search_models_choice_and_line_are_in_the_analysis(client: TestClient) -> None:
    a = client.post("/api/analysis", json={"fen": "B:W21-32:B1-12", "model": "alphabeta:3"}).json()
    assert a["policy"] is False and a["best"] == a["pv"][0]
    assert [len(p) for p in a["pv_paths"]] == [2] * len(a["pv"])
    assert a["best"] in [m["move"] for m in a["moves"]]
    assert not a["search_cut"]


def test_an_analyzer_serves_one_request_at_a_time_within_the_budget() -> None:
    """A search keeps state between calls: two requests must not run the same one at once."""
    from kingme.players.limits import Limit, Stopped, bounded
    from kingme.web.sessions import OneAtATime

    inside, most = 0, 0
    lock = threading.Lock()

    class Slow:
        source = "slow"

        def analyze(self, board: Board) -> Analysis:
            nonlocal inside, most
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.3)
            with lock:
                inside -= 1
            return Analysis([], None, "slow")

    a = OneAtATime(Slow())
    outcomes: list[str] = []

    def ask(seconds: float) -> None:
        with bounded(Limit(seconds=seconds)):
            try:
                a.analyze(Board())
                outcomes.append("done")
            except Stopped:
                outcomes.append("stopped")

    threads = [threading.Thread(target=ask, args=(5.0,)) for _ in range(3)]
    threads.append(threading.Thread(target=ask, args=(0.1,)))  # gives up waiting within its budget
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most == 1 and sorted(outcomes) == ["done", "done", "done", "stopped"]


def test_a_games_analysis_never_uses_the_games_own_player() -> None:
    """The game's player may be searching its move; the analysis asks a copy of its own."""
    app = create_app("random")
    c = TestClient(app)
    g = new_game(c, opponent="search:policy:default:2", human="both")
    game = app.state.games.store.get(g["id"])

    def busy(board: Board) -> Any:
        raise AssertionError("the analysis used the game's player")

    game.opponent.principal_variation = game.opponent.move_probabilities = busy
    a = c.get(f"/api/games/{g['id']}/analysis").json()
    assert a["best"] is not None and a["source"] == "search:policy:default:2"
