"""The life of an application, item by item, on a real Dovecot with a simulated clock.

Each test runs the real command line (`run --once --now T` at successive times), then checks
the exact drafts in Drafts (recipients, subject, threading headers, facts in the body) and
the pending actions that `status --json` reports.
"""

from __future__ import annotations

import shutil
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from followupd.ruleset import bundled_rules_dir
from tests.dovecot import Dovecot
from tests.scenario_mail import (
    REFERENCES,
    Company,
    Person,
    bounce,
    cancellation,
    invitation,
    note,
    offer,
    out_of_office,
    promise,
    references_request,
    rejection,
    reschedule,
    sent_by_me,
    when,
)
from tests.stores import Followupd, ImapStore

pytestmark = pytest.mark.imap

ANNA = Person("Anna Schmidt", "anna.schmidt@acme.example")
TOM = Person("Tom Lee", "tom.lee@acme.example")
MARIA = Person("Maria Lopez", "maria.lopez@globex.example")
ACME = Company("Acme", "acme.example", "Data Engineer", ANNA)
GLOBEX = Company("Globex", "globex.example", "Product Manager", MARIA)
THANKS = "Thank you – Data Engineer at Acme"
DEBRIEF = "Debrief: Acme – Data Engineer (2026-11-06)"


class Life:
    """One person's mailbox on Dovecot and the followupd command line, with a clock."""

    def __init__(self, dovecot: Dovecot, tmp_path: Path, extra: str = "") -> None:
        self.store = ImapStore(dovecot)
        self.cli = Followupd(tmp_path, self.store, extra=extra)

    def deliver(self, *raws: bytes) -> None:
        for raw in raws:
            self.store.deliver(raw)

    def run(self, now: str) -> str:
        return self.cli("run", "--once", "--now", now)

    def status(self, now: str) -> dict[str, Any]:
        return self.cli.status(now)

    def pending(self, now: str) -> list[tuple[str, list[str], str]]:
        return [(a["rule"], a["to"], a["due"]) for a in self.status(now)["actions"]]

    def done(self, now: str) -> dict[tuple[str, str], tuple[str, str]]:
        return {
            (a["rule"], ",".join(a["to"])): (a["state"], a["reason"])
            for a in self.status(now)["done"]
        }

    def drafts(self) -> list[EmailMessage]:
        return [m for _flags, m in self.store.drafts()]

    def summary(self) -> list[tuple[str, str, str]]:
        """(To, Subject, In-Reply-To) of every draft, sorted."""
        return sorted(
            (str(m["To"] or ""), str(m["Subject"]), str(m["In-Reply-To"] or ""))
            for m in self.drafts()
        )

    def draft_to(self, to: str, subject_part: str = "") -> EmailMessage:
        (found,) = [
            m for m in self.drafts() if str(m["To"] or "") == to and subject_part in m["Subject"]
        ]
        return found


def body(msg: EmailMessage) -> str:
    return str(msg.get_content()).replace("\r\n", "\n")


def acme_interview(*people: Person) -> bytes:
    """Acme's invitation inv-1, sent Mon 2 Nov, to an interview Thu 5 Nov 14:00-15:00."""
    return invitation(
        ACME,
        "inv-1",
        when("2026-11-02 10:00"),
        when("2026-11-05 14:00"),
        when("2026-11-05 15:00"),
        people,
    )


