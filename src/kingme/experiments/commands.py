"""`kingme experiment list` and `kingme experiment run NAME [--seeds K] [--json] [--out DIR]`.

kingme experiment list                        # the experiments and the claim each tests
kingme experiment run clipping                # runs/experiments/clipping-<time>/report.md, ...
kingme experiment run deep-sea --seeds 5 --out runs/ds5 --quiet
kingme experiment run clipping --tiny --json  # a seconds-long smoke run, results as JSON on stdout
kingme experiment report runs/ds5             # write report.md and the plots again from results.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from kingme.common import UserError
from kingme.config import Parser


def main(argv: list[str]) -> int:
    parser = Parser(prog="kingme experiment", description="Experiments that test claims about PPO.")
    sub = parser.add_subparsers(dest="cmd", metavar="{list,run,report}")
    sub.add_parser("list", help="List the experiments.")
    run = sub.add_parser("run", help="Run one experiment and write its report folder.")
    run.add_argument("name", help="The experiment's name (see `kingme experiment list`).")
    run.add_argument("--seeds", type=int, default=3, help="Seeds per arm, 1..K (default: 3; at least 2).")
    run.add_argument("--out", default=None, help="The folder to write (default: runs/experiments/NAME-TIME).")
    run.add_argument("--json", action="store_true", help="Print the results table and answer as JSON.")
    run.add_argument("--quiet", action="store_true", help="No progress bar.")
    run.add_argument("--tiny", action="store_true", help="A seconds-long smoke run (tests; not evidence).")
    rep = sub.add_parser("report", help="Write an experiment folder's report and plots again (no training).")
    rep.add_argument("folder", help="The experiment folder (with config.json and results.json).")
    ns = parser.parse_args(argv)

    from kingme.experiments.registry import experiments, get

    if ns.cmd == "list":
        for name, exp in experiments().items():
            sys.stdout.write(f"{name:20} {exp.title}\n")
        return 0
    if ns.cmd == "report":
        from kingme.experiments.report import load_folder, write_folder

        exp, results, command = load_folder(Path(ns.folder))
        write_folder(exp, results, Path(ns.folder), command)
        sys.stdout.write(f"rewrote {Path(ns.folder) / 'report.md'}\n")
        return 0
    if ns.cmd != "run":
        parser.print_help()
        return 2
    exp = get(ns.name)
    if ns.seeds < 2:
        raise UserError(f"--seeds must be at least 2 (a 95% interval needs two), got {ns.seeds}")
    out = Path(ns.out) if ns.out else Path("runs/experiments") / f"{exp.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and any(out.iterdir()):
        raise UserError(f"output folder {out} exists and is not empty")

    from kingme.experiments.report import table_rows, write_folder
    from kingme.experiments.runner import run_experiment

    results = run_experiment(exp, ns.seeds, ns.tiny, progress=not ns.quiet and not ns.json)
    command = f"kingme experiment run {exp.name}" + (f" --seeds {ns.seeds}" if ns.seeds != 3 else "")
    command += " --tiny" if ns.tiny else ""
    answer = write_folder(exp, results, out, command)
    if ns.json:
        from kingme.experiments.report import _jsonable

        doc = {"experiment": exp.name, "folder": str(out), "seconds": round(results.seconds, 1)}
        doc |= {"table": table_rows(exp, results), "answer": answer}
        sys.stdout.write(json.dumps(_jsonable(doc), indent=1) + "\n")
    elif not ns.quiet:
        sys.stdout.write(
            "\n".join(f"- {s}" for s in answer) + f"\n{results.seconds:.0f} s; report: {out / 'report.md'}\n"
        )
    return 0
