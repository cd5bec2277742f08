"""Smoke tests of `kingme lm pretrain | train | eval | sample` with tiny settings, and their user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kingme.common import UserError
from kingme.lm.commands import main
from kingme.lm.pretrain import load_checkpoint
from kingme.lm.rl import RLConfig

TINY = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--train-size", "200", "--eval-problems", "16"]


def test_pretrain_train_eval_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = ["--runs-dir", str(tmp_path), "--quiet", "--device", "cpu"]
    assert main(["pretrain", "addition", "--max-level", "1", "--steps", "20", "--run-name", "base", *TINY, *runs]) == 0
    base = tmp_path / "base"
    assert (base / "checkpoints" / "base.safetensors").is_file()
    cfg = json.loads((base / "config.json").read_text())
    assert cfg["task"] == "addition" and cfg["steps"] == 20
    rows = [json.loads(line) for line in (base / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["update"] == 20 and "charts/test_pass1" in rows[-1]
    model, task = load_checkpoint(base)
    assert task.name == "addition" and task.levels == (1,) and model.config.n_embd == 16

    argv = ["train", str(base), "--algo", "ppo", "--updates", "2", "--prompts-per-update", "2", "--group-size", "2"]
    assert main([*argv, "--eval-problems", "8", "--run-name", "rl", *runs]) == 0
    rl = tmp_path / "rl"
    assert (rl / "checkpoints" / "policy.safetensors").is_file()
    saved = json.loads((rl / "config.json").read_text())
    assert saved["advantage"] == "gae" and saved["kl_in_reward"] is True  # the resolved preset is saved
    rows = [json.loads(line) for line in (rl / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and {"charts/reward", "losses/kl_ref", "losses/explained_variance"} <= set(rows[0])
    summary = json.loads((rl / "summary.json").read_text())
    report = (rl / "report.md").read_text()
    start, end = summary["test_pass1_start"]["all"], summary["test_pass1_end"]["all"]
    assert f"Test pass@1 (greedy) {start:.3f} → {end:.3f}" in report and "2 updates of P = 2" in report
    assert f"| 2 | {rows[1]['time']:.0f} | {end:.3f} |" in report  # the last evaluation's row, from metrics.jsonl
    assert (rl / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    capsys.readouterr()
    assert main(["eval", str(rl), "--k", "1,2", "--samples", "2", "--problems", "3", "--json", "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["pass_at_k"]) == {"1", "2"}
    assert main(["sample", str(base), "3+4=", "--n", "2", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("3+4=") for line in lines)


def test_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no language-model checkpoint"):
        main(["train", str(tmp_path / "missing"), "--runs-dir", str(tmp_path)])
    with pytest.raises(UserError, match="unknown lm command"):
        main(["fly"])
    with pytest.raises(UserError, match="group-size"):
        RLConfig(group_size=1).validate()
    with pytest.raises(SystemExit):
        main(["pretrain", "chess"])
