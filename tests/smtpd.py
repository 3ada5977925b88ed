"""A real SMTP server for tests: aiosmtpd on a free loopback port, recording what it gets.

The pattern of aiosmtplib's own tests: the server runs in its own event loop (here in a
thread, because followupd is called as a separate process or in the daemon's threads).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), msg))
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.logins.append((data.login.decode(), data.password.decode()))
            return AuthResult(success=data.password == b"s3cret-smtp")
        return AuthResult(success=False)


class SmtpServer:
    """aiosmtpd on 127.0.0.1, port chosen by the kernel; stop() closes it."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        """`tls`: (certificate, key) to offer STARTTLS with, and to require it."""
        self.handler = RecordingHandler()
        context = None
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        def factory() -> SMTP:
            return SMTP(
                self.handler,
                hostname="smtp.test",
                authenticator=self.handler.authenticate,
                auth_require_tls=context is not None,
                tls_context=context,
                require_starttls=context is not None,
            )

        async def serve() -> asyncio.base_events.Server:
            return await self.loop.create_server(factory, host="127.0.0.1", port=0)

        self.server = asyncio.run_coroutine_threadsafe(serve(), self.loop).result(10)
        self.port: int = self.server.sockets[0].getsockname()[1]

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
