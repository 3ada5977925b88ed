"""Invariant 3 (exactly once) and 5 (bad input never stops it), on both backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.mail import INVITATION_ICS, NEWSLETTER, crlf
from tests.stores import Followupd, Store

AFTER = "2026-11-05T18:00"


def _thank_you_keys(run: Followupd) -> list[str]:
    return [a["key"] for a in run.status(AFTER)["done"] if a["rule"] == "thank-you"]


def _set_state(tmp_path: Path, key: str, state: str) -> None:
    db = sqlite3.connect(tmp_path / "state" / "state.sqlite3")
    with db:
        db.execute("UPDATE actions SET state=? WHERE key=?", (state, key))
    db.close()


def test_a_deleted_draft_is_not_made_again(store: Store, tmp_path: Path) -> None:
    run = Followupd(tmp_path, store)
    store.deliver(crlf(INVITATION_ICS))
    run("run", "--once", "--now", AFTER)
    assert len(store.drafts()) == 3
    store.delete_drafts()
    run("run", "--once", "--now", AFTER)
    run("run", "--once", "--now", "2026-11-06T10:00")
    assert store.drafts() == []


def test_crash_after_append_before_the_state_update_makes_no_duplicate(
    store: Store, tmp_path: Path
) -> None:
    run = Followupd(tmp_path, store)
    store.deliver(crlf(INVITATION_ICS))
    run("run", "--once", "--now", AFTER)
    key = _thank_you_keys(run)[0]
    # As if the process died right after APPEND: the state still says "drafting".
    _set_state(tmp_path, key, "drafting")
    run("run", "--once", "--now", AFTER)
    assert len(store.drafts()) == 3
    states = {a["key"]: a["state"] for a in run.status(AFTER)["done"]}
    assert states[key] == "drafted"


def test_crash_before_append_makes_the_draft_once(store: Store, tmp_path: Path) -> None:
    run = Followupd(tmp_path, store)
    store.deliver(crlf(INVITATION_ICS))
    run("run", "--once", "--now", AFTER)
    keys = _thank_you_keys(run)
    # As if the process died between marking "drafting" and APPEND: nothing in Drafts.
    store.delete_drafts()
    _set_state(tmp_path, keys[0], "drafting")
    run("run", "--once", "--now", AFTER)
    run("run", "--once", "--now", AFTER)
    drafts = store.drafts()
    assert len(drafts) == 1
    assert drafts[0][1]["X-Followupd-Rule"] == "thank-you"


def test_malformed_mail_is_skipped_with_a_reason_and_the_rest_goes_on(
    store: Store, tmp_path: Path
) -> None:
    run = Followupd(tmp_path, store)
    store.deliver(b"\x00\xff\xfe garbage that is not a message at all \x00" * 50)
    broken_mime = b'Content-Type: multipart/mixed; boundary="x'
    store.deliver(crlf(NEWSLETTER).replace(b"Content-Type: text/plain; charset=utf-8", broken_mime))
    store.deliver(crlf(INVITATION_ICS))
    run("run", "--once", "--now", AFTER)
    assert len(store.drafts()) == 3
    status = run.status(AFTER)
    assert [a["company"] for a in status["applications"]] == ["Acme"]
    assert [s["reason"] for s in status["skipped"]] == ["malformed: no mail headers found"]
    # Skipped messages are not retried on every pass.
    run("run", "--once", "--now", AFTER)
    assert len(store.drafts()) == 3
