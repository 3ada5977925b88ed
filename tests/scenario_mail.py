"""Messages of a job search, built in code: each kind the way a company's mail really looks.

Interview times travel in calendar parts (METHOD:REQUEST / CANCEL with one UID per round),
like the ones that scheduling tools and calendars send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
# Config lines naming two references, for the heads-up drafts.
REFERENCES = (
    "references:\n"
    "  - {name: Sam Ortiz, email: sam@example.org}\n"
    "  - {name: Kim Park, email: kim@example.net}\n"
)


def when(text: str, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


@dataclass(frozen=True)
class Person:
    name: str
    email: str

    @property
    def first(self) -> str:
        return self.name.split()[0]

    def header(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True)
class Company:
    name: str
    domain: str
    role: str
    recruiter: Person

    def mid(self, tag: str) -> str:
        return f"{tag}@{self.domain}"


def _headers(
    sender: str, subject: str, sent: datetime, mid: str, parent: str | None, extra: str = ""
) -> str:
    thread = f"In-Reply-To: <{parent}>\nReferences: <{parent}>\n" if parent else ""
    return (
        f"From: {sender}\nTo: Jane Doe <jane@example.com>\nSubject: {subject}\n"
        f"Date: {format_datetime(sent)}\nMessage-ID: <{mid}>\n{thread}{extra}MIME-Version: 1.0\n"
    )


def _plain(head: str, body: str) -> bytes:
    text = head + "Content-Type: text/plain; charset=utf-8\n\n" + body
    return text.replace("\n", "\r\n").encode()


def _with_calendar(head: str, body: str, ics: str, method: str) -> bytes:
    text = (
        head + 'Content-Type: multipart/mixed; boundary="b1"\n\n'
        "--b1\nContent-Type: text/plain; charset=utf-8\n\n"
        f"{body}\n--b1\nContent-Type: text/calendar; charset=utf-8; method={method}\n\n"
        f"{ics}\n--b1--\n"
    )
    return text.replace("\n", "\r\n").encode()


def _ics(
    c: Company,
    method: str,
    uid: str,
    seq: int,
    start: datetime,
    end: datetime,
    people: tuple[Person, ...],
    summary: str,
    status: str = "CONFIRMED",
) -> str:
    zone = str(start.tzinfo)
    attendees = "".join(f"ATTENDEE;CN={p.name}:mailto:{p.email}\n" for p in people)
    return (
        "BEGIN:VCALENDAR\nPRODID:-//Scenario//EN\nVERSION:2.0\n"
        f"METHOD:{method}\nBEGIN:VEVENT\nUID:{uid}\nSEQUENCE:{seq}\n"
        "DTSTAMP:20261101T090000Z\n"
        f"DTSTART;TZID={zone}:{start:%Y%m%dT%H%M%S}\nDTEND;TZID={zone}:{end:%Y%m%dT%H%M%S}\n"
        f"SUMMARY:{summary}\nSTATUS:{status}\n"
        f"ORGANIZER;CN={c.recruiter.name}:mailto:{c.recruiter.email}\n"
        f"{attendees}ATTENDEE;CN=Jane Doe:mailto:jane@example.com\nEND:VEVENT\nEND:VCALENDAR"
    )


def invitation(
    c: Company,
    tag: str,
    sent: datetime,
    start: datetime,
    end: datetime,
    people: tuple[Person, ...],
    *,
    final: bool = False,
    sender: str | None = None,
    parent: str | None = None,
) -> bytes:
    """An interview invitation with a calendar request; `final` names it the final round."""
    label = "Final interview" if final else "Interview invitation"
    names = " and ".join(p.name for p in people)
    body = (
        f"Dear Jane,\n\nthank you for your application for the {c.role} position at {c.name}."
        f" We would like to invite you to {'the final round, a' if final else 'an'} interview"
        f" with {names}.\n\nThe interview is on {start:%A %-d %B} from {start:%H:%M} to"
        f" {end:%H:%M}, by video. The calendar invitation is attached.\n\n"
        f"Best regards,\n{c.recruiter.name}\nTalent Acquisition, {c.name}\n"
    )
    head = _headers(
        sender or c.recruiter.header(), f"{label}: {c.role} at {c.name}", sent, c.mid(tag), parent
    )
    summary = f"{'Final interview' if final else 'Interview'}: {c.role} (Jane Doe)"
    ics = _ics(c, "REQUEST", c.mid(f"uid-{tag}"), 0, start, end, people, summary)
    return _with_calendar(head, body, ics, "REQUEST")


def reschedule(
    c: Company,
    tag: str,
    round_tag: str,
    sent: datetime,
    start: datetime,
    end: datetime,
    people: tuple[Person, ...],
    seq: int = 1,
) -> bytes:
    body = (
        f"Dear Jane,\n\nunfortunately we have to reschedule your interview for the {c.role}"
        f" position. The new time is {start:%A %-d %B} from {start:%H:%M} to {end:%H:%M}."
        " The updated calendar invitation is attached. Sorry for the inconvenience.\n\n"
        f"Best regards,\n{c.recruiter.name}\n"
    )
    head = _reply_headers(
        c, f"Rescheduled: Interview for {c.role} at {c.name}", sent, tag, round_tag
    )
    ics = _round_ics(c, "REQUEST", round_tag, seq, start, end, people)
    return _with_calendar(head, body, ics, "REQUEST")


def cancellation(
    c: Company,
    tag: str,
    round_tag: str,
    sent: datetime,
    start: datetime,
    end: datetime,
    people: tuple[Person, ...],
) -> bytes:
    body = (
        f"Dear Jane,\n\nwe have to cancel the interview for the {c.role} position planned for"
        f" {start:%A %-d %B}. We will be in touch about next steps.\n\n"
        f"Best regards,\n{c.recruiter.name}\n"
    )
    head = _reply_headers(c, f"Cancelled: Interview for {c.role} at {c.name}", sent, tag, round_tag)
    ics = _round_ics(c, "CANCEL", round_tag, 2, start, end, people, "CANCELLED")
    return _with_calendar(head, body, ics, "CANCEL")


def _reply_headers(
    c: Company, subject: str, sent: datetime, tag: str, parent: str, extra: str = ""
) -> str:
    """Headers of a message from the company's recruiter in the thread of `parent`."""
    return _headers(c.recruiter.header(), subject, sent, c.mid(tag), c.mid(parent), extra)


