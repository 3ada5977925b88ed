"""`followupd explain`: recognition and the plan for one message, without a mailbox."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from followupd.config import Config, Me, default_config_path
from followupd.errors import Problem, UserInputError
from followupd.model import Address, Kind
from followupd.pipeline import calendar_for
from followupd.planner import Person, plan_application
from followupd.records import Application, Event
from followupd.ruleset import RuleSet, load_rules
from followupd.signals import signals_of

MAX_MESSAGE_BYTES = 50 * 1024 * 1024


def _config_and_rules(config_path: Path | None) -> tuple[Config, RuleSet]:
    from followupd.setup import load_checked  # noqa: PLC0415

    if config_path is not None or default_config_path().exists():
        return load_checked(config_path)
    # No config yet: explain still works, with a neutral person and the bundled rules.
    config = Config(
        me=Me(name="You", email="you@example.invalid"),
        accounts=[{"name": "none", "maildir": "/nonexistent"}],  # type: ignore[list-item]
    )
    return config, load_rules(None)


def explain_message(path: Path, config_path: Path | None) -> dict[str, Any]:
    """Everything `explain --json` prints for one .eml file."""
    from followupd.parse import MalformedMessage, parse_message  # noqa: PLC0415
    from followupd.recognise import recognise  # noqa: PLC0415

    config, ruleset = _config_and_rules(config_path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_MESSAGE_BYTES)
    except OSError as exc:
        raise UserInputError([Problem(str(path), None, f"cannot read: {exc.strerror}")]) from None
    cal = calendar_for(config)
    try:
        msg = parse_message(raw, default_tz=cal.zone)
    except MalformedMessage as exc:
        raise UserInputError([Problem(str(path), None, f"not a readable message: {exc}")]) from None
    rec = recognise(msg, me_addresses=config.me.addresses, tz=cal.zone)
    at = msg.date or datetime.now(UTC)
    event = Event(
        id=1,
        application_id=1,
        account="explain",
        message_id=msg.message_id,
        direction="in",
        kind=rec.kind,
        at=at,
        automatic=rec.automatic,
        confidence=rec.confidence,
        subject=msg.subject,
        sender=msg.sender,
        reply_to=msg.reply_to,
        references=msg.references,
        interview=rec.interview,
        interviewers=rec.interviewers,
        organiser=rec.organiser,
        promised_reply_by=rec.promised_reply_by,
        contacts=rec.contacts,
        evidence=rec.evidence,
        signals=signals_of(msg),
    )
    actions: list[dict[str, Any]] = []
    if rec.kind is not Kind.OTHER:
        app = Application(1, rec.company, rec.role, "explain", (event,))
        refs = tuple(Address(r.get("name", ""), r["email"]) for r in config.references)
        person = Person(config.me.name, config.me.email, refs)
        plan = plan_application(app, ruleset.rules, cal, person)
        actions = [
            {
                "rule": a.rule,
                "template": a.template,
                "to": [x.email for x in a.to],
                "due": a.due.isoformat(),
                "reason": a.reason,
            }
            for a in plan.actions
        ]
    iv = rec.interview
    return {
        "file": str(path),
        "message_id": msg.message_id,
        "subject": msg.subject,
        "from": _addr(msg.sender),
        "date": msg.date.isoformat() if msg.date else None,
        "kind": rec.kind.value,
        "confidence": round(rec.confidence, 3),
        "evidence": list(rec.evidence),
        "automatic": rec.automatic,
        "company": rec.company,
        "role": rec.role,
        "job_id": rec.job_id,
        "interview": None
        if iv is None
        else {"start": iv.start.isoformat(), "end": iv.end.isoformat(), "timezone": iv.timezone},
        "interviewers": [_addr(a) for a in rec.interviewers],
        "organiser": _addr(rec.organiser),
        "promised_reply_by": rec.promised_reply_by.isoformat() if rec.promised_reply_by else None,
        "signals": list(event.signals),
        "actions": actions,
        "defects": list(msg.defects),
    }


def _addr(a: Address | None) -> dict[str, str] | None:
    return None if a is None else {"name": a.name, "email": a.email}


def render_explanation(result: dict[str, Any]) -> None:
    """Human-readable form of explain_message's result."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    console = Console()
    console.print(f"[bold]{result['subject']}[/bold]  ({result['file']})")
    console.print(
        f"kind: [bold]{result['kind']}[/bold]  confidence {result['confidence']:.2f}"
        + ("  (automatic mail)" if result["automatic"] else "")
    )
    for line in result["evidence"]:
        console.print(f"  because {line}", markup=False)
    for key in ("company", "role", "job_id", "promised_reply_by"):
        if result[key]:
            console.print(f"{key}: {result[key]}", markup=False)
    if result["interview"]:
        iv = result["interview"]
        console.print(f"interview: {iv['start']} → {iv['end']} ({iv['timezone']})", markup=False)
    for p in result["interviewers"]:
        console.print(f"interviewer: {p['name']} <{p['email']}>", markup=False)
    if not result["actions"]:
        console.print("no drafts would be planned")
        return
    table = Table("rule", "to", "due", "why")
    for a in result["actions"]:
        table.add_row(a["rule"], ", ".join(a["to"]) or "(empty)", a["due"], a["reason"])
    console.print(table)
