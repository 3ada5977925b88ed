"""The state file: private modes, ordered migrations, and refusal to touch what it can't trust."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from followupd.errors import StateError
from followupd.statefile import APP_ID, MIGRATIONS, open_state
from tests.mail import INVITATION_ICS, crlf
from tests.stores import Followupd, MaildirStore

AFTER = "2026-11-05T18:00"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def run(tmp_path: Path) -> Followupd:
    store = MaildirStore(tmp_path / "Maildir")
    store.deliver(crlf(INVITATION_ICS))
    return Followupd(tmp_path, store)


def test_state_directory_and_files_are_private(run: Followupd, tmp_path: Path) -> None:
    run("run", "--once", "--now", AFTER)
    state = tmp_path / "state"
    assert _mode(state) == 0o700
    files = sorted(state.iterdir())
    assert files, "no state written"
    for path in files:
        assert _mode(path) == 0o600, path


def test_a_state_directory_left_open_is_tightened(run: Followupd, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    run("run", "--once", "--now", AFTER)
    assert _mode(state) == 0o700


def test_a_fresh_file_is_at_the_newest_schema_in_wal_mode(tmp_path: Path) -> None:
    db = open_state(tmp_path / "s" / "state.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA application_id").fetchone()[0] == APP_ID
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_migrations_run_in_order_and_keep_the_data(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    db = open_state(path)
    db.execute("INSERT INTO cursors VALUES ('a', 'INBOX', 7, 42)")
    db.close()
    later = [*MIGRATIONS, "ALTER TABLE cursors ADD COLUMN note TEXT NOT NULL DEFAULT 'x'"]
    db = open_state(path, later)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(later)
    assert tuple(db.execute("SELECT * FROM cursors").fetchone()) == ("a", "INBOX", 7, 42, "x")
    db.close()


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    open_state(path).close()
    broken = [*MIGRATIONS, "CREATE TABLE extra (x); CREATE TABLE cursors (y)"]
    with pytest.raises(StateError):
        open_state(path, broken)
    db = open_state(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("SELECT name FROM sqlite_master WHERE name='extra'").fetchone() is None
    db.close()


def test_corrupt_state_is_refused_and_left_untouched(run: Followupd, tmp_path: Path) -> None:
    run("run", "--once", "--now", AFTER)
    path = tmp_path / "state" / "state.sqlite3"
    for extra in path.parent.glob("state.sqlite3-*"):
        extra.unlink()  # a clean shutdown checkpoints the WAL; these are empty leftovers
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xa5" * 4096  # garble the second page: the schema header survives
    path.write_bytes(bytes(data))
    before = _digest(path)
    err = _stderr(run, "run", "--once", "--now", AFTER)
    assert str(path) in err
    assert "damaged" in err or "not a usable followupd state file" in err
    assert _digest(path) == before


def test_garbage_in_place_of_the_state_is_refused(run: Followupd, tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.sqlite3"
    path.parent.mkdir(mode=0o700)
    path.write_bytes(b"this is my shopping list, not a database\n" * 100)
    before = _digest(path)
    err = _stderr(run, "run", "--once", "--now", AFTER)
    assert f"followupd: {path}: not a usable followupd state file" in err
    assert _digest(path) == before


def test_newer_schema_is_refused_and_left_untouched(run: Followupd, tmp_path: Path) -> None:
    run("run", "--once", "--now", AFTER)
    path = tmp_path / "state" / "state.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 5}")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    before = _digest(path)
    err = _stderr(run, "run", "--once", "--now", AFTER)
    assert "written by a newer followupd" in err and "upgrade followupd" in err
    err = _stderr(run, "status", "--now", AFTER)
    assert "written by a newer followupd" in err
    assert _digest(path) == before


def test_another_programs_database_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE notes (text TEXT)")
    other.commit()
    other.close()
    before = _digest(path)
    with pytest.raises(StateError, match="not written by followupd"):
        open_state(path)
    assert _digest(path) == before


def _stderr(run: Followupd, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "followupd", *args, "--config", str(run.config)],
        capture_output=True,
        text=True,
        env=run.env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def test_config_holding_a_password_readable_by_others_is_warned_about(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "Maildir")
    run = Followupd(tmp_path, store)
    text = run.config.read_text() + (
        "  - name: work\n    imap:\n      host: imap.example.com\n"
        "      username: jane\n      password: hunter2-not-shown\n"
    )
    run.config.write_text(text)
    run.config.chmod(0o644)

    def check() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "followupd", "check", "--config", str(run.config)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "hunter2-not-shown" not in done.stderr + done.stdout
        return done.stderr

    assert "others can read it: chmod 600" in check()
    run.config.chmod(0o600)
    assert "others can read it" not in check()


def test_a_shared_state_dir_is_not_changed_but_warned_about(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    (shared / "notes.txt").write_text("someone else's file\n")
    store = MaildirStore(tmp_path / "Maildir")
    run = Followupd(tmp_path, store)
    run.config.write_text(run.config.read_text().replace(str(tmp_path / "state"), str(shared)))
    done = subprocess.run(
        run.command("run", "--once", "--now", AFTER), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert _mode(shared) == 0o755
    assert "give followupd a state_dir of its own" in done.stderr
    assert _mode(shared / "state.sqlite3") == 0o600
