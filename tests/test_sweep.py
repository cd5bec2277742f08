"""`kingme sweep`, serial: the grid parsed by PPOConfig's own options, bad values named, the folder.

The Ray backend's agreement with this one is in tests/test_ray_backends.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kingme.cli import main as cli
from kingme.common import UserError
from kingme.stats import summarise
from kingme.sweep import parse_grid, settings, sweep_arms

TINY = ["--total-steps", "256", "--num-steps", "32", "--update-epochs", "2"]


def test_grid_values_take_the_config_types() -> None:
    grid = parse_grid(
        [
            "learning_rate=1e-3,3e-3",
            "num-envs=4,8",
            "clip_policy=true,false",
            "hidden_sizes=64,64;32",
            "target_kl=none,0.02",
        ]
    )
    assert grid == {
        "learning_rate": [1e-3, 3e-3],
        "num_envs": [4, 8],
        "clip_policy": [True, False],
        "hidden_sizes": [(64, 64), (32,)],
        "target_kl": [None, 0.02],
    }
    combos = settings({"a": [1, 2], "b": ["x", "y", "z"]})
    assert combos[0] == {"a": 1, "b": "x"} and combos[-1] == {"a": 2, "b": "z"} and len(combos) == 6
    drawn = settings({"a": [1, 2], "b": ["x", "y", "z"]}, random=4, sample_seed=3)
    assert len(drawn) == 4 and all(d in combos for d in drawn) and len({str(d) for d in drawn}) == 4
    assert drawn == settings({"a": [1, 2], "b": ["x", "y", "z"]}, random=4, sample_seed=3)  # reproducible
    with pytest.raises(UserError, match="more than the grid's 6 settings"):
        settings({"a": [1, 2], "b": ["x", "y", "z"]}, random=7)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("lr=1e-3", "'lr' is not a PPOConfig field"),
        ("learning_rate", "expected FIELD=V1,V2"),
        ("learning_rate=abc", "--learning-rate: expected float"),
        ("activation=tanh,sigmoid", "expected one of tanh, relu"),
        ("clip_policy=yes", "takes true or false"),
        ("seed=1,2", "set by the sweep"),
        ("num_envs=4,4", "given twice"),
    ],
)
def test_bad_grid_entries_name_the_field(entry: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_grid([entry])


def test_values_go_through_the_config_validation() -> None:
    arms = sweep_arms("gym:CartPole-v1", {"total_steps": 256}, settings(parse_grid(["num_envs=4,8"])))
    assert [a.overrides for a in arms] == [{"total_steps": 256, "num_envs": 4}, {"total_steps": 256, "num_envs": 8}]
    with pytest.raises(UserError, match="--grid setting num_envs=0: num-envs must be at least 1"):
        sweep_arms("gym:CartPole-v1", {}, settings(parse_grid(["num_envs=4,0"])))
    with pytest.raises(UserError, match="--grid setting num_minibatches=3: num-minibatches"):
        sweep_arms("gym:CartPole-v1", {}, settings(parse_grid(["num_minibatches=3"])))


def test_bad_command_lines_are_one_line_and_make_no_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["gym:CartPole-v1", "--grid", "num_envs=0,4"],
        ["gym:CartPole-v1", "--grid", "bogus=1"],
        ["gym:CartPole-v1"],
        ["gym:CartPole-v1", "--grid", "num_envs=4,8", "--seeds", "1"],
        ["nope:1", "--grid", "num_envs=4,8"],
    ):
        assert cli(["sweep", *argv, "--runs-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("kingme sweep: error: ") and err.count("\n") == 1, err
    assert not any(tmp_path.iterdir())


def test_sweep_folder_table_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sweep", "gym:CartPole-v1", "--grid", "learning_rate=1e-3,3e-3", "--grid", "num_envs=4,8", "--seeds", "2"]
    argv += [*TINY, "--runs-dir", str(tmp_path), "--run-name", "s", "--json"]
    assert cli(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    out = tmp_path / "s"
    assert doc["folder"] == str(out)
    for f in ("config.json", "results.json", "metrics.jsonl", "report.md", "final_return.png"):
        assert (out / f).is_file(), f
    config = json.loads((out / "config.json").read_text())
    assert config["sweep"]["grid"] == ["learning_rate=1e-3,3e-3", "num_envs=4,8"] and config["sweep"]["seeds"] == 2
    assert config["base"] == {"total_steps": 256, "num_steps": 32, "update_epochs": 2}  # the options given
    assert [a["config"]["num_envs"] for a in config["arms"]] == [4, 8, 4, 8]
    assert [a["config"]["learning_rate"] for a in config["arms"]] == [1e-3, 1e-3, 3e-3, 3e-3]
    results = json.loads((out / "results.json").read_text())
    assert len(results["runs"]) == 4 * 2
    for row in results["table"]:  # mean and 95% interval per setting, from the seeds' own values
        values = [r["metrics"]["final_return"] for r in results["runs"] if r["arm"] == row["arm"]]
        iv = summarise(values, (0.0, 500.0))  # CartPole's return lies in [0, 500]
        assert row["final_return"]["mean"] == pytest.approx(iv.mean) and row["final_return"]["lo"] == pytest.approx(
            iv.lo
        )
    report = (out / "report.md").read_text()
    assert "| learning_rate=0.003, num_envs=8 | gym:CartPole-v1 |" in report and "Ranked by final return" in report
    assert "![final return per setting](final_return.png)" in report
