"""The experiments by name, in the order of the claims they test (issue 8)."""

from __future__ import annotations

from kingme.common import UserError
from kingme.experiments.runner import Experiment


def experiments() -> dict[str, Experiment]:
    from kingme.experiments import (
        clipping,
        critic,
        entropy,
        exploration,
        freeze,
        learned_eval,
        lm_absent_skill,
        lm_algos,
        lm_flawed_verifier,
        lm_length_bias,
        lm_passk,
        misspec,
    )

    exps = [freeze, clipping, critic, entropy, exploration, misspec]
    exps += [lm_algos, lm_passk, lm_absent_skill, lm_flawed_verifier, lm_length_bias]  # issue 14
    exps += [learned_eval]  # issue 13
    return {m.EXPERIMENT.name: m.EXPERIMENT for m in exps}


def get(name: str) -> Experiment:
    exps = experiments()
    if name not in exps:
        raise UserError(f"unknown experiment {name!r}: expected one of {', '.join(exps)}")
    return exps[name]