def _round_ics(
    c: Company,
    method: str,
    round_tag: str,
    seq: int,
    start: datetime,
    end: datetime,
    people: tuple[Person, ...],
    status: str = "CONFIRMED",
) -> str:
    """The calendar part of a later message about the interview round `round_tag`."""
    summary = f"Interview: {c.role} (Jane Doe)"
    return _ics(c, method, c.mid(f"uid-{round_tag}"), seq, start, end, people, summary, status)


def note(
    c: Company, tag: str, sent: datetime, parent: str, text: str, sender: Person | None = None
) -> bytes:
    """A plain human reply in the thread."""
    who = sender or c.recruiter
    head = _headers(who.header(), f"Re: {c.role} at {c.name}", sent, c.mid(tag), c.mid(parent))
    return _plain(head, f"Hi Jane,\n\n{text}\n\nBest,\n{who.name}\n{c.name}\n")


def promise(c: Company, tag: str, sent: datetime, parent: str) -> bytes:
    return note(
        c,
        tag,
        sent,
        parent,
        "thank you again for your time. The team is meeting the other candidates this week,"
        " and we will get back to you within two weeks with a decision.",
    )


def references_request(c: Company, tag: str, sent: datetime, parent: str) -> bytes:
    return note(
        c,
        tag,
        sent,
        parent,
        "the team enjoyed meeting you. As a next step, could you send us the names and contact"
        " details of two references?",
    )


def rejection(c: Company, tag: str, sent: datetime, parent: str | None, sender: str = "") -> bytes:
    head = _headers(
        sender or c.recruiter.header(),
        f"Your application for {c.role} at {c.name}",
        sent,
        c.mid(tag),
        c.mid(parent) if parent else None,
    )
    return _plain(
        head,
        f"Dear Jane,\n\nthank you for your interest in the {c.role} role. After careful"
        " consideration we have decided not to move forward with your application."
        " We wish you every success.\n\nKind regards,\n"
        f"{c.recruiter.name}\n",
    )


def offer(c: Company, tag: str, sent: datetime, parent: str) -> bytes:
    head = _reply_headers(c, f"Offer: {c.role} at {c.name}", sent, tag, parent)
    return _plain(
        head,
        f"Dear Jane,\n\nI am delighted to offer you the position of {c.role} at {c.name}!"
        " We were all impressed. I will call you to go through the details of the offer.\n\n"
        f"Warm regards,\n{c.recruiter.name}\n",
    )


def out_of_office(c: Company, tag: str, sent: datetime, parent: str) -> bytes:
    head = _reply_headers(
        c,
        f"Automatic reply: {c.role} at {c.name}",
        sent,
        tag,
        parent,
        "Auto-Submitted: auto-replied\nX-Autoreply: yes\n",
    )
    return _plain(
        head,
        "I am out of the office until Monday with limited access to email. For urgent"
        " matters please contact the office.\n",
    )


def bounce(sent: datetime, tag: str, parent: str) -> bytes:
    head = _headers(
        "Mail Delivery System <mailer-daemon@mail.example.net>",
        "Undelivered Mail Returned to Sender",
        sent,
        f"{tag}@mail.example.net",
        parent,
        "Auto-Submitted: auto-replied\n",
    )
    return _plain(
        head,
        "This is the mail system. I'm sorry to have to inform you that your message could"
        " not be delivered to one or more recipients.\n",
    )


def sent_by_me(
    to: Person,
    subject: str,
    sent: datetime,
    mid: str,
    parent: str,
    text: str = "Thank you!",
) -> bytes:
    head = (
        f"From: Jane Doe <jane@example.com>\nTo: {to.header()}\nSubject: {subject}\n"
        f"Date: {format_datetime(sent)}\nMessage-ID: <{mid}>\nIn-Reply-To: <{parent}>\n"
        f"References: <{parent}>\nMIME-Version: 1.0\n"
    )
    return _plain(head, f"Dear {to.first},\n\n{text}\n\nJane\n")
