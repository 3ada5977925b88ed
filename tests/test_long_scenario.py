"""Ten applications over six simulated weeks on a real Dovecot, every life-cycle event mixed.

The clock jumps from one arrival or due action to the next, and each step is one pass of
the same engine that `run --once --now` drives (in process, so six weeks take seconds). The
person acts too: sends some drafts, writes by hand, deletes a draft. At the end the Drafts
folder and `followupd status --json` are checked message by message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followupd.accounts import close_all, open_mailboxes
from followupd.setup import load_checked, open_engine
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
from tests.stores import PASSWORD_ENV, Followupd, ImapStore

pytestmark = pytest.mark.imap

NY = ZoneInfo("America/New_York")

ANNA, TOM = Person("Anna Schmidt", "anna@acme.example"), Person("Tom Lee", "tom@acme.example")
ACME = Company("Acme", "acme.example", "Data Engineer", ANNA)
MARIA = Person("Maria Lopez", "maria@globex.example")
GLOBEX = Company("Globex", "globex.example", "Product Manager", MARIA)
ATS = Person("Initech via Greenhouse", "no-reply@greenhouse.example")
PETER = Person("Peter Gibbons", "peter@initech.example")
INITECH = Company("Initech", "initech.example", "Backend Developer", ATS)
CLAIRE, WESKER = (
    Person("Claire Redfield", "claire@umbrella.example"),
    Person("Albert Wesker", "wesker@umbrella.example"),
)
UMBRELLA = Company("Umbrella", "umbrella.example", "Platform Engineer", CLAIRE)
GAVIN = Person("Gavin Belson", "gavin@hooli.example")
HOOLI = Company("Hooli", "hooli.example", "Site Reliability Engineer", GAVIN)
ART = Person("Art Vandelay", "art@vandelay.example")
VANDELAY = Company("Vandelay", "vandelay.example", "Import Analyst", ART)
SOL = Person("Sol Roth", "sol@soylent.example")
SOYLENT = Company("Soylent", "soylent.example", "QA Engineer", SOL)
CHARLIE = Person("Charlie Bucket", "charlie@wonka.example")
WONKA = Company("Wonka", "wonka.example", "Data Analyst", CHARLIE)
PEPPER = Person("Pepper Potts", "pepper@stark.example")
STARK = Company("Stark", "stark.example", "Hardware Engineer", PEPPER)
MILES = Person("Miles Dyson", "miles@cyberdyne.example")
CYBERDYNE = Company("Cyberdyne", "cyberdyne.example", "ML Engineer", MILES)


def iv(
    c: Company,
    tag: str,
    sent: str,
    start: str,
    end: str,
    *people: Person,
    zone: ZoneInfo | None = None,
    final: bool = False,
    parent: str | None = None,
) -> tuple[datetime, bytes]:
    """An invitation (times in Berlin unless a zone is given), with its arrival time."""
    s, e = (when(start, zone), when(end, zone)) if zone else (when(start), when(end))
    return when(sent), invitation(c, tag, when(sent), s, e, people, final=final, parent=parent)


def moved(
    c: Company, tag: str, round_tag: str, sent: str, start: str, end: str, *people: Person
) -> tuple[datetime, bytes]:
    return when(sent), reschedule(c, tag, round_tag, when(sent), when(start), when(end), people)


MAIL: list[tuple[datetime, bytes]] = [
    # 1 Acme: two interviewers, a promised date, a follow-up, then a rejection.
    iv(ACME, "a1", "2026-11-02 10:14", "2026-11-05 14:00", "2026-11-05 15:00", ANNA, TOM),
    (when("2026-11-05 16:40"), promise(ACME, "a2", when("2026-11-05 16:40"), "a1")),
    (when("2026-11-23 11:00"), rejection(ACME, "a3", when("2026-11-23 11:00"), "a2")),
    # 2 Globex: rescheduled interview, then an offer before the follow-up is due.
    iv(GLOBEX, "g1", "2026-11-03 09:30", "2026-11-09 11:00", "2026-11-09 12:00", MARIA),
    moved(GLOBEX, "g2", "g1", "2026-11-06 14:20", "2026-11-10 15:00", "2026-11-10 16:00", MARIA),
    (when("2026-11-16 10:00"), offer(GLOBEX, "g3", when("2026-11-16 10:00"), "g1")),
    # 3 Initech: an ATS no-reply address, the interview cancelled, then a no-reply rejection.
    iv(INITECH, "i1", "2026-11-09 12:00", "2026-11-12 10:00", "2026-11-12 11:00", PETER),
    (
        when("2026-11-11 09:15"),
        cancellation(
            INITECH,
            "i2",
            "i1",
            when("2026-11-11 09:15"),
            when("2026-11-12 10:00"),
            when("2026-11-12 11:00"),
            (PETER,),
        ),
    ),
    (when("2026-11-18 16:00"), rejection(INITECH, "i3", when("2026-11-18 16:00"), None)),
    # 4 Umbrella: references asked for, then a final round: a new cycle.
    iv(UMBRELLA, "u1", "2026-11-04 10:00", "2026-11-09 10:00", "2026-11-09 11:00", CLAIRE),
    (when("2026-11-10 10:00"), references_request(UMBRELLA, "u2", when("2026-11-10 10:00"), "u1")),
    iv(
        UMBRELLA,
        "u3",
        "2026-11-12 09:00",
        "2026-11-19 14:00",
        "2026-11-19 15:00",
        WESKER,
        final=True,
        parent="u2@umbrella.example",
    ),
    # 5 Hooli: an interview in New York time.
    iv(HOOLI, "h1", "2026-11-16 15:00", "2026-11-24 10:00", "2026-11-24 11:00", GAVIN, zone=NY),
    # 6 Vandelay: silence, a follow-up that the person sends, then silence again.
    iv(VANDELAY, "v1", "2026-11-03 11:00", "2026-11-06 10:00", "2026-11-06 11:00", ART),
    # 7 Soylent: an out-of-office and a bounce are not replies.
    iv(SOYLENT, "s1", "2026-11-11 10:00", "2026-11-16 14:00", "2026-11-16 15:00", SOL),
    (when("2026-11-17 09:00"), out_of_office(SOYLENT, "s2", when("2026-11-17 09:00"), "s1")),
    (when("2026-11-17 09:10"), bounce(when("2026-11-17 09:10"), "s3", "s1@soylent.example")),
    # 8 Wonka: the person writes by hand; then the company answers.
    iv(WONKA, "w1", "2026-11-23 10:00", "2026-11-25 11:00", "2026-11-25 12:00", CHARLIE),
    (
        when("2026-12-02 10:00"),
        note(WONKA, "w2", when("2026-12-02 10:00"), "w1", "Thanks, we will decide soon."),
    ),
    # 9 Stark: rescheduled twice; the person deletes the thank-you unsent.
    iv(STARK, "k1", "2026-11-30 10:00", "2026-12-03 10:00", "2026-12-03 11:00", PEPPER),
    moved(STARK, "k2", "k1", "2026-12-01 09:00", "2026-12-04 14:00", "2026-12-04 15:00", PEPPER),
    moved(STARK, "k3", "k1", "2026-12-03 08:30", "2026-12-07 10:00", "2026-12-07 11:00", PEPPER),
    # 10 Cyberdyne: rejected without an interview.
    (when("2026-11-26 17:30"), rejection(CYBERDYNE, "c1", when("2026-11-26 17:30"), None)),
]
END = when("2026-12-11 18:00")


@dataclass
class World:
    store: ImapStore

    def draft(self, to: str, subject_part: str) -> EmailMessage:
        (found,) = [
            m
            for _f, m in self.store.drafts()
            if str(m["To"]) == to and subject_part in m["Subject"]
        ]
        return found

    def send_draft(self, to: str, subject_part: str) -> None:
        """The person sends a draft unchanged: a copy with its Message-ID lands in Sent."""
        self.store.deliver_sent(self.draft(to, subject_part).as_bytes())

    def write_by_hand(self) -> None:
        self.store.deliver_sent(
            sent_by_me(
                CHARLIE, "Re: Interview invitation: Data Analyst at Wonka",
                when("2026-11-27 09:00"), "by-hand-1@example.com", "w1@wonka.example",
                "Thank you again for Wednesday - I really enjoyed it.",
            )
        )  # fmt: skip

    def delete_stark_thank_you(self) -> None:
        with self.store.server.client("jane") as client:
            client.select_folder("Drafts")
            for uid, data in client.fetch(client.search("ALL"), ["BODY.PEEK[HEADER]"]).items():
                if b"pepper@stark.example" in data[b"BODY[HEADER]"]:
                    client.delete_messages([uid])
            client.expunge()


PERSON: list[tuple[datetime, Callable[[World], None]]] = [
    (
        when("2026-11-13 10:30"),
        lambda w: w.send_draft("Art Vandelay <art@vandelay.example>", "Re:"),
    ),
    (when("2026-11-27 09:00"), World.write_by_hand),
    (when("2026-12-08 09:00"), World.delete_stark_thank_you),
]


def test_ten_applications_over_six_weeks(
    dovecot: Dovecot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ImapStore(dovecot)
    cli = Followupd(tmp_path, store, extra=REFERENCES)
    monkeypatch.setenv(PASSWORD_ENV, store.env()[PASSWORD_ENV])
    config, ruleset = load_checked(cli.config)
    engine = open_engine(config, ruleset)
    mailboxes = open_mailboxes(config)
    world = World(store)
    mail = sorted(MAIL, key=lambda m: m[0])
    person = sorted(PERSON, key=lambda p: p[0])
    passes = 0
    try:
        while True:
            due = engine.tracker.next_due()
            upcoming = [t for t in (mail[0][0] if mail else None, due) if t is not None]
            upcoming += [person[0][0]] if person else []
            if not upcoming or min(upcoming) > END:
                break
            now = min(upcoming)
            while mail and mail[0][0] <= now:
                store.deliver(mail.pop(0)[1])
            while person and person[0][0] <= now:
                person.pop(0)[1](world)
            engine.run_once(mailboxes, now)
            passes += 1
        engine.run_once(mailboxes, END)
    finally:
        close_all(mailboxes)
        engine.tracker.close()
    assert passes < 120  # the clock jumped; it did not crawl

    messages = [m for _f, m in store.drafts()]
    drafts = sorted(
        (str(m["To"] or ""), str(m["Subject"]), str(m["In-Reply-To"] or "")) for m in messages
    )
    assert drafts == EXPECTED_DRAFTS
    # Facts in the bodies, message by message where a fact matters.
    by = {(t, s): m for m in messages for t, s in [(str(m["To"] or ""), str(m["Subject"]))]}
    text = {k: str(m.get_content()).replace("\r\n", "\n") for k, m in by.items()}
    assert text[("", "Re: Your application for Backend Developer at Initech")].startswith(
        "[followupd left To empty: the message came from no-reply@greenhouse.example"
    )
    assert "which we spoke about on Thursday" in text[(_A, "Re: Data Engineer at Acme")]
    assert "written offer" in text[(_M, "Re: Offer: Product Manager at Globex")]
    assert "the late stages" in text[(_SAM, _HEADS)] and "Umbrella" in text[(_SAM, _HEADS)]
    assert text[(_T, "Thank you – Data Engineer at Acme")].startswith("Dear Tom,")
    assert text[(_A, "Thank you – Data Engineer at Acme")].startswith("Dear Anna,")
    for message in messages:
        assert message["From"] == "Jane Doe <jane@example.com>"
        assert message["Message-ID"].endswith("@example.com>")
    assert by[(_SAM, _HEADS)]["References"] is None
    assert by[(_M, "Re: Offer: Product Manager at Globex")]["References"] == (
        "<g1@globex.example> <g3@globex.example>"
    )

    status = cli.status("2026-12-11T18:00")
    assert [(a["rule"], a["to"], a["due"], a["reason"]) for a in status["actions"]] == [
        (
            "follow-up-silence",
            ["pepper@stark.example"],
            "2026-12-14T09:30:00+01:00",
            "follow-up-silence to Pepper Potts planned for Mon 14 Dec 09:30: no reply since the"
            " interview on Mon 7 Dec (rescheduled)",
        )
    ]
    done = sorted((a["state"], a["rule"], ",".join(a["to"]), a["due"]) for a in status["done"])
    assert done == EXPECTED_DONE
    reasons = {a["reason"] for a in status["done"] if a["state"] == "cancelled"}
    assert reasons == {
        "follow-up-silence cancelled: a reply arrived on 2026-11-05",
        "debrief cancelled: a cancellation arrived on 2026-11-11",
        "thank-you cancelled: a cancellation arrived on 2026-11-11",
        "follow-up-silence cancelled: a cancellation arrived on 2026-11-11",
        # The references request reads as an invitation without a time to the classifier.
        "follow-up-silence cancelled: an invitation arrived on 2026-11-10",
        "follow-up-silence cancelled: an offer arrived on 2026-11-16",
        "follow-up-silence cancelled: a new interview round was set up on 2026-11-12",
        "follow-up-silence cancelled: you wrote to them on 2026-11-27",
        "follow-up-silence cancelled: a reply arrived on 2026-12-02",
    }
    stages = [(a["company"], a["stage"]) for a in status["applications"]]
    assert sorted(stages) == [
        ("Acme", "rejected"),
        ("Cyberdyne", "rejected"),
        ("Globex", "offer"),
        ("Hooli", "interviewed"),
        ("Initech", "rejected"),
        ("Soylent", "interviewed"),
        ("Stark", "interviewed"),
        ("Umbrella", "interviewed"),
        ("Vandelay", "interviewed"),
        ("Wonka", "interviewed"),
    ]


_A, _T, _M = (
    "Anna Schmidt <anna@acme.example>",
    "Tom Lee <tom@acme.example>",
    ("Maria Lopez <maria@globex.example>"),
)
_SAM = "Sam Ortiz <sam@example.org>"
_HEADS = "Heads-up: you may get a reference call from Umbrella"
_ME = "Jane Doe <jane@example.com>"

EXPECTED_DRAFTS = [
    ("", "Re: Your application for Backend Developer at Initech", "<i3@initech.example>"),
    (
        "Albert Wesker <wesker@umbrella.example>",
        "Thank you – Platform Engineer at Umbrella",
        "<u3@umbrella.example>",
    ),
    (_A, "Re: Data Engineer at Acme", "<a2@acme.example>"),
    (_A, "Re: Your application for Data Engineer at Acme", "<a3@acme.example>"),
    (_A, "Thank you – Data Engineer at Acme", "<a1@acme.example>"),
    (
        "Art Vandelay <art@vandelay.example>",
        "Re: Interview invitation: Import Analyst at Vandelay",
        "<v1@vandelay.example>",
    ),
    (
        "Art Vandelay <art@vandelay.example>",
        "Thank you – Import Analyst at Vandelay",
        "<v1@vandelay.example>",
    ),
    ("Charlie Bucket <charlie@wonka.example>", "Re: Data Analyst at Wonka", "<w2@wonka.example>"),
    (
        "Charlie Bucket <charlie@wonka.example>",
        "Thank you – Data Analyst at Wonka",
        "<w1@wonka.example>",
    ),
    (
        "Claire Redfield <claire@umbrella.example>",
        "Re: Final interview: Platform Engineer at Umbrella",
        "<u3@umbrella.example>",
    ),
    (
        "Claire Redfield <claire@umbrella.example>",
        "Thank you – Platform Engineer at Umbrella",
        "<u1@umbrella.example>",
    ),
    (
        "Gavin Belson <gavin@hooli.example>",
        "Re: Interview invitation: Site Reliability Engineer at Hooli",
        "<h1@hooli.example>",
    ),
    (
        "Gavin Belson <gavin@hooli.example>",
        "Thank you – Site Reliability Engineer at Hooli",
        "<h1@hooli.example>",
    ),
    (_ME, "Debrief: Acme – Data Engineer (2026-11-05)", "<a1@acme.example>"),
    (_ME, "Debrief: Globex – Product Manager (2026-11-10)", "<g2@globex.example>"),
    (_ME, "Debrief: Hooli – Site Reliability Engineer (2026-11-24)", "<h1@hooli.example>"),
    (_ME, "Debrief: Soylent – QA Engineer (2026-11-16)", "<s1@soylent.example>"),
    (_ME, "Debrief: Stark – Hardware Engineer (2026-12-07)", "<k3@stark.example>"),
    (_ME, "Debrief: Umbrella – Platform Engineer (2026-11-09)", "<u1@umbrella.example>"),
    (_ME, "Debrief: Umbrella – Platform Engineer (2026-11-19)", "<u3@umbrella.example>"),
    (_ME, "Debrief: Vandelay – Import Analyst (2026-11-06)", "<v1@vandelay.example>"),
    (_ME, "Debrief: Wonka – Data Analyst (2026-11-25)", "<w1@wonka.example>"),
    ("Kim Park <kim@example.net>", _HEADS, ""),
    (_M, "Re: Offer: Product Manager at Globex", "<g3@globex.example>"),
    (_M, "Thank you – Product Manager at Globex", "<g2@globex.example>"),
    (
        "Miles Dyson <miles@cyberdyne.example>",
        "Re: Your application for ML Engineer at Cyberdyne",
        "<c1@cyberdyne.example>",
    ),
    (_SAM, _HEADS, ""),
    (
        "Sol Roth <sol@soylent.example>",
        "Re: Interview invitation: QA Engineer at Soylent",
        "<s1@soylent.example>",
    ),
    (
        "Sol Roth <sol@soylent.example>",
        "Thank you – QA Engineer at Soylent",
        "<s1@soylent.example>",
    ),
    (_T, "Thank you – Data Engineer at Acme", "<a1@acme.example>"),
]

_J, _NOBODY = "jane@example.com", ""
EXPECTED_DONE = sorted(
    [
        ("drafted", "debrief", _J, "2026-11-05T15:15:00+01:00"),
        ("drafted", "thank-you", "anna@acme.example", "2026-11-05T17:00:00+01:00"),
        ("drafted", "thank-you", "tom@acme.example", "2026-11-05T17:00:00+01:00"),
        ("drafted", "debrief", _J, "2026-11-06T11:15:00+01:00"),
        ("drafted", "thank-you", "art@vandelay.example", "2026-11-06T13:00:00+01:00"),
        ("drafted", "debrief", _J, "2026-11-09T11:15:00+01:00"),
        ("drafted", "thank-you", "claire@umbrella.example", "2026-11-09T13:00:00+01:00"),
        ("drafted", "references-heads-up", "kim@example.net", "2026-11-10T11:00:00+01:00"),
        ("drafted", "references-heads-up", "sam@example.org", "2026-11-10T11:00:00+01:00"),
        ("drafted", "debrief", _J, "2026-11-10T16:15:00+01:00"),
        ("drafted", "thank-you", "maria@globex.example", "2026-11-11T09:00:00+01:00"),
        ("cancelled", "follow-up-silence", "anna@acme.example", "2026-11-12T09:30:00+01:00"),
        ("cancelled", "debrief", _J, "2026-11-12T11:15:00+01:00"),
        ("cancelled", "thank-you", "peter@initech.example", "2026-11-12T13:00:00+01:00"),
        ("sent", "follow-up-silence", "art@vandelay.example", "2026-11-13T09:30:00+01:00"),
        ("cancelled", "follow-up-silence", "claire@umbrella.example", "2026-11-16T09:30:00+01:00"),
        ("drafted", "offer-reply", "maria@globex.example", "2026-11-16T11:00:00+01:00"),
        ("drafted", "debrief", _J, "2026-11-16T15:15:00+01:00"),
        ("drafted", "thank-you", "sol@soylent.example", "2026-11-16T17:00:00+01:00"),
        ("cancelled", "follow-up-silence", "maria@globex.example", "2026-11-17T09:30:00+01:00"),
        ("cancelled", "follow-up-silence", "claire@umbrella.example", "2026-11-17T09:30:00+01:00"),
        ("cancelled", "follow-up-silence", _NOBODY, "2026-11-19T09:30:00+01:00"),
        ("drafted", "rejection-reply", _NOBODY, "2026-11-19T09:30:00+01:00"),
        ("drafted", "debrief", _J, "2026-11-19T15:15:00+01:00"),
        ("drafted", "thank-you", "wesker@umbrella.example", "2026-11-19T17:00:00+01:00"),
        ("drafted", "follow-up-promised", "anna@acme.example", "2026-11-20T09:30:00+01:00"),
        ("drafted", "follow-up-silence", "sol@soylent.example", "2026-11-23T09:30:00+01:00"),
        ("drafted", "rejection-reply", "anna@acme.example", "2026-11-24T09:30:00+01:00"),
        ("drafted", "debrief", _J, "2026-11-24T17:15:00+01:00"),
        ("drafted", "debrief", _J, "2026-11-25T12:15:00+01:00"),
        ("sent", "thank-you", "charlie@wonka.example", "2026-11-25T14:00:00+01:00"),
        ("drafted", "thank-you", "gavin@hooli.example", "2026-11-25T15:00:00+01:00"),
        ("drafted", "follow-up-silence", "claire@umbrella.example", "2026-11-26T09:30:00+01:00"),
        ("drafted", "rejection-reply", "miles@cyberdyne.example", "2026-11-27T09:30:00+01:00"),
        ("drafted", "follow-up-silence", "gavin@hooli.example", "2026-12-01T15:00:00+01:00"),
        ("cancelled", "follow-up-silence", "charlie@wonka.example", "2026-12-02T09:30:00+01:00"),
        ("cancelled", "follow-up-silence", "charlie@wonka.example", "2026-12-04T09:30:00+01:00"),
        ("drafted", "debrief", _J, "2026-12-07T11:15:00+01:00"),
        # Made, then deleted from Drafts unsent: it stays "drafted" and is not made again.
        ("drafted", "thank-you", "pepper@stark.example", "2026-12-07T13:00:00+01:00"),
        ("drafted", "follow-up-silence", "charlie@wonka.example", "2026-12-09T09:30:00+01:00"),
    ]
)
