"""When to try a lost mailbox connection again: capped exponential backoff with jitter."""

from __future__ import annotations

import random


class Backoff:
    """Delays of about first, 2·first, 4·first … up to `cap` seconds, each jittered into its
    upper half so that many clients cut off by the same outage do not return in step."""

    def __init__(self, first: float = 1.0, cap: float = 300.0, rng: random.Random | None = None):
        self.first = first
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()

    def failed(self) -> float:
        """Count a failure; the seconds to wait before the next attempt."""
        self.failures += 1
        base = min(self.cap, self.first * 2.0 ** min(self.failures - 1, 30))
        return base / 2 + self._rng.uniform(0, base / 2)

    def succeeded(self) -> None:
        """The connection works again: the next failure starts from `first`."""
        self.failures = 0
