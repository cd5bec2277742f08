"""`kingme train checkers --keep-models K`: a model file at K, 2K, 4K, ... learner steps, written by
the update that reaches each milestone, kept across --resume, and refused below one update's steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import safe_open

from kingme.cli import main
from kingme.players.policy import load_model
from kingme.selfplay.train import crossed_doublings, kept_model_path, kept_models

TINY = [
    "--num-envs", "8", "--num-steps", "8", "--minutes", "0", "--eval-games", "2", "--eval-ladder", "random",
    "--eval-every-minutes", "0", "--checkpoint-every", "1", "--snapshot-every", "1", "--hidden-sizes", "16",
    "--no-tensorboard", "--quiet",
]  # fmt: skip


def test_crossed_doublings_by_hand() -> None:
    assert crossed_doublings(64, 0, 64) == [64]
    assert crossed_doublings(64, 64, 128) == [128]
    assert crossed_doublings(64, 128, 192) == []
    assert crossed_doublings(64, 192, 256) == [256]
    assert crossed_doublings(100, 0, 99) == []
    assert crossed_doublings(100, 150, 450) == [200, 400]
    assert crossed_doublings(1 << 20, (1 << 22) - 16384, 1 << 22) == [1 << 22]


def test_kept_models_at_each_doubling_and_across_resume(tmp_path: Path) -> None:
    base = ["train", "checkers", *TINY, "--runs-dir", str(tmp_path)]
    # 64 steps an update: milestones 64, 128, 256 within 320 steps (5 updates)
    assert main([*base, "--total-steps", "192", "--run-name", "k", "--keep-models", "64"]) == 0
    run = tmp_path / "k"
    assert list(kept_models(run)) == [64, 128]
    resume = ["train", "checkers", "--resume", "k", "--runs-dir", str(tmp_path), "--quiet"]
    assert main([*resume, "--total-steps", "320"]) == 0
    assert list(kept_models(run)) == [64, 128, 256]
    path = kept_model_path(run, 256)
    assert path.name == "steps_000000000256.safetensors"
    with safe_open(str(path), "pt") as f:
        info = json.loads(f.metadata()["info"])
    assert info["global_step"] == 256 and info["milestone"] == 256 and info["update"] == 4
    agent, net = load_model(path)  # a model file like any other: policy:PATH plays it
    assert net["hidden"] == [16]


def test_keep_models_off_by_default_and_bad_values_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", "checkers", *TINY, "--runs-dir", str(tmp_path)]
    assert main([*base, "--total-steps", "64", "--run-name", "off"]) == 0
    assert not (tmp_path / "off" / "models").exists()
    capsys.readouterr()
    for bad in ("32", "-1"):
        assert main([*base, "--total-steps", "64", "--run-name", f"bad{bad}", "--keep-models", bad]) == 2
        err = capsys.readouterr().err
        assert "keep-models" in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / f"bad{bad}").exists()
