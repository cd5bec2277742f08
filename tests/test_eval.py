"""`kingme eval` and `evaluate`: whole episodes of a trained policy, a mean with its 95% interval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from kingme import cli
from kingme.envs.gym_adapter import GymVecEnv
from kingme.nets import MLPActorCritic
from kingme.ppo.checkpoint import list_checkpoints
from kingme.ppo.eval import StopAtReturn, evaluate
from kingme.ppo.train import UpdateInfo

SMALL = ["--num-envs", "4", "--num-steps", "16", "--update-epochs", "2", "--quiet"]


def kingme(*args: str) -> int:
    try:
        return cli.main(list(args))
    except SystemExit as e:
        return int(e.code or 0)


def train(runs: Path, name: str, steps: str) -> int:
    return kingme(
        "train", "gym:CartPole-v1", *SMALL, "--total-steps", steps, "--runs-dir", str(runs), "--run-name", name
    )


class Push(MLPActorCritic):
    """A policy that always pushes one way (the largest logit by far): CartPole falls in ~10 steps."""

    def __init__(self, action: int) -> None:
        super().__init__((4,), 2, (8,), "tanh", "separate")
        self.action = action

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        out = torch.full((obs.shape[0], 2), -20.0)
        out[:, self.action] = 20.0
        return out


def test_evaluate_plays_exactly_the_episodes_asked_for() -> None:
    env = GymVecEnv("CartPole-v1", 3, env_kwargs={"max_episode_steps": 7})
    res = evaluate(Push(0), env, 10, deterministic=True)
    env.close()
    assert len(res.returns) == len(res.lengths) == 10
    assert all(1 <= n <= 7 for n in res.lengths)
    assert res.returns == [float(n) for n in res.lengths]  # CartPole pays 1 per step


def test_evaluate_sampled_and_greedy_actions() -> None:
    env = GymVecEnv("CartPole-v1", 2)
    greedy = evaluate(Push(1), env, 4, deterministic=True, seed=1)
    sampled = evaluate(MLPActorCritic((4,), 2, (8,), "tanh", "separate"), env, 20, seed=1)
    env.close()
    assert max(greedy.lengths) < 20  # always pushing right topples the pole quickly
    assert np.mean(sampled.lengths) > np.mean(greedy.lengths)  # a near-uniform policy lasts longer


def test_stop_at_return_needs_a_full_window() -> None:
    stop = StopAtReturn(10.0, window=5)
    agent = MLPActorCritic((4,), 2, (8,), "tanh", "separate")
    opt = torch.optim.Adam(agent.parameters())
    info = UpdateInfo(1, 64, {"charts/recent_return": 12.0, "charts/total_episodes": 4.0}, agent, opt, None)
    stop(info)
    assert not info.stop and stop.hit is None
    info = UpdateInfo(
        2, 128, {"charts/recent_return": 12.0, "charts/total_episodes": 5.0}, agent, opt, None, elapsed=1.5
    )
    stop(info)
    assert info.stop and stop.hit == (2, 128, 1.5)


def test_cli_eval_run_folder_and_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert (
        kingme(
            "train", "gym:CartPole-v1", *SMALL, "--total-steps", "128", "--runs-dir", str(tmp_path), "--run-name", "r"
        )
        == 0
    )
    capsys.readouterr()
    assert kingme("eval", str(tmp_path / "r"), "--episodes", "6", "--num-envs", "2") == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("gym:CartPole-v1, 6 episodes (sampled actions): mean return") and "95% CI" in line
    ckpt = list_checkpoints(tmp_path / "r" / "checkpoints")[0]
    assert kingme("eval", str(ckpt), "--episodes", "5", "--deterministic", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["episodes"] == 5 and out["deterministic"] is True
    assert out["ci95"][0] <= out["mean_return"] <= out["ci95"][1]
    assert out["min_length"] <= out["mean_length"] <= out["max_length"]
    assert out["mean_return"] == pytest.approx(out["mean_length"])  # CartPole: return = length


def test_cli_eval_uses_the_saved_environment_options(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["--total-steps", "128", "--runs-dir", str(tmp_path), "--run-name", "f", "--normalize-obs"]
    kw = ["--env-kwargs", "map_name=8x8", "is_slippery=False"]
    assert kingme("train", "gym:FrozenLake-v1", *SMALL, *args, *kw) == 0
    capsys.readouterr()
    assert kingme("eval", str(tmp_path / "f"), "--episodes", "3", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["env"] == "gym:FrozenLake-v1" and out["episodes"] == 3
    assert out["max_length"] <= 200  # FrozenLake 8x8's time limit


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no/such/run"], "does not exist"),
        (["RUN", "--episodes", "0"], "episodes must be at least 1"),
        (["RUN", "--which", "worst"], "which must be latest or best"),
        (["RUN", "--episode", "3"], "unrecognized arguments"),  # no abbreviations
    ],
)
def test_cli_eval_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    assert (
        kingme(
            "train", "gym:CartPole-v1", *SMALL, "--total-steps", "64", "--runs-dir", str(tmp_path), "--run-name", "r"
        )
        == 0
    )
    capsys.readouterr()
    argv = [str(tmp_path / "r") if a == "RUN" else a for a in args]
    assert kingme("eval", *argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
