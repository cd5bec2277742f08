"""The configuration of `kingme train checkers`: PPO's fields with checkers defaults, plus self-play's
(the opponent pool, the ladder evaluation, the budget in minutes). Every field is an option of the
command (`kingme.config`); the resolved config is saved in each run folder as config.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from kingme.arena.ladder import TRAINING_RUNGS, check_rungs
from kingme.common import UserError, usable_cores
from kingme.config import arg, require
from kingme.ppo.config import PPOConfig
from kingme.runs.budget import Budget


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
    keep_models: int = arg(
        0,
        "Keep a model file at every doubling of learner steps from this count (K, 2K, 4K, ...): "
        "models/steps_NNNNNNNNNNNN.safetensors in the run folder, written by the update that reaches "
        "each milestone (0 = off; at least one update's steps, num-envs x num-steps; 1048576 with the "
        "default 16384-step updates lands every milestone on an update).",
    )
    # --- self-play ---
    max_plies: int = arg(200, "Truncate a game after this many complete moves (both sides).")
    p_self: float = arg(0.3, "Probability that a game's opponent is the live learner.")
    p_bots: float = arg(
        0.3, "Uniform weighting only: probability that a game's opponent is a curriculum bot (0 = no bots)."
    )
    bots: tuple[str, ...] = arg(
        ("random", "alphabeta:1", "alphabeta:2", "alphabeta:3"),
        "Curriculum bots, comma-separated player specs (any kind `kingme arena` accepts but human), easiest first.",
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
        from kingme.selfplay.env import bot_spec

        for b in self.bots:
            bot_spec(b)  # any registered player that plays by itself; one line naming the accepted forms if not
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
        require(
            self.keep_models == 0 or self.keep_models >= self.batch_size,
            f"keep-models must be 0 (off) or at least one update's learner steps (num-envs x num-steps = "
            f"{self.batch_size}), got {self.keep_models}",
        )
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
            "hidden": list(self.hidden_sizes),
            "channels": self.channels,
            "value_head": self.value_head,
            "draw_value": self.draw_reward,
        }
