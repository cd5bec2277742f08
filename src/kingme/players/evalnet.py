"""A small evaluation network for the compiled alpha-beta: a critic distilled to run inside numba.

The shipped network's critic (an MLP 256-256 on the 6 x 32 observation) costs about 4 µs a
position even in a batch, twenty times a node of the compiled `alphabeta` search; at equal time a
search with it reaches two plies less than the hand-written evaluation. This module is
the other way round: a network small enough to be called at every leaf of the compiled search, one
position at a time, with no Python and no batching.

The network (``EvalWeights``)
-----------------------------
Input: 128 binary features (`PIECE_FEATURES`), the first four planes of the environment's
observation (the side to move's men, its kings, the opponent's men, its kings; 32 squares each,
seen from the side to move, so square 1 is the mover's own back corner: `kingme.envs.planes`).
Then ``hidden`` fully connected ReLU layers and one output through tanh, a value in (-1, 1) for the
side to move in the critic's units::

    v(s) = tanh(w_L · relu(W_{L-1} ... relu(W_1 x + b_1) ... + b_{L-1}) + b_L)

The first layer is a sum of at most 24 rows of W_1 (one per piece), not a matrix product.
`EvalWeights.value` is the reference (numpy, any batch); `kingme.players.alphabeta.net_value` the
compiled one-position version the search calls (on `pack`'s layout), in the search's own module
because numba's on-disk cache of a function does not notice edits to the compiled functions of
other modules it calls; a test checks they agree. The search's integer score is ``round(v * SCALE)``.

Files
-----
safetensors, format ``kingme-checkers-eval``: tensors ``w0, b0, w1, b1, ...`` (``w_i`` of shape
(in, out), so a feature's row is contiguous) and metadata ``hidden`` (the layer sizes) and ``info``
(JSON: how it was made). Loading never executes code. Writing it (the distillation) is in
`kingme.selfplay.distill`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from numba import njit
from safetensors import safe_open
from safetensors.numpy import save as safetensors_save

from kingme.checkers.core import lsb_index
from kingme.common import UserError, atomic_write_bytes
from kingme.envs.planes import PIECE_FEATURES, PIECE_PLANES, SQUARES, frame_index_of_bit

FORMAT = "kingme-checkers-eval"
FEATURES = PIECE_FEATURES  # 4 planes x 32 squares, the observation's first four planes (128)
SCALE = 10_000  # the search's integer score of a value v is round(v * SCALE); a mate is 1e6
MAX_LAYERS = 4  # weight matrices, output layer included
DEFAULT_EVAL = Path(__file__).resolve().parent.parent / "data" / "eval_default.safetensors"

_lsb_index = cast(Callable[[np.uint64], int], lsb_index)  # the intrinsic, typed for mypy
_ZERO = np.uint64(0)
_ONE = np.uint64(1)


@dataclass
class EvalWeights:
    """The layers of an evaluation network: ``weights[i]`` of shape (in, out), float32."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 2 <= len(self.weights) <= MAX_LAYERS or len(self.weights) != len(self.biases):
            raise ValueError(f"an evaluation network has 2 to {MAX_LAYERS} layers with a bias each")
        prev = FEATURES
        for w, b in zip(self.weights, self.biases, strict=True):
            if w.ndim != 2 or w.shape[0] != prev or b.shape != (w.shape[1],):
                raise ValueError(f"layer shapes do not chain: {[tuple(x.shape) for x in self.weights]}")
            prev = w.shape[1]
        if prev != 1:
            raise ValueError("an evaluation network ends in one output")
        self.weights = [np.ascontiguousarray(w, dtype=np.float32) for w in self.weights]
        self.biases = [np.ascontiguousarray(b, dtype=np.float32) for b in self.biases]

    @property
    def hidden(self) -> tuple[int, ...]:
        return tuple(int(w.shape[1]) for w in self.weights[:-1])

    def kernel_args(self) -> Kernel:
        """The tuple the compiled search takes (see `net_value`)."""
        return pack(self)

    def value(self, x: np.ndarray) -> np.ndarray:
        """v(s) of a batch of feature rows (n, 128) -> (n,): the reference forward pass."""
        h = x.astype(np.float32)
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            h = np.maximum(h @ w + b, 0.0)
        return np.tanh(h @ self.weights[-1] + self.biases[-1])[:, 0]


