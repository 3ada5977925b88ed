"""`followupd init`: a config that loads, a sign-in check on Dovecot, the unit installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from followupd.cli import cli
from followupd.config import load_config
from tests.dovecot import Dovecot


def followupd(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "followupd", *args],
        capture_output=True,
        text=True,
        env=environ,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def init_args(dovecot: Dovecot, *more: str) -> list[str]:
    return [
        "init",
        *("--name", "Jane Doe", "--email", "jane@example.com", "--timezone", "Europe/Berlin"),
        *("--imap-host", dovecot.host, "--imap-port", str(dovecot.tls_port)),
        *(
            "--username",
            "jane",
            "--password-env",
            "FUPD_INIT_PW",
            "--ca-file",
            str(dovecot.ca_file),
        ),
        *more,
    ]


@pytest.mark.imap
def test_init_writes_config_checks_sign_in_and_installs_the_unit(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    dovecot.reset("jane")
    done = followupd(tmp_path, *init_args(dovecot), FUPD_INIT_PW=dovecot.users["jane"])
    assert done.returncode == 0, done.stderr
    config = tmp_path / "xdg" / "followupd" / "config.yaml"  # the XDG default
    assert f"wrote {config}" in done.stdout
    assert "main: signed in; INBOX 'INBOX', Drafts 'Drafts', Sent 'Sent'" in done.stdout
    assert "systemctl --user enable --now followupd" in done.stdout
    assert config.stat().st_mode & 0o777 == 0o600
    assert config.parent.stat().st_mode & 0o777 == 0o700
    loaded = load_config(config)
    imap = loaded.accounts[0].imap
    assert (
        imap is not None and imap.password_env == "FUPD_INIT_PW" and imap.port == dovecot.tls_port
    )
    assert loaded.me.timezone == "Europe/Berlin"
    unit = tmp_path / "xdg" / "systemd" / "user" / "followupd.service"
    assert f"installed {unit}" in done.stdout
    exec_start = next(x for x in unit.read_text().splitlines() if x.startswith("ExecStart="))
    assert exec_start.endswith(" run")  # the default config path needs no --config
    checked = followupd(tmp_path, "check", FUPD_INIT_PW=dovecot.users["jane"])
    assert checked.returncode == 0, checked.stderr


@pytest.mark.imap
def test_init_refuses_to_overwrite_and_reports_a_failed_sign_in(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    config = tmp_path / "elsewhere.yaml"
    args = init_args(dovecot, "--config", str(config), "--no-unit")
    failed = followupd(tmp_path, *args, FUPD_INIT_PW="not-the-password")
    assert failed.returncode == 1
    assert "main: sign-in check failed" in failed.stderr and "AUTHENTICATIONFAILED" in failed.stderr
    assert f"fix {config} and run `followupd check`" in failed.stderr
    again = followupd(tmp_path, *args, FUPD_INIT_PW=dovecot.users["jane"])
    assert again.returncode == 2
    assert f"{config}: already exists; use --force to replace it" in again.stderr
    forced = followupd(tmp_path, *args, "--force", FUPD_INIT_PW=dovecot.users["jane"])
    assert forced.returncode == 0, forced.stderr


def test_init_without_a_terminal_names_the_missing_flags(tmp_path: Path) -> None:
    done = followupd(tmp_path, "init", "--name", "Jane Doe", "--imap-host", "mail.example.org")
    assert done.returncode == 2
    assert "init needs --email, one of --password-command, --keyring-service," in done.stderr
    assert not (tmp_path / "xdg" / "followupd" / "config.yaml").exists()


def test_init_asks_and_knows_gmail_wants_oauth2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    answers = "\n".join(
        ["Jane Doe", "jane@gmail.com", "Europe/Berlin", "", "", "", "oama access jane@gmail.com"]
    )
    result = CliRunner().invoke(
        cli, ["init", "--interactive", "--no-check", "--no-unit"], input=answers + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "IMAP server [imap.gmail.com]" in result.output
    assert "[oauth2_token_command]" in result.output
    written = yaml.safe_load((tmp_path / "xdg" / "followupd" / "config.yaml").read_text())
    assert written["accounts"][0]["imap"] == {
        "host": "imap.gmail.com",
        "port": 993,
        "username": "jane@gmail.com",
        "oauth2_token_command": "oama access jane@gmail.com",
    }
