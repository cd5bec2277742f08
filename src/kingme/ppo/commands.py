"""`kingme train gym:ENV_ID [options]`: PPO on a Gymnasium environment with discrete actions.

    kingme train gym:CartPole-v1                       # a run folder runs/ppo-CartPole-v1-<time>
    kingme train gym:CartPole-v1 --run-name cp --seed 2 --total-steps 50000
    kingme train gym:CartPole-v1 --resume cp           # continue runs/cp from its last checkpoint

Every PPOConfig field is an option (`--help` lists them). The resolved config is written to the run
folder as config.json before training starts. `--resume` reads it back; only --total-steps,
--device, --torch-threads and --quiet may be given with it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from kingme.common import UserError, atomic_write_json, make_run_dir, resolve_device
from kingme.config import Parser, add_config_args, config_from_args, config_from_dict, config_to_dict
from kingme.ppo.checkpoint import load_checkpoint
from kingme.ppo.config import PPOConfig

RESUME_OVERRIDES = ("total_steps", "device", "torch_threads")


def _given_options(argv: list[str]) -> set[str]:
    """The config fields named on the command line (`--gae-lambda 0.9`, `--no-clip-policy`)."""
    names = set()
    for token in argv:
        if token.startswith("--"):
            name = token[2:].split("=", 1)[0]
            name = name[3:] if name.startswith("no-") else name
            names.add(name.replace("-", "_"))
    return names


def train_gym_main(env_id: str, argv: list[str]) -> int:
    parser = Parser(
        prog=f"kingme train gym:{env_id}",
        description="Train PPO on a Gymnasium environment with a Discrete action space.",
    )
    add_config_args(parser, PPOConfig, skip=("env",))
    parser.add_argument("--run-name", default=None, help="Name of the run folder (default: ppo-ENV-TIME).")
    parser.add_argument("--runs-dir", default="runs", help="Folder that holds run folders (default: runs).")
    parser.add_argument(
        "--resume",
        default=None,
        metavar="RUN",
        help="Continue the run in folder RUN (a path, or a name under --runs-dir) from its last checkpoint.",
    )
    parser.add_argument("--quiet", action="store_true", help="No progress bar or summary.")
    ns = parser.parse_args(argv)
    if not env_id:
        raise UserError("no environment id after gym: (e.g. gym:CartPole-v1)")
    env_name = f"gym:{env_id}"

    if ns.resume:
        run_dir = Path(ns.resume)
        if not run_dir.is_dir():
            run_dir = Path(ns.runs_dir) / ns.resume
        if not (run_dir / "config.json").is_file():
            raise UserError(f"cannot resume {ns.resume!r}: no run folder with a config.json at {run_dir}")
        allowed = {*RESUME_OVERRIDES, "resume", "runs_dir", "quiet"}
        clash = sorted((_given_options(argv) & set(vars(ns))) - allowed)
        if clash:
            raise UserError(
                "--resume continues with the run's saved config; drop "
                + ", ".join("--" + c.replace("_", "-") for c in clash)
            )
        try:
            saved = json.loads((run_dir / "config.json").read_text())
            cfg = config_from_dict(PPOConfig, saved)
        except (ValueError, TypeError) as e:
            raise UserError(f"{run_dir / 'config.json'} is not a PPO config: {e}") from None
        if cfg.env != env_name:
            raise UserError(f"run {run_dir} trained on {cfg.env}, not {env_name}")
        for name in set(RESUME_OVERRIDES) & _given_options(argv):
            setattr(cfg, name, getattr(ns, name))
        cfg.validate()
        load_checkpoint(run_dir)  # a missing or damaged checkpoint fails here, before any write
    else:
        cfg = config_from_args(PPOConfig, ns, env=env_name)
        name = ns.run_name or f"ppo-{env_id.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
        run_dir = Path(ns.runs_dir) / name
        if (run_dir / "config.json").exists():
            raise UserError(
                f"run folder {run_dir} already exists: pick another --run-name or continue it with --resume {name}"
            )
    resolve_device(cfg.device)  # a missing GPU is reported before the run folder is touched

    from kingme.envs.gym_adapter import GymVecEnv
    from kingme.ppo.train import train

    env = GymVecEnv(env_id, cfg.num_envs)
    if not ns.resume:
        run_dir = make_run_dir(ns.runs_dir, name, prefix="ppo")
    atomic_write_json(run_dir / "config.json", config_to_dict(cfg))
    try:
        result = train(cfg, env, run_dir=run_dir, resume=bool(ns.resume), progress=not ns.quiet)
    finally:
        env.close()
    if not ns.quiet:
        last = result.history[-1] if result.history else {}
        ret = last.get("charts/recent_return")
        ret_text = f"{ret:.1f}" if ret is not None else "-"
        sys.stdout.write(
            f"done: {result.global_step} steps, {result.updates} updates; "
            f"mean return of the last {cfg.return_window} episodes {ret_text}; run folder {run_dir}\n"
        )
    return 0
