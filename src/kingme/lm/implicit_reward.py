"""A reward model that reads the base's own predictions: the log-ratio (implicit) reward.

A scalar head at the EOS (`kingme.lm.reward_model`) has to learn from preferences alone what makes a
response right; on this project's tasks it stayed at chance (docs/reward-models.md), although the
base model already knows much of it: it writes valid paths half the time, so its next-token
probabilities already separate an edge of the graph from a non-edge. This reward model is a copy of
the base language model π_θ, started at the base π_ref, whose reward is the log-ratio

    r(q, o) = β · [log π_θ(o | q) − log π_ref(o | q)]      (the response's tokens and its EOS)

(Rafailov et al. 2023's implicit reward). It is fitted to the same preference pairs by the same
Bradley-Terry cross-entropy, −mean log σ(r(a) − r(b)) (a chosen), so at the start every response
scores 0 and what it learns is what the preferences say, read through the base's features.
`trainable` picks how much of the copy is fitted: "all" its weights, or "top" only the last block,
the final layer norm and the language-model head (a smaller proxy on the same features).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from kingme.common import UserError
from kingme.lm.labellers import Preference
from kingme.lm.reward_model import bt_loss, model_gold_agreement, pair_accuracy
from kingme.lm.rewards import register_reward
from kingme.lm.tasks import Task
from kingme.lm.vocab import EOS_ID, PAD_ID, encode, pad_left
from kingme.transformer import GPT

TRAINABLE = ("all", "top")


def encode_responses(
    task: Task, prompts: Sequence[str], responses: Sequence[str]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs x, targets y and the mask of the response's tokens, each (B, block_size − 1), as the base
    was pre-trained (`pretrain.encode_examples`): pad_left(prompt) + response + EOS (when it fits) + PAD."""
    P, width = task.prompt_width, task.block_size
    rows, lengths = [], []
    for q, o in zip(prompts, responses, strict=True):
        resp = encode(o)[: width - P]
        resp = resp + [EOS_ID] if len(resp) < width - P else resp  # a response cut at the width has no EOS
        rows.append(pad_left(encode(q), P) + resp + [PAD_ID] * (width - P - len(resp)))
        lengths.append(len(resp))
    seq = torch.tensor(rows, dtype=torch.long).view(len(rows), width)  # (B, P + R)
    x, y = seq[:, :-1], seq[:, 1:]  # (B, P + R − 1) each
    pos = torch.arange(width - 1)[None, :]  # y[:, j] is token j + 1 of the row
    n = torch.tensor(lengths)[:, None]  # (B, 1)
    return x, y, (pos >= P - 1) & (pos < P - 1 + n)


