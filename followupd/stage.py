"""Where an application stands, in words a person uses."""

from __future__ import annotations

from datetime import datetime

from followupd.model import Kind
from followupd.records import Application
from followupd.rounds import interview_rounds


def stage(app: Application, now: datetime) -> str:
    """offer, rejected, interview scheduled, interviewed, assessment, or in contact."""
    inbound = [e for e in app.events if e.direction == "in"]
    if any(e.kind is Kind.OFFER for e in inbound):
        return "offer"
    if any(e.kind is Kind.REJECTION for e in inbound):
        return "rejected"
    rounds = [r for r in interview_rounds(app) if r.cancelled is None]
    if any(r.interview.end > now for r in rounds):
        return "interview scheduled"
    if rounds:
        return "interviewed"
    if any(e.kind is Kind.ASSESSMENT for e in inbound):
        return "assessment"
    if any(e.kind is Kind.CANCELLATION for e in inbound):
        return "interview cancelled"
    return "in contact"


def last_contact_at(app: Application, now: datetime) -> datetime | None:
    """The latest contact by `now`: a message either way (auto-replies aside) or the end of
    an interview that took place."""
    times = [e.at for e in app.events if not e.automatic and e.at <= now]
    times += [
        r.interview.end
        for r in interview_rounds(app)
        if r.cancelled is None and r.interview.end <= now
    ]
    return max(times) if times else None
