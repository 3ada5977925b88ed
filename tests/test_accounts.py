"""Several accounts in one daemon, and finding Drafts and Sent on servers that don't say."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from followupd.mailbox.folders import DRAFT_NAMES, SENT_NAMES, by_known_name
from followupd.mailbox.imap import ImapMailbox
from tests.dovecot import Dovecot
from tests.test_daemon import RULE, invitation, wait_for


def test_known_names_match_as_the_server_spells_them() -> None:
    assert by_known_name(["INBOX", "INBOX.Drafts", "INBOX.Sent"], DRAFT_NAMES) == "INBOX.Drafts"
    assert by_known_name(["INBOX", "[Gmail]/Sent Mail", "[Gmail]/All Mail"], SENT_NAMES) == (
        "[Gmail]/Sent Mail"
    )
    assert by_known_name(["INBOX", "Entwürfe", "Gesendete Elemente"], DRAFT_NAMES) == "Entwürfe"
    assert by_known_name(["INBOX", "Gesendete Elemente"], SENT_NAMES) == "Gesendete Elemente"
    assert by_known_name(["INBOX", "BROUILLONS"], DRAFT_NAMES) == "BROUILLONS"
    # Gmail's All Mail holds everything, drafts included; it is never taken for a role.
    assert by_known_name(["INBOX", "[Gmail]/All Mail"], DRAFT_NAMES) is None
    assert by_known_name(["INBOX", "[Gmail]/All Mail"], SENT_NAMES) is None


@pytest.mark.imap
def test_special_use_first_then_config_override(dovecot: Dovecot) -> None:
    dovecot.reset("jane")
    with dovecot.client("jane") as client:
        client.create_folder("Entwürfe")
    found = ImapMailbox("work", dovecot.imap_settings())
    chosen = ImapMailbox("work", dovecot.imap_settings(drafts_folder="Entwürfe"))
    missing = ImapMailbox("work", dovecot.imap_settings(sent_folder="Gesendet"))
    try:
        # Dovecot marks Drafts \Drafts: that beats the German name also present.
        assert found.roles().drafts == "Drafts" and found.roles().sent == "Sent"
        assert chosen.roles().drafts == "Entwürfe"
        chosen.append_draft(b"From: jane@example.com\r\nSubject: x\r\n\r\nbody\r\n")
        assert len(dovecot.fetch_all("jane", "Entwürfe")) == 1
        with pytest.raises(Exception, match="the configured folder 'Gesendet' is missing"):
            missing.roles()
    finally:
        for mailbox in (found, chosen, missing):
            mailbox.close()


def _two_accounts(tmp_path: Path, dovecot: Dovecot) -> tuple[Path, dict[str, str]]:
    """Fresh mailboxes for jane and bob; the config naming both, and the environment with
    their passwords."""
    for user in ("jane", "bob"):
        dovecot.reset(user)
    env = {
        **os.environ,
        "FUPD_PW_JANE": dovecot.users["jane"],
        "FUPD_PW_BOB": dovecot.users["bob"],
    }
    return _two_account_config(tmp_path, dovecot), env


@contextmanager
def _daemon(config: Path, env: dict[str, str], log: Path) -> Iterator[None]:
    """`followupd run` in the background, its output in `log`; stopped with SIGTERM."""
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "followupd", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        yield
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)


def _two_account_config(tmp_path: Path, dovecot: Dovecot) -> Path:
    rules = tmp_path / "rules"
    (rules / "templates").mkdir(parents=True)
    (rules / "r.yaml").write_text(RULE)
    (rules / "templates" / "ack.j2").write_text(
        "Subject: Re: {{ original_subject }}\n\nThank you, {{ recipient.first_name }}.\n"
    )
    accounts = "".join(
        f"  - name: {name}\n    imap:\n      host: {dovecot.host}\n      port: {dovecot.port}\n"
        f"      username: {user}\n      password_env: FUPD_PW_{user.upper()}\n"
        "      tls: none\n      allow_plaintext_on_loopback: true\n      timeout: 10\n"
        for name, user in (("work", "jane"), ("personal", "bob"))
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        "me:\n  name: Jane Doe\n  email: jane@example.com\n  aliases: [bob@example.com]\n"
        "  timezone: Europe/Berlin\n  quiet_hours: 00:00-00:00\n"
        f"rules_dir: {rules}\nstate_dir: {tmp_path / 'state'}\naccounts:\n{accounts}"
    )
    return config


@pytest.mark.imap
def test_one_daemon_watches_two_accounts_and_counts_a_shared_message_once(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    config, env = _two_accounts(tmp_path, dovecot)
    log = tmp_path / "daemon.log"
    with _daemon(config, env, log):
        assert wait_for(lambda: log.read_text().count("folders: drafts") >= 2, 20), log.read_text()
        time.sleep(1)  # both watchers idle now: only new mail can wake the daemon
        past = datetime.now(UTC) - timedelta(minutes=5)
        dovecot.append("bob", "INBOX", invitation(1, past))
        assert wait_for(lambda: len(dovecot.fetch_all("bob", "Drafts")) == 1, 20), log.read_text()
        dovecot.append("jane", "INBOX", invitation(2, past))
        assert wait_for(lambda: len(dovecot.fetch_all("jane", "Drafts")) == 1, 20), log.read_text()
        # The same message reaching both accounts (a forward, or Gmail's All Mail and labels
        # seen through two doors) is one application with one draft.
        shared = invitation(3, past)
        dovecot.append("jane", "INBOX", shared)
        dovecot.append("bob", "INBOX", shared)
        assert wait_for(lambda: "already seen under another key" in _reasons(config), 20), (
            log.read_text()
        )
        time.sleep(1)
    drafts = dovecot.fetch_all("jane", "Drafts") + dovecot.fetch_all("bob", "Drafts")
    assert len(drafts) == 3, log.read_text()
    status = _status(config, env)
    companies = sorted(a["company"] for a in status["applications"])
    assert companies == ["Company1", "Company2", "Company3"]


def _status(config: Path, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "followupd", "status", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _reasons(config: Path) -> str:
    """Why each message was recorded as it was, read straight from the state file."""
    path = config.parent / "state" / "state.sqlite3"
    if not path.exists():
        return ""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return "\n".join(r[0] for r in db.execute("SELECT reason FROM messages"))


def _my_reply(n: int) -> bytes:
    return (
        "From: Jane Doe <jane@example.com>\r\n"
        f"To: Recruiter {n} <rec{n}@company{n}.example>\r\n"
        f"Subject: Re: Interview invitation: Engineer at Company{n}\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: <reply-{n}@example.com>\r\n"
        f"In-Reply-To: <daemon-{n}@company{n}.example>\r\n"
        f"References: <daemon-{n}@company{n}.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Monday at 10:00 works for me. Best, Jane\r\n"
    ).encode()


@pytest.mark.imap
def test_a_message_you_send_is_noticed_at_once(dovecot: Dovecot, tmp_path: Path) -> None:
    """Sent has an IDLE of its own: no waiting for INBOX news or the 25-minute renewal."""
    config, env = _two_accounts(tmp_path, dovecot)
    dovecot.append("jane", "INBOX", invitation(1, datetime.now(UTC) - timedelta(minutes=5)))
    log = tmp_path / "daemon.log"
    with _daemon(config, env, log):
        assert wait_for(lambda: "drafted: ack" in log.read_text(), 30), log.read_text()
        time.sleep(1.5)  # every watcher is in IDLE now
        dovecot.append("jane", "Sent", _my_reply(1), flags=[b"\\Seen"])
        assert wait_for(lambda: "you wrote to the thread" in log.read_text(), 10), log.read_text()
