"""A learned reward model: the tiny transformer with a scalar head, fitted to preference pairs.

The model reads a (prompt, response) pair laid out as the base model's sequences are: the prompt
left-padded to its prompt width (the task's, plus room for a stated belief), the response, EOS,
then PAD; it reads a scalar at the EOS:

    r(q, o) = w · h_EOS(q, o) + c        h_EOS the final hidden state of `GPT.hidden` at the EOS

(the `GPT`'s language-model head is not used). By default it starts from the base model's weights
(`RewardModel.init_from`), as InstructGPT's reward models start from the SFT model. It is trained
by Bradley-Terry cross-entropy on labelled pairs (chosen a, rejected b; Christiano et al. 2017,
Ouyang et al. 2022):

    P(a ≻ b) = σ(r(a) − r(b)),      loss = −mean log σ(r(a) − r(b))

and reported on held-out pairs (prompts of the task's test split, one pair per prompt) by
- pair accuracy: the share of held-out pairs where r(chosen) > r(rejected) (a tie counts ½), i.e.
  agreement with the labeller, whose own noise caps it;
- gold agreement: among held-out pairs whose gold rewards (the exact verifier) differ, the share
  where the reward model ranks the gold-better response higher; and the labeller's own gold
  agreement on the same pairs, for comparison.

`kingme lm reward-model BASE` (entry `main`, see `RewardModelConfig`) samples responses from a base
model, labels pairs with a simulated labeller (`kingme.lm.labellers`), fits the model and writes a
run folder: config.json, metrics.jsonl, summary.json and checkpoints/reward_model.safetensors. The
checkpoint holds the weights and, in its metadata, the shape and the task: `load_reward_model`
rebuilds it without running any code from the file (no pickle).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from kingme.common import UserError, atomic_write_json, cosine_decay, resolve_device, seed_everything
from kingme.config import Parser, add_config_args, arg, config_from_args, require
from kingme.lm.labellers import Labeller, Preference, draw_pairs, gold_agreement
from kingme.lm.rewards import register_reward
from kingme.lm.tasks import Addition, Split, Task
from kingme.lm.vocab import EOS_ID, PAD_ID, VOCAB_SIZE, encode, pad_left
from kingme.transformer import GPT, TransformerConfig, configure_adamw

REWARD_CHECKPOINT = "reward_model.safetensors"
KIND = "kingme-reward-model"


# ---------------------------------------------------------------------------------------------
# The maths
# ---------------------------------------------------------------------------------------------


def bt_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """Bradley-Terry cross-entropy, −mean log σ(r(a) − r(b)) over pairs (a chosen, b rejected): (B,), (B,) -> ()."""
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def pair_accuracy(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> float:
    """The share of pairs with r(chosen) > r(rejected), a tie counting ½."""
    if r_chosen.numel() == 0:
        return float("nan")
    return float(((r_chosen > r_rejected).float() + 0.5 * (r_chosen == r_rejected).float()).mean())


def model_gold_agreement(pairs: Sequence[Preference], r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> float:
    """Among pairs with unequal gold rewards, the share where the reward model ranks the gold-better
    response higher (a tie counts ½); nan when there are none."""
    gold = torch.tensor([p.gold_chosen - p.gold_rejected for p in pairs])  # (B,) sign = which is gold-better
    decisive = gold != 0
    if not bool(decisive.any()):
        return float("nan")
    margin = (r_chosen - r_rejected) * gold.sign()  # (B,) > 0 where the model agrees with gold
    return float(((margin > 0).float() + 0.5 * (margin == 0).float())[decisive].mean())


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


class RewardModel(nn.Module):
    """`GPT`'s stack with a scalar head read at the last token, EOS (module docstring).

    A sequence is laid out as the base model's are: the prompt left-padded to `prompt_width`, then the
    response and EOS, then PAD to the block; the reward is read at the EOS, the last token that is
    not PAD.
    """

    def __init__(self, config: TransformerConfig, prompt_width: int) -> None:
        super().__init__()
        if not 1 <= prompt_width < config.block_size:
            raise ValueError(f"prompt_width {prompt_width} must be in [1, block_size {config.block_size})")
        self.prompt_width = prompt_width
        self.gpt = GPT(config)
        self.head = nn.Linear(config.n_embd, 1)
        nn.init.normal_(self.head.weight, mean=0.0, std=0.02)
        nn.init.zeros_(self.head.bias)

    @property
    def config(self) -> TransformerConfig:
        return self.gpt.config

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Rewards (B,) of sequences tokens (B, L) laid out by `encode` (read at the last non-PAD token)."""
        B, L = tokens.shape
        last = (torch.arange(L, device=tokens.device) * (tokens != PAD_ID)).argmax(dim=1)  # (B,) EOS's position
        h = self.gpt.hidden(tokens)  # (B, L, C)
        return self.head(h[torch.arange(B, device=tokens.device), last]).squeeze(-1)  # (B, C) -> (B,)

    def encode(
        self, prompts: Sequence[str], responses: Sequence[str], device: str | torch.device = "cpu"
    ) -> torch.Tensor:
        """pad_left(prompt) + response + EOS + PAD for each pair: (B, block_size)."""
        width, P = self.config.block_size, self.prompt_width
        rows = []
        for prompt, response in zip(prompts, responses, strict=True):
            if len(prompt) > P:
                raise UserError(f"prompt {prompt!r} is longer than the reward model's {P} characters")
            ids = pad_left(encode(prompt), P) + encode(response) + [EOS_ID]
            if len(ids) > width:
                raise UserError(f"response {response!r} is longer than the reward model's {width - P - 1} characters")
            rows.append(ids + [PAD_ID] * (width - len(ids)))
        return torch.tensor(rows, dtype=torch.long, device=device).view(len(rows), width)  # (B, block_size)

    @torch.no_grad()
    def score(self, prompts: Sequence[str], responses: Sequence[str], batch_size: int = 1024) -> torch.Tensor:
        """r(q, o) of each (prompt, response) pair, (B,), in eval mode, in batches."""
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        out = [
            self(self.encode(prompts[i : i + batch_size], responses[i : i + batch_size], device))
            for i in range(0, len(prompts), batch_size)
        ]
        self.train(was_training)
        return torch.cat(out) if out else torch.zeros(0, device=device)

    @torch.no_grad()
    def init_from(self, base: GPT, base_prompt_width: int) -> None:
        """Start from a base language model's weights (InstructGPT's reward models start from the SFT
        model): every weight of the stack and the embeddings, with the base's positions moved right by
        shift = prompt_width − base_prompt_width, so that a bare prompt and its response sit at the
        positions the base saw them at. Positions the base has no row for get its nearest one: the
        first before the shift (only a stated belief reaches them), the last after its block (only an
        EOS after a response that filled the base's whole response width). The base must have this
        model's shape."""
        mine, theirs = self.config, base.config
        if (mine.n_layer, mine.n_head, mine.n_embd) != (theirs.n_layer, theirs.n_head, theirs.n_embd):
            raise UserError(
                f"the base model's shape (n_layer, n_head, n_embd) = {(theirs.n_layer, theirs.n_head, theirs.n_embd)} "
                f"differs from the reward model's {(mine.n_layer, mine.n_head, mine.n_embd)}"
            )
        shift = self.prompt_width - base_prompt_width
        end = shift + theirs.block_size
        if shift < 0 or end > mine.block_size:
            raise UserError(
                f"the base's block of {theirs.block_size} does not fit the reward model's {mine.block_size}"
            )
        state = {k: v for k, v in base.state_dict().items() if not k.startswith("wpe.")}
        missing, unexpected = self.gpt.load_state_dict(state, strict=False)
        assert list(missing) == ["wpe.weight"] and not unexpected, (missing, unexpected)
        wpe = base.wpe.weight  # (base block, C)
        self.gpt.wpe.weight[shift:end] = wpe
        self.gpt.wpe.weight[:shift] = wpe[:1]
        self.gpt.wpe.weight[end:] = wpe[-1:]


