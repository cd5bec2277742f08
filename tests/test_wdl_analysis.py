"""A win / draw / loss critic reaches the analysis (and so the play page) as three probabilities;
a scalar critic gives none (its value is no probability)."""

import pytest

from kingme.checkers import Board
from kingme.nets import make_network
from kingme.players.policy import PolicyPlayer
from kingme.web.analysis import PolicyAnalyzer


@pytest.mark.parametrize("head", ["wdl", "scalar"])
def test_analysis_reports_win_draw_loss_only_for_a_wdl_critic(head: str) -> None:
    player = PolicyPlayer(make_network("mlp", (16,), 8, (6, 32), 128, head), "p")
    out = PolicyAnalyzer(player, "p").analyze(Board()).to_json()
    if head == "scalar":
        assert out["wdl"] is None
        return
    w, d, lo = out["wdl"]["win"], out["wdl"]["draw"], out["wdl"]["loss"]
    assert min(w, d, lo) >= 0 and w + d + lo == pytest.approx(1.0, abs=1e-5)
    assert out["value"] == pytest.approx(w - lo, abs=1e-5)  # V = P(win) - P(loss)


def test_a_search_bot_analyses_with_its_best_line_and_score() -> None:
    from fastapi.testclient import TestClient

    from kingme.web.app import create_app

    client = TestClient(create_app("random"))
    fen = "B:W18,22,23:B14,15"  # Black to move: 14-17? no; a quiet position with several moves
    r = client.post("/api/analysis", json={"fen": fen, "model": "alphabeta:4"})
    assert r.status_code == 200, r.text
    a = r.json()
    assert "search; no policy" in a["source"] and a["value"] is None
    board = Board(fen)
    assert a["pv"] and a["pv"][0] in {str(m) for m in board.legal_moves()}
    for text in a["pv"]:  # the line is playable move by move
        board.push(board.parse_move(text))
    assert isinstance(a["score"], float) and "a man = 100" in a["score_units"]


def test_the_net_search_player_gives_a_line_that_starts_with_its_move() -> None:
    from kingme.players.search import SearchPlayer

    agent = make_network("mlp", (16,), 8, (6, 32), 128, "wdl")
    player = SearchPlayer(agent, 3, 0.0, 0, name="search:test")
    board = Board()
    out = PolicyAnalyzer(player, "search:test").analyze(board)
    assert out.pv and out.pv[0] == player.choose(board) and out.score is not None
    assert out.wdl is not None  # the critic's own win / draw / loss, beside the search's score


@pytest.mark.parametrize("head", ["wdl", "scalar"])
def test_the_search_players_fast_heads_equal_the_networks_own(head: str) -> None:
    import torch

    from kingme.players.search import network_heads

    agent = make_network("mlp", (16,), 8, (6, 32), 128, head)
    obs = torch.rand(7, 6, 32)
    value, logits = network_heads(agent)
    assert torch.allclose(value(obs), agent.value(obs), atol=1e-6)
    assert torch.allclose(logits(obs), agent.logits(obs), atol=1e-6)
