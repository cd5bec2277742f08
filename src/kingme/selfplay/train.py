"""Self-play PPO for checkers: `kingme train checkers`.

The learner is trained by `kingme.ppo.train` (the same PPO as every other environment) on a
`SelfPlayEnv`: games against an opponent pool (its live self, frozen snapshots added on a schedule,
and optionally the ladder's search bots as a curriculum), from the ACF 3-move openings. After each
update a callback adds snapshots, saves the pool with the checkpoint, and on a schedule evaluates
the learner against the ladder (`random`, `greedy`, `alphabeta:2`, `alphabeta:4`) from the
3-move openings with colours swapped, logging scores and a maximum-likelihood ladder Elo. At the
end the run folder gets `report.md` with learning-curve plots and the final ladder table.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from kingme.arena.ladder import TRAINING_RUNGS, check_rungs
from kingme.common import UserError, atomic_write_text, json_safe, usable_cores
from kingme.config import arg, require
from kingme.nets import ActorCritic, make_network
from kingme.players.policy import PolicyPlayer, save_model
from kingme.ppo.config import PPOConfig
from kingme.ppo.train import TrainResult, UpdateInfo, train
from kingme.runs import write_config
from kingme.runs.budget import Budget
from kingme.selfplay.env import OpponentPool, SelfPlayEnv


@dataclass
class SelfPlayConfig(PPOConfig):
    """PPO's fields (with checkers defaults) plus the self-play ones."""

    env: str = arg("checkers", "The environment (always checkers for this command).")
    num_envs: int = arg(256, "Games played in parallel (N).")
    torch_threads: int = arg(
        0,
        "CPU threads for torch (0 = one per usable core: 2 on the reference 2-core machine, where the "
        "loop runs about 1.5 times as many steps a second as with 1; use 1 when the other core is busy).",
    )
    total_steps: int = arg(2_000_000_000, "Learner steps to train for (the time budget usually ends a run first).")
    minutes: float = arg(
        20.0,
        "Wall-clock budget in minutes for the whole run, resumed sessions included (0 = no limit); "
        "the run stops after the update that spends it.",
    )
    hidden_sizes: tuple[int, ...] = arg(
        (128, 128),
        "Hidden layer widths of the MLP network, comma-separated (128,128: about 1.4 times the "
        "steps per second of 256,256 here, and at least as strong after 20 minutes; the shipped "
        "model is 256,256).",
    )
    net: Literal["mlp", "conv"] = arg(
        "mlp", "Network: mlp (fully connected) or conv (3x3 convolutions over the board)."
    )
    channels: int = arg(64, "Channels of the convolutional network.")
    value_head: Literal["scalar", "wdl"] = arg(
        "wdl",
        "The critic: one scalar value, or win / draw / loss probabilities (value = P(win) - P(loss), "
        "trained by cross-entropy to the return as a two-point distribution; with a draw reward c "
        "the draw point is c; mlp only).",
    )
    num_steps: int = arg(64, "Learner steps per game in each rollout (T).")
    gamma: float = arg(0.99, "Discount factor γ.")
    gae_lambda: float = arg(0.95, "GAE λ.")
    update_epochs: int = arg(4, "Passes over the batch per update (K).")
    num_minibatches: int = arg(4, "Shuffled minibatches per epoch.")
    learning_rate: float = arg(
        1e-3,
        "Adam learning rate (the start value when annealed; the shipped model: 5e-4 constant for 95 "
        "minutes, then annealed from 5e-4 in a 60-minute fine-tune).",
    )
    anneal_lr: bool = arg(
        True,
        "Anneal the learning rate linearly to 0 over the budget (--minutes, or --total-steps when further "
        "along); --no-anneal-lr keeps it constant.",
    )
    ent_coef: float = arg(0.01, "Entropy coefficient c_e at the start.")
    ent_coef_final: float = arg(0.003, "Entropy coefficient at the end of the schedule.")
    ent_schedule: Literal["constant", "linear", "exponential"] = arg(
        "linear", "How c_e moves from ent_coef to ent_coef_final (over the time budget when one is set)."
    )
    checkpoint_every: int = arg(10, "Write a checkpoint every this many updates (0 = at the end only).")
    # --- self-play ---
    max_plies: int = arg(200, "Truncate a game after this many complete moves (both sides).")
    p_self: float = arg(0.3, "Probability that a game's opponent is the live learner.")
    p_bots: float = arg(
        0.3, "Uniform weighting only: probability that a game's opponent is a curriculum bot (0 = no bots)."
    )
    bots: tuple[str, ...] = arg(
        ("random", "alphabeta:1", "alphabeta:2", "alphabeta:3"),
        "Curriculum bots, comma-separated (random or alphabeta:D), easiest first.",
    )
    opponent_weighting: Literal["uniform", "hard", "even"] = arg(
        "hard",
        "How a game that is not against the live learner picks its opponent: uniform (bots with "
        "probability p-bots, else a snapshot), or prioritised fictitious self-play over snapshots and "
        "bots by the learner's recent score x against each: hard ((1-x)^p) or even (x(1-x)).",
    )
    pfsp_power: float = arg(2.0, "p of the hard weighting (1-x)^p.")
    snapshot_rule: Literal["every", "beat"] = arg(
        "beat",
        "When a snapshot enters the pool: every snapshot-every updates, or when the learner scores "
        "pool-threshold against the newest snapshot.",
    )
    bot_rule: Literal["all", "beat"] = arg(
        "all",
        "Curriculum bots: all in play from the start, or entering one at a time (in the order of "
        "--bots) when the learner scores pool-threshold against the last one in.",
    )
    pool_threshold: float = arg(0.7, "Score (draws count half) that triggers the beat rules.")
    pool_min_games: int = arg(64, "Recent games against an opponent before its score counts for the rules.")
    snapshot_every: int = arg(10, "Add a frozen snapshot of the learner to the pool every this many updates.")
    max_snapshots: int = arg(10, "Snapshots kept in the pool (the oldest goes first).")
    openings: bool = arg(True, "Start training games from the ACF 3-move openings (else from the start).")
    capture_reward: float = arg(0.0, "Shaping: reward per opponent piece captured (0 = off, the default).")
    draw_reward: float = arg(-0.3, "Reward for a draw by rule: < 0 is contempt for draws (0 = worth nothing).")
    eval_every_minutes: float = arg(2.0, "Evaluate against the ladder every this many minutes (0 = only at the end).")
    eval_games: int = arg(64, "Games per ladder opponent at each evaluation (even; colours swapped).")
    eval_ladder: tuple[str, ...] = arg(TRAINING_RUNGS, "Ladder rungs the evaluation plays (a subset of the ladder).")
    init_model: str = arg(
        "",
        "Start the learner from this model's weights instead of at random: a model file, checkpoint or "
        "run folder, or policy:NAME for a shipped model (its network must be the one --net, "
        "--hidden-sizes and --value-head describe; the optimiser and the pool start fresh).",
    )
    rollout_workers: int = arg(
        0, "Ray actors that collect the rollouts, num-envs / N games each (0 = here; needs pip install 'kingme[ray]')."
    )

    def validate(self) -> None:
        super().validate()
        require(self.minutes >= 0, f"minutes must be >= 0, got {self.minutes}")
        for name in ("bots", "eval_ladder"):
            value = getattr(self, name)
            require(
                isinstance(value, tuple) and all(isinstance(v, str) for v in value),
                f"{name} must be a tuple of player specs, e.g. ('random', 'alphabeta:2'), got {value!r}",
            )
        require(self.max_plies >= 1, f"max-plies must be >= 1, got {self.max_plies}")
        require(
            0 <= self.p_self <= 1 and 0 <= self.p_bots <= 1 and self.p_self + self.p_bots <= 1,
            "p-self and p-bots must be in [0, 1] with p-self + p-bots <= 1",
        )
        for b in self.bots:
            require(
                b == "random" or (b.startswith("alphabeta:") and b.split(":")[1].isdigit()),
                f"unknown curriculum bot {b!r}: expected random or alphabeta:D",
            )
        require(self.p_bots == 0 or bool(self.bots), "p-bots > 0 needs at least one bot in --bots")
        require(self.snapshot_every >= 1, f"snapshot-every must be >= 1, got {self.snapshot_every}")
        require(0 < self.pool_threshold <= 1, f"pool-threshold must be in (0, 1], got {self.pool_threshold}")
        require(self.pool_min_games >= 1, f"pool-min-games must be >= 1, got {self.pool_min_games}")
        require(self.pfsp_power > 0, f"pfsp-power must be > 0, got {self.pfsp_power}")
        require(self.max_snapshots >= 1, f"max-snapshots must be >= 1, got {self.max_snapshots}")
        require(self.channels >= 1, f"channels must be >= 1, got {self.channels}")
        require(self.value_head == "scalar" or self.net == "mlp", "--value-head wdl needs --net mlp")
        require(
            self.value_head == "scalar" or -1 < self.draw_reward < 1,
            f"--value-head wdl needs -1 < draw-reward < 1 (a draw's value), got {self.draw_reward}",
        )
        require(
            self.eval_games >= 2 and self.eval_games % 2 == 0,
            f"eval-games must be even and >= 2, got {self.eval_games}",
        )
        require(self.eval_every_minutes >= 0, "eval-every-minutes must be >= 0")
        require(bool(self.eval_ladder), "--eval-ladder needs at least one opponent")
        check_rungs(self.eval_ladder)  # a rung off the ladder fails here, not at the first evaluation
        require(
            self.rollout_workers == 0 or (self.rollout_workers > 0 and self.num_envs % self.rollout_workers == 0),
            f"rollout-workers must be >= 0 and divide num-envs ({self.num_envs}), got {self.rollout_workers}",
        )
        if self.rollout_workers:
            from kingme.scale import require_ray

            require_ray()  # a missing Ray fails here, before a run folder is made

    def initial_weights(self) -> dict[str, torch.Tensor] | None:
        """The weights `init_model` names (None when empty); UserError if it cannot be read or its
        network is not this config's."""
        if not self.init_model:
            return None
        from kingme.players.policy import load_model, resolve_model_path
        from kingme.players.registry import parse_policy_spec

        text = self.init_model
        path = resolve_model_path(parse_policy_spec(text[len("policy:") :])) if text.startswith("policy:") else text
        agent, net = load_model(path)
        size = "hidden" if self.net == "mlp" else "channels"
        keys = ("kind", size, "value_head") + (("draw_value",) if self.value_head == "wdl" else ())
        mine = {k: self.net_description[k] for k in keys}
        theirs = {
            "kind": net.get("kind"),
            size: [int(h) for h in net.get("hidden") or ()] if size == "hidden" else int(net.get("channels", 64)),
            "value_head": net.get("value_head", "scalar"),
            "draw_value": float(net.get("draw_value", 0.0)),
        }
        theirs = {k: theirs[k] for k in keys}  # a scalar critic has no draw point to match
        if theirs != mine:
            raise UserError(f"--init-model {text}: its network {theirs} is not this run's {mine}")
        return agent.state_dict()

    @property
    def threads(self) -> int:
        """The torch threads the run uses (`torch_threads`, 0 = one per usable core)."""
        return self.torch_threads or usable_cores()

    @property
    def budget(self) -> Budget:
        """The run's budget: `total_steps` learner steps and `minutes` of training (0 = no limit)."""
        return Budget.of(self.total_steps, self.minutes * 60)

    @property
    def net_description(self) -> dict[str, Any]:
        return {
            "kind": self.net,
            "hidden": list(self.hidden),
            "channels": self.channels,
            "value_head": self.value_head,
            "draw_value": self.draw_reward,
        }


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
        due = cfg.eval_every_minutes > 0 and time.perf_counter() - self.last_eval >= cfg.eval_every_minutes * 60
        if due or info.last:
            self.run_eval(info, info.elapsed)
        if info.last and self.run_dir is not None:
            env.pool.save(self.run_dir / "checkpoints")

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
        return make_network(cfg.net, cfg.hidden, cfg.channels, (6, 32), 128, cfg.value_head, cfg.draw_reward)

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