def prompt_capacity(task: Task) -> int:
    """Characters a prompt may have: the task's, plus a stated belief and its `;` for addition
    (a sum has at most max_digits + 1 digits; a wrong belief moves it by at most 10)."""
    belief = max(task.levels) + 2 + 1 if isinstance(task, Addition) else 0
    return task.prompt_width + belief


# ---------------------------------------------------------------------------------------------
# The config and the fit
# ---------------------------------------------------------------------------------------------


@dataclass
class RewardModelConfig:
    """`kingme lm reward-model BASE`: a reward model fitted to a simulated labeller's choices between BASE's samples."""

    base: str = arg(
        "", "The base model whose responses are labelled: a `kingme lm pretrain` run folder or .safetensors."
    )

    # --- data ---
    pairs: int = arg(2000, "Labelled training pairs (N), from prompts of the train split.")
    eval_pairs: int = arg(500, "Held-out labelled pairs, from prompts of the test split.")
    group_size: int = arg(4, "Responses sampled per prompt; two distinct ones of them make a pair.")
    temperature: float = arg(1.0, "Sampling temperature of the base model's responses.")
    belief_share: float = arg(0.0, "Share of prompts that carry a stated belief about the answer (addition only).")
    wrong_belief_share: float = arg(0.5, "Share of the stated beliefs that are wrong.")

    # --- the labeller ---
    flip: float = arg(0.0, "Probability that a label is flipped (noise).")
    label_temperature: float = arg(0.0, "Bradley-Terry temperature of the labeller's choice (0 = always the better).")
    gold_weight: float = arg(1.0, "Weight of the exact verifier's verdict in the labeller's utility.")
    agreement_bias: float = arg(0.0, "Utility of agreeing with the prompt's stated belief (sycophancy).")
    length_bias: float = arg(0.0, "Utility per character of response (negative prefers short ones).")
    format_bias: float = arg(0.0, "Utility of a well-formed response, right or wrong.")

    # --- model ---
    from_base: bool = arg(
        True, "Start from the base model's weights (as InstructGPT's reward models start from the SFT model)."
    )
    n_layer: int | None = arg(None, "Transformer blocks (none = the base's with --from-base, else 2).")
    n_head: int | None = arg(None, "Attention heads per block (none = the base's with --from-base, else 4).")
    n_embd: int | None = arg(None, "Embedding width (none = the base's with --from-base, else 64).")

    # --- optimisation ---
    steps: int = arg(600, "Optimiser steps.")
    batch_size: int = arg(64, "Pairs per step.")
    lr: float = arg(1e-3, "Peak learning rate (linear warm-up, then cosine decay to a tenth).")
    warmup: int = arg(50, "Warm-up steps.")
    weight_decay: float = arg(0.1, "AdamW weight decay on weight matrices.")
    eval_every: int = arg(200, "Steps between evaluations on the held-out pairs (and at the end).")

    # --- run ---
    seed: int = arg(1, "Seed for the prompts, the samples, the labels, the weights and the batches.")
    device: str = arg("auto", "Torch device: auto, cpu or cuda[:N].")
    torch_threads: int = arg(1, "CPU threads for torch (0 = torch's default).")

    def validate(self) -> None:
        require(self.pairs >= 1, f"--pairs must be at least 1, got {self.pairs}")
        require(self.eval_pairs >= 1, f"--eval-pairs must be at least 1, got {self.eval_pairs}")
        require(self.group_size >= 2, f"--group-size must be at least 2, got {self.group_size}")
        require(self.temperature > 0, f"--temperature must be positive, got {self.temperature}")
        require(0.0 <= self.belief_share <= 1.0, f"--belief-share must be in [0, 1], got {self.belief_share}")
        require(
            0.0 <= self.wrong_belief_share <= 1.0,
            f"--wrong-belief-share must be in [0, 1], got {self.wrong_belief_share}",
        )
        self.labeller().validate()
        require(self.n_layer is None or self.n_layer >= 1, f"--n-layer must be at least 1, got {self.n_layer}")
        require(self.n_head is None or self.n_head >= 1, f"--n-head must be at least 1, got {self.n_head}")
        require(self.n_embd is None or self.n_embd >= 1, f"--n-embd must be at least 1, got {self.n_embd}")
        require(self.steps >= 1, f"--steps must be at least 1, got {self.steps}")
        require(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        require(self.lr > 0 and math.isfinite(self.lr), f"--lr must be positive, got {self.lr}")
        require(self.warmup >= 0, f"--warmup must be >= 0, got {self.warmup}")
        require(self.eval_every >= 1, f"--eval-every must be at least 1, got {self.eval_every}")
        require(self.torch_threads >= 0, f"--torch-threads must be >= 0, got {self.torch_threads}")

    def labeller(self) -> Labeller:
        return Labeller(
            flip=self.flip,
            temperature=self.label_temperature,
            gold_weight=self.gold_weight,
            agreement_bias=self.agreement_bias,
            length_bias=self.length_bias,
            format_bias=self.format_bias,
        )

    def model_config(self, block_size: int, base: TransformerConfig | None = None) -> TransformerConfig:
        """The reward model's shape: the sizes given, else the base's (with --from-base), else 2, 4, 64."""
        shape = (base.n_layer, base.n_head, base.n_embd) if base is not None and self.from_base else (2, 4, 64)
        n_layer, n_head, n_embd = (given if given is not None else default for given, default in zip(
            (self.n_layer, self.n_head, self.n_embd), shape, strict=True))  # fmt: skip
        require(n_embd % n_head == 0, f"--n-embd {n_embd} must be a multiple of --n-head {n_head}")
        return TransformerConfig(
            vocab_size=VOCAB_SIZE, block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd
        )


def new_reward_model(cfg: RewardModelConfig, task: Task, base: GPT | None = None) -> RewardModel:
    """A reward model for the task's prompts (room for a stated belief) and responses (a response cut
    at the task's response width, without EOS, gets one appended), seeded by
    cfg.seed; with `cfg.from_base` and a base, started from the base's weights (`RewardModel.init_from`)."""
    torch.manual_seed(cfg.seed)
    P = prompt_capacity(task)
    block = P + task.response_width + 1  # + 1: the EOS after a response that never wrote one
    model = RewardModel(cfg.model_config(block, base.config if base else None), P)
    if cfg.from_base and base is not None:
        model.init_from(base, task.prompt_width)
    return model


def learning_rate(step: int, cfg: RewardModelConfig) -> float:
    """Linear warm-up to lr, then cosine decay to lr / 10 at the last step."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    return cosine_decay(cfg.lr, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))


def evaluate_pairs(model: RewardModel, pairs: Sequence[Preference]) -> dict[str, float]:
    """Pair accuracy, the model's and the labeller's gold agreement, and the BT loss on `pairs`."""
    prompts = [p.prompt for p in pairs]
    r_c = model.score(prompts, [p.chosen for p in pairs]).cpu()
    r_r = model.score(prompts, [p.rejected for p in pairs]).cpu()
    labeller_gold, decisive = gold_agreement(pairs)
    return {
        "pair_accuracy": pair_accuracy(r_c, r_r),
        "gold_agreement": model_gold_agreement(pairs, r_c, r_r),
        "labeller_gold_agreement": labeller_gold,
        "decisive_pairs": float(decisive),
        "loss": float(bt_loss(r_c, r_r)) if len(pairs) else float("nan"),
    }


def fit_reward_model(
    cfg: RewardModelConfig,
    model: RewardModel,
    train_pairs: Sequence[Preference],
    eval_pairs: Sequence[Preference],
    log: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[RewardModel, dict[str, Any]]:
    """Fit `model` (from `new_reward_model`) to `train_pairs` by the BT loss; evaluate on `eval_pairs`.

    Each step draws `batch_size` pairs and scores chosen and rejected in one forward pass. Seeded by
    `cfg.seed` (the batches). Returns (model in eval mode, summary).
    """
    device = resolve_device(cfg.device)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    model = model.to(device)
    opt = configure_adamw(model, cfg.lr, cfg.weight_decay)
    prompts = [p.prompt for p in train_pairs]
    x_c = model.encode(prompts, [p.chosen for p in train_pairs], device)  # (N, block)
    x_r = model.encode(prompts, [p.rejected for p in train_pairs], device)  # (N, block)
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    t0 = time.perf_counter()
    summary: dict[str, Any] = {"params": sum(p.numel() for p in model.parameters()), "train_pairs": len(train_pairs)}
    model.train()
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, cfg)
        idx = torch.randint(0, len(train_pairs), (cfg.batch_size,), generator=gen).to(device)
        r = model(torch.cat([x_c[idx], x_r[idx]]))  # (2B,): chosen then rejected
        r_c, r_r = r.chunk(2)  # (B,), (B,)
        loss = bt_loss(r_c, r_r)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            held_out = evaluate_pairs(model, eval_pairs)
            row = {
                "update": step + 1,
                "global_step": step + 1,
                "time": time.perf_counter() - t0,
                "losses/bt_loss": loss.item(),
                "losses/eval_bt_loss": held_out["loss"],
                "charts/eval_pair_accuracy": held_out["pair_accuracy"],
                "charts/eval_gold_agreement": held_out["gold_agreement"],
            }
            if log is not None:
                log(row)
            model.train()
    model.eval()
    train_eval = evaluate_pairs(model, train_pairs)
    summary.update(
        eval_pairs=len(eval_pairs),
        train_pair_accuracy=train_eval["pair_accuracy"],
        eval=evaluate_pairs(model, eval_pairs),
        runtime_s=time.perf_counter() - t0,
    )
    return model, summary


# ---------------------------------------------------------------------------------------------
# Checkpoints: safetensors with the shape and the task in the metadata
# ---------------------------------------------------------------------------------------------


def save_reward_model(path: Path, model: RewardModel, task: Task) -> None:
    """Weights as safetensors, with the kind, the model's shape and the task in the metadata."""
    from safetensors.torch import save_model

    from kingme.lm.pretrain import task_spec

    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "kind": KIND,
        "model": json.dumps(asdict(model.config)),
        "prompt_width": str(model.prompt_width),
        "task": json.dumps(task_spec(task)),
    }
    tmp = path.with_suffix(".tmp")
    save_model(model, str(tmp), metadata=meta)
    tmp.replace(path)


