"""`followupd init`: a starter config from a few answers, a login check, the service commands."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from followupd.config import Config, load_config
from followupd.errors import FollowupdError, Problem, UserInputError
from followupd.xdg import config_base, private_dir

# Where the big providers keep IMAP; "oauth2" where they no longer take passwords.
PROVIDERS: dict[str, tuple[str, bool]] = {
    "gmail.com": ("imap.gmail.com", True),
    "googlemail.com": ("imap.gmail.com", True),
    "outlook.com": ("outlook.office365.com", True),
    "hotmail.com": ("outlook.office365.com", True),
    "live.com": ("outlook.office365.com", True),
    "fastmail.com": ("imap.fastmail.com", False),
    "fastmail.fm": ("imap.fastmail.com", False),
}
SECRET_FLAGS = ("password_command", "keyring_service", "oauth2_token_command", "password_env")


@dataclass
class Answers:
    """What `init` was told, by flags or at the prompts."""

    name: str | None = None
    email: str | None = None
    timezone: str | None = None
    account: str = "main"
    host: str | None = None
    port: int = 993
    username: str | None = None
    secret: dict[str, str] = field(default_factory=dict)  # one of SECRET_FLAGS -> value
    maildir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # tls, ca_file, …: passed through


def local_timezone() -> str:
    """The machine's IANA zone from /etc/localtime, else $TZ, else UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and "/" in tz:
        return tz
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return "UTC"
    _, sep, zone = target.partition("zoneinfo/")
    return zone if sep else "UTC"


def provider_host(email: str) -> tuple[str | None, bool]:
    """The IMAP host for the address's domain, and whether it needs OAuth2."""
    host, oauth = PROVIDERS.get(email.rpartition("@")[2].lower(), (None, False))
    return host, oauth


def ask_missing(answers: Answers, prompt: Any) -> None:
    """Fill what flags left open by asking; `prompt(text, default)` returns the answer."""
    answers.name = answers.name or prompt("Your name (as drafts are signed)", None)
    answers.email = answers.email or prompt("Your email address", None)
    answers.timezone = answers.timezone or prompt("Your time zone", local_timezone())
    if answers.maildir is not None:
        return
    guessed, oauth = provider_host(answers.email or "")
    answers.host = answers.host or prompt("IMAP server", guessed)
    answers.username = answers.username or prompt("IMAP user name", answers.email)
    if not answers.secret:
        default = "oauth2_token_command" if oauth else "password_command"
        kind = prompt(f"Sign in with ({', '.join(SECRET_FLAGS)})", default)
        if kind not in SECRET_FLAGS:
            raise UserInputError(f"unknown sign-in method {kind!r}; use one of {SECRET_FLAGS}")
        hint = {
            "password_command": "Command that prints the password (e.g. pass show mail/work)",
            "keyring_service": "Keyring service name (store it with: keyring set SERVICE USER)",
            "oauth2_token_command": "Command that prints an access token (e.g. oama access ADDR)",
            "password_env": "Environment variable holding the password",
        }[kind]
        answers.secret = {kind: prompt(hint, "followupd" if kind == "keyring_service" else None)}


def missing(answers: Answers) -> list[str]:
    """The flags a non-interactive run still needs."""
    need = [f"--{k}" for k in ("name", "email") if not getattr(answers, k)]
    if answers.maildir is None:
        if not answers.host and not provider_host(answers.email or "")[0]:
            need.append("--imap-host")
        if not answers.secret:
            need.append("one of " + ", ".join("--" + k.replace("_", "-") for k in SECRET_FLAGS))
    return need


def config_document(answers: Answers) -> dict[str, Any]:
    """The config as data, in the shape load_config reads."""
    assert answers.name and answers.email
    me = {"name": answers.name, "email": answers.email, "timezone": answers.timezone or "UTC"}
    account: dict[str, Any] = {"name": answers.account}
    if answers.maildir is not None:
        account["maildir"] = str(answers.maildir)
    else:
        host = answers.host or provider_host(answers.email)[0]
        imap: dict[str, Any] = {"host": host, "port": answers.port}
        imap["username"] = answers.username or answers.email
        imap.update(answers.secret)
        imap.update(answers.extra)
        account["imap"] = imap
    return {"me": me, "accounts": [account]}


HEADER = """\
# followupd configuration, written by `followupd init`.
# `followupd check` validates it; every key is described in docs/config.md.
"""


def write_config(path: Path, answers: Answers, force: bool) -> Config:
    """Write the file (0600 in a 0700 folder) and read it back through the validator."""
    if path.exists() and not force:
        raise UserInputError(
            [Problem(str(path), None, "already exists; use --force to replace it")]
        )
    private_dir(path.parent)
    text = HEADER + yaml.safe_dump(config_document(answers), sort_keys=False, allow_unicode=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
    return load_config(path)


def check_account(config: Config) -> list[str]:
    """Log in to every account and find its folders; lines saying what was found."""
    from followupd.accounts import open_mailbox  # noqa: PLC0415 - imapclient is slow to import

    lines = []
    for account in config.accounts:
        mailbox = open_mailbox(config, account)
        try:
            roles = mailbox.roles()
        except FollowupdError as exc:
            raise FollowupdError(f"{account.name}: sign-in check failed: {exc}") from None
        finally:
            mailbox.close()
        lines.append(
            f"{account.name}: signed in; INBOX {roles.inbox!r}, Drafts {roles.drafts!r},"
            f" Sent {roles.sent!r}"
        )
    return lines


def install_unit(config_path: Path, default_path: Path) -> Path:
    """Write the user unit with this installation's command line into ~/.config/systemd/user."""
    text = (resources.files("followupd.unit") / "followupd.service").read_text()
    command = shutil.which("followupd") or f"{sys.executable} -m followupd"
    line = f"{command} run"
    if config_path.resolve() != default_path.resolve():
        line += f" --config {shlex.quote(str(config_path.resolve()))}"
    text = text.replace("ExecStart=%h/.local/bin/followupd run", f"ExecStart={line}")
    target = config_base() / "systemd" / "user" / "followupd.service"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


SERVICE_COMMANDS = """\
systemctl --user daemon-reload
systemctl --user enable --now followupd
journalctl --user -u followupd -f        # what it is doing
loginctl enable-linger "$USER"           # keep it running while you are logged out"""
