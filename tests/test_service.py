"""followupd as a systemd service: the unit file, sd_notify and journald-style logs."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from followupd.sdnotify import Notifier
from tests.dovecot import Dovecot
from tests.stores import Followupd, ImapStore

UNIT = Path(__file__).parent.parent / "systemd" / "followupd.service"
MEDIUM = 6.9  # systemd-analyze: up to 6.9 is "MEDIUM", above it "EXPOSED" and "UNSAFE"


def _analyze(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: scripts/setup --test installs Debian's systemd")
    # A user manager of its own: a home where pipx would have put the command, a runtime dir.
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True, exist_ok=True)
    command = home / ".local" / "bin" / "followupd"
    if not command.exists():
        command.symlink_to(sys.executable)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    return subprocess.run(
        [analyze, *args, "--user", str(UNIT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_unit_file_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    done = _analyze(tmp_path, "verify")
    assert done.returncode == 0, done.stderr
    assert "followupd" not in done.stderr, done.stderr  # warnings about the unit itself


def test_unit_file_exposure_is_medium_or_better(tmp_path: Path) -> None:
    done = _analyze(tmp_path, "security", "--offline=true")
    assert done.returncode == 0, done.stderr
    found = re.search(r"Overall exposure level for followupd\.service: ([\d.]+) (\w+)", done.stdout)
    assert found, done.stdout
    assert float(found.group(1)) <= MEDIUM, done.stdout


def test_unit_is_a_notify_service_with_watchdog_and_restart() -> None:
    lines = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in _settings(UNIT)}
    assert lines["Type"] == "notify"
    assert lines["Restart"] == "on-failure"
    assert lines["RestartPreventExitStatus"] == "2"  # a bad config is not retried forever
    assert "WatchdogSec" in lines


def _settings(path: Path) -> Iterator[str]:
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            yield line


class FakeManager:
    """The service manager's end of $NOTIFY_SOCKET: a real unix datagram socket."""

    def __init__(self) -> None:
        self.name = f"@followupd-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name[1:])
        self.received: list[str] = []

    def collect(self, until: str, timeout: float) -> bool:
        """Read notifications until one contains `until`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                return False
            self.received.append(data)
            if until in data:
                return True
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def manager() -> Iterator[FakeManager]:
    fake = FakeManager()
    yield fake
    fake.close()


def test_notifier_sends_ready_status_and_watchdog(manager: FakeManager) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": manager.name, "WATCHDOG_USEC": "2000000"})
    assert notifier.watchdog_interval == 1.0
    notifier.ready("connected to 2 account(s)\nand more")
    notifier.ping()
    notifier.stopping()
    assert manager.collect("STOPPING=1", 5)
    assert manager.received == [
        "READY=1\nSTATUS=connected to 2 account(s) and more",
        "WATCHDOG=1",
        "STOPPING=1\nSTATUS=stopping",
    ]


def test_notifier_is_silent_without_systemd_or_for_another_pid(manager: FakeManager) -> None:
    Notifier({}).ready("nobody listens")  # no socket: nothing happens, nothing fails
    other = Notifier(
        {"NOTIFY_SOCKET": manager.name, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    )
    assert other.watchdog_interval is None
    other.ping()
    assert not manager.collect("WATCHDOG=1", 0.3)


@pytest.mark.imap
def test_daemon_under_systemd_notifies_and_logs_for_journald(
    dovecot: Dovecot, manager: FakeManager, tmp_path: Path
) -> None:
    run = Followupd(tmp_path, ImapStore(dovecot))
    run.log.touch()
    st = run.log.stat()
    run.env.update(
        NOTIFY_SOCKET=manager.name,
        WATCHDOG_USEC="600000",  # ping every 0.3 s
        JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}",
    )
    daemon = run.start()
    try:
        assert manager.collect("READY=1", 30), run.log.read_text()
        assert "STATUS=connected to 1 account(s)" in manager.received[-1]
        assert manager.collect("STATUS=watching 1 account(s)", 30), run.log.read_text()
        pings = sum(m == "WATCHDOG=1" for m in manager.received)
        for _ in range(3):  # the main loop goes on pinging while idle
            assert manager.collect("WATCHDOG=1", 5)
        assert sum(m == "WATCHDOG=1" for m in manager.received) >= pings + 3
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    assert daemon.returncode == 0
    assert manager.collect("STOPPING=1", 5)
    lines = run.log.read_text().splitlines()
    assert lines, "the daemon logged nothing"
    # journald: a syslog priority first, no timestamp of our own.
    assert all(re.match(r"<[0-7]>\S", line) for line in lines), lines
    assert any(line.startswith("<6>followupd.mailbox.imap: work: ") for line in lines), lines
    assert not any(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line) for line in lines), lines
