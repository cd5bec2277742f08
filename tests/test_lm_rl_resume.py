"""Resuming an RL run (`kingme lm train --resume RUN`): an interrupted-then-resumed run equals the
uninterrupted one bit for bit (CPU, one process); the metrics file continues; a wrong or damaged
run folder is one line. And the samples written at each evaluation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from kingme.common import UserError
from kingme.lm.commands import main
from kingme.lm.pretrain import PretrainConfig, pretrain
from kingme.lm.rl import RLConfig, train

TIMED = {"time", "charts/tokens_per_s", "charts/sample_tokens_per_s"}  # the wall clock's, not the run's


class Stop(Exception):
    """Raised from the log callback to cut a run short, as a crash would."""


@pytest.fixture(scope="module")
def base() -> Any:
    small = {"n_layer": 1, "n_head": 2, "n_embd": 16, "train_size": 200, "eval_problems": 8, "device": "cpu"}
    return pretrain(PretrainConfig(task="addition", max_level=1, steps=120, **small))[:2]  # type: ignore[arg-type]


def _cfg(algo: str) -> RLConfig:
    return RLConfig(
        algo=algo,  # type: ignore[arg-type]
        updates=5,
        eval_every=2,
        prompts_per_update=4,
        group_size=4,
        eval_problems=8,
        minibatches=2,  # the minibatches' shuffles draw from torch's generator
        device="cpu",
        seed=3,
    )


@pytest.mark.parametrize("algo", ["grpo", "ppo"])
def test_an_interrupted_then_resumed_run_equals_the_uninterrupted_one(algo: str, base: Any, tmp_path: Path) -> None:
    cfg = _cfg(algo)
    whole: list[dict[str, Any]] = []
    policy, summary = train(cfg, tmp_path / "whole", log=whole.append, base=base)

    cut: list[dict[str, Any]] = []

    def crash_at_3(row: dict[str, Any]) -> None:
        cut.append(row)
        if row["update"] == 3:
            raise Stop  # after update 3; the last checkpoint is update 2's

    with pytest.raises(Stop):
        train(cfg, tmp_path / "cut", log=crash_at_3, base=base)
    torch.manual_seed(12345)  # whatever the process did since, the resumed run restores every generator
    rest: list[dict[str, Any]] = []
    resumed, resumed_summary = train(cfg, tmp_path / "cut", log=rest.append, resume=True)
    assert [r["update"] for r in rest] == [3, 4, 5]  # from the checkpoint of update 2
    assert rest[0]["time"] > cut[1]["time"]  # the training time (and --max-minutes' budget) counts both sessions

    def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:  # NaN (no right response) as None
        return [{k: None if v != v else v for k, v in r.items() if k not in TIMED} for r in rows]

    assert strip(cut[:2] + rest) == strip(whole)
    assert any(r["charts/zero_adv_groups"] < 1.0 for r in whole)  # the updates had a learning signal
    assert all(torch.equal(a, b) for a, b in zip(policy.state_dict().values(), resumed.state_dict().values()))
    assert resumed_summary["rewards"] == summary["rewards"]
    assert resumed_summary["test_pass1_start"] == summary["test_pass1_start"]


def test_resume_through_the_command(base: Any, tmp_path: Path) -> None:
    from kingme.lm.pretrain import save_checkpoint

    model, task = base
    save_checkpoint(tmp_path / "base.safetensors", model, task)
    runs = ["--runs-dir", str(tmp_path), "--quiet", "--device", "cpu"]
    small = ["--prompts-per-update", "2", "--group-size", "2", "--eval-problems", "4", "--eval-every", "2"]
    assert main(["train", str(tmp_path / "base.safetensors"), "--updates", "2", *small, "--run-name", "rl", *runs]) == 0
    run = tmp_path / "rl"
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["update_000002.jsonl"]
    assert main(["train", "--resume", "rl", "--updates", "4", *runs]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["update"] for r in rows] == [1, 2, 3, 4]  # the metrics file continued
    assert json.loads((run / "config.json").read_text())["updates"] == 4
    assert sorted(p.name for p in (run / "checkpoints").glob("update-*")) == [
        "update-000002.safetensors",
        "update-000004.safetensors",
    ]
    samples = [json.loads(line) for line in (run / "samples" / "update_000004.jsonl").read_text().splitlines()]
    assert len(samples) == 2  # --samples 4, but a rollout of 2 prompts: one response per prompt
    for s in samples:
        assert {"prompt", "response", "reward", "correct", "advantage"} <= set(s)
        assert s["reward"] == float(s["correct"]) and isinstance(s["advantage"], float)


def test_a_wrong_or_damaged_run_folder_is_one_line(base: Any, tmp_path: Path) -> None:
    runs = ["--runs-dir", str(tmp_path), "--device", "cpu"]
    with pytest.raises(UserError, match="no run folder"):
        main(["train", "--resume", "nowhere", *runs])
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.json").write_text('{"algo": "grpo"}')
    with pytest.raises(UserError, match="not an lm train run"):
        main(["train", "--resume", "odd", *runs])
    cfg = _cfg("grpo")
    train(RLConfig(**{**cfg.__dict__, "updates": 2}), tmp_path / "rl", base=base)
    from kingme.runs import write_config

    write_config(tmp_path / "rl", RLConfig(**{**cfg.__dict__, "updates": 2}))
    with pytest.raises(UserError, match="drop --algo"):
        main(["train", "--resume", "rl", "--algo", "ppo", *runs])
    with pytest.raises(UserError, match="drop BASE"):
        main(["train", "somebase", "--resume", "rl", *runs])
    for ckpt in (tmp_path / "rl" / "checkpoints").glob("update-*"):
        ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a readable safetensors file"):
        main(["train", "--resume", "rl", *runs])
    (tmp_path / "rl" / "checkpoints" / "reference.safetensors").unlink()
    with pytest.raises(UserError, match="no reference.safetensors"):
        main(["train", "--resume", "rl", *runs])


def test_samples_carry_reward_advantage_monitors_and_step_marks(base: Any, tmp_path: Path) -> None:
    """On the scratchpad task with a monitor: each sampled row has the step marks and the monitor's score."""
    small = {"n_layer": 1, "n_head": 2, "n_embd": 16, "train_size": 200, "eval_problems": 8, "device": "cpu"}
    pad_base = pretrain(PretrainConfig(task="addition", max_level=1, scratchpad=True, steps=30, **small))[:2]  # type: ignore[arg-type]
    cfg = RLConfig(updates=1, prompts_per_update=3, group_size=2, eval_problems=4, samples=2, monitors=("wrong_steps",))
    texts: list[tuple[str, str, int]] = []

    class Log:
        def __call__(self, row: dict[str, Any]) -> None:
            pass

        def text(self, tag: str, text: str, step: int) -> None:
            texts.append((tag, text, step))

    train(RLConfig(**{**cfg.__dict__, "device": "cpu"}), tmp_path, log=Log(), base=pad_base)
    rows = [json.loads(line) for line in (tmp_path / "samples" / "update_000001.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert set(row["monitors"]) == {"wrong_steps"} and 0.0 <= row["monitors"]["wrong_steps"] <= 1.0
        if "steps" not in row:  # no scratchpad written: the monitor does not flag it
            assert row["monitors"]["wrong_steps"] == 0.0
    assert [(tag, step) for tag, _, step in texts] == [("samples", 1)]
    assert rows[0]["prompt"] + rows[0]["response"] in texts[0][1]
