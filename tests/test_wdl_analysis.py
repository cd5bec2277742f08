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
