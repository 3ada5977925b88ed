"""A fault-injecting TCP proxy for tests: sits between followupd and Dovecot.

Each fault is armed once and fires on the next connection whose traffic contains a byte
pattern: cut the connection (after forwarding what matched, or half of it), swallow the
server's replies and then cut (the command reached the server, its answer never came back),
or stall (keep the sockets open and forward nothing, the silent hang of a dead NAT mapping).
`refuse_for` cuts every connection and refuses new ones for a while. `strip` rewrites the
server's bytes (to take STARTTLS out of its capabilities, as a downgrade attacker would).
Everything the client sent is kept in `client_bytes`, so a test can look for secrets in it.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from dataclasses import dataclass

HOST = "127.0.0.1"


@dataclass
class Fault:
    from_client: bool  # look for the pattern in what the client sends, else the server
    pattern: bytes
    action: str  # "cut", "cut-half", "swallow-replies", "stall"


class FaultProxy:
    """Forward 127.0.0.1:<port> to target, injecting the armed faults."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._lock = threading.Lock()
        self._armed: list[Fault] = []
        self._refuse_until = 0.0
        self._strip: list[tuple[bytes, bytes]] = []
        self._live: set[socket.socket] = set()
        self.fired: list[str] = []
        self.refused = 0
        self.connections = 0
        self.client_bytes = bytearray()
        self._server = socket.create_server((HOST, 0))
        self.port = int(self._server.getsockname()[1])
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    # -- controls ----------------------------------------------------------------------

    def arm(self, pattern: bytes, action: str, *, from_client: bool = True) -> None:
        with self._lock:
            self._armed.append(Fault(from_client, pattern, action))

    def disarm(self) -> None:
        """Forget faults that have not fired."""
        with self._lock:
            self._armed.clear()

    def refuse_for(self, seconds: float) -> None:
        """Cut every open connection and refuse new ones for `seconds`."""
        with self._lock:
            self._refuse_until = time.monotonic() + seconds
            self.fired.append(f"refuse {seconds:g}s")
            live = list(self._live)
        for sock in live:
            _close(sock)

    def strip(self, old: bytes, new: bytes = b"") -> None:
        """Rewrite `old` to `new` in everything the server sends."""
        self._strip.append((old, new))

    def close(self) -> None:
        self._closing = True
        _close(self._server)
        for sock in list(self._live):
            _close(sock)

    # -- the proxy -----------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _addr = self._server.accept()
            except OSError:
                return
            if time.monotonic() < self._refuse_until:
                self.refused += 1
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            self.connections += 1
            with self._lock:
                self._live.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _match(self, data: bytes, from_client: bool) -> Fault | None:
        with self._lock:
            for fault in self._armed:
                if fault.from_client == from_client and fault.pattern in data:
                    self._armed.remove(fault)
                    self.fired.append(f"{fault.action} on {fault.pattern!r}")
                    return fault
        return None

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        swallow_since: float | None = None
        stalled = False
        try:
            while True:
                ready, _, _ = select.select([client, upstream], [], [], 0.2)
                if swallow_since is not None and time.monotonic() - swallow_since > 1.0:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if stalled:
                        continue  # read and dropped: nothing passes any more, nothing closes
                    from_client = sock is client
                    if from_client:
                        self.client_bytes += data
                    else:
                        for old, new in self._strip:
                            data = data.replace(old, new)
                    fault = self._match(data, from_client)
                    other = upstream if from_client else client
                    if not from_client and swallow_since is not None:
                        continue
                    if fault is None:
                        other.sendall(data)
                    elif fault.action == "cut":
                        other.sendall(data)
                        return
                    elif fault.action == "cut-half":
                        other.sendall(data[: max(1, len(data) // 2)])
                        return
                    elif fault.action == "swallow-replies":
                        other.sendall(data)
                        swallow_since = time.monotonic()
                    elif fault.action == "stall":
                        other.sendall(data)
                        stalled = True
        except (OSError, ValueError):
            # ValueError: the test closed this connection from its own thread (fd now -1).
            return
        finally:
            with self._lock:
                self._live.discard(client)
                self._live.discard(upstream)
            _close(client)
            _close(upstream)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
