"""Learning test: on a tiny graph, the trained models find (near-)shortest paths from random walks."""

from __future__ import annotations

import math

import pytest
import torch

from kingme.dt.experiment import RunConfig, run_seed


@pytest.mark.learning
@pytest.mark.parametrize("seed", [1, 2])
def test_decision_transformer_and_return_prediction_learn_shortest_paths(seed: int) -> None:
    torch.set_num_threads(1)
    cfg = RunConfig(
        nodes=8,
        edge_prob=0.3,
        walks=300,
        max_steps=6,
        n_embd=32,
        steps=150,
        lr=2e-3,
        eval_episodes=5,
    )
    result = run_seed(cfg, seed)
    m = result["methods"]
    assert result["eval_pairs"] >= 5
    # the task is not trivial: the random walk fails often or takes long detours
    assert m["random"]["success"] < 0.8 or m["random"]["length_ratio"] > 1.8
    # learning happened: losses well below an untrained model's log(8) ~ 2.08 ...
    assert result["final_loss"]["dt"] < 0.6 * math.log(cfg.nodes)
    # ... and the learned ways to act reach the goal on near-shortest paths
    assert m["dt"]["success"] >= 0.95
    assert m["dt"]["length_ratio"] <= 1.1
    assert m["rp"]["success"] >= 0.9
    assert m["dt"]["success"] > m["random"]["success"] or (m["dt"]["length_ratio"] < m["random"]["length_ratio"] - 0.5)
    assert m["shortest"]["success"] == 1.0 and m["shortest"]["length_ratio"] == 1.0
