"""The one run-folder helper: every command that writes results makes its folder here.

A run folder is `RUNS_DIR/NAME/` (`--runs-dir`, default `runs`; `--run-name`, default
`PREFIX-YYYYmmdd-HHMMSS`) with the same layout for every command:

    config.json      the resolved config, enough to rerun (list fields as JSON lists)
    metrics.jsonl    one JSON row per update or step of training
    events.out.*     TensorBoard events (where the command trains with PPO)
    checkpoints/     what resuming needs (where the command can resume)
    report.md        the run's report, with its PNG plots beside it

Rules, the same everywhere:
- a name is one plain folder name: no `/`, no `..`, not absolute, so a run cannot land outside
  the runs folder;
- a folder that exists and is not empty is never reused for a new run (pick another name, or
  `--resume` it); only resuming writes into an existing run;
- `--resume RUN` takes a folder path or a name under `--runs-dir`, and the folder must hold a
  config.json; only the options a command lists as resumable may be given with it (the budget,
  the device, the threads), everything else comes from the saved config;
- a folder that cannot be created (`--runs-dir /proc/x`) is a one-line `UserError`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from kingme.common import UserError, atomic_write_json
from kingme.config import config_from_dict, config_to_dict

T = TypeVar("T")

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
REPORT = "report.md"
DEFAULT_RUNS_DIR = "runs"


def add_run_options(parser: argparse.ArgumentParser, prefix: str, *, resume: bool = True) -> None:
    """Add `--runs-dir`, `--run-name`, `--quiet` and (when the command can resume) `--resume`."""
    parser.add_argument(
        "--runs-dir", default=DEFAULT_RUNS_DIR, help=f"Folder that holds run folders (default: {DEFAULT_RUNS_DIR})."
    )
    parser.add_argument(
        "--run-name", default=None, help=f"Name of the new run folder (default: {prefix}-YYYYmmdd-HHMMSS)."
    )
    if resume:
        parser.add_argument(
            "--resume",
            default=None,
            metavar="RUN",
            help="Continue the run in folder RUN (a path, or a name under --runs-dir) from its last checkpoint.",
        )
    parser.add_argument(
        "--quiet", action="store_true", help="No progress bar or per-step lines; the run folder is still printed."
    )


def check_run_name(name: str) -> str:
    """`name` if it is one plain folder name, else a `UserError` (it could escape the runs folder)."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or os.path.isabs(name) or "\0" in name:
        raise UserError(f"run name {name!r} must be a plain folder name (no '/', '..' or absolute path)")
    return name


def fresh_name(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


def create_run(runs_dir: str | os.PathLike[str], name: str | None, prefix: str) -> Path:
    """Create the new run folder `runs_dir/name` and return it.

    With no name, a fresh timestamped one (with a `-2`, `-3`, ... suffix if that second is taken).
    A folder that exists and holds anything is refused: a new run never writes into an old one.
    """
    root = Path(runs_dir)
    _mkdir(root, "runs folder")
    if name is None:
        base = fresh_name(prefix)
        for k in range(1, 1000):
            candidate = root / (base if k == 1 else f"{base}-{k}")
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
            except OSError as e:
                raise UserError(f"cannot create run folder {candidate}: {e.strerror or e}") from None
        raise UserError(f"cannot find a free run name {base}-N in {root}")
    run = root / check_run_name(name)
    try:
        run.mkdir()
    except FileExistsError:
        if not run.is_dir():
            raise UserError(f"run folder {run} exists and is not a folder") from None
        if any(run.iterdir()):
            raise UserError(
                f"run folder {run} already exists and is not empty: pick another --run-name, "
                f"or continue it with --resume {name}"
            ) from None
    except OSError as e:
        raise UserError(f"cannot create run folder {run}: {e.strerror or e}") from None
    return run


def find_run(runs_dir: str | os.PathLike[str], run: str) -> Path:
    """The existing run folder meant by `--resume RUN`: a path, or a name under `runs_dir`."""
    path = Path(run)
    if not (path / CONFIG).is_file():
        under = Path(runs_dir) / run
        if (under / CONFIG).is_file():
            path = under
    if not (path / CONFIG).is_file():
        raise UserError(f"cannot resume {run!r}: no run folder with a {CONFIG} at {path} or under {runs_dir}")
    return path


def given_options(argv: Iterable[str]) -> set[str]:
    """The option names given on a command line, as field names (`--no-clip-policy` -> clip_policy)."""
    names = set()
    for token in argv:
        if token.startswith("--") and len(token) > 2:
            name = token[2:].split("=", 1)[0]
            name = name[3:] if name.startswith("no-") else name
            names.add(name.replace("-", "_"))
    return names


def check_resume_options(argv: Iterable[str], allowed: Iterable[str]) -> set[str]:
    """Refuse options that cannot change when resuming; return the allowed overrides that were given.

    `allowed` are config fields (the budget, the device, the threads); the run options (`--resume`,
    `--runs-dir`, `--quiet`) are always allowed.
    """
    allowed = set(allowed)
    given = given_options(argv)
    clash = sorted(given - allowed - {"resume", "runs_dir", "quiet"})
    if clash:
        keep = ", ".join("--" + a.replace("_", "-") for a in sorted(allowed))
        raise UserError(
            "--resume continues with the run's saved config; drop "
            + ", ".join("--" + c.replace("_", "-") for c in clash)
            + f" (only {keep} may change)"
        )
    return given & allowed


def write_config(run: Path, cfg: Any) -> None:
    """Write `run/config.json` (a config dataclass, or a plain dict)."""
    data = cfg if isinstance(cfg, dict) else config_to_dict(cfg)
    try:
        atomic_write_json(run / CONFIG, data)
    except OSError as e:
        raise UserError(f"cannot write {run / CONFIG}: {e.strerror or e}") from None


def read_config(run: Path, cls: type[T]) -> T:
    """The config saved in `run/config.json`, rebuilt as `cls` (a one-line UserError if it does not fit)."""
    path = run / CONFIG
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return config_from_dict(cls, data)
    except (OSError, ValueError, TypeError) as e:
        raise UserError(f"{path} is not a {cls.__name__} config: {e}") from None


def _mkdir(path: Path, what: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {what} {path}: {e.strerror or e}") from None
    if not path.is_dir():
        raise UserError(f"cannot create {what} {path}: it exists and is not a folder")