def test_working_hours_public_holidays_quiet_hours_and_rejection_next_business_morning(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    life = Life(dovecot, tmp_path)
    life.deliver(
        invitation(
            GLOBEX,
            "inv-x",
            when("2026-12-14 10:00"),
            when("2026-12-23 16:00"),
            when("2026-12-23 17:00"),
            (MARIA,),
        )
    )
    life.run("2026-12-23T10:00")
    assert life.drafts() == []
    assert life.pending("2026-12-23T10:00") == [
        ("debrief", ["jane@example.com"], "2026-12-23T17:15:00+01:00"),
        # 19:00 is after working hours: the next working morning, still inside 24 h.
        ("thank-you", ["maria.lopez@globex.example"], "2026-12-24T09:00:00+01:00"),
        # Five business days: 25 and 26 December are public holidays in Germany.
        ("follow-up-silence", ["maria.lopez@globex.example"], "2026-12-31T09:30:00+01:00"),
    ]
    life.run("2026-12-23T18:00")
    assert life.summary() == [
        (
            "Jane Doe <jane@example.com>",
            "Debrief: Globex – Product Manager (2026-12-23)",
            "<inv-x@globex.example>",
        )
    ]
    life.run("2026-12-24T03:00")  # the middle of the night: nothing new appears
    assert len(life.drafts()) == 1
    life.run("2026-12-24T09:05")
    thanks = life.draft_to("Maria Lopez <maria.lopez@globex.example>")
    assert thanks["Subject"] == "Thank you – Product Manager at Globex"
    assert thanks["In-Reply-To"] == "<inv-x@globex.example>"
    assert body(thanks).startswith("Dear Maria,\n\nthank you for taking the time to speak")
    assert "on Wednesday about the Product Manager role" in body(thanks)

    # A rejection on Christmas Eve: the reply waits for the next business morning, Mon 28 Dec.
    life.deliver(rejection(GLOBEX, "rej-x", when("2026-12-24 11:00"), "inv-x"))
    life.run("2026-12-24T12:00")
    assert life.pending("2026-12-24T12:00") == [
        ("rejection-reply", ["maria.lopez@globex.example"], "2026-12-28T09:30:00+01:00")
    ]
    state, why = life.done("2026-12-24T12:00")[("follow-up-silence", "maria.lopez@globex.example")]
    assert (state, why) == (
        "cancelled",
        "follow-up-silence cancelled: a rejection arrived on 2026-12-24",
    )
    life.run("2026-12-27T20:00")
    assert len(life.drafts()) == 2
    life.run("2026-12-28T09:31")
    reply = life.draft_to("Maria Lopez <maria.lopez@globex.example>", "Re:")
    assert reply["Subject"] == "Re: Your application for Product Manager at Globex"
    assert reply["In-Reply-To"] == "<rej-x@globex.example>"
    assert reply["References"] == "<inv-x@globex.example> <rej-x@globex.example>"
    assert "feedback" in body(reply)
    assert life.pending("2026-12-28T09:31") == []


def test_the_recipients_time_zone_is_respected(dovecot: Dovecot, tmp_path: Path) -> None:
    initrode = Company(
        "Initrode", "initrode.example", "Site Reliability Engineer",
        Person("Bill Lumbergh", "bill@initrode.example"),
    )  # fmt: skip
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    life = Life(dovecot, tmp_path)
    life.deliver(
        invitation(
            initrode,
            "inv-ny",
            when("2026-11-02 15:00"),
            when("2026-11-10 10:00", ny),  # 16:00 in Berlin
            when("2026-11-10 11:00", ny),
            (initrode.recruiter,),
        )
    )
    life.run("2026-11-10T12:00")
    assert life.pending("2026-11-10T12:00") == [
        ("debrief", ["jane@example.com"], "2026-11-10T17:15:00+01:00"),
        # 19:00 here is after my day; 09:00 here is 03:00 in New York: 15:00 suits both.
        ("thank-you", ["bill@initrode.example"], "2026-11-11T15:00:00+01:00"),
        ("follow-up-silence", ["bill@initrode.example"], "2026-11-17T15:00:00+01:00"),
    ]
    reason = life.status("2026-11-10T12:00")["actions"][2]["reason"]
    assert reason == (
        "follow-up-silence to Bill Lumbergh planned for Tue 17 Nov 15:00: no reply since the"
        " interview on Tue 10 Nov; inside their working hours (America/New_York)"
    )
    life.run("2026-11-11T14:59")
    assert [m["To"] for m in life.drafts()] == ["Jane Doe <jane@example.com>"]
    life.run("2026-11-11T15:00")
    assert len(life.drafts()) == 2


def test_one_thank_you_per_interviewer_debrief_to_me_sent_by_thread_deleted_not_remade(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    life = Life(dovecot, tmp_path)
    life.deliver(
        invitation(
            ACME,
            "inv-1",
            when("2026-11-02 10:00"),
            when("2026-11-06 17:00"),
            when("2026-11-06 18:00"),
            (ANNA, TOM),
        )
    )
    life.run("2026-11-06T12:00")
    assert life.pending("2026-11-06T12:00") == [
        ("debrief", ["jane@example.com"], "2026-11-06T18:15:00+01:00"),
        # Friday 20:00 is after working hours, but Monday would be past 24 hours.
        ("thank-you", ["anna.schmidt@acme.example"], "2026-11-06T20:00:00+01:00"),
        ("thank-you", ["tom.lee@acme.example"], "2026-11-06T20:00:00+01:00"),
        ("follow-up-silence", ["anna.schmidt@acme.example"], "2026-11-13T09:30:00+01:00"),
    ]
    life.run("2026-11-06T20:00")
    assert life.summary() == [
        (
            "Anna Schmidt <anna.schmidt@acme.example>",
            "Thank you – Data Engineer at Acme",
            "<inv-1@acme.example>",
        ),
        (
            "Jane Doe <jane@example.com>",
            "Debrief: Acme – Data Engineer (2026-11-06)",
            "<inv-1@acme.example>",
        ),
        ("Tom Lee <tom.lee@acme.example>", THANKS, "<inv-1@acme.example>"),
    ]
    tom = life.draft_to("Tom Lee <tom.lee@acme.example>")
    assert body(tom).startswith("Dear Tom,")
    assert tom["From"] == "Jane Doe <jane@example.com>"
    assert tom["References"] == "<inv-1@acme.example>"
    debrief = body(life.draft_to("Jane Doe <jane@example.com>"))
    assert "With:      Anna Schmidt, Tom Lee" in debrief
    assert "Interview: Fri 6 Nov 17:00–18:00 CET" in debrief

    # Jane sends Tom's thank-you; her client gives it a new Message-ID. She deletes the rest.
    life.store.deliver_sent(
        sent_by_me(
            TOM, "Thank you – Data Engineer at Acme", when("2026-11-07 10:00"),
            "client-generated-1@example.com", "inv-1@acme.example",
        )
    )  # fmt: skip
    life.store.delete_drafts()
    out = life.run("2026-11-09T09:00")
    assert "drafted" not in out
    assert life.drafts() == []  # a deleted draft is not made again
    done = life.done("2026-11-09T09:00")
    assert done[("thank-you", "tom.lee@acme.example")][0] == "sent"
    assert done[("thank-you", "anna.schmidt@acme.example")][0] == "drafted"
    assert done[("debrief", "jane@example.com")][0] == "drafted"
    assert done[("follow-up-silence", "anna.schmidt@acme.example")] == (
        "cancelled",
        "follow-up-silence cancelled: you wrote to them on 2026-11-07",
    )
    # Her message is now the last contact: the quiet period starts from it.
    (follow,) = life.status("2026-11-09T09:00")["actions"]
    assert (follow["rule"], follow["due"]) == ("follow-up-silence", "2026-11-13T09:30:00+01:00")
    assert follow["reason"].endswith("no reply since your message on Sat 7 Nov")
    life.run("2026-11-10T09:00")
    assert life.drafts() == []


def test_promised_date_follow_up_ignores_out_of_office_and_bounces(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    life = Life(dovecot, tmp_path)
    life.deliver(
        acme_interview(ANNA),
        promise(ACME, "p-1", when("2026-11-05 16:40"), "inv-1"),
    )
    life.run("2026-11-06T09:00")
    expected = [("follow-up-promised", ["anna.schmidt@acme.example"], "2026-11-20T09:30:00+01:00")]
    assert life.pending("2026-11-06T09:00") == expected
    assert life.status("2026-11-06T09:00")["actions"][0]["reason"] == (
        "follow-up-promised to Anna Schmidt planned for Fri 20 Nov 09:30: no reply since their"
        " message on Thu 5 Nov; they promised a reply 'within two weeks' (by Thu 19 Nov)"
    )
    life.deliver(
        out_of_office(ACME, "ooo-1", when("2026-11-10 09:00"), "p-1"),
        bounce(when("2026-11-10 09:05"), "b-1", "p-1@acme.example"),
    )
    life.run("2026-11-10T10:00")
    assert life.pending("2026-11-10T10:00") == expected
    assert len(life.drafts()) == 2  # the thank-you and the debrief
    life.run("2026-11-20T09:31")
    follow = life.draft_to("Anna Schmidt <anna.schmidt@acme.example>", "Re:")
    assert follow["Subject"] == "Re: Data Engineer at Acme"
    assert follow["In-Reply-To"] == "<p-1@acme.example>"
    assert follow["References"] == "<inv-1@acme.example> <p-1@acme.example>"
    text = body(follow)
    assert text.startswith("Dear Anna,")
    assert "any news on the Data Engineer at Acme, which we spoke about on Thursday" in text
    assert life.pending("2026-11-20T09:31") == []
    life.run("2026-12-20T09:31")  # a month of silence later: never a second one by default
    assert len(life.drafts()) == 3


def test_reply_own_message_and_rejection_each_cancel_the_pending_follow_up(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    life = Life(dovecot, tmp_path)
    life.deliver(acme_interview(ANNA))
    life.run("2026-11-06T09:00")
    key_before = life.status("2026-11-06T09:00")["actions"][0]["key"]
    life.deliver(note(ACME, "n-1", when("2026-11-10 12:00"), "inv-1", "We are still deciding."))
    life.run("2026-11-10T13:00")
    assert life.done("2026-11-10T13:00")[("follow-up-silence", "anna.schmidt@acme.example")] == (
        "cancelled",
        "follow-up-silence cancelled: a reply arrived on 2026-11-10",
    )
    (fresh,) = life.status("2026-11-10T13:00")["actions"]
    assert fresh["key"] != key_before
    assert fresh["due"] == "2026-11-17T09:30:00+01:00"
    assert fresh["reason"].endswith("no reply since their message on Tue 10 Nov")

    life.store.deliver_sent(
        sent_by_me(ANNA, "Re: Data Engineer at Acme", when("2026-11-16 10:00"),
                   "mine-1@example.com", "n-1@acme.example", "Happy to wait, thanks!")
    )  # fmt: skip
    life.run("2026-11-16T11:00")
    (again,) = life.status("2026-11-16T11:00")["actions"]
    assert again["due"] == "2026-11-23T09:30:00+01:00"
    reasons = [a["reason"] for a in life.status("2026-11-16T11:00")["done"]]
    assert "follow-up-silence cancelled: you wrote to them on 2026-11-16" in reasons

    life.deliver(rejection(ACME, "rej-1", when("2026-11-17 16:00"), "n-1"))
    life.run("2026-11-17T17:00")
    assert life.pending("2026-11-17T17:00") == [
        ("rejection-reply", ["anna.schmidt@acme.example"], "2026-11-18T09:30:00+01:00")
    ]
    life.run("2026-11-23T10:00")
    assert [m["Subject"] for m in life.drafts() if "Re:" in m["Subject"]] == [
        "Re: Your application for Data Engineer at Acme"
    ]


def test_a_second_follow_up_only_after_the_first_was_sent_and_a_longer_wait(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules, ignore=shutil.ignore_patterns("__*"))
    default = (rules / "default.yaml").read_text()
    two = default.replace(
        "    group: follow-up\n    max_per_application: 1\n\n  - name: rejection-reply",
        "    group: follow-up\n    max_per_application: 2\n\n  - name: rejection-reply",
    )
    assert two != default
    (rules / "default.yaml").write_text(two)
    life = Life(dovecot, tmp_path, extra=f"rules_dir: {rules}\n")
    life.deliver(acme_interview(ANNA))
    life.run("2026-11-12T09:30")
    first = life.draft_to("Anna Schmidt <anna.schmidt@acme.example>", "Re:")
    assert first["Subject"] == "Re: Interview invitation: Data Engineer at Acme"
    assert "I am writing to ask whether there is any news" in body(first)
    assert life.pending("2026-11-12T09:30") == []  # not sent yet: no second one planned
    life.store.deliver_sent(first.as_bytes())  # sent as drafted, same Message-ID
    life.run("2026-11-12T11:00")
    assert life.pending("2026-11-12T11:00") == [
        # Ten business days after it was sent, not five.
        ("follow-up-silence", ["anna.schmidt@acme.example"], "2026-11-26T09:30:00+01:00")
    ]
    life.run("2026-11-26T09:30")
    (second,) = [m for m in life.drafts() if "once more" in body(m)]
    assert second["To"] == "Anna Schmidt <anna.schmidt@acme.example>"
    assert second["In-Reply-To"] == "<inv-1@acme.example>"
    life.store.deliver_sent(second.as_bytes())
    life.run("2026-12-20T09:30")
    assert life.pending("2026-12-20T09:30") == []  # never a third
    assert len(life.drafts()) == 4


def test_reschedule_moves_and_cancellation_drops_thank_you_and_debrief(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    life = Life(dovecot, tmp_path)
    people = (ANNA, TOM)
    life.deliver(
        acme_interview(*people),
        invitation(GLOBEX, "inv-g", when("2026-11-02 11:00"), when("2026-11-04 11:00"),
                   when("2026-11-04 12:00"), (MARIA,)),
    )  # fmt: skip
    life.run("2026-11-02T12:00")
    before = {a["key"]: a["due"] for a in life.status("2026-11-02T12:00")["actions"]}
    life.deliver(
        reschedule(ACME, "res-1", "inv-1", when("2026-11-03 09:00"), when("2026-11-06 10:00"),
                   when("2026-11-06 11:00"), people),
        cancellation(GLOBEX, "can-g", "inv-g", when("2026-11-03 09:30"), when("2026-11-04 11:00"),
                     when("2026-11-04 12:00"), (MARIA,)),
    )  # fmt: skip
    out = life.run("2026-11-03T10:00")
    assert "cancelled  debrief cancelled: a cancellation arrived on 2026-11-03" in out
    assert "moved      thank-you to Tom Lee planned for Fri 6 Nov 13:00" in out
    status = life.status("2026-11-03T10:00")
    assert [(a["rule"], a["to"], a["due"]) for a in status["actions"]] == [
        ("debrief", ["jane@example.com"], "2026-11-06T11:15:00+01:00"),
        ("thank-you", ["anna.schmidt@acme.example"], "2026-11-06T13:00:00+01:00"),
        ("thank-you", ["tom.lee@acme.example"], "2026-11-06T13:00:00+01:00"),
        ("follow-up-silence", ["anna.schmidt@acme.example"], "2026-11-13T09:30:00+01:00"),
    ]
    # The same actions, moved: no new keys appeared for Acme.
    acme_keys = {a["key"] for a in status["actions"]}
    assert acme_keys <= set(before)
    assert all(a["reason"].endswith("(rescheduled)") for a in status["actions"])
    cancelled = sorted(a["rule"] for a in status["done"] if a["state"] == "cancelled")
    assert cancelled == ["debrief", "follow-up-silence", "thank-you"]
    life.run("2026-11-05T18:00")  # the old time has passed: nothing is due
    assert life.drafts() == []
    life.run("2026-11-06T13:00")
    assert life.summary() == [
        ("Anna Schmidt <anna.schmidt@acme.example>", THANKS, "<res-1@acme.example>"),
        ("Jane Doe <jane@example.com>", DEBRIEF, "<res-1@acme.example>"),
        ("Tom Lee <tom.lee@acme.example>", THANKS, "<res-1@acme.example>"),
    ]
    assert "on Friday about the Data Engineer role" in body(
        life.draft_to("Tom Lee <tom.lee@acme.example>")
    )


def test_new_round_starts_a_new_cycle_and_references_get_a_heads_up(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    life = Life(dovecot, tmp_path, extra=REFERENCES)
    life.deliver(acme_interview(ANNA, TOM))
    life.run("2026-11-05T18:00")
    assert len(life.drafts()) == 3
    life.deliver(references_request(ACME, "ref-1", when("2026-11-06 10:00"), "inv-1"))
    life.run("2026-11-06T11:00")
    heads = sorted(
        (str(m["To"]), m["Subject"], m["In-Reply-To"])
        for m in life.drafts()
        if "Heads-up" in m["Subject"]
    )
    assert heads == [
        ("Kim Park <kim@example.net>", "Heads-up: you may get a reference call from Acme", None),
        ("Sam Ortiz <sam@example.org>", "Heads-up: you may get a reference call from Acme", None),
    ]
    sam = body(life.draft_to("Sam Ortiz <sam@example.org>"))
    assert sam.startswith("Dear Sam,")
    assert "the late stages of the hiring process for the Data Engineer role at Acme" in sam

    # The final round: a new cycle with its own thank-you, debrief and follow-up; the
    # references were told already, so no second heads-up for this application.
    life.deliver(
        invitation(ACME, "inv-2", when("2026-11-09 10:00"), when("2026-11-16 14:00"),
                   when("2026-11-16 15:00"), (TOM,), final=True, parent="ref-1@acme.example"),
        invitation(GLOBEX, "inv-g", when("2026-11-09 11:00"), when("2026-11-18 10:00"),
                   when("2026-11-18 11:00"), (MARIA,), final=True),
    )  # fmt: skip
    life.run("2026-11-09T11:30")
    assert life.pending("2026-11-09T11:30") == [
        ("references-final-round", ["kim@example.net"], "2026-11-09T12:00:00+01:00"),
        ("references-final-round", ["sam@example.org"], "2026-11-09T12:00:00+01:00"),
        ("debrief", ["jane@example.com"], "2026-11-16T15:15:00+01:00"),
        ("thank-you", ["tom.lee@acme.example"], "2026-11-16T17:00:00+01:00"),
        ("debrief", ["jane@example.com"], "2026-11-18T11:15:00+01:00"),
        ("thank-you", ["maria.lopez@globex.example"], "2026-11-18T13:00:00+01:00"),
        ("follow-up-silence", ["anna.schmidt@acme.example"], "2026-11-23T09:30:00+01:00"),
        ("follow-up-silence", ["maria.lopez@globex.example"], "2026-11-25T09:30:00+01:00"),
    ]
    status = life.status("2026-11-09T11:30")
    finals = [a for a in status["actions"] if a["rule"] == "references-final-round"]
    assert all(a["application_id"] == 2 for a in finals)  # Globex, not Acme again
    # The history of round one is kept.
    done = life.done("2026-11-09T11:30")
    assert done[("thank-you", "tom.lee@acme.example")][0] == "drafted"
    assert done[("references-heads-up", "sam@example.org")][0] == "drafted"
    life.run("2026-11-09T12:00")
    kim = life.draft_to("Kim Park <kim@example.net>", "Globex")
    assert kim["In-Reply-To"] is None
    assert "the final round of the hiring process for the Product Manager role at Globex" in body(
        kim
    )
    assert "with an interview on Wednesday (2026-11-18)" in body(kim)
    life.run("2026-11-16T17:00")
    round_two = [m for m in life.drafts() if m["In-Reply-To"] == "<inv-2@acme.example>"]
    assert sorted(str(m["To"]) for m in round_two) == [
        "Jane Doe <jane@example.com>",
        "Tom Lee <tom.lee@acme.example>",
    ]


def test_offer_gets_an_acknowledgement_asking_for_the_written_offer(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    life = Life(dovecot, tmp_path)
    life.deliver(acme_interview(ANNA))
    life.run("2026-11-06T09:00")
    life.deliver(offer(ACME, "off-1", when("2026-11-10 11:00"), "inv-1"))
    life.run("2026-11-10T11:30")
    assert life.pending("2026-11-10T11:30") == [
        ("offer-reply", ["anna.schmidt@acme.example"], "2026-11-10T12:00:00+01:00")
    ]
    assert life.done("2026-11-10T11:30")[("follow-up-silence", "anna.schmidt@acme.example")] == (
        "cancelled",
        "follow-up-silence cancelled: an offer arrived on 2026-11-10",
    )
    life.run("2026-11-10T12:00")
    ack = life.draft_to("Anna Schmidt <anna.schmidt@acme.example>", "Offer")
    assert ack["Subject"] == "Re: Offer: Data Engineer at Acme"
    assert ack["In-Reply-To"] == "<off-1@acme.example>"
    text = body(ack)
    assert "thank you very much for the offer for the Data Engineer role at Acme" in text
    assert "send me the written offer" in text
    assert "by when would you need my answer" in text
    assert life.status("2026-11-10T12:00")["applications"][0]["stage"] == "offer"


def test_never_to_a_no_reply_address(dovecot: Dovecot, tmp_path: Path) -> None:
    life = Life(dovecot, tmp_path)
    life.deliver(
        rejection(ACME, "rej-nr", when("2026-11-13 16:10"), None,
                  sender="Acme Careers <no-reply@acme-jobs.example>")
    )  # fmt: skip
    life.run("2026-11-13T17:00")
    assert life.pending("2026-11-13T17:00") == [
        ("rejection-reply", [], "2026-11-16T09:30:00+01:00")
    ]
    life.run("2026-11-16T09:30")
    (draft,) = life.drafts()
    assert draft["To"] is None
    assert draft["In-Reply-To"] == "<rej-nr@acme.example>"
    assert body(draft).startswith(
        "[followupd left To empty: the message came from no-reply@acme-jobs.example, which"
        " does not take replies, and no other contact at the company is known."
    )


def test_overdue_drafts_wait_for_the_end_of_quiet_hours(dovecot: Dovecot, tmp_path: Path) -> None:
    life = Life(dovecot, tmp_path)
    life.deliver(acme_interview(ANNA))
    # The first pass after the interview happens at 03:00 (the laptop woke up): nothing yet.
    life.run("2026-11-06T03:00")
    assert life.drafts() == []
    assert [a[0] for a in life.pending("2026-11-06T03:00")] == [
        "debrief",
        "thank-you",
        "follow-up-silence",
    ]
    life.run("2026-11-06T07:59")
    assert life.drafts() == []
    life.run("2026-11-06T08:00")
    assert sorted(str(m["To"]) for m in life.drafts()) == [
        "Anna Schmidt <anna.schmidt@acme.example>",
        "Jane Doe <jane@example.com>",
    ]


def test_the_daemon_wakes_after_quiet_hours_for_overdue_drafts(tmp_path: Path) -> None:
    from followupd.setup import load_checked, open_engine
    from tests.stores import MaildirStore

    store = MaildirStore(tmp_path / "Maildir")
    cli = Followupd(tmp_path, store)
    store.deliver(acme_interview(ANNA))
    cli("run", "--once", "--now", "2026-11-06T03:00")
    engine = open_engine(*load_checked(cli.config))
    try:
        assert engine.next_due(when("2026-11-06 03:00")) == when("2026-11-06 08:00")
        assert engine.next_due(when("2026-11-05 12:00")) == when("2026-11-05 15:15")
    finally:
        engine.tracker.close()


def test_a_message_written_before_the_draft_existed_is_not_taken_for_it(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    life = Life(dovecot, tmp_path)
    life.deliver(acme_interview(TOM))
    life.run("2026-11-05T17:00")
    assert [str(m["To"]) for m in life.drafts() if "Thank" in m["Subject"]] == [
        "Tom Lee <tom.lee@acme.example>"
    ]
    # Jane's mail client uploads, late, a note she wrote to Tom before the interview.
    life.store.deliver_sent(
        sent_by_me(TOM, "Re: Interview invitation: Data Engineer at Acme",
                   when("2026-11-05 13:50"), "late-1@example.com", "inv-1@acme.example",
                   "Running five minutes late, sorry!")
    )  # fmt: skip
    life.run("2026-11-05T17:30")
    assert life.done("2026-11-05T17:30")[("thank-you", "tom.lee@acme.example")][0] == "drafted"
