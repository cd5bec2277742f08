"""The language-model experiments: each run tiny through `kingme experiment run`, its report
and plots written, and its numbers checked against what must hold whatever was learned."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kingme.common import UserError
from kingme.experiments import commands, lm_length_bias
from kingme.experiments.lm_runs import lm_arm, make_lm_config
from kingme.experiments.registry import experiments
from kingme.lm.tasks import Addition

LM = ["lm-algos", "lm-passk", "lm-absent-skill", "lm-flawed-verifier", "lm-length-bias"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {}


def run_tiny(name: str, folders: dict[str, Path], tmp: Path) -> tuple[Path, dict[str, Any]]:
    if name not in folders:
        args = ["run", name, "--tiny", "--seeds", "2", "--quiet", "--runs-dir", str(tmp), "--run-name", name]
        assert commands.main(args) == 0
        folders[name] = tmp / name
    out = folders[name]
    return out, json.loads((out / "results.json").read_text())


def metric(results: dict[str, Any], arm: str, key: str) -> list[float]:
    return [
        float("nan") if r["metrics"][key] is None else r["metrics"][key] for r in results["runs"] if r["arm"] == arm
    ]


def test_listed() -> None:
    assert all(name in experiments() for name in LM)


@pytest.mark.parametrize("name", LM)
def test_report_and_common_sanity(
    name: str, folders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    out, results = run_tiny(name, folders, tmp_path_factory.mktemp(name))
    exp = experiments()[name]
    report = (out / "report.md").read_text()
    assert "## Answer" in report and "95%" in report and "RLConfig" in report
    for file in [line.rsplit("(", 1)[1].rstrip(")") for line in report.splitlines() if line.startswith("![")]:
        assert (out / file).is_file(), file  # every plot the report shows exists
    arms = {a["arm"] for a in results["table"]}
    assert arms == {a.label for a in exp.arms(True)} and len(results["runs"]) == 2 * len(arms)
    for r in results["runs"]:
        steps = r["steps"]  # responses sampled: 0 for the base, then P·G = 16 per update
        assert steps[0] == 0 and all(b - a == 16 for a, b in zip(steps, steps[1:], strict=False))
        p1 = [v for v in r["series"]["charts/test_pass1"] if v is not None]
        assert p1 and all(0.0 <= v <= 1.0 for v in p1)
        assert r["seconds"] > 0


def test_algos_share_the_base_and_gain_is_after_minus_before(
    folders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, results = run_tiny("lm-algos", folders, tmp_path_factory.mktemp("a"))
    for seed in (1, 2):
        runs = [r for r in results["runs"] if r["seed"] == seed]
        assert len({r["metrics"]["base_pass1"] for r in runs}) == 1  # every algorithm starts from one base
        for r in runs:
            m = r["metrics"]
            assert m["gain"] == pytest.approx(m["test_pass1"] - m["base_pass1"])
            assert m["seconds"] > 0 and m["entropy"] > 0 and 0 <= m["zero_adv"] <= 1
            assert m["responses"] == r["steps"][-1] == 3 * 16  # tiny: 3 updates of 4 prompts × 4 samples
            assert m["gain_per_k"] == pytest.approx(m["gain"] / (m["responses"] / 1000))
            assert m["test_pass1"] == r["series"]["charts/test_pass1"][-1]


def test_passk_is_monotone_and_paired(folders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> None:
    _, results = run_tiny("lm-passk", folders, tmp_path_factory.mktemp("p"))
    ks = (1, 2, 4, 8)  # the tiny runs draw 8 samples a problem
    for r in results["runs"]:
        values = [r["metrics"][f"pass@{k}"] for k in ks]
        assert all(0 <= v <= 1 for v in values) and values == sorted(values)  # pass@k never falls with k
        assert r["metrics"]["pass@64"] is None or math.isnan(r["metrics"]["pass@64"])  # not measured: n < 64
    base = {r["seed"]: r["metrics"] for r in results["runs"] if r["arm"] == "base"}
    for r in results["runs"]:
        m = r["metrics"]
        for k in ks:
            if r["arm"] == "base":
                assert m[f"gain@{k}"] == 0.0
            else:  # the RL arm's paired base is the base arm's model of the same seed
                assert m[f"pass@{k}"] - m[f"gain@{k}"] == pytest.approx(base[r["seed"]][f"pass@{k}"])


def test_absent_skill_measures_the_skill(folders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> None:
    _, results = run_tiny("lm-absent-skill", folders, tmp_path_factory.mktemp("s"))
    for r in results["runs"]:
        m = r["metrics"]
        assert 0 <= m["base_skill"] <= 1 and 0 <= m["skill"] <= 1
        assert m["skill_gain"] == pytest.approx(m["skill"] - m["base_skill"])
        assert [m[f"base_pass@{k}"] for k in (1, 8)] == sorted(m[f"base_pass@{k}"] for k in (1, 8))
    cfg = make_lm_config(lm_arm("x", "addition", True, {}, pretrain_max_skill=1, skill=2), 1)
    assert cfg.pretrain.max_skill == 1 and cfg.skill == 2


def test_flawed_verifier_pays_at_least_the_truth(
    folders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, results = run_tiny("lm-flawed-verifier", folders, tmp_path_factory.mktemp("f"))
    for r in results["runs"]:
        m = r["metrics"]
        assert m["kl"] is not None and m["kl"] >= 0  # measured in every arm, β = 0 too
        if r["arm"] == "exact verifier":
            assert m["gap"] == 0.0 and m["proxy"] == m["true"]
        else:  # the last-digit verifier pays every right answer, so it never pays less than the truth
            assert m["gap"] >= 0.0 and m["proxy"] >= m["true"]
        paid, true = (
            np.array([v for v in r["series"][k] if v is not None]) for k in ("charts/reward", "charts/true_reward")
        )
        assert len(paid) == len(true) and ((paid >= true) if r["arm"] != "exact verifier" else (paid == true)).all()


def test_length_bias_lengths_are_in_range(folders: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> None:
    _, results = run_tiny("lm-length-bias", folders, tmp_path_factory.mktemp("l"))
    width = Addition(2, use_scratchpad=True).response_width  # 23: a written-out two-digit sum and EOS
    for r in results["runs"]:
        lengths = [v for v in r["series"]["charts/length_wrong"] if v is not None]
        assert lengths and all(1 <= v <= width for v in lengths)  # EOS alone .. the response width
        assert 1 <= r["metrics"]["wrong"] <= width
    arm = lm_length_bias.arms(tiny=False)[0]
    cfg = make_lm_config(arm, 1)
    assert cfg.pretrain.scratchpad and cfg.pretrain.scratchpad_share == 0.5  # the base can answer short or long


def test_bad_arm_settings_are_one_line_errors() -> None:
    with pytest.raises(UserError, match="arm 'x'"):
        make_lm_config(lm_arm("x", "addition", True, {}, no_such_field=1), 1)
    with pytest.raises(UserError, match="pass_samples"):
        make_lm_config(lm_arm("x", "addition", False, {}, pass_k=(1, 128), pass_samples=64), 1)
    with pytest.raises(UserError, match="held-out-share"):
        make_lm_config(lm_arm("x", "addition", False, {}, pretrain_held_out_share=0.1), 1)
