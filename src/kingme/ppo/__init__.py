"""Proximal Policy Optimisation (Schulman et al. 2017), game-agnostic, for any batched `VecEnv`.

`core` holds the maths as pure functions (GAE, the clipped surrogate, the value loss, KL estimators,
masked entropy and the entropy schedule); `buffer` the rollout storage; `train` the loop, one update
as three marked phases (rollout with θ_old frozen, advantages, K epochs of minibatch updates), with
an explicit `Budget` of steps and seconds that drives both the stop and the schedules; `checkpoint`
everything a run needs to resume, in one safetensors file per update; `logger` the metrics written
to metrics.jsonl and TensorBoard; `report` a run's learning curve. Nothing here knows about
checkers: `kingme train gym:ENV_ID` (commands) and self-play (kingme.selfplay) both call `train()`.
docs/ppo.md explains each part and each metric.
"""
