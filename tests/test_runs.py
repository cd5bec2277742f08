"""The shared seams: run folders (kingme.runs), typed tuple config fields, the progress bar, the
JSON-safe helper, the seed mixer, and what the CLI does when its output is piped."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kingme.common import UserError, atomic_write_bytes, json_safe, mix_seed
from kingme.config import Parser, add_config_args, arg, config_from_args, config_from_dict, config_to_dict
from kingme.progress import progress_bar, results_console
from kingme.runs import check_resume_options, check_run_name, create_run, find_run, given_options, read_config

KINGME = [sys.executable, "-m", "kingme.cli"]

# ---------------------------------------------------------------------------------------------
# Run folders
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["..", ".", "a/b", "../x", "/tmp/abs", "", "a\\b"])
def test_run_name_cannot_escape_the_runs_folder(name: str, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="plain folder name") as exc:
        create_run(tmp_path, name, "x")
    assert "\n" not in str(exc.value)
    assert check_run_name("ok-name_1.2") == "ok-name_1.2"
    assert not list(tmp_path.iterdir())


def test_non_empty_folder_is_refused_and_an_empty_one_is_used(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert create_run(tmp_path, "empty", "x") == tmp_path / "empty"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "metrics.jsonl").write_text("{}\n")
    with pytest.raises(UserError, match="already exists and is not empty"):
        create_run(tmp_path, "full", "x")
    assert (tmp_path / "full" / "metrics.jsonl").read_text() == "{}\n"
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="not a folder"):
        create_run(tmp_path, "file", "x")


def test_fresh_names_are_unique_within_a_second(tmp_path: Path) -> None:
    runs = {create_run(tmp_path, None, "p") for _ in range(3)}
    assert len(runs) == 3 and all(r.parent == tmp_path and r.name.startswith("p-") for r in runs)


def test_runs_dir_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot create runs folder") as exc:
        create_run("/proc/kingme-x", "r", "x")
    assert "\n" not in str(exc.value)
    (tmp_path / "f").write_text("")
    with pytest.raises(UserError, match="cannot create runs folder"):
        create_run(tmp_path / "f", "r", "x")


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "gym:CartPole-v1", "--total-steps", "128", "--num-envs", "2", "--num-steps", "64"],
        ["train", "checkers", "--total-steps", "64", "--num-envs", "2", "--num-steps", "32"],
        ["dt", "run", "--seeds", "1", "--steps", "1"],
        ["dt", "sweep-stochastic", "--seeds", "1", "--steps", "1"],
        ["experiment", "run", "clipping", "--tiny", "--seeds", "2"],
    ],
)
def test_every_command_reports_an_uncreatable_runs_dir_in_one_line(argv: list[str]) -> None:
    proc = subprocess.run([*KINGME, *argv, "--runs-dir", "/proc/kingme-x", "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "cannot create runs folder /proc/kingme-x" in proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "gym:CartPole-v1"],
        ["train", "checkers"],
        ["dt", "run"],
        ["dt", "sweep-stochastic"],
        ["experiment", "run", "clipping", "--tiny"],
    ],
)
def test_every_command_refuses_an_escaping_run_name(argv: list[str], tmp_path: Path) -> None:
    from kingme.cli import main

    assert main([*argv, "--runs-dir", str(tmp_path / "runs"), "--run-name", "../out", "--quiet"]) == 2
    assert not (tmp_path / "out").exists()


def test_find_run_takes_a_path_or_a_name(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text("{}")
    assert find_run(tmp_path, "r") == tmp_path / "r"
    assert find_run("elsewhere", str(tmp_path / "r")) == tmp_path / "r"
    with pytest.raises(UserError, match="cannot resume"):
        find_run(tmp_path, "missing")


def test_resume_options(tmp_path: Path) -> None:
    assert given_options(["--total-steps", "5", "--no-tensorboard", "--gae-lambda=0.9", "x"]) == {
        "total_steps",
        "tensorboard",
        "gae_lambda",
    }
    allowed = ("total_steps", "device")
    assert check_resume_options(["--resume", "r", "--runs-dir", "d", "--quiet", "--device", "cpu"], allowed) == {
        "device"
    }
    with pytest.raises(UserError, match="drop --gamma, --seed") as exc:
        check_resume_options(["--resume", "r", "--seed", "2", "--gamma", "0.9"], allowed)
    assert "only --device, --total-steps may change" in str(exc.value)


# ---------------------------------------------------------------------------------------------
# Typed tuple config fields
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Cfg:
    names: tuple[str, ...] = arg(("a", "b"), "some names")
    sizes: tuple[int, ...] = arg((1, 2), "some sizes")
    probs: tuple[float, ...] | None = arg(None, "some probabilities")


def test_tuple_fields_parse_comma_separated_and_round_trip_through_json(tmp_path: Path) -> None:
    p = Parser(prog="t")
    add_config_args(p, _Cfg)
    cfg = config_from_args(_Cfg, p.parse_args(["--names", "x, y,z", "--sizes", "3,4", "--probs", "0.5,0.25"]))
    assert cfg == _Cfg(("x", "y", "z"), (3, 4), (0.5, 0.25))
    saved = json.loads(json.dumps(config_to_dict(cfg)))
    assert saved["names"] == ["x", "y", "z"]  # lists in config.json
    assert config_from_dict(_Cfg, saved) == cfg  # tuples again
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert read_config(tmp_path, _Cfg) == cfg
    assert config_from_args(_Cfg, p.parse_args([])) == _Cfg()
    assert "(default: a,b)" in p.format_help()
    assert config_from_dict(_Cfg, {"names": "p,q", "sizes": "5"}) == _Cfg(("p", "q"), (5,))  # older configs


def test_tuple_field_with_a_bad_item_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    p = Parser(prog="t")
    add_config_args(p, _Cfg)
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["--sizes", "1,x"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--sizes" in err


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def test_json_safe_replaces_non_finite_floats_everywhere() -> None:
    nan, inf = float("nan"), float("inf")
    assert json_safe({"a": nan, "b": [1.0, inf, (2, -inf)], "c": "x", "d": 3}) == {
        "a": None,
        "b": [1.0, None, [2, None]],
        "c": "x",
        "d": 3,
    }


def test_mix_seed_is_the_one_in_players() -> None:
    from kingme.players import mix_seed as players_mix_seed

    assert players_mix_seed is mix_seed
    assert mix_seed(1, 2) == 7199479353940798044  # the value before the move: seeds did not change


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "sub" / "f.bin", b"abc")
    assert (tmp_path / "sub" / "f.bin").read_bytes() == b"abc"
    assert os.listdir(tmp_path / "sub") == ["f.bin"]


def test_checkpoints_use_the_one_atomic_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from kingme.ppo import checkpoint

    calls: list[Path] = []
    real = checkpoint.atomic_write_bytes

    def spy(path: Path, data: bytes) -> None:
        calls.append(Path(path))
        real(path, data)

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", spy)
    checkpoint.save_checkpoint(tmp_path / "update-000001.safetensors", {"w": torch.zeros(2)}, {}, {"x": 1})
    assert calls == [tmp_path / "update-000001.safetensors"]
    assert checkpoint.load_checkpoint(tmp_path).state == {"x": 1}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal_stderr_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with progress_bar(10, "work") as advance:
        advance(5)
    assert capsys.readouterr() == ("", "")  # stderr is not a terminal here: nothing at all
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress_bar(10, "work") as advance:
        advance(10, info="fast")
    assert "10/10" in terminal.getvalue() and "fast" in terminal.getvalue()
    with progress_bar(10, "work", enabled=False) as advance:
        advance(3)
    assert capsys.readouterr().out == ""


def test_results_console_is_wide_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.table import Table

    table = Table()
    for k in range(8):
        table.add_column(f"column number {k}")
    table.add_row(*[f"value {k} " * 2 for k in range(8)])
    results_console().print(table)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5  # top rule, header, rule, one row, bottom rule: nothing wrapped
    assert "\x1b[" not in "".join(lines)  # no colour codes in a pipe


# ---------------------------------------------------------------------------------------------
# The CLI with pipes
# ---------------------------------------------------------------------------------------------


def test_closed_stdout_pipe_ends_quietly() -> None:
    proc = subprocess.Popen([*KINGME, "show", "--svg"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head -c 50` going away before kingme writes
    err = proc.stderr.read().decode()
    proc.wait()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert err == ""


def test_piped_dt_table_does_not_wrap_and_progress_stays_off_stdout(tmp_path: Path) -> None:
    argv = ["dt", "run", "--nodes", "8", "--walks", "40", "--max-steps", "5", "--seeds", "1", "--steps", "3"]
    argv += ["--n-embd", "16", "--eval-episodes", "2", "--runs-dir", str(tmp_path), "--run-name", "t"]
    proc = subprocess.run([*KINGME, *argv], capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr == ""  # no bar drawn into a pipe
    rows = [line for line in proc.stdout.splitlines() if "Decision Transformer" in line]
    assert len(rows) == 1 and "±" in rows[0]  # the row is on one line: not wrapped at 80 columns
    assert f"report: {tmp_path / 't' / 'report.md'}" in proc.stdout


def test_the_network_widths_have_one_name_and_old_configs_still_load(tmp_path: Path) -> None:
    from kingme.ppo.config import GymPPOConfig
    from kingme.selfplay.config import SelfPlayConfig

    # `hidden` was a second name for `hidden_sizes` on the config; the field is the one name now
    assert not hasattr(GymPPOConfig(), "hidden")
    # a config.json from before the list fields were tuples holds the widths as "32,32"
    saved = config_to_dict(GymPPOConfig(env="gym:CartPole-v1")) | {"hidden_sizes": "32,32"}
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert read_config(tmp_path, GymPPOConfig).hidden_sizes == (32, 32)
    # model files keep their own key for the widths (`players.policy.load_model` reads "hidden")
    assert SelfPlayConfig(hidden_sizes=(16, 8)).net_description["hidden"] == [16, 8]
