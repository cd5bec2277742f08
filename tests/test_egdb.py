"""The endgame database (kingme.egdb) on small signatures: counts, indexing, consistency with the
rules, agreement with alpha-beta searches, resuming, bad files, the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kingme.checkers import Board
from kingme.cli import main as cli_main
from kingme.common import UserError
from kingme.egdb.build import build
from kingme.egdb.index import (
    DRAW,
    INVALID,
    LOSS,
    PUBLISHED_COUNTS,
    WIN,
    flip_signature,
    index_of,
    signatures,
    table_size,
    unindex,
)
from kingme.egdb.probe import KEEPS, board_result, move_results
from kingme.egdb.store import open_store, table_name
from kingme.egdb.verify import consistency, search_check


@pytest.fixture(scope="module")
def db3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("egdb3")
    build(folder, 3)
    return folder


def test_counts_match_published(db3: Path) -> None:
    m = json.loads((db3 / "egdb.json").read_text())
    for n in (1, 2, 3):
        assert m["pieces"][str(n)]["positions"] == PUBLISHED_COUNTS[n]
        r = m["pieces"][str(n)]
        assert r["win"] + r["draw"] + r["loss"] == r["positions"]
    # one side alone: Black to move with only Black pieces wins, with only White's loses
    assert m["pieces"]["1"]["win"] == 60 and m["pieces"]["1"]["loss"] == 60
    # the 80-ply rule's analysis agrees with the tables and finds every zeroing move in time
    for n in ("1", "2", "3"):
        assert m["pieces"][n]["zeroing_disagreements"] == 0
        assert m["pieces"][n]["max_zeroing"] <= m["pieces"][n]["max_depth"]
        assert m["pieces"][n]["beyond_80_plies"] == 0
    assert m["pieces"]["3"]["max_depth"] == 34  # the longest 3-piece conversion, as built today
    # king against king, published by E. Trice (damforum.nl, "2-piece database" slice report):
    # 992 positions, 230 wins, 654 draws, 108 losses for the side to move, the longest win 11 plies
    kk = m["tables"]["b0k1w0k1"]
    assert (kk["positions"], kk["win"], kk["draw"], kk["loss"], kk["max_depth"]) == (992, 230, 654, 108, 11)


def test_tables_built_before_the_rule_analysis_get_it(tmp_path: Path) -> None:
    build(tmp_path, 2)
    path = tmp_path / "egdb.json"
    m = json.loads(path.read_text())
    want = {k: dict(v) for k, v in m["tables"].items()}
    for v in m["tables"].values():
        for k in ("max_zeroing", "beyond_80_plies", "zeroing_disagreements"):
            del v[k]
    path.write_text(json.dumps(m))
    again = build(tmp_path, 2)
    assert again["last_build"]["tables_built"] == 0
    assert {k: {f: v[f] for f in ("max_zeroing", "zeroing_disagreements")} for k, v in again["tables"].items()} == {
        k: {f: v[f] for f in ("max_zeroing", "zeroing_disagreements")} for k, v in want.items()
    }


def test_index_round_trip() -> None:
    rng = np.random.default_rng(1)
    for sig in [(1, 1, 1, 1), (2, 0, 1, 1), (0, 2, 0, 2), (3, 0, 2, 0), (1, 0, 0, 4)]:
        size = table_size(*sig)
        valid = 0
        for i in rng.integers(0, size, 300):
            bm, bk, wm, wk, ok = unindex(int(i), *sig)
            if not ok:
                continue
            valid += 1
            assert [bin(int(x)).count("1") for x in (bm, bk, wm, wk)] == list(sig)
            assert not (bm | wm) & (bk | wk) and not bm & wm and not bk & wk
            assert int(bm) < 1 << 28 and int(wm) & 0xF == 0  # men never on their crowning row
            assert index_of(bm, bk, wm, wk) == i
        assert valid > 200


def test_signatures_order_puts_dependencies_first() -> None:
    order = {s: i for i, s in enumerate(signatures(5))}
    for (bm, bk, wm, wk), i in order.items():
        if bm:  # a crowning: one man fewer, one king more, same pieces
            assert order[(bm - 1, bk + 1, wm, wk)] < i
        if bk + bm > 1:  # a capture of a Black piece: one piece fewer
            assert order[(bm, bk - 1, wm, wk) if bk else (bm - 1, bk, wm, wk)] < i
        assert flip_signature(flip_signature((bm, bk, wm, wk))) == (bm, bk, wm, wk)


def test_tables_satisfy_the_minimax_equations(db3: Path) -> None:
    store = open_store(db3)
    c = consistency(store, 3)
    assert c["positions"] == sum(PUBLISHED_COUNTS[n] for n in (1, 2, 3))
    assert {k: v for k, v in c.items() if k != "positions"} == dict.fromkeys(
        [
            "win_without_losing_reply",
            "loss_with_non_winning_reply",
            "draw_with_losing_reply",
            "draw_without_drawn_reply",
        ],
        0,
    )


def test_alphabeta_never_contradicts_and_proves_wins_and_losses(db3: Path) -> None:
    store = open_store(db3)
    out = search_check(store, 3, samples=25, depth=10, seed=3)
    for r in out.values():
        assert r["contradict"] == 0
        assert r["agree"] == r["proven_by_search"]
    assert out["win"]["proven_by_search"] >= 5 and out["loss"]["proven_by_search"] >= 5
    assert out["draw"]["proven_by_search"] == 0


def test_known_positions(db3: Path) -> None:
    store = open_store(db3)
    assert board_result(store, Board("B:WK32:BK1,K5")) == WIN  # two kings beat one
    assert board_result(store, Board("W:WK32:BK1,K5")) == LOSS  # whoever moves
    assert board_result(store, Board("B:WK32:BK1")) == DRAW  # one king each, far apart
    # White's man on 29 can neither step to 25 nor jump it (22 is taken): no move, lost
    assert Board("W:W29:B22,25").legal_moves() == []
    assert board_result(store, Board("W:W29:B22,25")) == LOSS
    for fen in ("B:WK32:BK1,K5", "W:W10,K30:BK19", "B:W14:B5,K9"):
        board = Board(fen)
        v = board_result(store, board)
        res = [r for _, r in move_results(store, board)]
        assert (v == WIN) == (LOSS in res)
        assert any(r == KEEPS[v] for r in res) or not res


def test_side_to_move_twins_agree(db3: Path) -> None:
    """A White-to-move position is read from its colour-flipped twin: probing both gives one result."""
    store = open_store(db3)
    for fen, twin in (("B:W14:B5,K9", "W:WK24,28:B19"), ("W:WK30:B10,K11", "B:WK22,23:BK3")):
        assert board_result(store, Board(fen)) == board_result(store, Board(twin))


def test_resume_and_bad_tables(tmp_path: Path) -> None:
    build(tmp_path, 2)
    # a missing table and a corrupt one: reading names them, the build rebuilds only those pairs
    (tmp_path / f"{table_name((1, 0, 0, 1))}.wdl").unlink()
    bad = tmp_path / f"{table_name((0, 1, 0, 1))}.wdl"
    raw = bytearray(bad.read_bytes())
    raw[0] ^= 0xFF
    bad.write_bytes(bytes(raw))
    with pytest.raises(UserError, match="egdb build --pieces 2"):
        open_store(tmp_path)
    m = build(tmp_path, 2)
    assert m["last_build"]["tables_built"] == 3  # (1,0,0,1) with its flip (0,1,1,0), and (0,1,0,1)
    open_store(tmp_path)
    truncated = tmp_path / f"{table_name((0, 2, 0, 0))}.wdl"
    truncated.write_bytes(truncated.read_bytes()[:-1])
    with pytest.raises(UserError, match="partial"):
        open_store(tmp_path)
    assert not list(tmp_path.glob("*.tmp"))


def test_invalid_indices_are_marked(db3: Path) -> None:
    store = open_store(db3)
    sig = (1, 0, 1, 0)
    i = index_of(np.uint64(1 << 10), np.uint64(0), np.uint64(1 << 10), np.uint64(0))  # both men on square 11
    from kingme.egdb.index import read2

    assert read2(store.data, store.offsets[sig], i) == INVALID


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["egdb", "build", "--pieces", "9", "--dir", str(tmp_path)]) == 2
    assert cli_main(["egdb", "build", "--pieces", "x", "--dir", str(tmp_path)]) == 2
    assert cli_main(["egdb", "probe", "--fen", "B:W21:B1", "--dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "--pieces must be" in err[0] and "kingme egdb build" in err[2]
    assert not list(tmp_path.iterdir())


def test_cli_build_probe_info(db3: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["egdb", "info", "--dir", str(db3), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["pieces"]["3"]["matches_published"] is True
    assert cli_main(["egdb", "probe", "--fen", "B:WK32:BK1,K5", "--dir", str(db3), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["result"] == "win" and set(out["moves"].values()) <= {"win", "draw", "loss"}
    assert cli_main(["egdb", "probe", "--fen", "B:W21,22,23,24:B1", "--dir", str(db3)]) == 2


def test_ctrl_c_stops_a_build_leaving_only_complete_tables(tmp_path: Path, db3: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "kingme.cli", "egdb", "build", "--pieces", "4", "--dir", str(tmp_path)]
    # As from a terminal: a suite started in the background (a CI runner, `make test &`) has SIGINT
    # ignored, the child would inherit that, and a program started with SIGINT ignored ignores Ctrl-C.
    default_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint
    )
    manifest = tmp_path / "egdb.json"
    deadline = time.time() + 60
    while time.time() < deadline and not (manifest.exists() and len(json.loads(manifest.read_text())["tables"]) > 40):
        time.sleep(0.05)
    assert proc.poll() is None, "the build finished before it could be interrupted"
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert time.time() - t0 < 2.0
    assert proc.returncode == 130 and "interrupted" in err
    assert not list(tmp_path.glob(".*tmp*"))
    done = json.loads(manifest.read_text())["tables"]
    for name, entry in done.items():  # every table the manifest names is complete
        assert (tmp_path / f"{name}.wdl").stat().st_size == entry["bytes"]


def test_grade_writes_report_and_plot(db3: Path, tmp_path: Path) -> None:
    from kingme.egdb.grade import GradeConfig, grade

    out, png = tmp_path / "grade.json", tmp_path / "grade.png"
    cfg = GradeConfig(
        dir=str(db3),
        critic_samples=60,
        move_samples=6,
        players=("alphabeta:2", "policy:default", "egdb:random"),
        endings=3,
        defender="alphabeta:2",
        out=str(out),
        plot=str(png),
    )
    lines: list[str] = []
    report = grade(cfg, lines.append)
    assert png.stat().st_size > 10_000 and json.loads(out.read_text())["critic"]["n"] == 60
    c = report["critic"]
    assert sum(sum(row) for row in c["confusion"].values()) == 60
    assert 0.0 <= c["brier"]["mean"] <= 2.0 and 0.0 <= c["accuracy"]["lo"] <= c["accuracy"]["hi"] <= 1.0
    for row in report["moves"]["players"].values():
        assert row["win"]["n"] == 6 and row["draw"]["n"] == 6
    assert report["moves"]["players"]["alphabeta:2"]["win"]["mean"] >= 0.5
    # the database's veto: even a random mover keeps every result
    assert report["moves"]["players"]["egdb:random"]["all"]["mean"] == 1.0
    assert report["endings"]["positions"] == 3 and set(report["endings"]["players"]) == set(cfg.players)
    assert any("critic policy:default" in line for line in lines)


def test_grade_brier_and_reliability_by_hand() -> None:
    from kingme.egdb.grade import brier, reliability

    probs = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    truth = np.array([0, 1, 0])  # win, draw, win
    # (0) perfect: 0; (1) 0.25 + 0.25 = 0.5; (2) 0.64 + 0.09 + 0.25 = 0.98
    assert np.allclose(brier(probs, truth), [0.0, 0.5, 0.98])
    rows = {(r["class"], r["bin"]): r for r in reliability(probs, truth)}
    assert rows[("win", 9)]["observed"] == 1.0 and rows[("win", 5)]["observed"] == 0.0
    assert rows[("draw", 5)]["observed"] == 1.0


def test_egdb_player_keeps_results_and_resets_the_clock(db3: Path) -> None:
    from kingme.egdb.player import EgdbPlayer
    from kingme.players import load_player

    store = open_store(db3)
    player = EgdbPlayer(load_player("random", 1), store, seed=1)
    # Black wins with 2 kings against 1 only if it keeps the win; random moves often would not
    for fen in ("B:WK32:BK1,K5", "W:W10,K30:BK19", "B:W14:B5,K9", "B:WK27:B11,K12"):
        board = Board(fen)
        v = board_result(store, board)
        for _ in range(20):
            move = player.choose(board)
            assert dict(move_results(store, board))[move] == KEEPS[v]
    # uncovered positions are the inner player's
    start = Board()
    assert player.choose(start) in start.legal_moves()
