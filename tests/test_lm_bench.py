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
