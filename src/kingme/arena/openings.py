"""The three-move ballot: the openings that tournament checkers is played from.

In match play from the start position, strong players steer into the same few lines, so since
1934 (the American Checker Federation's "three-move restriction") each pair of games starts from
the position after the first three moves drawn by ballot, and the two players then play it once
with each colour. The ACF list numbers 174 three-move sequences; 18 of them are barred (judged lost
for one side), which leaves the 156 played here. The list below follows the ACF numbering (as
tabulated, for example, in Ed Gilbert's CheckerBoard program); an asterisk marks a barred ballot.

`all_three_ply_openings()` gives the other possible set, every distinct position after three plies
from the start, in case one wants a list with no outside source; the arena uses the ACF list.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import NamedTuple

from kingme.checkers import Board

# "first second: third third ...", numbered 1..174 in reading order; "*" = barred.
_BALLOTS = """
9-13 21-17: 5-9 6-9 10-14*
9-13 22-17: 13x22
9-13 22-18: 6-9 10-14 10-15 11-15 11-16 12-16
9-13 23-18: 5-9 6-9 10-14* 10-15 11-15 11-16 12-16
9-13 23-19: 5-9 6-9 10-14 10-15 11-16
9-13 24-19: 5-9 6-9 10-14 10-15* 11-15 11-16
9-13 24-20: 5-9 6-9 10-14 10-15 11-15 11-16 12-16*
9-14 22-17: 5-9 6-9 11-15 11-16
9-14 22-18: 5-9 10-15 11-15 11-16 12-16* 14-17*
9-14 23-18: 14x23
9-14 23-19: 5-9 10-15* 11-16 14-18
9-14 24-19: 5-9 10-15* 11-15 11-16
9-14 24-20: 5-9 10-15 11-15 11-16
10-14 22-17: 7-10 9-13 11-15 11-16 14-18
10-14 22-18: 6-10 7-10 11-15 11-16 12-16
10-14 23-18: 14x23
10-14 23-19: 6-10 7-10 11-15 11-16 14-18
10-14 24-19: 6-10 7-10 11-15* 11-16 14-18
10-14 24-20: 6-10 7-10 11-15 11-16 14-18
10-15 21-17: 6-10 7-10 9-13 9-14* 11-16 15-18
10-15 22-17: 6-10 7-10 9-13 9-14* 11-16 15-19
10-15 22-18: 15x22
10-15 23-18: 6-10 7-10 9-14 11-16 12-16
10-15 23-19: 6-10 7-10 11-16
10-15 24-19: 15x24
10-15 24-20: 6-10 7-10 11-16* 15-19
11-15 21-17: 8-11 9-13 9-14 10-14* 15-19
11-15 22-17: 8-11 9-13 15-18 15-19
11-15 22-18: 15x22
11-15 23-18: 8-11 9-14 10-14 12-16 15-19
11-15 23-19: 8-11 9-13 9-14
11-15 24-19: 15x24
11-15 24-20: 8-11 12-16 15-18
11-16 21-17: 7-11 8-11 9-13 9-14 10-14* 16-20
11-16 22-17: 7-11 8-11 9-13 16-20
11-16 22-18: 7-11 8-11 10-15* 16-19 16-20
11-16 23-18: 7-11 8-11 9-14 10-14 16-20
11-16 23-19: 16x23
11-16 24-19: 7-11 8-11 10-15* 16-20
11-16 24-20: 7-11 16-19
12-16 21-17: 9-13 9-14 16-19 16-20
12-16 22-17: 16-19 16-20
12-16 22-18: 16-19 16-20
12-16 23-18: 9-14* 16-19 16-20
12-16 23-19: 16x23*
12-16 24-19: 16-20
12-16 24-20: 8-12 10-15
"""


class Opening(NamedTuple):
    number: int  # ACF ballot number 1..174 (0 for a non-ACF opening)
    moves: tuple[str, ...]  # PDN moves from the start position
    barred: bool = False

    def __str__(self) -> str:
        return " ".join(self.moves)

    def board(self) -> Board:
        """The position after the opening moves (with them in the board's history)."""
        b = Board()
        for m in self.moves:
            b.push(m)
        return b


@cache
def acf_ballots() -> tuple[Opening, ...]:
    """All 174 ACF three-move ballots, barred ones included, in ACF order."""
    out: list[Opening] = []
    for line in _BALLOTS.strip().splitlines():
        head, thirds = line.split(":")
        first, second = head.split()
        for third in thirds.split():
            barred = third.endswith("*")
            out.append(Opening(len(out) + 1, (first, second, third.rstrip("*")), barred))
    return tuple(out)


@cache
def acf_openings() -> tuple[Opening, ...]:
    """The 156 ACF ballots in play (the 174 minus the 18 barred)."""
    return tuple(o for o in acf_ballots() if not o.barred)


def all_three_ply_openings() -> tuple[Opening, ...]:
    """Every distinct position three plies from the start (first move sequence reaching each)."""
    seen: set[tuple[int, int, int, int]] = set()
    out: list[Opening] = []
    root = Board()
    for m1 in root.legal_moves():
        root.push(m1)
        for m2 in root.legal_moves():
            root.push(m2)
            for m3 in root.legal_moves():
                root.push(m3)
                key = (root.black, root.white, root.kings, int(root.turn))
                if key not in seen:
                    seen.add(key)
                    out.append(Opening(0, (str(m1), str(m2), str(m3))))
                root.pop()
            root.pop()
        root.pop()
    return tuple(out)


OPENING_SETS: dict[str, Callable[[], tuple[Opening, ...]]] = {
    "acf": acf_openings,
    "all3": all_three_ply_openings,
}
