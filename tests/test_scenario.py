"""The end-to-end scenario on both backends: the real CLI against a Maildir and a Dovecot."""

from __future__ import annotations

from pathlib import Path

from tests.mail import INVITATION_ICS, NEWSLETTER, REJECTION, crlf
from tests.stores import Followupd, Store


def test_invitation_thank_you_then_rejection(store: Store, tmp_path: Path) -> None:
    run = Followupd(tmp_path, store)
    store.deliver(crlf(INVITATION_ICS))
    store.deliver(crlf(NEWSLETTER))

    # Before the interview ends nothing is due; the newsletter makes no application.
    run("run", "--once", "--now", "2026-11-05T14:30")
    assert store.drafts() == []
    status = run.status("2026-11-05T14:30")
    assert [(a["company"], a["stage"]) for a in status["applications"]] == [
        ("Acme", "interview scheduled")
    ]

    # Three hours after the interview: a thank-you to each interviewer and the debrief note.
    run("run", "--once", "--now", "2026-11-05T18:00")
    drafts = store.drafts()
    by_to = {str(m["To"]): (flags, m) for flags, m in drafts}
    assert set(by_to) == {
        "Tom Lee <tom.lee@acme.example>",
        "Anna Schmidt <anna.schmidt@acme.example>",
        "Jane Doe <jane@example.com>",
    }
    flags, tom = by_to["Tom Lee <tom.lee@acme.example>"]
    assert flags & {"\\Draft", "D"}
    assert tom["In-Reply-To"] == "<inv-1@acme.example>"
    assert tom["From"] == "Jane Doe <jane@example.com>"
    assert "Data Engineer" in tom["Subject"]
    assert tom.get_content().startswith("Dear Tom,")
    assert "Debrief" in by_to["Jane Doe <jane@example.com>"][1]["Subject"]
    assert store.inbox_seen() == [False, False]

    # Running again, even later, makes no second draft.
    run("run", "--once", "--now", "2026-11-05T18:30")
    run("run", "--once", "--now", "2026-11-06T09:00")
    assert len(store.drafts()) == 3
    pending = run.status("2026-11-06T09:00")["actions"]
    assert [a["rule"] for a in pending] == ["follow-up-silence"]
    assert pending[0]["due"] == "2026-11-12T09:30:00+01:00"

    # The rejection cancels the follow-up and plans a gracious reply next business morning.
    store.deliver(crlf(REJECTION))
    run("run", "--once", "--now", "2026-11-10T12:00")
    status = run.status("2026-11-10T12:00")
    assert status["applications"][0]["stage"] == "rejected"
    assert [(a["rule"], a["due"]) for a in status["actions"]] == [
        ("rejection-reply", "2026-11-11T09:30:00+01:00")
    ]
    cancelled = [a for a in status["done"] if a["state"] == "cancelled"]
    assert [a["rule"] for a in cancelled] == ["follow-up-silence"]
    assert "rejection" in cancelled[0]["reason"]

    run("run", "--once", "--now", "2026-11-11T09:45")
    replies = [m for _f, m in store.drafts() if m["In-Reply-To"] == "<rej-1@acme.example>"]
    assert len(replies) == 1
    reply = replies[0]
    assert reply["To"] == "Anna Schmidt <anna.schmidt@acme.example>"
    assert reply["Subject"] == "Re: Your application for Data Engineer at Acme"
    assert "feedback" in reply.get_content()
    assert len(store.drafts()) == 4
    assert store.inbox_seen() == [False, False, False]
    assert run.status("2026-11-11T09:45")["actions"] == []


def test_sent_drafts_and_own_messages_are_noticed(store: Store, tmp_path: Path) -> None:
    run = Followupd(tmp_path, store)
    store.deliver(crlf(INVITATION_ICS))
    run("run", "--once", "--now", "2026-11-05T18:00")
    tom = next(m for _f, m in store.drafts() if "Tom" in str(m["To"]))
    # The person sends Tom's thank-you from their mail client; a copy lands in Sent.
    store.deliver_sent(tom.as_bytes())
    run("run", "--once", "--now", "2026-11-06T09:00")
    status = run.status("2026-11-06T09:00")
    states = {(a["rule"], a["to"][0]): a["state"] for a in status["done"]}
    assert states[("thank-you", "tom.lee@acme.example")] == "sent"
    assert states[("thank-you", "anna.schmidt@acme.example")] == "drafted"
    # Writing to them starts a new quiet period: the old follow-up gives way to a new one,
    # five business days after the thank-you was sent (Thu 5 Nov 18:00).
    assert states[("follow-up-silence", "anna.schmidt@acme.example")] == "cancelled"
    assert [(a["rule"], a["due"]) for a in status["actions"]] == [
        ("follow-up-silence", "2026-11-12T09:30:00+01:00")
    ]
