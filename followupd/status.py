"""`followupd status`: the applications and what is planned for them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from followupd.config import load_config
from followupd.errors import UserInputError
from followupd.setup import STATE_FILE
from followupd.stage import last_contact_at, stage
from followupd.tracker import Tracker

PENDING = ("planned", "drafting")


def status_data(config_path: Path | None, now: datetime | None = None) -> dict[str, Any]:
    """Applications with stage and next action, and every pending action (JSON-ready)."""
    config = load_config(config_path)
    path = config.state_path / STATE_FILE
    if not path.exists():
        raise UserInputError(f"{path}: no state yet; run `followupd run` first")
    now = now or datetime.now(UTC)
    tracker = Tracker(path)
    try:
        apps = tracker.applications()
        actions = tracker.actions()
        skipped = [
            {"account": r["account"], "folder": r["folder"], "key": r["key"], "reason": r["reason"]}
            for r in tracker.skipped()
        ]
    finally:
        tracker.close()
    zone = config.me.zone
    out_apps = []
    for app in apps:
        pending = [a for a in actions if a.application_id == app.id and a.state in PENDING]
        last = last_contact_at(app, now)
        out_apps.append(
            {
                "id": app.id,
                "company": app.company,
                "role": app.role,
                "stage": stage(app, now),
                "last_contact": last.astimezone(zone).isoformat() if last else None,
                "messages": len(app.events),
                "next_action": _action_json(pending[0], zone) if pending else None,
            }
        )
    return {
        "now": now.astimezone(zone).isoformat(),
        "applications": out_apps,
        "actions": [_action_json(a, zone) for a in actions if a.state in PENDING],
        "done": [_action_json(a, zone) for a in actions if a.state not in PENDING],
        "skipped": skipped,
    }


def _action_json(a: Any, zone: Any) -> dict[str, Any]:
    return {
        "key": a.key,
        "application_id": a.application_id,
        "rule": a.rule,
        "state": a.state,
        "due": a.due.astimezone(zone).isoformat(),
        "to": [x.email for x in a.to],
        "reason": a.reason,
        "message_id": a.message_id,
        "error": a.error or None,
    }
