"""Smoke tests of `kingme lm pretrain | train | eval | sample` with tiny settings, and their user errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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


def test_user_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kingme.lm import tasks

    # the registry as a fresh process has it (another test may have imported a module that registers tasks)
    monkeypatch.setattr(tasks, "TASKS", {n: e for n, e in tasks.TASKS.items() if n in tasks.MAX_LEVELS})
    with pytest.raises(UserError, match="no language-model checkpoint"):
        main(["train", str(tmp_path / "missing"), "--runs-dir", str(tmp_path)])
    with pytest.raises(UserError, match="unknown lm command"):
        main(["fly"])
    with pytest.raises(UserError, match="group-size"):
        RLConfig(group_size=1).validate()
    with pytest.raises(UserError, match="unknown task 'chess': expected addition, path, countdown or a plug-in"):
        main(["pretrain", "chess", "--runs-dir", str(tmp_path)])
    assert not list(tmp_path.iterdir())  # no run folder


def _kingme_lm(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kingme.cli", "lm", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    argv = ["pretrain", "addition", "--max-level", "1", "--steps", "2", "--run-name", "b", *TINY]
    assert main([*argv, "--runs-dir", str(runs), "--quiet", "--device", "cpu"]) == 0
    return runs / "b" / "checkpoints" / "base.safetensors"


def _damaged(good: Path, folder: Path) -> dict[str, Path]:
    """Copies of a checkpoint: empty, cut inside the header, cut inside the weights, the header garbled."""
    data = good.read_bytes()
    contents = {
        "empty": b"",
        "header-cut": data[:300],
        "weights-cut": data[:-100],
        "garbled": data[:8] + b"\xff\xff" + data[10:],
    }
    paths = {name: folder / f"{name}.safetensors" for name in contents}
    for name, content in contents.items():
        paths[name].write_bytes(content)
    return paths


def _one_line_user_error(argv: list[str]) -> str:
    with pytest.raises(UserError) as err:
        main(argv)
    message = str(err.value)
    assert message and "\n" not in message
    return message


def test_a_damaged_model_file_is_a_user_error(tiny_base: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for name, path in _damaged(tiny_base, tmp_path).items():
        for argv in (["sample", str(path), "1+2="], ["eval", str(path)], ["train", str(path), "--runs-dir", str(runs)]):
            assert path.name in _one_line_user_error([*argv, "--device", "cpu"]), (name, argv)
    assert not runs.exists()  # train made no run folder


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sample", "BASE", "1+2=", "--top-k", "0"], "--top-k"),
        (["eval", "BASE", "--top-k", "0"], "--top-k"),
        (["train", "BASE", "--top-k", "0"], "--top-k"),
        (["train", "BASE", "--mix", "1,2"], "--mix"),
        (["pretrain", "addition", "--max-level", "19"], "--max-level"),
        (["pretrain", "countdown", "--max-level", "99"], "--max-level"),
        (["pretrain", "path", "--max-level", "7"], "--max-level"),
        (["pretrain", "addition", "--max-level", "2", "--mix", "1,2,3"], "--mix"),
    ],
)
def test_bad_options_are_a_user_error_before_any_run_folder(
    argv: list[str], message: str, tiny_base: Path, tmp_path: Path
) -> None:
    argv = [str(tiny_base) if a == "BASE" else a for a in argv]
    runs = tmp_path / "runs"
    extra = ["--runs-dir", str(runs), "--run-name", "x"] if argv[0] in ("pretrain", "train") else []
    assert message in _one_line_user_error([*argv, *extra, "--device", "cpu"])
    assert not runs.exists()


def test_the_command_line_says_one_line_and_exits_2(tiny_base: Path, tmp_path: Path) -> None:
    """Through the real entry point: a damaged file, and a bare `kingme lm` (its usage)."""
    damaged = _damaged(tiny_base, tmp_path)["weights-cut"]
    done = _kingme_lm(["sample", str(damaged), "1+2=", "--device", "cpu"], tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert damaged.name in done.stderr and done.stdout == ""
    bare = _kingme_lm([], tmp_path)
    assert bare.returncode == 2 and bare.stderr.startswith("usage: kingme lm") and bare.stdout == ""


def test_the_task_bounds_work_and_one_past_them_is_refused() -> None:
    from kingme.lm.tasks import MAX_LEVELS, make_task

    rng = np.random.default_rng(0)
    for name, top in MAX_LEVELS.items():
        task = make_task(name, top)
        problem = task.sample(rng, task.levels[-1])  # the hardest level draws a problem that verifies
        assert task.verify(problem.prompt, problem.solution), name
        with pytest.raises(UserError, match=f"in \\[1, {top}\\]"):
            make_task(name, top + 1)


def test_help_lists_every_subcommand_and_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: kingme lm" in capsys.readouterr().err
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for sub in ("pretrain", "train", "eval", "sample"):
        assert f"kingme lm {sub} options:" in out
    assert all(flag in out for flag in ("--kl-coef", "--max-level", "--samples", "--top-k", "--n,"))
