"""`followupd status` for a person: the applications as a rich table, times said plainly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

STAGE_STYLE = {  # the stages of followupd.stage.stage
    "offer": "bold green",
    "interview scheduled": "cyan",
    "interviewed": "cyan",
    "assessment": "cyan",
    "interview cancelled": "yellow",
    "rejected": "dim",
}


def relative(when: datetime, now: datetime) -> str:
    """'in 2 days', '3 h ago', 'now': how far `when` is from `now`, roughly."""
    seconds = (when - now).total_seconds()
    ahead = seconds >= 0
    span = abs(seconds)
    if span < 60:
        return "now"
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if span >= size:
            count = int(span // size)
            label = f"{count} {unit}" + ("s" if unit == "day" and count != 1 else "")
            return f"in {label}" if ahead else f"{label} ago"
    raise AssertionError("unreachable: span >= 60")


def _moment(iso: str | None, now: datetime) -> str:
    if not iso:
        return ""
    when = datetime.fromisoformat(iso)
    return f"{when:%a %d %b %H:%M} ({relative(when, now)})"


def applications_table(data: dict[str, Any]) -> Table:
    """One row per application, the ones with something planned soonest first."""
    now = datetime.fromisoformat(data["now"])
    table = Table(title="Applications", title_justify="left")
    for name in ("company", "role", "stage", "last contact", "next action", "when"):
        table.add_column(name, overflow="fold")

    def order(app: dict[str, Any]) -> tuple[int, str]:
        nxt = app["next_action"]
        return (0, nxt["due"]) if nxt else (1, app["last_contact"] or "")

    for app in sorted(data["applications"], key=order):
        nxt = app["next_action"]
        action = ""
        if nxt:
            to = ", ".join(nxt["to"])
            action = f"{nxt['rule']}" + (f" to {to}" if to else "")
        table.add_row(
            app["company"] or "?",
            app["role"] or "?",
            Text(app["stage"], style=STAGE_STYLE.get(app["stage"], "")),
            _moment(app["last_contact"], now),
            action,
            _moment(nxt["due"], now) if nxt else "",
        )
    return table


def render_status(data: dict[str, Any], console: Console | None = None) -> None:
    """The applications table, the pending drafts, and any messages that could not be read."""
    from followupd.demo import wide_console  # noqa: PLC0415

    console = console or wide_console()
    if not data["applications"]:
        console.print("No applications yet: followupd has not recognised any job mail.")
    else:
        console.print(applications_table(data))
    now = datetime.fromisoformat(data["now"])
    if data["actions"]:
        pending = Table("when", "rule", "to", "why", title="Pending drafts", title_justify="left")
        for act in data["actions"]:
            pending.add_row(
                _moment(act["due"], now), act["rule"], ", ".join(act["to"]), act["reason"]
            )
        console.print(pending)
    if data["skipped"]:
        console.print(f"{len(data['skipped'])} message(s) could not be read:")
        for s in data["skipped"]:
            console.print(f"  {s['account']}/{s['folder']} {s['key']}: {s['reason']}", markup=False)
