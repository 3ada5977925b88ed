"""The person's config file: loaded once, validated, typed."""

from __future__ import annotations

import os
import re
import stat
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from followupd.credentials import (
    SECRET_KEYS,
    Credential,
    from_env,
    from_keyring,
    run_secret_command,
)
from followupd.errors import FollowupdError, Problem, UserInputError
from followupd.logsetup import remember_secret
from followupd.xdg import config_home, state_home
from followupd.yamlsource import load_yaml, validate

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _span(text: str) -> tuple[time, time]:
    m = _HOURS.match(text)
    assert m is not None  # validated on load
    h1, m1, h2, m2 = map(int, m.groups())
    end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
    return time(h1, m1), end


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Me(_Strict):
    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    timezone: str = "UTC"
    working_hours: str = "09:00-18:00"
    quiet_hours: str = "21:00-08:00"  # no draft appears in these hours, even when a rule allows it
    country: str | None = None  # ISO code for public holidays, e.g. "DE"
    signature: str = ""
    aliases: list[str] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)"
            ) from None
        return value

    @field_validator("working_hours", "quiet_hours")
    @classmethod
    def _hours(cls, value: str, info: ValidationInfo) -> str:
        m = _HOURS.match(value)
        if not m:
            raise ValueError('expected "HH:MM-HH:MM", e.g. "09:00-18:00"')
        h1, m1, h2, m2 = map(int, m.groups())
        if not (0 <= h1 < 24 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60):
            raise ValueError("hours must be between 00:00 and 24:00")
        # Quiet hours may wrap around midnight; a working day may not.
        if info.field_name == "working_hours" and (h1, m1) >= (h2, m2):
            raise ValueError("the working day must start before it ends")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def day_start(self) -> time:
        return _span(self.working_hours)[0]

    @property
    def day_end(self) -> time:
        return _span(self.working_hours)[1]

    @property
    def quiet_start(self) -> time:
        return _span(self.quiet_hours)[0]

    @property
    def quiet_end(self) -> time:
        return _span(self.quiet_hours)[1]

    @property
    def addresses(self) -> set[str]:
        return {a.lower() for a in [self.email, *self.aliases]}


class ImapSettings(_Strict):
    host: str
    port: int = Field(default=993, ge=1, le=65535)
    username: str
    password_command: str | None = None
    password_env: str | None = None
    keyring_service: str | None = None  # keyring.get_password(keyring_service, username)
    oauth2_token_command: str | None = None  # prints a fresh access token (oama, mutt_oauth2)
    oauth2_mechanism: Literal["XOAUTH2", "OAUTHBEARER"] = "XOAUTH2"
    password: str | None = None  # discouraged: prefer password_command
    ca_file: Path | None = None
    tls: Literal["implicit", "starttls", "none"] | None = None  # default from the port
    allow_plaintext_on_loopback: bool = False
    drafts_folder: str | None = None  # override SPECIAL-USE discovery
    sent_folder: str | None = None
    inbox_folder: str = "INBOX"
    poll_interval: float = Field(default=60.0, gt=0)
    timeout: float = Field(default=60.0, gt=0)
    # RFC 2177: a server may drop an IDLE after 30 min, and NAT boxes forget quiet connections
    # sooner; renewing also proves the connection alive (DONE must be answered within timeout).
    idle_renew: float = Field(default=25 * 60.0, gt=0, le=29 * 60.0)

    @property
    def tls_mode(self) -> str:
        if self.tls is not None:
            return self.tls
        return "starttls" if self.port == 143 else "implicit"

    @model_validator(mode="after")
    def _one_secret(self) -> ImapSettings:
        given = [k for k in SECRET_KEYS if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(SECRET_KEYS)} (found {', '.join(given) or 'none'})"
            )
        if self.tls_mode == "none" and not self.allow_plaintext_on_loopback:
            raise ValueError(
                "tls: none sends the password in clear; it needs allow_plaintext_on_loopback: true"
                " and a loopback host"
            )
        if self.tls_mode == "none" and self.host not in {"127.0.0.1", "::1", "localhost"}:
            raise ValueError("tls: none is allowed only for a loopback host")
        return self

    def credential(self) -> Credential:
        """Fetch the password or access token now; each call runs the command again."""
        if self.oauth2_token_command is not None:
            token = run_secret_command(self.oauth2_token_command, "oauth2_token_command")
            return Credential("oauth2", token)
        return Credential("password", self.secret())

    def secret(self) -> str:
        """The password (from a command, the keyring, the environment or the file); never logged."""
        if self.password is not None:
            remember_secret(self.password)
            return self.password
        if self.keyring_service is not None:
            return from_keyring(self.keyring_service, self.username)
        if self.password_env is None and self.password_command is None:
            raise FollowupdError("this account signs in with OAuth2; it has no password")
        return fetch_secret(self.password_env, self.password_command)


