"""The comparison: per graph seed, make the data, train the three sequence models, score every way
to act; then aggregate over seeds.

Outline of `run_seed` (one graph seed):
1. TASK     the graph of that seed, its BFS distances, its goal (or a goal per episode).
2. DATA     `walks` uniformly random walks (optionally plus one hindsight-relabelled copy of each).
3. TRAIN    Decision Transformer, behaviour cloning and return prediction on the same walks.
4. EVALUATE every way to act on every evaluated (start, goal) pair, `eval_episodes` times each.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from kingme.common import seed_everything
from kingme.config import arg, require
from kingme.dt.act import (
    BehaviourCloning,
    DecisionTransformer,
    Episodes,
    Policy,
    RandomWalk,
    ReturnPrediction,
    ShortestPath,
    rollout,
    summarize,
)
from kingme.dt.data import Walks, best_seen_returns, random_walks, relabel_goals, to_batch
from kingme.dt.model import GPTConfig
from kingme.dt.train import TrainSettings, train_model
from kingme.envs.graph import GraphTask, make_task

# way to act -> label, in the order of every table
METHODS: dict[str, str] = {
    "random": "random walk",
    "bc": "behaviour cloning",
    "dt": "Decision Transformer",
    "rp": "return prediction (argmax)",
    "shortest": "shortest path (BFS)",
}


@dataclass
class RunConfig:
    """`kingme dt run`: train and evaluate every way to act on several graph seeds."""

    nodes: int = arg(20, "nodes of the random directed graph")
    edge_prob: float = arg(0.1, "probability of each directed edge (networkx gnp_random_graph)")
    walks: int = arg(1000, "uniformly random walks in the training data")
    max_steps: int = arg(10, "step cap of every episode and walk")
    seeds: int = arg(5, "graph seeds to run (seed, seed+1, ...); each has its own graph and data")
    seed: int = arg(0, "first graph seed")
    goal_conditioned: bool = arg(False, "a random goal per episode; the state is (node, goal)")
    relabel: bool = arg(False, "add a copy of each walk relabelled to a goal it reached later")
    fail_prob: float = arg(0.0, "probability that a move fails and leaves the agent in place")
    dt_target: Literal["data-max", "fixed"] = arg(
        "data-max",
        "Decision Transformer's R_0: the best return seen from (start, goal) in the data, or fixed",
    )
    fixed_target: int = arg(0, "R_0 when --dt-target fixed (<= 0; 0 asks for a one-move path)")
    fallback_target: int = arg(-4, "R_0 where the data never reached the goal from that start (see docs)")
    eval_episodes: int = arg(10, "episodes per evaluated (start, goal) pair")
    n_layer: int = arg(2, "transformer blocks")
    n_head: int = arg(2, "attention heads")
    n_embd: int = arg(48, "embedding width")
    dropout: float = arg(0.0, "dropout probability")
    steps: int = arg(300, "optimiser steps per model")
    batch_size: int = arg(64, "walks per minibatch")
    lr: float = arg(2e-3, "peak learning rate (linear warm-up, cosine decay to a tenth)")
    weight_decay: float = arg(0.1, "AdamW weight decay on weight matrices")
    threads: int = arg(1, "torch CPU threads (1 is fastest for these tiny models)")

    def validate(self) -> None:
        require(self.nodes >= 2, f"--nodes must be at least 2, got {self.nodes}")
        require(0.0 <= self.edge_prob <= 1.0, f"--edge-prob must lie in [0, 1], got {self.edge_prob}")
        require(self.walks >= 1, f"--walks must be at least 1, got {self.walks}")
        require(self.max_steps >= 1, f"--max-steps must be at least 1, got {self.max_steps}")
        require(self.seeds >= 1, f"--seeds must be at least 1, got {self.seeds}")
        require(self.seed >= 0, f"--seed must be non-negative, got {self.seed}")
        require(0.0 <= self.fail_prob < 1.0, f"--fail-prob must lie in [0, 1), got {self.fail_prob}")
        require(
            -self.max_steps <= self.fixed_target <= 0,
            f"--fixed-target must lie in [-max_steps, 0], got {self.fixed_target}",
        )
        require(
            -self.max_steps <= self.fallback_target <= 0,
            f"--fallback-target must lie in [-max_steps, 0], got {self.fallback_target}",
        )
        require(self.eval_episodes >= 1, f"--eval-episodes must be at least 1, got {self.eval_episodes}")
        require(self.n_layer >= 1, f"--n-layer must be at least 1, got {self.n_layer}")
        require(self.n_head >= 1, f"--n-head must be at least 1, got {self.n_head}")
        require(
            self.n_embd >= 1 and self.n_embd % self.n_head == 0,
            f"--n-embd must be a positive multiple of --n-head, got {self.n_embd}",
        )
        require(0.0 <= self.dropout < 1.0, f"--dropout must lie in [0, 1), got {self.dropout}")
        require(self.steps >= 1, f"--steps must be at least 1, got {self.steps}")
        require(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        require(self.lr > 0.0, f"--lr must be positive, got {self.lr}")
        require(self.weight_decay >= 0.0, f"--weight-decay must be non-negative, got {self.weight_decay}")
        require(self.threads >= 1, f"--threads must be at least 1, got {self.threads}")

    def task(self, seed: int) -> GraphTask:
        return make_task(
            self.nodes,
            self.edge_prob,
            seed,
            goal_conditioned=self.goal_conditioned,
            max_steps=self.max_steps,
            fail_prob=self.fail_prob,
        )

    def model_config(self, kind: Literal["dt", "bc", "rp"]) -> GPTConfig:
        return GPTConfig(
            n_nodes=self.nodes,
            max_steps=self.max_steps,
            n_layer=self.n_layer,
            n_head=self.n_head,
            n_embd=self.n_embd,
            dropout=self.dropout,
            return_tokens=kind == "dt",
            goal_tokens=self.goal_conditioned,
            head="return" if kind == "rp" else "action",
        )

    def train_settings(self) -> TrainSettings:
        return TrainSettings(
            steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
        )


def dt_targets(cfg: RunConfig, walks: Walks, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """R_0 for every (start, goal): (N, N) int table, and (N, N) bool "the data had a success".

    data-max: the best return-to-go seen at (start, goal) on a walk that arrived (any step of it);
    where there is none, `fallback_target`. fixed: `fixed_target` everywhere.
    """
    best = best_seen_returns(walks, n_nodes)
    seen = np.isfinite(best)
    if cfg.dt_target == "fixed":
        return np.full((n_nodes, n_nodes), cfg.fixed_target, dtype=np.int64), seen
    table = np.where(seen, best, cfg.fallback_target).round().astype(np.int64)
    return table, seen


ProgressFn = Callable[[str, int], None]  # (stage description, units of work done since last call)


def run_seed(cfg: RunConfig, seed: int, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Train and evaluate every way to act on the graph of `seed`; returns a JSON-able dict."""
    tick = progress or _no_progress
    t0 = time.perf_counter()
    rng = seed_everything(seed)

    # 1. TASK
    task = cfg.task(seed)
    starts, goals = task.eval_pairs()
    E = cfg.eval_episodes
    ep_starts, ep_goals = np.repeat(starts, E), np.repeat(goals, E)  # (P,) -> (P*E,)

    # 2. DATA
    walks = random_walks(task, cfg.walks, rng)
    data_success = float(walks.success().mean())
    if cfg.relabel:
        walks = walks.concat(relabel_goals(walks, rng))
    batch = to_batch(walks)
    targets, seen = dt_targets(cfg, walks, task.n_nodes)
    covered = seen[starts, goals]  # (P,) a walk in the data went from this start to this goal
    ok = walks.success()
    as_start = np.zeros((task.n_nodes, task.n_nodes), dtype=bool)  # a whole walk s -> g succeeded
    as_start[walks.states[ok, 0], walks.goals[ok, 0]] = True

    # 3. TRAIN
    policies: dict[str, Policy] = {"random": RandomWalk(task)}
    losses: dict[str, float] = {}
    kinds: tuple[Literal["bc", "dt", "rp"], ...] = ("bc", "dt", "rp")
    for kind in kinds:
        torch.manual_seed(seed * 1000 + len(losses))
        model, curve = train_model(
            cfg.model_config(kind),
            batch,
            cfg.train_settings(),
            rng,
            on_step=_ticker(tick, f"seed {seed}: train {kind}"),
        )
        losses[kind] = float(np.mean(curve[-50:]))
        if kind == "bc":
            policies["bc"] = BehaviourCloning(model)
        elif kind == "dt":
            policies["dt"] = DecisionTransformer(model, targets)
        else:
            policies["rp"] = ReturnPrediction(model)
    policies["shortest"] = ShortestPath(task)

    # 4. EVALUATE
    methods: dict[str, Any] = {}
    for name in METHODS:
        episodes = rollout(task, policies[name], ep_starts, ep_goals, rng)
        methods[name] = summarize(episodes, cfg.max_steps)
        methods[name]["covered_success"], methods[name]["uncovered_success"] = _by_coverage(
            episodes, np.repeat(covered, E)
        )
        tick(f"seed {seed}: evaluate", 1)
    return {
        "seed": seed,
        "goal": task.goal,
        "eval_pairs": int(starts.size),
        "covered_pairs": int(covered.sum()),
        "start_covered_pairs": int(as_start[starts, goals].sum()),
        "reachable_beyond_cap": int(((task.dist > cfg.max_steps) & _goal_cols(task)).sum()),
        "mean_shortest": float(task.dist[starts, goals].mean()),
        "data_walks": len(walks),
        "data_success": data_success,
        "final_loss": losses,
        "methods": methods,
        "seconds": time.perf_counter() - t0,
    }


