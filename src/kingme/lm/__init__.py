"""RL for reasoning models, small enough to see: a tiny character-level language model trained here.

- `tasks`: verifiable problems in text (addition and Countdown with or without a scratchpad, paths
  in a graph), each with an exact verifier, a difficulty knob, a held-out test split and a skill
  measure that pre-training can hold out; a user's own task as a plug-in `module:Name` (`plugins`);
- `steps`: the scratchpad read step by step (marks, whether the answer follows, faithfulness);
- `exploits`: rewards with a known loophole and exactly whether a response used it;
- `prompts`, `hints`: what is written in front of a prompt; a hint right at a chosen rate;
- `priors`: behaviours planted in the base at a chosen frequency, and read back exactly;
- `load_bearing`: whether an answer changes when its scratchpad is corrupted or cut;
- `rewards`, `monitors`: what `--reward` pays and what `--monitors` flag, built-in or plug-ins;
- `vocab`, `sampling`: the character vocabulary; sampling with a KV cache, temperature and top-k;
- `pretrain`: the base model, by supervised learning on generated solutions;
- `algos`: PPO, GRPO, Dr. GRPO, RLOO and REINFORCE as pure functions over one rollout format,
  reusing `kingme.ppo.core`'s clipped surrogate, KL estimator, GAE and entropy; pass@k;
- `rl`: the one rollout loop and the training loop that applies any of them;
- `commands`: `kingme lm pretrain | train | eval | sample`.

The model is `kingme.transformer.GPT`, the same causal transformer as the Decision Transformer's.
docs/reasoning.md has the equations side by side.
"""
