"""Environments as batched arrays, for the learning code.

`checkers_vec.CheckersVecEnv` steps N checkers games in one compiled call (one action is one step
or one single jump, 128 actions in the side-to-move frame, (6, 32) observations); `bridge` is the
one place that converts between the engine's `Board`/`Move` and those actions, observations and
mid-jump positions (`NUM_ACTIONS`, `OBS_SHAPE`, `move_to_actions`, `actions_to_move`,
`Position`); `checkers_gym` wraps one game as a Gymnasium or PettingZoo environment. The other
modules are the small tasks the experiments use (deep sea, a shaped grid world, the graph task of
the Decision Transformer) and the adapter that batches Gymnasium environments (`gym_adapter`),
all behind the `base.VecEnv` protocol.
"""
