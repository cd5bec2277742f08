"""The checkers endgame database: every position with at most 5 pieces solved by retrograde
analysis (docs/endgames.md).

`index` numbers a material signature's positions, `solve` is the compiled analysis, `build` its
driver, `store` the files and the in-memory tables, `probe` reads them for a `Board`, `verify`
checks them, `grade` measures the critic and players against them, `player` is the ``egdb:SPEC``
player, `commands` the ``kingme egdb`` command line.
"""
