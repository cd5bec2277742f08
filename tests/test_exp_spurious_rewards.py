"""spurious-rewards: the strategy's share read by hand, the one-example task wrapper, the saturation
measures on made-up histories, the verdict rules on made-up results, and the experiment on its tiny setting."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kingme.experiments import spurious_rewards as sr
from kingme.experiments.base import RunResult
from kingme.experiments.report import write_folder
from kingme.experiments.runner import run_experiment
from kingme.lm.one_example import OneExample
from kingme.lm.tasks import Problem, make_task, sample_problems, split_of
from kingme.lm.tasks import test_set as held_out

TASK = make_task("addition", 2, scratchpad=True)


def test_writes_scratchpad_by_hand() -> None:
    assert sr.writes_scratchpad("7+5+0=12,4+8+1=13:132")
    assert sr.writes_scratchpad("7+5+0=12,4+8+1=13:131")  # a wrong answer: the same strategy
    assert sr.writes_scratchpad("1+:10=42:62") and sr.writes_scratchpad("6+5+0=11:")  # garbled, no answer
    assert not sr.writes_scratchpad("132") and not sr.writes_scratchpad("") and not sr.writes_scratchpad("7+5")


def test_strategy_measures_by_hand() -> None:
    prompts = ["47+85="] * 5
    responses = ["7+5+0=12,4+8+1=13:132", "7+5+0=12,4+8+1=13:131", "132", "13", "7+5+0=12,4+8+1=13:132"]
    m = sr.strategy_measures(TASK, prompts, responses)
    assert m["favoured/share"] == pytest.approx(3 / 5)
    assert m["favoured/accuracy"] == pytest.approx(3 / 5)
    assert m["favoured/acc_pad"] == pytest.approx(2 / 3) and m["favoured/acc_bare"] == pytest.approx(1 / 2)
    only_pad = sr.strategy_measures(TASK, prompts[:1], responses[:1])
    assert only_pad["favoured/share"] == 1.0 and math.isnan(only_pad["favoured/acc_bare"])
    assert sr.PaysScratchpad(TASK).score(prompts, responses) == [1.0, 1.0, 0.0, 0.0, 1.0]


def test_one_example_trains_on_one_problem_and_keeps_the_test_split() -> None:
    problem = sample_problems(TASK, np.random.default_rng(3), 1, "train")[0]
    one = OneExample(TASK, problem)
    train = sample_problems(one, np.random.default_rng(4), 50, "train")
    assert {p.prompt for p in train} == {problem.prompt}
    assert held_out(one, 1, 40) == held_out(TASK, 1, 40)  # the same draws, the same test problems
    assert one.verify(problem.prompt, problem.solution) and one.check_steps(problem.prompt, problem.solution)
    assert (one.prompt_width, one.response_width, one.use_scratchpad) == (TASK.prompt_width, TASK.response_width, True)
    test_problem = held_out(TASK, 1, 1)[0]
    assert split_of(test_problem.prompt) == "test"
    with pytest.raises(ValueError, match="train-split"):
        OneExample(TASK, Problem(test_problem.prompt, test_problem.solution, 2, 0))


def history(train_acc: list[float], test: dict[int, float]) -> list[dict[str, Any]]:
    """Row 0 (the base), then one row per update with its rollout accuracy and, at some, test pass@1."""
    rows: list[dict[str, Any]] = [{"update": 0, "charts/test_pass1": test.get(0, 0.3)}]
    for u, acc in enumerate(train_acc, 1):
        rows.append({"update": u, "charts/true_reward": acc} | ({"charts/test_pass1": test[u]} if u in test else {}))
    return rows


def test_saturation_by_hand() -> None:
    acc = [0.5, 0.7, 0.9, 1.0, 1.0, 1.0, 1.0, 0.9, 1.0, 1.0]  # trailing 5-mean: 0.82 at 5, 0.92 at 6
    h = history(acc, {0: 0.3, 4: 0.35, 8: 0.4, 10: 0.45})
    assert sr.saturation_update(h) == 6.0
    assert sr.post_saturation_gain(h) == pytest.approx(0.45 - 0.4)  # from the first evaluation at or after 6
    never = history([0.5] * 10, {10: 0.5})
    assert math.isnan(sr.saturation_update(never)) and math.isnan(sr.post_saturation_gain(never))


def fake(changes: dict[str, list[float]], extra: dict[str, dict[str, list[float]]] | None = None) -> sr.Results:
    """Results whose arms have the given per-seed share changes from a 0.7 base (other metrics 0)."""
    arms = sr.arms(tiny=True)
    seeds = len(next(iter(changes.values())))
    results = sr.EXPERIMENT.new_results(seeds, True, arms)
    for arm in arms:
        for i in range(seeds):
            c = changes.get(arm.label, [0.01 * (-1) ** k for k in range(seeds)])[i]
            m = {"share_before": 0.7, "share_after": 0.7 + c, "share_change": c, "accuracy_change": 0.0}
            m |= {k: v[i] for k, v in (extra or {}).get(arm.label, {}).items()}
            results.runs.append(RunResult(arm.label, arm.env, i + 1, 1.0, [0], {}, m))
    return results


CONTROL_UP = {sr.CONTROL: [0.25, 0.28, 0.3]}


def test_shao_verdict_rule() -> None:
    yes = fake(CONTROL_UP | {sr.COIN_C4: [0.1, 0.12, 0.15], sr.COIN_U4: [0.0, 0.02, -0.02]})
    assert sr.shao_verdicts(yes) == ("reproduced", "reproduced", "reproduced")
    both = fake(CONTROL_UP | {sr.COIN_C4: [0.1, 0.12, 0.15], sr.COIN_U4: [0.1, 0.13, 0.14]})
    assert sr.shao_verdicts(both) == ("reproduced", "not reproduced", "not reproduced")  # grows without the clip too
    none = fake(CONTROL_UP | {sr.COIN_C4: [0.0, -0.05, 0.04], sr.COIN_U4: [-0.1, -0.12, -0.11]})
    # the clip lifts the share above the unclipped arm's (the rule's first case) but nothing grows: overall not
    assert sr.shao_verdicts(none) == ("not reproduced", "reproduced", "not reproduced")
    flat = fake(CONTROL_UP | {sr.COIN_C4: [0.0, -0.05, 0.04], sr.COIN_U4: [0.01, -0.04, 0.02]})
    assert sr.shao_verdicts(flat) == ("not reproduced", "not reproduced", "not reproduced")
    unclear = fake(CONTROL_UP | {sr.COIN_C4: [0.1, 0.12, 0.15], sr.COIN_U4: [0.15, -0.1, 0.2]})
    assert sr.shao_verdicts(unclear)[1] == "inconclusive"  # the difference's interval holds 0
    blind = fake({sr.CONTROL: [0.05, 0.3, 0.1], sr.COIN_C4: [0.1, 0.12, 0.15], sr.COIN_U4: [0.0, 0.02, -0.02]})
    assert sr.shao_verdicts(blind)[2] == "inconclusive" and not sr.control_detects(blind)


def test_wu_and_wang_verdict_rules() -> None:
    acc = {sr.TRUE: {"accuracy_change": [0.1, 0.12, 0.08]}}
    assert sr.wu_verdict(fake(CONTROL_UP, acc)) == "reproduced"
    coin_up = acc | {sr.COIN_C4: {"accuracy_change": [0.05, 0.06, 0.07]}}
    assert sr.wu_verdict(fake(CONTROL_UP, coin_up)) == "not reproduced"
    assert sr.wu_verdict(fake(CONTROL_UP)) == "inconclusive"
    rises = {sr.ONE: {"gain": [0.1, 0.15, 0.2], "post_saturation_gain": [0.05, 0.06, 0.04]}}
    assert sr.wang_verdict(fake(CONTROL_UP, rises)) == "reproduced"
    flat = {sr.ONE: {"gain": [0.1, 0.15, 0.2], "post_saturation_gain": [0.0, -0.02, 0.01]}}
    assert sr.wang_verdict(fake(CONTROL_UP, flat)) == "not reproduced"
    unsaturated = {sr.ONE: {"gain": [0.1, 0.15, 0.2], "post_saturation_gain": [math.nan, math.nan, 0.1]}}
    assert sr.wang_verdict(fake(CONTROL_UP, unsaturated)) == "inconclusive"


def test_tiny_experiment(tmp_path: Path) -> None:
    results = run_experiment(sr.EXPERIMENT, seeds=2, tiny=True, progress=False)
    answer = write_folder(sr.EXPERIMENT, results, tmp_path, "kingme experiment run spurious-rewards --tiny")
    labels = {a.label for a in sr.arms(tiny=True)}
    assert {r.arm for r in results.runs} == labels and len(results.runs) == 2 * len(labels) == 14
    for r in results.runs:
        m = r.metrics
        assert all(0.0 <= m[f"{k}_{w}"] <= 1.0 for k in ("share", "accuracy") for w in ("before", "after"))
        assert m["share_change"] == pytest.approx(m["share_after"] - m["share_before"])
        by_seed = [x for x in results.runs if x.seed == r.seed and x.arm != sr.ONE and r.arm != sr.ONE]
        assert all(x.metrics["share_before"] == m["share_before"] for x in by_seed)  # one base per seed
    assert any(line.startswith("Shao et al.") for line in answer)
    assert (tmp_path / "spurious.png").is_file() and "Verdict rule" in (tmp_path / "report.md").read_text()
    assert json.loads((tmp_path / "results.json").read_text())["experiment"] == "spurious-rewards"
