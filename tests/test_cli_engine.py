"""Smoke tests of the engine's commands, and one-line errors for bad input."""

import json

import numpy as np
import pytest

from kingme.cli import main


def test_perft_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["perft", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["nodes"] == 7361 and out["depth"] == 5


def test_perft_divide(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["perft", "2", "--divide"]) == 0
    assert "perft(2) = 49" in capsys.readouterr().out


def test_moves_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["moves", "--fen", "W:WK2:B6,7,14,15", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["moves"] == ["2x9x18x11x2", "2x11x18x9x2"]
    assert main(["show"]) == 0
    assert "Black to move" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["perft", "3", "--fen", "B:W21:B33"],
        ["moves", "--fen", "nonsense"],
        ["perft", "-1"],
        ["perft", "x"],
        ["nosuchcommand"],
        ["train", "nonsense"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) if argv[:2] == ["perft", "x"] else _nothing():
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


def test_bench_engine_quick(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "engine", "--quick", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["perft"]["nodes"] == 3963680
    assert res["perft"]["bare_nodes_per_second"] > 0 and res["perft"]["ratio_to_bare"] > 0
    assert res["vec_env"]["steps_per_second"] > 0 and res["random_games"]["games_per_second"] > 0


def test_bare_perft_is_exact() -> None:
    from kingme.bench import bare_perft
    from kingme.checkers import Board

    for fen, depth, nodes in [(None, 7, 179740), ("W:WK2:B6,7,14,15", 1, 2)]:
        b = Board(fen)
        assert bare_perft(np.uint64(b.black), np.uint64(b.white), np.uint64(b.kings), int(b.turn), depth) == nodes


@pytest.mark.parametrize("command", [["perft", "2"], ["moves"], ["show"]])
@pytest.mark.parametrize("fen", ["", "  "])
def test_an_empty_fen_is_refused_not_read_as_the_start(
    command: list[str], fen: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--fen "$POS"` with an empty $POS used to analyse the initial position without a word
    assert main([*command, "--fen", fen]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "--fen is empty" in captured.err


def test_bench_targets_have_one_list_that_both_helps_show(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    from kingme.bench import TARGETS
    from kingme.cli import COMMANDS, usage

    assert set(TARGETS) == {"engine", "train", "search", "ppo-suite", "lm"}
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    bench_help = capsys.readouterr().out
    assert "{" + ",".join(TARGETS) + "}" in bench_help  # every target, ppo-suite included
    # `kingme --help` names no target of its own (it listed some and missed `search` before)
    assert not re.search(r"bench (engine|train|search|ppo-suite)", usage())
    assert "kingme bench --help" in COMMANDS["bench"][2]
    # the experiments are about language models too, not only PPO
    assert "published claims about PPO and RL on language models" in COMMANDS["experiment"][2]
    assert max(len(line) for line in usage().splitlines()) <= 120


@pytest.mark.parametrize(("target", "prog"), [("ppo-suite", "kingme bench ppo-suite"), ("lm", "kingme bench lm")])
def test_bench_targets_with_their_own_options_show_them(
    target: str, prog: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        main(["bench", target, "--help"])
    assert e.value.code == 0 and f"usage: {prog}" in capsys.readouterr().out
