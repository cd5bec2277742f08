"""Ray, the one way kingme spreads work over processes and machines (the optional extra `kingme[ray]`).

    init_ray()                  start a local Ray instance, or join the cluster that RAY_ADDRESS
                                names (`ray start --head` prints it); the same command runs on both
    map_tasks(fn, jobs)         fn(*args) for every args of `jobs`, each as one Ray task of one CPU
                                and one torch thread; the results in the order of `jobs`
    require_ray()               the `ray` module, or a one-line UserError saying how to install it

The experiment and sweep backends (`--backend ray`) use `map_tasks`; self-play rollout workers
(kingme.selfplay.workers) are Ray actors started after `init_ray`. Nothing here knows what runs: it
sits beside kingme.common at the bottom of the layout, and imports Ray only when called.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, TypeVar

from kingme.common import UserError

R = TypeVar("R")
INSTALL = "pip install 'kingme[ray]'"


def require_ray() -> ModuleType:
    """The `ray` module; a UserError naming the extra when it is not installed."""
    try:
        import ray
    except ImportError:
        raise UserError(f"this needs Ray, an optional extra: {INSTALL}") from None
    return ray


def init_ray(num_cpus: int | None = None) -> ModuleType:
    """Connect to Ray once per process and return the module.

    With RAY_ADDRESS set (e.g. `ray://head:10001` or `head:6379`), join that cluster: its nodes
    declare their own CPUs. Otherwise start a local instance with `num_cpus` CPUs (None: all of this
    machine's). A second call reuses the connection, whatever `num_cpus` it gives.
    """
    ray = require_ray()
    if ray.is_initialized():
        return ray
    address = os.environ.get("RAY_ADDRESS") or None
    quiet: dict[str, Any] = {"include_dashboard": False, "logging_level": "warning"}
    try:
        if address is not None:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=num_cpus, **quiet)
    except (ConnectionError, TimeoutError, RuntimeError) as e:
        where = f"the Ray cluster at RAY_ADDRESS={address}" if address else "a local Ray instance"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot start or reach {where}: {first}") from None
    return ray


def _call(fn: Callable[..., R], args: Sequence[Any]) -> R:
    """One task's body: one torch thread (a task owns one CPU), then fn(*args)."""
    import torch

    torch.set_num_threads(1)
    return fn(*args)


def map_tasks(
    fn: Callable[..., R],
    jobs: Sequence[Sequence[Any]],
    *,
    num_cpus: float = 1,
    on_done: Callable[[int, R], None] | None = None,
) -> list[R]:
    """Run fn(*args) for every args in `jobs` as Ray tasks; return the results in job order.

    `on_done(index, result)` is called in the driver as each task finishes (in finishing order), e.g.
    to move a progress bar. A task whose worker process dies is retried by Ray (its default of 3
    retries); an exception inside a task is raised here (a UserError as itself, with its one line).
    """
    ray = init_ray()
    task = ray.remote(num_cpus=num_cpus)(_call)
    fn_ref = ray.put(fn)  # shipped once, not once per task
    refs = [task.remote(fn_ref, list(args)) for args in jobs]
    index = {ref: i for i, ref in enumerate(refs)}
    results: list[Any] = [None] * len(refs)
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                i = index[ref]
                results[i] = ray.get(ref)
                if on_done is not None:
                    on_done(i, results[i])
    except ray.exceptions.RayTaskError as e:
        for ref in pending:
            ray.cancel(ref)
        if isinstance(e.cause, UserError):
            raise e.cause from None
        raise
    return results
