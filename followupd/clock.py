"""Time as a dependency: the core never asks the system for "now"."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved; for `--now`, the demo and tests."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at


def parse_now(text: str, default_tz: tzinfo) -> datetime:
    """Parse an ISO 8601 --now value; without an offset it is in the configured zone."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date-time: {text!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=default_tz)