def load_reward_model(path: str | Path, device: str = "cpu") -> tuple[RewardModel, Task]:
    """The reward model and task saved by `save_reward_model` (a file, or a run folder holding
    checkpoints/reward_model.safetensors); a one-line `UserError` for a missing, corrupt or foreign file."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_model

    from kingme.lm.pretrain import task_from_spec

    p = Path(path)
    if p.is_dir():
        p = p / "checkpoints" / REWARD_CHECKPOINT
    if not p.is_file():
        raise UserError(f"no reward-model checkpoint at {p}")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError) as e:  # empty, truncated or not safetensors at all
        raise UserError(f"{p} is not a readable safetensors file: {_first_line(e)}") from None
    if meta.get("kind") != KIND or not {"model", "prompt_width", "task"} <= set(meta):
        raise UserError(f"{p} is not a kingme reward model (no {KIND} metadata)")
    try:
        model = RewardModel(TransformerConfig(**json.loads(meta["model"])), int(meta["prompt_width"]))
        load_model(model, str(p), device=device)
        spec = json.loads(meta["task"])
        task = task_from_spec(spec)
    except UserError:
        raise
    except (SafetensorError, OSError, ValueError, TypeError, KeyError, RuntimeError) as e:  # weights cut or mismatched
        raise UserError(f"{p} is a damaged kingme reward model: {_first_line(e)}") from None
    return model.to(device).eval(), task


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


# ---------------------------------------------------------------------------------------------
# The whole recipe, and `kingme lm reward-model`
# ---------------------------------------------------------------------------------------------


@dataclass
class PairData:
    """The labelled pairs a reward model is fitted to and scored on, and what drawing them cost."""

    train: list[Preference]
    eval: list[Preference]
    sampling_s: float


def draw_pair_data(cfg: RewardModelConfig, base: tuple[GPT, Task]) -> PairData:
    """`cfg.pairs` training pairs (train split) and `cfg.eval_pairs` held-out pairs (test split, one
    per prompt) over the base model's responses, labelled by `cfg.labeller()`; seeded by `cfg.seed`."""
    device = resolve_device(cfg.device)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    policy, task = base
    policy = policy.to(device)
    labeller = cfg.labeller()
    rng = seed_everything(cfg.seed)
    t0 = time.perf_counter()

    def pairs(n: int, split: Split, distinct: bool) -> list[Preference]:
        rounds = max(20, 4 * math.ceil(n / 1024))  # a batch holds at most 1024 prompts, some give no pair
        return draw_pairs(
            policy, task, labeller, n, split, rng, cfg.group_size, cfg.temperature, cfg.belief_share,
            cfg.wrong_belief_share, device, rounds, distinct=distinct,
        )  # fmt: skip

    train = pairs(cfg.pairs, "train", distinct=False)
    return PairData(train, pairs(cfg.eval_pairs, "test", distinct=True), time.perf_counter() - t0)


