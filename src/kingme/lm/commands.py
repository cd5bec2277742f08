"""`kingme lm ...`: RL for reasoning on a tiny language model trained here.

    kingme lm pretrain TASK [--max-level 3 --scratchpad --mix 0.2,0.3,0.5 --max-skill K --steps N ...]
    kingme lm train BASE [--algo grpo|dr_grpo|rloo|reinforce|ppo --updates N --reward SPEC --monitors SPEC,...]
    kingme lm train --resume RUN [--updates N --max-minutes M --device D --torch-threads T]
    kingme lm eval RUN [--k 1,8,64 --samples 64 --problems 100]
    kingme lm sample RUN PROMPT [--n 5 --temperature 1.0 --top-k K]
    kingme lm reward-model BASE [--pairs N --flip P --agreement-bias B ...]

pretrain and train write a run folder (runs/lm-pretrain-... or runs/lm-train-...) holding
config.json, metrics.jsonl, TensorBoard events, summary.json and checkpoints/*.safetensors; a train
run also report.md with curves.png, samples/update_NNNNNN.jsonl (a few responses at each evaluation)
and a resume checkpoint at each evaluation (`--resume RUN` continues it).
reward-model fits a reward model to a simulated labeller's preferences over BASE's responses
(runs/lm-reward-model-..., checkpoints/reward_model.safetensors; train against it with
--reward rm:RUN; docs/reward-models.md).
BASE and RUN are run folders (or .safetensors files); a train run's folder gives its RL policy.
TASK, --reward and --monitors take a built-in name or a plug-in module:Name from the current folder
(docs/reasoning.md, "Plug-ins").
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kingme.common import UserError, atomic_write_json, resolve_device
from kingme.config import Parser, add_config_args, arg, config_from_args, config_to_dict, require
from kingme.lm import reward_model
from kingme.lm.monitors import load_monitor, monitor_label, monitor_stats
from kingme.lm.plugins import probe, probe_texts
from kingme.lm.pretrain import PretrainConfig, load_checkpoint, pretrain
from kingme.lm.report import write_train_report
from kingme.lm.reward_model import RewardModelConfig
from kingme.lm.rewards import load_reward, score_batch
from kingme.lm.rl import RLConfig, train
from kingme.lm.tasks import Split, Task, mix_weights, sample_problems
from kingme.runs import add_run_options, check_resume_options, create_run, find_run, read_config, write_config

SUBCOMMANDS = ("pretrain", "train", "eval", "sample", "reward-model")


@dataclass
class LMEvalConfig:
    """`kingme lm eval RUN`: pass@k (unbiased estimator, Chen et al. 2021) on the held-out test split."""

    k: tuple[int, ...] = arg((1, 8, 64), "The k of pass@k, comma-separated.")
    samples: int = arg(64, "Samples per problem (n >= the largest k).")
    problems: int = arg(100, "Distinct problems scored.")
    split: Split = arg("test", "The split the problems come from: test (held out) or train.")
    temperature: float = arg(1.0, "Sampling temperature.")
    top_k: int | None = arg(None, "Sample from the k most likely tokens only (none = all).")
    seed: int = arg(1, "Seed for the problems and the samples.")
    device: str = arg("auto", "Torch device: auto, cpu or cuda[:N].")

    def validate(self) -> None:
        require(len(self.k) >= 1 and min(self.k) >= 1, f"--k needs positive integers, got {self.k}")
        require(self.samples >= max(self.k), f"--samples {self.samples} must be at least the largest k {max(self.k)}")
        require(self.problems >= 1, f"--problems must be at least 1, got {self.problems}")
        require(self.temperature > 0, f"--temperature must be positive, got {self.temperature}")
        require(self.top_k is None or self.top_k >= 1, f"--top-k must be at least 1, got {self.top_k}")


@dataclass
class SampleConfig:
    """`kingme lm sample RUN PROMPT`: responses to one prompt, each with the verifier's verdict, the
    scratchpad's step marks and the exploits it used."""

    n: int = arg(5, "Responses to sample.")
    temperature: float = arg(1.0, "Sampling temperature (0 = greedy).")
    top_k: int | None = arg(None, "Sample from the k most likely tokens only (none = all).")
    seed: int = arg(1, "Seed for the samples.")
    device: str = arg("auto", "Torch device: auto, cpu or cuda[:N].")

    def validate(self) -> None:
        require(self.n >= 1, f"--n must be at least 1, got {self.n}")
        require(self.temperature >= 0, f"--temperature must be >= 0, got {self.temperature}")
        require(self.top_k is None or self.top_k >= 1, f"--top-k must be at least 1, got {self.top_k}")


def _parser(prog: str, cls: type, skip: tuple[str, ...] = ()) -> Parser:
    p = Parser(prog=prog, description=(cls.__doc__ or "").strip())
    add_config_args(p, cls, skip=skip)
    return p


