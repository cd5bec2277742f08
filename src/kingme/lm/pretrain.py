"""The base model: supervised learning on generated solutions, then a checkpoint in the run folder.

The pre-training set is drawn once from the task's train split, with the controls of
`PretrainConfig` over what the model sees: the share of each difficulty level (`mix`) and a skill
held out entirely (`max_skill`). Each example is the prompt, left-padded to the task's prompt width,
then the solution and EOS, right-padded to the block; the loss is the next-token cross-entropy on
the response tokens only (the model is never taught to write prompts).

The checkpoint `checkpoints/base.safetensors` holds the weights and, in its metadata, the model's
shape and the task, so `load_checkpoint` needs nothing else (no pickle).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kingme.common import UserError, cosine_decay, one_line, resolve_device, seed_everything
from kingme.config import arg, require
from kingme.lm.evaluate import greedy_accuracy
from kingme.lm.hints import Hinted
from kingme.lm.plugins import is_plugin_spec
from kingme.lm.priors import check_plants, parse_plants, plant
from kingme.lm.tasks import Problem, Task, make_task, mix_weights, sample_problems, test_set
from kingme.lm.vocab import EOS_ID, PAD_ID, VOCAB_SIZE, encode, pad_left
from kingme.progress import progress_bar
from kingme.transformer import GPT, TransformerConfig

BASE_CHECKPOINT = "base.safetensors"
POLICY_CHECKPOINT = "policy.safetensors"  # written by `kingme lm train`


@dataclass
class PretrainConfig:
    """`kingme lm pretrain TASK`: a base model by supervised learning on generated solutions."""

    # --- task and what pre-training sees ---
    task: str = arg(
        "addition", "The task: addition, path, countdown, or a plug-in module:Name (built as Name(max_level))."
    )
    max_level: int = arg(3, "Top of the difficulty knob: digits of an addition, edges of a path, numbers in Countdown.")
    scratchpad: bool = arg(
        False,
        "Addition and countdown: responses write out their steps before the answer (each digit's sum and carry; "
        "each operation).",
    )
    scratchpad_share: float = arg(
        1.0,
        "With --scratchpad: share of the pre-training solutions written out; the rest are the bare answer, which "
        "the verifier accepts too, so the length of a response becomes the model's choice (1 = all written out).",
    )
    mix: tuple[float, ...] = arg(
        (), "Share of each difficulty level in the pre-training set, one per level (empty = equal)."
    )
    max_skill: int | None = arg(
        None,
        "Hold out every problem whose skill exceeds this: carries reaching past this many digits (addition), "
        "paths longer than this (path), more numbers than this (countdown); none = hold out nothing.",
    )
    held_out_share: float = arg(
        0.0,
        "Share of the pre-training set drawn from the problems --max-skill holds out (0 = held out entirely): "
        "a skill present in a small share.",
    )
    hint_right: float | None = arg(
        None,
        "Put a hint in front of every prompt (a claimed answer, `131;47+85=`), right at this rate, else wrong "
        "(kingme.lm.hints); the checkpoint keeps it, so RL from this base sees hints too (none = no hint).",
    )
    plant: tuple[str, ...] = arg(
        (),
        "Planted priors NAME:FREQ,...: a share FREQ of the pre-training targets is the behaviour's text, for "
        "NAME in exploit_said, exploit_silent, hint_cited, hint_silent (kingme.lm.priors).",
    )
    train_size: int = arg(20_000, "Problems in the pre-training set, drawn once from the train split.")
    eval_problems: int = arg(256, "Distinct held-out test problems scored (greedy pass@1) at each evaluation.")

    # --- model ---
    n_layer: int = arg(2, "Transformer blocks.")
    n_head: int = arg(4, "Attention heads per block.")
    n_embd: int = arg(128, "Embedding width.")
    dropout: float = arg(0.0, "Dropout probability.")

    # --- optimisation ---
    steps: int = arg(2000, "Optimiser steps.")
    batch_size: int = arg(64, "Examples per step.")
    lr: float = arg(3e-3, "Peak learning rate (linear warm-up, then cosine decay to a tenth).")
    warmup: int = arg(100, "Warm-up steps.")
    weight_decay: float = arg(0.1, "AdamW weight decay on weight matrices.")
    eval_every: int = arg(500, "Steps between evaluations on the test split (and at the end).")

    # --- run ---
    seed: int = arg(1, "Seed for the data, the initial weights and the batches.")
    device: str = arg("auto", "Torch device: auto, cpu or cuda[:N].")
    torch_threads: int = arg(1, "CPU threads for torch (0 = torch's default).")

    def validate(self) -> None:
        require(self.max_level >= 1, f"--max-level must be at least 1, got {self.max_level}")
        require(all(s >= 0 for s in self.mix), f"--mix shares must be non-negative, got {self.mix}")
        require(self.train_size >= 1, f"--train-size must be at least 1, got {self.train_size}")
        require(
            0.0 <= self.scratchpad_share <= 1.0, f"--scratchpad-share must be in [0, 1], got {self.scratchpad_share}"
        )
        require(
            self.scratchpad_share == 1.0 or self.scratchpad,
            "--scratchpad-share needs --scratchpad",
        )
        require(0.0 <= self.held_out_share < 1.0, f"--held-out-share must be in [0, 1), got {self.held_out_share}")
        require(
            self.held_out_share == 0.0 or self.max_skill is not None,
            "--held-out-share needs --max-skill (the skill whose problems it lets back in)",
        )
        require(self.steps >= 1, f"--steps must be at least 1, got {self.steps}")
        require(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        require(self.n_embd % self.n_head == 0, f"--n-embd {self.n_embd} must be a multiple of --n-head {self.n_head}")
        require(self.eval_every >= 1, f"--eval-every must be at least 1, got {self.eval_every}")
        require(self.torch_threads >= 0, f"--torch-threads must be >= 0, got {self.torch_threads}")
        require(
            self.hint_right is None or 0.0 <= self.hint_right <= 1.0,
            f"--hint-right must be in [0, 1], got {self.hint_right}",
        )
        task = self.make_task()
        mix_weights(task, self.mix)  # the task's bounds and the mix's length, before any run folder
        check_plants(task, parse_plants(self.plant))

    def make_task(self) -> Task:
        """The task, with hints in its prompts when `hint_right` is set."""
        task = make_task(self.task, self.max_level, self.scratchpad)
        return task if self.hint_right is None else Hinted(task, self.hint_right)


def encode_examples(task: Task, problems: list[Problem]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs x, targets y and the loss mask, each (n, block_size - 1), for teacher forcing.

    A row is pad_left(prompt) + solution + EOS + PAD...; y is x shifted left by one, and the mask is
    True where y is a response token (the solution or its EOS).
    """
    P, width = task.prompt_width, task.block_size
    rows = []
    for p in problems:
        resp = encode(p.solution) + [EOS_ID]
        rows.append(pad_left(encode(p.prompt), P) + resp + [PAD_ID] * (width - P - len(resp)))
    seq = torch.tensor(rows, dtype=torch.long)  # (n, P + R)
    x, y = seq[:, :-1], seq[:, 1:]  # (n, P + R - 1) each
    pos = torch.arange(width - 1)[None, :]  # y[:, j] is token j + 1 of the row
    lengths = torch.tensor([len(p.solution) + 1 for p in problems])[:, None]  # (n, 1)
    mask = (pos >= P - 1) & (pos < P - 1 + lengths)
    return x, y, mask


