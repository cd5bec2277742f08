"""The experiments by name: PPO's claims first, then the language model's, then the model organisms
of alignment failures, then checkers strength."""

from __future__ import annotations

from kingme.common import UserError
from kingme.experiments.base import Experiment


def experiments() -> dict[str, Experiment]:
    from kingme.experiments import (
        clipping,
        cot_faithfulness,
        cot_monitor,
        cot_necessity,
        critic,
        entropy,
        entropy_law,
        exploration,
        freeze,
        goal_misgeneralisation,
        goodhart,
        hack_generalisation,
        kl_placement,
        learned_eval,
        lm_absent_skill,
        lm_algos,
        lm_flawed_verifier,
        lm_length_bias,
        lm_passk,
        loss_explained,
        misspec,
        pos_neg_samples,
        process_reward,
        rl_razor,
        spurious_rewards,
        sycophancy,
    )

    exps = [freeze, clipping, critic, entropy, exploration, misspec]
    exps += [lm_algos, lm_passk, lm_absent_skill, lm_flawed_verifier, lm_length_bias]
    exps += [cot_monitor, cot_necessity, cot_faithfulness, process_reward, hack_generalisation]
    exps += [goal_misgeneralisation, kl_placement]
    exps += [spurious_rewards, entropy_law, goodhart, pos_neg_samples, loss_explained, rl_razor]
    exps += [sycophancy]
    exps += [learned_eval]
    out = {m.EXPERIMENT.name: m.EXPERIMENT for m in exps}
    out[entropy_law.EARLY.name] = entropy_law.EARLY  # entropy-law's second design (entropy falling early)
    return out


def get(name: str) -> Experiment:
    exps = experiments()
    if name not in exps:
        raise UserError(f"unknown experiment {name!r}: expected one of {', '.join(exps)}")
    return exps[name]
