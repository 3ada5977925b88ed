"""Notes to the person themself over SMTP (aiosmtplib): drafts waiting, the weekly digest.

The recipient is always the configured `me.email`; there is no way to address anyone else.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from datetime import datetime
from email.headerregistry import Address as EmailAddress
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid

import aiosmtplib

from followupd.config import Config, NotifySettings
from followupd.digest import drafts_note, weekly_digest
from followupd.errors import FollowupdError
from followupd.records import Action
from followupd.timing import Calendar
from followupd.tracker import Tracker

log = logging.getLogger(__name__)


class NotifyError(FollowupdError):
    """The note could not be sent (server unreachable, refused, bad login)."""


def note_to_self(config: Config, subject: str, body: str, now: datetime) -> EmailMessage:
    """A plain-text message from the person to the person."""
    local, _, domain = config.me.email.rpartition("@")
    me = EmailAddress(display_name=config.me.name, username=local, domain=domain)
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = me
    msg["To"] = me
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid("followupd-note", domain=domain or None)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    msg.set_content(body, charset="utf-8")
    return msg


def send_to_self(settings: NotifySettings, config: Config, msg: EmailMessage) -> None:
    """Deliver `msg` to the person's own address only; raises NotifyError on failure."""
    me = config.me.email
    tls = None
    if settings.tls != "none":
        tls = ssl.create_default_context(
            cafile=str(config.resolve(settings.ca_file)) if settings.ca_file else None
        )
    try:
        asyncio.run(
            aiosmtplib.send(
                msg,
                sender=me,
                recipients=[me],
                hostname=settings.host,
                port=settings.port,
                username=settings.username,
                password=settings.secret(),
                use_tls=settings.tls == "implicit",
                start_tls=settings.tls == "starttls",
                tls_context=tls,
                timeout=settings.timeout,
            )
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise NotifyError(
            f"cannot send the note via {settings.host}:{settings.port}: {exc}"
        ) from None


class Notes:
    """Decides when to tell the person something, and sends it."""

    def __init__(self, config: Config, settings: NotifySettings, cal: Calendar) -> None:
        self.config = config
        self.settings = settings
        self.cal = cal

    def drafts_made(self, made: list[Action], tracker: Tracker, now: datetime) -> bool:
        """After a pass: tell the person that drafts are waiting. True when a note went out."""
        if not made or not self.settings.drafts_waiting:
            return False
        waiting = len(tracker.actions(("drafted",)))
        subject, body = drafts_note(made, waiting, self.cal)
        send_to_self(self.settings, self.config, note_to_self(self.config, subject, body, now))
        log.info("told %s about %d new draft(s)", self.config.me.email, len(made))
        return True

    def send_digest(self, tracker: Tracker, now: datetime) -> None:
        send_to_self(
            self.settings, self.config, digest_message(self.config, tracker, now, self.cal)
        )
        log.info("weekly digest sent to %s", self.config.me.email)


def digest_message(config: Config, tracker: Tracker, now: datetime, cal: Calendar) -> EmailMessage:
    """The weekly digest as a message to the person (not sent)."""
    subject, body = weekly_digest(tracker.applications(), tracker.actions(), now, cal)
    return note_to_self(config, subject, body, now)
