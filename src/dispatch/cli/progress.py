"""Progress in the terminal for long polls and sends (rich): feeds done, errors and rate, then
messages sent. Nothing at all when standard error is not a terminal (cron, logs, pipes).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Tracker:
    """Counts feeds fetched and messages handled; shows them when ``live``."""

    def __init__(self, progress: Any | None = None) -> None:
        self._progress = progress
        self._feeds: Any = None
        self._messages: Any = None
        self.errors = 0

    def started(self, total: int) -> None:
        if self._progress is not None:
            self._feeds = self._progress.add_task("feeds", total=total, errors=0)

    def done(self, ok: bool) -> None:
        self.errors += not ok
        if self._progress is not None and self._feeds is not None:
            self._progress.update(self._feeds, advance=1, errors=self.errors)

    def message(self, what: str) -> None:
        if self._progress is None:
            return
        if self._messages is None:
            self._messages = self._progress.add_task("messages", total=None, errors=0)
        self._progress.update(self._messages, advance=1)


@contextmanager
def terminal_progress() -> Iterator[Tracker]:
    """A tracker that draws a progress bar on a terminal, and is silent anywhere else."""
    if not sys.stderr.isatty():
        yield Tracker()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:,.0f}/s" if task.speed else "")

    columns = (
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("errors: {task.fields[errors]}"),
        Rate(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield Tracker(progress)