def sequence_logprob(model: GPT, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log π(o | q) summed over the masked (response) tokens: (B,)."""
    logits, _ = model(x)  # (B, L, V)
    logp = F.log_softmax(logits, dim=-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)  # (B, L)
    return (logp * mask).sum(dim=1)


class ImplicitRewardModel(nn.Module):
    """r(q, o) = β [log π_θ(o | q) − log π_ref(o | q)]: π_θ a trainable copy of the base, π_ref the frozen base."""

    def __init__(self, base: GPT, task: Task, beta: float = 1.0, trainable: str = "all") -> None:
        super().__init__()
        if trainable not in TRAINABLE:
            raise ValueError(f"trainable must be one of {TRAINABLE}, got {trainable!r}")
        self.task, self.beta, self.trainable = task, beta, trainable
        self.shift, self.scale = 0.0, 1.0  # score() gives (r − shift) / scale (`normalise`)
        self.policy = copy.deepcopy(base).eval()
        self.reference = copy.deepcopy(base).eval()
        for p in self.reference.parameters():
            p.requires_grad_(False)
        if trainable == "top":
            top = self.policy.config.n_layer - 1
            for name, p in self.policy.named_parameters():
                p.requires_grad_(name.startswith((f"transformer.blocks.{top}.", "transformer.ln_f")))

    def trainable_params(self) -> int:
        return sum(p.numel() for p in self.policy.parameters() if p.requires_grad)

    def forward(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """Rewards (B,) given the reference's log-probabilities ref (B,) of the same responses."""
        return self.beta * (sequence_logprob(self.policy, x, y, mask) - ref)

    @torch.no_grad()
    def reference_logprob(
        self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, batch: int = 1024
    ) -> torch.Tensor:
        return torch.cat([sequence_logprob(self.reference, x[i : i + batch], y[i : i + batch], mask[i : i + batch])
                          for i in range(0, len(x), batch)])  # fmt: skip

    @torch.no_grad()
    def score(
        self, prompts: Sequence[str], responses: Sequence[str], batch: int = 1024, ref: torch.Tensor | None = None
    ) -> torch.Tensor:
        """r(q, o) of each pair, (B,); `ref` (B,): the reference's log-probabilities if already known
        (`reference_scores`), which several proxies of one base share."""
        x, y, m = encode_responses(self.task, prompts, responses)
        ref = self.reference_logprob(x, y, m, batch) if ref is None else ref
        out = [self(x[i : i + batch], y[i : i + batch], m[i : i + batch], ref[i : i + batch])
               for i in range(0, len(x), batch)]  # fmt: skip
        return (torch.cat(out) - self.shift) / self.scale if out else torch.zeros(0)

    @torch.no_grad()
    def reference_scores(self, prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
        """log π_ref(o | q) of each pair, (B,)."""
        return self.reference_logprob(*encode_responses(self.task, prompts, responses))

    def normalise(self, prompts: Sequence[str], responses: Sequence[str], ref: torch.Tensor | None = None) -> None:
        """Make score() have mean 0 and standard deviation 1 on these responses (as Gao et al. normalise)."""
        self.shift, self.scale = 0.0, 1.0
        r = self.score(prompts, responses, ref=ref)
        self.shift, self.scale = float(r.mean()), float(r.std()) or 1.0


def evaluate(model: ImplicitRewardModel, pairs: Sequence[Preference]) -> dict[str, float]:
    """Pair accuracy and gold agreement on `pairs` (as `reward_model.evaluate_pairs`)."""
    prompts = [p.prompt for p in pairs]
    r_c = model.score(prompts, [p.chosen for p in pairs])
    r_r = model.score(prompts, [p.rejected for p in pairs])
    return {"pair_accuracy": pair_accuracy(r_c, r_r), "gold_agreement": model_gold_agreement(pairs, r_c, r_r)}


def fit_implicit(
    model: ImplicitRewardModel,
    train_pairs: Sequence[Preference],
    steps: int,
    lr: float = 3e-4,
    batch_size: int = 64,
    seed: int = 1,
    eval_pairs: Sequence[Preference] = (),
    eval_every: int = 0,
) -> dict[str, Any]:
    """Fit π_θ by the Bradley-Terry loss on the pairs (Adam, constant lr, gradient norm clipped at 1);
    the reference's log-probabilities are computed once. Returns a summary (held-out figures if given)."""
    prompts = [p.prompt for p in train_pairs]
    xc, yc, mc = encode_responses(model.task, prompts, [p.chosen for p in train_pairs])
    xr, yr, mr = encode_responses(model.task, prompts, [p.rejected for p in train_pairs])
    ref_c, ref_r = model.reference_logprob(xc, yc, mc), model.reference_logprob(xr, yr, mr)
    params = [p for p in model.policy.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    t0, curve = time.perf_counter(), []
    model.policy.train()
    for step in range(steps):
        idx = torch.randint(0, len(train_pairs), (batch_size,), generator=gen)
        x, y, m = torch.cat([xc[idx], xr[idx]]), torch.cat([yc[idx], yr[idx]]), torch.cat([mc[idx], mr[idx]])
        r = model(x, y, m, torch.cat([ref_c[idx], ref_r[idx]]))  # (2B,): chosen then rejected
        loss = bt_loss(*r.chunk(2))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if eval_every and eval_pairs and (step + 1) % eval_every == 0:
            model.policy.eval()
            curve.append((step + 1, evaluate(model, eval_pairs)["gold_agreement"]))
            model.policy.train()
    model.policy.eval()
    out: dict[str, Any] = {"params": model.trainable_params(), "runtime_s": time.perf_counter() - t0, "curve": curve}
    if eval_pairs:
        out["eval"] = evaluate(model, eval_pairs)
    return out


# ---------------------------------------------------------------------------------------------
# Checkpoints and the reward plug-in `irm:PATH`
# ---------------------------------------------------------------------------------------------

KIND = "kingme-implicit-reward-model"


def save_implicit(path: Path, model: ImplicitRewardModel) -> None:
    """Both GPTs' weights as safetensors, with the shape, the task, β and the normalisation in the metadata."""
    from safetensors.torch import save_model

    from kingme.lm.pretrain import task_spec

    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "kind": KIND,
        "model": json.dumps(asdict(model.policy.config)),
        "task": json.dumps(task_spec(model.task)),
        "beta": repr(model.beta),
        "trainable": model.trainable,
        "shift": repr(model.shift),
        "scale": repr(model.scale),
    }
    save_model(model, str(path), metadata=meta)


def load_implicit(path: str | Path, device: str = "cpu") -> ImplicitRewardModel:
    """The model `save_implicit` wrote; a one-line `UserError` for a missing or foreign file."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_model

    from kingme.lm.pretrain import task_from_spec
    from kingme.transformer import TransformerConfig

    p = Path(path)
    if not p.is_file():
        raise UserError(f"no implicit reward model at {p}")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError) as e:
        raise UserError(f"{p} is not a readable safetensors file: {e}") from None
    if meta.get("kind") != KIND:
        raise UserError(f"{p} is not a kingme implicit reward model (no {KIND} metadata)")
    spec = json.loads(meta["task"])
    task = task_from_spec(spec)
    model = ImplicitRewardModel(GPT(TransformerConfig(**json.loads(meta["model"]))), task, float(meta["beta"]),
                                meta["trainable"])  # fmt: skip
    load_model(model, str(p), device=device)
    model.shift, model.scale = float(meta["shift"]), float(meta["scale"])
    return model.eval()


class ImplicitReward:
    """A fitted implicit reward model as a `kingme.lm.rewards.Reward`."""

    def __init__(self, model: ImplicitRewardModel) -> None:
        self.model = model

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        return [float(r) for r in self.model.score(prompts, responses)]


def irm_reward(task: Task, path: str, device: str = "cpu") -> ImplicitReward:
    """The factory of `irm:PATH`: the model must have been fitted on the policy's task."""
    from kingme.lm.pretrain import task_spec

    model = load_implicit(path, device)
    if task_spec(model.task) != task_spec(task):
        raise UserError(
            f"the implicit reward model at {path} was fitted on {task_spec(model.task)}, not {task_spec(task)}"
        )
    return ImplicitReward(model)


register_reward("irm", irm_reward, "an implicit (log-ratio) reward model at PATH (`kingme.lm.implicit_reward`)",
                prefix=True)  # fmt: skip
