"""CLI smoke tests for `kingme dt`, and one-line errors for bad config values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kingme.cli import main as cli_main

TINY = [
    "--nodes",
    "8",
    "--edge-prob",
    "0.3",
    "--walks",
    "40",
    "--max-steps",
    "5",
    "--seeds",
    "2",
    "--steps",
    "3",
    "--n-embd",
    "16",
    "--eval-episodes",
    "2",
    "--quiet",
]


def test_run_writes_report_config_results_and_histogram(tmp_path: Path, capsys) -> None:
    rc = cli_main(["dt", "run", *TINY, "--runs-dir", str(tmp_path), "--run-name", "r", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    run = tmp_path / "r"
    for name in ("report.md", "config.json", "results.json", "path_lengths.png"):
        assert (run / name).stat().st_size > 0, name
    config = json.loads((run / "config.json").read_text())
    assert config["walks"] == 40 and config["seeds"] == 2
    assert set(out["methods"]) == {"random", "bc", "dt", "rp", "shortest"}
    assert len(out["per_seed"]) == 2
    assert out["methods"]["shortest"]["success"]["mean"] == 1.0
    assert (run / "path_lengths.png").read_bytes()[:4] == b"\x89PNG"
    assert "Decision Transformer" in (run / "report.md").read_text()


def test_run_is_reproducible(tmp_path: Path, capsys) -> None:
    outs = []
    for name in ("a", "b"):
        cli_main(["dt", "run", *TINY, "--runs-dir", str(tmp_path), "--run-name", name, "--json"])
        outs.append(json.loads(capsys.readouterr().out))
    for seed_a, seed_b in zip(outs[0]["per_seed"], outs[1]["per_seed"]):
        assert seed_a["methods"] == seed_b["methods"]
        assert seed_a["final_loss"] == seed_b["final_loss"]


def test_goal_conditioned_with_relabelling_runs(tmp_path: Path, capsys) -> None:
    args = [*TINY, "--goal-conditioned", "--relabel", "--seeds", "1", "--runs-dir", str(tmp_path)]
    assert cli_main(["dt", "run", *args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    seed = out["per_seed"][0]
    assert seed["goal"] is None and seed["data_walks"] > 40  # relabelled copies were added


def test_sweep_stochastic_writes_a_row_per_probability(tmp_path: Path, capsys) -> None:
    args = [*TINY, "--seeds", "1", "--fail-probs", "0,0.3", "--runs-dir", str(tmp_path), "--run-name", "s"]
    assert cli_main(["dt", "sweep-stochastic", *args]) == 0
    results = json.loads((tmp_path / "s" / "results.json").read_text())
    assert [row["fail_prob"] for row in results["sweep"]] == [0.0, 0.3]
    assert (tmp_path / "s" / "stochastic.png").stat().st_size > 0
    assert capsys.readouterr().out == f"{tmp_path / 's'}\n"  # --quiet: just the run folder
    lines = (tmp_path / "s" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["fail_prob"] for line in lines] == [0.0, 0.3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--walks", "-5"], "--walks must be at least 1"),
        (["--edge-prob", "1.5"], "--edge-prob must lie in [0, 1]"),
        (["--edge-prob", "-0.1"], "--edge-prob must lie in [0, 1]"),
        (["--nodes", "1"], "--nodes must be at least 2"),
        (["--fail-prob", "1"], "--fail-prob must lie in [0, 1)"),
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--fixed-target", "3"], "--fixed-target must lie in"),
        (["--n-embd", "33"], "--n-embd must be a positive multiple"),
    ],
)
def test_bad_config_is_a_one_line_user_error(args: list[str], message: str, capsys, tmp_path) -> None:
    rc = cli_main(["dt", "run", *args, "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and message in err
    assert not any(tmp_path.iterdir())  # nothing was written


def test_bad_sweep_probabilities_and_unknown_subcommand(capsys, tmp_path) -> None:
    with pytest.raises(SystemExit) as exc:  # a non-number in a list field is argparse's one-line error
        cli_main(["dt", "sweep-stochastic", "--fail-probs", "0,x", "--runs-dir", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--fail-probs" in err and err.count("\n") == 1
    assert cli_main(["dt", "sweep-stochastic", "--fail-probs", "0,1.2"]) == 2
    assert "[0, 1)" in capsys.readouterr().err
    assert cli_main(["dt", "fly"]) == 2
    assert "unknown dt command" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse: a non-number is one line too
        cli_main(["dt", "run", "--walks", "many"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
