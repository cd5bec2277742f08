"""Experiments: the deep-sea and grid tasks by hand, the statistics, and a tiny run of every experiment."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from kingme.common import UserError
from kingme.envs.base import VecEnv
from kingme.envs.deepsea import DeepSea
from kingme.envs.gridworld import ShapedGrid
from kingme.experiments import commands
from kingme.experiments.registry import experiments
from kingme.stats import mean_ci, t_quantile, welch_diff


def play(env: DeepSea, right: bool) -> tuple[float, bool]:
    """One episode in env copy 0 moving always right (or always left); return (return, terminated)."""
    env.reset()
    total = 0.0
    for _ in range(env.size):
        row, col = env.row.copy(), env.col.copy()
        a = env.right_action[row, col] if right else 1 - env.right_action[row, col]
        out = env.step(a)
        total += float(out.reward[0])
    return total, bool(out.terminated[0])


@pytest.mark.parametrize("randomize", [True, False])
def test_deepsea_returns_by_hand(randomize: bool) -> None:
    env = DeepSea(5, 2, randomize_actions=randomize)
    assert isinstance(env, VecEnv)
    # always right: 5 right moves at 0.01/5 each, then +1 in the bottom-right corner
    ret, term = play(env, right=True)
    assert ret == pytest.approx(1.0 - 5 * 0.01 / 5) and term
    assert ret == pytest.approx(0.99)
    # always left: no cost, never reaches the reward
    ret, term = play(env, right=False)
    assert ret == 0.0 and term
    assert env.episodes == 4 and env.successes == 2  # 2 copies × 2 episodes; the right ones succeeded


def test_deepsea_left_first_is_also_rewarded_and_auto_reset() -> None:
    env = DeepSea(4, 1)
    obs, mask = env.reset()
    assert mask is None and obs.shape == (1, 16) and obs[0, 0] == 1.0
    actions = [1 - env.right_action[0, 0]]  # left at column 0: clipped, stays in column 0
    total = float(env.step(np.array(actions)).reward[0])
    for r in range(1, 4):
        total += float(env.step(np.array([env.right_action[r, r - 1]])).reward[0])
    assert total == pytest.approx(1.0 - 3 * 0.01 / 4)
    assert env.row[0] == 0 and env.col[0] == 0  # reset in the same step


def test_deepsea_reward_probability() -> None:
    env = DeepSea(6, 1)
    uniform = np.full((36, 2), 0.5)
    p_reward, p_path = env.reward_probability(uniform)
    assert p_reward == pytest.approx(2.0**-5)  # two rewarded sequences out of 2^6
    assert p_path == pytest.approx(2.0**-6)
    always_right = np.zeros((36, 2))
    always_right[np.arange(36), env.right_action.reshape(-1)] = 1.0
    assert env.reward_probability(always_right) == pytest.approx((1.0, 1.0))
    assert env.reward_probability(1.0 - always_right) == pytest.approx((0.0, 0.0))


def test_grid_progress_shaping_pays_for_oscillation() -> None:
    env = ShapedGrid(1, "progress", bonus=0.1, time_limit=50)
    env.reset()
    rewards = [float(env.step(np.array([a])).reward[0]) for a in (3, 2, 3, 2)]  # right, left, right, left
    assert rewards == pytest.approx([0.1, 0.0, 0.1, 0.0])
    pot = ShapedGrid(1, "potential", bonus=0.1, gamma=0.98)
    pot.reset()
    r1, r2 = (float(pot.step(np.array([a])).reward[0]) for a in (3, 2))
    # γΦ(s')−Φ(s) with Φ = −0.1·distance: 8 → 7 → 8
    assert r1 == pytest.approx(0.98 * -0.7 + 0.8) and r2 == pytest.approx(0.98 * -0.8 + 0.7)
    assert r1 + 0.98 * r2 < 0.1  # far less than the progress shaping pays for the same cycle


def test_grid_goal_and_stats() -> None:
    env = ShapedGrid(1, "true", size=3)
    env.reset()
    outs = [env.step(np.array([a])) for a in (1, 1, 3, 3)]  # down, down, right, right
    assert [float(o.reward[0]) for o in outs] == [0.0, 0.0, 0.0, 1.0]
    assert bool(outs[-1].terminated[0])
    assert env.pop_stats() == {
        "grid/success_rate": 1.0,
        "grid/progress_bonus": pytest.approx(0.4),
        "grid/steps_away": 0.0,
        "grid/length": 4.0,
    }
    with pytest.raises(UserError):
        ShapedGrid(1, "coins")


def test_stats_intervals() -> None:
    assert t_quantile(2) == pytest.approx(4.303)
    iv = mean_ci([1.0, 2.0, 3.0])
    assert iv.mean == 2.0 and iv.hi - iv.mean == pytest.approx(4.303 * 1.0 / math.sqrt(3), rel=1e-6)
    assert math.isnan(mean_ci([1.0]).lo)
    d = welch_diff([10.0, 11.0, 12.0], [0.0, 1.0, 2.0])
    assert d.mean == pytest.approx(10.0) and d.lo > 0


@pytest.mark.parametrize("name", list(experiments()))
def test_every_experiment_tiny(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / name
    args = ["run", name, "--tiny", "--seeds", "2", "--json", "--runs-dir", str(tmp_path), "--run-name", name]
    assert commands.main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["experiment"] == name and doc["table"] and doc["answer"] and doc["folder"] == str(out)
    for f in ("report.md", "config.json", "results.json", "metrics.jsonl"):
        assert (out / f).is_file()
    assert list(out.glob("*.png"))
    results = json.loads((out / "results.json").read_text())
    assert len(results["runs"]) == 2 * len(results["table"])
    report = (out / "report.md").read_text()
    assert "## Answer" in report and "95%" in report
    (out / "report.md").unlink()
    assert commands.main(["report", str(out)]) == 0  # rewritten from results.json, no training
    assert (out / "report.md").read_text() == report


def test_list_and_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert commands.main(["list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in experiments())
    with pytest.raises(UserError, match="unknown experiment"):
        commands.main(["run", "nope"])
    with pytest.raises(UserError, match="--seeds"):
        commands.main(["run", "clipping", "--seeds", "1"])
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("")
    with pytest.raises(UserError, match="not empty"):
        commands.main(["run", "clipping", "--runs-dir", str(tmp_path), "--run-name", "x"])
    with pytest.raises(UserError, match="plain folder name"):
        commands.main(["run", "clipping", "--runs-dir", str(tmp_path), "--run-name", "../escape"])
    with pytest.raises(UserError, match="not an experiment folder"):
        commands.main(["report", str(tmp_path / "x")])


MODEL_ORGANISMS = ("cot-monitor", "cot-faithfulness", "process-reward", "hack-generalisation")
MODEL_ORGANISMS += ("goal-misgeneralisation", "kl-placement", "lm-flawed-verifier", "spurious-rewards")
MODEL_ORGANISMS += ("entropy-law", "goodhart", "pos-neg-samples", "loss-explained", "rl-razor", "sycophancy")
MODEL_ORGANISMS += ("entropy-law-early", "cot-necessity")


def test_an_experiment_runs_its_own_default_seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the model-organism experiments need at least 5 seeds; without --seeds they get them
    assert all(experiments()[name].seeds >= 5 for name in MODEL_ORGANISMS)
    assert experiments()["clipping"].seeds == 3
    asked: list[int] = []

    def stop(exp: object, seeds: int, *args: object, **kwargs: object) -> None:
        asked.append(seeds)
        raise KeyboardInterrupt

    import kingme.experiments.runner as runner

    monkeypatch.setattr(runner, "run_experiment", stop)
    for name, argv in (("kl-placement", []), ("kl-placement", ["--seeds", "2"]), ("clipping", [])):
        with pytest.raises(KeyboardInterrupt):
            commands.main(["run", name, "--tiny", "--runs-dir", str(tmp_path), "--run-name", f"r{len(asked)}", *argv])
    assert asked == [5, 2, 3]
