"""Progress of the first read of a big folder: a bar in a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

LOG_EVERY = 10.0  # seconds between progress lines in the log


class Progress(Protocol):
    def advance(self) -> None:
        """One more message looked at."""

    def close(self) -> None:
        """The folder is done."""


# (what, e.g. "work/INBOX", how many messages or None) -> a Progress
ProgressFactory = Callable[[str, "int | None"], Progress]


class LogProgress:
    """Log lines for the journal: at the start, every LOG_EVERY seconds, and at the end.

    `tick` (the daemon's watchdog ping and status line) hears of progress as it happens,
    so a long first read is not taken for a hang.
    """

    def __init__(self, what: str, total: int | None, tick: Callable[[str], None] | None = None):
        self.what, self.total, self.tick = what, total, tick
        self.done = 0
        self.started = self.last = time.monotonic()
        log.info("%s: first look, %s", what, _count(total) + " to read")

    def _line(self) -> str:
        of = f" of {self.total}" if self.total is not None else ""
        return f"{self.what}: {self.done}{of} message(s) read"

    def advance(self) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.last >= LOG_EVERY:
            self.last = now
            log.info("%s", self._line())
            if self.tick is not None:
                self.tick(self._line())

    def close(self) -> None:
        log.info("%s in %.0f s", self._line(), time.monotonic() - self.started)


def _count(total: int | None) -> str:
    return "an unknown number of messages" if total is None else f"{total} message(s)"


class BarProgress:
    """A rich progress bar on stderr, for a person watching a terminal."""

    def __init__(self, what: str, total: int | None, console: object | None = None) -> None:
        from rich.console import Console  # noqa: PLC0415 - only in a terminal
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress  # noqa: PLC0415

        out = console if isinstance(console, Console) else Console(stderr=True)
        self.bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=out,
        )
        self.bar.start()
        self.task = self.bar.add_task(f"first look at {what}", total=total)

    def advance(self) -> None:
        self.bar.advance(self.task)

    def close(self) -> None:
        self.bar.stop()
