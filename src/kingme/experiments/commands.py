"""`kingme experiment list`, `kingme experiment run NAME [--seeds K] [--runs-dir D --run-name N] [--json]`.

kingme experiment list                        # the experiments and the claim each tests
kingme experiment run clipping                # runs/clipping-<time>/report.md, ...
kingme experiment run deep-sea --seeds 5 --run-name ds5 --quiet
kingme experiment run clipping --tiny --json  # a seconds-long smoke run, results as JSON on stdout
kingme experiment run clipping --seeds 20 --backend ray  # every (arm, seed) a Ray task (kingme[ray])
kingme experiment report runs/ds5             # write report.md and the plots again from results.json

The run folder comes from kingme.runs like every command's: config.json, metrics.jsonl (one row per
run and update), results.json, report.md and its PNG plots.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kingme.common import UserError
from kingme.config import Parser
from kingme.runs import add_run_options, create_run


def main(argv: list[str]) -> int:
    parser = Parser(
        prog="kingme experiment",
        description="Experiments that test published claims about PPO and RL on language models.",
    )
    sub = parser.add_subparsers(dest="cmd", metavar="{list,run,report}")
    sub.add_parser("list", help="List the experiments.")
    run = sub.add_parser("run", help="Run one experiment and write its report folder.")
    run.add_argument("name", help="The experiment's name (see `kingme experiment list`).")
    run.add_argument(
        "--seeds", type=int, default=None, help="Seeds per arm, 1..K (default: the experiment's, 3 or 5; at least 2)."
    )
    run.add_argument(
        "--backend",
        choices=("local", "serial", "ray"),
        default=None,
        help="local: the seeds side by side, one process per core here (default; serial with --tiny); serial: one "
        "run at a time; ray: each (arm, seed) a Ray task (pip install 'kingme[ray]'; RAY_ADDRESS names a cluster). "
        "The numbers are the same every way.",
    )
    add_run_options(run, "NAME", resume=False)
    run.add_argument("--json", action="store_true", help="Print the results table and answer as JSON.")
    run.add_argument("--tiny", action="store_true", help="A seconds-long smoke run (tests; not evidence).")
    rep = sub.add_parser("report", help="Write an experiment folder's report and plots again (no training).")
    rep.add_argument("folder", help="The experiment folder (with config.json and results.json).")
    ns = parser.parse_args(argv)

    from kingme.experiments.registry import experiments, get

    if ns.cmd == "list":
        exps = experiments()
        width = max(map(len, exps))
        for name, exp in exps.items():
            sys.stdout.write(f"{name:{width}}  {exp.title}\n")
        return 0
    if ns.cmd == "report":
        from kingme.experiments.report import load_folder, write_folder

        exp, results, command = load_folder(Path(ns.folder), get)
        write_folder(exp, results, Path(ns.folder), command)
        sys.stdout.write(f"rewrote {Path(ns.folder) / 'report.md'}\n")
        return 0
    if ns.cmd != "run":
        parser.print_help()
        return 2
    exp = get(ns.name)
    backend = ns.backend or ("serial" if ns.tiny else "local")
    seeds = exp.seeds if ns.seeds is None else ns.seeds
    if seeds < 2:
        raise UserError(f"--seeds must be at least 2 (a 95% interval needs two), got {seeds}")
    from kingme.experiments.report import write_folder
    from kingme.experiments.runner import check_arms, print_outcome, run_experiment

    check_arms(exp, ns.tiny)  # bad settings fail before the folder is made
    if backend == "ray":
        from kingme.scale import init_ray

        init_ray()  # a missing Ray or an unreachable cluster fails before the folder is made
    out = create_run(ns.runs_dir, ns.run_name, exp.name)  # refused now, not after hours of training
    results = run_experiment(exp, seeds, ns.tiny, progress=not ns.quiet and not ns.json, backend=backend, find=get)
    command = f"kingme experiment run {exp.name}" + (f" --seeds {seeds}" if seeds != exp.seeds else "")
    command += " --tiny" if ns.tiny else ""
    command += " --backend ray" if backend == "ray" else ""
    answer = write_folder(exp, results, out, command)
    print_outcome(exp, results, out, answer, as_json=ns.json, quiet=ns.quiet)
    return 0
