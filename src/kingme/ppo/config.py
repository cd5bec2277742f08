"""PPOConfig: every choice of the algorithm as a named, documented field.

Each field becomes a command-line option (`--gae-lambda 0.9`, `--no-clip-policy`) through
`kingme.config`. The defaults were chosen on a suite of small discrete-action tasks (CartPole,
Acrobot, MountainCar, FrozenLake, deep sea, a grid world: `kingme bench ppo-suite`, docs/ppo.md):
8 environments x 128 steps, 4 minibatches x 10 epochs, Adam 1e-3 held constant, γ 0.99, entropy
bonus 0.01. Every schedule is independent of `total_steps` by default, so a longer budget is the
same run continued. The earlier, CartPole-only defaults are `CARTPOLE_DEFAULTS`.

The ablation switches, each of which turns one ingredient of PPO off:
    clip_policy=False         no clipping: the plain importance-sampled surrogate -E[r·Â]
    clip_value=True           (off by default) clip the critic's change around its rollout values
    freeze_old_policy=False   no θ_old: the "old" log-probabilities are recomputed with the live
                              parameters at every minibatch, so r ≡ 1 and each minibatch takes a
                              vanilla policy-gradient step (clipping can never act)
    gae_lambda=1.0            Monte-Carlo returns minus the critic's baseline (still bootstrapped
                              where a rollout or time limit cuts an episode)
    critic="baseline"         REINFORCE with a learned baseline: Â = G − V(s), where G is the
                              discounted reward-to-go inside the rollout with no bootstrapping; the
                              critic is only a baseline, never a bootstrap (Sutton & Barto §13.4)
    critic="none"             REINFORCE without a baseline: Â = G, no value loss
    ent_schedule="constant"   with ent_coef=0: no entropy bonus
    normalize_advantages=False
    max_grad_norm=None, target_kl=None
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kingme.config import arg, require
from kingme.ppo.core import EntropySchedule

Critic = Literal["gae", "baseline", "none"]

# The defaults before the PPO suite chose today's, at their earlier values (tuned on CartPole alone,
# learning rate annealed over the budget). The experiments pin these, so that their documented results stay
# reproducible; docs/ppo.md says what changed and why.
CARTPOLE_DEFAULTS: dict[str, object] = {
    "num_steps": 32,
    "gamma": 0.98,
    "num_minibatches": 1,
    "learning_rate": 2.5e-3,
    "anneal_lr": True,
    "ent_coef": 0.0,
}


@dataclass
class PPOConfig:
    # --- environment and run ---
    env: str = arg("", "The environment trained on, set by the command (e.g. gym:CartPole-v1).")
    num_envs: int = arg(8, "Number of environments stepped together (N).")
    total_steps: int = arg(50_000, "Environment steps to train for, summed over environments.")
    seed: int = arg(1, "Seed for Python, NumPy, torch and the environments.")
    device: str = arg("auto", "Torch device: auto, cpu or cuda[:N].")
    torch_threads: int = arg(1, "CPU threads for torch (0 = torch's default); 1 is fastest for small nets.")

    # --- network ---
    hidden_sizes: tuple[int, ...] = arg((64, 64), "Hidden layer widths of the actor and critic MLPs, comma-separated.")
    activation: Literal["tanh", "relu"] = arg("tanh", "Activation function of the hidden layers.")
    trunk: Literal["separate", "shared"] = arg(
        "separate", "Separate actor and critic networks, or one shared trunk with two heads."
    )

    # --- rollout and advantages ---
    num_steps: int = arg(128, "Steps per environment in each rollout (T); a batch is T·N samples.")
    gamma: float = arg(0.99, "Discount factor γ.")
    gae_lambda: float = arg(0.95, "GAE λ: 1 gives Monte-Carlo returns, 0 one-step TD errors.")
    critic: Critic = arg(
        "gae",
        "How advantages use the critic: gae (actor-critic), baseline (REINFORCE minus V) or none.",
    )
    normalize_advantages: bool = arg(True, "Normalise advantages to mean 0, std 1 per minibatch.")

    # --- update ---
    update_epochs: int = arg(10, "Passes over the batch per update (K).")
    num_minibatches: int = arg(8, "Shuffled minibatches per epoch; must divide the batch T·N.")
    learning_rate: float = arg(1e-3, "Adam learning rate (the start value when annealed).")
    anneal_lr: bool = arg(
        False, "Anneal the learning rate linearly to 0, over anneal-steps (or the whole budget when that is 0)."
    )
    anneal_steps: int = arg(
        0,
        "Steps over which --anneal-lr takes the learning rate to 0 (then it stays at 0); "
        "0 = over the run's budget, so that a longer --total-steps stretches the schedule.",
    )
    adam_eps: float = arg(1e-5, "Adam's epsilon.")
    clip_policy: bool = arg(True, "Clip the probability ratio in the policy loss.")
    clip_coef: float = arg(0.2, "Clip range ε: the ratio is clipped to [1 - ε, 1 + ε].")
    clip_value: bool = arg(False, "Clip the critic's change around its rollout values.")
    value_clip_coef: float = arg(0.2, "Clip range of the critic's change when clip_value is on.")
    freeze_old_policy: bool = arg(True, "Keep θ_old frozen for the whole update (off: recompute it at each minibatch).")
    vf_coef: float = arg(0.5, "Weight c_v of the value loss.")
    ent_coef: float = arg(0.01, "Entropy coefficient c_e (at the start of training, with a schedule).")
    ent_coef_final: float = arg(0.0, "Entropy coefficient at the end (linear/exponential schedules).")
    ent_schedule: EntropySchedule = arg("constant", "How c_e moves from ent_coef to ent_coef_final over training.")
    max_grad_norm: float | None = arg(0.5, "Clip the global gradient norm to this (none = off).")
    target_kl: float | None = arg(
        None, "Stop an update's epochs early once the approximate KL exceeds this (none = off)."
    )

    # --- logging and checkpoints ---
    return_window: int = arg(20, "Episodes averaged for the recent return shown and used for best.")
    checkpoint_every: int = arg(1, "Write a checkpoint every this many updates (0 = at the end only).")
    keep_checkpoints: int = arg(3, "How many of the latest checkpoints to keep (the best is kept too).")
    tensorboard: bool = arg(True, "Write TensorBoard event files to the run folder.")

    # ------------------------------------------------------------------------------------------

    @property
    def batch_size(self) -> int:
        """Samples per batch, T·N."""
        return self.num_steps * self.num_envs

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        """Batches in the whole run: total_steps // (T·N)."""
        return self.total_steps // self.batch_size

    def validate(self) -> None:
        require(self.num_envs >= 1, f"num-envs must be at least 1, got {self.num_envs}")
        require(self.num_steps >= 1, f"num-steps must be at least 1, got {self.num_steps}")
        require(
            self.total_steps >= self.batch_size,
            f"total-steps ({self.total_steps}) must be at least one batch, num-steps x num-envs = {self.batch_size}",
        )
        require(self.torch_threads >= 0, f"torch-threads must be >= 0, got {self.torch_threads}")
        hidden = self.hidden_sizes
        require(
            isinstance(hidden, tuple) and bool(hidden) and all(isinstance(h, int) and h > 0 for h in hidden),
            f"hidden-sizes must be positive integers (a tuple; comma-separated on the command line), got {hidden!r}",
        )
        require(0.0 <= self.gamma <= 1.0, f"gamma must be in [0, 1], got {self.gamma}")
        require(0.0 <= self.gae_lambda <= 1.0, f"gae-lambda must be in [0, 1], got {self.gae_lambda}")
        require(self.update_epochs >= 1, f"update-epochs must be at least 1, got {self.update_epochs}")
        require(
            self.num_minibatches >= 1 and self.batch_size % self.num_minibatches == 0,
            f"num-minibatches ({self.num_minibatches}) must divide the batch num-steps x num-envs = {self.batch_size}",
        )
        require(
            not self.normalize_advantages or self.minibatch_size >= 2,
            "advantage normalisation needs minibatches of at least 2 samples",
        )
        require(self.learning_rate > 0, f"learning-rate must be positive, got {self.learning_rate}")
        require(self.anneal_steps >= 0, f"anneal-steps must be >= 0, got {self.anneal_steps}")
        require(self.adam_eps > 0, f"adam-eps must be positive, got {self.adam_eps}")
        require(self.clip_coef > 0, f"clip-coef must be positive, got {self.clip_coef}")
        require(self.value_clip_coef > 0, f"value-clip-coef must be positive, got {self.value_clip_coef}")
        require(self.vf_coef >= 0, f"vf-coef must be >= 0, got {self.vf_coef}")
        require(
            self.ent_coef >= 0 and self.ent_coef_final >= 0,
            "ent-coef and ent-coef-final must be >= 0",
        )
        require(
            self.ent_schedule != "exponential" or (self.ent_coef > 0 and self.ent_coef_final > 0),
            "the exponential entropy schedule needs ent-coef and ent-coef-final > 0",
        )
        require(
            self.max_grad_norm is None or self.max_grad_norm > 0,
            f"max-grad-norm must be positive or none, got {self.max_grad_norm}",
        )
        require(
            self.target_kl is None or self.target_kl > 0,
            f"target-kl must be positive or none, got {self.target_kl}",
        )
        require(self.return_window >= 1, f"return-window must be at least 1, got {self.return_window}")
        require(self.checkpoint_every >= 0, f"checkpoint-every must be >= 0, got {self.checkpoint_every}")
        require(self.keep_checkpoints >= 1, f"keep-checkpoints must be at least 1, got {self.keep_checkpoints}")


@dataclass
class GymPPOConfig(PPOConfig):
    """`kingme train gym:ENV_ID`: PPOConfig plus how the Gymnasium environment is built, and an
    optional early stop."""

    env_kwargs: tuple[str, ...] = arg(
        (), "Keyword arguments for gymnasium.make, as key=value (values are Python literals or strings)."
    )
    vector_mode: Literal["sync", "async"] = arg(
        "sync", "Gymnasium vector env: sync (one process, best for cheap steps) or async (one process per copy)."
    )
    normalize_obs: bool = arg(False, "Normalise observations with Gymnasium's NormalizeObservation wrapper.")
    normalize_reward: bool = arg(False, "Scale rewards with Gymnasium's NormalizeReward wrapper (gamma = --gamma).")
    target_return: float | None = arg(
        None, "Stop once the mean return of the last return-window episodes reaches this (none = train to the budget)."
    )
