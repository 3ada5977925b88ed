"""Logging to stderr: plain lines in a terminal, syslog-priority lines under journald.

Under journald (stderr is the stream named in $JOURNAL_STREAM) each line starts with
`<N>`, the syslog priority, which journald turns into the entry's level; the journal keeps
its own timestamps, so none are printed. Known secrets are replaced before any output.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import TextIO

_PRIORITY = {  # syslog(3) levels
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
REDACTED = "********"
_MIN_SECRET = 4  # shorter strings would blank out ordinary words


class _Secrets:
    """Every password or token followupd has handled in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()

    def add(self, value: str) -> None:
        if len(value) >= _MIN_SECRET:
            with self._lock:
                self._values.add(value)

    def scrub(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text


secrets = _Secrets()


def remember_secret(value: str) -> None:
    """Register a password or token so that no log line can ever show it."""
    secrets.add(value)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then blanks out every known secret (tracebacks included)."""

    def __init__(self, fmt: str, journal: bool) -> None:
        super().__init__(fmt)
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = secrets.scrub(super().format(record))
        if not self.journal:
            return text
        prefix = f"<{_priority(record.levelno)}>"
        # journald reads one entry per line; each line of a traceback keeps the level.
        return "\n".join(prefix + line for line in text.splitlines())


def _priority(levelno: int) -> int:
    for level in sorted(_PRIORITY, reverse=True):
        if levelno >= level:
            return _PRIORITY[level]
    return 7


def under_journald(stream: TextIO) -> bool:
    """True when `stream` is the journal stream systemd named in $JOURNAL_STREAM ("dev:inode")."""
    value = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def setup_logging(verbose: int, daemon: bool = False, stream: TextIO | None = None) -> None:
    """Configure the root logger once, in main: INFO for the daemon, WARNING for commands.

    -v raises one step, -vv shows debug; $FOLLOWUPD_LOG (e.g. "debug") overrides both.
    """
    stream = stream or sys.stderr
    base = logging.INFO if daemon else logging.WARNING
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else base
    env = os.environ.get("FOLLOWUPD_LOG", "")
    if env and isinstance(logging.getLevelName(env.upper()), int):
        level = logging.getLevelName(env.upper())
    journal = under_journald(stream)
    # Under journald the priority prefix says the level and the journal keeps the time.
    fmt = "%(name)s: %(message)s" if journal else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler = _OurHandler(stream)
    handler.setFormatter(RedactingFormatter(fmt, journal))
    root = logging.getLogger()
    # Replace only our own handler: a second call (the daemon's) must not log twice.
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler setup_logging installs."""
