"""Mail stores for end-to-end tests: a Maildir and a Dovecot account, same interface."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from tests.dovecot import Dovecot

PASSWORD_ENV = "FUPD_TEST_PASSWORD"


class Store(Protocol):
    def account_yaml(self) -> str: ...
    def deliver(self, raw: bytes) -> None: ...
    def deliver_sent(self, raw: bytes) -> None: ...
    def drafts(self) -> list[tuple[set[str], EmailMessage]]: ...
    def inbox_seen(self) -> list[bool]: ...
    def delete_drafts(self) -> None: ...
    def env(self) -> dict[str, str]: ...


class MaildirStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("cur", "new", "tmp"):
            (root / sub).mkdir(parents=True)

    def account_yaml(self) -> str:
        return f"  - name: local\n    maildir: {self.root}\n"

    def deliver(self, raw: bytes) -> None:
        (self.root / "new" / f"{uuid.uuid4().hex}.test").write_bytes(raw)

    def deliver_sent(self, raw: bytes) -> None:
        sent = self.root / ".Sent"
        for sub in ("cur", "new", "tmp"):
            (sent / sub).mkdir(parents=True, exist_ok=True)
        (sent / "cur" / f"{uuid.uuid4().hex}.test:2,S").write_bytes(raw)

    def drafts(self) -> list[tuple[set[str], EmailMessage]]:
        out = []
        for path in sorted((self.root / ".Drafts" / "cur").glob("*")):
            flags = set(path.name.rpartition(":2,")[2]) if ":2," in path.name else set()
            out.append((flags, _message(path.read_bytes())))
        return out

    def delete_drafts(self) -> None:
        for path in (self.root / ".Drafts" / "cur").glob("*"):
            path.unlink()

    def inbox_seen(self) -> list[bool]:
        # Maildir "seen" is the S flag in a cur/ name; followupd must leave names alone.
        return [
            p.parent.name == "cur" and "S" in p.name.rpartition(":2,")[2]
            for p in sorted(self.root.glob("*/*.test*"))
        ]

    def env(self) -> dict[str, str]:
        return {}


class ImapStore:
    def __init__(self, server: Dovecot, user: str = "jane") -> None:
        self.server = server
        self.user = user
        server.reset(user)

    def account_yaml(self) -> str:
        return (
            "  - name: work\n    imap:\n"
            f"      host: {self.server.host}\n      port: {self.server.port}\n"
            f"      username: {self.user}\n"
            f"      password_env: {PASSWORD_ENV}\n"
            "      tls: none\n      allow_plaintext_on_loopback: true\n"
        )

    def deliver(self, raw: bytes) -> None:
        self.server.append(self.user, "INBOX", raw)

    def deliver_sent(self, raw: bytes) -> None:
        self.server.append(self.user, "Sent", raw, flags=[b"\\Seen"])

    def drafts(self) -> list[tuple[set[str], EmailMessage]]:
        return [
            ({f.decode() for f in flags}, _message(raw))
            for _uid, flags, raw in self.server.fetch_all(self.user, "Drafts")
        ]

    def delete_drafts(self) -> None:
        with self.server.client(self.user) as client:
            client.select_folder("Drafts")
            client.delete_messages(client.search("ALL"))
            client.expunge()

    def inbox_seen(self) -> list[bool]:
        return [
            b"\\Seen" in flags for _uid, flags, _raw in self.server.fetch_all(self.user, "INBOX")
        ]

    def env(self) -> dict[str, str]:
        return {PASSWORD_ENV: self.server.users[self.user]}


def _message(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


class Followupd:
    """Runs the real command line, as a script or a person would."""

    def __init__(self, tmp_path: Path, store: Store, extra: str = "") -> None:
        self.config = tmp_path / "config.yaml"
        self.config.write_text(
            "me:\n  name: Jane Doe\n  email: jane@example.com\n  timezone: Europe/Berlin\n"
            "  country: DE\n"
            f"{extra}"
            f"state_dir: {tmp_path / 'state'}\n"
            "accounts:\n" + store.account_yaml()
        )
        self.env = {**os.environ, **store.env()}
        self.log = tmp_path / "daemon.log"

    def command(self, *args: str) -> list[str]:
        """The command line for a followupd subcommand with this config."""
        return [sys.executable, "-m", "followupd", *args, "--config", str(self.config)]

    def __call__(self, *args: str, expect: int = 0) -> str:
        done = subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        assert done.returncode == expect, done.stderr + done.stdout
        return done.stdout

    def status(self, now: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self("status", "--json", "--now", now))
        return data

    def status_count(self) -> int:
        """How many actions are pending (0 while there is no state yet)."""
        done = subprocess.run(
            [sys.executable, "-m", "followupd", "status", "--json", "--config", str(self.config)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            check=False,
        )
        return len(json.loads(done.stdout)["actions"]) if done.returncode == 0 else 0

    def start(self) -> subprocess.Popen[bytes]:
        """The daemon, as systemd would start it; its output goes to `self.log`."""
        with self.log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "followupd", "-v", "run", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
