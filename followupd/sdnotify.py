"""systemd's service notification protocol (sd_notify): READY, STATUS, WATCHDOG, STOPPING.

A datagram to the unix socket named in $NOTIFY_SOCKET; without it (not under systemd
with Type=notify) every call does nothing. See sd_notify(3).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Tells the service manager how the daemon is doing."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        # "@name" is a socket in the abstract namespace, spelled with a leading NUL byte.
        self._address = "\0" + path[1:] if path.startswith("@") else path
        self._watchdog = _watchdog_seconds(env)

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    @property
    def watchdog_interval(self) -> float | None:
        """How often to ping: half the WatchdogSec= systemd set for us, or None without one."""
        return self._watchdog / 2 if self._watchdog else None

    def send(self, *lines: str) -> None:
        """One notification of KEY=value lines; a failure is logged, never raised."""
        if not self._address:
            return
        payload = "\n".join(lines).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._address)
                sock.sendall(payload)
        except OSError as exc:
            # The daemon goes on: a lost notification must not stop the mail watching.
            log.debug("sd_notify failed: %s", exc)

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={_one_line(status)}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={_one_line(status)}")

    def ping(self) -> None:
        """WATCHDOG=1: the main loop is alive."""
        if self._watchdog:
            self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _watchdog_seconds(env: Mapping[str, str]) -> float:
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    # WATCHDOG_PID names the process the watchdog is meant for; a child must not ping.
    if not usec.isdigit() or (pid and pid != str(os.getpid())):
        return 0.0
    return int(usec) / 1_000_000
