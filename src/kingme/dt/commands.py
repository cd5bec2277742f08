"""`kingme dt ...`: the Decision Transformer comparison on graph navigation.

    kingme dt run [--nodes N --edge-prob P --walks W --seeds K ...] [--json] [--quiet]
    kingme dt sweep-stochastic [--fail-probs 0,0.1,0.2,0.3 ...] [--json] [--quiet]

Each writes a run folder (kingme.runs: `--runs-dir`, default runs, and `--run-name`, default
dt-YYYYmmdd-HHMMSS or dt-sweep-YYYYmmdd-HHMMSS) holding config.json (the resolved config),
metrics.jsonl (one row per graph seed), results.json, report.md and its figures.
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
from pathlib import Path
from typing import Any

from kingme.common import UserError, atomic_write_json, atomic_write_text, json_safe
from kingme.config import Parser, add_config_args, arg, config_from_args, config_to_dict, require
from kingme.dt.experiment import METHODS, ProgressFn, RunConfig, aggregate, run_seed, units_per_seed
from kingme.progress import progress_bar, results_console
from kingme.runs import METRICS, add_run_options, create_run, write_config


@dataclass
class StochasticSweepConfig(RunConfig):
    """`kingme dt sweep-stochastic`: the run comparison repeated as moves fail more often."""

    fail_probs: tuple[float, ...] = arg(
        (0.0, 0.1, 0.2, 0.3, 0.4), "comma-separated move-failure probabilities, each in [0, 1)"
    )

    def validate(self) -> None:
        super().validate()
        ps = self.fail_probs
        require(len(ps) >= 1, "--fail-probs needs at least one probability")
        shown = ",".join(f"{p:g}" for p in ps)
        require(all(0.0 <= p < 1.0 for p in ps), f"--fail-probs must lie in [0, 1), got {shown}")


def machine() -> str:
    import torch

    gpu = "GPU present but unused" if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()}-core CPU, {gpu}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)"


@contextmanager
def ticker(total: int, quiet: bool) -> Iterator[ProgressFn]:
    """The shared progress bar (kingme.progress) as the `tick(description, units)` dt/experiment takes."""
    with progress_bar(total, "starting", enabled=not quiet) as advance:

        def tick(desc: str, n: int) -> None:
            advance(n, description=f"{desc:<24}")

        yield tick


def _prefixed(tick: ProgressFn, prefix: str) -> ProgressFn:
    def prefixed(desc: str, n: int) -> None:
        tick(prefix + desc, n)

    return prefixed


def run_seeds(cfg: RunConfig, tick: ProgressFn) -> list[dict[str, Any]]:
    return [run_seed(cfg, cfg.seed + i, tick) for i in range(cfg.seeds)]


def _print_table(title: str, agg: dict[str, Any]) -> None:
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
    results_console().print(table)


def _parser(prog: str, cls: type) -> Parser:
    p = Parser(prog=prog, description=(cls.__doc__ or "").strip())
    add_config_args(p, cls)
    add_run_options(p, "dt-sweep" if cls is StochasticSweepConfig else "dt", resume=False)
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    return p


def _write_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """metrics.jsonl: one row per graph seed (and failure probability), flat `group/key` columns."""
    lines = []
    for row in rows:
        flat: dict[str, Any] = {k: row[k] for k in ("fail_prob", "seed", "seconds") if k in row}
        flat |= {f"loss/{kind}": v for kind, v in row["final_loss"].items()}
        for name, m in row["methods"].items():
            for key in ("success", "length_ratio"):
                if key in m:
                    flat[f"{key}/{name}"] = m[key]
        lines.append(json.dumps(json_safe(flat)) + "\n")
    atomic_write_text(run_dir / METRICS, "".join(lines))


def _finish(ns: Any, run_dir: Path, results: dict[str, Any], tables: list[tuple[str, dict[str, Any]]]) -> None:
    if ns.json:
        print(json.dumps({**results, "run_dir": str(run_dir)}, default=str))
    elif ns.quiet:
        print(run_dir)
    else:
        for title, agg in tables:
            _print_table(title, agg)
        print(f"report: {run_dir / 'report.md'}")


def _command_line(argv: list[str], sub: str) -> str:
    return "kingme dt " + " ".join(shlex.quote(a) for a in [sub, *argv])


def run_main(argv: list[str]) -> int:
    ns = _parser("kingme dt run", RunConfig).parse_args(argv)
    cfg = config_from_args(RunConfig, ns)
    _set_threads(cfg.threads)
    run_dir = create_run(ns.runs_dir, ns.run_name, "dt")
    write_config(run_dir, cfg)
    t0 = time.perf_counter()
    with ticker(cfg.seeds * units_per_seed(cfg), ns.quiet or ns.json) as tick:
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
    _write_metrics(run_dir, per_seed)
    from kingme.dt.report import write_run_report

    write_run_report(run_dir, results)
    _finish(ns, run_dir, results, [(f"{cfg.seeds} graph seeds, {results['runtime_s']:.0f} s", results["methods"])])
    return 0


def sweep_main(argv: list[str]) -> int:
    ns = _parser("kingme dt sweep-stochastic", StochasticSweepConfig).parse_args(argv)
    cfg = config_from_args(StochasticSweepConfig, ns)
    _set_threads(cfg.threads)
    run_dir = create_run(ns.runs_dir, ns.run_name, "dt-sweep")
    write_config(run_dir, cfg)
    t0 = time.perf_counter()
    sweep: list[dict[str, Any]] = []
    probs = cfg.fail_probs
    with ticker(len(probs) * cfg.seeds * units_per_seed(cfg), ns.quiet or ns.json) as tick:
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
    _write_metrics(run_dir, [{"fail_prob": row["fail_prob"], **s} for row in sweep for s in row["per_seed"]])
    from kingme.dt.report import write_sweep_report

    write_sweep_report(run_dir, results)
    tables = [(f"move failure probability {row['fail_prob']}", row["methods"]) for row in sweep]
    _finish(ns, run_dir, results, tables)
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
