"""Invariant 6: TLS policy, and no password anywhere a person or a log collector could see it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from followupd.errors import MailboxError
from followupd.mailbox.imap import ImapMailbox
from tests.dovecot import Dovecot
from tests.faultproxy import FaultProxy
from tests.mail import INVITATION_ICS, crlf
from tests.stores import PASSWORD_ENV, Followupd, ImapStore
from tests.test_config import problems

AFTER = "2026-11-05T18:00"


def _starttls_through(dovecot: Dovecot, proxy: FaultProxy) -> ImapMailbox:
    """Jane's mailbox reached through the proxy, STARTTLS required, the test CA trusted."""
    settings = dovecot.imap_settings(
        "jane",
        port=proxy.port,
        tls="starttls",
        allow_plaintext_on_loopback=False,
        ca_file=dovecot.ca_file,
    )
    return ImapMailbox("work", settings)


@pytest.mark.imap
def test_starttls_stripped_by_a_man_in_the_middle_is_refused_before_login(
    dovecot: Dovecot, proxy: FaultProxy
) -> None:
    proxy.strip(b" STARTTLS")
    box = _starttls_through(dovecot, proxy)
    with pytest.raises(MailboxError, match="does not offer STARTTLS"):
        box.roles()
    box.close()
    password = dovecot.users["jane"].encode()
    assert proxy.connections == 1
    assert password not in proxy.client_bytes
    assert b"LOGIN" not in proxy.client_bytes.upper()


@pytest.mark.imap
def test_starttls_through_an_honest_path_encrypts_the_login(
    dovecot: Dovecot, proxy: FaultProxy
) -> None:
    box = _starttls_through(dovecot, proxy)
    try:
        assert box.roles().drafts == "Drafts"
    finally:
        box.close()
    assert b"STARTTLS" in proxy.client_bytes.upper()
    assert dovecot.users["jane"].encode() not in proxy.client_bytes


@pytest.mark.imap
def test_self_signed_server_is_refused_until_its_ca_is_configured(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    store = ImapStore(dovecot)
    tls = (
        "  - name: work\n    imap:\n"
        f"      host: {dovecot.host}\n      port: {dovecot.tls_port}\n"
        f"      username: jane\n      password_env: {PASSWORD_ENV}\n"
    )
    run = Followupd(tmp_path, store)
    head = run.config.read_text().split("accounts:\n")[0]
    run.config.write_text(head + "accounts:\n" + tls)
    done = subprocess.run(
        run.command("run", "--once"), capture_output=True, text=True, env=run.env, check=False
    )
    assert done.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in done.stderr
    run.config.write_text(head + "accounts:\n" + tls + f"      ca_file: {dovecot.ca_file}\n")
    run("run", "--once")


def test_plaintext_on_loopback_needs_the_explicit_setting(tmp_path: Path) -> None:
    from tests.test_config import GOOD

    text = GOOD.replace("imap.example.com", "127.0.0.1").replace(
        "      username: jane", "      tls: none\n      username: jane"
    )
    (found,) = problems(tmp_path, text)
    assert "tls: none sends the password in clear" in found


def _run(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=120)
    return f"[exit {done.returncode}]\n{done.stdout}\n{done.stderr}"


@pytest.mark.imap
def test_the_password_appears_in_no_output_log_traceback_state_or_status(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    store = ImapStore(dovecot)
    store.deliver(crlf(INVITATION_ICS))
    run = Followupd(tmp_path, store)
    password = dovecot.users["jane"]
    env = {**run.env, "FOLLOWUPD_LOG": "debug"}
    outputs = [
        _run(
            [
                sys.executable,
                "-m",
                "followupd",
                "-vv",
                *run.command("run", "--once")[3:],
                "--now",
                AFTER,
            ],
            env,
        ),
        _run(run.command("status", "--now", AFTER), env),
        _run(run.command("status", "--json", "--now", AFTER), env),
        _run(run.command("check"), env),
    ]
    joined = "\n".join(outputs)
    assert "imapclient.imaplib: > b" in joined, "no protocol trace; the test proves nothing"
    assert len(store.drafts()) == 3
    # A failing login with a wrong password (also a secret), with tracebacks at -vv.
    wrong = "wr0ng-Passw0rd-xyz"
    bad_env = {**env, PASSWORD_ENV: wrong}
    failed = _run(
        [sys.executable, "-m", "followupd", "-vv", *run.command("run", "--once")[3:]], bad_env
    )
    assert "[exit 1]" in failed and "Traceback" in failed
    outputs.append(failed)
    state = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir())
    found = [
        secret
        for secret in (password, wrong)
        for text in [*outputs, state.decode("latin-1")]
        if secret in text
    ]
    assert found == []
    # Only the environment holds it, never the config file.
    assert password not in run.config.read_text()
    assert os.environ.get(PASSWORD_ENV) is None
