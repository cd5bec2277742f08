"""The true result of a position with perfect play, from the endgame database (`kingme.egdb`).

`PerfectPlay(folder)` opens the database in ``folder`` (None: `kingme.egdb.store.default_dir`,
``$KINGME_EGDB_DIR`` or ``~/.cache/kingme/egdb``) the first time it is asked, not at import and
not when the server is made, so a server without a database starts exactly as before. A folder
is opened once per process (`open_once`): every server (and test app) of the process shares the
loaded tables (40 MB for 5 pieces, about 0.1 s to load). No database there, or a bad one: the
answer is None, and ``problem`` says why (the `UserError`'s line).

`PerfectPlay.judge(board)` is the JSON the analysis carries as ``"perfect"``::

    {"result": "win" | "draw" | "loss", "for": "black" | "white",
     "moves": {"14x23": "win", ...}}

``result`` is the side to move's (``for``) with perfect play from here; ``moves`` maps each legal
move to the result it leaves the same side, the mover (a move that keeps a win is "win", one that
throws it away "draw" or "loss"). None when the database does not cover the position (more
pieces than it was built for), when there is no database, and when the game is over (its result
is the game's). The database's result is the position's with a fresh clock: the 80-ply rule's
count and repetitions are not read (docs/endgames.md).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kingme.checkers import Board, Color
from kingme.common import UserError

if TYPE_CHECKING:
    from kingme.egdb.store import Store

NAMES = {1: "win", 0: "draw", 2: "loss"}  # kingme.egdb.index's WIN, DRAW, LOSS
MOVER = {"win": "loss", "draw": "draw", "loss": "win"}  # the opponent's result -> the mover's

_opened: dict[Path, Store | str] = {}  # folder -> its store, or why it could not be opened
_opened_lock = threading.Lock()


def open_once(folder: Path | None) -> Store | str:
    """The store in ``folder`` (None: the default folder), opened once per process; or the one-line
    reason it cannot be (not built, a bad table)."""
    from kingme.egdb.store import default_dir, open_store

    key = (folder or default_dir()).expanduser().resolve()
    with _opened_lock:
        if key not in _opened:
            try:
                _opened[key] = open_store(key)
            except UserError as e:
                _opened[key] = str(e)
        return _opened[key]


class PerfectPlay:
    """The endgame database of one server, opened at its first use (see the module docstring)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.problem: str | None = None  # why there is no database (set once it was looked for)
        self._store: Store | None = None
        self._looked = False

    def store(self) -> Store | None:
        """The loaded database, or None (``problem`` then says why)."""
        if not self._looked:
            found = open_once(self.folder)
            self._store, self.problem = (None, found) if isinstance(found, str) else (found, None)
            self._looked = True
        return self._store

    def warm_up(self) -> None:
        """Open the database and probe it once (its compiled probe loads from numba's cache)."""
        if self.store() is not None:
            self.judge(Board())

    def judge(self, board: Board) -> dict[str, Any] | None:
        """``board``'s true result and each legal move's, as JSON (see the module docstring)."""
        store = self.store()
        if store is None or board.outcome() is not None:
            return None
        from kingme.egdb.probe import board_result, move_results

        result = board_result(store, board)
        if result not in NAMES:
            return None
        moves = {str(m): MOVER[NAMES[r]] for m, r in move_results(store, board) if r in NAMES}
        return {"result": NAMES[result], "for": "black" if board.turn is Color.BLACK else "white", "moves": moves}
