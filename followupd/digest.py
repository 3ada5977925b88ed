"""What the notes to the person say: drafts waiting, and the weekly pipeline digest. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from followupd.records import Action, Application
from followupd.stage import last_contact_at, stage
from followupd.timing import Calendar

CLOSED = ("rejected",)
PENDING = ("planned", "drafting")
ADVICE_MIN = 2  # the seed articles: keep two or three processes going, not one


def drafts_note(made: Sequence[Action], waiting: int, cal: Calendar) -> tuple[str, str]:
    """(subject, body) of the note sent after a pass that put drafts into Drafts."""
    count = len(made)
    noun = "draft" if count == 1 else "drafts"
    subject = f"followupd: {count} new {noun} waiting in Drafts"
    lines = [f"followupd put {count} new {noun} into your Drafts folder:", ""]
    for a in made:
        who = ", ".join(x.formatted() for x in a.to) or "(To left empty: see the draft)"
        lines.append(f"- {a.rule} to {who}")
    lines += [
        "",
        f"{waiting} draft(s) made by followupd are waiting in Drafts in all.",
        "Nothing has been sent: read, edit and send them from your mail client.",
    ]
    return subject, "\n".join(lines) + "\n"


def weekly_digest(
    apps: Sequence[Application], actions: Sequence[Action], now: datetime, cal: Calendar
) -> tuple[str, str]:
    """(subject, body) of the weekly pipeline digest."""
    rows = []
    for app in apps:
        where = stage(app, now)
        if where in CLOSED:
            continue
        last = last_contact_at(app, now)
        pending = sorted(
            (a for a in actions if a.application_id == app.id and a.state in PENDING),
            key=lambda a: a.due,
        )
        rows.append((app, where, last, pending))
    rows.sort(key=lambda r: r[2] or now, reverse=True)
    week_ago = now - timedelta(days=7)
    closed = [
        app
        for app in apps
        if stage(app, now) in CLOSED and (last_contact_at(app, now) or now) >= week_ago
    ]
    waiting = sum(1 for a in actions if a.state == "drafted")
    active = len(rows)
    subject = f"followupd weekly digest: {active} active application{'s' if active != 1 else ''}"
    lines = [f"Your job search on {cal.local(now):%A %-d %B %Y}", ""]
    if not rows:
        lines.append("No active applications.")
    for app, where, last, pending in rows:
        lines.append(f"* {app.label} — {where}")
        when = f"{cal.local(last):%a %-d %b}" if last else "none yet"
        lines.append(f"    last contact: {when}")
        for a in pending:
            lines.append(f"    planned: {a.rule} on {cal.local(a.due):%a %-d %b %H:%M}")
        if not pending:
            lines.append("    planned: nothing")
    lines.append("")
    if closed:
        lines.append("Closed this week: " + ", ".join(a.label for a in closed))
    lines.append(f"Drafts waiting in Drafts: {waiting}")
    lines.append(f"Processes active: {active}")
    if active < ADVICE_MIN:
        lines.append(
            "Tip: keep two or three processes going at once, so no single answer decides your week."
        )
    return subject, "\n".join(lines) + "\n"
