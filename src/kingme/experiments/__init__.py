"""Experiments that test claims people make about PPO, each as arms × seeds of ordinary PPO runs.

One module per claim (clipping, the critic, the entropy bonus, exploration in deep sea, freezing the
old policy, a misspecified reward) declares its arms, its per-run metrics, its curves and how the
numbers turn into an answer; `registry` lists them; `runner` trains every arm for every seed on one
torch thread and measures each update's real policy change; `kingme.stats` gives means with 95%
t-intervals; `report` writes the run folder (config.json, metrics.jsonl, results.json, report.md and
its plots). `kingme experiment list|run|report` (commands) drives it; docs/experiments.md collects
the reports and compares them with published findings.
"""
