"""Where an account's secret comes from: a command, the keyring, the environment or the config.

Each secret is fetched when a connection logs in (never cached, so a rotated password or a
fresh OAuth2 access token is picked up on the next reconnect) and registered with the log
redaction before anything can print it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Literal

from followupd.errors import FollowupdError
from followupd.logsetup import remember_secret

COMMAND_TIMEOUT = 60.0
SECRET_KEYS = (
    "password_command",
    "password_env",
    "keyring_service",
    "oauth2_token_command",
    "password",
)


@dataclass(frozen=True)
class Credential:
    """What to log in with: a password (LOGIN) or an OAuth2 access token (XOAUTH2/OAUTHBEARER)."""

    kind: Literal["password", "oauth2"]
    value: str

    def __repr__(self) -> str:  # never shows the value, even in a traceback's locals
        return f"Credential(kind={self.kind!r}, value='********')"


def run_secret_command(command: str, what: str) -> str:
    """The first line a shell command prints, like mbsync's PassCmd; a failure names `what`."""
    try:
        done = subprocess.run(  # noqa: S602 - a shell command line the person wrote
            command,
            shell=True,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise FollowupdError(f"{what} did not finish within {COMMAND_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        # stderr may say why (e.g. "gpg: decryption failed"); it never holds the secret itself.
        hint = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = f": {hint[-1]}" if hint else ""
        raise FollowupdError(f"{what} failed with exit code {done.returncode}{detail}")
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    if not lines or not lines[0].strip():
        raise FollowupdError(f"{what} printed nothing")
    return _remembered(lines[0].strip())


def from_env(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise FollowupdError(f"environment variable {variable} is not set")
    return _remembered(value)


def from_keyring(service: str, username: str) -> str:
    """The password stored with `keyring set SERVICE USERNAME` (Secret Service, KWallet, …)."""
    import keyring  # noqa: PLC0415 - slow to import; only accounts that use it pay
    from keyring.errors import KeyringError  # noqa: PLC0415

    try:
        value = keyring.get_password(service, username)
    except KeyringError as exc:
        raise FollowupdError(f"keyring: cannot read {service}/{username}: {exc}") from None
    if not value:
        backend = type(keyring.get_keyring()).__name__
        raise FollowupdError(
            f"keyring ({backend}) has no password for service {service!r}, user {username!r};"
            f" store it with: keyring set {service} {username}"
        )
    return _remembered(value)


def _remembered(value: str) -> str:
    remember_secret(value)
    return value
