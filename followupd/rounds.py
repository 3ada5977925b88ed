"""Interview rounds: what an application's invitations, reschedules and cancellations add up to."""

from __future__ import annotations

from dataclasses import dataclass, replace

from followupd.model import Address, Interview, Kind
from followupd.records import Application, Event

_SCHEDULING = (Kind.INVITATION, Kind.CONFIRMATION, Kind.RESCHEDULE)


@dataclass(frozen=True)
class Round:
    """One interview: its latest time, the people in it, and whether it was called off."""

    key: str  # the Message-ID of the message that first set it up; stable across reschedules
    interview: Interview
    first: Event
    latest: Event  # the message that set the current time
    interviewers: tuple[Address, ...]
    organiser: Address | None
    cancelled: Event | None = None
    moved: int = 0  # how often it was rescheduled
    final: bool = False  # a message about it called it the final round

    @property
    def zone(self) -> str:
        """The interview's time zone name (IANA where the calendar said so)."""
        return self.interview.timezone


def interview_rounds(app: Application) -> list[Round]:
    """Fold the application's events, oldest first, into interview rounds.

    A calendar UID names a round; without one, a reschedule or confirmation updates the round
    still to come, a cancellation calls it off, and an invitation for another time opens a new one.
    """
    rounds: list[Round] = []
    for event in app.events:
        if event.direction != "in":
            continue
        if event.kind in _SCHEDULING and event.interview is not None:
            index = _matching_round(rounds, event)
            if index is None:
                rounds.append(
                    Round(
                        key=event.message_id,
                        interview=event.interview,
                        first=event,
                        latest=event,
                        interviewers=event.interviewers,
                        organiser=event.organiser,
                        final="final_round" in event.signals,
                    )
                )
            else:
                old = rounds[index]
                moved = old.moved + (old.interview.start != event.interview.start)
                rounds[index] = replace(
                    old,
                    interview=event.interview,
                    latest=event,
                    interviewers=_merge(old.interviewers, event.interviewers),
                    organiser=event.organiser or old.organiser,
                    cancelled=None,
                    moved=moved,
                    final=old.final or "final_round" in event.signals,
                )
        elif event.kind is Kind.CANCELLATION:
            index = _matching_round(rounds, event)
            if index is not None:
                rounds[index] = replace(rounds[index], cancelled=event)
    return rounds


def _matching_round(rounds: list[Round], event: Event) -> int | None:
    uid = event.interview.uid if event.interview else None
    if uid:
        for i, r in enumerate(rounds):
            if r.interview.uid == uid or (r.first.interview and r.first.interview.uid == uid):
                return i
    if event.interview is not None:
        for i, r in enumerate(rounds):
            if r.interview.start == event.interview.start:
                return i
    if event.kind in (Kind.RESCHEDULE, Kind.CONFIRMATION, Kind.CANCELLATION):
        # The round still to come when the message was written.
        for i in range(len(rounds) - 1, -1, -1):
            if rounds[i].interview.end >= event.at or event.kind is not Kind.CONFIRMATION:
                return i
    return None


def _merge(a: tuple[Address, ...], b: tuple[Address, ...]) -> tuple[Address, ...]:
    seen = {x.email.lower() or x.name for x in a}
    return a + tuple(x for x in b if (x.email.lower() or x.name) not in seen)
