"""entropy-law: the recipe of its arms, its per-run measures on made-up histories (a planted law is
predicted, a broken one is not), its verdict rules on made-up results, and its tiny run."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from kingme.experiments import entropy_law as el
from kingme.experiments.base import History, RunResult
from kingme.experiments.lm_runs import make_lm_config
from kingme.experiments.runner import run_experiment
from kingme.lm import entropy_mechanics as em


def test_every_arm_has_the_recipe_and_its_one_change() -> None:
    configs = {a.label: make_lm_config(a, 1) for a in el.arms(tiny=False)}
    assert list(configs) == [*el.ALGOS, *el.FIXES]
    for label, cfg in configs.items():
        rl = cfg.rl.resolved()
        assert (rl.updates, rl.prompts_per_update, rl.group_size, rl.minibatches) == (el.UPDATES, 32, 8, 2)
        assert rl.kl_coef == 0.0 and rl.lr == 3e-4 and rl.warmup == 10
        assert cfg.pretrain.max_level == 1 and cfg.pretrain.steps == 100 and not cfg.pretrain.scratchpad
        changes = {
            "clip_cov": rl.clip_cov > 0,
            "kl_cov": rl.kl_cov > 0,
            "ent": rl.ent_coef > 0,
            "higher": rl.clip_high != rl.clip_low,
            "forks": rl.entropy_tokens < 1,
        }
        expected = {el.CLIP_COV: "clip_cov", el.KL_COV: "kl_cov", el.BONUS: "ent", el.HIGHER: "higher", el.TOP: "forks"}
        assert [k for k, on in changes.items() if on] == ([expected[label]] if label in expected else [])
    assert configs[el.RLOO].rl.algo == "rloo" and configs[el.PPO].rl.algo == "ppo"
    assert configs[el.KL_COV].rl.clip is False  # Cui et al.'s KL-Cov has no ratio clip
    assert configs[el.TOP].rl.entropy_tokens == 0.2 and configs[el.HIGHER].rl.clip_high == 0.28


def history(H: np.ndarray, R: np.ndarray, n: int = 256) -> History:
    """A run's history: row 0 the base, then one row per update."""
    rows: History = [{"update": 0, "global_step": 0}]
    for i, (h, r) in enumerate(zip(H, R, strict=True), 1):
        rows.append({"update": i, "global_step": i * n, "losses/entropy": h, "charts/reward": r,
                     "charts/cov_logp_adv": 0.1})  # fmt: skip
    return rows


H_PATH = 0.15 + 0.35 * np.exp(-np.arange(150) / 40)  # entropy falling from 0.5 to about 0.18


def metrics(h: History) -> dict[str, float]:
    return {m.key: m.fn(h) for m in el.METRICS}


def test_a_law_that_holds_is_predicted_and_a_broken_one_is_not() -> None:
    held = metrics(history(H_PATH, em.law(0.7, 1.75, H_PATH)))
    assert held["law_error"] == pytest.approx(0.0, abs=1e-9) and held["a"] == pytest.approx(0.7)
    assert held["a_early"] == pytest.approx(0.7) and held["r2"] == pytest.approx(1.0)
    assert held["moved"] < -0.1  # R rose by more than the tolerance: something to predict
    broken = em.law(0.7, 1.75, H_PATH)
    broken[15:] -= 0.2  # after the first tenth, R falls by 0.2 whatever H does
    m = metrics(history(H_PATH, broken))
    assert m["law_error"] == pytest.approx(0.2)
    # the planted control reads the run's entropy path only, so it is the same for both
    assert m["planted_error"] == held["planted_error"] and abs(m["planted_error"]) < 0.1
    assert held["h_start"] == pytest.approx(H_PATH[:15].mean()) and held["h_end"] == pytest.approx(H_PATH[-15:].mean())


def test_the_planted_reward_follows_the_planted_law() -> None:
    h = history(H_PATH, np.zeros(150))
    R = el.planted_rewards(h)
    assert R.shape == (150,) and np.all((R >= 0) & (R <= 1))
    assert np.all(np.round(R * 256) == R * 256)  # counts of 256 responses
    assert np.abs(R - em.law(el.PLANTED_A, el.PLANTED_B, H_PATH)).mean() < 0.05  # binomial noise about 0.03
    assert np.array_equal(R, el.planted_rewards(h))  # the same path, the same draws


def test_too_short_a_run_gives_nan_not_an_error() -> None:
    m = metrics(history(H_PATH[:3], np.array([0.1, 0.2, 0.3])))
    assert math.isnan(m["law_error"]) and math.isnan(m["planted_error"])


def fake(values: dict[str, dict[str, list[float]]], exp: Any = el.EXPERIMENT) -> Any:
    arms = exp.arms(True)
    results = exp.new_results(5, True, arms)
    for arm in arms:
        per_key = values.get(arm.label, values["default"])
        for seed in range(1, 6):
            m = {k: v[seed - 1] for k, v in per_key.items()}
            results.runs.append(RunResult(arm.label, arm.env, seed, 1.0, [0], {}, m))
    return results


GOOD = {
    "law_error": [0.01, -0.01, 0.02, 0.0, -0.02],
    "moved": [-0.3, -0.32, -0.28, -0.31, -0.3],
    "planted_error": [0.0, 0.01, -0.01, 0.02, -0.02],
    "planted_moved": [-0.3, -0.3, -0.31, -0.29, -0.3],
    "a": [0.70, 0.72, 0.68, 0.71, 0.69],
    "cov_lag": [-0.3, -0.4, -0.2, -0.35, -0.3],
}


def verdict(results: Any) -> str:
    return el.conclude(results)[-1]


