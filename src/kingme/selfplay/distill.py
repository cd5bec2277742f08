"""Distil a self-play network's critic into a small evaluation network for the compiled search.

    kingme distill --model policy:default --positions 1000000 --hidden 32,32

1. **Positions** (`sample_positions`): games of the teacher's policy against itself, sampling its
   moves at temperature 1, from the 156 ACF three-move openings, all games in lockstep (one forward
   pass a ply). A search evaluates the positions a game reaches and many it never would (after
   the bad moves it looks at), so from each game position, with probability ``branch``, a side line
   of 1 to ``branch_plies`` uniformly random moves is played as well and its last position kept.
   Only quiet positions are kept (no capture for the side to move): the search never evaluates any
   other (its capture extension plays them out).
2. **Targets**: the teacher's critic V(s) of each position, the whole observation (the draw clock
   too), in batches.
3. **Fit** (`fit`): the small network (`kingme.players.evalnet`) by mean squared error on V(s), Adam,
   minibatches, the learning rate annealed to zero; a held-out tenth of the games' positions
   measures it (MSE, correlation, and how often the small network and the teacher order two
   positions of the held-out set the same way).

The result is a model file for ``search:FILE...`` and ``alphabeta``'s compiled search; its ``info``
records the teacher, the data and the fit.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from kingme.arena.openings import acf_openings
from kingme.checkers import Board
from kingme.checkers.core import jumpers
from kingme.common import UserError, atomic_write_json, atomic_write_text
from kingme.config import arg
from kingme.envs.planes import NUM_ACTIONS, OBS_SHAPE
from kingme.players.evalnet import FEATURES, EvalWeights, features_batch, save_eval
from kingme.players.policy import load_model, move_distributions, resolve_model_path
from kingme.players.registry import parse_policy_spec
from kingme.players.search import network_heads, observe_batch
from kingme.progress import Advance, progress_bar
from kingme.runs import REPORT, write_config


@dataclass
class DistillConfig:
    """Options of `kingme distill`."""

    model: str = arg("policy:default", "The teacher: a policy: spec, a model file or a run folder.")
    positions: int = arg(1_000_000, "Quiet positions to collect (training and held-out together).")
    hidden: str = arg("32,32", "The small network's hidden layer sizes (1 to 3 layers).")
    branch: float = arg(0.5, "Probability of a random side line from each game position.")
    branch_plies: int = arg(4, "Longest random side line, in plies.")
    games: int = arg(256, "Teacher self-play games played in lockstep.")
    epochs: int = arg(8, "Passes over the training positions.")
    batch_size: int = arg(1024, "Positions per minibatch.")
    learning_rate: float = arg(4e-3, "Adam's learning rate at the start (annealed linearly to 0).")
    holdout: float = arg(0.1, "Share of the games whose positions are held out to measure the fit.")
    seed: int = arg(0, "Seed of the games, the side lines, the split and the fit.")
    torch_threads: int = arg(1, "CPU threads for torch.")

    def hidden_sizes(self) -> tuple[int, ...]:
        try:
            sizes = tuple(int(h) for h in self.hidden.split(",") if h.strip())
        except ValueError:
            raise UserError(f"--hidden: expected sizes like 32,32, got {self.hidden!r}") from None
        if not 1 <= len(sizes) <= 3 or any(not 1 <= h <= 512 for h in sizes):
            raise UserError(f"--hidden: 1 to 3 layers of 1 to 512 units, got {self.hidden!r}")
        return sizes

    def validate(self) -> None:
        self.hidden_sizes()
        checks = [
            (self.positions >= 1000, "--positions must be at least 1000"),
            (0.0 <= self.branch <= 1.0, "--branch must be in [0, 1]"),
            (1 <= self.branch_plies <= 40, "--branch-plies must be in 1..40"),
            (1 <= self.games <= 4096, "--games must be in 1..4096"),
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.learning_rate > 0, "--learning-rate must be positive"),
            (0.0 < self.holdout < 0.5, "--holdout must be in (0, 0.5)"),
            (self.torch_threads >= 1, "--torch-threads must be at least 1"),
        ]
        for ok, msg in checks:
            if not ok:
                raise UserError(msg)


def teacher_path(model: str) -> Path:
    """The file a --model names (``policy:NAME``, a file or a run folder)."""
    spec = parse_policy_spec(model[len("policy:") :] if model.startswith("policy:") else model)
    return resolve_model_path(spec)


def _row(board: Board) -> tuple[int, int, int, int, int]:
    """(P, O, K, side, clock): the position seen from the side to move."""
    side = int(board.turn)
    P, O = (board.black, board.white) if side == 0 else (board.white, board.black)
    return (P, O, board.kings, side, board.clock)


def _quiet(row: tuple[int, int, int, int, int]) -> bool:
    P, O, K, side, _ = row
    return int(jumpers(np.uint64(P), np.uint64(O), np.uint64(K), side)) == 0


def sample_positions(
    agent: Any, n: int, cfg: DistillConfig, advance: Advance | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` quiet positions as rows (P, O, K, side, clock) int64 (n, 5), and the game each came
    from (n,), from the teacher's sampled self-play with random side lines (module docstring)."""
    rng = np.random.default_rng(cfg.seed)
    openings = acf_openings()
    rows: list[tuple[int, int, int, int, int]] = []
    game_of: list[int] = []
    boards: list[Board] = []
    ids: list[int] = []
    next_game = 0

    def new_game() -> tuple[Board, int]:
        nonlocal next_game
        b = openings[int(rng.integers(len(openings)))].board()
        next_game += 1
        return b, next_game - 1

    for _ in range(cfg.games):
        b, g = new_game()
        boards.append(b)
        ids.append(g)
    while len(rows) < n:
        before = len(rows)
        for b, g in zip(boards, ids, strict=True):
            r = _row(b)
            if _quiet(r):
                rows.append(r)
                game_of.append(g)
            if rng.random() < cfg.branch:
                side_line = b.copy()
                for _ in range(int(rng.integers(1, cfg.branch_plies + 1))):
                    moves = side_line.legal_moves()
                    if not moves or side_line.is_game_over():
                        break
                    side_line.push(moves[int(rng.integers(len(moves)))])
                r = _row(side_line)
                if side_line.legal_moves() and _quiet(r):
                    rows.append(r)
                    game_of.append(g)
        dists, _ = move_distributions(agent, boards, 1.0, "cpu")
        for i, d in enumerate(dists):
            p = np.array([q for _, q in d], dtype=np.float64)
            boards[i].push(d[int(rng.choice(len(d), p=p / p.sum()))][0])
            if boards[i].is_game_over():
                boards[i], ids[i] = new_game()
        if advance is not None:
            advance(min(len(rows), n) - min(before, n))
    return np.array(rows[:n], dtype=np.int64), np.array(game_of[:n], dtype=np.int64)


