"""Plain, immutable records passed between the pipeline's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Kind(StrEnum):
    """What a message means for the application it belongs to."""

    INVITATION = "invitation"
    CONFIRMATION = "confirmation"
    RESCHEDULE = "reschedule"
    CANCELLATION = "cancellation"
    REJECTION = "rejection"
    OFFER = "offer"
    ASSESSMENT = "assessment"
    OTHER = "other"


@dataclass(frozen=True)
class Address:
    name: str
    email: str

    def formatted(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True)
class CalendarPart:
    """One VEVENT from a text/calendar part (or .ics attachment)."""

    method: str | None  # REQUEST, CANCEL, PUBLISH, REPLY ... (upper case)
    uid: str | None
    sequence: int
    summary: str
    start: datetime | None  # timezone-aware; floating times are resolved by the parser
    end: datetime | None
    timezone: str | None  # IANA name from TZID where known
    organizer: Address | None
    attendees: tuple[Address, ...]
    location: str
    description: str
    status: str | None  # CONFIRMED, CANCELLED, TENTATIVE
    all_day: bool = False


@dataclass(frozen=True)
class ParsedMessage:
    """The parts of a message that recognition needs; built by `parse.parse_message`."""

    message_id: str  # without angle brackets; synthesised from a hash if missing
    subject: str
    date: datetime | None  # timezone-aware
    sender: Address | None  # From
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    in_reply_to: str | None  # without angle brackets
    references: tuple[str, ...]  # without angle brackets, oldest first
    headers: dict[str, str]  # lower-cased names of the headers that matter for triage
    text: str  # plain text; HTML converted
    calendar: tuple[CalendarPart, ...] = ()
    defects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Interview:
    start: datetime  # timezone-aware
    end: datetime
    timezone: str  # IANA name, or a UTC offset like "+01:00" when only that is known
    location: str = ""
    uid: str | None = None  # calendar UID, when the time came from an .ics part
    sequence: int = 0


@dataclass(frozen=True)
class Recognition:
    """What classify + extract made of one message."""

    kind: Kind
    confidence: float
    evidence: tuple[str, ...]
    company: str | None = None
    role: str | None = None
    interview: Interview | None = None
    interviewers: tuple[Address, ...] = ()
    organiser: Address | None = None
    promised_reply_by: date | None = None
    # Out-of-office, bounces, auto-acknowledgements, newsletters: never "the company replied".
    automatic: bool = False
    job_id: str | None = None
    contacts: tuple[Address, ...] = field(default=())  # people at the company seen in this message
