"""`kingme train gym:ENV_ID [options]`: PPO on a Gymnasium environment with discrete actions.

    kingme train gym:CartPole-v1                       # a run folder runs/ppo-CartPole-v1-<time>
    kingme train gym:CartPole-v1 --run-name cp --seed 2 --total-steps 50000
    kingme train gym:CartPole-v1 --resume cp           # continue runs/cp from its last checkpoint
    kingme train gym:FrozenLake-v1 --env-kwargs map_name=8x8 is_slippery=False
    kingme train gym:my_envs:Maze-v0                   # imports my_envs.py from the current folder
    kingme train gym:Acrobot-v1 --target-return -100   # stop once the 20-episode mean reaches -100

Every GymPPOConfig field is an option (`--help` lists them). The run folder (kingme.runs) gets
config.json before training starts, then metrics.jsonl, TensorBoard events, checkpoints/ and, at
the end, report.md with the learning curve. `--resume` reads the config back; only --total-steps,
--device, --torch-threads and --quiet may be given with it. When the newest checkpoint cannot be
read, the run resumes from the newest one that can, and says so in one line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kingme.common import UserError, one_line, resolve_device
from kingme.config import Parser, add_config_args, config_from_args
from kingme.envs.gym_adapter import parse_env_kwargs
from kingme.ppo.checkpoint import Checkpoint, load_resumable
from kingme.ppo.config import GymPPOConfig
from kingme.runs import CONFIG, add_run_options, check_resume_options, create_run, find_run, read_config, write_config

RESUME_OVERRIDES = ("total_steps", "device", "torch_threads")


def check_train_target(run: Path, target: str) -> None:
    """Refuse to resume `run` with `kingme train TARGET` unless it is such a run.

    The saved config's `env` is the target that trained it (`gym:ENV_ID` or `checkers`), so a run
    of another target is named with the command that resumes it, instead of a list of config
    fields the wrong config class does not know."""
    path = run / CONFIG
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"cannot resume {run}: {path} is not readable JSON ({one_line(e)})") from None
    env = data.get("env") if isinstance(data, dict) else None
    if env == target:
        return
    if isinstance(env, str) and (env == "checkers" or env.startswith("gym:")):
        raise UserError(
            f"{run} holds a `kingme train {env}` run, not a `kingme train {target}` one: "
            f"resume it with `kingme train {env} --resume {run}`"
        )
    raise UserError(f"{run} holds no `kingme train` run (its {CONFIG} names no training target): nothing to resume")


def say_resuming(run: Path, ckpt: Checkpoint) -> None:
    """One line on stdout: the run and the update and step count its training continues from."""
    update, steps = int(ckpt.state.get("update", 0)), int(ckpt.state.get("global_step", 0))
    sys.stdout.write(f"resuming {run} from update {update} ({steps} steps)\n")
    sys.stdout.flush()


def train_gym_main(env_id: str, argv: list[str]) -> int:
    parser = Parser(
        prog=f"kingme train gym:{env_id}",
        description="Train PPO on a Gymnasium environment with a Discrete action space.",
    )
    add_config_args(parser, GymPPOConfig, skip=("env", "env_kwargs"))
    parser.add_argument(
        "--env-kwargs",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="Keyword arguments for gymnasium.make (values are Python literals or strings), e.g. map_name=8x8.",
    )
    prefix = f"ppo-{env_id.replace('/', '_').replace(':', '_')}"
    add_run_options(parser, prefix)
    ns = parser.parse_args(argv)
    if not env_id:
        raise UserError("no environment id after gym: (e.g. gym:CartPole-v1)")
    env_name = f"gym:{env_id}"

    if ns.resume:
        run_dir = find_run(ns.runs_dir, ns.resume)
        given = check_resume_options(argv, RESUME_OVERRIDES)
        check_train_target(run_dir, env_name)
        cfg = read_config(run_dir, GymPPOConfig)
        for name in given:
            setattr(cfg, name, getattr(ns, name))
        cfg.validate()
        ckpt = load_resumable(run_dir, warn=lambda _: None)  # no readable checkpoint fails here, before any write
    else:
        parse_env_kwargs(ns.env_kwargs)  # a malformed pair fails before anything is built
        cfg = config_from_args(GymPPOConfig, ns, env=env_name, env_kwargs=tuple(ns.env_kwargs))
    resolve_device(cfg.device)  # a missing GPU is reported before the run folder is touched

    from kingme.ppo.eval import StopAtReturn, gym_env
    from kingme.ppo.report import write_report
    from kingme.ppo.train import train

    env = gym_env(cfg)
    if ns.resume and not ns.quiet:
        say_resuming(run_dir, ckpt)
    callbacks = [] if cfg.target_return is None else [StopAtReturn(cfg.target_return, cfg.return_window)]
    try:
        if not ns.resume:
            run_dir = create_run(ns.runs_dir, ns.run_name, prefix)
        write_config(run_dir, cfg)
        result = train(cfg, env, run_dir=run_dir, resume=bool(ns.resume), callbacks=callbacks, progress=not ns.quiet)
    finally:
        env.close()
    report = write_report(run_dir, env_name, cfg.return_window)
    if ns.quiet:
        sys.stdout.write(f"{run_dir}\n")
    else:
        last = result.history[-1] if result.history else {}
        ret = last.get("charts/recent_return")
        ret_text = f"{ret:.1f}" if ret is not None else "-"
        reached = ""
        if callbacks and callbacks[0].hit is not None:
            reached = f"target return {cfg.target_return:g} reached; "
        sys.stdout.write(
            f"done: {reached}{result.global_step} steps, {result.updates} updates; "
            f"mean return of the last {cfg.return_window} episodes {ret_text}; run folder {run_dir} ({report.name})\n"
        )
    return 0
