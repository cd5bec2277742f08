"""`kingme dt ...`: the Decision Transformer comparison on graph navigation.

    kingme dt run [--nodes N --edge-prob P --walks W --seeds K ...] [--json] [--quiet]
    kingme dt sweep-stochastic [--fail-probs 0,0.1,0.2,0.3 ...] [--json] [--quiet]

Each writes a run folder (runs/dt-YYYYmmdd-HHMMSS by default) holding config.json (the resolved
config), results.json, report.md and its figures.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kingme.common import UserError, atomic_write_json, make_run_dir
from kingme.config import Parser, add_config_args, arg, config_from_args, config_to_dict, require
from kingme.dt.experiment import METHODS, ProgressFn, RunConfig, aggregate, run_seed, units_per_seed


@dataclass
class SweepConfig(RunConfig):
    """`kingme dt sweep-stochastic`: the run comparison repeated as moves fail more often."""

    fail_probs: str = arg("0,0.1,0.2,0.3,0.4", "comma-separated move-failure probabilities, each in [0, 1)")

    def probs(self) -> list[float]:
        try:
            ps = [float(x) for x in self.fail_probs.split(",") if x.strip()]
        except ValueError:
            raise UserError(f"--fail-probs must be comma-separated numbers, got {self.fail_probs!r}") from None
        return ps

    def validate(self) -> None:
        super().validate()
        ps = self.probs()
        require(len(ps) >= 1, "--fail-probs needs at least one probability")
        require(all(0.0 <= p < 1.0 for p in ps), f"--fail-probs must lie in [0, 1), got {self.fail_probs}")


def machine() -> str:
    import torch

    gpu = "GPU present but unused" if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()}-core CPU, {gpu}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)"


@contextmanager
def progress_bar(total: int, quiet: bool) -> Iterator[ProgressFn]:
    """A rich progress bar on stderr (nothing when quiet); yields `tick(description, units)`."""
    if quiet:
        yield lambda _desc, _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (
        TextColumn("{task.description:<24}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task_id = progress.add_task("starting", total=total)

        def tick(desc: str, n: int) -> None:
            progress.update(task_id, advance=n, description=desc)

        yield tick


def _prefixed(tick: ProgressFn, prefix: str) -> ProgressFn:
    def prefixed(desc: str, n: int) -> None:
        tick(prefix + desc, n)

    return prefixed


def run_seeds(cfg: RunConfig, tick: ProgressFn) -> list[dict[str, Any]]:
    return [run_seed(cfg, cfg.seed + i, tick) for i in range(cfg.seeds)]


def _print_table(title: str, agg: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("way to act")
    for head in ("success ± std", "min–max", "length/shortest", "min–max"):
        table.add_column(head, justify="right")
    for name, label in METHODS.items():
        cells = []
        for key in ("success", "length_ratio"):
            st = agg[name][key]
            cells += [f"{st['mean']:.3f} ± {st['std']:.3f}", f"{st['min']:.2f}–{st['max']:.2f}"]
        table.add_row(label, *cells)
    Console().print(table)


def _parser(prog: str, cls: type) -> Parser:
    p = Parser(prog=prog, description=(cls.__doc__ or "").strip())
    add_config_args(p, cls)
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _command_line(argv: list[str], sub: str) -> str:
    return "kingme dt " + " ".join(shlex.quote(a) for a in [sub, *argv])


def run_main(argv: list[str]) -> int:
    ns = _parser("kingme dt run", RunConfig).parse_args(argv)
    cfg = config_from_args(RunConfig, ns)
    _set_threads(cfg.threads)
    run_dir = make_run_dir(cfg.out_dir, cfg.name, "dt")
    atomic_write_json(run_dir / "config.json", config_to_dict(cfg))
    t0 = time.perf_counter()
    with progress_bar(cfg.seeds * units_per_seed(cfg), ns.quiet) as tick:
        per_seed = run_seeds(cfg, tick)
    results: dict[str, Any] = {
        "command": _command_line(argv, "run"),
        "machine": machine(),
        "config": config_to_dict(cfg),
        "runtime_s": time.perf_counter() - t0,
        "methods": aggregate(per_seed),
        "per_seed": per_seed,
    }
    atomic_write_json(run_dir / "results.json", results)
    from kingme.dt.report import write_run_report

    write_run_report(run_dir, results)
    if ns.json:
        print(json.dumps({**results, "run_dir": str(run_dir)}, default=str))
    else:
        _print_table(f"{cfg.seeds} graph seeds, {results['runtime_s']:.0f} s", results["methods"])
        print(f"report: {run_dir / 'report.md'}")
    return 0


def sweep_main(argv: list[str]) -> int:
    ns = _parser("kingme dt sweep-stochastic", SweepConfig).parse_args(argv)
    cfg = config_from_args(SweepConfig, ns)
    _set_threads(cfg.threads)
    run_dir = make_run_dir(cfg.out_dir, cfg.name, "dt-sweep")
    atomic_write_json(run_dir / "config.json", config_to_dict(cfg))
    t0 = time.perf_counter()
    sweep: list[dict[str, Any]] = []
    probs = cfg.probs()
    with progress_bar(len(probs) * cfg.seeds * units_per_seed(cfg), ns.quiet) as tick:
        for p in probs:
            run_cfg = RunConfig(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(RunConfig)})
            run_cfg.fail_prob = p
            per_seed = run_seeds(run_cfg, _prefixed(tick, f"p={p} "))
            sweep.append({"fail_prob": p, "methods": aggregate(per_seed), "per_seed": per_seed})
    results: dict[str, Any] = {
        "command": _command_line(argv, "sweep-stochastic"),
        "machine": machine(),
        "config": config_to_dict(cfg),
        "runtime_s": time.perf_counter() - t0,
        "sweep": sweep,
    }
    atomic_write_json(run_dir / "results.json", results)
    from kingme.dt.report import write_sweep_report

    write_sweep_report(run_dir, results)
    if ns.json:
        print(json.dumps({**results, "run_dir": str(run_dir)}, default=str))
    else:
        for row in sweep:
            _print_table(f"move failure probability {row['fail_prob']}", row["methods"])
        print(f"report: {run_dir / 'report.md'}")
    return 0


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


SUBCOMMANDS = {
    "run": (run_main, "train and evaluate every way to act on several graph seeds"),
    "sweep-stochastic": (sweep_main, "repeat the comparison as moves fail with probability p"),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: kingme dt {run,sweep-stochastic} [options]   (add --help after the command)")
        for name, (_, text) in SUBCOMMANDS.items():
            print(f"  {name:<17} {text}")
        return 0 if argv else 2
    if argv[0] not in SUBCOMMANDS:
        raise UserError(f"unknown dt command {argv[0]!r}: expected one of {', '.join(SUBCOMMANDS)}")
    return SUBCOMMANDS[argv[0]][0](argv[1:])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
