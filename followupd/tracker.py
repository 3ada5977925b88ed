"""SQLite state: the one source of truth (cursors, messages, applications, events, actions)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from followupd.errors import StateError
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

log = logging.getLogger(__name__)

APP_ID = 0x46555044  # "FUPD": marks the file as ours, so we never write into a stranger's DB
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE cursors (
    account TEXT NOT NULL, folder TEXT NOT NULL,
    validity INTEGER NOT NULL, last_uid INTEGER NOT NULL,
    PRIMARY KEY (account, folder)
);
CREATE TABLE messages (
    account TEXT NOT NULL, folder TEXT NOT NULL, validity INTEGER NOT NULL, key TEXT NOT NULL,
    message_id TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    seen_at TEXT NOT NULL,
    PRIMARY KEY (account, folder, validity, key)
);
CREATE INDEX messages_by_id ON messages (message_id);
CREATE TABLE applications (
    id INTEGER PRIMARY KEY, company TEXT, role TEXT, account TEXT NOT NULL, created TEXT NOT NULL
);
CREATE TABLE threads (
    message_id TEXT PRIMARY KEY, application_id INTEGER NOT NULL REFERENCES applications(id)
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    account TEXT NOT NULL, message_id TEXT NOT NULL UNIQUE, direction TEXT NOT NULL,
    kind TEXT NOT NULL, at TEXT NOT NULL, automatic INTEGER NOT NULL, confidence REAL NOT NULL,
    subject TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX events_by_app ON events (application_id, at);
CREATE TABLE actions (
    key TEXT PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    account TEXT NOT NULL, rule TEXT NOT NULL, template TEXT NOT NULL,
    recipients TEXT NOT NULL, due TEXT NOT NULL, reason TEXT NOT NULL,
    event_id INTEGER NOT NULL, context TEXT NOT NULL, message_id TEXT NOT NULL,
    state TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', updated TEXT NOT NULL
);
CREATE INDEX actions_by_due ON actions (state, due);
CREATE INDEX actions_by_message ON actions (message_id);
"""


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class Tracker:
    """All reads and writes of the state file; every change is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fresh = not path.exists() or path.stat().st_size == 0
        if fresh:
            # Create the file 0600 before SQLite does, so it is never world-readable.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self._open(fresh)
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"{path}: not a usable followupd state file ({exc}); move it aside to start afresh"
            ) from None

    def _open(self, fresh: bool) -> None:
        app_id = self.db.execute("PRAGMA application_id").fetchone()[0]
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if fresh or (app_id == 0 and version == 0 and not self._has_tables()):
            self.db.execute("PRAGMA journal_mode=WAL")
            with self.transaction():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA application_id={APP_ID}")
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            return
        if app_id != APP_ID:
            raise StateError(
                f"{self.path}: this file was not written by followupd; not touching it"
            )
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{self.path}: written by a newer followupd (schema {version}, this one knows"
                f" {SCHEMA_VERSION}); upgrade followupd"
            )
        check = self.db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise StateError(f"{self.path}: the state file is damaged ({check})")
        self.db.execute("PRAGMA journal_mode=WAL")

    def _has_tables(self) -> bool:
        return bool(self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

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
        db.execute(
            "INSERT INTO cursors VALUES (?,?,?,?) ON CONFLICT(account, folder) DO UPDATE SET"
            " validity=excluded.validity,"
            " last_uid=CASE WHEN cursors.validity=excluded.validity"
            " THEN max(cursors.last_uid, excluded.last_uid) ELSE excluded.last_uid END",
            (account, folder, validity, uid),
        )

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
        db.executemany(
            "INSERT OR IGNORE INTO threads VALUES (?, ?)", [(i, app_id) for i in ids if i]
        )

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
