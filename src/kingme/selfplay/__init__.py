"""Where PPO meets checkers: self-play training of a checkers policy.

`env.SelfPlayEnv` is a `VecEnv` of N games of the learner against an opponent pool (`env.OpponentPool`:
its live self, frozen snapshots of earlier learners, and search bots as a curriculum); the
opponents move inside the environment's step, so PPO (`kingme.ppo`, unchanged and game-agnostic)
only sees the learner's decision points. `train` runs it (`kingme train checkers`): the run
folder, the time budget, and a ladder evaluation on a schedule through `kingme.arena.ladder`, the
same code as `kingme ladder`. `bench` measures the loop's speed against the bound its network
sets. The networks are in `kingme.nets`, the trained player (`policy:`) in
`kingme.players.policy`, and moves to actions in `kingme.envs.bridge`.
"""
