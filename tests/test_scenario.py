"""The end-to-end scenario on both backends: the real CLI against a Maildir and a Dovecot."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import pytest

from tests.dovecot import Dovecot
from tests.mail import INVITATION_ICS, NEWSLETTER, REJECTION, crlf

PASSWORD_ENV = "FUPD_TEST_PASSWORD"


class Store(Protocol):
    def account_yaml(self) -> str: ...
    def deliver(self, raw: bytes) -> None: ...
    def drafts(self) -> list[tuple[set[str], EmailMessage]]: ...
    def inbox_seen(self) -> list[bool]: ...
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

    def drafts(self) -> list[tuple[set[str], EmailMessage]]:
        out = []
        for path in sorted((self.root / ".Drafts" / "cur").glob("*")):
            flags = set(path.name.rpartition(":2,")[2]) if ":2," in path.name else set()
            out.append((flags, _message(path.read_bytes())))
        return out

    def inbox_seen(self) -> list[bool]:
        # Maildir "seen" is the S flag in a cur/ name; followupd must leave names alone.
        return [
            p.parent.name == "cur" and "S" in p.name.rpartition(":2,")[2]
            for p in sorted(self.root.glob("*/*.test*"))
        ]

    def env(self) -> dict[str, str]:
        return {}


class ImapStore:
    def __init__(self, server: Dovecot) -> None:
        self.server = server
        server.reset("jane")

    def account_yaml(self) -> str:
        return (
            "  - name: work\n    imap:\n"
            f"      host: {self.server.host}\n      port: {self.server.port}\n"
            "      username: jane\n"
            f"      password_env: {PASSWORD_ENV}\n"
            "      tls: none\n      allow_plaintext_on_loopback: true\n"
        )

    def deliver(self, raw: bytes) -> None:
        self.server.append("jane", "INBOX", raw)

    def drafts(self) -> list[tuple[set[str], EmailMessage]]:
        return [
            ({f.decode() for f in flags}, _message(raw))
            for _uid, flags, raw in self.server.fetch_all("jane", "Drafts")
        ]

    def inbox_seen(self) -> list[bool]:
        return [b"\\Seen" in flags for _uid, flags, _raw in self.server.fetch_all("jane", "INBOX")]

    def env(self) -> dict[str, str]:
        return {PASSWORD_ENV: self.server.users["jane"]}


def _message(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


@pytest.fixture(params=["maildir", pytest.param("imap", marks=pytest.mark.imap)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "maildir":
        yield MaildirStore(tmp_path / "Maildir")
    else:
        yield ImapStore(request.getfixturevalue("dovecot"))


class Followupd:
    """Runs the real command line, as a script or a person would."""

    def __init__(self, tmp_path: Path, store: Store) -> None:
        self.config = tmp_path / "config.yaml"
        self.config.write_text(
            "me:\n  name: Jane Doe\n  email: jane@example.com\n  timezone: Europe/Berlin\n"
            "  country: DE\n"
            f"state_dir: {tmp_path / 'state'}\n"
            "accounts:\n" + store.account_yaml()
        )
        self.env = {**os.environ, **store.env()}

    def __call__(self, *args: str, expect: int = 0) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "followupd", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        assert done.returncode == expect, done.stderr + done.stdout
        return done.stdout

    def status(self, now: str) -> dict:  # type: ignore[type-arg]
        return json.loads(self("status", "--json", "--now", now))


def test_invitation_thank_you_then_rejection(store: Store, tmp_path: Path) -> None:
    run = Followupd(tmp_path, store)
    store.deliver(crlf(INVITATION_ICS))
    store.deliver(crlf(NEWSLETTER))

    # Before the interview ends nothing is due; the newsletter makes no application.
    run("run", "--once", "--now", "2026-11-05T14:30")
    assert store.drafts() == []
    status = run.status("2026-11-05T14:30")
    assert [(a["company"], a["stage"]) for a in status["applications"]] == [
        ("Acme", "interview scheduled")
    ]

    # Three hours after the interview: a thank-you to each interviewer and the debrief note.
    run("run", "--once", "--now", "2026-11-05T18:00")
    drafts = store.drafts()
    by_to = {str(m["To"]): (flags, m) for flags, m in drafts}
    assert set(by_to) == {
        "Tom Lee <tom.lee@acme.example>",
        "Anna Schmidt <anna.schmidt@acme.example>",
        "Jane Doe <jane@example.com>",
    }
    flags, tom = by_to["Tom Lee <tom.lee@acme.example>"]
    assert flags & {"\\Draft", "D"}
    assert tom["In-Reply-To"] == "<inv-1@acme.example>"
    assert tom["From"] == "Jane Doe <jane@example.com>"
    assert "Data Engineer" in tom["Subject"]
    assert tom.get_content().startswith("Dear Tom,")
    assert "Debrief" in by_to["Jane Doe <jane@example.com>"][1]["Subject"]
    assert store.inbox_seen() == [False, False]

    # Running again, even later, makes no second draft.
    run("run", "--once", "--now", "2026-11-05T18:30")
    run("run", "--once", "--now", "2026-11-06T09:00")
    assert len(store.drafts()) == 3
    pending = run.status("2026-11-06T09:00")["actions"]
    assert [a["rule"] for a in pending] == ["follow-up-silence"]
    assert pending[0]["due"] == "2026-11-12T09:30:00+01:00"

    # The rejection cancels the follow-up and plans a gracious reply next business morning.
    store.deliver(crlf(REJECTION))
    run("run", "--once", "--now", "2026-11-10T12:00")
    status = run.status("2026-11-10T12:00")
    assert status["applications"][0]["stage"] == "rejected"
    assert [(a["rule"], a["due"]) for a in status["actions"]] == [
        ("rejection-reply", "2026-11-11T09:30:00+01:00")
    ]
    cancelled = [a for a in status["done"] if a["state"] == "cancelled"]
    assert [a["rule"] for a in cancelled] == ["follow-up-silence"]
    assert "rejection" in cancelled[0]["reason"]

    run("run", "--once", "--now", "2026-11-11T09:45")
    replies = [m for _f, m in store.drafts() if m["In-Reply-To"] == "<rej-1@acme.example>"]
    assert len(replies) == 1
    reply = replies[0]
    assert reply["To"] == "Anna Schmidt <anna.schmidt@acme.example>"
    assert reply["Subject"] == "Re: Your application for Data Engineer at Acme"
    assert "feedback" in reply.get_content()
    assert len(store.drafts()) == 4
    assert store.inbox_seen() == [False, False, False]
    assert run.status("2026-11-11T09:45")["actions"] == []