def fetch_secret(env: str | None, command: str | None) -> str:
    """A password from an environment variable or the first line of a command's output."""
    if env is not None:
        return from_env(env)
    assert command is not None
    return run_secret_command(command, "password_command")


class Account(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    imap: ImapSettings | None = None
    maildir: Path | None = None

    @model_validator(mode="after")
    def _one_backend(self) -> Account:
        if (self.imap is None) == (self.maildir is None):
            raise ValueError("an account needs exactly one of imap or maildir")
        return self


_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class Digest(_Strict):
    """When the weekly pipeline digest goes out (in me.timezone)."""

    day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    at: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")

    @property
    def hour(self) -> int:
        return int(self.at[:2])

    @property
    def minute(self) -> int:
        return int(self.at[3:])


class NotifySettings(_Strict):
    """SMTP for notes to yourself. No recipient setting: it only ever writes to me.email."""

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    tls: Literal["implicit", "starttls", "none"] = "starttls"
    username: str | None = None
    password_command: str | None = None
    password_env: str | None = None
    ca_file: Path | None = None
    timeout: float = Field(default=30.0, gt=0)
    drafts_waiting: bool = True  # a short note after a pass that made drafts
    digest: Digest | None = Digest()  # null: no weekly digest

    @model_validator(mode="after")
    def _consistent(self) -> NotifySettings:
        given = [k for k in ("password_command", "password_env") if getattr(self, k)]
        if self.username is None and given:
            raise ValueError(f"{given[0]} needs a username")
        if self.username is not None and len(given) != 1:
            raise ValueError(
                "with a username, give exactly one of password_command or password_env"
                f" (found {len(given) or 'none'})"
            )
        if self.tls == "none" and self.host not in _LOOPBACK:
            raise ValueError("tls: none is allowed only for a loopback host")
        return self

    def secret(self) -> str | None:
        """The SMTP password, fetched now; None when the server needs no login."""
        if self.username is None:
            return None
        return fetch_secret(self.password_env, self.password_command)


class Config(_Strict):
    me: Me
    state_dir: Path | None = None  # $XDG_STATE_HOME/followupd by default
    rules_dir: Path | None = None
    accounts: Annotated[list[Account], Field(min_length=1)]
    notify: NotifySettings | None = None  # off unless configured
    # The first read of a folder looks back this many days (IMAP SEARCH SINCE); null: all.
    lookback_days: int | None = Field(default=60, ge=0)
    # A big first read parses and recognises candidates in a second process (with two cores
    # or more), on idle CPU time only; the scan reads them itself when it is late.
    scan_worker: bool = True
    references: list[dict[str, str]] = []

    # Where the file was read from; relative paths inside it are resolved against its folder.
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        names = [a.name for a in self.accounts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"account names must be unique: {', '.join(dupes)}")
        return self

    def resolve(self, path: Path) -> Path:
        path = path.expanduser()
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        return path

    @property
    def state_path(self) -> Path:
        if self.state_dir is not None:
            return self.resolve(self.state_dir)
        return state_home()

    @property
    def rules_path(self) -> Path | None:
        return self.resolve(self.rules_dir) if self.rules_dir is not None else None


def default_config_path() -> Path:
    """--config, else $FOLLOWUPD_CONFIG, else the XDG config location."""
    env = os.environ.get("FOLLOWUPD_CONFIG")
    if env:
        return Path(env).expanduser()
    return config_home() / "config.yaml"


def load_config(path: Path | None = None) -> Config:
    """Load and validate the config; every problem is reported with file:line."""
    path = path or default_config_path()
    if not path.exists():
        raise UserInputError(
            [Problem(str(path), None, "config file not found (see config.example.yaml)")]
        )
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise UserInputError([Problem(str(path), 1, "the config must be a YAML mapping")])
    data: dict[str, Any] = dict(doc.data)
    config = validate(doc, Config, data)
    return config.model_copy(update={"source": path.resolve()})


def readable_by_others(path: Path) -> bool:
    """True when group or others may read the file (a concern if it holds a password)."""
    return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
