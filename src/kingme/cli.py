"""The `kingme` command line: a thin dispatcher.

Each command lives in the package that owns it, as a `main(argv) -> int` function, and is imported
only when used (so `kingme perft` does not pay for importing torch). A `UserError` anywhere becomes
one line on stderr and exit status 2. Output piped into a reader that stops early
(`kingme show --svg | head -c 50`) ends the command quietly.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import NoReturn

from kingme.common import UserError

# command -> (module, function, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "perft": ("kingme.checkers.commands", "perft_main", "count leaf nodes of the move tree"),
    "moves": ("kingme.checkers.commands", "moves_main", "list the legal moves of a position"),
    "show": ("kingme.checkers.commands", "show_main", "print a position as ASCII art"),
    "bench": ("kingme.bench", "main", "speed benchmarks and the PPO suite (`kingme bench --help` lists them)"),
    "train": ("kingme.cli", "train_main", "train with PPO: `train gym:ENV_ID` or `train checkers`"),
    "eval": ("kingme.ppo.eval", "eval_main", "evaluate a PPO run or checkpoint: mean return with a 95% interval"),
    "distill": ("kingme.selfplay.commands", "distill_main", "distil a critic into a small evaluation network"),
    "compute-curves": (
        "kingme.selfplay.compute_curves",
        "main",
        "training- and play-time compute curves of a run's kept models (issue 28)",
    ),
    "arena": ("kingme.arena.commands", "arena_main", "play a match between two players"),
    "ladder": ("kingme.arena.commands", "ladder_main", "rate a player against the ladder of bots"),
    "play": ("kingme.web.commands", "main", "play the agent in a browser"),
    "dt": ("kingme.dt.commands", "main", "Decision Transformer on graph navigation"),
    "experiment": (
        "kingme.experiments.commands",
        "main",
        "experiments that test published claims about PPO and RL on language models",
    ),
    "sweep": ("kingme.sweep", "main", "train one PPO config over a grid of settings and seeds"),
    "lm": ("kingme.lm.commands", "main", "RL on a tiny language model: pretrain, train, eval, sample"),
    "egdb": ("kingme.egdb.commands", "main", "checkers endgame database: build, probe, verify, grade players"),
}


def usage() -> str:
    lines = ["usage: kingme COMMAND [options]   (kingme COMMAND --help for a command's options)", "", "commands:"]
    lines += [f"  {name:<11} {spec[2]}" for name, spec in COMMANDS.items()]
    return "\n".join(lines)


def train_main(argv: list[str]) -> int:
    """`kingme train gym:ENV_ID [options]` or `kingme train checkers [options]`."""
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: kingme train {gym:ENV_ID,checkers} [options]   (add --help after the target)")
        return 0 if argv else 2
    target, rest = argv[0], argv[1:]
    if target.startswith("gym:"):
        from kingme.ppo.commands import train_gym_main

        return train_gym_main(target[len("gym:") :], rest)
    if target == "checkers":
        from kingme.selfplay.commands import train_checkers_main

        return train_checkers_main(rest)
    raise UserError(f"unknown training target {target!r}: expected gym:ENV_ID or checkers")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from kingme import __version__

        print(__version__)
        return 0
    name = argv[0]
    if name not in COMMANDS:
        sys.stderr.write(f"kingme: error: unknown command {name!r}; expected one of {', '.join(COMMANDS)}\n")
        return 2
    module, func, _ = COMMANDS[name]
    try:
        fn = getattr(importlib.import_module(module), func)
        rc = int(fn(argv[1:]) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at exit
        return rc
    except UserError as e:
        sys.stderr.write(f"kingme {name}: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): stop quietly. Point stdout at devnull so that
        # Python's flush at exit does not raise a second BrokenPipeError.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def program() -> NoReturn:
    """The `kingme` command: `main` on the command line's arguments, then exit with its status.

    Python's exit runs the cyclic garbage collector over every object still alive; with torch
    loaded that alone took 1.5-2 s on this project's 2-core machine under load, so a command
    stopped by Ctrl-C gave the prompt back seconds after its work had stopped. The survivors are
    frozen out of the collector first (`gc.freeze`): the exit then takes about 0.1-0.5 s. Only the
    program does this; code that calls `main` in its own process keeps its collector as it was.
    """
    rc = main()
    gc.freeze()
    sys.exit(rc)


if __name__ == "__main__":  # pragma: no cover
    program()
