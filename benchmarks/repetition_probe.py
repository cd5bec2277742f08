"""Would a policy that sees repetitions draw less? An upper-bound probe for the repetition lever.

The raw policy plays its most probable move; this variant plays its most probable move among those
that do not bring a position back a third time (a threefold repetition, a draw by rule), falling
back to the most probable one when every move repeats. Neither is trained differently: if even
this rule, which knows exactly which moves repeat, does not raise the score against the ladder's
bots, a repetition count in the observation cannot do so through the policy either.

    python benchmarks/repetition_probe.py MODEL [--games 200] [--rungs alphabeta:2,alphabeta:4]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from kingme.arena.ladder import run_ladder
from kingme.checkers import Board, Move
from kingme.players.policy import PolicyPlayer, load_model, move_distributions


class NoRepetitionPolicy(PolicyPlayer):
    """The most probable move that does not repeat a position a third time."""

    def choose_batch(self, boards: Sequence[Board]) -> list[Move]:
        dists, _ = move_distributions(self.agent, boards, 1.0, self.device)
        out = []
        for board, dist in zip(boards, dists):
            ranked = [m for m, _ in sorted(dist, key=lambda mq: -mq[1])]
            pick = ranked[0]
            for m in ranked:
                board.push(m)
                repeats = board.repetitions() >= 3
                board.pop()
                if not repeats:
                    pick = m
                    break
            out.append(pick)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("model")
    ap.add_argument("--games", type=int, default=200)
    ap.add_argument("--rungs", default="alphabeta:2,alphabeta:4")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    agent, _ = load_model(args.model)
    rungs = args.rungs.split(",")
    print("player                  rung          W    D    L  score  95% interval")
    for player in (PolicyPlayer(agent, "raw policy"), NoRepetitionPolicy(agent, "no third repetition")):
        for r in run_ladder(player, args.games, rungs, args.seed).rungs:
            st = r.stats.as_dict()
            lo, hi = st["score_ci95"]
            print(
                f"{player.name:<22}  {r.rung:<12} {st['wins']:>4} {st['draws']:>4} {st['losses']:>4}"
                f"  {st['score']:.3f}  [{lo:.3f}, {hi:.3f}]"
            )


if __name__ == "__main__":
    main()
