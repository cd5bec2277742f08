"""`kingme bench ppo-suite`: the environments, one learner's runs, the table, the options."""

from __future__ import annotations

import builtins
from dataclasses import replace
from typing import Any

import pytest

from kingme import cli
from kingme.common import UserError
from kingme.ppo import suite
from kingme.ppo.suite import BY_NAME, SUITE, SeedResult, run_kingme, run_suite, summary_row

TINY_GRID = replace(BY_NAME["grid"], budget=4096)


def test_the_suite_holds_the_documented_environments() -> None:
    ids = {e.env_id for e in SUITE}
    assert {"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "FrozenLake-v1", "LunarLander-v3"} <= ids
    assert {"kingme/DeepSea-v0", "kingme/GridWorld-v0"} <= ids
    assert BY_NAME["deepsea"].kwargs == {"size": 8}


def test_kingme_solves_the_grid_and_reports_steps_within_the_budget() -> None:
    r = run_kingme(TINY_GRID, seed=1)
    assert r.solved and r.steps is not None and r.steps <= TINY_GRID.budget
    assert r.final is not None and r.final >= TINY_GRID.threshold and r.seconds > 0


def test_an_unsolved_run_spends_its_budget() -> None:
    hard = replace(BY_NAME["grid"], threshold=2.0, budget=2048)  # a return of 2 is impossible
    r = run_kingme(hard, seed=1)
    assert not r.solved and r.steps is None


def test_summary_counts_solved_seeds_and_medians() -> None:
    spec = BY_NAME["cartpole"]
    rows = [
        SeedResult("cartpole", "kingme", 1, 1000, 2.0, 480.0),
        SeedResult("cartpole", "kingme", 2, 3000, 4.0, 490.0),
        SeedResult("cartpole", "kingme", 3, None, 9.0, 100.0),
    ]
    assert summary_row(spec, rows, ["kingme"]) == "| cartpole (CartPole-v1) | 475 / 20 | 100,000 | 2/3 | 2,000 | 3.0 |"


def test_run_suite_prints_runs_and_summary_without_sb3() -> None:
    lines: list[str] = []
    results = run_suite([TINY_GRID], [1, 2], with_sb3=False, out=lines.append)
    assert [r.learner for r in results] == ["kingme", "kingme"]
    assert sum(line.startswith("| grid | kingme |") for line in lines) == 2
    assert lines[-1].startswith("| grid (kingme/GridWorld-v0) | 0.95 / 20 | 4,096 |")
    assert "sb3" not in "\n".join(lines)


def test_without_sb3_the_suite_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    real_import = builtins.__import__

    def no_sb3(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("stable_baselines3"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sb3)
    monkeypatch.setattr(suite, "BY_NAME", {**BY_NAME, "grid": TINY_GRID})
    assert cli.main(["bench", "ppo-suite", "--envs", "grid", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert "stable-baselines3 is not installed" in out and "| grid | kingme | 1 |" in out


def test_bad_options_are_one_line_exit_2(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["bench", "ppo-suite", "--envs", "pong"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown suite environment 'pong'" in err
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "ppo-suite", "--seed", "1"])  # abbreviations are refused
    assert exc.value.code == 2


def test_sb3_side_runs_on_the_same_environment() -> None:
    pytest.importorskip("stable_baselines3", reason="the optional kingme[sb3] extra")
    r = suite.run_sb3(replace(BY_NAME["grid"], budget=2048), seed=1)
    assert r.learner == "sb3" and r.seconds > 0 and (r.steps is None or r.steps <= 2048)
    assert r.final is not None and 0.0 <= r.final <= 1.0  # the grid's true return: 1 at the goal, else 0


def test_set_changes_kingmes_settings_and_refuses_unknown_fields(capsys: pytest.CaptureFixture) -> None:
    short = replace(BY_NAME["grid"], budget=512)  # less than one default batch (8 x 128 steps)...
    with pytest.raises(UserError, match="at least one batch"):
        run_kingme(short, seed=1)
    r = run_kingme(short, seed=1, overrides={"num_steps": 16})  # ...but 4 batches of 8 x 16
    assert r.seconds > 0 and (r.steps is None or r.steps <= 512)
    assert cli.main(["bench", "ppo-suite", "--skip-sb3", "--set", "no_such_field=1"]) == 2
    assert "--set no_such_field" in capsys.readouterr().err
    assert cli.main(["bench", "ppo-suite", "--skip-sb3", "--set", "seed=3"]) == 2
