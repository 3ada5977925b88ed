"""Plain-data builders for planner and compose tests (no mailbox, no parser)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from followupd.model import Address, Interview, Kind
from followupd.planner import Person
from followupd.records import Application, Event
from followupd.timing import Calendar

BERLIN = ZoneInfo("Europe/Berlin")
ME = Person("Jane Doe", "jane@example.com")
CAL = Calendar(zone=BERLIN, country="DE")
ANNA = Address("Anna Schmidt", "anna@acme.example")
TOM = Address("Tom Lee", "tom@acme.example")


def at(text: str) -> datetime:
    """A Berlin wall-clock time, "2026-11-05 14:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def event(
    n: int,
    kind: Kind,
    when: str,
    *,
    interview: tuple[str, str] | None = None,
    uid: str | None = None,
    sender: Address = ANNA,
    interviewers: tuple[Address, ...] = (),
    direction: str = "in",
    automatic: bool = False,
    promised: date | None = None,
    reply_to: tuple[Address, ...] = (),
) -> Event:
    iv = None
    if interview is not None:
        iv = Interview(at(interview[0]), at(interview[1]), "Europe/Berlin", uid=uid)
    return Event(
        id=n,
        application_id=1,
        account="test",
        message_id=f"m{n}@acme.example",
        direction=direction,
        kind=kind,
        at=at(when),
        automatic=automatic,
        confidence=0.9,
        subject=f"Message {n}",
        sender=sender,
        reply_to=reply_to,
        references=(),
        interview=iv,
        interviewers=interviewers,
        organiser=sender,
        promised_reply_by=promised,
        contacts=(),
    )


def app(*events: Event, company: str = "Acme", role: str = "Data Engineer") -> Application:
    return Application(1, company, role, "test", tuple(events))


def reply(n: int, when: str, **kw: object) -> Event:
    return replace(event(n, Kind.OTHER, when), **kw)  # type: ignore[arg-type]