def critic_values(agent: Any, rows: np.ndarray, batch: int = 8192) -> np.ndarray:
    """The teacher's V(s) of positions given as rows (P, O, K, side, clock) -> (n,) float32."""
    value, _ = network_heads(agent)
    out = np.empty(len(rows), dtype=np.float32)
    obs = np.zeros((batch, *OBS_SHAPE), dtype=np.float32)
    mask = np.zeros(NUM_ACTIONS, dtype=np.bool_)
    with torch.no_grad():
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]  # (b, 5): P, O, K, side, clock
            observe_batch(chunk, obs[: len(chunk)], mask)  # (b, 6, 32), compiled
            v = value(torch.from_numpy(obs[: len(chunk)]))
            out[start : start + len(chunk)] = v.clamp(-1.0, 1.0).numpy()
    return out


class SmallNet(nn.Module):
    """The torch twin of `EvalWeights` for fitting: 128 -> hidden (ReLU) -> 1 (tanh)."""

    def __init__(self, hidden: tuple[int, ...]) -> None:
        super().__init__()
        sizes = (FEATURES, *hidden, 1)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return torch.tanh(self.layers[-1](x)).squeeze(-1)

    def export(self, info: dict[str, Any]) -> EvalWeights:
        linear = [cast(nn.Linear, layer) for layer in self.layers]
        ws = [layer.weight.detach().numpy().T.copy() for layer in linear]  # (out, in) -> (in, out)
        bs = [layer.bias.detach().numpy().copy() for layer in linear]
        return EvalWeights(ws, bs, info)


def pair_agreement(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, pairs: int = 200_000) -> float:
    """Share of random pairs (i, j) with a_i - a_j and b_i - b_j of the same sign (ties excluded)."""
    i = rng.integers(len(a), size=pairs)
    j = rng.integers(len(a), size=pairs)
    da, db = a[i] - a[j], b[i] - b[j]
    keep = (np.abs(da) > 1e-6) & (np.abs(db) > 1e-6)
    return float(np.mean(np.sign(da[keep]) == np.sign(db[keep])))


