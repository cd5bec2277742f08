"""The search pool: the one place where `kingme play` runs engine work (moves and analyses).

A fixed number of daemon worker threads (about one per core) take jobs from a bounded queue. A
job is admitted only while fewer than ``workers + queue`` jobs are running or waiting; past that,
`submit` raises `Busy` at once (the web layer answers 503), so a burst of searches never grows a
backlog and never takes the threads that answer reads (those run elsewhere, in the web
framework's own thread pool).

Each job runs under its own cost bound, a `Limit` of ``seconds`` (`kingme.players.limits`) made
when the job is submitted: the budget counts from the request's arrival, its wait in the queue
included. A job still waiting when its budget is spent never starts (`Job.started` stays None);
a running one runs ``with bounded(limit)``, so every player kind's decision and analysis calls
return or raise `Stopped` within about the budget. `Job.stop` (the client went away) and
`SearchPool.close` (the server is stopping) stop a job from any thread: a waiting job never
starts, a running one is cut within about 50 ms.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from kingme.players.limits import Limit, Stopped, bounded

__all__ = ["Busy", "Closed", "Job", "SearchPool", "Stopped"]

T = TypeVar("T")


class Busy(Exception):
    """Every worker is busy and the queue is full: the request is refused at once."""


class Closed(Exception):
    """The pool is closed (the server is stopping): no new job is taken."""


class Job(Generic[T]):
    """One unit of engine work: ``fn()`` run under ``limit`` (its clock started at submission).
    ``future`` settles with its result or exception."""

    def __init__(self, fn: Callable[[], T], seconds: float) -> None:
        self.fn = fn
        self.limit = Limit(seconds=seconds)
        self.future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self.started: float | None = None  # perf_counter when a worker took it (None: never)
        self.stopped = False  # stop() was called: by a client that left, or by close()

    def stop(self) -> None:
        """Stop the job from any thread: it never starts, or its work is cut."""
        self.stopped = True
        self.limit.stop()

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        if self.limit.stopped:  # stopped, or its whole budget spent waiting in the queue
            self.future.set_exception(Stopped(f"never started: {self.limit.reason()}"))
            return
        self.started = time.perf_counter()
        try:
            with bounded(self.limit):
                result = self.fn()
        except BaseException as e:  # settled, never raised in a worker
            self.future.set_exception(e)
        else:
            self.future.set_result(result)


class SearchPool:
    """``workers`` daemon threads and room for ``queue`` waiting jobs."""

    def __init__(self, workers: int, queue_size: int) -> None:
        if workers < 1 or queue_size < 0:
            raise ValueError(f"need workers >= 1 and queue >= 0, not {workers} and {queue_size}")
        self.workers = workers
        self.capacity = workers + queue_size  # jobs running or waiting, at most
        self._jobs: queue.SimpleQueue[Job[Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._admitted: set[Job[Any]] = set()  # running or waiting
        self._closed = False
        self._threads: list[threading.Thread] = []

    @property
    def closed(self) -> bool:
        return self._closed

    def load(self) -> int:
        """Jobs running or waiting now."""
        with self._lock:
            return len(self._admitted)

    def submit(self, fn: Callable[[], T], seconds: float) -> Job[T]:
        """Queue ``fn`` under a limit of ``seconds``; `Busy` if full, `Closed` if closed."""
        job = Job(fn, seconds)
        with self._lock:
            if self._closed:
                raise Closed("the server is stopping")
            if len(self._admitted) >= self.capacity:
                raise Busy(f"the server is busy: {self.capacity} searches are running or waiting; try again shortly")
            self._admitted.add(job)
            if len(self._threads) < self.workers:
                t = threading.Thread(target=self._work, name=f"kingme-search-{len(self._threads)}", daemon=True)
                self._threads.append(t)
                t.start()
        self._jobs.put(job)
        return job

    def close(self) -> None:
        """Take no new job and stop every job admitted (thread-safe; idempotent)."""
        with self._lock:
            self._closed = True
            jobs = list(self._admitted)
        for job in jobs:
            job.stop()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job.run()
            finally:
                with self._lock:
                    self._admitted.discard(job)
