"""A big first read with candidates parsed and recognised in a worker process.

The same mailbox (a real Maildir, and the real Dovecot) is read twice on fresh states:
once with every candidate read in the scanning process, once with the worker; the stored
state must be the same row for row, in the same order. Killing the worker mid-scan, or
stopping the scan, must lose nothing; stopping the worker (SIGSTOP, and SIGCONT later)
must neither stop the scan nor change what it stores.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import signal
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from followupd import ingest_order
from followupd.accounts import open_mailboxes
from followupd.pipeline import Engine, Report
from followupd.setup import STATE_FILE, load_checked, open_engine
from tests.mail import crlf
from tests.stores import ImapStore, MaildirStore, Store

TESTS = Path(__file__).parent
NOW = datetime.fromisoformat("2026-11-30T10:00:00+01:00")
WORKER = "followupd-reader"


def ordinary(n: int) -> bytes:
    return crlf(
        f"From: Friend {n} <friend{n}@example.net>\nTo: Jane Doe <jane@example.com>\n"
        f"Subject: Photos from the weekend, part {n}\n"
        f"Date: Mon, 02 Nov 2026 10:{n % 60:02d}:00 +0100\n"
        f"Message-ID: <friend.{n}@example.net>\n\nHere they are. See you soon!\n"
    )


def threading_pair() -> list[bytes]:
    """Job mail whose References name an earlier message, then a plain reply to that one.

    The reply has no job words: only the tracker, once the job mail is recorded, tells
    the screen it belongs to a tracked thread (the screen's own memory holds the job
    mail's Message-ID, not the ids it refers to).
    """
    invite = (TESTS / "samples" / "03_invite_text_initech.eml").read_bytes()
    # A copy of its own (the sample itself is in the mix too), in that earlier thread.
    invite = invite.replace(b"initech03@", b"initech03.again@").replace(
        b"Message-ID:", b"References: <earlier.thread@initech.example>\nMessage-ID:", 1
    )
    joined = re.sub(rb"\r?\n", b"\r\n", invite)
    reply = crlf(
        "From: Peter Gibbons <peter@initech.example>\nTo: Jane Doe <jane@example.com>\n"
        "Subject: Re: a quick note\nDate: Tue, 03 Nov 2026 09:00:00 +0100\n"
        "Message-ID: <quick.note.2@initech.example>\n"
        "In-Reply-To: <earlier.thread@initech.example>\n\n"
        "Bring your laptop on Thursday, please.\n"
    )
    return [joined, ordinary(9000), reply]


def mix(corpus_step: int) -> list[bytes]:
    """Job mail and other mail of every labelled kind among ordinary mail, in one order."""
    labelled = sorted(TESTS.glob("samples/*.eml")) + sorted(TESTS.glob("corpus/*/*.eml"))
    chosen = [p.read_bytes() for i, p in enumerate(labelled) if i < 24 or i % corpus_step == 0]
    out: list[bytes] = []
    for n, raw in enumerate(chosen):
        out += [raw, ordinary(n)]
    own = crlf(
        "From: Jane Doe <jane@example.com>\nTo: hr@acme.example\n"
        "Subject: Interview invitation - thank you\nMessage-ID: <own.1@example.com>\n\nThanks!\n"
    )
    not_mail = b"\x00\x01\x02 this is not a mail message \xff\xfe\r\n"
    out += [*threading_pair(), own, not_mail, chosen[0]]  # chosen[0] again: a duplicate
    return out


def deliver_all(store: Store, messages: list[bytes]) -> None:
    if isinstance(store, ImapStore):
        with store.server.client(store.user) as client:
            for raw in messages:
                client.append("INBOX", raw)
    else:  # named so that the Maildir's delivery order is this order
        for n, raw in enumerate(messages):
            (store.root / "cur" / f"{1_700_000_000 + n}.M{n}.test:2,S").write_bytes(raw)


def engine_for(tmp_path: Path, store: Store, name: str, *, worker: bool) -> Engine:
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        "me:\n  name: Jane Doe\n  email: jane@example.com\n  timezone: Europe/Berlin\n"
        f"state_dir: {tmp_path / name}\nlookback_days: null\n"
        + ("" if worker else "scan_worker: false\n")  # on by default
        + "accounts:\n"
        + store.account_yaml()
    )
    engine = open_engine(*load_checked(config))
    engine.offload_from = 1  # these mailboxes are small; the worker reads from the first on
    return engine


def scan(engine: Engine, stop: Callable[[], bool] = lambda: False) -> Report:
    engine.should_stop = stop
    report = Report()
    for mailbox in open_mailboxes(engine.config).values():
        try:
            engine.sync(mailbox, report, NOW)
        finally:
            mailbox.close()
    return report


def stored(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every table that intake writes, in the order rows were written (timestamps left out)."""
    db = sqlite3.connect(engine.config.state_path / STATE_FILE)
    try:
        return {
            "messages": db.execute(
                "SELECT folder, key, message_id, status, reason FROM messages ORDER BY rowid"
            ).fetchall(),
            "cursors": db.execute("SELECT * FROM cursors ORDER BY rowid").fetchall(),
            "applications": db.execute(
                "SELECT id, company, role, account FROM applications ORDER BY id"
            ).fetchall(),
            "threads": db.execute("SELECT * FROM threads ORDER BY rowid").fetchall(),
            "events": db.execute("SELECT * FROM events ORDER BY id").fetchall(),
        }
    finally:
        db.close()


def happenings(report: Report) -> list[tuple[str, str]]:
    return [(h.what, h.text) for h in report.happenings]


def worker_alive() -> bool:
    return any(p.name == WORKER for p in multiprocessing.active_children())


@pytest.fixture
def setup_env(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    for key, value in store.env().items():
        monkeypatch.setenv(key, value)
    two_cores(monkeypatch)  # the worker starts only with a second core
    return store


def two_cores(monkeypatch: pytest.MonkeyPatch, count: int = 2) -> None:
    """As on a machine with `count` cores, whatever this one has."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(count)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: count)


def inline_and_pooled(store: Store, tmp_path: Path) -> tuple[Engine, Engine]:
    """The usual mix delivered, and an engine on it reading inline and one with the worker."""
    deliver_all(store, mix(corpus_step=12 if isinstance(store, ImapStore) else 3))
    return (
        engine_for(tmp_path, store, "inline", worker=False),
        engine_for(tmp_path, store, "pooled", worker=True),
    )


def test_with_the_worker_the_state_is_the_same_as_inline(setup_env: Store, tmp_path: Path) -> None:
    store = setup_env
    inline, pooled = inline_and_pooled(store, tmp_path)
    started = []
    inline_report = scan(inline, stop=lambda: bool(started.append(worker_alive())))
    assert not any(started)
    pooled_report = scan(pooled, stop=lambda: bool(started.append(worker_alive())))
    assert any(started)  # the worker did read this time
    assert not worker_alive()  # and is gone after the scan

    assert stored(pooled) == stored(inline)
    assert happenings(pooled_report) == happenings(inline_report)
    state = stored(inline)
    statuses = {(m[2], m[3], m[4]) for m in state["messages"]}
    # The cases that depend on the order and on the tracker are really in this mailbox:
    assert ("quick.note.2@initech.example", "processed", "") in statuses  # joined the thread
    assert any(s == "skipped" and r.startswith("malformed") for _, s, r in statuses)
    assert any(r == "already seen under another key" for _, _, r in statuses)
    assert any(r.startswith("not job mail:") for _, _, r in statuses)  # screened out
    assert len(state["applications"]) > 5


def test_a_killed_worker_loses_nothing(
    setup_env: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = setup_env
    inline, pooled = inline_and_pooled(store, tmp_path)
    inline_report = scan(inline)
    calls = 0

    def kill_once_busy() -> bool:
        nonlocal calls
        calls += 1
        if calls == 40:
            for child in multiprocessing.active_children():
                if child.name == WORKER and child.pid is not None:
                    os.kill(child.pid, signal.SIGKILL)
        return False

    with caplog.at_level(logging.WARNING, logger="followupd.ingest_order"):
        pooled_report = scan(pooled, stop=kill_once_busy)
    assert "the process reading job mail stopped" in caplog.text
    assert stored(pooled) == stored(inline)
    assert happenings(pooled_report) == happenings(inline_report)


def signal_worker(signum: int) -> None:
    (pid,) = [p.pid for p in multiprocessing.active_children() if p.name == WORKER]
    assert pid is not None
    os.kill(pid, signum)


def taken_back(log_text: str) -> int:
    """How many candidates the scans read themselves as the worker was late (the debug log)."""
    return sum(int(n) for n in re.findall(r"; (\d+) read here instead as it was late", log_text))


def test_a_stopped_worker_does_not_stop_the_scan(
    setup_env: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = setup_env
    inline, pooled = inline_and_pooled(store, tmp_path)
    inline_report = scan(inline)
    calls = 0

    def stop_the_worker() -> bool:  # SIGSTOP: as a worker starved of CPU for good
        nonlocal calls
        calls += 1
        if calls == 10:
            signal_worker(signal.SIGSTOP)
        return False

    with caplog.at_level(logging.DEBUG, logger="followupd.ingest_order"):
        pooled_report = scan(pooled, stop=stop_the_worker)
    assert calls > 10 and taken_back(caplog.text) > 0
    assert not worker_alive()  # stopped or not, it is gone after the scan
    assert stored(pooled) == stored(inline)
    assert happenings(pooled_report) == happenings(inline_report)


def test_a_worker_stopped_then_continued_mid_scan_changes_nothing(
    setup_env: Store,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = setup_env
    inline, pooled = inline_and_pooled(store, tmp_path)
    # Few in flight: this small mailbox makes the scan wait for the stopped worker (and read
    # what it holds itself) long before the scan ends.
    monkeypatch.setattr(ingest_order, "MAX_IN_FLIGHT", 4)
    inline_report = scan(inline)
    calls = 0

    def stop_then_continue() -> bool:
        nonlocal calls
        calls += 1
        if calls == 10:
            signal_worker(signal.SIGSTOP)
        elif calls == 40:
            signal_worker(signal.SIGCONT)
            time.sleep(0.3)  # its late answers come while the scan goes on
        return False

    with caplog.at_level(logging.DEBUG, logger="followupd.ingest_order"):
        pooled_report = scan(pooled, stop=stop_then_continue)
    assert calls > 40 and taken_back(caplog.text) > 0
    assert stored(pooled) == stored(inline)  # nothing twice, no answer for another message
    assert happenings(pooled_report) == happenings(inline_report)


def test_a_stopped_scan_records_a_prefix_and_the_next_one_the_rest(
    setup_env: Store, tmp_path: Path
) -> None:
    store = setup_env
    inline, pooled = inline_and_pooled(store, tmp_path)
    scan(inline)
    expected = stored(inline)
    calls = 0

    def stop_midway() -> bool:
        nonlocal calls
        calls += 1
        if calls == len(expected["messages"]) // 2:
            time.sleep(0.5)  # the worker answers some; the stop records what has come back
            return True
        return False

    scan(pooled, stop=stop_midway)
    part = stored(pooled)["messages"]
    assert len(part) <= len(expected["messages"]) // 2
    assert part == expected["messages"][: len(part)]  # nothing after an unrecorded one
    assert not worker_alive()
    scan(pooled)
    assert stored(pooled) == expected


def test_a_small_first_read_or_one_core_stays_in_one_process_a_busy_machine_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MaildirStore(tmp_path / "Maildir")
    deliver_all(store, mix(corpus_step=50))
    seen: list[bool] = []

    def check() -> bool:
        seen.append(worker_alive())
        return False

    two_cores(monkeypatch)
    small = engine_for(tmp_path, store, "small", worker=True)
    small.offload_from = 10_000  # the default is in the thousands; this Maildir has ~40
    scan(small, stop=check)
    two_cores(monkeypatch, count=1)
    one_core = engine_for(tmp_path, store, "one", worker=True)
    scan(one_core, stop=check)
    assert seen and not any(seen)
    # However busy the cores look: the worker is late then, and the scan does not wait.
    two_cores(monkeypatch)
    monkeypatch.setattr(os, "getloadavg", lambda: (9.5, 9.0, 8.0))
    busy = engine_for(tmp_path, store, "busy", worker=True)
    scan(busy, stop=check)
    assert any(seen)
    assert stored(small) == stored(one_core) == stored(busy)


def test_the_setting_is_checked_like_the_others(tmp_path: Path) -> None:
    from followupd.config import load_config
    from followupd.errors import UserInputError

    config = tmp_path / "config.yaml"
    config.write_text(
        "me:\n  name: Jane Doe\n  email: jane@example.com\n"
        "scan_worker: sometimes\n"
        f"accounts:\n  - name: local\n    maildir: {tmp_path}\n"
    )
    with pytest.raises(UserInputError) as info:
        load_config(config)
    assert f"{config}:4: scan_worker: Input should be a valid boolean" in str(info.value)
    config.write_text(config.read_text().replace("sometimes", "false"))
    assert load_config(config).scan_worker is False
    config.write_text(config.read_text().replace("scan_worker: false\n", ""))
    assert load_config(config).scan_worker is True
