"""`kingme train checkers [options]`."""

from __future__ import annotations

from kingme.common import UserError, make_run_dir
from kingme.config import Parser, add_config_args, config_from_args, config_from_dict


def train_checkers_main(argv: list[str]) -> int:
    from pathlib import Path

    from kingme.selfplay.train import SelfPlayConfig, train_checkers

    p = Parser(prog="kingme train checkers", description="Train a checkers policy by self-play PPO.")
    add_config_args(p, SelfPlayConfig, skip=("env",))
    p.add_argument("--run-name", default=None, help="run folder name under --runs-dir (default: a timestamp)")
    p.add_argument("--runs-dir", default="runs", help="where run folders go")
    p.add_argument("--resume", default=None, metavar="RUN", help="continue the run in this folder (or runs/RUN)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or evaluation lines")
    a = p.parse_args(argv)
    if a.resume:
        import json

        run = Path(a.resume)
        if not run.exists():
            run = Path(a.runs_dir) / a.resume
        cfg_path = run / "config.json"
        if not cfg_path.exists():
            raise UserError(f"cannot resume {a.resume}: no config.json in {run}")
        try:
            cfg = config_from_dict(SelfPlayConfig, json.loads(cfg_path.read_text()))
        except (ValueError, TypeError) as e:
            raise UserError(f"cannot resume {a.resume}: bad config.json ({e})") from None
        cfg.validate()
        train_checkers(cfg, run, resume=True, quiet=a.quiet)
        return 0
    cfg = config_from_args(SelfPlayConfig, a)
    run = make_run_dir(a.runs_dir, a.run_name, "checkers")
    train_checkers(cfg, run, quiet=a.quiet)
    print(f"run folder: {run} (report.md, learning_curves.png, best_model.safetensors)")
    return 0
