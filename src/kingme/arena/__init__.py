"""Matches between players, their statistics, and the one ladder.

`openings` holds the tournament three-move ballots games start from; `match` schedules fair
matches (each opening twice, colours swapped, every game and move seeded) and plays them in
lockstep for a batched player, in worker processes for search bots, or in order for a human,
ending games by the engine's `Board.outcome()` or the arena's ply cap; `elo` turns results into
scores with draw-aware Wilson intervals and maximum-likelihood Elo ratings; `ladder` owns the
rungs, their measured ratings and `run_ladder`, the one way a player (a spec or a network in
training) is rated. `commands` is the thin command line over them (`kingme arena`,
`kingme ladder`); `bench` times the search and the lockstep ladder.
"""
