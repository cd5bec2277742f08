"""`kingme train checkers [options]`: self-play PPO for checkers in a run folder (kingme.runs).

    kingme train checkers --minutes 30 --run-name sp       # runs/sp
    kingme train checkers --resume sp --minutes 60         # continue runs/sp up to 60 minutes in all
    kingme train checkers --init-model policy:default --hidden-sizes 256,256 --anneal-lr   # fine-tune

`--resume` continues from the run's last checkpoint with its saved config; only the budget
(--minutes, --total-steps), --device, --torch-threads and --keep-models may change, any other option is
refused. `--keep-models 1048576` keeps a model file at 1, 2, 4, ... Mi learner steps (runs/NAME/models/).
"""

from __future__ import annotations

import sys

from kingme.common import resolve_device
from kingme.config import Parser, add_config_args, config_from_args
from kingme.runs import add_run_options, check_resume_options, create_run, find_run, read_config

RESUME_OVERRIDES = ("minutes", "total_steps", "device", "torch_threads", "keep_models")


def train_checkers_main(argv: list[str]) -> int:
    from kingme.selfplay.config import SelfPlayConfig
    from kingme.selfplay.train import train_checkers

    p = Parser(prog="kingme train checkers", description="Train a checkers policy by self-play PPO.")
    add_config_args(p, SelfPlayConfig, skip=("env",))
    add_run_options(p, "checkers")
    a = p.parse_args(argv)
    if a.resume:
        from kingme.ppo.checkpoint import load_resumable
        from kingme.ppo.commands import check_train_target, say_resuming

        run = find_run(a.runs_dir, a.resume)
        given = check_resume_options(argv, RESUME_OVERRIDES)
        check_train_target(run, "checkers")
        cfg = read_config(run, SelfPlayConfig)
        for name in given:
            setattr(cfg, name, getattr(a, name))
        cfg.validate()
        resolve_device(cfg.device)
        ckpt = load_resumable(run, warn=lambda _: None)  # no readable checkpoint fails here, before any write
        if not a.quiet:
            say_resuming(run, ckpt)
        resume = True
    else:
        cfg = config_from_args(SelfPlayConfig, a)
        resolve_device(cfg.device)
        cfg.initial_weights()  # an unreadable or mismatched --init-model fails here, before the run folder
        run = create_run(a.runs_dir, a.run_name, "checkers")
        resume = False
    train_checkers(cfg, run, resume=resume, quiet=a.quiet)
    if a.quiet:
        sys.stdout.write(f"{run}\n")
    else:
        sys.stdout.write(f"run folder: {run} (report.md, learning_curves.png, best_model.safetensors)\n")
    return 0


def distill_main(argv: list[str]) -> int:
    """`kingme distill [options]`: a small evaluation network from a self-play network's critic."""
    from kingme.selfplay.distill import MODEL_FILE, DistillConfig, distill, teacher_path

    p = Parser(
        prog="kingme distill",
        description="Distil a checkers network's critic into a small evaluation network for search:FILE.",
    )
    add_config_args(p, DistillConfig)
    add_run_options(p, "distill", resume=False)
    a = p.parse_args(argv)
    cfg = config_from_args(DistillConfig, a)
    teacher_path(cfg.model)  # a missing teacher fails here, before the run folder
    run = create_run(a.runs_dir, a.run_name, "distill")
    info = distill(cfg, run, quiet=a.quiet)
    m = info["metrics"]
    sys.stdout.write(
        f"{run / MODEL_FILE}: held-out MSE {m['holdout_mse']:.4f} (variance {m['holdout_target_var']:.4f}), "
        f"correlation {m['holdout_corr']:.4f}, pairs ordered alike {m['holdout_pair_agreement']:.4f}\n"
    )
    return 0
