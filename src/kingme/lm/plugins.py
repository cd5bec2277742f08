"""Loading a user's task, reward or monitor from a module, without editing kingme.

A plug-in is named `module:Name`, as `gym:module:EnvId` names an environment: `module` is imported
(the current folder is searched first, so `my_tasks.py` next to where `kingme` runs is found), and
`Name` is an attribute of it, called to build the plug-in. The protocols are where each kind belongs:
tasks in `kingme.lm.tasks` (`Task`), rewards in `kingme.lm.rewards` (`Reward`), monitors in
`kingme.lm.monitors` (`Monitor`); each keeps a registry of its built-in names, to which a package may
add its own (`register_task`, `register_reward`, `register_monitor`).

Every failure here is one line (`UserError`): a spec without a name, a module that is not there or
fails to import, a name the module does not define.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from kingme.common import UserError, one_line


def is_plugin_spec(spec: str) -> bool:
    """Whether `spec` names a plug-in as module:Name (a colon with text on both sides)."""
    module, sep, name = spec.rpartition(":")
    return bool(sep and module and name)


def load_attr(spec: str, kind: str) -> Any:
    """The attribute `Name` of the module `module` named by `spec` = "module:Name" (`kind` names what
    it is for, in errors: "task", "reward", "monitor"). The current folder is searched first."""
    module, sep, name = spec.rpartition(":")
    if not sep or not module or not name:
        raise UserError(f"{kind} {spec!r} is not a plug-in: expected module:Name (e.g. my_{kind}s:Mine)")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is not None and module.startswith(e.name):
            raise UserError(
                f"no module named {module!r} for the {kind} {spec!r} (run from the folder that holds {module}.py)"
            ) from None
        raise UserError(f"module {module!r} (for the {kind} {spec!r}) needs a missing package: {one_line(e)}") from None
    except Exception as e:  # the user's file raised while importing
        raise UserError(f"module {module!r} failed to import: {type(e).__name__}: {one_line(e)}") from None
    if not hasattr(mod, name):
        raise UserError(f"module {module!r} has no {name!r} (for the {kind} {spec!r})")
    return getattr(mod, name)


def probe_texts(task: Any) -> tuple[list[str], list[str]]:
    """Two (prompt, response) pairs to try a reward or monitor on before a run: a problem of the task's
    first level with its solution, and with an empty response."""
    import numpy as np

    problem = task.sample(np.random.default_rng(0), task.levels[0])
    return [problem.prompt] * 2, [problem.solution, ""]


def probe(spec: str, kind: str, check: Any) -> None:
    """Run `check()` (a plug-in scoring the probe), turning whatever it raises into one line."""
    try:
        check()
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"the {kind} {spec!r} failed on a probe: {type(e).__name__}: {one_line(e)}") from None


def build(spec: str, kind: str, *args: Any) -> Any:
    """`load_attr(spec, kind)(*args)`, with an error the user's constructor raises as one line."""
    factory = load_attr(spec, kind)
    try:
        return factory(*args)
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"the {kind} {spec!r} could not be built: {type(e).__name__}: {one_line(e)}") from None