class _Log:
    """Rows to metrics.jsonl and TensorBoard (`MetricsLogger`), and text to TensorBoard (`text`)."""

    def __init__(self, run_dir: Any, quiet: bool, resume_update: int | None = None) -> None:
        from kingme.runs.logger import MetricsLogger

        self.logger = MetricsLogger(run_dir, resume_update=resume_update, resume_step=resume_update or 0)
        self.quiet = quiet

    def __call__(self, row: dict[str, Any]) -> None:
        self.logger.log(row)
        if not self.quiet and "charts/test_pass1" in row:
            print(f"  {row['update']:>6}  test pass@1 {row['charts/test_pass1']:.3f}", flush=True)

    def text(self, tag: str, text: str, step: int) -> None:
        self.logger.text(tag, text, step)

    def close(self) -> None:
        self.logger.close()


def _logged(
    run_dir: Any, quiet: bool, resume_update: int | None = None
) -> tuple[Callable[[dict[str, Any]], None], Callable[[], None]]:
    log = _Log(run_dir, quiet, resume_update)
    return log, log.close


def pretrain_main(argv: list[str]) -> int:
    p = _parser("kingme lm pretrain", PretrainConfig, skip=("task",))
    p.add_argument("task", help="The task to pre-train on: addition, path, countdown, or a plug-in module:Name.")
    add_run_options(p, "lm-pretrain", resume=False)
    ns = p.parse_args(argv)
    cfg = config_from_args(PretrainConfig, ns, task=ns.task)
    run_dir = create_run(ns.runs_dir, ns.run_name, "lm-pretrain")
    write_config(run_dir, cfg)
    log, close = _logged(run_dir, ns.quiet)
    try:
        _, task, summary = pretrain(cfg, run_dir, quiet=ns.quiet, log=log)
    finally:
        close()
    atomic_write_json(run_dir / "summary.json", summary)
    acc = summary["test_pass1"]
    levels = ", ".join(f"{k.removeprefix('level_')}: {v:.2f}" for k, v in acc.items() if k != "all")
    print(f"{task.name}: test pass@1 {acc['all']:.3f} (by level {levels}), {summary['runtime_s']:.0f} s")
    print(f"run: {run_dir}")
    return 0


def train_main(argv: list[str]) -> int:
    from kingme.lm.rl import RESUME_OVERRIDES, load_resume_state

    p = _parser("kingme lm train", RLConfig, skip=("base",))
    p.add_argument(
        "base",
        nargs="?",
        default=None,
        help="The base model: a `kingme lm pretrain` run folder or its .safetensors file (none with --resume).",
    )
    add_run_options(p, "lm-train")
    ns = p.parse_args(argv)
    if ns.resume:
        if ns.base is not None:
            raise UserError("--resume continues with the run's own base: drop BASE")
        run_dir = find_run(ns.runs_dir, ns.resume)
        given = check_resume_options(argv, RESUME_OVERRIDES)
        cfg = read_config(run_dir, RLConfig)
        for name in given:
            setattr(cfg, name, getattr(ns, name))
        cfg.validate()
        device = resolve_device(cfg.device)
        _, _, ckpt = load_resume_state(run_dir, device)  # a folder that is not an lm train run fails here
        update = int(ckpt.state.get("update", 0))
        if not ns.quiet:
            print(f"resuming {run_dir} from update {update}", flush=True)
        write_config(run_dir, cfg)
        log, close = _logged(run_dir, ns.quiet, resume_update=update)
        try:
            _, summary = train(cfg, run_dir, quiet=ns.quiet, log=log, resume=True)
        finally:
            close()
        return _train_done(run_dir, cfg, summary)
    if ns.base is None:
        raise UserError(
            "give the base model (a `kingme lm pretrain` run folder or its .safetensors file) or --resume RUN"
        )
    cfg = config_from_args(RLConfig, ns, base=ns.base).resolved()
    base = load_checkpoint(cfg.base, resolve_device(cfg.device))  # a missing base fails before the folder exists
    reward = load_reward(cfg.reward, base[1], resolve_device(cfg.device))  # so does a reward that cannot be built
    prompts, responses = probe_texts(base[1])  # or whose score fails on a probe
    probe(cfg.reward, "reward", lambda: score_batch(reward, prompts, responses))
    for spec in (*cfg.monitors, *cfg.penalty):
        monitor = load_monitor(spec, base[1])  # or a monitor
        probe(spec, "monitor", lambda m=monitor, s=spec: monitor_stats(monitor_label(s), m, prompts, responses))
    mix_weights(base[1], cfg.mix)  # and a --mix that does not fit the base's task
    run_dir = create_run(ns.runs_dir, ns.run_name, "lm-train")
    write_config(run_dir, cfg)
    log, close = _logged(run_dir, ns.quiet)
    try:
        _, summary = train(cfg, run_dir, quiet=ns.quiet, log=log, base=base)
    finally:
        close()
    return _train_done(run_dir, cfg, summary)


