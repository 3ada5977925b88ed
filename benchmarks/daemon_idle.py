"""The daemon on a local Dovecot: arrival-to-plan latency under IDLE, then its idle cost.

Starts a throwaway Dovecot, seeds jane's INBOX with --background ordinary messages (the
first scan happens before timing), starts `followupd run --config CFG` (the daemon) and
waits until it has gone idle. Then:

1. --arrivals times (default 100), one at a time: APPEND a new interview invitation (a new
   company each time) and poll the state file every 5 ms until an action planned for that
   message appears; the time from the APPEND's reply to then is the latency. Printed:
   median, p95, max.
2. The daemon left alone for --minutes (default 10): CPU time it used (utime + stime from
   /proc/PID/stat) and its RSS at the end (VmRSS) and peak (VmHWM).

Run: `python benchmarks/daemon_idle.py [--arrivals 100] [--minutes 10] [--background 2000]`.
Never asserts on time. The daemon and Dovecot are stopped even on error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from _common import Busyness, percentile, print_machine
from first_scan import seed_maildir
from run_once_imap import PASSWORD_ENV, USER, followupd_command, write_config

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.dovecot import Dovecot, remove, start_dovecot  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PLANNED = "SELECT count(*) FROM actions a JOIN events e ON a.event_id = e.id WHERE e.message_id = ?"


def invitation(n: int) -> bytes:
    """A plain-text invitation from a new company, sent a minute ago."""
    sent = datetime.now(UTC) - timedelta(minutes=1)
    text = (
        f"From: Recruiter {n} <rec{n}@company{n}.example>\n"
        "To: Jane Doe <jane@example.com>\n"
        f"Subject: Interview invitation: Engineer at Company{n}\n"
        f"Date: {format_datetime(sent)}\n"
        f"Message-ID: <arrival-{n}@company{n}.example>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        "Dear Jane,\n\nwe would like to invite you to an interview for the Engineer position"
        f" at Company{n}. Would Monday 14 December 2026 at 10:00 CET work for you?\n\n"
        f"Best regards,\nRecruiter {n}\nCompany{n}\n"
    )
    return text.replace("\n", "\r\n").encode()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def wait_planned(db: sqlite3.Connection, message_id: str, timeout: float) -> float | None:
    """Seconds until an action for message_id is in the state file; None on timeout."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if db.execute(PLANNED, (message_id,)).fetchone()[0]:
                return time.perf_counter() - start
        except sqlite3.OperationalError:
            pass  # the daemon is creating the schema
        time.sleep(0.005)
    return None


def settle(pid: int, quiet: float = 2.0, limit: float = 600.0) -> None:
    """Wait until the process used no CPU for `quiet` seconds (its first scan is done)."""
    deadline = time.monotonic() + limit
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = cpu_seconds(pid)
        if now - last < 0.01:
            return
        last = now


def main(argv: list[str] | None = None) -> int:
    """Start Dovecot and the daemon, measure, print; see the module docstring."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--arrivals", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--background", type=int, default=2000, help="messages already there")
    args = parser.parse_args(argv)

    busy = Busyness()
    server: Dovecot = start_dovecot()
    tmp = Path(tempfile.mkdtemp(prefix="fud-bench-daemon-"))
    daemon: subprocess.Popen[bytes] | None = None
    latencies: list[float] = []
    missed = 0
    try:
        seed_maildir(server, args.background, seed=7)
        env = {**os.environ, PASSWORD_ENV: server.users[USER]}
        env.pop("FOLLOWUPD_CONFIG", None)
        config = write_config(tmp / "config.yaml", server, tmp / "state")
        log = (tmp / "daemon.log").open("wb")
        daemon = subprocess.Popen(
            [*followupd_command(), "run", "--config", str(config)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        state = next_state_file(tmp / "state", daemon)
        settle(daemon.pid)
        startup_cpu = cpu_seconds(daemon.pid)
        db = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=5)
        with server.client(USER) as client:
            for n in range(args.arrivals):
                client.append("INBOX", invitation(n))
                took = wait_planned(db, f"arrival-{n}@company{n}.example", 30)
                if took is None:
                    missed += 1
                else:
                    latencies.append(took)
                time.sleep(0.3)  # arrivals apart, as mail comes
        db.close()
        settle(daemon.pid)
        cpu0, t0 = cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(args.minutes * 60)
        idle_cpu, idle_s = cpu_seconds(daemon.pid) - cpu0, time.monotonic() - t0
        memory = memory_kib(daemon.pid)
        alive = daemon.poll() is None
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
        remove(server)
        shutil.rmtree(tmp, ignore_errors=True)

    print_machine(busy)
    print(
        f"daemon: followupd run (IDLE on INBOX); {args.background} messages scanned at start"
        f" ({startup_cpu:.1f} CPU-s)"
    )
    print()
    if latencies:
        print(
            f"APPEND -> action planned, {len(latencies)} arrivals ({missed} not planned in 30 s):"
            f" median {statistics.median(latencies) * 1000:.0f} ms,"
            f" p95 {percentile(latencies, 95) * 1000:.0f} ms,"
            f" max {max(latencies) * 1000:.0f} ms  (target p95 < 1000 ms)"
        )
    print(
        f"idle for {idle_s / 60:.1f} min: {idle_cpu:.2f} CPU-s"
        f" (target < 1 CPU-s per 10 min), RSS {memory.get('VmRSS', 0) / 1024:.0f} MB"
        f" (peak {memory.get('VmHWM', 0) / 1024:.0f} MB; target < 80 MB);"
        f" still running: {alive}"
    )
    return 0


def next_state_file(state_dir: Path, daemon: subprocess.Popen[bytes]) -> Path:
    """The daemon's SQLite state file, once it exists."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise RuntimeError(f"the daemon exited with {daemon.returncode}")
        found = sorted(state_dir.glob("*.db")) + sorted(state_dir.glob("*.sqlite*"))
        if found:
            return found[0]
        time.sleep(0.1)
    raise RuntimeError(f"no state file appeared in {state_dir}")


if __name__ == "__main__":
    sys.exit(main())
