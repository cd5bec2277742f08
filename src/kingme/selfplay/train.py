"""Self-play PPO for checkers: `kingme train checkers`, the driver.

The learner is trained by `kingme.ppo.train` (the same PPO as every other environment) on a
`SelfPlayEnv`: games against an opponent pool (its live self, frozen snapshots added on a schedule,
and optionally any registered players, the ladder's search bots by default, as a curriculum), from
the ACF 3-move openings. After each update a callback adds snapshots, saves the pool with the
checkpoint, and on a schedule evaluates the learner against the ladder (`random`, `greedy`,
`alphabeta:2`, `alphabeta:4`) from the 3-move openings with colours swapped, logging scores and a
maximum-likelihood ladder Elo. At the end the run folder gets `report.md` (`selfplay.report`).
The configuration is `selfplay.config.SelfPlayConfig` (re-exported here).
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kingme.common import atomic_write_text, json_safe
from kingme.envs.planes import NUM_ACTIONS, OBS_SHAPE
from kingme.nets import ActorCritic, make_network
from kingme.players.policy import PolicyPlayer, save_model
from kingme.ppo.config import PPOConfig
from kingme.ppo.train import TrainResult, UpdateInfo, train
from kingme.runs import write_config
from kingme.selfplay.config import SelfPlayConfig
from kingme.selfplay.env import OpponentPool, SelfPlayEnv
from kingme.selfplay.report import write_report

__all__ = [
    "SelfPlayCallback",
    "SelfPlayConfig",
    "crossed_doublings",
    "evaluate",
    "kept_model_path",
    "kept_models",
    "opening_starts",
    "train_checkers",
    "write_report",
]

KEPT_MODELS_DIR = "models"


def crossed_doublings(first: int, before: int, after: int) -> list[int]:
    """The milestones first, 2 first, 4 first, ... that lie in (before, after]: those an update
    that took the learner from `before` to `after` steps reached. first >= 1."""
    out, m = [], first
    while m <= after:
        if m > before:
            out.append(m)
        m *= 2
    return out


def kept_model_path(run_dir: Path, steps: int) -> Path:
    """Where `--keep-models` writes the model of the milestone `steps`: models/steps_NNNNNNNNNNNN.safetensors."""
    return run_dir / KEPT_MODELS_DIR / f"steps_{steps:012d}.safetensors"


def kept_models(run_dir: Path) -> dict[int, Path]:
    """The kept milestone models of a run folder, by milestone (learner steps), in order."""
    found = {}
    for p in sorted((run_dir / KEPT_MODELS_DIR).glob("steps_*.safetensors")):
        digits = p.stem[len("steps_") :]
        if digits.isdigit():
            found[int(digits)] = p
    return dict(sorted(found.items()))


def opening_starts() -> np.ndarray:
    """(156, 4) uint64 rows (black, white, kings, side) of the ACF 3-move openings."""
    from kingme.arena.openings import acf_openings

    rows = []
    for op in acf_openings():
        b = op.board()
        rows.append((b.black, b.white, b.kings, int(b.turn)))
    return np.array(rows, dtype=np.uint64)


def evaluate(agent: ActorCritic, ladder: list[str], games: int, seed: int) -> dict[str, Any]:
    """The learner (its most probable move) rated on the ladder by `kingme.arena.ladder.run_ladder`,
    the code `kingme ladder` runs: ``games`` games against each rung of ``ladder``, colours
    swapped, from the ACF openings; the per-rung scores with 95% intervals and the ladder Elo."""
    from kingme.arena.ladder import run_ladder

    was_training = agent.training
    agent.eval()
    try:
        result = run_ladder(PolicyPlayer(agent, "learner"), games, ladder, seed)
    finally:
        agent.train(was_training)
    out: dict[str, Any] = {"opponents": {r.rung: r.stats.as_dict() for r in result.rungs}}
    out["elo"], (out["elo_low"], out["elo_high"]) = result.elo, result.elo_ci
    return out


class SelfPlayCallback:
    """After each update: snapshots, pool saving, win rates against the pool, ladder evaluation
    (on a schedule, and after the run's last update). The budget itself is `train()`'s."""

    def __init__(self, cfg: SelfPlayConfig, env: SelfPlayEnv, run_dir: Path | None, quiet: bool) -> None:
        self.cfg, self.env, self.run_dir, self.quiet = cfg, env, run_dir, quiet
        self.last_eval = time.perf_counter()
        self.evals: list[dict[str, Any]] = []
        self.best_score = -math.inf

    def __call__(self, info: UpdateInfo) -> None:
        cfg, env = self.cfg, self.env
        m = info.metrics
        pool = env.pool
        by_opp: dict[str, list[float]] = defaultdict(list)
        for name, r in env.results:
            by_opp["snapshot" if name.startswith("snapshot") else name].append(r)
            pool.record(name, r)
        env.results = []
        for name, rs in by_opp.items():
            m[f"selfplay/score_vs_{name}"] = float(np.mean([(r + 1) / 2 for r in rs]))
        added = pool.grow(info.agent, info.update)
        # The pool's ratings: the learner's recent score against each bot and the newest snapshot.
        m["pool/snapshots"] = float(len(pool.snapshots))
        m["pool/active_bots"] = float(pool.active_bots)
        for opp in pool.bot_opponents():
            m[f"pool/score_vs_{opp.name}"] = pool.score(opp.name)
        if pool.snapshot_updates:
            m["pool/score_vs_newest_snapshot"] = pool.score(f"snapshot@{pool.snapshot_updates[-1]}")
        if added and not self.quiet:
            print(f"[pool] update {info.update}: {', '.join(added)} entered the pool", flush=True)
        if self.run_dir is not None and (cfg.checkpoint_every and info.update % cfg.checkpoint_every == 0):
            env.pool.save(self.run_dir / "checkpoints")
        if self.run_dir is not None and cfg.keep_models:
            self.keep(info)
        due = cfg.eval_every_minutes > 0 and time.perf_counter() - self.last_eval >= cfg.eval_every_minutes * 60
        if due or info.last:
            self.run_eval(info, info.elapsed)
        if info.last and self.run_dir is not None:
            env.pool.save(self.run_dir / "checkpoints")

    def keep(self, info: UpdateInfo) -> None:
        """--keep-models: the model file of each doubling milestone this update reached. A resumed run
        reaches again the milestones after its checkpoint and overwrites their files, so each file is
        the run's actual trajectory."""
        assert self.run_dir is not None
        for m in crossed_doublings(self.cfg.keep_models, info.global_step - self.cfg.batch_size, info.global_step):
            path = kept_model_path(self.run_dir, m)
            path.parent.mkdir(parents=True, exist_ok=True)
            meta = {"update": info.update, "global_step": info.global_step, "milestone": m, "elapsed": info.elapsed}
            save_model(path, info.agent, self.cfg.net_description, meta)
            if not self.quiet:
                print(f"[keep] update {info.update}, {info.global_step} steps: {path}", flush=True)

    def restore_evals(self, run_dir: Path) -> None:
        """On resume: keep the evaluations up to the checkpoint being resumed (the report shows the
        whole run), drop any written after it, and remember the best score so far."""
        from kingme.ppo.checkpoint import load_checkpoint

        upto = int(load_checkpoint(run_dir).state["update"])
        path = run_dir / "evals.jsonl"
        if not path.is_file():
            return
        kept = []
        for line in path.read_text().splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue  # a half-written row from a killed run
            if isinstance(ev, dict) and int(ev.get("update", 1 << 62)) <= upto:
                kept.append(ev)
        atomic_write_text(path, "".join(json.dumps(ev) + "\n" for ev in kept))
        self.evals = kept
        scores = [float(np.mean([st["score"] for st in ev["opponents"].values()])) for ev in kept if ev["opponents"]]
        self.best_score = max(scores, default=-math.inf)

    def run_eval(self, info: UpdateInfo, elapsed: float) -> dict[str, Any]:
        cfg = self.cfg
        t0 = time.perf_counter()
        ev = evaluate(
            info.agent,
            list(cfg.eval_ladder),
            cfg.eval_games,
            cfg.seed + info.update,
        )
        ev.update(
            {
                "update": info.update,
                "global_step": info.global_step,
                "time": elapsed,
                "eval_seconds": time.perf_counter() - t0,
            }
        )
        self.evals.append(ev)
        for opp, st in ev["opponents"].items():
            info.metrics[f"eval/score_vs_{opp}"] = st["score"]
        if "elo" in ev and math.isfinite(ev["elo"]):
            info.metrics["eval/elo"] = ev["elo"]
        self.last_eval = time.perf_counter()
        if self.run_dir is not None:
            with open(self.run_dir / "evals.jsonl", "a") as f:
                f.write(json.dumps(json_safe(ev), default=float) + "\n")
            score = float(np.mean([st["score"] for st in ev["opponents"].values()]))
            if score >= self.best_score:
                self.best_score = score
                save_model(
                    self.run_dir / "best_model.safetensors",
                    info.agent,
                    cfg.net_description,
                    {"update": info.update, "global_step": info.global_step, "eval": ev},
                )
        if not self.quiet:
            scores = ", ".join(f"{o} {st['score']:.2f}" for o, st in ev["opponents"].items())
            print(
                f"[eval] update {info.update}, {elapsed / 60:.1f} min, {info.global_step} steps: {scores}; "
                f"Elo {ev.get('elo', float('nan')):.0f}",
                flush=True,
            )
        return ev


def train_checkers(cfg: SelfPlayConfig, run_dir: Path | None, resume: bool = False, quiet: bool = False) -> TrainResult:
    """Run self-play training as configured; returns the PPO result (the agent included)."""
    cfg.validate()
    torch.set_num_threads(cfg.threads)

    def make_net() -> ActorCritic:
        return make_network(
            cfg.net, cfg.hidden_sizes, cfg.channels, OBS_SHAPE, NUM_ACTIONS, cfg.value_head, cfg.draw_reward
        )

    pool = OpponentPool(
        make_net=make_net,
        max_snapshots=cfg.max_snapshots,
        p_self=cfg.p_self,
        p_bots=cfg.p_bots,
        bots=list(cfg.bots),
        weighting=cfg.opponent_weighting,
        power=cfg.pfsp_power,
        snapshot_rule=cfg.snapshot_rule,
        snapshot_every=cfg.snapshot_every,
        bot_rule=cfg.bot_rule,
        threshold=cfg.pool_threshold,
        min_games=cfg.pool_min_games,
    )

    def make_env(num_envs: int, seed: int, pool: OpponentPool) -> SelfPlayEnv:
        env = SelfPlayEnv(
            num_envs,
            pool,
            max_plies=cfg.max_plies,
            seed=seed,
            capture_reward=cfg.capture_reward,
            draw_reward=cfg.draw_reward,
        )
        if cfg.openings:
            env.inner.starts = opening_starts()
        return env

    if cfg.rollout_workers:  # Ray actors play the games, num_envs / N each, with θ_old broadcast per update
        from kingme.selfplay.workers import RolloutWorkers

        # To the callback it is like a SelfPlayEnv: it has the pool and the games that ended.
        env: Any = RolloutWorkers(make_env, pool, cfg.num_envs, cfg.num_steps, cfg.rollout_workers, cfg.seed)
    else:
        env = make_env(cfg.num_envs, cfg.seed, pool)
    if resume and run_dir is not None:
        pool.load(run_dir / "checkpoints")

    init = None if resume else cfg.initial_weights()  # a resumed run has its own weights

    def make_agent(obs_shape: tuple[int, ...], num_actions: int, _: PPOConfig) -> ActorCritic:
        agent = make_net()
        if init is not None:
            agent.load_state_dict(init)
        pool.learner = agent
        return agent

    if run_dir is not None:
        write_config(run_dir, cfg)
    callback = SelfPlayCallback(cfg, env, run_dir, quiet)
    if resume and run_dir is not None:
        callback.restore_evals(run_dir)
    result = train(
        cfg,
        env,
        budget=cfg.budget,
        run_dir=run_dir,
        resume=resume,
        make_agent=make_agent,
        callbacks=[callback],
        progress=not quiet,
    )
    if result.updates and (not callback.evals or callback.evals[-1]["update"] != result.updates):
        elapsed = float(result.history[-1]["time"]) if result.history else 0.0
        info = UpdateInfo(result.updates, result.global_step, {}, result.agent, None, run_dir)  # type: ignore[arg-type]
        callback.run_eval(info, elapsed)
    if run_dir is not None:
        pool.save(run_dir / "checkpoints")
        save_model(
            run_dir / "final_model.safetensors",
            result.agent,
            cfg.net_description,
            {"update": result.updates, "global_step": result.global_step},
        )
        write_report(run_dir, cfg, callback.evals, result)
    return result
