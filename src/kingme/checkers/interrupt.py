"""Stopping compiled work: the control array that long numba loops poll, and Ctrl-C.

A compiled loop (perft, the alpha-beta searches) cannot be interrupted from Python: while the main
thread runs it, Python's SIGINT handler does not run, so Ctrl-C would wait for the loop to end.
Instead every such loop takes a *control array* ``ctl`` (int64, `CONTROL_SIZE` entries) and reads
it every `POLL` nodes (`poll`, one load and one add: free beside the nodes it amortises over):

- ``ctl[STATE]``: `RUNNING` (0), `STOPPED` (1: a `kingme.players.limits.Limit` ran out or was
  stopped from another thread) or `INTERRUPTED` (2: Ctrl-C). The loop ends soon after it turns
  non-zero.
- ``ctl[NODES]``: the nodes spent so far (counted in steps of the poll interval);
- ``ctl[BUDGET]``: a node budget (0: none); the loop sets STOPPED once NODES reaches it.

Another thread stops the loop by writing ``ctl[STATE]`` (the loops are compiled ``nogil``, so it
can run meanwhile). Ctrl-C reaches the array through `interruptible`: in the main thread it points
CPython's signal wake-up file descriptor (`signal.set_wakeup_fd`, written by the C-level signal
handler the moment the signal arrives, whatever the main thread is doing) at a pipe that a watcher
thread reads; on SIGINT the watcher sets ``ctl[STATE] = INTERRUPTED``, the loop returns within
`POLL` nodes, and `interruptible` raises KeyboardInterrupt (Python's own handler raises it first
when it runs), so the command line's usual Ctrl-C exit follows within milliseconds.

This module imports nothing from the rest of kingme (the engine's core imports it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import cast

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "BUDGET",
    "CONTROL_SIZE",
    "INTERRUPTED",
    "NODES",
    "POLL",
    "RUNNING",
    "STATE",
    "STOPPED",
    "interruptible",
    "new_control",
    "poll",
]

STATE, NODES, BUDGET = 0, 1, 2  # the entries of a control array
CONTROL_SIZE = 3
RUNNING, STOPPED, INTERRUPTED = 0, 1, 2  # ctl[STATE]
POLL = 4096  # nodes between two reads of the control array (a power of two: the loops test n & (POLL - 1))


def new_control(nodes: int = 0) -> np.ndarray:
    """A fresh control array: running, no node spent, a budget of ``nodes`` (0: none)."""
    ctl = np.zeros(CONTROL_SIZE, dtype=np.int64)
    ctl[BUDGET] = nodes
    return ctl


@intrinsic
def _load_state(typingctx, ctl):  # type: ignore[no-untyped-def]
    """``ctl[STATE]`` read with an atomic (monotonic) load: the compiler may not keep it in a
    register across loop iterations, so a write by another thread is seen at the next poll."""
    sig = types.int64(ctl)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(
            context, builder, signature.args[0], ary, [context.get_constant(types.intp, STATE)]
        )
        return builder.load_atomic(ptr, "monotonic", 8)

    return sig, codegen


_typed_load = cast(Callable[[np.ndarray], int], _load_state)


@njit(inline="always", cache=True)
def poll(ctl: np.ndarray, nodes: int) -> bool:
    """Charge ``nodes`` to the control array and say whether the loop must stop (stopped,
    interrupted, or the node budget spent; a spent budget sets STOPPED)."""
    ctl[NODES] += nodes
    if _typed_load(ctl) != RUNNING:
        return True
    if ctl[BUDGET] > 0 and ctl[NODES] >= ctl[BUDGET]:
        ctl[STATE] = STOPPED
        return True
    return False


# ------------------------------------------------------------------------------------------------
# Ctrl-C


class _Watcher:
    """The process's SIGINT watcher: a pipe that CPython's signal handler writes to and a daemon
    thread that turns a SIGINT byte into INTERRUPTED in the control arrays being run."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: list[np.ndarray] = []  # control arrays of the main thread's running loops
        self.forward = -1  # the wake-up fd that was installed before ours (gets every byte too)
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)
        threading.Thread(target=self.run, name="kingme-sigint-watcher", daemon=True).start()

    def run(self) -> None:
        while True:
            try:
                data = os.read(self.read_fd, 64)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                if signal.SIGINT in data:
                    for ctl in self.active:
                        ctl[STATE] = INTERRUPTED
                if self.forward >= 0:
                    with contextlib.suppress(OSError):
                        os.write(self.forward, data)


_watcher: _Watcher | None = None
_watcher_lock = threading.Lock()


def _reset_after_fork() -> None:
    global _watcher, _watcher_lock
    _watcher = None  # the watcher thread did not survive the fork: a new one starts when needed
    _watcher_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def _get_watcher() -> _Watcher:
    global _watcher
    with _watcher_lock:
        if _watcher is None:
            _watcher = _Watcher()
        return _watcher


@contextlib.contextmanager
def interruptible(ctl: np.ndarray) -> Iterator[np.ndarray]:
    """Run a compiled loop that polls ``ctl`` inside this block: in the main thread, while Python
    handles SIGINT, Ctrl-C sets ``ctl[STATE] = INTERRUPTED``, and KeyboardInterrupt is raised when
    the block ends (at once if Python's own handler has not raised it already). Elsewhere (another
    thread, SIGINT ignored) the block does nothing: the loop is stopped only through ``ctl``."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL, None):
        yield ctl
        return
    w = _get_watcher()
    with w.lock:
        w.active.append(ctl)
    old = signal.set_wakeup_fd(w.write_fd)
    if not w.active[:-1]:  # the outermost block remembers who had the wake-up fd before
        w.forward = old if old != w.write_fd else -1
    try:
        yield ctl
    finally:
        with w.lock:
            w.active.remove(ctl)
            outer = bool(w.active)
        if not outer:
            signal.set_wakeup_fd(w.forward)
            w.forward = -1
    if ctl[STATE] == INTERRUPTED:
        raise KeyboardInterrupt
