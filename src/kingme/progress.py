"""Terminal output shared by every command: the one progress bar, and the console for result tables.

`progress_bar(total, label)` is a context manager yielding `advance(n=1)`: rich, on stderr,
transient. The bar is drawn only when stderr is a terminal and `enabled` is true; otherwise
`advance` does nothing, so a log file or a pipe never receives half-drawn lines such as
``49920/499…``, and stdout is left to the command's results.

`results_console()` is the rich console that prints result tables on stdout: the terminal's width
on a terminal, and wide (no wrapping, no colour codes) when piped (`kingme dt run | cat`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console

PIPED_WIDTH = 200  # columns of a result table written to a pipe or file


class Advance(Protocol):
    def __call__(self, n: int = 1, *, description: str | None = None, info: str | None = None) -> None:
        """Move the bar on by `n`; optionally replace its label or the text shown after it."""
        ...


def _noop(n: int = 1, *, description: str | None = None, info: str | None = None) -> None:
    return None


def will_draw(enabled: bool = True) -> bool:
    """Whether `progress_bar(..., enabled)` draws anything here (stderr must be a terminal)."""
    return enabled and sys.stderr.isatty()


@contextmanager
def progress_bar(total: int, label: str, enabled: bool = True, *, completed: int = 0) -> Iterator[Advance]:
    """A bar from `completed` to `total`, labelled `label`; yields `advance(n=1, description=, info=)`.

    Nothing is drawn unless `enabled` and stderr is a terminal; the bar disappears when the block ends.
    """
    if not will_draw(enabled):
        yield _noop
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total, completed=completed, info="")

        def advance(n: int = 1, *, description: str | None = None, info: str | None = None) -> None:
            if info is not None:
                bar.update(task, info=info)  # a task field, shown by the last column
            bar.update(task, advance=n, description=description)

        yield advance


def results_console() -> Console:
    """A rich Console on stdout: the terminal's width there; `PIPED_WIDTH` columns when piped."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console()
    return Console(width=PIPED_WIDTH, no_color=True, highlight=False)
