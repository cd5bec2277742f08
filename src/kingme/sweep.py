"""`kingme sweep ENV --grid FIELD=V1,V2 [--grid ...] [--seeds K] [--random N] [--backend serial|ray]`.

    kingme sweep gym:CartPole-v1 --grid learning_rate=1e-3,3e-3 --grid num_envs=8,16 --seeds 5
    kingme sweep gym:CartPole-v1 --grid learning_rate=3e-4,1e-3,3e-3,1e-2 --grid gae_lambda=0.9,0.95,1 \\
        --random 4 --seeds 5 --backend ray          # 4 of the 12 settings, drawn at random
    kingme sweep gym:CartPole-v1 --grid "hidden_sizes=64,64;128,128" --total-steps 20000

One PPO config (every PPOConfig option may be given; the rest are the experiments' defaults)
trained over the grid of the `--grid` fields' values (their Cartesian product, or `--random N`
settings drawn from it) and seeds 1..K. Each value goes through the config's own option parser
and `validate()`, so a bad value is one line that names the field. Values are comma-separated; a
tuple field (hidden_sizes) separates its settings with `;` instead.

A sweep is an experiment whose arms are the settings and whose runs are of the PPO kind
(kingme.experiments.ppo_runs): it runs on the experiments' harness (kingme.experiments.runner,
serial or each (setting, seed) a Ray task) and writes the same folder (kingme.runs): config.json
(this command's SweepConfig, the base options and every setting's full config), results.json,
metrics.jsonl, report.md with the table of final return, mean return and largest drop per setting
(means with 95% t-intervals over seeds, cut to the return's range where it has one:
kingme.stats.summarise), the learning curves and final_return.png (each setting's final return
with its interval).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

import numpy as np

from kingme.common import UserError, atomic_write_json, json_safe
from kingme.config import Parser, add_config_args, arg, config_to_dict, require
from kingme.experiments.base import Arm, Experiment, Results
from kingme.experiments.ppo_runs import PPO, make_env
from kingme.experiments.report import config_record, write_folder
from kingme.experiments.runner import print_outcome, run_experiment
from kingme.experiments.shared import RETURN_CURVE, RETURN_METRICS
from kingme.ppo.config import CARTPOLE_DEFAULTS, PPOConfig
from kingme.runs import add_run_options, create_run, given_options

# Set by the sweep itself: the positional environment, seeds 1..K, and what every experiment run
# gets (one CPU thread, no TensorBoard or checkpoints: kingme.experiments.ppo_runs.BASE).
FIXED = ("env", "seed", "device", "torch_threads", "tensorboard", "checkpoint_every", "keep_checkpoints")
RANKED_BY = "final_return"


@dataclass
class SweepConfig:
    env: str = arg("", "The environment: gym:ID, deepsea:N or grid:SHAPING (the positional argument).")
    grid: tuple[str, ...] = arg((), "The swept fields, one FIELD=V1,V2,... per --grid (repeat the option).")
    seeds: int = arg(3, "Seeds per setting, 1..K (at least 2, for an interval over seeds).")
    random: int = arg(0, "Train only this many settings drawn at random from the grid (0 = every setting).")
    sample_seed: int = arg(0, "Seed of the random draw of settings (--random).")
    backend: Literal["serial", "ray"] = arg(
        "serial", "serial: one run at a time; ray: each (setting, seed) a Ray task (pip install 'kingme[ray]')."
    )

    def validate(self) -> None:
        require(bool(self.grid), "a sweep needs at least one --grid FIELD=V1,V2,...")
        require(self.seeds >= 2, f"--seeds must be at least 2 (a 95% interval needs two), got {self.seeds}")
        require(self.random >= 0, f"--random must be >= 0, got {self.random}")


class _ValueParser(Parser):
    """The PPOConfig option parser, raising a UserError instead of exiting (to name the --grid entry)."""

    def error(self, message: str) -> NoReturn:
        raise UserError(message)


def parse_grid(entries: tuple[str, ...] | list[str]) -> dict[str, list[Any]]:
    """{field: [values]} from `FIELD=V1,V2,...` entries, each value parsed by PPOConfig's own option
    converter (its type, its choices), in the order given."""
    parser = _ValueParser(prog="kingme sweep")
    add_config_args(parser, PPOConfig, skip=FIXED)
    fields = {f.name: f for f in dataclasses.fields(PPOConfig) if f.name not in FIXED}
    grid: dict[str, list[Any]] = {}
    for entry in entries:
        name, eq, text = entry.partition("=")
        name = name.strip().replace("-", "_")
        if not eq or not text.strip():
            raise UserError(f"--grid {entry!r}: expected FIELD=V1,V2,... (e.g. learning_rate=1e-3,3e-3)")
        if name not in fields:
            if name in FIXED:
                raise UserError(f"--grid {entry!r}: {name} is set by the sweep (ENV, --seeds K, one CPU thread)")
            raise UserError(f"--grid {entry!r}: {name!r} is not a PPOConfig field (see `kingme sweep --help`)")
        if name in grid:
            raise UserError(f"--grid {entry!r}: {name} is swept twice")
        flag = "--" + name.replace("_", "-")
        values = []
        for part in text.split(";" if ";" in text else ","):
            part = part.strip()
            if isinstance(fields[name].default, bool):
                if part.lower() not in ("true", "false"):
                    raise UserError(f"--grid {entry!r}: {name} takes true or false, got {part!r}")
                argv = [flag] if part.lower() == "true" else ["--no-" + flag[2:]]
            else:
                argv = [flag, part]
            try:
                ns = parser.parse_args(argv)
            except UserError as e:
                raise UserError(f"--grid {entry!r}: {e}") from None
            values.append(getattr(ns, name))
        if len(set(map(repr, values))) < len(values):
            raise UserError(f"--grid {entry!r}: a value of {name} is given twice")
        grid[name] = values
    return grid


def settings(grid: dict[str, list[Any]], random: int = 0, sample_seed: int = 0) -> list[dict[str, Any]]:
    """The grid's settings (its Cartesian product, in order), or `random` of them drawn without
    replacement (kept in grid order)."""
    names = list(grid)
    combos = [dict(zip(names, values)) for values in itertools.product(*grid.values())]
    if random:
        if random > len(combos):
            raise UserError(f"--random {random} is more than the grid's {len(combos)} settings")
        picked = np.random.default_rng(sample_seed).choice(len(combos), size=random, replace=False)
        combos = [combos[i] for i in sorted(picked)]
    return combos


def _label(setting: dict[str, Any]) -> str:
    return ", ".join(f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in setting.items())


def sweep_arms(env: str, base: dict[str, Any], combos: list[dict[str, Any]]) -> list[Arm]:
    """One experiment arm per setting; every setting's config is built and validated here, so a bad
    value fails before any run, naming the setting."""
    arms = [Arm(_label(s), env, {**base, **s}) for s in combos]
    for arm in arms:
        try:
            PPO.config(arm, 1)
        except UserError as e:
            raise UserError(f"--grid setting {arm.label}: {e}") from None
    return arms


def sweep_experiment(cfg: SweepConfig, arms: list[Arm]) -> Experiment:
    fields = ", ".join(e.partition("=")[0].strip() for e in cfg.grid)
    drawn = f"{len(arms)} settings drawn at random (seed {cfg.sample_seed}) from" if cfg.random else "every setting of"
    return Experiment(
        name="sweep",
        title=f"Sweep of {fields} on {cfg.env}",
        claim=f"Which setting of {fields} trains PPO best on {cfg.env}?",
        question="Each setting's final return (mean of the last 10% of updates), mean return and largest drop, "
        "over seeds 1..K; settings are ranked by final return.",
        setup=f"PPO (kingme.ppo) on {cfg.env}, {drawn} the grid {' × '.join(cfg.grid)}; the other fields as "
        "given on the command line, else the experiments' defaults (PPOConfig with CARTPOLE_DEFAULTS).",
        arms=lambda tiny: arms,
        metrics=RETURN_METRICS,
        curves=[RETURN_CURVE],
        conclude=conclude,
        kind=PPO,
        extra_plots=plot_final,
    )


def conclude(results: Results) -> list[str]:
    """The ranking by final return, and the best setting against the runner-up (Welch 95%)."""
    ranked = sorted(results.arms, key=lambda a: _key(results.summary(a.label, RANKED_BY).mean))
    lines = [
        "Ranked by final return: "
        + "; ".join(f"{a.label}: {results.summary(a.label, RANKED_BY).fmt()}" for a in ranked)
        + "."
    ]
    if len(ranked) >= 2:
        lines.append(results.compare(ranked[0].label, ranked[1].label, RANKED_BY, "Final return, best vs runner-up"))
    return lines


def _key(mean: float) -> float:
    return math.inf if math.isnan(mean) else -mean


def plot_final(results: Results, out: Path) -> list[tuple[str, str]]:
    """final_return.png: each setting's mean final return with its 95% t-interval and the seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [a.label for a in results.arms]
    fig, ax = plt.subplots(figsize=(9.0, 0.5 * len(labels) + 1.6))
    for y, label in enumerate(labels):
        iv = results.summary(label, RANKED_BY)
        ax.scatter(results.values(label, RANKED_BY), [y] * iv.n, color="tab:gray", s=12, alpha=0.6, zorder=2)
        if not math.isnan(iv.lo):
            ax.plot([iv.lo, iv.hi], [y, y], color="tab:blue", lw=2.5, zorder=1)
        ax.scatter([iv.mean], [y], color="tab:blue", s=40, zorder=3)
    ax.set_yticks(range(len(labels)), labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("final return (mean of the last 10% of updates)", fontsize=10)
    ax.set_title(f"sweep: final return per setting (mean and 95% t-interval over {results.seeds} seeds; dots: seeds)")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(out / "final_return.png", dpi=100)
    plt.close(fig)
    return [("final_return.png", "final return per setting")]


def main(argv: list[str]) -> int:
    parser = Parser(prog="kingme sweep", description="Train one PPO config over a grid of settings and seeds.")
    parser.add_argument("env", help="The environment: gym:ID, deepsea:N or grid:SHAPING.")
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="FIELD=V1,V2,...",
        help="A swept PPOConfig field and its values (repeat for more fields; a tuple field separates values by ;).",
    )
    add_config_args(parser, SweepConfig, skip=("env", "grid"))
    ppo_group = parser.add_argument_group(
        "PPO options shared by every setting",
        "Those not given are the experiments' defaults, PPOConfig's with its CARTPOLE_DEFAULTS "
        f"({', '.join(f'{k}={v}' for k, v in CARTPOLE_DEFAULTS.items())}), not the defaults shown here.",
    )
    add_config_args(ppo_group, PPOConfig, skip=FIXED)  # type: ignore[arg-type]
    add_run_options(parser, "sweep", resume=False)
    parser.add_argument("--json", action="store_true", help="Print the results table and answer as JSON.")
    ns = parser.parse_args(argv)

    cfg = SweepConfig(ns.env, tuple(ns.grid), ns.seeds, ns.random, ns.sample_seed, ns.backend)
    cfg.validate()
    given = given_options(argv)
    fields = [f.name for f in dataclasses.fields(PPOConfig) if f.name in given and f.name not in FIXED]
    base = {name: getattr(ns, name) for name in fields}  # the PPO options given on the command line
    grid = parse_grid(cfg.grid)
    arms = sweep_arms(cfg.env, base, settings(grid, cfg.random, cfg.sample_seed))
    make_env(cfg.env, 1, 0.99).close()  # an unknown environment fails before the folder is made
    if cfg.backend == "ray":
        from kingme.scale import init_ray

        init_ray()  # a missing Ray or an unreachable cluster fails before the folder is made
    exp = sweep_experiment(cfg, arms)
    out = create_run(ns.runs_dir, ns.run_name, "sweep")
    results = run_experiment(exp, cfg.seeds, False, progress=not ns.quiet and not ns.json, backend=cfg.backend)
    command = shlex.join(["kingme", "sweep", *argv])
    answer = write_folder(exp, results, out, command)
    record = {"sweep": config_to_dict(cfg), "base": base, **config_record(exp, results)}
    atomic_write_json(out / "config.json", json_safe(record))  # the sweep's own config beside the arms'
    print_outcome(exp, results, out, answer, as_json=ns.json, quiet=ns.quiet)
    return 0
