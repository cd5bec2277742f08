"""Experiments that test claims about PPO: `kingme experiment list|run|report` (docs/experiments.md)."""
