"""`kingme train checkers` run folders: reuse is refused, resume takes the budget/device/threads
overrides and refuses the rest, and the time budget belongs to `train()` (no rewriting of
`cfg.total_steps` from a callback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from kingme.cli import main
from kingme.ppo.checkpoint import list_checkpoints

TINY = [
    "--num-envs",
    "8",
    "--num-steps",
    "8",
    "--minutes",
    "0",
    "--eval-games",
    "2",
    "--eval-ladder",
    "random",
    "--eval-every-minutes",
    "0",
    "--checkpoint-every",
    "1",
    "--snapshot-every",
    "1",
    "--hidden-sizes",
    "16",
    "--no-tensorboard",
    "--quiet",
]


def _train(tmp_path: Path, *extra: str) -> int:
    return main(["train", "checkers", *TINY, "--runs-dir", str(tmp_path), *extra])


def _updates(run: Path) -> list[int]:
    return [json.loads(line)["update"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_reusing_a_run_name_is_refused_and_keeps_the_first_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train(tmp_path, "--total-steps", "192", "--run-name", "x") == 0
    run = tmp_path / "x"
    metrics = (run / "metrics.jsonl").read_text()
    ckpts = [p.name for p in list_checkpoints(run / "checkpoints")]
    assert _updates(run) == [1, 2, 3]
    capsys.readouterr()

    assert _train(tmp_path, "--total-steps", "64", "--run-name", "x") == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--resume x" in err and err.count("\n") == 1
    assert (run / "metrics.jsonl").read_text() == metrics  # not emptied
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ckpts  # none deleted or added


def test_resume_applies_budget_and_refuses_other_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _train(tmp_path, "--total-steps", "128", "--run-name", "r") == 0
    run = tmp_path / "r"
    assert _updates(run) == [1, 2]
    capsys.readouterr()

    rc = main(["train", "checkers", "--resume", "r", "--runs-dir", str(tmp_path), "--gamma", "0.5", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "drop --gamma" in err and err.count("\n") == 1
    assert _updates(run) == [1, 2]  # nothing ran

    resume = ["train", "checkers", "--resume", "r", "--runs-dir", str(tmp_path), "--quiet"]
    assert main([*resume, "--total-steps", "256", "--torch-threads", "1", "--device", "cpu"]) == 0
    assert _updates(run) == [1, 2, 3, 4]  # the new step budget was used, not the saved 128
    saved = json.loads((run / "config.json").read_text())
    assert saved["total_steps"] == 256 and saved["torch_threads"] == 1
    assert capsys.readouterr().out == f"{run}\n"  # --quiet still names the run folder
    evals = [json.loads(line)["update"] for line in (run / "evals.jsonl").read_text().splitlines()]
    assert evals == [2, 4]  # the first session's evaluation is kept; the report shows both
    assert "| random |" in (run / "report.md").read_text()


def test_resume_applies_a_time_budget(tmp_path: Path) -> None:
    assert _train(tmp_path, "--total-steps", "128", "--run-name", "t") == 0
    run = tmp_path / "t"
    resume = ["train", "checkers", "--resume", "t", "--runs-dir", str(tmp_path), "--quiet"]
    # A step budget far beyond reach and twice the time the first session took, at least 3 s more
    # (training time counts across a resume, so a fixed budget fails on a machine slow enough to
    # spend it in the first session, and a fixed margin fails on one so loaded that an update takes
    # longer than the margin): the minutes end the resumed run.
    first = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["time"]
    minutes = round((first + max(3.0, first)) / 60, 4)
    assert main([*resume, "--total-steps", "100000000", "--minutes", str(minutes)]) == 0
    updates = _updates(run)
    assert 2 < updates[-1] < 10_000
    assert json.loads((run / "config.json").read_text())["minutes"] == minutes


def test_resume_says_where_it_continues_and_refuses_a_gym_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train(tmp_path, "--total-steps", "128", "--run-name", "r") == 0
    run = tmp_path / "r"
    capsys.readouterr()
    resume = ["train", "checkers", "--resume", "r", "--runs-dir", str(tmp_path), "--total-steps", "192"]
    assert main(resume) == 0  # without --quiet
    assert f"resuming {run} from update 2 (128 steps)\n" in capsys.readouterr().out
    # a PPO run on a Gymnasium task: named with the command that resumes it, not as the unknown
    # fields of SelfPlayConfig
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "config.json").write_text(json.dumps({"env": "gym:CartPole-v1", "num_envs": 4}))
    assert main(["train", "checkers", "--resume", "g", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "holds a `kingme train gym:CartPole-v1` run" in err and "unknown fields" not in err
    assert f"resume it with `kingme train gym:CartPole-v1 --resume {tmp_path / 'g'}`" in err
    assert err.count("\n") == 1


def test_time_budget_drives_schedules_without_rewriting_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import kingme.ppo.train
    from kingme.selfplay.train import SelfPlayCallback, SelfPlayConfig, train_checkers

    # The training loop's clock moves 0.15 s in each update's callback and stands still otherwise,
    # so the 1.2 s budget ends after the same 8 or 9 updates on any machine (on the real clock a
    # busy processor spent it in the first update, and the schedules had no second row to move in).
    clock = [0.0]
    after_update = SelfPlayCallback.__call__

    def tick(self: SelfPlayCallback, info: Any) -> None:
        after_update(self, info)
        clock[0] += 0.15

    monkeypatch.setattr(kingme.ppo.train, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    monkeypatch.setattr(SelfPlayCallback, "__call__", tick)
    cfg = SelfPlayConfig(
        num_envs=8,
        num_steps=8,
        hidden_sizes=(16,),
        total_steps=10**9,
        minutes=0.02,
        eval_games=2,
        eval_ladder=("random",),
        eval_every_minutes=0,
        ent_coef=0.01,
        ent_coef_final=0.001,
        ent_schedule="linear",
        anneal_lr=True,
        tensorboard=False,
        checkpoint_every=0,
    )
    result = train_checkers(cfg, None, quiet=True)
    assert cfg.total_steps == 10**9  # the budget is passed to train(), not written into the config
    rows = result.history
    assert 8 <= len(rows) <= 9  # it stopped after the update that spent the budget
    lrs = [r["charts/learning_rate"] for r in rows]
    ents = [r["charts/entropy_coef"] for r in rows]
    # The schedules span the time budget: by the end they have moved most of the way.
    assert lrs[0] == pytest.approx(cfg.learning_rate, rel=0.02) and lrs[-1] < 0.6 * cfg.learning_rate
    assert ents[-1] < 0.6 * cfg.ent_coef + 0.4 * cfg.ent_coef_final
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_string_list_fields_are_refused_in_one_line() -> None:
    from kingme.common import UserError
    from kingme.selfplay.config import SelfPlayConfig

    with pytest.raises(UserError, match="tuple of player specs"):
        SelfPlayConfig(bots="random").validate()  # type: ignore[arg-type]


def test_torch_threads_default_to_one_per_usable_core_and_a_run_uses_them() -> None:
    import os

    import torch

    from kingme.common import usable_cores
    from kingme.selfplay.train import SelfPlayConfig, train_checkers

    assert usable_cores() == len(os.sched_getaffinity(0))
    assert SelfPlayConfig().threads == usable_cores()
    assert SelfPlayConfig(torch_threads=1).threads == 1
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        cfg = SelfPlayConfig(
            num_envs=8, num_steps=8, hidden_sizes=(16,), total_steps=64, minutes=0, eval_games=2,
            eval_ladder=("random",), eval_every_minutes=0, tensorboard=False, checkpoint_every=0,
        )  # fmt: skip
        train_checkers(cfg, None, quiet=True)
        assert torch.get_num_threads() == usable_cores()
    finally:
        torch.set_num_threads(before)


def test_init_model_starts_from_its_weights_and_a_mismatch_is_refused_before_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kingme.players.policy import load_model

    assert _train(tmp_path, "--total-steps", "64", "--run-name", "a") == 0
    first = tmp_path / "a" / "final_model.safetensors"
    # a learning rate too small to move a weight: the second run ends where the first one did
    init = ("--init-model", str(first), "--learning-rate", "1e-12")
    assert _train(tmp_path, "--total-steps", "64", "--run-name", "b", *init) == 0
    a, _ = load_model(first)
    b, _ = load_model(tmp_path / "b" / "final_model.safetensors")
    for (name, wa), wb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(wa, wb, atol=1e-8), name
    fresh = _train(tmp_path, "--total-steps", "64", "--run-name", "c", "--learning-rate", "1e-12")
    assert fresh == 0
    c, _ = load_model(tmp_path / "c" / "final_model.safetensors")
    assert not all(torch.equal(wa, wc) for wa, wc in zip(a.state_dict().values(), c.state_dict().values()))
    capsys.readouterr()

    for bad, says in ((str(first), "is not this run's"), (str(tmp_path / "none"), "not a readable model file")):
        code = _train(tmp_path, "--total-steps", "64", "--run-name", "d", "--init-model", bad, "--hidden-sizes", "8")
        err = capsys.readouterr().err
        assert code == 2 and says in err and err.count("\n") == 1
        assert not (tmp_path / "d").exists()