def _train_done(run_dir: Any, cfg: RLConfig, summary: dict[str, Any]) -> int:
    atomic_write_json(run_dir / "summary.json", summary)
    write_train_report(run_dir, cfg, summary)
    start, end = summary["test_pass1_start"]["all"], summary["test_pass1_end"]["all"]
    print(f"{cfg.algo}: test pass@1 {start:.3f} -> {end:.3f}, {summary['runtime_s']:.0f} s")
    print(f"run: {run_dir}")
    return 0


def eval_main(argv: list[str]) -> int:
    from kingme.common import seed_everything
    from kingme.lm.evaluate import pass_at_ks

    p = _parser("kingme lm eval", LMEvalConfig)
    p.add_argument("run", help="A run folder (its RL policy, else its base model) or a .safetensors file.")
    p.add_argument("--json", action="store_true", help="Print the result as JSON.")
    ns = p.parse_args(argv)
    cfg = config_from_args(LMEvalConfig, ns)
    device = resolve_device(cfg.device)
    model, task = load_checkpoint(ns.run, device)
    seed_everything(cfg.seed)
    problems = sample_problems(task, np.random.default_rng(cfg.seed + 10_000), cfg.problems, cfg.split, distinct=True)
    result = pass_at_ks(model, task, problems, cfg.k, cfg.samples, cfg.temperature, cfg.top_k, device=device)
    if ns.json:
        print(json.dumps({"run": ns.run, "config": config_to_dict(cfg), "pass_at_k": result}))
    else:
        print(f"{task.name}, {cfg.problems} {cfg.split} problems, {cfg.samples} samples each (T={cfg.temperature}):")
        for k, v in result.items():
            print(f"  pass@{k:<4} {v:.3f}")
    return 0


def sample_main(argv: list[str]) -> int:
    from kingme.common import seed_everything
    from kingme.lm.sampling import decode_responses, encode_prompts, generate

    p = _parser("kingme lm sample", SampleConfig)
    p.add_argument("run", help="A run folder (its RL policy, else its base model) or a .safetensors file.")
    p.add_argument("prompt", help="The prompt, in the task's format (e.g. 47+85=).")
    ns = p.parse_args(argv)
    cfg = config_from_args(SampleConfig, ns)
    device = resolve_device(cfg.device)
    model, task = load_checkpoint(ns.run, device)
    seed_everything(cfg.seed)
    prompts = encode_prompts([ns.prompt] * cfg.n, task.prompt_width, device)  # UserError if too long or odd chars
    gen = generate(model, prompts, task.response_width, cfg.temperature, cfg.top_k)
    for text in decode_responses(gen):
        print(sample_line(task, ns.prompt, text))
    return 0


def sample_line(task: Task, prompt: str, response: str) -> str:
    """One response as `kingme lm sample` prints it: the text, the verifier's verdict, the scratchpad's
    marks (steps right, whether the answer follows) and the exploits it used."""
    from kingme.lm.exploits import task_exploits

    parts = [f"{prompt}{response}", "correct" if task.verify(prompt, response) else "wrong"]
    marks = task.check_steps(prompt, response)
    if marks is not None and marks.has_steps:
        follows = "answer follows" if marks.follows else "answer does not follow"
        parts.append(f"steps {sum(marks.marks)}/{max(len(marks.marks), marks.expected)} right, {follows}")
    used = [e.name for e in task_exploits(task) if e.used(prompt, response)]
    if used:
        parts.append("used " + ", ".join(used))
    return "    ".join(parts)


USAGE = f"""usage: kingme lm {{{",".join(SUBCOMMANDS)}}} ... (kingme lm COMMAND --help lists a command's options)"""


def help_text() -> str:
    """`kingme lm --help`: the module's overview, then every subcommand's options."""
    parts = [USAGE, "", (__doc__ or "").strip()]
    for prog, cls, skip in (
        ("pretrain", PretrainConfig, ("task",)),
        ("train", RLConfig, ("base",)),
        ("eval", LMEvalConfig, ()),
        ("sample", SampleConfig, ()),
        ("reward-model", RewardModelConfig, ("base",)),
    ):
        options = _parser(f"kingme lm {prog}", cls, skip)._actions
        flags = ", ".join(a.option_strings[0] for a in options if a.option_strings and a.dest != "help")
        parts += ["", f"kingme lm {prog} options: {flags}"]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(help_text())
        return 0
    sub, rest = argv[0], argv[1:]
    handlers = {
        "pretrain": pretrain_main,
        "train": train_main,
        "eval": eval_main,
        "sample": sample_main,
        "reward-model": reward_model.main,
    }
    if sub not in handlers:
        raise UserError(f"unknown lm command {sub!r}: expected one of {', '.join(SUBCOMMANDS)}")
    return handlers[sub](rest)
