"""Small shared helpers: user errors, atomic file writes, JSON-safe values, seeding and devices.

Nothing here knows about games or learning algorithms; every package may import it. Run folders
live in `kingme.runs`, the progress bar in `kingme.progress`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


class UserError(Exception):
    """A mistake in what the user asked for (bad input, bad option, missing file).

    The CLI prints its message as one line and exits with status 2; no traceback is shown.
    """


def one_line(e: BaseException) -> str:
    """An exception as one plain line for a `UserError`: its first line, or its type's name when it
    has no message. A JSON decode error says where in words ("Expecting ',' delimiter at line 1,
    column 17") instead of Python's "line 1 column 17 (char 16)"."""
    if isinstance(e, json.JSONDecodeError):
        return f"{e.msg} at line {e.lineno}, column {e.colno}"
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(json_safe(obj), indent=2, sort_keys=False, default=str) + "\n")


def json_safe(x: Any) -> Any:
    """`x` with every float JSON cannot hold (NaN, ±inf) replaced by None, through dicts, lists, tuples.

    Tuples become lists (what JSON holds); other values are returned unchanged.
    """
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


_MASK64 = 0xFFFFFFFFFFFFFFFF


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from several integers (splitmix64 over them): seeds per game, per ply, per run."""
    z = 0x243F6A8885A308D3
    for p in parts:
        z = ((z ^ (int(p) & _MASK64)) + 0x9E3779B97F4A7C15) & _MASK64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        z ^= z >> 31
    return z >> 1


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and (if imported) torch; return a NumPy generator for the caller's own use."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - torch is a dependency, but keep this module torch-free
        pass
    return np.random.default_rng(seed)


def cosine_decay(lr: float, progress: float, final: float = 0.1) -> float:
    """lr · (final + (1 − final) · (1 + cos(π·p)) / 2) with p = `progress` clamped to [0, 1]: a half
    cosine from lr at p = 0 to final · lr at p = 1 (the learning-rate decay of every schedule here)."""
    p = min(max(progress, 0.0), 1.0)
    return lr * (final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * p)))


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, e.g. under `taskset`)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def resolve_device(spec: str) -> str:
    """Map `auto|cpu|cuda[:N]` to a torch device string, with a clear error for a missing GPU."""
    import torch

    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return "cpu"
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"device {spec!r} was asked for but no CUDA GPU is available (use cpu or auto)")
        return spec
    raise UserError(f"unknown device {spec!r}: expected auto, cpu or cuda")


def fmt(x: float | None, digits: int = 3) -> str:
    """A number for a report's table with `digits` decimals; "–" where it is missing (None) or NaN."""
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"