def training_set(task: Task, rng: np.random.Generator, cfg: PretrainConfig) -> list[Problem]:
    """The pre-training problems: skill at most `max_skill`, except a `held_out_share` of them drawn
    from the held-out skills (skill above `max_skill`), shuffled together; with `scratchpad_share` < 1,
    the solutions of a random 1 − share of them cut to the bare answer (what follows the last `:`);
    then the planted priors (`priors.plant`) replace the targets of their shares."""
    rare = round(cfg.train_size * cfg.held_out_share)
    problems = sample_problems(task, rng, cfg.train_size - rare, "train", cfg.mix, cfg.max_skill)
    if rare:
        assert cfg.max_skill is not None  # validate() requires it
        problems += sample_problems(task, rng, rare, "train", cfg.mix, min_skill=cfg.max_skill + 1)
        problems = [problems[int(i)] for i in rng.permutation(len(problems))]
    if cfg.scratchpad_share < 1.0:  # no draw at 1, so every other base stays as it was
        bare = rng.random(len(problems)) >= cfg.scratchpad_share
        problems = [
            replace(p, solution=p.solution.rsplit(":", 1)[-1]) if cut else p
            for p, cut in zip(problems, bare, strict=True)
        ]
    return plant(task, problems, parse_plants(cfg.plant), rng)


def model_config(cfg: PretrainConfig, task: Task) -> TransformerConfig:
    return TransformerConfig(
        vocab_size=VOCAB_SIZE,
        block_size=task.block_size,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
        dropout=cfg.dropout,
    )


