"""The first read of a mailbox looks back a window (IMAP SEARCH SINCE) and shows progress."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from followupd import progress
from followupd.progress import BarProgress, LogProgress
from tests.dovecot import Dovecot
from tests.test_daemon import invitation


def _config(tmp_path: Path, dovecot: Dovecot, name: str, lookback: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        "me: {name: Jane Doe, email: jane@example.com, timezone: Europe/Berlin}\n"
        f"state_dir: {tmp_path / name}\n{lookback}"
        "accounts:\n  - name: work\n    imap:\n"
        f"      host: {dovecot.host}\n      port: {dovecot.port}\n      username: jane\n"
        "      password_env: FUPD_PW\n      tls: none\n      allow_plaintext_on_loopback: true\n"
    )
    return path


def _once(config: Path, dovecot: Dovecot) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "followupd", "-v", "run", "--once", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, "FUPD_PW": dovecot.users["jane"]},
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


@pytest.mark.imap
def test_first_start_reads_only_the_window_and_logs_progress(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    dovecot.reset("jane")
    now = datetime.now(UTC)
    with dovecot.client("jane") as client:
        for n, age in ((1, 200), (2, 90), (3, 10)):
            arrived = now - timedelta(days=age)
            client.append("INBOX", invitation(n, arrived), msg_time=arrived)
    windowed = _once(_config(tmp_path, dovecot, "default", ""), dovecot)
    assert windowed.returncode == 0, windowed.stderr
    assert "Company3" in windowed.stdout
    assert "Company1" not in windowed.stdout and "Company2" not in windowed.stdout
    # Without a terminal: log lines, one at the start and one at the end.
    assert "work/INBOX: first look, 1 message(s) to read" in windowed.stderr
    assert "work/INBOX: 1 of 1 message(s) read in" in windowed.stderr
    wider = _once(_config(tmp_path, dovecot, "wider", "lookback_days: 100\n"), dovecot)
    assert "Company2" in wider.stdout and "Company1" not in wider.stdout
    everything = _once(_config(tmp_path, dovecot, "all", "lookback_days: null\n"), dovecot)
    assert all(f"Company{n}" in everything.stdout for n in (1, 2, 3)), everything.stdout
    # Later passes read what is new, whatever its date.
    with dovecot.client("jane") as client:
        old = now - timedelta(days=400)
        client.append("INBOX", invitation(4, old), msg_time=old)
    again = _once(_config(tmp_path, dovecot, "default", ""), dovecot)
    assert "Company4" in again.stdout and "first look" not in again.stderr


def test_log_progress_feeds_the_watchdog(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(progress, "LOG_EVERY", 0.0)
    ticks: list[str] = []
    caplog.set_level(logging.INFO, logger="followupd.progress")
    bar = LogProgress("work/INBOX", 3, tick=ticks.append)
    for _ in range(3):
        bar.advance()
    bar.close()
    assert ticks == [f"work/INBOX: {n} of 3 message(s) read" for n in (1, 2, 3)]
    assert caplog.messages[0] == "work/INBOX: first look, 3 message(s) to read"


def test_bar_in_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    bar = BarProgress("work/INBOX", 2, console)
    bar.advance()
    bar.advance()
    bar.close()
    assert "first look at work/INBOX" in out.getvalue()
    assert "2/2" in out.getvalue()