def write_report(run_dir: Path, cfg: SelfPlayConfig, evals: list[dict[str, Any]], result: TrainResult) -> None:
    """report.md with the learning curves (Elo and ladder scores against time and steps) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if evals:
        fig, axes = plt.subplots(2, 2, figsize=(11, 7))
        for col, (key, label) in enumerate((("time", "wall time (min)"), ("global_step", "learner steps"))):
            xs = [e[key] / (60 if key == "time" else 1) for e in evals]
            ax = axes[0, col]
            for opp in evals[-1]["opponents"]:
                ax.plot(xs, [e["opponents"].get(opp, {}).get("score", np.nan) for e in evals], marker="o", label=opp)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel(label)
            ax.set_ylabel("score (win = 1, draw = 0.5)")
            ax.legend(fontsize=8)
            ax = axes[1, col]
            # an Elo (or a bound) that is infinite, all wins or all losses, is stored as null
            elo, lo, hi = (
                [np.nan if e.get(k) is None else e[k] for e in evals] for k in ("elo", "elo_low", "elo_high")
            )
            ax.plot(xs, elo, marker="o", color="k")
            finite = [(x, a, b) for x, a, b in zip(xs, lo, hi) if math.isfinite(a) and math.isfinite(b)]
            if finite:
                ax.fill_between([f[0] for f in finite], [f[1] for f in finite], [f[2] for f in finite], alpha=0.2)
            ax.set_xlabel(label)
            ax.set_ylabel("ladder Elo (alphabeta:4 = 1500)")
        fig.suptitle("kingme self-play PPO: ladder evaluation")
        fig.tight_layout()
        fig.savefig(run_dir / "learning_curves.png", dpi=110)
        plt.close(fig)
    lines = [
        f"# Self-play run `{run_dir.name}`",
        "",
        f"- updates: {result.updates}, learner steps: {result.global_step}",
        f"- network: {cfg.net} {','.join(map(str, cfg.hidden)) if cfg.net == 'mlp' else cfg.channels}",
        f"- budget: {cfg.minutes:g} minutes, {cfg.total_steps} steps (whichever ends first)",
        "- config: `config.json`; metrics: `metrics.jsonl`, `evals.jsonl`; TensorBoard events",
        "",
    ]
    if evals:
        last = evals[-1]
        lines += [
            "## Final ladder table",
            "",
            "| opponent | games | W | D | L | score | 95% interval |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for opp, st in last["opponents"].items():
            lines.append(
                f"| {opp} | {st['games']} | {st['wins']} | {st['draws']} | {st['losses']} | "
                f"{st['score']:.3f} | [{st['score_ci95'][0]:.3f}, {st['score_ci95'][1]:.3f}] |"
            )
        if "elo" in last:
            lines += [
                "",
                f"Ladder Elo: {last['elo']:.0f} [{last['elo_low']:.0f}, {last['elo_high']:.0f}] "
                "(alphabeta:4 = 1500; see docs/arena.md)",
            ]
        lines += ["", "![learning curves](learning_curves.png)"]
    atomic_write_text(run_dir / "report.md", "\n".join(lines) + "\n")
