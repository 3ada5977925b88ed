"""Whether a draft's recipients are people the application has heard from before.

A message can claim to be from a company it is not from: a look-alike domain, a Reply-To
pointing elsewhere. followupd then still drafts (the person decides), but the draft says at
the top that the address is new to this application, so nobody replies to a stranger
believing it is the recruiter.
"""

from __future__ import annotations

from collections.abc import Iterable

from followupd.model import Address
from followupd.records import Application, Event


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower().strip()


def known_domains(app: Application, before: Event) -> set[str]:
    """Domains the application's earlier inbound mail came from or named as contacts."""
    domains: set[str] = set()
    for event in app.events:
        if event.id == before.id or event.direction != "in" or event.at > before.at:
            continue
        people: list[Address | None] = [
            event.sender,
            event.organiser,
            *event.reply_to,
            *event.contacts,
            *event.interviewers,
        ]
        domains.update(_domain(a.email) for a in people if a is not None and a.email)
    return domains


def unfamiliar(
    app: Application, trigger: Event, recipients: Iterable[Address], mine: Iterable[str]
) -> list[Address]:
    """Recipients whose domain no earlier message of the application came from.

    Empty when the application has no earlier mail (nothing to compare with) and for the
    person's own addresses and references (`mine`).
    """
    known = known_domains(app, trigger)
    if not known:
        return []
    own = {m.lower() for m in mine}
    return [a for a in recipients if a.email.lower() not in own and _domain(a.email) not in known]


def unfamiliar_note(
    app: Application, trigger: Event, recipients: Iterable[Address], mine: Iterable[str]
) -> str:
    """The warning put at the top of a draft addressed to someone new, or ''."""
    strangers = unfamiliar(app, trigger, recipients, mine)
    if not strangers:
        return ""
    who = ", ".join(a.email for a in strangers)
    known = ", ".join(sorted(known_domains(app, trigger)))
    return (
        f"Check the address before sending: {who} is not among the addresses this application's"
        f" earlier mail came from ({known}). The message may not be from the company it names."
    )
