"""What the tracker stores and hands to the planner: applications, events, actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from followupd.model import Address, Interview, Kind


@dataclass(frozen=True)
class Event:
    """One message of an application, as recognised when it arrived."""

    id: int
    application_id: int
    account: str
    message_id: str
    direction: str  # "in" from the company, "out" sent by the person
    kind: Kind
    at: datetime
    automatic: bool
    confidence: float
    subject: str
    sender: Address | None
    reply_to: tuple[Address, ...]
    references: tuple[str, ...]
    interview: Interview | None
    interviewers: tuple[Address, ...]
    organiser: Address | None
    promised_reply_by: date | None
    contacts: tuple[Address, ...]
    evidence: tuple[str, ...] = ()
    signals: tuple[str, ...] = ()  # see followupd.signals: references_requested, final_round

    @property
    def is_reply(self) -> bool:
        """A message from the company written by a person (not an auto-reply or a bounce)."""
        return self.direction == "in" and not self.automatic


@dataclass(frozen=True)
class Application:
    id: int
    company: str | None
    role: str | None
    account: str
    events: tuple[Event, ...]  # oldest first

    @property
    def label(self) -> str:
        if self.company and self.role:
            return f"{self.role} at {self.company}"
        return self.company or self.role or f"application #{self.id}"


ACTION_STATES = ("planned", "drafting", "drafted", "sent", "cancelled", "failed")


@dataclass(frozen=True)
class Action:
    """A draft the rules want (planned) or made (drafted), with its life cycle state."""

    key: str
    application_id: int
    rule: str
    template: str
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    due: datetime
    reason: str
    event_id: int  # the event the draft replies to / threads under
    context: dict[str, Any]  # facts the template needs that are not in the event
    message_id: str = ""
    state: str = "planned"
    account: str = ""
    error: str = ""


def address_to_json(a: Address | None) -> dict[str, str] | None:
    return None if a is None else {"name": a.name, "email": a.email}


def address_from_json(d: dict[str, str] | None) -> Address | None:
    return None if d is None else Address(d.get("name", ""), d.get("email", ""))


def addresses_to_json(items: tuple[Address, ...]) -> list[dict[str, str]]:
    return [{"name": a.name, "email": a.email} for a in items]


def addresses_from_json(items: list[dict[str, str]] | None) -> tuple[Address, ...]:
    return tuple(Address(d.get("name", ""), d.get("email", "")) for d in items or [])


def interview_to_json(iv: Interview | None) -> dict[str, Any] | None:
    if iv is None:
        return None
    return {
        "start": iv.start.isoformat(),
        "end": iv.end.isoformat(),
        "timezone": iv.timezone,
        "location": iv.location,
        "uid": iv.uid,
        "sequence": iv.sequence,
    }


def interview_from_json(d: dict[str, Any] | None) -> Interview | None:
    if d is None:
        return None
    return Interview(
        start=datetime.fromisoformat(d["start"]),
        end=datetime.fromisoformat(d["end"]),
        timezone=d["timezone"],
        location=d.get("location", ""),
        uid=d.get("uid"),
        sequence=int(d.get("sequence", 0)),
    )
