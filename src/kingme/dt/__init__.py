"""The Decision Transformer (Chen et al. 2021) against behaviour cloning on graph navigation.

`data` makes the offline data set from random walks on a random graph (returns-to-go, optional goal
relabelling); `model` the trajectory GPT that predicts an action or a return from interleaved
(return, state, action) tokens; `train` its optimisation; `act` the ways to act with a trained
model (conditioning on a target return, or choosing the action of the best predicted return), next
to a random walk and the shortest path; `experiment` runs every way to act on several graph seeds,
and `report` writes the run folder's report and figures. `kingme dt run` and `kingme dt
sweep-stochastic` (commands) drive it; docs/decision-transformer.md gives the results and why.
"""
