"""The long-running daemon with the real clock: wakes on new mail and when an action falls due."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from tests.mail import crlf
from tests.stores import Followupd, Store

RULE = """\
rules:
  - name: ack
    event: invitation
    to: sender
    template: ack.j2
    due: {anchor: message, after: 1m, working_hours: false}
"""


def invitation(n: int, sent: datetime) -> bytes:
    return crlf(
        f"From: Recruiter {n} <rec{n}@company{n}.example>\n"
        "To: Jane Doe <jane@example.com>\n"
        f"Subject: Interview invitation: Engineer at Company{n}\n"
        f"Date: {format_datetime(sent)}\n"
        f"Message-ID: <daemon-{n}@company{n}.example>\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        f"Dear Jane,\n\nwe would like to invite you to an interview for the Engineer position"
        f" at Company{n}. Would Monday 14 December 2026 at 10:00 CET work for you?\n\n"
        f"Best regards,\nRecruiter {n}\nCompany{n}\n"
    )


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def stop_daemon(daemon: subprocess.Popen[bytes]) -> tuple[int, float]:
    """SIGTERM, then wait (killing it after 15 s); the exit code and how long it took."""
    started = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    try:
        code = daemon.wait(timeout=15)
    except subprocess.TimeoutExpired:
        daemon.kill()
        raise
    return code, time.monotonic() - started


def test_daemon_drafts_on_arrival_and_on_time_then_stops_cleanly(
    store: Store, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    (rules / "templates").mkdir(parents=True)
    (rules / "r.yaml").write_text(RULE)
    (rules / "templates" / "ack.j2").write_text(
        "Subject: Re: {{ original_subject }}\n\nThank you, {{ recipient.first_name }}.\n"
    )
    run = Followupd(tmp_path, store, extra=f"  quiet_hours: 00:00-00:00\nrules_dir: {rules}\n")
    daemon = run.start()
    try:
        time.sleep(1.5)  # let it start and go idle: mail must wake it, not the start-up pass
        now = datetime.now(UTC)
        # Due a minute after its Date, which is already past: drafted as soon as it is seen.
        store.deliver(invitation(1, now - timedelta(minutes=5)))
        assert wait_for(lambda: len(store.drafts()) == 1, 15), run.log.read_text()
        # Due in about 8 s: nothing else arrives, so only the scheduler can wake it.
        sent = datetime.now(UTC) - timedelta(seconds=52)
        store.deliver(invitation(2, sent))
        assert wait_for(lambda: run.status_count() >= 1, 10)
        time.sleep(max(0.0, (sent + timedelta(seconds=58) - datetime.now(UTC)).total_seconds()))
        assert len(store.drafts()) == 1, "drafted before it was due"
        assert wait_for(lambda: len(store.drafts()) == 2, 15), "the due action was not made"
        subjects = sorted(str(m["Subject"]) for _f, m in store.drafts())
        assert subjects == [
            "Re: Interview invitation: Engineer at Company1",
            "Re: Interview invitation: Engineer at Company2",
        ]
    finally:
        code, took = stop_daemon(daemon)
    output = run.log.read_text()
    assert code == 0, output
    assert took < 5
    assert "stopped" in output
