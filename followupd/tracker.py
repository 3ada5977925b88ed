"""SQLite state: the one source of truth (cursors, messages, applications, events, actions)."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from followupd.model import Kind
from followupd.records import (
    Action,
    Application,
    Event,
    address_from_json,
    address_to_json,
    addresses_from_json,
    addresses_to_json,
    interview_from_json,
    interview_to_json,
)
from followupd.statefile import open_state

log = logging.getLogger(__name__)


def _advance_cursor(
    db: sqlite3.Connection, account: str, folder: str, validity: int, uid: int
) -> None:
    """Move the folder's cursor up to `uid` (a new UIDVALIDITY starts it afresh)."""
    db.execute(
        "INSERT INTO cursors VALUES (?,?,?,?) ON CONFLICT(account, folder) DO UPDATE SET"
        " validity=excluded.validity,"
        " last_uid=CASE WHEN cursors.validity=excluded.validity"
        " THEN max(cursors.last_uid, excluded.last_uid) ELSE excluded.last_uid END",
        (account, folder, validity, uid),
    )


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class Tracker:
    """All reads and writes of the state file; every change is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = open_state(path)
        # Every tracked thread's message ids while mail is read (`intake`); None otherwise.
        self._threads: set[str] | None = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            if self._threads is not None:
                self._threads = self._thread_ids()  # ids added by the undone change go too
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def intake(self) -> Iterator[None]:
        """Commits in this block survive a killed process but need not reach the disk at once.

        Reading mail has no effect outside the state file, so it need not wait for the disk
        at every message (most of a first scan's cost per job message). In WAL mode such a
        commit still survives a SIGKILL; only a power cut can undo the last few, and then
        the folder's cursor goes back with them, so those messages are simply read again.
        Outside this block every commit is on disk before anything it allows (an APPEND)
        happens, and that commit also puts every earlier one on disk.

        Meanwhile `in_tracked_thread` answers from the thread ids read once at the start.
        """
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._threads = self._thread_ids()
        try:
            yield
        finally:
            self._threads = None
            self.db.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        self.db.close()

    # -- cursors and processed messages ------------------------------------------------

    def cursor(self, account: str, folder: str) -> tuple[int, int] | None:
        row = self.db.execute(
            "SELECT validity, last_uid FROM cursors WHERE account=? AND folder=?", (account, folder)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def known_keys(self, account: str, folder: str, validity: int) -> set[str]:
        rows = self.db.execute(
            "SELECT key FROM messages WHERE account=? AND folder=? AND validity=?",
            (account, folder, validity),
        )
        return {r[0] for r in rows}

    def seen_message_id(self, message_id: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM messages WHERE message_id=? AND status='processed' LIMIT 1",
            (message_id,),
        ).fetchone()
        return row is not None

    def record_message(
        self,
        db: sqlite3.Connection,
        *,
        account: str,
        folder: str,
        validity: int,
        key: str,
        uid: int,
        message_id: str,
        status: str,
        reason: str = "",
    ) -> None:
        """Mark a message handled and advance its folder's cursor (caller's transaction)."""
        db.execute(
            "INSERT OR REPLACE INTO messages VALUES (?,?,?,?,?,?,?,?)",
            (account, folder, validity, key, message_id, status, reason, _iso(datetime.now(UTC))),
        )
        _advance_cursor(db, account, folder, validity, uid)

    def record_messages(
        self,
        db: sqlite3.Connection,
        *,
        account: str,
        folder: str,
        validity: int,
        rows: Sequence[tuple[str, int, str, str]],
    ) -> None:
        """`record_message` for many (key, uid, message_id, reason) rows, all "processed"."""
        if not rows:
            return
        at = _iso(datetime.now(UTC))
        db.executemany(
            "INSERT OR REPLACE INTO messages VALUES (?,?,?,?,?,?,?,?)",
            [
                (account, folder, validity, key, message_id, "processed", reason, at)
                for key, _uid, message_id, reason in rows
            ],
        )
        _advance_cursor(db, account, folder, validity, max(uid for _key, uid, _id, _r in rows))

    def skipped(self) -> list[sqlite3.Row]:
        return list(self.db.execute("SELECT * FROM messages WHERE status='skipped'"))

    # -- applications and events -------------------------------------------------------

    def application_for_thread(self, message_ids: Iterable[str]) -> int | None:
        ids = list(message_ids)
        if not ids:
            return None
        marks = ",".join("?" * len(ids))
        row = self.db.execute(
            f"SELECT application_id FROM threads WHERE message_id IN ({marks}) LIMIT 1",  # noqa: S608
            ids,
        ).fetchone()
        return None if row is None else int(row[0])

    def in_tracked_thread(self, message_ids: Collection[str]) -> bool:
        """Whether any of the ids belongs to a tracked application's thread.

        A scan asks this of every message that answers another; inside `intake` the answer
        comes from memory instead of a query each time.
        """
        if self._threads is None:
            return self.application_for_thread(message_ids) is not None
        return not self._threads.isdisjoint(message_ids)

    def _thread_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT message_id FROM threads")}

    def find_application(self, company: str, role: str | None) -> int | None:
        """An open application at this company for the same role (or with a role unknown)."""
        rows = self.db.execute(
            "SELECT id, role FROM applications WHERE lower(company)=lower(?) ORDER BY id DESC",
            (company,),
        ).fetchall()
        for row in rows:
            if role is None or row["role"] is None or row["role"].lower() == role.lower():
                return int(row["id"])
        return None

    def create_application(
        self, db: sqlite3.Connection, company: str | None, role: str | None, account: str
    ) -> int:
        cur = db.execute(
            "INSERT INTO applications (company, role, account, created) VALUES (?,?,?,?)",
            (company, role, account, _iso(datetime.now(UTC))),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def fill_application(
        self, db: sqlite3.Connection, app_id: int, company: str | None, role: str | None
    ) -> None:
        """Learn a company or role that earlier messages did not say."""
        db.execute(
            "UPDATE applications SET company=coalesce(company, ?), role=coalesce(role, ?)"
            " WHERE id=?",
            (company, role, app_id),
        )

    def add_thread_ids(self, db: sqlite3.Connection, app_id: int, ids: Iterable[str]) -> None:
        rows = [(i, app_id) for i in ids if i]
        db.executemany("INSERT OR IGNORE INTO threads VALUES (?, ?)", rows)
        if self._threads is not None:
            self._threads.update(i for i, _ in rows)

    def add_event(self, db: sqlite3.Connection, event: Event) -> int:
        data = {
            "sender": address_to_json(event.sender),
            "reply_to": addresses_to_json(event.reply_to),
            "references": list(event.references),
            "interview": interview_to_json(event.interview),
            "interviewers": addresses_to_json(event.interviewers),
            "organiser": address_to_json(event.organiser),
            "promised_reply_by": event.promised_reply_by.isoformat()
            if event.promised_reply_by
            else None,
            "contacts": addresses_to_json(event.contacts),
            "evidence": list(event.evidence),
            "signals": list(event.signals),
        }
        cur = db.execute(
            "INSERT INTO events (application_id, account, message_id, direction, kind, at,"
            " automatic, confidence, subject, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                event.application_id,
                event.account,
                event.message_id,
                event.direction,
                event.kind.value,
                _iso(event.at),
                int(event.automatic),
                event.confidence,
                event.subject,
                json.dumps(data),
            ),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def has_event(self, message_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM events WHERE message_id=?", (message_id,)).fetchone()
        return row is not None

    def applications(self) -> list[Application]:
        apps = self.db.execute("SELECT * FROM applications ORDER BY id").fetchall()
        events: dict[int, list[Event]] = {}
        for row in self.db.execute("SELECT * FROM events ORDER BY at, id"):
            events.setdefault(row["application_id"], []).append(_event_from_row(row))
        return [
            Application(
                id=a["id"],
                company=a["company"],
                role=a["role"],
                account=a["account"],
                events=tuple(events.get(a["id"], [])),
            )
            for a in apps
        ]

    def application(self, app_id: int) -> Application:
        for app in self.applications():
            if app.id == app_id:
                return app
        raise KeyError(app_id)

    # -- actions -----------------------------------------------------------------------

    def actions(self, states: Iterable[str] | None = None) -> list[Action]:
        rows = self.db.execute("SELECT * FROM actions ORDER BY due, key").fetchall()
        wanted = set(states) if states is not None else None
        return [_action_from_row(r) for r in rows if wanted is None or r["state"] in wanted]

    def due_actions(self, now: datetime) -> list[Action]:
        rows = self.db.execute(
            "SELECT * FROM actions WHERE state IN ('planned', 'drafting') AND due <= ?"
            " ORDER BY due, key",
            (_iso(now),),
        ).fetchall()
        return [_action_from_row(r) for r in rows]

    def next_due(self) -> datetime | None:
        row = self.db.execute(
            "SELECT min(due) FROM actions WHERE state IN ('planned', 'drafting')"
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def upsert_action(self, db: sqlite3.Connection, action: Action) -> str:
        """Insert or update a wanted action; made drafts are never touched. Says what it did."""
        row = db.execute("SELECT state, due FROM actions WHERE key=?", (action.key,)).fetchone()
        if row is not None and row["state"] not in ("planned", "cancelled"):
            return "kept"
        values = (
            action.application_id,
            action.account,
            action.rule,
            action.template,
            json.dumps({"to": addresses_to_json(action.to), "cc": addresses_to_json(action.cc)}),
            _iso(action.due),
            action.reason,
            action.event_id,
            json.dumps(action.context, default=str),
            action.message_id,
            _iso(datetime.now(UTC)),
        )
        if row is None:
            db.execute(
                "INSERT INTO actions (application_id, account, rule, template, recipients, due,"
                " reason, event_id, context, message_id, updated, key, state)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'planned')",
                (*values, action.key),
            )
            return "planned"
        db.execute(
            "UPDATE actions SET application_id=?, account=?, rule=?, template=?, recipients=?,"
            " due=?, reason=?, event_id=?, context=?, message_id=?, updated=?, state='planned'"
            " WHERE key=?",
            (*values, action.key),
        )
        if row["state"] == "cancelled":
            return "replanned"
        return "moved" if row["due"] != _iso(action.due) else "unchanged"

    def set_state(self, key: str, state: str, error: str = "", reason: str | None = None) -> None:
        with self.transaction() as db:
            self._set_state(db, key, state, error, reason)

    def _set_state(
        self, db: sqlite3.Connection, key: str, state: str, error: str, reason: str | None
    ) -> None:
        db.execute(
            "UPDATE actions SET state=?, error=?, reason=coalesce(?, reason), updated=?"
            " WHERE key=?",
            (state, error, reason, _iso(datetime.now(UTC)), key),
        )

    def cancel_action(self, db: sqlite3.Connection, key: str, reason: str) -> None:
        self._set_state(db, key, "cancelled", "", reason)

    def action_for_message_id(self, message_id: str) -> Action | None:
        row = self.db.execute("SELECT * FROM actions WHERE message_id=?", (message_id,)).fetchone()
        return None if row is None else _action_from_row(row)

    def mark_sent(self, db: sqlite3.Connection, key: str) -> None:
        self._set_state(db, key, "sent", "", None)


def _event_from_row(row: sqlite3.Row) -> Event:
    data: dict[str, Any] = json.loads(row["data"])
    promised = data.get("promised_reply_by")
    return Event(
        id=row["id"],
        application_id=row["application_id"],
        account=row["account"],
        message_id=row["message_id"],
        direction=row["direction"],
        kind=Kind(row["kind"]),
        at=datetime.fromisoformat(row["at"]),
        automatic=bool(row["automatic"]),
        confidence=row["confidence"],
        subject=row["subject"],
        sender=address_from_json(data.get("sender")),
        reply_to=addresses_from_json(data.get("reply_to")),
        references=tuple(data.get("references", [])),
        interview=interview_from_json(data.get("interview")),
        interviewers=addresses_from_json(data.get("interviewers")),
        organiser=address_from_json(data.get("organiser")),
        promised_reply_by=date.fromisoformat(promised) if promised else None,
        contacts=addresses_from_json(data.get("contacts")),
        evidence=tuple(data.get("evidence", [])),
        signals=tuple(data.get("signals", [])),
    )


def _action_from_row(row: sqlite3.Row) -> Action:
    recipients = json.loads(row["recipients"])
    return Action(
        key=row["key"],
        application_id=row["application_id"],
        rule=row["rule"],
        template=row["template"],
        to=addresses_from_json(recipients["to"]),
        cc=addresses_from_json(recipients["cc"]),
        due=datetime.fromisoformat(row["due"]),
        reason=row["reason"],
        event_id=row["event_id"],
        context=json.loads(row["context"]),
        message_id=row["message_id"],
        state=row["state"],
        account=row["account"],
        error=row["error"],
    )