# The compiled search's view of a network: (W1 (128, H1), stacked hidden weights (L-2, Hmax, Hmax)
# zero-padded, each stored (out, in), biases (L-1, Hmax), output weights (Hmax,), [output bias,
# layers], scratch (2, Hmax)).
# An empty W1 (0 rows) means "no network": the search uses the hand-written evaluation.
Kernel = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def pack(net: EvalWeights) -> Kernel:
    """Lay a network out for `net_value`: every hidden layer padded to the widest one."""
    width = max(net.hidden)
    layers = len(net.weights)
    w1 = np.zeros((FEATURES, width), dtype=np.float32)
    w1[:, : net.hidden[0]] = net.weights[0]
    mid = np.zeros((max(layers - 2, 1), width, width), dtype=np.float32)
    for i, w in enumerate(net.weights[1:-1]):
        mid[i, : w.shape[1], : w.shape[0]] = w.T  # stored (out, in)
    biases = np.zeros((layers - 1, width), dtype=np.float32)
    for i, b in enumerate(net.biases[:-1]):
        biases[i, : b.shape[0]] = b
    out = np.zeros(width, dtype=np.float32)
    out[: net.weights[-1].shape[0]] = net.weights[-1][:, 0]
    tail = np.array([net.biases[-1][0], layers], dtype=np.float32)
    scratch = np.zeros((2, width), dtype=np.float32)
    return (w1, mid, biases, out, tail, scratch)


def no_network() -> Kernel:
    """The kernel tuple meaning "use the hand-written evaluation"."""
    z2 = np.zeros((0, 1), dtype=np.float32)
    return (
        z2,
        np.zeros((1, 1, 1), dtype=np.float32),
        np.zeros((1, 1), dtype=np.float32),
        np.zeros(1, dtype=np.float32),
        np.zeros(2, dtype=np.float32),
        np.zeros((2, 1), dtype=np.float32),
    )


# ----------------------------------------------------------------------------------------------
# Features (for fitting; the search reads the bitboards itself)


@njit(cache=True)
def features(P: np.uint64, O: np.uint64, K: np.uint64, side: int, out: np.ndarray) -> None:
    """The 128 features of a position (P the side to move's pieces) into ``out`` (float32)."""
    out[:] = 0.0
    planes = (P & ~K, P & K, O & ~K, O & K)  # OWN_MEN, OWN_KINGS, OPP_MEN, OPP_KINGS
    for plane in range(PIECE_PLANES):
        bb = planes[plane]
        while bb != _ZERO:
            b = int(_lsb_index(bb))
            bb &= bb - _ONE
            out[plane * SQUARES + frame_index_of_bit(b, side)] = 1.0


@njit(cache=True)
def features_batch(nodes: np.ndarray) -> np.ndarray:
    """Features of positions given as rows (P, O, K, side, ...) of int64 -> (n, 128) float32."""
    x = np.zeros((nodes.shape[0], FEATURES), dtype=np.float32)
    for i in range(nodes.shape[0]):
        features(np.uint64(nodes[i, 0]), np.uint64(nodes[i, 1]), np.uint64(nodes[i, 2]), int(nodes[i, 3]), x[i])
    return x


# ----------------------------------------------------------------------------------------------
# Files


def save_eval(path: str | Path, net: EvalWeights) -> None:
    """Write a network to a safetensors file (atomically)."""
    tensors: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        tensors[f"w{i}"] = w
        tensors[f"b{i}"] = b
    meta = {"format": FORMAT, "hidden": json.dumps(list(net.hidden)), "info": json.dumps(net.info)}
    atomic_write_bytes(path, safetensors_save(tensors, metadata=meta))


def is_eval_file(path: str | Path) -> bool:
    """Whether `path` is a readable evaluation-network file (not a policy model)."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        with safe_open(str(p), framework="numpy") as f:
            return (f.metadata() or {}).get("format") == FORMAT
    except Exception:  # noqa: BLE001 - anything unreadable is not an evaluation file
        return False


def load_eval(path: str | Path) -> EvalWeights:
    """The network stored at `path`; UserError if it is not a readable evaluation-network file."""
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no items()
    except Exception as e:  # noqa: BLE001 - safetensors raises several types for bad files
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"{path}: not a readable evaluation-network file ({first})") from None
    if meta.get("format") != FORMAT:
        raise UserError(f"{path}: not an evaluation-network file (format {meta.get('format')!r})")
    n = len([k for k in tensors if k.startswith("w")])
    try:
        weights = [tensors[f"w{i}"] for i in range(n)]
        biases = [tensors[f"b{i}"] for i in range(n)]
        return EvalWeights(weights, biases, json.loads(meta.get("info", "{}")))
    except (KeyError, ValueError) as e:
        raise UserError(f"{path}: a damaged evaluation-network file ({e})") from None


def resolve_eval(model: str) -> EvalWeights | None:
    """The evaluation network a ``search:MODEL`` names, or None when MODEL is not one (a policy
    model: the batched search with the full network). ``default`` is the shipped one
    (`DEFAULT_EVAL`); a file is one by its format."""
    if model == "default":
        if not DEFAULT_EVAL.exists():
            raise UserError(f"search:default: the shipped evaluation network is missing ({DEFAULT_EVAL})")
        return load_eval(DEFAULT_EVAL)
    path = Path(model).expanduser()
    if is_eval_file(path):
        return load_eval(path)
    return None