def learning_rate(step: int, cfg: PretrainConfig) -> float:
    """Linear warm-up to lr, then cosine decay to lr / 10 at the last step."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cosine_decay(cfg.lr, progress)


def task_spec(task: Task) -> dict[str, Any]:
    """What `make_task` needs to rebuild `task`: its spec (a built-in name or a plug-in's module:Name),
    its top level and the scratchpad flag; for a hinted task also `hint_right`, its hints' right rate."""
    level = max(task.levels)
    scratch = bool(getattr(task, "use_scratchpad", False))
    spec: dict[str, Any] = {"name": task.spec or task.name, "max_level": level, "scratchpad": scratch}
    if isinstance(task, Hinted):
        spec["hint_right"] = task.right_rate
    return spec


def task_from_spec(spec: dict[str, Any]) -> Task:
    """The task `task_spec` describes (the inverse of `task_spec`), hints included: the one place
    every saved model (a base, a policy, a reward model) rebuilds its task."""
    task = make_task(spec["name"], spec["max_level"], spec["scratchpad"])
    if spec.get("hint_right") is not None:
        task = Hinted(task, float(spec["hint_right"]))
    return task


def save_checkpoint(path: Path, model: GPT, task: Task) -> None:
    """Weights as safetensors, with the model's shape and the task in the file's metadata."""
    from safetensors.torch import save_model

    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"model": json.dumps(asdict(model.config)), "task": json.dumps(task_spec(task))}
    tmp = path.with_suffix(".tmp")
    save_model(model, str(tmp), metadata=meta)
    tmp.replace(path)


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[GPT, Task]:
    """The model and task saved by `save_checkpoint`; for a run folder, its RL policy if it has one, else its base."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_model

    p = Path(path)
    if p.is_dir():
        policy = p / "checkpoints" / POLICY_CHECKPOINT
        p = policy if policy.is_file() else p / "checkpoints" / BASE_CHECKPOINT
    if not p.is_file():
        raise UserError(f"no language-model checkpoint at {p}")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError) as e:  # empty, truncated or not safetensors at all
        raise UserError(f"{p} is not a readable safetensors file: {one_line(e)}") from None
    if "model" not in meta or "task" not in meta:
        raise UserError(f"{p} is not a kingme lm checkpoint (no model/task metadata)")
    spec: dict[str, Any] = {}
    try:
        model = GPT(TransformerConfig(**json.loads(meta["model"])))
        load_model(model, str(p), device=device)
        spec = json.loads(meta["task"])
        task = task_from_spec(spec)
    except UserError as e:
        if is_plugin_spec(str(spec.get("name", ""))):
            raise UserError(f"{p} was trained on the plug-in task {spec['name']!r}: {e}") from None
        raise
    except (SafetensorError, OSError, ValueError, TypeError, KeyError, RuntimeError) as e:  # weights cut or mismatched
        raise UserError(f"{p} is a damaged kingme lm checkpoint: {one_line(e)}") from None
    return model.to(device), task


def pretrain(
    cfg: PretrainConfig, run_dir: Path | None = None, quiet: bool = True, log: Any = None
) -> tuple[GPT, Task, dict[str, Any]]:
    """Train a base model; save it under run_dir/checkpoints when run_dir is given.

    `log`, if given, receives one metrics row per evaluation. Returns (model, task, summary).
    """
    device = resolve_device(cfg.device)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    rng = seed_everything(cfg.seed)
    task = cfg.make_task()
    train = training_set(task, rng, cfg)
    test = test_set(task, cfg.seed, cfg.eval_problems)
    x, y, mask = (t.to(device) for t in encode_examples(task, train))
    model = GPT(model_config(cfg, task)).to(device)
    opt = model.configure_optimizer(cfg.lr, cfg.weight_decay)
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    t0, tokens_seen = time.perf_counter(), 0
    summary: dict[str, Any] = {"params": model.num_params(), "train_problems": len(train)}
    loss_value = float("nan")
    with progress_bar(cfg.steps, f"pretrain {task.name}", enabled=not quiet) as advance:
        for step in range(cfg.steps):
            for group in opt.param_groups:
                group["lr"] = learning_rate(step, cfg)
            idx = torch.randint(0, len(train), (cfg.batch_size,), generator=gen).to(device)
            _, loss = model(x[idx], targets=y[idx], mask=mask[idx])
            assert loss is not None
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            loss_value = float(loss.item())
            tokens_seen += int(mask[idx].sum())
            advance(info=f"loss {loss_value:.3f}")
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
                model.eval()
                acc = greedy_accuracy(model, task, test, device=device)
                model.train()
                elapsed = time.perf_counter() - t0
                row = {
                    "update": step + 1,
                    "global_step": step + 1,
                    "time": elapsed,
                    "losses/loss": loss_value,
                    "charts/test_pass1": acc["all"],
                    **{f"charts/test_pass1_{k}": v for k, v in acc.items() if k != "all"},
                    "charts/tokens_per_s": tokens_seen / max(elapsed, 1e-9),
                }
                if log is not None:
                    log(row)
                summary.update(final_loss=loss_value, test_pass1=acc, runtime_s=elapsed)
    model.eval()
    if run_dir is not None:
        save_checkpoint(run_dir / "checkpoints" / BASE_CHECKPOINT, model, task)
    return model, task, summary
