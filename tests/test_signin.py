"""Every way to sign in, against the real Dovecot: command, keyring, environment, OAuth2."""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyrings.alt.file import PlaintextKeyring

from followupd.errors import MailboxError
from followupd.logsetup import REDACTED, setup_logging
from followupd.mailbox.imap import ImapMailbox
from tests.dovecot import Dovecot

pytestmark = pytest.mark.imap

NO_PASSWORD: dict[str, Any] = {"password": None}


def signed_in(settings: Any) -> None:
    """Log in, look at INBOX, log out; raises MailboxError when the server refuses."""
    mailbox = ImapMailbox("work", settings)
    try:
        mailbox.validity("INBOX")
    finally:
        mailbox.close()


def test_password_command_first_line(dovecot: Dovecot) -> None:
    command = f"printf '%s\\nsecond line\\n' {shlex.quote(dovecot.users['jane'])}"
    signed_in(dovecot.imap_settings(**NO_PASSWORD, password_command=command))


def test_failing_password_command_is_a_clear_mailbox_error(dovecot: Dovecot) -> None:
    command = "echo 'gpg: decryption failed: No secret key' >&2; exit 2"
    settings = dovecot.imap_settings(**NO_PASSWORD, password_command=command)
    with pytest.raises(MailboxError) as info:
        signed_in(settings)
    assert "password_command failed with exit code 2: gpg: decryption failed" in str(info.value)


def test_wrong_password_is_refused(dovecot: Dovecot) -> None:
    settings = dovecot.imap_settings(**NO_PASSWORD, password_command="echo wrong-password")
    with pytest.raises(MailboxError, match="AUTHENTICATIONFAILED"):
        signed_in(settings)


def test_password_from_environment(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUPD_TEST_PW", dovecot.users["bob"])
    settings = dovecot.imap_settings("bob", **NO_PASSWORD, password_env="FUPD_TEST_PW")
    signed_in(settings)
    monkeypatch.delenv("FUPD_TEST_PW")
    with pytest.raises(MailboxError, match="environment variable FUPD_TEST_PW is not set"):
        signed_in(settings)


@pytest.fixture
def file_keyring(tmp_path: Path) -> Iterator[KeyringBackend]:
    """A real keyring backend that keeps its passwords in a file under tmp_path."""
    before = keyring.get_keyring()
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")  # type: ignore[misc]
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)


def test_password_from_keyring(dovecot: Dovecot, file_keyring: KeyringBackend) -> None:
    settings = dovecot.imap_settings(**NO_PASSWORD, keyring_service="followupd-test")
    with pytest.raises(MailboxError) as info:
        signed_in(settings)
    assert "keyring set followupd-test jane" in str(info.value)  # tells how to store it
    keyring.set_password("followupd-test", "jane", dovecot.users["jane"])
    signed_in(settings)


@pytest.fixture
def token_source(tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    """A token command like oama's: prints the current token and counts its runs."""
    token_file, runs = tmp_path / "token", tmp_path / "runs"
    command = f"echo run >> {runs}; cat {token_file}"
    yield token_file, runs, command


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_oauth2_token_is_fetched_anew_on_every_reconnect(
    dovecot: Dovecot, token_source: tuple[Path, Path, str], mechanism: str
) -> None:
    token_file, runs, command = token_source
    token_file.write_text(dovecot.tokens["jane"] + "\n")
    settings = dovecot.imap_settings(
        **NO_PASSWORD, oauth2_token_command=command, oauth2_mechanism=mechanism
    )
    mailbox = ImapMailbox("work", settings)
    try:
        mailbox.validity("INBOX")
        # The provider issues a new token and the old one expires; the token tool knows it.
        dovecot.set_token("jane", f"jane-fresh-{mechanism}")
        token_file.write_text(f"jane-fresh-{mechanism}\n")
        mailbox.close()  # as after a dropped connection
        mailbox.validity("INBOX")
    finally:
        mailbox.close()
    assert runs.read_text().count("run") == 2


def test_expired_token_and_password_as_token_are_refused(
    dovecot: Dovecot, token_source: tuple[Path, Path, str]
) -> None:
    token_file, _runs, command = token_source
    settings = dovecot.imap_settings(**NO_PASSWORD, oauth2_token_command=command)
    token_file.write_text("an-expired-token\n")
    with pytest.raises(MailboxError, match="AUTHENTICATIONFAILED"):
        signed_in(settings)
    # The token check is real: the account's password is no access token.
    token_file.write_text(dovecot.users["jane"] + "\n")
    with pytest.raises(MailboxError, match="AUTHENTICATIONFAILED"):
        signed_in(settings)


def test_secrets_never_appear_in_the_log(
    dovecot: Dovecot, token_source: tuple[Path, Path, str], tmp_path: Path
) -> None:
    token_file, _runs, command = token_source
    token_file.write_text(dovecot.tokens["bob"] + "\n")
    log_file = tmp_path / "log"
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with log_file.open("w") as out:
            setup_logging(2, daemon=True, stream=out)
            settings = dovecot.imap_settings("bob", **NO_PASSWORD, oauth2_token_command=command)
            signed_in(settings)
            logging.getLogger("followupd.test").error("token was %s", dovecot.tokens["bob"])
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    text = log_file.read_text()
    assert "logged in as bob (XOAUTH2" in text
    assert dovecot.tokens["bob"] not in text and f"token was {REDACTED}" in text


def test_plain_password_in_config_warns(dovecot: Dovecot, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "me: {name: Jane Doe, email: jane@example.com}\n"
        f"state_dir: {tmp_path / 'state'}\n"
        "accounts:\n  - name: work\n    imap:\n"
        f"      host: {dovecot.host}\n      port: {dovecot.port}\n"
        f"      username: jane\n      password: {dovecot.users['jane']}\n"
        "      tls: none\n      allow_plaintext_on_loopback: true\n"
    )
    config.chmod(0o644)
    done = subprocess.run(
        [sys.executable, "-m", "followupd", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "account work keeps its password in the config; prefer password_command" in done.stderr
    assert "others can read it: chmod 600" in done.stderr
    assert dovecot.users["jane"] not in done.stderr


def test_oauth2_daemon_pass_through_the_command_line(
    dovecot: Dovecot, token_source: tuple[Path, Path, str], tmp_path: Path
) -> None:
    token_file, runs, command = token_source
    token_file.write_text(dovecot.tokens["jane"] + "\n")
    dovecot.reset("jane")
    config = tmp_path / "config.yaml"
    config.write_text(
        "me: {name: Jane Doe, email: jane@example.com}\n"
        f"state_dir: {tmp_path / 'state'}\n"
        "accounts:\n  - name: work\n    imap:\n"
        f"      host: {dovecot.host}\n      port: {dovecot.port}\n      username: jane\n"
        f"      oauth2_token_command: {shlex.quote(command)}\n"
        "      tls: none\n      allow_plaintext_on_loopback: true\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "followupd", "-v", "run", "--once", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "logged in as jane (XOAUTH2" in done.stderr
    assert dovecot.tokens["jane"] not in done.stderr
    assert runs.read_text().count("run") >= 1
