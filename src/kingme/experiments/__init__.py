"""Experiments that test published claims about PPO and RL on language models, as arms × seeds of runs.

One module per claim declares its arms, its per-run metrics, its curves, how the numbers turn into
an answer, and its kind of run: a `RunKind` (`base`), one file each (`ppo_runs`: PPO on a small
environment, measuring each update's real policy change; `lm_runs`: RL on the tiny language
model; `match_runs`: a checkers match). `registry` lists the experiments; `runner` runs every arm
for every seed through the kind, one at a time on one torch thread or as Ray tasks; `summaries`
turns a run's history into the metrics' scalars; `kingme.stats.summarise` gives each mean its 95%
interval (cut to the quantity's range); `report` and `plots` write the run folder (config.json,
metrics.jsonl, results.json, report.md and its plots). `kingme experiment list|run|report`
(commands) drives it; docs/experiments.md collects the reports and compares them with published
findings, and says how to add a kind of run.
"""