def build_reward_model(
    cfg: RewardModelConfig,
    model: RewardModel,
    task: Task,
    data: PairData,
    run_dir: Path | None = None,
    log: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Fit `model` (from `new_reward_model`) to `data` (from `draw_pair_data`) and return the summary;
    save the model under run_dir/checkpoints when run_dir is given."""
    model, summary = fit_reward_model(cfg, model, data.train, data.eval, log)
    gold = [p.gold_chosen for p in data.train] + [p.gold_rejected for p in data.train]
    summary["train_gold_share"] = float(np.mean(gold))  # share of the labelled responses that are right
    summary["sampling_s"] = data.sampling_s
    if run_dir is not None:
        save_reward_model(run_dir / "checkpoints" / REWARD_CHECKPOINT, model, task)
    return summary


def main(argv: list[str]) -> int:
    """`kingme lm reward-model BASE [options]` (to be wired into `kingme lm`; `python -m kingme.lm.reward_model`)."""
    from kingme.lm.pretrain import load_checkpoint
    from kingme.runs import add_run_options, create_run, write_config
    from kingme.runs.logger import MetricsLogger

    p = Parser(prog="kingme lm reward-model", description=(RewardModelConfig.__doc__ or "").strip())
    add_config_args(p, RewardModelConfig, skip=("base",))
    p.add_argument("base", help="The base model: a `kingme lm pretrain` run folder or its .safetensors file.")
    add_run_options(p, "lm-reward-model", resume=False)
    ns = p.parse_args(argv)
    cfg = config_from_args(RewardModelConfig, ns, base=ns.base)
    base = load_checkpoint(cfg.base, resolve_device(cfg.device))  # a missing base fails before the folder exists
    if cfg.belief_share > 0 and not isinstance(base[1], Addition):
        raise UserError(f"--belief-share needs the addition task; the base is trained on {base[1].name}")
    model = new_reward_model(cfg, base[1], base[0])  # so does a shape that does not fit the base
    data = draw_pair_data(cfg, base)  # and a base that cannot give the pairs
    run_dir = create_run(ns.runs_dir, ns.run_name, "lm-reward-model")
    write_config(run_dir, cfg)
    logger = MetricsLogger(run_dir)

    def log(row: dict[str, Any]) -> None:
        logger.log(row)
        if not ns.quiet:
            print(
                f"  {row['update']:>6}  held-out pair accuracy {row['charts/eval_pair_accuracy']:.3f}, "
                f"gold agreement {row['charts/eval_gold_agreement']:.3f}",
                flush=True,
            )

    try:
        summary = build_reward_model(cfg, model, base[1], data, run_dir, log)
    finally:
        logger.close()
    atomic_write_json(run_dir / "summary.json", summary)
    held = summary["eval"]
    print(
        f"reward model ({summary['params']} parameters, {cfg.pairs} pairs): held-out pair accuracy "
        f"{held['pair_accuracy']:.3f}, gold agreement {held['gold_agreement']:.3f} on {held['decisive_pairs']:.0f} "
        f"pairs whose gold differs (the labeller's {held['labeller_gold_agreement']:.3f}), {summary['runtime_s']:.0f} s"
    )
    print(f"run: {run_dir}")
    return 0


# ---------------------------------------------------------------------------------------------
# The reward plug-in: `kingme lm train --reward rm:PATH`
# ---------------------------------------------------------------------------------------------


class LearnedReward:
    """A fitted reward model as a `kingme.lm.rewards.Reward`: r(q, o) for a batch of texts."""

    def __init__(self, model: RewardModel) -> None:
        self.model = model

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        return [float(r) for r in self.model.score(prompts, responses)]


def rm_reward(task: Task, path: str, device: str = "cpu") -> LearnedReward:
    """The factory of `rm:PATH`: the reward model at PATH (a run folder or its .safetensors), which
    must have been fitted on the same task as the policy's (a one-line `UserError` otherwise)."""
    from kingme.lm.pretrain import task_spec

    if not path:
        raise UserError("the reward rm:PATH needs a path: a `kingme lm reward-model` run folder or .safetensors file")
    model, rm_task = load_reward_model(path, device)
    if task_spec(rm_task) != task_spec(task):
        raise UserError(
            f"the reward model at {path} was fitted on {task_spec(rm_task)}, the policy's task is {task_spec(task)}"
        )
    return LearnedReward(model)


register_reward("rm", rm_reward, "a learned reward model at PATH (`kingme lm reward-model`)", prefix=True)


if __name__ == "__main__":  # pragma: no cover
    from kingme.common import one_line

    try:
        sys.exit(main(sys.argv[1:]))
    except UserError as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        sys.exit(2)
