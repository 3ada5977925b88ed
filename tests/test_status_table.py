"""The person-facing `status` table, from the same data `status --json` prints."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.console import Console

from followupd.status_table import relative, render_status

NOW = datetime.fromisoformat("2026-11-10T09:00:00+01:00")


def app(company: str, stage: str, last: str, due: str | None) -> dict[str, object]:
    nxt = None
    if due:
        nxt = {"rule": "thank-you", "due": due, "to": ["ada@acme.example"], "reason": "r"}
    return {
        "id": 1,
        "company": company,
        "role": "Engineer",
        "stage": stage,
        "last_contact": last,
        "messages": 2,
        "next_action": nxt,
    }


def rendered(data: dict[str, object]) -> list[str]:
    console = Console(record=True, width=200, color_system=None)
    render_status(data, console)
    return console.export_text().splitlines()


def test_relative_times_read_naturally() -> None:
    assert relative(NOW + timedelta(days=2, hours=3), NOW) == "in 2 days"
    assert relative(NOW - timedelta(days=1), NOW) == "1 day ago"
    assert relative(NOW + timedelta(hours=5), NOW) == "in 5 h"
    assert relative(NOW - timedelta(minutes=12), NOW) == "12 min ago"
    assert relative(NOW + timedelta(seconds=20), NOW) == "now"


def test_table_lists_applications_soonest_action_first() -> None:
    data = {
        "now": NOW.isoformat(),
        "applications": [
            app("Globex", "rejected", "2026-11-01T10:00:00+01:00", None),
            app(
                "Acme",
                "interview scheduled",
                "2026-11-09T15:30:00+01:00",
                "2026-11-12T10:00:00+01:00",
            ),
        ],
        "actions": [],
        "done": [],
        "skipped": [],
    }
    lines = rendered(data)
    header = next(line for line in lines if "company" in line)
    for column in ("role", "stage", "last contact", "next action", "when"):
        assert column in header
    acme = next(i for i, line in enumerate(lines) if "Acme" in line)
    globex = next(i for i, line in enumerate(lines) if "Globex" in line)
    assert acme < globex  # something planned comes first
    row = lines[acme]
    assert "interview scheduled" in row
    assert "Mon 09 Nov 15:30 (17 h ago)" in row
    assert "thank-you to ada@acme.example" in row
    assert "Thu 12 Nov 10:00 (in 2 days)" in row


def test_empty_state_says_so() -> None:
    data = {"now": NOW.isoformat(), "applications": [], "actions": [], "done": [], "skipped": []}
    assert rendered(data) == ["No applications yet: followupd has not recognised any job mail."]
