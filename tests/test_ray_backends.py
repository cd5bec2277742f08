"""The Ray backends agree with the serial ones: experiments and sweeps, on a local 2-CPU Ray instance.

One Ray instance serves every Ray test of the session (kingme.scale.init_ray reuses a connection);
Ray shuts it down when the test process exits. A missing Ray is one line naming the extra.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from kingme.cli import main as cli
from kingme.common import UserError
from kingme.experiments.base import RunResult
from kingme.scale import init_ray, map_tasks, require_ray

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def ray_cpus(monkeypatch_module: pytest.MonkeyPatch) -> int:
    monkeypatch_module.delenv("RAY_ADDRESS", raising=False)  # always this machine's own instance
    ray = init_ray(num_cpus=2)
    return int(ray.cluster_resources()["CPU"])


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _numbers(run: RunResult | dict[str, Any]) -> str:
    """What must agree between backends: everything but the wall-clock seconds (as JSON: NaN == NaN)."""
    if isinstance(run, RunResult):
        return json.dumps((run.arm, run.env, run.seed, run.steps, run.series, run.metrics), sort_keys=True)
    return json.dumps(
        (run["arm"], run["env"], run["seed"], run["steps"], run["series"], run["metrics"]), sort_keys=True
    )


def test_the_local_instance_has_two_cpus(ray_cpus: int) -> None:
    assert ray_cpus == 2


def test_map_tasks_keeps_job_order_and_one_torch_thread(ray_cpus: int) -> None:
    import torch

    from kingme.runs import check_run_name

    done: list[int] = []
    out = map_tasks(pow, [(i, 2) for i in range(6)], on_done=lambda i, r: done.append(i))
    assert out == [i * i for i in range(6)] and sorted(done) == list(range(6))
    assert map_tasks(torch.get_num_threads, [(), ()]) == [1, 1]
    with pytest.raises(UserError, match="must be a plain folder name"):  # a task's UserError, as itself
        map_tasks(check_run_name, [("a",), ("../b",)])


def test_experiment_command_on_ray_writes_the_same_folder(
    ray_cpus: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for backend in ("serial", "ray"):
        argv = ["experiment", "run", "clipping", "--tiny", "--seeds", "2", "--backend", backend]
        assert cli([*argv, "--runs-dir", str(tmp_path), "--run-name", backend, "--quiet"]) == 0
    capsys.readouterr()
    files = {p.name for p in (tmp_path / "serial").iterdir()}
    assert files == {p.name for p in (tmp_path / "ray").iterdir()} and "report.md" in files
    serial, remote = (json.loads((tmp_path / b / "results.json").read_text()) for b in ("serial", "ray"))
    assert serial["table"] == remote["table"] and serial["answer"] == remote["answer"]
    assert [_numbers(r) for r in serial["runs"]] == [_numbers(r) for r in remote["runs"]]
    assert remote["command"].endswith("--backend ray")


def test_sweep_on_ray_equals_serial(ray_cpus: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grid = ["--grid", "learning_rate=1e-3,3e-3", "--grid", "num_envs=4,8", "--seeds", "2"]
    grid += ["--total-steps", "256", "--num-steps", "32"]
    for backend in ("serial", "ray"):
        argv = ["sweep", "gym:CartPole-v1", *grid, "--backend", backend, "--runs-dir", str(tmp_path)]
        assert cli([*argv, "--run-name", backend, "--quiet"]) == 0
    capsys.readouterr()
    serial, remote = (json.loads((tmp_path / b / "results.json").read_text()) for b in ("serial", "ray"))
    assert len(serial["runs"]) == 8
    assert serial["table"] == remote["table"] and serial["answer"] == remote["answer"]
    assert [_numbers(r) for r in serial["runs"]] == [_numbers(r) for r in remote["runs"]]


def test_missing_ray_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(UserError, match=r"pip install 'kingme\[ray\]'"):
        require_ray()
    for argv in (
        ["experiment", "run", "freeze-old-policy", "--tiny", "--backend", "ray"],
        ["sweep", "gym:CartPole-v1", "--grid", "num_envs=4,8", "--backend", "ray"],
    ):
        assert cli([*argv, "--runs-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert "pip install 'kingme[ray]'" in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())  # refused before any folder was made