def fit(
    x: np.ndarray, y: np.ndarray, holdout: np.ndarray, cfg: DistillConfig, advance: Advance | None = None
) -> tuple[SmallNet, dict[str, float]]:
    """Fit the small network to (features x, targets y) on the rows not in ``holdout`` (a mask)."""
    torch.manual_seed(cfg.seed)
    net = SmallNet(cfg.hidden_sizes())
    xt, yt = torch.from_numpy(x[~holdout]), torch.from_numpy(y[~holdout])
    xv, yv = torch.from_numpy(x[holdout]), torch.from_numpy(y[holdout])
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    steps = cfg.epochs * math.ceil(len(xt) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 - k / steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), cfg.batch_size):
            idx = perm[start : start + cfg.batch_size]
            loss = torch.mean((net(xt[idx]) - yt[idx]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if advance is not None:
                advance()
    with torch.no_grad():
        pv = net(xv).numpy()
        pt = net(xt[:200_000]).numpy()
    yv_np = yv.numpy()
    metrics = {
        "train_mse": float(np.mean((pt - yt[:200_000].numpy()) ** 2)),
        "holdout_mse": float(np.mean((pv - yv_np) ** 2)),
        "holdout_target_var": float(np.var(yv_np)),
        "holdout_corr": float(np.corrcoef(pv, yv_np)[0, 1]),
        "holdout_pair_agreement": pair_agreement(pv, yv_np, np.random.default_rng(cfg.seed)),
    }
    return net, metrics


MODEL_FILE = "eval_model.safetensors"  # the distilled network, in the run folder


def distill(cfg: DistillConfig, run: Path, quiet: bool = False) -> dict[str, Any]:
    """The whole pipeline (module docstring) into the run folder ``run``: config.json, the model
    (`MODEL_FILE`), metrics.json and report.md; returns the model's info."""
    cfg.validate()
    write_config(run, cfg)
    torch.set_num_threads(cfg.torch_threads)
    t0 = time.perf_counter()
    path = teacher_path(cfg.model)
    agent, _ = load_model(path)
    agent.eval()
    with progress_bar(cfg.positions, "positions", not quiet) as bar:
        rows, games = sample_positions(agent, cfg.positions, cfg, bar)
    t_games = time.perf_counter() - t0
    y = critic_values(agent, rows)
    x = features_batch(rows)  # (n, 128)
    rng = np.random.default_rng(cfg.seed + 1)
    held_games = rng.random(int(games.max()) + 1) < cfg.holdout
    holdout = held_games[games]
    steps = cfg.epochs * math.ceil(int((~holdout).sum()) / cfg.batch_size)
    with progress_bar(steps, "fit", not quiet) as bar:
        net, metrics = fit(x, y, holdout, cfg, bar)
    info = {
        "teacher": cfg.model,
        "teacher_file": path.name,
        "teacher_sha256": hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None,
        "config": asdict(cfg),
        "positions": len(rows),
        "games": int(games.max()) + 1,
        "metrics": metrics,
        "seconds": {"positions": round(t_games, 1), "total": round(time.perf_counter() - t0, 1)},
    }
    save_eval(run / MODEL_FILE, net.export(info))
    atomic_write_json(run / "metrics.json", info)
    atomic_write_text(run / REPORT, report(info, run))
    return info


def report(info: dict[str, Any], run: Path) -> str:
    """The run's report.md: what was distilled and how well the small network fits."""
    m, cfg = info["metrics"], info["config"]
    return "\n".join(
        [
            f"# Distilled evaluation network: {run.name}",
            "",
            f"Teacher: `{info['teacher']}` ({info['teacher_file']}); student: 128 -> {cfg['hidden']} -> 1 "
            f"(ReLU, tanh output). {info['positions']:,} quiet positions from {info['games']:,} sampled "
            f"self-play games (random side lines with probability {cfg['branch']}), "
            f"{cfg['epochs']} epochs, learning rate {cfg['learning_rate']} annealed to 0, seed {cfg['seed']}.",
            "",
            "| held-out positions | value |",
            "|---|---|",
            f"| mean squared error (target variance {m['holdout_target_var']:.4f}) | {m['holdout_mse']:.4f} |",
            f"| correlation with the teacher's V(s) | {m['holdout_corr']:.4f} |",
            f"| pairs ordered as the teacher orders them | {m['holdout_pair_agreement']:.4f} |",
            f"| training mean squared error | {m['train_mse']:.4f} |",
            "",
            f"Time: {info['seconds']['positions']} s for the positions, {info['seconds']['total']} s in all.",
            "",
            f"Use it: `kingme arena search:{run / MODEL_FILE}::20 alphabeta:40:20`.",
            "",
        ]
    )
