"""Backoff between reconnect attempts: grows, is capped, is jittered, and starts over."""

from __future__ import annotations

import random

from followupd.mailbox.reconnect import Backoff


def test_delays_double_up_to_the_cap_within_the_upper_half() -> None:
    backoff = Backoff(first=1.0, cap=30.0, rng=random.Random(1))
    delays = [backoff.failed() for _ in range(10)]
    for n, delay in enumerate(delays):
        base = min(30.0, 2.0**n)
        assert base / 2 <= delay <= base
    assert max(delays) <= 30.0
    assert delays[-1] >= 15.0  # capped, not collapsed


def test_two_clients_cut_off_together_do_not_retry_in_step() -> None:
    a, b = Backoff(rng=random.Random(1)), Backoff(rng=random.Random(2))
    assert [a.failed() for _ in range(5)] != [b.failed() for _ in range(5)]


def test_success_starts_the_delays_over() -> None:
    backoff = Backoff(first=1.0, cap=300.0, rng=random.Random(3))
    for _ in range(8):
        backoff.failed()
    backoff.succeeded()
    assert backoff.failed() <= 1.0
