"""The PPO training loop: invariants, ablation switches, masking, run folders, checkpoints, CLI."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from kingme import cli
from kingme.common import UserError
from kingme.envs.base import VecStep
from kingme.envs.gym_adapter import GymVecEnv
from kingme.nets import MLPActorCritic
from kingme.ppo.buffer import RolloutBuffer
from kingme.ppo.checkpoint import list_checkpoints, load_checkpoint
from kingme.ppo.config import PPOConfig
from kingme.ppo.train import (
    EpisodeStats,
    UpdateInfo,
    collect_rollout,
    evaluate_old_policy,
    load_agent,
    train,
)
from kingme.runs.budget import Budget
from kingme.runs.logger import read_metrics

TIMING_KEYS = {"time", "charts/SPS"}


def small(**overrides: object) -> PPOConfig:
    """A few tiny updates on CartPole: for invariants, not for learning."""
    base = PPOConfig(
        env="gym:CartPole-v1",
        num_envs=4,
        num_steps=16,
        total_steps=4 * 16 * 3,
        update_epochs=2,
        device="cpu",
        tensorboard=False,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def run(cfg: PPOConfig, **kwargs: object) -> list[dict]:
    env = GymVecEnv("CartPole-v1", cfg.num_envs)
    try:
        return train(cfg, env, **kwargs).history  # type: ignore[arg-type]
    finally:
        env.close()


# ---------------------------------------------------------------------------------------------
# Toy environments
# ---------------------------------------------------------------------------------------------

VALUES = np.array([1.0, 0.6, 0.3, 0.1], dtype=np.float32)


class MaskedBandit:
    """One-step episodes with 4 actions worth (1.0, 0.6, 0.3, 0.1). Each action is legal with
    probability 1/2 (at least one always is), so the best action is illegal half the time and the
    best legal action is the legal one with the lowest index. The observation is the mask.
    An illegal action is counted, never silently accepted."""

    num_actions = 4
    obs_shape = (4,)

    def __init__(self, num_envs: int) -> None:
        self.num_envs = num_envs
        self.rng = np.random.default_rng(0)
        self.mask = np.ones((num_envs, 4), dtype=bool)
        self.illegal = 0
        self.steps = 0
        self.best = 0

    def _draw(self) -> np.ndarray:
        mask = self.rng.random((self.num_envs, 4)) < 0.5
        mask[np.arange(self.num_envs), self.rng.integers(0, 4, self.num_envs)] = True
        self.mask = mask
        return mask

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        mask = self._draw()
        return mask.astype(np.float32), mask.copy()

    def step(self, actions: np.ndarray) -> VecStep:
        rows = np.arange(self.num_envs)
        legal = self.mask[rows, actions]
        self.illegal += int((~legal).sum())
        self.best += int((actions == self.mask.argmax(1)).sum())  # argmax: first legal index
        self.steps += self.num_envs
        reward = np.where(legal, VALUES[actions], -10.0).astype(np.float32)
        final_obs = self.mask.astype(np.float32)
        mask = self._draw()
        done = np.ones(self.num_envs, dtype=bool)
        return VecStep(mask.astype(np.float32), reward, done, ~done, mask.copy(), final_obs)

    def close(self) -> None:
        pass


class Corridor:
    """obs = [t / 10]; reward 1 per step; every episode is cut by a time limit after 3 steps."""

    num_actions = 2
    obs_shape = (1,)

    def __init__(self, num_envs: int) -> None:
        self.num_envs = num_envs
        self.t = np.zeros(num_envs)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, None]:
        self.t[:] = 0
        return (self.t[:, None] / 10).astype(np.float32), None

    def step(self, actions: np.ndarray) -> VecStep:
        self.t += 1
        final_obs = (self.t[:, None] / 10).astype(np.float32)
        truncated = self.t >= 3
        self.t[truncated] = 0
        obs = (self.t[:, None] / 10).astype(np.float32)
        n = self.num_envs
        return VecStep(obs, np.ones(n, np.float32), np.zeros(n, bool), truncated, None, final_obs)

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# Invariants
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_minibatches", [1, 4])
def test_ratio_is_exactly_one_on_first_minibatch(num_minibatches: int) -> None:
    history = run(small(num_minibatches=num_minibatches))
    assert len(history) == 3
    assert all(row["debug/first_ratio_dev"] == 0.0 for row in history)
    # ... and the policy did move afterwards, so the check is not vacuous.
    assert all(row["losses/approx_kl"] > 0 for row in history)


def test_same_seed_same_metrics_and_other_seed_differs() -> None:
    def strip(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]

    a, b = strip(run(small(seed=7))), strip(run(small(seed=7)))
    c = strip(run(small(seed=8)))
    assert a == b
    assert a != c


def test_truncated_episodes_bootstrap_from_the_value_of_final_obs() -> None:
    env = Corridor(2)
    agent = MLPActorCritic(env.obs_shape, env.num_actions)
    buf = RolloutBuffer(4, 2, env.obs_shape, env.num_actions, has_mask=False)
    obs, mask = env.reset()
    collect_rollout(agent, env, buf, obs, mask, EpisodeStats(2, 5), torch.device("cpu"))
    old = evaluate_old_policy(agent, buf.to_device(torch.device("cpu")))
    assert buf.truncated[:, 0].tolist() == [False, False, True, False]
    with torch.no_grad():
        v_final = agent.value(torch.tensor([[0.3]]))[0]  # the state the time limit cut off
        v_reset = agent.value(torch.tensor([[0.0]]))[0]
    torch.testing.assert_close(old.final_values[2], v_final.expand(2))
    assert not torch.allclose(old.final_values[2], v_reset.expand(2))
    torch.testing.assert_close(old.values[3], v_reset.expand(2))  # s_3 is the new episode


def test_masked_ppo_never_samples_an_illegal_action() -> None:
    env = MaskedBandit(8)
    cfg = replace(small(), env="toy", num_envs=8, num_steps=8, total_steps=8 * 8 * 4)
    history = train(cfg, env).history
    assert env.steps == cfg.total_steps
    assert env.illegal == 0
    assert all(r["debug/first_ratio_dev"] == 0.0 for r in history)  # masks reused in the update
    assert all(math.isfinite(r["losses/entropy"]) and math.isfinite(r["losses/policy_loss"]) for r in history)


@pytest.mark.learning
@pytest.mark.parametrize("seed", [1, 2])
def test_masked_ppo_learns_the_best_legal_action(seed: int) -> None:
    # Seeds 1-5 on this project's 2-core x86-64 CPU: P(best) 0.991-0.999, greedy accuracy 1.0.
    env = MaskedBandit(8)
    # Minibatches of 32 (4 of the batch of 128): with the default 8 (16 samples each) this toy's
    # policy dips at update 40 (P(best) 0.90, where 30 updates give 0.998 and 45 give 0.999; measured), and
    # this test is about the mask, not that setting.
    cfg = PPOConfig(
        env="toy", num_envs=8, num_steps=16, total_steps=8 * 16 * 40, device="cpu", gamma=0.0, tensorboard=False,
        num_minibatches=4, seed=seed,
    )  # fmt: skip
    result = train(cfg, env)
    assert env.illegal == 0
    # Greedy choice over fresh random masks: the legal action with the lowest index.
    rng = np.random.default_rng(123)
    mask = rng.random((2000, 4)) < 0.5
    mask[np.arange(2000), rng.integers(0, 4, 2000)] = True
    best = mask.argmax(1)

    def policy(agent: torch.nn.Module) -> torch.Tensor:
        with torch.no_grad():
            logits = agent.logits(torch.from_numpy(mask.astype(np.float32)))
            return torch.softmax(logits.masked_fill(~torch.from_numpy(mask), -1e9), -1)

    untrained = policy(MLPActorCritic(env.obs_shape, env.num_actions))
    assert float(untrained[np.arange(2000), best].mean()) < 0.7  # about uniform over legal ones
    probs = policy(result.agent)
    p_best = probs[np.arange(2000), best]
    assert float(p_best.mean()) > 0.9
    assert float((probs.argmax(1).numpy() == best).mean()) > 0.98
    # Where the best action was illegal, the second-best legal one is preferred.
    second = ~mask[:, 0]
    assert float((probs.argmax(1).numpy()[second] == best[second]).mean()) > 0.98


# ---------------------------------------------------------------------------------------------
# Ablation switches and options
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"clip_policy": False},
        {"clip_value": True},
        {"critic": "baseline"},
        {"critic": "none"},
        {"gae_lambda": 1.0},
        {"normalize_advantages": False},
        {"trunk": "shared"},
        {"activation": "relu", "hidden_sizes": (32,)},
        {"anneal_lr": False, "max_grad_norm": None},
        {"ent_coef": 0.01, "ent_schedule": "constant"},
    ],
)
def test_ablation_switches_run_and_stay_finite(overrides: dict) -> None:
    history = run(small(**overrides))
    assert len(history) == 3
    for row in history:
        for key in ("losses/policy_loss", "losses/entropy", "losses/approx_kl"):
            assert math.isfinite(row[key]), (key, row[key])
    assert ("losses/value_loss" in history[0]) == (overrides.get("critic") != "none")


def test_without_frozen_old_policy_the_ratio_is_always_one() -> None:
    history = run(small(freeze_old_policy=False, update_epochs=4))
    for row in history:
        assert row["losses/approx_kl"] == 0.0 and row["losses/clipfrac"] == 0.0
    # With θ_old frozen the later epochs do see r ≠ 1.
    assert any(r["losses/approx_kl"] > 0 for r in run(small(update_epochs=4)))


def test_target_kl_stops_epochs_early() -> None:
    history = run(small(update_epochs=10, target_kl=1e-7, learning_rate=1e-2))
    assert all(row["charts/epochs"] < 10 for row in history)
    assert all(row["charts/epochs"] == 10 for row in run(small(update_epochs=10)))


@pytest.mark.parametrize("schedule", ["linear", "exponential"])
def test_entropy_schedule_decays(schedule: str) -> None:
    cfg = small(ent_coef=0.1, ent_coef_final=0.001, ent_schedule=schedule, total_steps=64 * 5)
    coefs = [row["charts/entropy_coef"] for row in run(cfg)]
    assert coefs[0] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(coefs, coefs[1:]))


def test_learning_rate_anneals_linearly() -> None:
    lrs = [row["charts/learning_rate"] for row in run(small(learning_rate=3e-3, anneal_lr=True))]
    assert lrs == pytest.approx([3e-3, 2e-3, 1e-3])


def test_budget_fraction_is_the_further_of_steps_and_time() -> None:
    b = Budget(1000, 10.0)
    assert b.fraction(250, 1.0) == pytest.approx(0.25)
    assert b.fraction(250, 5.0) == pytest.approx(0.5)
    assert b.fraction(2000, 0.0) == 1.0
    assert Budget(1000).fraction(500, 1e9) == pytest.approx(0.5)  # no time limit: steps only
    assert Budget(1000).spent(960, 0.0, 64) and not Budget(1000).spent(936, 0.0, 64)
    assert Budget(1000, 10.0).spent(0, 10.0, 64)
    assert Budget.of(small().total_steps, 0) == Budget(small().total_steps, None)


def test_default_budget_is_the_configs_steps() -> None:
    cfg = small(total_steps=64 * 3 + 10)  # a partial batch is not run
    assert [r["update"] for r in run(cfg)] == [1, 2, 3]
    assert [r["update"] for r in run(cfg, budget=Budget(64 * 2))] == [1, 2]


def test_time_budget_stops_the_run_and_drives_the_schedules(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import kingme.ppo.train

    cfg = small(
        total_steps=10**9, learning_rate=1e-3, anneal_lr=True, ent_coef=0.01, ent_coef_final=0.0, ent_schedule="linear"
    )
    seen: list[tuple[float, bool]] = []
    # The loop's clock moves 1/16 s (exact in binary) in each update's callback and stands still
    # otherwise, so the 0.5 s budget is spent by update 8's callback and update 9 is the last, on any
    # machine (on the real clock the count depended on the machine's speed).
    clock = [0.0]
    monkeypatch.setattr(kingme.ppo.train, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))

    def slow(info: UpdateInfo) -> None:
        seen.append((info.budget_fraction, info.last))
        clock[0] += 1 / 16

    history = run(cfg, budget=Budget(10**9, 0.5), callbacks=[slow])
    assert cfg.total_steps == 10**9  # the config is not rewritten
    assert len(history) == 9
    lrs = [r["charts/learning_rate"] for r in history]
    ents = [r["charts/entropy_coef"] for r in history]
    assert all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 0.3e-3  # annealed over the time budget
    assert ents[-1] < 0.003
    assert seen[-1][1] and not any(last for _, last in seen[:-1])  # callbacks learn which update is last
    assert seen[-1][0] == 1.0


def test_training_time_counts_across_resume(tmp_path: Path) -> None:
    run(small(total_steps=64 * 2), run_dir=tmp_path)
    spent = load_checkpoint(tmp_path).state["elapsed"]
    assert spent > 0
    # Resuming with a time budget already spent makes no update.
    assert run(small(total_steps=64 * 10), run_dir=tmp_path, resume=True, budget=Budget(64 * 10, spent / 2)) == []
    history = run(small(total_steps=64 * 3), run_dir=tmp_path, resume=True)
    assert [r["update"] for r in history] == [3] and history[0]["time"] > spent


def test_a_new_run_never_writes_into_an_old_one(tmp_path: Path) -> None:
    run(small(total_steps=64 * 2), run_dir=tmp_path)
    before = (tmp_path / "metrics.jsonl").read_text()
    with pytest.raises(UserError, match="already holds a run"):
        run(small(total_steps=64 * 2), run_dir=tmp_path)
    assert (tmp_path / "metrics.jsonl").read_text() == before


def test_callbacks_can_add_metrics_and_stop(tmp_path: Path) -> None:
    def cb(info: UpdateInfo) -> None:
        info.metrics["custom/update_squared"] = float(info.update**2)
        info.stop = info.update == 2

    history = run(small(total_steps=64 * 10), run_dir=tmp_path, callbacks=[cb])
    assert [r["update"] for r in history] == [1, 2]
    rows = read_metrics(tmp_path)
    assert [r["custom/update_squared"] for r in rows] == [1.0, 4.0]
    assert list_checkpoints(tmp_path / "checkpoints")[-1].name == "update-000002.safetensors"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_shows_steps_and_return_on_stderr(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run(small(), progress=True)
    drawn = terminal.getvalue()
    assert "192/192" in drawn and "SPS" in drawn and "return" in drawn
    assert capsys.readouterr().out == ""  # progress never goes to stdout


def test_progress_bar_draws_nothing_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture) -> None:
    run(small(), progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_custom_network_factory_is_used() -> None:
    built = []

    def factory(obs_shape: tuple[int, ...], num_actions: int, cfg: PPOConfig) -> MLPActorCritic:
        net = MLPActorCritic(obs_shape, num_actions, hidden=(16,), trunk="shared")
        built.append(net)
        return net

    env = GymVecEnv("CartPole-v1", 4)
    result = train(small(), env, make_agent=factory)
    env.close()
    assert result.agent is built[0]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"gamma": 1.5}, "gamma"),
        ({"num_minibatches": 3}, "must divide the batch"),
        ({"total_steps": 10}, "at least one batch"),
        ({"hidden_sizes": "64,32"}, "hidden-sizes"),
        ({"hidden_sizes": ()}, "hidden-sizes"),
        ({"hidden_sizes": (64, 0)}, "hidden-sizes"),
        ({"ent_schedule": "exponential", "ent_coef": 0.0}, "exponential"),
        ({"max_grad_norm": -1.0}, "max-grad-norm"),
        ({"learning_rate": 0.0}, "learning-rate"),
    ],
)
def test_validate_rejects_bad_values_in_one_line(overrides: dict, message: str) -> None:
    with pytest.raises(UserError, match=message) as exc:
        small(**overrides).validate()
    assert "\n" not in str(exc.value)


# ---------------------------------------------------------------------------------------------
# The command, run folders and checkpoints
# ---------------------------------------------------------------------------------------------

CLI_SMALL = ["--num-envs", "4", "--num-steps", "16", "--update-epochs", "2", "--quiet"]


def train_cli(*args: str) -> int:
    """Exit status of `kingme train gym:CartPole-v1 ARGS` (argparse errors exit via SystemExit)."""
    try:
        return cli.main(["train", "gym:CartPole-v1", *args])
    except SystemExit as e:
        return int(e.code or 0)


def test_cli_run_folder(tmp_path: Path) -> None:
    rc = train_cli(
        *CLI_SMALL,
        "--total-steps",
        "192",
        "--runs-dir",
        str(tmp_path),
        "--run-name",
        "r",
        "--keep-checkpoints",
        "2",
        "--gae-lambda",
        "0.9",
    )
    assert rc == 0
    run_dir = tmp_path / "r"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["env"] == "gym:CartPole-v1" and config["gae_lambda"] == 0.9
    assert list(run_dir.glob("events.out.tfevents.*"))
    rows = read_metrics(run_dir)
    assert [r["update"] for r in rows] == [1, 2, 3]
    expected = {
        "charts/episodic_return",
        "charts/episodic_length",
        "charts/SPS",
        "charts/learning_rate",
        "charts/entropy_coef",
        "losses/policy_loss",
        "losses/value_loss",
        "losses/entropy",
        "losses/approx_kl",
        "losses/approx_kl_k1",
        "losses/clipfrac",
        "losses/explained_variance",
        "losses/grad_norm",
    }
    assert expected - {"charts/episodic_return", "charts/episodic_length"} <= set(rows[-1])
    assert expected <= set().union(*rows)  # episodic stats appear once an episode has finished
    ckpts = list_checkpoints(run_dir / "checkpoints")
    assert len(ckpts) in (2, 3)  # the last two, plus the best if it is older
    best = json.loads((run_dir / "checkpoints" / "best.json").read_text())
    assert (run_dir / "checkpoints" / best["name"]).is_file()
    agent, cfg = load_agent(run_dir)
    assert cfg.gae_lambda == 0.9
    assert agent.logits(torch.zeros(1, 4)).shape == (1, 2)


def test_cli_quiet_names_the_run_folder_and_writes_the_learning_curve_report(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert train_cli(*CLI_SMALL, "--total-steps", "192", "--runs-dir", str(tmp_path), "--run-name", "q") == 0
    run_dir = tmp_path / "q"
    assert capsys.readouterr().out == f"{run_dir}\n"  # --quiet still says where the run went
    report = (run_dir / "report.md").read_text()
    assert "learning_curve.png" in report and "gym:CartPole-v1" in report
    assert (run_dir / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for args in (["--gamma", "abc"], ["--num-minibatches", "5"], ["--trunk", "wide"]):
        assert train_cli(*args, "--runs-dir", str(tmp_path)) == 2
        err = capsys.readouterr().err.strip()
        assert err and len(err.splitlines()) == 1, err
    assert cli.main(["train", "gym:Pendulum-v1", "--runs-dir", str(tmp_path)]) == 2
    assert "Discrete" in capsys.readouterr().err


def test_resume_continues_where_the_killed_run_stopped(tmp_path: Path) -> None:
    run_dir = tmp_path / "killed"
    script = (
        "import os, signal, sys\n"
        "from kingme.envs.gym_adapter import GymVecEnv\n"
        "from kingme.ppo.config import PPOConfig\n"
        "from kingme.ppo.train import train\n"
        "cfg = PPOConfig(env='gym:CartPole-v1', num_envs=4, num_steps=16, total_steps=64 * 8,\n"
        "                update_epochs=2, tensorboard=False, device='cpu')\n"
        "def die(info):\n"
        "    if info.update == 5:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)  # mid-run: after batch 5, before its save\n"
        "train(cfg, GymVecEnv('CartPole-v1', 4), run_dir=sys.argv[1], callbacks=[die])\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(run_dir)], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    ckpt = load_checkpoint(run_dir)
    assert ckpt.state["update"] == 4
    # A half-written metrics row and a half-written checkpoint, as a kill could leave them.
    with (run_dir / "metrics.jsonl").open("a") as f:
        f.write('{"update": 5, "global_step": 3')
    (run_dir / "checkpoints" / ".tmp-update-000005.safetensors-99").write_bytes(b"partial")

    cfg = small(total_steps=64 * 8)
    weights_before = {k: v.clone() for k, v in ckpt.weights.items()}
    env = GymVecEnv("CartPole-v1", 4)
    seen: list[int] = []

    def check_first(info: UpdateInfo) -> None:
        seen.append(info.global_step)

    result = train(cfg, env, run_dir=run_dir, resume=True, callbacks=[check_first])
    env.close()
    assert [r["update"] for r in result.history] == [5, 6, 7, 8]
    assert seen[0] == 5 * 64
    assert [r["update"] for r in read_metrics(run_dir)] == list(range(1, 9))
    assert not list((run_dir / "checkpoints").glob(".tmp-*"))
    assert load_checkpoint(run_dir).state["update"] == 8
    assert any(not torch.equal(result.agent.state_dict()[k], weights_before[k]) for k in weights_before)


def test_resume_restores_weights_optimiser_and_rng(tmp_path: Path) -> None:
    run(small(total_steps=64 * 2), run_dir=tmp_path)
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.state["update"] == 2 and ckpt.meta["num_actions"] == 2
    restored = {}

    def grab(info: UpdateInfo) -> None:
        if not restored:
            restored["step"] = info.optimizer.state_dict()["state"][0]["step"]

    run(small(total_steps=64 * 3), run_dir=tmp_path, resume=True, callbacks=[grab])
    # Adam's step counter continued from the checkpoint: 2 updates x 2 epochs x M minibatches, then
    # one more update's 2 x M.
    m = small().num_minibatches
    assert float(ckpt.state["optimizer"]["state"][0]["step"]) == 4 * m
    assert float(restored["step"]) == 6 * m


def test_cli_resume_rules(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = [*CLI_SMALL, "--runs-dir", str(tmp_path)]
    assert train_cli(*base, "--total-steps", "128", "--run-name", "r") == 0
    assert train_cli(*base, "--total-steps", "128", "--run-name", "r") == 2
    assert "already exists" in capsys.readouterr().err
    assert train_cli("--resume", "r", "--runs-dir", str(tmp_path), "--gamma", "0.9") == 2
    assert "drop --gamma" in capsys.readouterr().err
    assert train_cli("--resume", "r", "--runs-dir", str(tmp_path), "--total-steps", "192", "--quiet") == 0
    assert [r["update"] for r in read_metrics(tmp_path / "r")] == [1, 2, 3]
    assert cli.main(["train", "gym:Acrobot-v1", "--resume", "r", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"resume it with `kingme train gym:CartPole-v1 --resume {tmp_path / 'r'}`" in err and err.count("\n") == 1
    # without --quiet it says where training continues from
    assert train_cli("--resume", "r", "--runs-dir", str(tmp_path), "--total-steps", "256") == 0
    assert f"resuming {tmp_path / 'r'} from update 3 (192 steps)\n" in capsys.readouterr().out


def test_resuming_another_kind_of_run_names_the_command_that_resumes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "sp").mkdir()
    (tmp_path / "sp" / "config.json").write_text(json.dumps({"env": "checkers", "num_envs": 256}))
    assert train_cli("--resume", "sp", "--runs-dir", str(tmp_path)) == 2
    err = capsys.readouterr().err
    # it used to say "config has unknown fields for GymPPOConfig: ..."
    assert "holds a `kingme train checkers` run" in err and "kingme train checkers --resume" in err
    assert err.count("\n") == 1 and "unknown fields" not in err
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "config.json").write_text(json.dumps({"task": "addition"}))
    assert train_cli("--resume", "lm", "--runs-dir", str(tmp_path)) == 2
    assert "holds no `kingme train` run" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text('{"env": "gym:CartPole-v1" "seed": 1}')
    assert train_cli("--resume", "bad", "--runs-dir", str(tmp_path)) == 2
    err = capsys.readouterr().err
    # a JSON error says where in words, not as a character offset
    assert "at line 1, column 27" in err and "char" not in err and err.count("\n") == 1


@pytest.mark.parametrize("damage", ["garbage", "truncated", "foreign", "empty_dir"])
def test_corrupt_or_foreign_checkpoint_is_one_line_user_error(
    tmp_path: Path, damage: str, capsys: pytest.CaptureFixture
) -> None:
    assert train_cli(*CLI_SMALL, "--total-steps", "64", "--runs-dir", str(tmp_path), "--run-name", "r") == 0
    ckpt_dir = tmp_path / "r" / "checkpoints"
    latest = list_checkpoints(ckpt_dir)[-1]
    if damage == "garbage":
        latest.write_bytes(os.urandom(300))
    elif damage == "truncated":
        latest.write_bytes(latest.read_bytes()[:-100])
    elif damage == "foreign":
        from safetensors.torch import save_file

        save_file({"w": torch.zeros(2)}, str(latest), metadata={"format": "something-else"})
    else:
        for p in list_checkpoints(ckpt_dir):
            p.unlink()
    with pytest.raises(UserError) as exc:
        load_checkpoint(tmp_path / "r")
    assert "\n" not in str(exc.value)
    rc = train_cli("--resume", "r", "--runs-dir", str(tmp_path), "--total-steps", "128", "--quiet")
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "checkpoint" in err, err


# ---------------------------------------------------------------------------------------------
# Learning
# ---------------------------------------------------------------------------------------------


@pytest.mark.learning
@pytest.mark.parametrize("seed", [1, 2])
def test_cartpole_learns_with_the_defaults(seed: int) -> None:
    """A looser version of the benchmark target (docs/benchmarks.md): recent return over 400
    within the default 50,000 steps. Seeds 1-5 on this project's 2-core x86-64 CPU get there at
    28,672, 22,528, 26,624, 20,480 and 22,528 steps."""
    cfg = PPOConfig(env="gym:CartPole-v1", seed=seed, device="cpu", tensorboard=False)
    best = []

    def watch(info: UpdateInfo) -> None:
        recent = info.metrics.get("charts/recent_return")
        if recent is not None and info.metrics["charts/total_episodes"] >= 20:
            best.append(recent)
            info.stop = recent > 400

    history = run(cfg, callbacks=[watch])
    assert history[0]["charts/recent_return"] < 100  # it started out bad...
    assert max(best) > 400, f"best mean return of 20 episodes: {max(best):.1f}"  # ...and learned
    assert history[-1]["global_step"] <= 50_000


# ---------------------------------------------------------------------------------------------
# Schedules that do not stretch with the budget; resume fallback; continuing clocks; no abbreviations
# ---------------------------------------------------------------------------------------------


def test_learning_rate_schedules_by_hand() -> None:
    from kingme.ppo.train import learning_rate

    constant = small(anneal_lr=False, learning_rate=1e-3)
    assert learning_rate(constant, 0, 0.0) == learning_rate(constant, 10**9, 1.0) == 1e-3
    budget = small(anneal_lr=True, anneal_steps=0, learning_rate=1e-3)
    assert learning_rate(budget, 123, 0.25) == pytest.approx(0.75e-3)  # follows the budget's fraction
    fixed = small(anneal_lr=True, anneal_steps=1000, learning_rate=1e-3)
    assert learning_rate(fixed, 250, 0.9) == pytest.approx(0.75e-3)  # follows steps, not the budget
    assert learning_rate(fixed, 5000, 0.1) == 0.0  # and stays at 0 after anneal_steps


def _no_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


def test_the_default_schedules_make_a_longer_budget_the_same_run_continued() -> None:
    # What a run learns in its first updates does not depend on --total-steps.
    short = run(small(total_steps=64 * 2))
    long = run(small(total_steps=64 * 5))
    assert _no_timing(long[:2]) == _no_timing(short)
    fixed = run(small(total_steps=64 * 2, anneal_lr=True, anneal_steps=64 * 4))
    fixed_long = run(small(total_steps=64 * 5, anneal_lr=True, anneal_steps=64 * 4))
    assert _no_timing(fixed_long[:2]) == _no_timing(fixed)
    assert [r["charts/learning_rate"] for r in fixed_long] == pytest.approx(
        [PPOConfig().learning_rate * x for x in (1, 0.75, 0.5, 0.25, 0)]
    )
    # The budget-following schedule (anneal_steps = 0) is the one that stretches.
    stretch = run(small(total_steps=64 * 2, anneal_lr=True))
    stretch_long = run(small(total_steps=64 * 5, anneal_lr=True))
    assert stretch[1]["charts/learning_rate"] != stretch_long[1]["charts/learning_rate"]


def test_resume_falls_back_to_the_newest_readable_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = [*CLI_SMALL, "--runs-dir", str(tmp_path)]
    assert train_cli(*base, "--total-steps", "192", "--run-name", "r", "--keep-checkpoints", "3") == 0
    ckpts = list_checkpoints(tmp_path / "r" / "checkpoints")
    assert [p.name for p in ckpts][-1] == "update-000003.safetensors"
    ckpts[-1].write_bytes(ckpts[-1].read_bytes()[:-100])  # the newest is cut short
    capsys.readouterr()
    assert train_cli("--resume", "r", "--runs-dir", str(tmp_path), "--total-steps", "256", "--quiet") == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "resuming from update-000002.safetensors" in err[0], err
    assert [r["update"] for r in read_metrics(tmp_path / "r")] == [1, 2, 3, 4]  # update 3 was redone
    assert load_checkpoint(tmp_path / "r").state["update"] == 4


def test_time_and_sps_continue_across_a_resume(tmp_path: Path) -> None:
    first = run(small(total_steps=64 * 2), run_dir=tmp_path)
    second = run(small(total_steps=64 * 4), run_dir=tmp_path, resume=True)
    assert second[0]["time"] > first[-1]["time"]
    for row in first + second:  # the whole run's rate, not the session's
        assert row["charts/SPS"] == pytest.approx(row["global_step"] / row["time"], rel=0.05)


def test_abbreviated_options_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert train_cli(*CLI_SMALL, "--total", "128", "--runs-dir", str(tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--total" in err
    assert not any(tmp_path.iterdir())


def test_target_return_stops_training_early(tmp_path: Path) -> None:
    # A random CartPole policy's episodes last about 20 steps: a 5-episode mean of 5 is met at once.
    args = [*CLI_SMALL, "--total-steps", "6400", "--runs-dir", str(tmp_path), "--run-name", "t"]
    assert train_cli(*args, "--target-return", "5", "--return-window", "5") == 0
    rows = read_metrics(tmp_path / "t")
    assert len(rows) < 100 and rows[-1]["charts/recent_return"] >= 5
    assert json.loads((tmp_path / "t" / "config.json").read_text())["target_return"] == 5


def test_normalised_run_saves_and_resumes_its_statistics(tmp_path: Path) -> None:
    base = [*CLI_SMALL, "--runs-dir", str(tmp_path)]
    assert train_cli(*base, "--total-steps", "128", "--run-name", "n", "--normalize-obs", "--normalize-reward") == 0
    state = load_checkpoint(tmp_path / "n").state["env"]
    assert set(state) == {"obs_rms", "return_rms"} and len(state["obs_rms"]) == 4
    assert state["obs_rms"][0][2] >= 32  # 128 / 4 steps per copy, plus its resets
    rows = read_metrics(tmp_path / "n")
    assert all(
        r["charts/episodic_return"] == r["charts/episodic_length"] for r in rows if "charts/episodic_return" in r
    )
    assert train_cli("--resume", "n", "--runs-dir", str(tmp_path), "--total-steps", "192", "--quiet") == 0
    resumed = load_checkpoint(tmp_path / "n").state["env"]
    assert resumed["obs_rms"][0][2] > state["obs_rms"][0][2]  # continued from the saved counts
