"""`kingme bench lm`: the old code's export, a worker run under it, the ratio's interval and the FLOP count."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kingme.common import UserError
from kingme.lm.bench import export_source, forward_flops, main, matmul_gflops, ratio_interval, run_worker


def test_forward_flops_by_hand() -> None:
    # one layer, C = 2, V = 3, one sequence of 2 tokens with both read out:
    # matmuls 2·12·C²·s = 2·12·4·2 = 192; attention 2·C·s(s+1) = 2·2·2·3 = 24; head 2·C·V·2 = 24
    assert forward_flops(1, 2, 3, [2], [2]) == 192 + 24 + 24
    assert forward_flops(2, 2, 3, [2], [2]) == 2 * (192 + 24) + 24
    # two sequences of 1 and 2 tokens, one token read out of each: 96 + 2·2·1·2 and 192 + 24, head 12 + 12
    assert forward_flops(1, 2, 3, [1, 2], [1, 1]) == (96 + 8) + (192 + 24) + 24


def test_ratio_interval_is_the_geometric_mean_of_the_pairs() -> None:
    r, lo, hi = ratio_interval([2.0, 8.0], [1.0, 2.0])  # pairs 2 and 4
    assert r == pytest.approx(math.sqrt(8.0))
    assert lo < r < hi
    r1, lo1, _ = ratio_interval([3.0], [2.0])
    assert r1 == pytest.approx(1.5) and math.isnan(lo1)


def test_matmul_throughput_is_measured() -> None:
    assert 0 < matmul_gflops([(256, 128, 128)], seconds=0.05) < 1e5  # a finite, positive rate


def test_export_of_a_commit_and_a_worker_run_under_it(tmp_path: Path) -> None:
    """HEAD's src exported outside the tree, and one update of the workload run under that package."""
    from kingme.lm.pretrain import PretrainConfig, pretrain, save_checkpoint

    commit = export_source("HEAD", tmp_path)
    assert len(commit) == 40 and (tmp_path / "src" / "kingme" / "lm" / "rl.py").is_file()
    small = {"n_layer": 1, "n_head": 2, "n_embd": 16, "train_size": 100, "eval_problems": 4, "device": "cpu"}
    model, task, _ = pretrain(PretrainConfig(task="addition", max_level=1, steps=5, **small))  # type: ignore[arg-type]
    save_checkpoint(tmp_path / "base.safetensors", model, task)
    out = run_worker(tmp_path / "src", tmp_path / "base.safetensors", "dr_grpo", 2, 1, 1)
    assert out["tokens_per_s"] > 0 and out["tokens_per_cpu_s"] > 0 and len(out["rewards"]) == 2
    assert Path(out["package"]).is_relative_to(tmp_path / "src")


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is not a commit"):
        export_source("no-such-ref-anywhere", tmp_path)
    with pytest.raises(UserError, match="--algo"):
        main(["--algo", "sac"])
    with pytest.raises(UserError, match="at least 1"):
        main(["--updates", "0"])


def test_the_runs_alternate_and_each_algorithm_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench() with the workers replaced: the sides alternate (REF first on odd seeds), each
    algorithm's row reaches the callback with both medians and the paired ratios."""
    from kingme.lm import bench as lm_bench

    calls: list[tuple[str, int]] = []

    def worker(src: Path, base: Path, algo: str, updates: int, epochs: int, seed: int) -> dict[str, object]:
        side = "old" if src.parent.name != "this" else "new"
        calls.append((side, seed))
        rate = 200.0 if side == "new" else 100.0
        return {"tokens_per_s": rate * seed, "tokens_per_cpu_s": rate, "rewards": [0.5], "package": str(src)}

    monkeypatch.setattr(lm_bench, "run_worker", worker)
    monkeypatch.setattr(lm_bench, "make_base", lambda path: None)
    monkeypatch.setattr(lm_bench, "export_source", lambda ref, dest: "0" * 40)
    seen: dict[str, dict[str, object]] = {}
    result = lm_bench.bench(("grpo", "ppo"), 2, 2, 1, "REF", False, lambda algo, row: seen.setdefault(algo, row))
    assert calls[:4] == [("old", 1), ("new", 1), ("new", 2), ("old", 2)]
    assert set(seen) == {"grpo", "ppo"} and result["algos"]["grpo"] is seen["grpo"]
    assert seen["grpo"]["ratio"][0] == pytest.approx(2.0) and seen["grpo"]["cpu_ratio"][0] == pytest.approx(2.0)