def _no_progress(_desc: str, _n: int) -> None:
    pass


def _ticker(tick: ProgressFn, desc: str) -> Callable[[int, float], None]:
    """An `on_step(step, loss)` callback that advances the progress bar by one unit."""

    def on_step(_step: int, _loss: float) -> None:
        tick(desc, 1)

    return on_step


def _goal_cols(task: GraphTask) -> np.ndarray:
    mask = np.ones_like(task.dist, dtype=bool)
    if task.goal is not None:
        mask[:] = False
        mask[:, task.goal] = True
    return mask


def _by_coverage(ep: Episodes, covered: np.ndarray) -> tuple[float | None, float | None]:
    """Success over pairs the data reached the goal from, and over the others (None if none)."""
    on = float(ep.success[covered].mean()) if covered.any() else None
    off = float(ep.success[~covered].mean()) if (~covered).any() else None
    return on, off


def units_per_seed(cfg: RunConfig) -> int:
    """Progress units of one seed: an optimiser step each, plus one per way to act evaluated."""
    return 3 * cfg.steps + len(METHODS)


def _stats(values: list[float]) -> dict[str, float]:
    v = np.array([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if v.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan")}
    return {
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        "min": float(v.min()),
        "max": float(v.max()),
    }


def aggregate(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, sample std, min and max over seeds of each way to act's success and length ratio.

    `pooled_hist` adds up the path-length histograms of all seeds (index 0: failures).
    """
    out: dict[str, Any] = {}
    for name in METHODS:
        rows = [s["methods"][name] for s in per_seed]
        out[name] = {
            "success": _stats([r["success"] for r in rows]),
            "length_ratio": _stats([r["length_ratio"] for r in rows]),
            "covered_success": _stats([r["covered_success"] for r in rows]),
            "uncovered_success": _stats([r["uncovered_success"] for r in rows]),
            "pooled_hist": [int(x) for x in np.sum([r["hist"] for r in rows], axis=0)],
        }
    return out
