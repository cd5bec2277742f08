"""Cost bounds on a decision: `Limit` (a time and/or node budget that can also be stopped from
another thread), `bounded` (the calling thread's current limit) and `Stopped`.

Every player kind honours the current limit: inside ``with bounded(Limit(seconds=s)):`` its
decision and analysis methods (``choose``, ``choose_batch``, ``principal_variation``,
``pv_moves``, ``move_probabilities``, ``value``, ``wdl``, ``search``) return within about
``s`` + 50 ms, or raise `Stopped`. An iterative-deepening search (``alphabeta``, ``search``)
returns the result of its deepest completed iteration when the limit cuts it (its result says
``aborted``), and raises `Stopped` only when not even its first iteration completed. Work that is
one short step (a network's forward pass, a random move) checks the limit before it starts.

How the work sees the limit:
- Python loops call `Limit.check` (raises `Stopped`) or read `Limit.stopped`;
- compiled (numba) loops poll the limit's control array (`Limit.control`, see
  `kingme.checkers.interrupt`) every few thousand nodes: `Limit.stop` writes it, so a stop from
  another thread (the web server's client went away, or the server shuts down) ends them within
  milliseconds; they read the clock against `Limit.deadline_ms` at the same points, and the node
  budget is counted in the array.

A limit starts its clock when it is made. It applies to everything done under it: a node budget
counts the nodes of every search made under the same limit (a line of several searches shares it).
The current limit is a context variable, so it belongs to the thread (or asyncio task) that entered
`bounded`; a worker thread enters its own.

    >>> from kingme.checkers import Board
    >>> from kingme.players import load_player
    >>> with bounded(Limit(seconds=0.05)) as limit:
    ...     move = load_player("alphabeta:40").choose(Board())
    >>> limit.stopped
    True
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
from collections.abc import Iterator

import numpy as np

from kingme.checkers.interrupt import NODES, RUNNING, STATE, STOPPED, new_control

__all__ = ["MAX_NODES", "MAX_SECONDS", "MIN_SECONDS", "Limit", "Stopped", "bounded", "check", "current"]

MIN_SECONDS = 1e-3  # a budget below a millisecond cannot be honoured: no clock read is that cheap
MAX_SECONDS = 86_400.0  # a day
MAX_NODES = 10**15


class Stopped(Exception):
    """A decision was cut off by its `Limit` (its budget ran out, or it was stopped) before it had
    any result to give."""


class Limit:
    """A cost bound: at most ``seconds`` of wall time from now and/or ``nodes`` search nodes (None:
    no bound of that kind), and `stop` from any thread.

    ``seconds`` must lie in [`MIN_SECONDS`, `MAX_SECONDS`] and ``nodes`` in [1, `MAX_NODES`]
    (ValueError otherwise: a caller who reads them from a user validates first)."""

    def __init__(self, seconds: float | None = None, nodes: int | None = None) -> None:
        if seconds is not None and not (
            isinstance(seconds, int | float) and math.isfinite(seconds) and MIN_SECONDS <= seconds <= MAX_SECONDS
        ):
            raise ValueError(f"a limit's seconds must be in [{MIN_SECONDS:g}, {MAX_SECONDS:g}], not {seconds!r}")
        if nodes is not None and not (isinstance(nodes, int) and 1 <= nodes <= MAX_NODES):
            raise ValueError(f"a limit's nodes must be an integer in [1, {MAX_NODES:g}], not {nodes!r}")
        self.seconds = seconds
        self.nodes = nodes
        self.start = time.perf_counter()
        self.deadline = self.start + seconds if seconds is not None else math.inf  # perf_counter seconds
        # ctl[STATE] (RUNNING / STOPPED / INTERRUPTED), ctl[NODES] spent, ctl[BUDGET] (0: none)
        self.control: np.ndarray = new_control(nodes or 0)

    def __repr__(self) -> str:
        return f"Limit(seconds={self.seconds!r}, nodes={self.nodes!r}, stopped={self.stopped})"

    @property
    def deadline_ms(self) -> float:
        """The deadline in milliseconds of ``time.perf_counter()`` (what the compiled searches
        compare their clock with); 0.0 when there is none (their convention)."""
        return self.deadline * 1000.0 if self.seconds is not None else 0.0

    def stop(self) -> None:
        """End the work under this limit as soon as it next looks (thread-safe: one int64 store,
        which the compiled loops read atomically)."""
        self.control[STATE] = STOPPED

    @property
    def stopped(self) -> bool:
        """`stop` was called, Ctrl-C reached the work, the node budget is spent, or the deadline
        passed."""
        return self.halted or time.perf_counter() > self.deadline

    @property
    def halted(self) -> bool:
        """Stopped for a reason other than the clock: `stop`, Ctrl-C, or the node budget spent (a
        search lets its first iteration finish past the deadline, but not past these)."""
        return int(self.control[STATE]) != RUNNING or (
            self.nodes is not None and int(self.control[NODES]) >= self.nodes
        )

    def remaining(self) -> float:
        """Seconds left before the deadline (``math.inf`` without one; 0.0 once stopped)."""
        if self.stopped:
            return 0.0
        return self.deadline - time.perf_counter()

    def spend(self, nodes: int) -> None:
        """Count ``nodes`` nodes of Python-side work against the node budget."""
        self.control[NODES] += nodes

    def check(self) -> None:
        """Raise `Stopped` if the work must stop."""
        if self.stopped:
            raise Stopped(self.reason())

    def reason(self) -> str:
        """Why the limit is stopped, in words ("" while it is not)."""
        if int(self.control[STATE]) != RUNNING:
            return "stopped"
        if self.nodes is not None and int(self.control[NODES]) >= self.nodes:
            return f"node budget of {self.nodes} spent"
        if time.perf_counter() > self.deadline:
            return f"time budget of {self.seconds:g} s spent"
        return ""


_CURRENT: contextvars.ContextVar[Limit | None] = contextvars.ContextVar("kingme_limit", default=None)


@contextlib.contextmanager
def bounded(limit: Limit) -> Iterator[Limit]:
    """Make ``limit`` the current limit of this thread (or task) inside the block; blocks nest (the
    inner limit applies inside, the outer one again after)."""
    token = _CURRENT.set(limit)
    try:
        yield limit
    finally:
        _CURRENT.reset(token)


def current() -> Limit | None:
    """The current limit (None outside any `bounded` block: no bound)."""
    return _CURRENT.get()


def check() -> None:
    """`Limit.check` of the current limit (nothing without one): for the start of short work."""
    limit = _CURRENT.get()
    if limit is not None:
        limit.check()