def test_the_verdict_rules() -> None:
    assert el.law_verdict(fake({"default": GOOD}), el.GRPO) == "predicted"
    assert verdict(fake({"default": GOOD})).endswith("**reproduced**.")
    assert el.a_verdict(fake({"default": GOOD}))[0] == "same"
    off = {**GOOD, "law_error": [0.15, 0.12, 0.2, 0.11, 0.14]}
    assert el.law_verdict(fake({"default": GOOD, el.RLOO: off}), el.RLOO) == "not predicted"
    assert verdict(fake({"default": GOOD, el.RLOO: off})).endswith("**not reproduced**.")
    still = {**GOOD, "moved": [0.01, -0.02, 0.0, 0.02, -0.01]}
    assert el.law_verdict(fake({"default": still}), el.GRPO) == "nothing to predict"
    wide = {**GOOD, "law_error": [0.1, -0.1, 0.05, 0.0, -0.04]}
    assert el.law_verdict(fake({"default": wide}), el.GRPO) == "inconclusive"
    failed_control = {**GOOD, "planted_error": [0.2, 0.15, 0.18, 0.22, 0.17]}
    assert "inconclusive (the positive control" in verdict(fake({"default": failed_control}))
    doubled = {**GOOD, "a": [1.4, 1.45, 1.38, 1.42, 1.41]}
    assert el.a_verdict(fake({"default": GOOD, el.PPO: doubled}))[0] == "different"


def test_tiny_run() -> None:
    results = run_experiment(el.EXPERIMENT, seeds=2, tiny=True, progress=False)
    answer = el.conclude(results)
    assert answer[-1].startswith("Verdict on the law")
    assert len(results.runs) == 2 * len(el.arms(tiny=True))
    for r in results.runs:
        assert all(v is None or v >= 0 for v in r.series["losses/entropy"])


# ---------------------------------------------------------------------------------------------
# The second design (`--design early`): the algorithms only, no warm-up, its own verdicts
# ---------------------------------------------------------------------------------------------


def test_the_early_design_is_the_algorithms_in_the_early_setting() -> None:
    first = {a.label: make_lm_config(a, 1) for a in el.arms(tiny=False)}
    configs = {a.label: make_lm_config(a, 1) for a in el.early_arms(tiny=False)}
    assert list(configs) == list(el.ALGOS)
    for label, cfg in configs.items():
        rl, ref = cfg.rl.resolved(), first[label].rl.resolved()
        assert rl.warmup == 0 and rl.lr == 1e-3 and rl.minibatches == 4 and rl.algo == ref.algo
        assert (rl.updates, rl.prompts_per_update, rl.group_size, rl.kl_coef) == (
            ref.updates, ref.prompts_per_update, ref.group_size, ref.kl_coef,
        )  # fmt: skip
        assert cfg.pretrain == first[label].pretrain  # the same base
    assert el.EARLY.seeds >= 5 and el.EARLY.name == "entropy-law-early"
    # its planted law has its ceiling at 1 (the entropy reaches 0 here), the first design's is unchanged
    assert round(el.EARLY_PLANTED_B - el.EARLY_PLANTED_A, 9) == 1.0
    assert (el.PLANTED_A, el.PLANTED_B) == (0.7, 1.75)


def test_the_planted_control_uses_the_designs_law() -> None:
    H = np.full(150, 0.02)  # an entropy at the end of the early design
    h = history(H, np.zeros(150))
    first = el.planted_rewards(h)
    early = el.planted_rewards(h, (el.EARLY_PLANTED_A, el.EARLY_PLANTED_B))
    assert first.mean() == 1.0  # −0.7·exp(0.02) + 1.75 = 1.036: clipped to 1
    assert 0.95 < early.mean() < 1.0  # −0.7·exp(0.02) + 1.70 = 0.986
    keys = {m.key for m in el.EARLY.metrics}
    assert keys == {m.key for m in el.METRICS}


def test_the_early_design_speaks_only_of_its_arms_and_keeps_the_rules() -> None:
    answer = el.conclude(fake({"default": GOOD}, el.EARLY))
    assert answer[-1].endswith("**reproduced**.")
    assert not any(fix in line for line in answer for fix in el.FIXES)
    failed_control = {**GOOD, "planted_error": [0.2, 0.15, 0.18, 0.22, 0.17]}
    assert "inconclusive (the positive control" in el.conclude(fake({"default": failed_control}, el.EARLY))[-1]
    under = {**GOOD, "law_error": [-0.15, -0.12, -0.2, -0.11, -0.14]}
    assert el.conclude(fake({"default": GOOD, el.PPO: under}, el.EARLY))[-1].endswith("**not reproduced**.")
    assert el.a_verdict(fake({"default": GOOD}, el.EARLY))[0] == "same"


def test_the_early_design_tiny_run_and_its_command(tmp_path: Any) -> None:
    results = run_experiment(el.EARLY, seeds=2, tiny=True, progress=False)
    assert {r.arm for r in results.runs} == set(el.ALGOS) and len(results.runs) == 6
    assert el.conclude(results)[-1].startswith("Verdict on the law")
    assert el.main([str(tmp_path / "x"), "--seeds", "1"]) == 2  # too few seeds: an error, not a run
    assert el.main([str(tmp_path / "out"), "--design", "early", "--seeds", "2", "--tiny", "--backend", "serial"]) == 0
    assert el.by_name(el.EARLY.name) is el.EARLY and el.by_name(el.EXPERIMENT.name) is el.EXPERIMENT
    assert (tmp_path / "out" / "report.md").exists() and (tmp_path / "out" / "law.png").exists()
