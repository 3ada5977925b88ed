"""Invariant 3 (exactly once) and 5 (bad input never stops it), on both backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from followupd.accounts import open_mailboxes
from followupd.clock import parse_now
from followupd.setup import load_checked, open_engine
from tests.mail import INVITATION_ICS, NEWSLETTER, crlf
from tests.stores import Followupd, MaildirStore, Store

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


def test_the_state_that_allows_an_append_is_on_disk_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reading mail may commit without waiting for the disk (it is redone after a power cut);
    # the "drafting" mark must not: it is what stops a second APPEND after a crash.
    store = MaildirStore(tmp_path / "Mail")
    store.deliver(crlf(INVITATION_ICS))
    config, ruleset = load_checked(Followupd(tmp_path, store).config)
    engine = open_engine(config, ruleset)
    mailboxes = open_mailboxes(config)
    (mailbox,) = mailboxes.values()
    appends: list[tuple[int, str]] = []
    append = mailbox.append_draft

    def watched_append(raw: bytes) -> None:
        durability = engine.tracker.db.execute("PRAGMA synchronous").fetchone()[0]
        other = sqlite3.connect(engine.tracker.path)
        states = {row[0] for row in other.execute("SELECT state FROM actions")}
        other.close()
        appends.append((durability, ",".join(sorted(states))))
        append(raw)

    monkeypatch.setattr(mailbox, "append_draft", watched_append)
    engine.run_once(mailboxes, parse_now(AFTER, config.me.zone))
    engine.tracker.close()
    assert len(appends) == len(store.drafts()) == 3
    # 2 is synchronous=FULL; and another process already sees the draft marked as under way.
    assert all(durability == 2 and "drafting" in states for durability, states in appends)
