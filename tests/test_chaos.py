"""Invariant 3 under fire: SIGKILL at random moments while mail arrives, on a real Dovecot.

The default size keeps the suite fast; `benchmarks/chaos.py` runs the full 100+ kill version.
FUPD_CHAOS_KILLS and FUPD_CHAOS_APPS change the size here too.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from tests.chaos import draft_summary, finish, run_with_kills, scenario, setup, status_summary
from tests.dovecot import Dovecot
from tests.stores import ImapStore

KILLS = int(os.environ.get("FUPD_CHAOS_KILLS", "12"))
APPS = int(os.environ.get("FUPD_CHAOS_APPS", "30"))
PER_APP = 10


@pytest.mark.imap
def test_random_sigkills_leave_exactly_the_drafts_of_a_clean_run(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    messages = scenario(APPS, PER_APP)
    clean_store = ImapStore(dovecot, "bob")
    clean = setup(tmp_path / "clean", clean_store)
    for raw in messages:
        clean_store.deliver(raw)
    finish(clean)
    expected = draft_summary(clean_store)
    assert sum(expected.values()) >= 3 * APPS  # the scenario does make drafts

    store = ImapStore(dovecot, "jane")
    chaos = setup(tmp_path / "chaos", store)
    report = run_with_kills(chaos, store, messages, KILLS, seed=5)
    finish(chaos)

    assert report.kills == KILLS
    assert report.kills_after_append >= 1, "the APPEND/state window was never hit"
    made = draft_summary(store)
    assert made == expected
    ids = Counter(str(m["Message-ID"]) for _f, m in store.drafts())
    assert max(ids.values()) == 1
    states, drafting, apps = status_summary(chaos)
    assert drafting == 0
    assert states["drafted"] == sum(expected.values())
    assert apps == APPS
    assert status_summary(clean) == (states, drafting, apps)
