"""Opening the SQLite state file safely: ownership mark, ordered migrations, private modes.

The schema is the list `MIGRATIONS`: entry N (counting from 1) takes a file from schema
version N-1 to N. Append new entries at the end; never edit or reorder a released one, since
state files in the field are at every version in between. `PRAGMA user_version` records how
many have run; a file with a higher number than this list knows is refused, never rewritten.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Sequence
from pathlib import Path

from followupd.errors import StateError
from followupd.xdg import private_dir

log = logging.getLogger(__name__)

APP_ID = 0x46555044  # "FUPD": marks the file as ours, so we never write into a stranger's DB

MIGRATIONS: list[str] = [
    # 1: the first schema.
    """
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
        id INTEGER PRIMARY KEY, company TEXT, role TEXT, account TEXT NOT NULL,
        created TEXT NOT NULL
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
    """,
]


def open_state(path: Path, migrations: Sequence[str] = MIGRATIONS) -> sqlite3.Connection:
    """Open (or create) the state file at the newest schema, or raise StateError.

    A file that is not ours, is damaged, or was written by a newer schema is refused with a
    message saying so, and left byte for byte as it was.
    """
    private_dir(path.parent, path.name)
    fresh = not path.exists() or path.stat().st_size == 0
    if fresh:
        # Create the file 0600 before SQLite does; SQLite gives the -wal/-shm files the same mode.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    elif stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)
    db: sqlite3.Connection | None = None
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        _check_and_migrate(db, path, migrations)
    except sqlite3.DatabaseError as exc:
        if db is not None:
            db.close()
        raise StateError(
            f"{path}: not a usable followupd state file ({exc}); it was left untouched."
            " Move it aside to start afresh, or restore a backup"
        ) from None
    except BaseException:
        if db is not None:
            db.close()
        raise
    return db


def _check_and_migrate(db: sqlite3.Connection, path: Path, migrations: Sequence[str]) -> None:
    # Read-only checks first: nothing is written until the file is known to be ours.
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    empty = not db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if not (app_id == 0 and version == 0 and empty):
        if app_id != APP_ID:
            raise StateError(f"{path}: this file was not written by followupd; not touching it")
        if version > len(migrations):
            raise StateError(
                f"{path}: written by a newer followupd (schema {version}, this one knows"
                f" {len(migrations)}); upgrade followupd, or move the file aside"
            )
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise StateError(f"{path}: the state file is damaged ({check}); it was left untouched")
    # WAL: a reader (status) never blocks the daemon, and a kill mid-write loses nothing
    # committed. synchronous=FULL makes each COMMIT durable before we APPEND what it promises
    # (reading mail relaxes it: `Tracker.intake`).
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    for number in range(version + 1, len(migrations) + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process (status, a second daemon) may have migrated meanwhile.
            if db.execute("PRAGMA user_version").fetchone()[0] >= number:
                db.execute("COMMIT")
                continue
            for statement in filter(str.strip, migrations[number - 1].split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA application_id={APP_ID}")
            db.execute(f"PRAGMA user_version={number}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        if version:
            log.info("%s: state schema upgraded to version %d", path, number)
