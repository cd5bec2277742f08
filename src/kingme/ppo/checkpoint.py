"""Checkpoints: everything needed to continue a run, in one safetensors file per update.

Layout of `run/checkpoints/`:

    update-000040.safetensors   one checkpoint
    update-000041.safetensors   (the last `keep` are kept; the newest is the one to resume from)
    best.json                   {"name": ..., "score": ...}: the checkpoint with the best recent
                                return, kept as well

Inside a checkpoint file:
    tensors   model/<name>        the network's weights (state_dict names)
              state/<n>           the tensors of the training state (optimiser moments, RNGs)
    metadata  format, version     "kingme-ppo", "1"
              meta                JSON: the run's config, obs shape, number of actions, agent
                                  class, update and step counters
              state               JSON: the training state with each tensor replaced by a
                                  reference to its state/<n> entry: optimiser state, update and
                                  step counters, RNG states of Python, NumPy and torch, episode
                                  statistics

Why one file: a checkpoint is written after every update (a killed run loses at most the batch in
progress), and on this class of machine a folder of files costs ~3 ms of file-system work per
update where one file costs ~0.2 ms. Why no pickle: safetensors and JSON cannot run code when a
checkpoint from elsewhere is opened.

Writing is atomic (`kingme.common.atomic_write_bytes`): the bytes go to a temporary file that is
fsynced and renamed into place, so the newest `update-*.safetensors` is always complete, after a
killed process and after a power cut; a stray temporary file from a killed run is removed next time.
A file damaged later (a disk error, a copy cut short) is skipped when resuming: `load_resumable`
takes the newest readable checkpoint and says in one line which it skipped.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from kingme.common import UserError, atomic_write_bytes, atomic_write_json, one_line

FORMAT = "kingme-ppo"
VERSION = 1
SUFFIX = ".safetensors"
NAME_RE = re.compile(r"^update-(\d+)\.safetensors$")


@dataclass
class Checkpoint:
    path: Path
    weights: dict[str, torch.Tensor]  # the network's state_dict
    meta: dict[str, Any]  # config, obs_shape, num_actions, agent, update, global_step
    state: dict[str, Any]  # optimizer, update, global_step, rng, statistics


def checkpoint_name(update: int) -> str:
    return f"update-{update:06d}{SUFFIX}"


# ---------------------------------------------------------------------------------------------
# RNG state
# ---------------------------------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """The states of Python's, NumPy's and torch's global generators."""
    py_version, py_keys, py_gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]
    state: dict[str, Any] = {  # the 625-word generator states travel as tensors, not JSON lists
        "python": (py_version, torch.tensor(py_keys, dtype=torch.int64), py_gauss),
        "numpy": (name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py_version, py_keys, py_gauss = state["python"]
    random.setstate((py_version, tuple(py_keys.tolist()), py_gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


# ---------------------------------------------------------------------------------------------
# Plain containers <-> JSON plus named tensors
# ---------------------------------------------------------------------------------------------


def pack(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """A JSON-able copy of `obj` (dicts, lists, tuples, scalars, tensors); each tensor is moved
    into `tensors` under a new name state/<n> and replaced by {"__tensor__": name}. Dicts become
    {"__dict__": [[key, value], ...]} so that integer keys survive."""
    if isinstance(obj, torch.Tensor):
        name = f"state/{len(tensors)}"
        tensors[name] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": name}
    if isinstance(obj, dict):
        return {"__dict__": [[pack(k, tensors), pack(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [pack(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [pack(v, tensors) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a checkpoint")


def unpack(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The inverse of `pack`."""
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {unpack(k, tensors): unpack(v, tensors) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(unpack(v, tensors) for v in obj["__tuple__"])
        raise ValueError(f"unexpected object with keys {sorted(obj)}")
    if isinstance(obj, list):
        return [unpack(v, tensors) for v in obj]
    return obj


# ---------------------------------------------------------------------------------------------
# One checkpoint file
# ---------------------------------------------------------------------------------------------


def save_checkpoint(path: Path, weights: dict[str, torch.Tensor], meta: dict[str, Any], state: dict[str, Any]) -> None:
    """Write a checkpoint file at `path` atomically (temporary file, then rename)."""
    path = Path(path)
    tensors = {f"model/{k}": v.detach().to("cpu").contiguous() for k, v in weights.items()}
    state_tensors: dict[str, torch.Tensor] = {}
    packed_state = pack(state, state_tensors)
    tensors.update(state_tensors)
    metadata = {
        "format": FORMAT,
        "version": str(VERSION),
        "meta": json.dumps(meta, default=str),
        "state": json.dumps(packed_state),
    }
    atomic_write_bytes(path, safetensors_save(tensors, metadata=metadata))


def load_checkpoint(path: str | os.PathLike[str], which: str = "latest") -> Checkpoint:
    """Read a checkpoint. `path` is a checkpoint file, a `checkpoints/` folder or a run folder
    (then `which` = latest or best picks one). A missing, corrupt or foreign file is a one-line
    UserError."""
    ckpt = resolve_checkpoint(path, which)
    what = f"checkpoint {ckpt}"
    try:
        with safe_open(str(ckpt), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as e:  # safetensors raises several types for a damaged header
        raise UserError(f"{what} is not a readable safetensors file: {one_line(e)}") from None
    if metadata.get("format") != FORMAT:
        raise UserError(f"{what} is not a kingme PPO checkpoint (format {metadata.get('format')!r})")
    if metadata.get("version") != str(VERSION):
        raise UserError(f"{what} has version {metadata.get('version')!r}; this kingme reads {VERSION}")
    try:
        tensors = safetensors_load(ckpt.read_bytes())
        meta = json.loads(metadata["meta"])
        state = unpack(json.loads(metadata["state"]), tensors)
    except Exception as e:  # truncated data, bad JSON, a dangling tensor reference
        raise UserError(f"{what} is corrupt: {one_line(e)}") from None
    if not isinstance(meta, dict) or not isinstance(state, dict):
        raise UserError(f"{what} is corrupt: its metadata are not objects")
    weights = {k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")}
    return Checkpoint(path=ckpt, weights=weights, meta=meta, state=state)


def load_resumable(run_dir: str | os.PathLike[str], warn: Callable[[str], object] | None = None) -> Checkpoint:
    """The newest readable checkpoint of a run, to resume from.

    When the newest file cannot be read (damaged on disk, cut short by a full disk), the next newer
    readable one is used and `warn` (default: a line on stderr) says which file was skipped; with
    no readable checkpoint at all, the newest one's error is raised (a one-line UserError).
    """
    root = Path(run_dir)
    folder = root / "checkpoints" if (root / "checkpoints").is_dir() else root
    found = list_checkpoints(folder) if folder.is_dir() else []
    if not found:
        return load_checkpoint(run_dir, "latest")  # the one-line error for a missing checkpoint
    first_error: UserError | None = None
    for path in reversed(found):
        try:
            ckpt = load_checkpoint(path)
        except UserError as e:
            first_error = first_error or e
            continue
        if first_error is not None:
            skipped = len(found) - 1 - found.index(path)
            message = (
                f"resuming from {path.name}: the {skipped} newer checkpoint(s) could not be read "
                f"(newest: {first_error})"
            )
            (warn or _stderr_line)(message)
        return ckpt
    assert first_error is not None
    raise first_error


def _stderr_line(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


def resolve_checkpoint(path: str | os.PathLike[str], which: str = "latest") -> Path:
    """The checkpoint file meant by `path` (see load_checkpoint)."""
    if which not in ("latest", "best"):
        raise UserError(f"checkpoint choice must be latest or best, got {which!r}")
    p = Path(path)
    if not p.exists():
        raise UserError(f"no checkpoint at {p}: it does not exist")
    if p.is_file():
        return p
    if (p / "checkpoints").is_dir():
        p = p / "checkpoints"
    if which == "best":
        pointer = p / "best.json"
        if not pointer.is_file():
            raise UserError(f"no best checkpoint in {p}")
        try:
            name = json.loads(pointer.read_text())["name"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(f"{pointer} is corrupt: {one_line(e)}") from None
        if not (p / str(name)).is_file():
            raise UserError(f"{pointer} names {name!r}, which does not exist")
        return p / str(name)
    found = list_checkpoints(p)
    if not found:
        raise UserError(f"no checkpoint in {p}")
    return found[-1]


def list_checkpoints(root: Path) -> list[Path]:
    """The checkpoint files in `root`, oldest first."""
    return sorted(p for p in Path(root).iterdir() if NAME_RE.match(p.name))


# ---------------------------------------------------------------------------------------------
# The checkpoints of a run
# ---------------------------------------------------------------------------------------------


class CheckpointManager:
    """Writes `update-NNNNNN.safetensors` into `root`, keeps the last `keep` and the best."""

    def __init__(self, root: Path, keep: int) -> None:
        self.root = Path(root)
        self.keep = keep
        self.root.mkdir(parents=True, exist_ok=True)
        for stray in [*self.root.glob(".tmp-*"), *self.root.glob(".*.tmp")]:  # left by a run killed mid-write
            stray.unlink(missing_ok=True)
        self.best_name: str | None = None
        self.best_score = -float("inf")
        best = self.root / "best.json"
        if best.is_file():
            try:
                info = json.loads(best.read_text())
                self.best_name, self.best_score = str(info["name"]), float(info["score"])
            except (OSError, ValueError, KeyError, TypeError):
                pass

    def save(
        self,
        update: int,
        weights: dict[str, torch.Tensor],
        meta: dict[str, Any],
        state: dict[str, Any],
        score: float | None,
    ) -> Path:
        name = checkpoint_name(update)
        path = self.root / name
        save_checkpoint(path, weights, meta, state)
        if score is not None and score > self.best_score:
            self.best_name, self.best_score = name, score
            atomic_write_json(self.root / "best.json", {"name": name, "update": update, "score": score})
        for old in list_checkpoints(self.root)[: -self.keep]:
            if old.name != self.best_name:
                old.unlink(missing_ok=True)
        return path
