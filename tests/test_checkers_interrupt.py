"""Ctrl-C stops long compiled work within about a second: perft, and an untimed deep search in
the arena (both ran on for 15 s after SIGINT before the control array existed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from kingme.checkers.interrupt import RUNNING, STATE, STOPPED, interruptible, new_control

# Run a kingme command line in a child, after saying "go" once the engine's kernels are loaded.
CHILD = """
import sys
from kingme.checkers import Board
from kingme.checkers.board import perft
from kingme.players import load_player
perft(Board(), 3)
load_player("alphabeta:2").choose(Board())
print("go", flush=True)
from kingme.cli import program
sys.argv = ["kingme", *sys.argv[1:]]
program()  # what the `kingme` command runs
"""


def _interrupt_after_start(args: list[str], run_s: float = 1.5) -> tuple[float, int, str]:
    """Start ``kingme ARGS``, let it compute for ``run_s`` seconds, send SIGINT; return (seconds
    from SIGINT to exit, exit status, stderr)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # As from a terminal: a suite started in the background (`make test &`, a CI runner) has SIGINT
        # ignored, which a child inherits, and a program that starts with SIGINT ignored rightly
        # ignores Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "go"
        time.sleep(run_s)
        assert proc.poll() is None, "the command ended before it was interrupted"
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"kingme {' '.join(args)} ran on 10 s after SIGINT")
        elapsed = time.perf_counter() - t0
        assert proc.stderr is not None
        return elapsed, proc.returncode, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ctrl_c_stops_perft() -> None:
    elapsed, rc, err = _interrupt_after_start(["perft", "20"])
    assert elapsed < 2.0, elapsed
    assert rc == 130
    assert err.strip().splitlines()[-1] == "interrupted"


def test_ctrl_c_stops_an_untimed_deep_search() -> None:
    elapsed, rc, err = _interrupt_after_start(["arena", "alphabeta:40", "random", "--games", "2", "--workers", "1"])
    assert elapsed < 2.0, elapsed
    assert rc == 130
    assert "Traceback" not in err


def test_interruptible_outside_the_main_thread_leaves_the_array_alone() -> None:
    seen: list[int] = []

    def work() -> None:
        with interruptible(new_control()) as ctl:
            seen.append(int(ctl[STATE]))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [RUNNING]


def test_stop_written_from_another_thread_ends_perft_count() -> None:
    """A compiled loop polls the array: a STOPPED written from another thread ends it."""
    from kingme.checkers import Board, core

    b = Board()
    ctl = new_control()
    core.perft_count(np.uint64(b.black), np.uint64(b.white), np.uint64(b.kings), 0, 3, True, ctl)  # compile
    ctl = new_control()
    threading.Timer(0.2, lambda: ctl.__setitem__(STATE, STOPPED)).start()
    t0 = time.perf_counter()
    core.perft_count(np.uint64(b.black), np.uint64(b.white), np.uint64(b.kings), 0, 20, True, ctl)
    assert time.perf_counter() - t0 < 1.0
    assert ctl[STATE] == STOPPED


def test_node_budget_ends_perft_count() -> None:
    from kingme.checkers import Board, core

    b = Board()
    ctl = new_control(nodes=100_000)
    core.perft_count(np.uint64(b.black), np.uint64(b.white), np.uint64(b.kings), 0, 20, True, ctl)
    assert ctl[STATE] == STOPPED
    assert 100_000 <= ctl[1] < 110_000
