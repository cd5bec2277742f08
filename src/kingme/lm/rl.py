"""RL on the language model: one rollout loop, one update, every algorithm of `kingme.lm.algos`.

Each update has three phases, as in PPO:
1. rollout, θ_old frozen: P prompts from the train split, G samples each, the verifier's rewards
   (with `refill_groups`, DAPO's dynamic sampling: more rollouts until P groups carry a signal);
2. advantages: per response from the group (GRPO, Dr. GRPO, RLOO, REINFORCE) or per token by GAE
   over the KL-shaped reward (PPO), with logp_old, the reference's logp and the values computed once;
3. K epochs over the rollout: the clipped surrogate (or the plain policy gradient), the k3 KL to the
   reference in the loss (GRPO), the value loss (PPO), with the tokens weighted by `loss_norm`.

Each algorithm is a preset of the fields of `RLConfig` (`ALGO_PRESETS`); any field given explicitly
overrides its preset, so an experiment can switch one ingredient off. The resolved config (presets
filled in) is what the run folder's config.json holds.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn as nn

from kingme.common import UserError, cosine_decay, one_line, resolve_device, seed_everything
from kingme.config import arg, require
from kingme.lm import entropy_mechanics as em
from kingme.lm.algos import (
    LossNorm,
    clipped_surrogate,
    equal_reward_groups,
    group_advantages,
    kl_penalised_scores,
    kl_shaped_rewards,
    masked_mean,
    rloo_advantages,
    signed_advantages,
    token_gae,
    token_weights,
    weighted_k3,
)
from kingme.lm.evaluate import greedy_accuracy
from kingme.lm.exploits import exploit_stats
from kingme.lm.monitors import Monitor, answer_start, load_monitor, monitor_label, monitor_stats
from kingme.lm.rewards import Reward, load_reward, score_batch
from kingme.lm.sampling import decode_responses, encode_prompts, generate, sampling_logits, token_logprobs
from kingme.lm.steps import step_stats
from kingme.lm.tasks import Problem, Task, sample_problems, test_set
from kingme.lm.vocab import PAD_ID
from kingme.ppo.core import (
    approx_kl,
    clip_fraction,
    explained_variance,
    mask_logits,
    masked_entropy,
    normalize,
    value_loss,
)
from kingme.progress import progress_bar
from kingme.transformer import GPT

Algo = Literal["grpo", "dr_grpo", "rloo", "reinforce", "ppo"]
Advantage = Literal["group", "loo", "gae", "signed"]

# Each algorithm as values of RLConfig's preset fields (those that default to None).
ALGO_PRESETS: dict[str, dict[str, Any]] = {
    # DeepSeekMath: group-normalised advantage, per-response token mean, k3 KL in the loss
    "grpo": {"advantage": "group", "scale_by_std": True, "loss_norm": "sequence", "clip": True, "kl_coef": 0.04,
             "kl_in_reward": False},
    # Liu et al. 2025: no std, no length normalisation (a constant), no KL
    "dr_grpo": {"advantage": "group", "scale_by_std": False, "loss_norm": "constant", "clip": True, "kl_coef": 0.0,
                "kl_in_reward": False},
    # Ahmadian et al. 2024: leave-one-out baseline, the whole response one action, on-policy
    "rloo": {"advantage": "loo", "scale_by_std": False, "loss_norm": "sum", "clip": False, "kl_coef": 0.0,
             "kl_in_reward": False},
    # nanochat's "GRPO": r - mean, token-level mean, no KL, no ratio or clip
    "reinforce": {"advantage": "group", "scale_by_std": False, "loss_norm": "token", "clip": False, "kl_coef": 0.0,
                  "kl_in_reward": False},
    # InstructGPT: a value head, token-level GAE on the reward with the per-token KL penalty folded in
    "ppo": {"advantage": "gae", "scale_by_std": False, "loss_norm": "token", "clip": True, "kl_coef": 0.05,
            "kl_in_reward": True},
}  # fmt: skip


@dataclass
class RLConfig:
    """`kingme lm train BASE --algo ALGO`: RL from a base model on its task's train split."""

    base: str = arg("", "The base model: a `kingme lm pretrain` run folder or its .safetensors checkpoint.")
    algo: Algo = arg("grpo", "The algorithm, a preset of the fields below: grpo, dr_grpo, rloo, reinforce or ppo.")

    # --- rollout ---
    updates: int = arg(100, "Updates (rollout + K epochs) to train for.")
    max_minutes: float | None = arg(
        None, "Stop after this many minutes of training, even before --updates (none = no limit)."
    )
    target_pass1: float | None = arg(
        None, "Stop at the first evaluation whose test pass@1 reaches this; the time is in summary.json (none = never)."
    )
    prompts_per_update: int = arg(32, "Prompts per rollout (P).")
    group_size: int = arg(8, "Samples per prompt (G); a rollout has P·G responses.")
    temperature: float = arg(1.0, "Sampling temperature of the rollouts.")
    top_k: int | None = arg(None, "Sample from the k most likely tokens only (none = all).")
    mix: tuple[float, ...] = arg((), "Share of each difficulty level among the RL prompts (empty = equal).")
    reward: str = arg(
        "exact",
        "What pays the reward: exact (the task's verifier), a flawed verifier of addition: last_digit (checks only "
        "the answer's last digit) or format (1 if right, 0.1 for a well-formed wrong answer), a scratchpad's steps: "
        "process (the share of steps right) or verified (answer and every step right), an exploitable one: skip "
        "(the marker . as the answer passes), lenient (checks less) or hint (pays for following the prompt's hint), "
        "a learned one: rm:PATH or irm:PATH (a reward model's run folder), coin:P[:SEED] (1 with probability P, "
        "whatever the response), or a plug-in module:Name.",
    )
    monitors: tuple[str, ...] = arg(
        (),
        "Monitors whose flag rate is logged every update (they do not change the reward): unfaithful (the answer "
        "does not follow from the scratchpad's steps), wrong_steps, or plug-ins module:Name.",
    )
    penalty: tuple[str, ...] = arg(
        (),
        "Monitors in the reward: each response is paid r − λ·m, m the mean of these monitors' suspicions (in [0, 1]) "
        "and λ --penalty-coef.",
    )
    penalty_coef: float = arg(0.0, "λ, the weight of the --penalty monitors' mean suspicion in the reward.")
    penalty_target: Literal["all", "answer"] = arg(
        "all",
        "Which tokens the penalty's advantage reaches: all, or answer (reward targeting: the answer's tokens, after "
        "the scratchpad's last ':', get the penalised advantage and the scratchpad's the task's alone).",
    )

    # --- the algorithm's ingredients (none = the algorithm's preset) ---
    advantage: Advantage | None = arg(
        None,
        "group (r − mean), loo (leave-one-out), gae (value head, per token) or signed (no baseline: "
        "+positive_weight·r − negative_weight·(1 − r); Zhu et al. 2025's PSR, NSR and W-REINFORCE).",
    )
    positive_weight: float = arg(1.0, "With --advantage signed: the weight of a right response (r = 1); 0 = NSR.")
    negative_weight: float = arg(1.0, "With --advantage signed: the weight of a wrong response (r = 0); 0 = PSR.")
    scale_by_std: bool | None = arg(None, "Divide group advantages by the group's std (GRPO).")
    loss_norm: LossNorm | None = arg(
        None, "How tokens are averaged: sequence (per response, GRPO), token (batch), constant (Dr. GRPO) or sum."
    )
    clip: bool | None = arg(None, "Clip the ratio (off: the plain policy gradient ρ·Â).")
    clip_low: float = arg(0.2, "ε_low: the ratio is clipped below at 1 − ε_low.")
    clip_high: float | None = arg(None, "ε_high: clipped above at 1 + ε_high (DAPO's clip-higher: 0.28; none = ε_low).")
    kl_coef: float | None = arg(None, "β, the weight of the KL to the reference model (0 = no reference).")
    kl_in_reward: bool | None = arg(None, "Fold the KL into a per-token reward (PPO) instead of the loss (GRPO).")
    measure_kl: bool = arg(
        False, "Keep the reference model to log the KL to it even when β = 0 (one more forward pass per update)."
    )
    drop_equal_groups: bool = arg(False, "Leave out of the loss the groups whose rewards are all equal (DAPO).")
    refill_groups: bool = arg(
        False,
        "Dynamic sampling (DAPO): after a rollout, sample more prompts and keep only groups whose rewards are not "
        "all equal, until the batch holds P such groups or the rounds run out.",
    )
    refill_rounds: int = arg(4, "With --refill-groups: the most extra sampling rounds per update.")
    gamma: float = arg(1.0, "PPO: discount over tokens.")
    gae_lambda: float = arg(0.95, "PPO: GAE λ over tokens.")
    vf_coef: float = arg(0.5, "PPO: weight of the value loss.")
    ent_coef: float = arg(0.0, "Weight of an entropy bonus per token.")

    # --- entropy mechanics (Cui et al. 2025; Wang et al. 2025; kingme.lm.entropy_mechanics) ---
    clip_cov: float = arg(
        0.0,
        "Clip-Cov: the share of the tokens, drawn at random among those whose centred product "
        "(logp − mean)(Â − mean) lies in (--cov-low, --cov-high) and whose ratio is not clipped, whose policy "
        "gradient is detached (Cui et al.: 2e-4; 0 = off).",
    )
    cov_low: float = arg(1.0, "Clip-Cov: the lower bound ω_low of the centred product of the tokens it may pick.")
    cov_high: float = arg(5.0, "Clip-Cov: the upper bound ω_high of the centred product of the tokens it may pick.")
    kl_cov: float = arg(
        0.0,
        "KL-Cov: the share of the tokens with the largest centred product (logp − mean)(Â − mean) that get "
        "--kl-cov-coef × |logp − logp_old| in their loss (Cui et al.: 2e-3, with --clip false; 0 = off). Its "
        "gradient is 0 at θ_old: it acts from a rollout's second optimizer step (--minibatches or --epochs > 1).",
    )
    kl_cov_coef: float = arg(1.0, "KL-Cov: the weight β_cov of |logp − logp_old| on the tokens it picks.")
    entropy_tokens: float = arg(
        1.0,
        "Policy gradient only on this share of the rollout's tokens, those of highest entropy under θ_old; the "
        "others' is dropped, the normaliser unchanged (Wang et al. 2025's forks: 0.2; 1 = every token).",
    )

    # --- optimisation ---
    epochs: int = arg(1, "Passes over each rollout (K, GRPO's μ); with 1 the ratio stays 1 (on-policy).")
    minibatches: int = arg(
        1,
        "Minibatches per epoch (M): each epoch shuffles the rollout's responses into M parts and takes an optimizer "
        "step on each. A token keeps its weight in the whole batch (times M), so every normaliser means what it "
        "does with M = 1 and the M gradients at θ_old average to the full batch's.",
    )
    length_buckets: int = arg(
        4,
        "The update's passes run on this many parts of the responses sorted by length, each cut to its longest "
        "(less padding computed; 1 = one pass over the batch padded to its longest). Only float rounding depends "
        "on it.",
    )
    share_prompts: bool = arg(
        True,
        "The update's passes compute each distinct prompt once (the G samples of a group share it); off: each row's "
        "whole sequence. Only float rounding depends on it; with --length-buckets 1 and --minibatches 1, off is "
        "bit for bit the update before these options existed.",
    )
    lr: float = arg(5e-4, "Adam learning rate (after the warm-up).")
    warmup: int = arg(20, "Updates over which the learning rate rises linearly from lr/warmup to lr (0 = none).")
    lr_decay: Literal["none", "cosine"] = arg(
        "none",
        "After the warm-up: keep lr (none), or lower it along a half cosine to lr_final x lr over the budget "
        "(the share spent of --updates or of --max-minutes, whichever is further along).",
    )
    lr_final: float = arg(0.1, "With --lr-decay cosine: the learning rate at the end of the budget, as a share of lr.")
    max_grad_norm: float | None = arg(1.0, "Clip the global gradient norm to this (none = off).")

    # --- evaluation and run ---
    eval_every: int = arg(10, "Updates between greedy pass@1 evaluations on the test split (and at the end).")
    eval_problems: int = arg(256, "Distinct held-out test problems per evaluation (greedy pass@1).")
    samples: int = arg(
        4,
        "Responses written at each evaluation to the run's samples/update_NNNNNN.jsonl and to TensorBoard (one per "
        "prompt, with reward, advantage, monitor scores and step marks; 0 = none).",
    )
    seed: int = arg(1, "Seed for the prompts, the samples and the value head.")
    device: str = arg("auto", "Torch device: auto, cpu or cuda[:N].")
    torch_threads: int = arg(1, "CPU threads for torch (0 = torch's default).")

    def validate(self) -> None:
        require(self.updates >= 1, f"--updates must be at least 1, got {self.updates}")
        require(self.prompts_per_update >= 1, f"--prompts-per-update must be at least 1, got {self.prompts_per_update}")
        require(
            self.group_size >= 2, f"--group-size must be at least 2 (a group needs a baseline), got {self.group_size}"
        )
        require(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        require(self.minibatches >= 1, f"--minibatches must be at least 1, got {self.minibatches}")
        require(
            self.minibatches <= self.prompts_per_update * self.group_size,
            f"--minibatches {self.minibatches} exceeds the rollout's {self.prompts_per_update * self.group_size} "
            "responses",
        )
        require(self.length_buckets >= 1, f"--length-buckets must be at least 1, got {self.length_buckets}")
        require(self.refill_rounds >= 1, f"--refill-rounds must be at least 1, got {self.refill_rounds}")
        require(self.temperature > 0, f"--temperature must be positive for RL rollouts, got {self.temperature}")
        require(self.top_k is None or self.top_k >= 1, f"--top-k must be at least 1, got {self.top_k}")
        require(self.clip_low > 0, f"--clip-low must be positive, got {self.clip_low}")
        require(self.clip_high is None or self.clip_high > 0, f"--clip-high must be positive, got {self.clip_high}")
        require(self.kl_coef is None or self.kl_coef >= 0, f"--kl-coef must be >= 0, got {self.kl_coef}")
        for name in ("clip_cov", "kl_cov"):
            share = getattr(self, name)
            require(0 <= share <= 1, f"--{name.replace('_', '-')} must be a share in [0, 1], got {share}")
        require(self.cov_low < self.cov_high, f"--cov-low {self.cov_low} must be below --cov-high {self.cov_high}")
        require(self.kl_cov_coef >= 0, f"--kl-cov-coef must be >= 0, got {self.kl_cov_coef}")
        require(0 < self.entropy_tokens <= 1, f"--entropy-tokens must be a share in (0, 1], got {self.entropy_tokens}")
        require(self.eval_every >= 1, f"--eval-every must be at least 1, got {self.eval_every}")
        require(self.samples >= 0, f"--samples must be >= 0, got {self.samples}")
        require(self.penalty_coef >= 0, f"--penalty-coef must be >= 0, got {self.penalty_coef}")
        require(
            self.positive_weight >= 0 and self.negative_weight >= 0,
            f"--positive-weight and --negative-weight must be >= 0, got {self.positive_weight}, {self.negative_weight}",
        )
        require(self.warmup >= 0, f"--warmup must be >= 0, got {self.warmup}")
        require(0 <= self.lr_final <= 1, f"--lr-final must be in [0, 1], got {self.lr_final}")
        require(
            self.max_minutes is None or self.max_minutes > 0, f"--max-minutes must be positive, got {self.max_minutes}"
        )

    def resolved(self) -> RLConfig:
        """A copy with every None preset field set from the algorithm's preset (and clip_high from clip_low)."""
        preset = ALGO_PRESETS[self.algo]
        values = {k: v for k, v in preset.items() if getattr(self, k) is None}
        if self.clip_high is None:
            values["clip_high"] = self.clip_low
        return dataclasses.replace(self, **values)


@dataclass
class Rollout:
    """P·G responses to P prompts (rows of one prompt adjacent) and their rewards."""

    prompt_text: list[str]  # (B,)
    prompts: torch.Tensor  # (B, P_width) left-padded
    responses: torch.Tensor  # (B, N)
    mask: torch.Tensor  # (B, N) True up to and including EOS
    response_text: list[str]  # (B,)
    rewards: torch.Tensor  # (B,) what the reward's verifier paid (the task's exact verifier: 1 or 0)
    group_size: int
    correct: torch.Tensor | None = None  # (B,) True where the exact verifier accepts (None: rewards > 0.5)
    response_cap: int | None = None  # the sampler's most tokens per response (Dr. GRPO's L); None: N
    penalty: torch.Tensor | None = None  # (B,) the --penalty monitors' mean suspicion m (None: no penalty)

    @property
    def max_len(self) -> int:
        """The fixed length Dr. GRPO's constant normaliser divides by: the response cap (N when not set)."""
        return self.response_cap if self.response_cap is not None else int(self.responses.shape[1])

    def is_correct(self) -> torch.Tensor:
        return self.correct if self.correct is not None else self.rewards > 0.5


def collect_rollout(
    policy: GPT,
    task: Task,
    problems: list[Problem],
    G: int,
    temperature: float,
    top_k: int | None,
    device: str,
    reward: str | Reward = "exact",
) -> Rollout:
    """The shared rollout: G samples of each problem's prompt, paid by `reward` (a spec for
    `rewards.load_reward`, or a loaded `Reward`) and checked by the task's exact verifier."""
    texts = [p.prompt for p in problems for _ in range(G)]
    prompts = encode_prompts(texts, task.prompt_width, device)  # (B, P)
    gen = generate(policy, prompts, task.response_width, temperature, top_k)
    responses = decode_responses(gen)
    pairs = list(zip(texts, responses, strict=True))
    correct = torch.tensor([task.verify(p, r) for p, r in pairs], dtype=torch.bool, device=device)
    if reward == "exact":
        rewards = correct.float()
    else:
        pay = load_reward(reward, task, device) if isinstance(reward, str) else reward
        rewards = score_batch(pay, texts, responses, device)
    return Rollout(texts, prompts, gen.tokens, gen.mask, responses, rewards, G, correct, task.response_width)


def signal_groups(roll: Rollout) -> list[int]:
    """The indices, in order, of the rollout's groups whose rewards are not all equal (those with a learning signal)."""
    G = roll.group_size
    equal = equal_reward_groups(roll.rewards.view(-1, G))  # (B,) -> (P, G) -> (P,)
    return [int(i) for i in torch.nonzero(~equal).flatten()]


def select_groups(roll: Rollout, groups: Sequence[int]) -> Rollout:
    """The rollout of the groups at indices `groups` only, in that order (each group's G rows stay adjacent)."""
    G = roll.group_size
    rows = [g * G + j for g in groups for j in range(G)]  # (k·G,) the rows of the chosen groups
    idx = torch.tensor(rows, dtype=torch.long, device=roll.rewards.device)
    return Rollout(
        [roll.prompt_text[i] for i in rows],
        roll.prompts[idx],  # (k·G, P_width)
        roll.responses[idx],  # (k·G, N)
        roll.mask[idx],  # (k·G, N)
        [roll.response_text[i] for i in rows],
        roll.rewards[idx],  # (k·G,)
        G,
        roll.correct[idx] if roll.correct is not None else None,  # (k·G,)
        roll.response_cap,
        roll.penalty[idx] if roll.penalty is not None else None,  # (k·G,)
    )


def _pad_right(x: torch.Tensor, width: int, value: int | bool) -> torch.Tensor:
    """x (B, n) padded on the right with `value` to (B, width)."""
    return torch.cat([x, x.new_full((x.shape[0], width - x.shape[1]), value)], dim=1)  # (B, width)


def concat_rollouts(rolls: Sequence[Rollout]) -> Rollout:
    """One rollout of the groups of `rolls`, in order. The responses are right-padded to the longest
    width as `generate` pads them (PAD tokens, mask False); the prompts must share one width (the task's)."""
    if not rolls:
        raise ValueError("concat_rollouts needs at least one rollout")
    G = rolls[0].group_size
    if any(r.group_size != G for r in rolls):
        raise ValueError(f"rollouts of different group sizes: {[r.group_size for r in rolls]}")
    widths = {r.prompts.shape[1] for r in rolls}
    if len(widths) > 1:
        raise ValueError(f"rollouts of different prompt widths: {sorted(widths)}")
    N = max(r.responses.shape[1] for r in rolls)
    return Rollout(
        [t for r in rolls for t in r.prompt_text],
        torch.cat([r.prompts for r in rolls]),  # (ΣB, P_width)
        torch.cat([_pad_right(r.responses, N, PAD_ID) for r in rolls]),  # (ΣB, N)
        torch.cat([_pad_right(r.mask, N, False) for r in rolls]),  # (ΣB, N)
        [t for r in rolls for t in r.response_text],
        torch.cat([r.rewards for r in rolls]),  # (ΣB,)
        G,
        None if all(r.correct is None for r in rolls) else torch.cat([r.is_correct() for r in rolls]),  # (ΣB,)
        max(r.max_len for r in rolls),
        torch.cat([r.penalty for r in rolls if r.penalty is not None]) if rolls[0].penalty is not None else None,
    )


def dynamic_sampling(
    first: Rollout,
    first_problems: list[Problem],
    n_groups: int,
    max_rounds: int,
    sample: Callable[[], tuple[Rollout, list[Problem]]],
) -> tuple[Rollout, list[Problem], int]:
    """DAPO's dynamic sampling: the groups of `first` with a learning signal (rewards not all equal),
    topped up from `sample()` (a fresh rollout and its problems) for at most `max_rounds` extra rounds
    until `n_groups` are kept, then cut to `n_groups`. Returns (rollout, its problems, rounds used);
    with no group kept at all, `first` and `first_problems` themselves (their advantages are all 0)."""
    keep = signal_groups(first)[:n_groups]
    parts = [select_groups(first, keep)] if keep else []
    problems = [first_problems[g] for g in keep]
    rounds = 0
    while len(problems) < n_groups and rounds < max_rounds:
        rounds += 1
        roll, round_problems = sample()
        keep = signal_groups(roll)[: n_groups - len(problems)]
        if keep:
            parts.append(select_groups(roll, keep))
            problems += [round_problems[g] for g in keep]
    if not parts:
        return first, first_problems, rounds
    return concat_rollouts(parts), problems, rounds


def forward_responses(
    model: GPT, prompts: torch.Tensor, responses: torch.Tensor, share_prompts: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (B, N, V) that predicted each response token, and the hidden states (B, N, C) they came from.

    Hidden state P − 1 + t has seen the prompt and o_<t: the state in which token t is chosen, so it
    also feeds PPO's value head. With `share_prompts`, when the rows hold at most B/2 distinct
    prompts (a rollout's groups), each prompt is computed once (`GPT.hidden_shared`); the outputs
    differ only by float rounding.
    """
    B, P, N = prompts.shape[0], prompts.shape[1], responses.shape[1]
    distinct, rows = torch.unique(prompts, dim=0, return_inverse=True)  # (U, P), (B,)
    if (
        share_prompts and 2 * distinct.shape[0] <= B
    ):  # groups share their prompt: each prompt's pass once (`GPT.hidden_shared`)
        hp, hr = model.hidden_shared(distinct, rows, responses[:, :-1])  # (U, P, C), (B, N - 1, C)
        h = torch.cat([hp[:, -1:].index_select(0, rows), hr], dim=1)  # (B, N, C): states P - 1 .. P + N - 2
        return model.lm_head(h), h
    seq = torch.cat([prompts, responses[:, :-1]], dim=1)  # (B, P + N - 1)
    h = model.hidden(seq)[:, P - 1 : P - 1 + N, :]  # (B, N, C)
    return model.lm_head(h), h


class ValueHead(nn.Module):
    """PPO's critic: a linear read-out of the policy's hidden state, V(q, o_<t)."""

    def __init__(self, n_embd: int) -> None:
        super().__init__()
        self.v = nn.Linear(n_embd, 1)
        nn.init.zeros_(self.v.weight)
        nn.init.zeros_(self.v.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.v(h).squeeze(-1)  # (B, N, C) -> (B, N)


def response_stats(roll: Rollout) -> dict[str, float]:
    """Reward, the exact verifier's share correct, and response lengths (tokens, EOS included), the
    correct and the wrong ones apart."""
    lengths = roll.mask.sum(dim=1).float()
    ok = roll.is_correct()
    return {
        "charts/reward": float(roll.rewards.mean()),
        "charts/true_reward": float(ok.float().mean()),
        "charts/length_correct": float(lengths[ok].mean()) if ok.any() else float("nan"),
        "charts/length_wrong": float(lengths[~ok].mean()) if (~ok).any() else float("nan"),
    } | ({"charts/penalty": float(roll.penalty.mean())} if roll.penalty is not None else {})


def level_rewards(roll: Rollout, problems: list[Problem]) -> dict[str, float]:
    """Mean reward of the rollout's samples at each difficulty level present: {"charts/reward_level_L": ...}."""
    levels = torch.tensor([p.level for p in problems for _ in range(roll.group_size)], device=roll.rewards.device)
    return {f"charts/reward_level_{int(lv)}": float(roll.rewards[levels == lv].mean()) for lv in torch.unique(levels)}


def read_responses(task: Task, roll: Rollout, monitors: Sequence[tuple[str, Monitor]] = ()) -> dict[str, float]:
    """What reading the rollout's responses says: the step checker's faithfulness measures
    (`steps.step_stats`, for a task with a scratchpad), the share that used each of the task's exploits
    (`exploits.exploit_stats`) and each monitor's flag rate (`monitors.monitor_stats`)."""
    prompts, responses = roll.prompt_text, roll.response_text
    out = step_stats([task.check_steps(p, r) for p, r in zip(prompts, responses, strict=True)])
    out |= exploit_stats(task, prompts, responses)
    for label, monitor in monitors:
        out |= monitor_stats(label, monitor, prompts, responses)
    return out


def clip_share(ratio: torch.Tensor, eps_low: float, eps_high: float) -> float:
    """The share of tokens whose ratio lies outside [1 − ε_low, 1 + ε_high] (`ppo.core.clip_fraction` when equal)."""
    if ratio.numel() == 0:
        return 0.0
    if eps_low == eps_high:
        return float(clip_fraction(ratio, eps_low))
    return float(((ratio < 1.0 - eps_low) | (ratio > 1.0 + eps_high)).float().mean())


def response_logprobs(
    model: GPT,
    prompts: torch.Tensor,
    responses: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    share_prompts: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """log π(o_t | q, o_<t) of each response token under the distribution the sampler draws from,
    softmax(logits / T) over the top_k largest logits (`sampling.sampling_logits`), with the full
    log-softmax, the tokens that distribution may draw and the hidden states:
    ((B, N), (B, N, V), (B, N, V) bool or None, (B, N, C)).

    With top-k, the tokens drawn are the model's own k largest logits plus the response's token o_t
    itself: at θ = θ_old o_t is among them (the sampler drew it), so this is the sampler's
    distribution exactly; after a step that pushes o_t out of π_θ's top k, its log π_θ stays finite
    (a ratio, never exp(±3.4e38)).
    """
    logits, h = forward_responses(model, prompts, responses, share_prompts)  # (B, N, V), (B, N, C)
    logits, _ = sampling_logits(logits, temperature, None)  # (B, N, V) logits / T
    _, keep = sampling_logits(logits, 1.0, top_k)  # (B, N, V) the top k, or None
    if keep is not None:
        drawn = torch.zeros_like(keep).scatter_(-1, responses.unsqueeze(-1), True)  # (B, N, V) o_t's one-hot
        keep = keep | drawn
        logits = mask_logits(logits, keep)
    logp, log_probs = token_logprobs(logits, responses)  # (B, N), (B, N, V)
    return logp, log_probs, keep, h


def token_entropy(log_probs: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """The entropy of the sampling distribution at each token: (B, N, V) log-probs -> (B, N)."""
    B, N, V = log_probs.shape
    flat_keep = keep.reshape(B * N, V) if keep is not None else None  # (B·N, V)
    return masked_entropy(log_probs.reshape(B * N, V), flat_keep).view(B, N)  # (B·N,) -> (B, N)


def masked_row_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of each row of x (B, N) over its mask: (B,), 0 for an empty row."""
    m = mask.to(x.dtype)
    return (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


def bucketed_logprobs(
    model: GPT,
    prompts: torch.Tensor,
    responses: torch.Tensor,
    mask: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    buckets: int = 1,
    share_prompts: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """`response_logprobs` computed on `buckets` parts of the rows sorted by length, each part's
    responses cut to its longest (mask (B, N) says each row's length), then put back in the rows'
    order and padded to N: ((B, N), (B, N, V), (B, N, V) or None, (B, N, C)), 0 (False) past a part's
    width. The causal model's outputs at a row's real tokens do not depend on the padding after
    them, so only float rounding differs from one pass; with buckets = 1 it is that one pass."""
    B, N = responses.shape
    if buckets <= 1 or B < 2:
        return response_logprobs(model, prompts, responses, temperature, top_k, share_prompts)
    lengths = mask.sum(dim=1)  # (B,)
    order = torch.argsort(lengths, stable=True)  # (B,) shortest first
    parts = []
    for rows in order.chunk(min(buckets, B)):
        n = max(int(lengths[rows].max()), 1)
        parts.append(response_logprobs(model, prompts[rows], responses[rows, :n], temperature, top_k, share_prompts))
    back = torch.empty_like(order)
    back[order] = torch.arange(B, device=order.device)  # (B,) where each row went in the sorted order

    def join(i: int) -> torch.Tensor:
        pieces = []
        for part in parts:
            x = part[i]
            assert x is not None
            pad = [0, 0] * (x.dim() - 2) + [0, N - x.shape[1]]  # F.pad counts from the last dim: pad dim 1
            pieces.append(nn.functional.pad(x, pad))  # (b, n, ...) -> (b, N, ...)
        return torch.cat(pieces).index_select(0, back)  # sorted order -> the rows' order

    keep = join(2) if parts[0][2] is not None else None
    return join(0), join(1), keep, join(3)


def rl_update(
    policy: GPT,
    reference: GPT | None,
    value_head: ValueHead | None,
    opt: torch.optim.Optimizer,
    roll: Rollout,
    cfg: RLConfig,
    record: dict[str, torch.Tensor] | None = None,
) -> dict[str, float]:
    """Phases 2 and 3 of one update on `roll`, with `cfg` resolved. Returns the update's metrics;
    `record`, if given, receives "advantages": (B,) each response's mean Â over its tokens.

    - The policy runs in eval mode (no dropout) throughout, as the sampler and the reference do:
      θ_old's log-probabilities are then the sampler's, and at θ = θ_old the ratio is exactly 1.
      Dropout, if the base was pre-trained with it, is off during RL (TRL's `disable_dropout`).
    - Every log-probability of the policy (θ_old and θ) is that of the sampling distribution,
      softmax(logits / T) over the top k (`response_logprobs`): the policy optimised is the sampler.
      The reference's is softmax(logits_ref / T) over every token, so the KL to it stays finite
      where the two models' top k differ.
    - With one epoch of one minibatch, θ_old's pass is the update's own forward pass, detached
      (θ = θ_old there).
    - Each epoch shuffles the rows into `minibatches` parts (M), one optimizer step each. The token
      weights w (`token_weights`) are those of the whole batch, times M in each part: the loss of a
      part is on the whole batch's scale, a token's weight does not depend on the part it falls in,
      and at θ_old the mean of the M parts' gradients is the whole batch's (PPO's value loss, a mean
      over tokens, is weighted alike). M = 1 is one step on the whole batch.
    - Every pass runs on `length_buckets` parts of the rows sorted by length (`bucketed_logprobs`),
      each distinct prompt computed once with `share_prompts` (`forward_responses`).
    - The metrics are means over the K·M steps; the KL to the reference is that of the last epoch's
      log π, each row's taken before its part's step (as with M = 1).
    """
    policy.eval()
    B, N = roll.responses.shape
    G, P = roll.group_size, B // roll.group_size
    M = min(cfg.minibatches, B)
    beta = float(cfg.kl_coef or 0.0)
    beta_reward = beta if cfg.kl_in_reward else 0.0
    T, k, nb, share = cfg.temperature, cfg.top_k, cfg.length_buckets, cfg.share_prompts

    def logprobs(model: GPT, rows: torch.Tensor | None, top_k: int | None = k) -> tuple[Any, Any, Any, Any]:
        if rows is None:
            return bucketed_logprobs(model, roll.prompts, roll.responses, roll.mask, T, top_k, nb, share)
        part = (roll.prompts[rows], roll.responses[rows], roll.mask[rows])
        return bucketed_logprobs(model, *part, T, top_k, nb, share)

    # ---- phase 2: what θ_old, the reference and the critic said, then the advantages ----
    first = logprobs(policy, None) if cfg.epochs == 1 and M == 1 else None
    with torch.no_grad():
        if first is not None:
            logp_old, h_old = first[0].detach(), first[3].detach()  # (B, N), (B, N, C): θ_old = θ
            log_probs_old, keep_old = first[1], first[2]
        else:
            logp_old, log_probs_old, keep_old, h_old = logprobs(policy, None)
        ref_logp = (  # at the same temperature, over every token (finite wherever π_θ may sample)
            logprobs(reference, None, None)[0] if reference is not None else logp_old
        )
        values_old = value_head(h_old) if value_head is not None else torch.zeros_like(logp_old)  # (B, N)
        lam = float(cfg.penalty_coef) if roll.penalty is not None else 0.0
        paid = roll.rewards - lam * roll.penalty if roll.penalty is not None and lam else roll.rewards  # (B,)
        equal = equal_reward_groups(paid.view(P, G))  # (P,) by the rewards paid

        def advantages(r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """(B, N) advantages and returns from the rewards r (B,)."""
            if cfg.advantage == "gae":
                shaped = kl_shaped_rewards(r, logp_old, ref_logp, roll.mask, beta_reward)
                return token_gae(shaped, values_old, roll.mask, cfg.gamma, cfg.gae_lambda)
            groups = kl_penalised_scores(r, logp_old, ref_logp, roll.mask, beta_reward).view(P, G)  # (P, G)
            if cfg.advantage == "group":
                per_response = group_advantages(groups, bool(cfg.scale_by_std))  # (P, G)
            elif cfg.advantage == "signed":
                per_response = signed_advantages(groups, cfg.positive_weight, cfg.negative_weight)  # (P, G)
            else:
                per_response = rloo_advantages(groups)  # (P, G)
            return per_response.reshape(B, 1) * roll.mask, torch.zeros_like(logp_old)  # (B, N): each token its Â

        adv, returns = advantages(paid)
        if lam and cfg.penalty_target == "answer":  # reward targeting: the scratchpad's tokens see the task's Â
            starts = torch.tensor([answer_start(t) for t in roll.response_text], device=adv.device)  # (B,)
            answer = torch.arange(N, device=adv.device)[None, :] >= starts[:, None]  # (B, N)
            adv = torch.where(answer, adv, advantages(roll.rewards)[0])
        if cfg.advantage == "gae":
            adv = torch.where(roll.mask, adv, 0.0)
            if int(roll.mask.sum()) > 1:
                adv[roll.mask] = normalize(adv[roll.mask])  # whitened over the batch's tokens, as in PPO
        loss_mask = roll.mask.clone()
        if cfg.drop_equal_groups:
            loss_mask &= ~equal.repeat_interleave(G)[:, None]  # (B, N)
        weights = token_weights(loss_mask, cfg.loss_norm or "token", roll.max_len)  # (B, N)
        cov = float(em.covariance(logp_old, adv, roll.mask))  # Cui et al.'s Cov(logp, Â) over the rollout's tokens
        forks = None  # (B, N) the tokens whose policy gradient is kept (Wang et al.'s forks); None: all
        if cfg.entropy_tokens < 1.0:
            forks = em.top_entropy_selection(token_entropy(log_probs_old, keep_old), roll.mask, cfg.entropy_tokens)
        if record is not None:
            record["advantages"] = masked_row_mean(adv, roll.mask)  # (B,)
            record["token_advantages"] = adv  # (B, N)
    # ---- phase 3: K epochs over the rollout, M minibatches each ----
    eps_low = cfg.clip_low if cfg.clip else None
    eps_high = float(cfg.clip_high if cfg.clip_high is not None else cfg.clip_low)
    sums: dict[str, float] = {}
    steps = 0
    last_logp = torch.zeros_like(logp_old)  # (B, N) each row's log π in the last epoch, before its step
    for epoch in range(cfg.epochs):
        parts: list[torch.Tensor | None] = [None] if M == 1 else list(torch.randperm(B).chunk(M))
        for rows in parts:
            if epoch == 0 and first is not None:
                logp, log_probs, keep, h = first
            else:
                logp, log_probs, keep, h = logprobs(policy, rows)

            def part(x: torch.Tensor, rows: torch.Tensor | None = rows) -> torch.Tensor:
                return x if rows is None else x[rows]

            on, old, w = part(roll.mask), part(logp_old), part(weights)
            if rows is not None:
                w = w * M  # the whole batch's weights, on its scale in each of the M parts
            if epoch == cfg.epochs - 1:
                if rows is None:
                    last_logp = logp.detach()
                else:
                    last_logp[rows] = logp.detach()
            ratio = torch.exp(logp - old)  # (b, N)
            w_pg, cov_loss, cov_stats = w, torch.zeros(()), dict[str, float]()
            if forks is not None:
                w_pg = w_pg * part(forks)
            if cfg.clip_cov > 0 or cfg.kl_cov > 0:
                w_pg, cov_loss, cov_stats = _cov_fixes(cfg, logp, old, ratio, part(adv), on, w, w_pg, eps_low, eps_high)
            pg_loss = clipped_surrogate(ratio, part(adv), w_pg, eps_low, eps_high)
            kl_loss = weighted_k3(logp, part(ref_logp), w) if beta > 0 and not cfg.kl_in_reward else torch.zeros(())
            if cfg.ent_coef != 0.0:
                ent = masked_mean(token_entropy(log_probs, keep), on)
            else:  # only logged: kept out of the graph
                with torch.no_grad():
                    ent = masked_mean(token_entropy(log_probs, keep), on)
            loss = pg_loss + beta * kl_loss - cfg.ent_coef * ent
            if cfg.kl_cov > 0:
                loss = loss + cfg.kl_cov_coef * cov_loss
            v_loss = torch.zeros(())
            if value_head is not None:
                values = value_head(h)
                v_loss = value_loss(values[on], part(values_old)[on], part(returns)[on], None)
                if rows is not None:  # the part's token mean on the whole batch's scale: Σ_part / T_all · M
                    v_loss = v_loss * (int(on.sum()) * M / max(int(roll.mask.sum()), 1))
                loss = loss + cfg.vf_coef * v_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.max_grad_norm is not None:
                params = [p for g in opt.param_groups for p in g["params"]]
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            opt.step()
            with torch.no_grad():
                step_stats = {
                    "losses/policy_loss": float(pg_loss),
                    "losses/kl_loss": float(kl_loss),
                    "losses/value_loss": float(v_loss),
                    "losses/entropy": float(ent),
                    "losses/clipfrac": clip_share(ratio[on], cfg.clip_low, eps_high),
                    "losses/approx_kl": float(approx_kl((logp - old)[on])[1]) if bool(on.any()) else 0.0,
                    **cov_stats,
                }
            for key, value in step_stats.items():
                sums[key] = sums.get(key, 0.0) + value
            steps += 1
    stats = {key: total / steps for key, total in sums.items()}  # means over the K·M steps
    with torch.no_grad():
        on = roll.mask
        stats["losses/kl_ref"] = float(approx_kl((ref_logp - last_logp)[on])[1]) if reference is not None else 0.0
    stats["charts/zero_adv_groups"] = float(equal.float().mean())
    stats["charts/cov_logp_adv"] = cov
    if value_head is not None:
        stats["losses/explained_variance"] = explained_variance(values_old[roll.mask], returns[roll.mask])
    return stats


def _cov_fixes(
    cfg: RLConfig,
    logp: torch.Tensor,
    old: torch.Tensor,
    ratio: torch.Tensor,
    adv: torch.Tensor,
    on: torch.Tensor,
    w: torch.Tensor,
    w_pg: torch.Tensor,
    eps_low: float | None,
    eps_high: float,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """Cui et al.'s Clip-Cov and KL-Cov on one optimizer step's rows (all (b, N)), the centred products
    taken over these rows' tokens at the current θ, as in their code: the policy-gradient weights with
    Clip-Cov's tokens set to 0, KL-Cov's penalty Σ w·|logp − logp_old| over its tokens, and the shares
    of the tokens each picked (`kingme.lm.entropy_mechanics`)."""
    with torch.no_grad():
        c = em.token_covariance(logp.detach(), adv, on)  # (b, N)
    stats: dict[str, float] = {}
    n = max(int(on.sum()), 1)
    if cfg.clip_cov > 0:
        clipped = em.ratio_clipped(ratio.detach(), adv, eps_low, eps_high) if eps_low is not None else None
        detached = em.clip_cov_selection(c, on, cfg.clip_cov, cfg.cov_low, cfg.cov_high, exclude=clipped)
        w_pg = w_pg * ~detached
        stats["losses/clip_cov_tokens"] = int(detached.sum()) / n
    penalty = torch.zeros(())
    if cfg.kl_cov > 0:
        picked = em.kl_cov_selection(c, on, cfg.kl_cov)
        penalty = em.weighted_abs_logratio(logp, old, w * picked)
        stats["losses/kl_cov_tokens"] = int(picked.sum()) / n
        stats["losses/kl_cov_loss"] = float(penalty.detach())
    return w_pg, penalty, stats


def rl_learning_rate(update: int, cfg: RLConfig, spent: float = 0.0) -> float:
    """The learning rate at update 1, 2, ...: a linear warm-up over `cfg.warmup` updates, then `cfg.lr`,
    or with `lr_decay = "cosine"` lr · (f + (1 − f) · (1 + cos(π·spent)) / 2), f = `lr_final`, where
    `spent` in [0, 1] is the share of the budget used.

    Adam's first steps move every parameter by about lr whatever the gradient's size (its moment
    estimates start from one noisy policy gradient), which knocks a small model off its base.
    """
    if cfg.warmup > 0 and update < cfg.warmup:
        return cfg.lr * update / cfg.warmup
    if cfg.lr_decay == "none":
        return cfg.lr
    return cosine_decay(cfg.lr, spent, cfg.lr_final)


def budget_spent(update: int, seconds: float, cfg: RLConfig) -> float:
    """The share of the run's budget used after `update` updates and `seconds` of training: of
    --updates or of --max-minutes, whichever is further along, in [0, 1] (PPO's `Budget`, with
    updates for steps)."""
    from kingme.runs.budget import Budget

    seconds_budget = 60.0 * cfg.max_minutes if cfg.max_minutes is not None else None
    return Budget(cfg.updates, seconds_budget).fraction(update, seconds)


def load_base(base: str, device: str) -> tuple[GPT, Task]:
    from kingme.lm.pretrain import load_checkpoint

    if not base:
        raise UserError("give the base model: a `kingme lm pretrain` run folder or its .safetensors file")
    return load_checkpoint(base, device)


RESUME_OVERRIDES = ("updates", "max_minutes", "device", "torch_threads")  # what --resume may change
REFERENCE_CHECKPOINT = "reference.safetensors"  # the base the run started from: the reference, on resume
CHECKPOINT_KIND = "lm-train"


def _weights(policy: GPT, value_head: ValueHead | None) -> dict[str, torch.Tensor]:
    """The trained weights as one flat dict, each tensor its own copy (the tied head shares storage)."""
    out = {f"policy/{k}": v.detach().clone() for k, v in policy.state_dict().items()}
    if value_head is not None:
        out |= {f"value_head/{k}": v.detach().clone() for k, v in value_head.state_dict().items()}
    return out


def save_resume_state(
    run_dir: Path,
    cfg: RLConfig,
    update: int,
    policy: GPT,
    value_head: ValueHead | None,
    opt: torch.optim.Optimizer,
    rng: Any,
    progress: dict[str, Any],
) -> None:
    """run_dir/checkpoints/update-NNNNNN.safetensors (`kingme.ppo.checkpoint`'s format, the last two
    kept): the policy's and value head's weights, Adam's state, the update counter, the RNG states of
    Python, NumPy, torch and the loop's own generator, and `progress` (training time so far, tokens,
    the summary). The reference is the run's reference.safetensors, written once at the start."""
    from kingme.config import config_to_dict
    from kingme.ppo.checkpoint import CheckpointManager, rng_state

    state = {
        "optimizer": opt.state_dict(),
        "update": update,
        "global_step": update,
        "rng": rng_state(),
        "loop_rng": json.dumps(rng.bit_generator.state),
        "progress": json.dumps(progress),
    }
    meta = {"kind": CHECKPOINT_KIND, "config": config_to_dict(cfg), "update": update}
    CheckpointManager(run_dir / "checkpoints", keep=2).save(update, _weights(policy, value_head), meta, state, None)


def load_resume_state(run_dir: Path, device: str) -> tuple[GPT, Task, Any]:
    """The base (from the run's reference.safetensors) and the newest readable resume checkpoint of
    an lm train run; a one-line `UserError` for a folder that is not one or is damaged."""
    from kingme.lm.pretrain import load_checkpoint
    from kingme.ppo.checkpoint import load_resumable

    reference = run_dir / "checkpoints" / REFERENCE_CHECKPOINT
    if not reference.is_file():
        raise UserError(f"cannot resume {run_dir}: no {REFERENCE_CHECKPOINT} in its checkpoints (not an lm train run)")
    base = load_checkpoint(reference, device)
    ckpt = load_resumable(run_dir)
    if ckpt.meta.get("kind") != CHECKPOINT_KIND:
        raise UserError(f"cannot resume {run_dir}: {ckpt.path.name} is not an lm train checkpoint")
    return base[0], base[1], ckpt


def train(
    cfg: RLConfig,
    run_dir: Path | None = None,
    quiet: bool = True,
    log: Any = None,
    base: tuple[GPT, Task] | None = None,
    resume: bool = False,
) -> tuple[GPT, dict[str, Any]]:
    """RL from the base model (`cfg.base`, or the given (model, task)); returns (policy, summary).

    `log` receives one metrics row per update. With run_dir: the base is saved once as
    checkpoints/reference.safetensors, a resume checkpoint (`save_resume_state`) at every evaluation
    (every `eval_every` updates, and the last), the final policy as checkpoints/policy.safetensors
    (loadable like a base checkpoint), and `cfg.samples` of the rollout's responses at each
    evaluation as samples/update_NNNNNN.jsonl (`sample_rows`).

    `resume`: continue the run in run_dir from its newest resume checkpoint (the base is read from
    reference.safetensors, `base` is ignored): weights, optimizer, update counter, every RNG, the
    training time (so --max-minutes counts every session) and the summary so far. On one device the
    updates after it are bit for bit those of the run had it not stopped.
    """
    cfg = cfg.resolved()
    device = resolve_device(cfg.device)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    rng = seed_everything(cfg.seed)
    ckpt = None
    if resume:
        if run_dir is None:
            raise UserError("resuming needs the run folder")
        base_model, base_task, ckpt = load_resume_state(run_dir, device)
        base = (base_model, base_task)
    policy, task = base if base is not None else load_base(cfg.base, device)
    reward: str | Reward = cfg.reward if cfg.reward == "exact" else load_reward(cfg.reward, task, device)
    monitors = [(monitor_label(m), load_monitor(m, task)) for m in cfg.monitors]  # before any training
    penalties = [load_monitor(m, task) for m in cfg.penalty]
    if run_dir is not None and not resume:
        from kingme.lm.pretrain import save_checkpoint

        save_checkpoint(run_dir / "checkpoints" / REFERENCE_CHECKPOINT, policy, task)
    policy = copy.deepcopy(policy).to(device).eval()  # no dropout in RL (see rl_update)
    reference = None
    if (cfg.kl_coef or 0.0) > 0 or cfg.measure_kl:
        reference = copy.deepcopy(policy).eval()
        for p in reference.parameters():
            p.requires_grad_(False)
    value_head = ValueHead(policy.config.n_embd).to(device) if cfg.advantage == "gae" else None
    params = list(policy.parameters()) + (list(value_head.parameters()) if value_head is not None else [])
    opt = torch.optim.Adam(params, lr=cfg.lr)
    test = test_set(task, cfg.seed, cfg.eval_problems)
    policy.eval()
    start, elapsed, tokens = 0, 0.0, 0
    if ckpt is not None:
        from kingme.ppo.checkpoint import set_rng_state

        try:
            w = ckpt.weights
            policy.load_state_dict({k.removeprefix("policy/"): v for k, v in w.items() if k.startswith("policy/")})
            if value_head is not None:
                value_head.load_state_dict(
                    {k.removeprefix("value_head/"): v for k, v in w.items() if k.startswith("value_head/")}
                )
            opt.load_state_dict(ckpt.state["optimizer"])
            set_rng_state(ckpt.state["rng"])
            rng.bit_generator.state = json.loads(ckpt.state["loop_rng"])
            start = int(ckpt.state["update"])
            progress = json.loads(ckpt.state["progress"])
            elapsed, tokens, summary = float(progress["elapsed"]), int(progress["tokens"]), progress["summary"]
        except (RuntimeError, KeyError, ValueError, TypeError) as e:
            raise UserError(f"checkpoint {ckpt.path} does not fit this run's config: {one_line(e)}") from None
    else:
        first = greedy_accuracy(policy, task, test, device=device)
        summary = {"test_pass1_start": first, "rewards": []}
    t0 = time.perf_counter() - elapsed  # the time budget counts every session
    sampled_tokens = 0  # this update's sampled tokens, over every round of dynamic sampling

    def rollout(problems: list[Problem]) -> Rollout:
        nonlocal sampled_tokens
        roll = collect_rollout(policy, task, problems, cfg.group_size, cfg.temperature, cfg.top_k, device, reward)
        sampled_tokens += int(roll.mask.sum())
        if penalties:  # m_i: the mean suspicion of the --penalty monitors
            scores = [[float(v) for v in m.score(roll.prompt_text, roll.response_text)] for m in penalties]
            roll = dataclasses.replace(roll, penalty=torch.tensor(scores, device=device).mean(dim=0))  # (B,)
        return roll

    def refill() -> tuple[Rollout, list[Problem]]:
        problems = sample_problems(task, rng, cfg.prompts_per_update, "train", cfg.mix)
        return rollout(problems), problems

    with progress_bar(cfg.updates, f"{cfg.algo} {task.name}", enabled=not quiet, completed=start) as advance:
        for update in range(start + 1, cfg.updates + 1):
            problems = sample_problems(task, rng, cfg.prompts_per_update, "train", cfg.mix)
            t_roll = time.perf_counter()
            sampled_tokens = 0
            roll = rollout(problems)
            refill_stats: dict[str, float] = {}
            if cfg.refill_groups:
                roll, problems, rounds = dynamic_sampling(
                    roll, problems, cfg.prompts_per_update, cfg.refill_rounds, refill
                )
                refill_stats = {"charts/refill_rounds": rounds, "charts/kept_groups": len(signal_groups(roll))}
            sample_s = time.perf_counter() - t_roll  # every round's sampling
            for group in opt.param_groups:
                group["lr"] = rl_learning_rate(update, cfg, budget_spent(update - 1, time.perf_counter() - t0, cfg))
            record: dict[str, torch.Tensor] = {}
            stats = rl_update(policy, reference, value_head, opt, roll, cfg, record)
            n_tokens = int(roll.mask.sum())
            tokens += n_tokens
            row: dict[str, Any] = {
                "update": update,
                "global_step": update,
                "time": time.perf_counter() - t0,
                **response_stats(roll),
                **level_rewards(roll, problems),
                **stats,
                **refill_stats,
                **read_responses(task, roll, monitors),
                "charts/learning_rate": opt.param_groups[0]["lr"],
                "charts/sample_tokens_per_s": sampled_tokens / max(sample_s, 1e-9),
                "charts/tokens_per_s": tokens / max(time.perf_counter() - t0, 1e-9),
            }
            out_of_time = cfg.max_minutes is not None and time.perf_counter() - t0 >= 60.0 * cfg.max_minutes
            reached = False
            evaluation = update % cfg.eval_every == 0 or update == cfg.updates or out_of_time
            if evaluation:
                policy.eval()
                acc = greedy_accuracy(policy, task, test, device=device)
                row["charts/test_pass1"] = acc["all"]
                row.update({f"charts/test_pass1_{k}": v for k, v in acc.items() if k != "all"})
                summary["test_pass1_end"] = acc
                reached = cfg.target_pass1 is not None and acc["all"] >= cfg.target_pass1
                if reached:
                    summary["target_reached"] = {"update": update, "time_s": time.perf_counter() - t0}
            summary["rewards"].append(row["charts/reward"])
            summary["updates_done"] = update
            if log is not None:
                log(row)
            if evaluation and run_dir is not None:
                samples = sample_rows(task, roll, record.get("advantages"), monitors, cfg.samples)
                write_samples(run_dir, update, samples, log)
                progress = {"elapsed": time.perf_counter() - t0, "tokens": tokens, "summary": summary}
                save_resume_state(run_dir, cfg, update, policy, value_head, opt, rng, progress)
            advance(info=f"reward {row['charts/reward']:.2f}")
            if out_of_time or reached:
                break
    policy.eval()
    summary["runtime_s"] = time.perf_counter() - t0
    if run_dir is not None:
        from kingme.lm.pretrain import POLICY_CHECKPOINT, save_checkpoint

        save_checkpoint(run_dir / "checkpoints" / POLICY_CHECKPOINT, policy, task)
    return policy, summary


def sample_rows(
    task: Task,
    roll: Rollout,
    advantages: torch.Tensor | None,
    monitors: Sequence[tuple[str, Monitor]],
    n: int,
) -> list[dict[str, Any]]:
    """The first response of each of the first `n` groups (so `n` prompts), as JSON rows: prompt,
    response, reward, the exact verdict, the advantage it was trained with (the mean over its tokens
    of Â), each monitor's suspicion and, for a task with a scratchpad, the step marks (right or
    wrong per step, whether the answer follows from them)."""
    G = roll.group_size
    rows_at = [g * G for g in range(min(n, roll.rewards.shape[0] // G))]
    prompts = [roll.prompt_text[i] for i in rows_at]
    responses = [roll.response_text[i] for i in rows_at]
    scores = {label: list(m.score(prompts, responses)) for label, m in monitors}
    correct = roll.is_correct()
    out = []
    for j, i in enumerate(rows_at):
        row: dict[str, Any] = {
            "prompt": prompts[j],
            "response": responses[j],
            "reward": float(roll.rewards[i]),
            "correct": bool(correct[i]),
            "advantage": float(advantages[i]) if advantages is not None else None,
        }
        if scores:
            row["monitors"] = {label: float(s[j]) for label, s in scores.items()}
        marks = task.check_steps(prompts[j], responses[j])
        if marks is not None and marks.has_steps:
            row["steps"] = {"marks": list(marks.marks), "expected": marks.expected, "follows": marks.follows}
        out.append(row)
    return out


SAMPLES_DIR = "samples"


def write_samples(run_dir: Path, update: int, rows: list[dict[str, Any]], log: Any = None) -> None:
    """run_dir/samples/update_NNNNNN.jsonl, one row per sampled response; and to TensorBoard as
    text (tag samples) when `log` is a logger that has `text` (`kingme.runs.logger.MetricsLogger`)."""
    if not rows:
        return
    from kingme.common import atomic_write_text

    folder = run_dir / SAMPLES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / f"update_{update:06d}.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    text = getattr(log, "text", None)
    if callable(text):
        lines = [
            f"{r['prompt']}{r['response']}  reward {r['reward']:g}, advantage "
            + ("-" if r["advantage"] is None else f"{r['advantage']:+.3f}")
            + "".join(f", {k} {v:.2f}" for k, v in r.get("monitors", {}).items())
            + (f", steps {sum(r['steps']['marks'])}/{r['steps']['expected']}" if "steps" in r else "")
            for r in rows
        ]
        text("samples", "\n\n".join(f"    {line}" for line in lines), update)
