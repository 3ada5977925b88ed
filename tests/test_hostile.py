"""Invariant 5 (bad input never stops it) and injection safety, from parser to Drafts."""

from __future__ import annotations

import os
import random
import sqlite3
from contextlib import closing
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imapclient.exceptions import IMAPClientError

from followupd.parse import MAX_HEADER_CHARS, MAX_TEXT_CHARS, MalformedMessage, parse_message
from followupd.recognise import recognise
from tests.dovecot import Dovecot
from tests.hostile import GENERATORS, corpus, enormous
from tests.mail import INVITATION_ICS, REJECTION, crlf
from tests.stores import Followupd, ImapStore, MaildirStore, Store

BERLIN = ZoneInfo("Europe/Berlin")
AFTER = "2026-11-05T18:00"
COUNT = int(os.environ.get("FUPD_HOSTILE_COUNT", "110"))


@settings(
    max_examples=220, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(st.sampled_from(sorted(GENERATORS)), st.randoms(use_true_random=False))
def test_hostile_messages_parse_or_are_refused_and_never_raise_anything_else(
    kind: str, rng: random.Random
) -> None:
    raw = GENERATORS[kind](rng)
    try:
        msg = parse_message(raw, default_tz=BERLIN)
    except MalformedMessage as exc:
        assert exc.reason
        return
    assert len(msg.subject) <= MAX_HEADER_CHARS
    assert len(msg.text) <= MAX_TEXT_CHARS
    result = recognise(msg, me_addresses={"jane@example.com"}, tz=BERLIN)
    assert 0.0 <= result.confidence <= 1.0


def test_an_enormous_message_is_read_only_in_part() -> None:
    msg = parse_message(enormous(), default_tz=BERLIN)
    assert any("truncated" in d for d in msg.defects)
    assert len(msg.text) <= MAX_TEXT_CHARS


def _headers_are_safe(draft: EmailMessage) -> None:
    names = {k.lower() for k in draft}
    assert names <= {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "x-followupd-rule",
        "content-type",
        "content-transfer-encoding",
        "mime-version",
    }, names
    # Text from mail may show up inside a display name or the subject, as data; what
    # matters is where the draft would go.
    for field in ("To", "Cc"):
        header = draft[field]
        if header is not None:
            assert all(a.domain != "attacker.example" for a in header.addresses), str(header)
    assert "49" not in str(draft["Subject"])


def _two_passes_draft_safely(tmp_path: Path, store: Store) -> Followupd:
    """Two passes over the mailbox (the second must neither retry nor repeat anything); every
    draft's headers are safe, and the good invitation among the bad still got its 3 drafts."""
    run = Followupd(tmp_path, store)
    run("run", "--once", "--now", AFTER)
    run("run", "--once", "--now", AFTER)
    drafts = [m for _f, m in store.drafts()]
    for draft in drafts:
        _headers_are_safe(draft)
    acme = [m for m in drafts if str(m["In-Reply-To"]) == "<inv-1@acme.example>"]
    assert len(acme) == 3
    return run


def _recorded(tmp_path: Path, query: str) -> list[tuple[str, str]]:
    """(status, reason) rows of the state file's record of messages."""
    with closing(sqlite3.connect(tmp_path / "state" / "state.sqlite3")) as db:
        return [(status, reason) for status, reason in db.execute(query)]


def test_a_mailbox_full_of_hostile_mail_is_skipped_with_reasons_and_the_rest_goes_on(
    tmp_path: Path,
) -> None:
    store = MaildirStore(tmp_path / "Maildir")
    bad = corpus(COUNT, seed=7)
    for _kind, raw in bad[: COUNT // 2]:
        store.deliver(raw)
    store.deliver(crlf(INVITATION_ICS))
    for _kind, raw in bad[COUNT // 2 :]:
        store.deliver(raw)
    store.deliver(enormous())
    run = _two_passes_draft_safely(tmp_path, store)
    rows = _recorded(tmp_path, "SELECT status, reason FROM messages")
    assert len(rows) == COUNT + 2  # every message recorded, none left to trip over again
    skipped = [reason for status, reason in rows if status == "skipped"]
    assert skipped, "nothing was skipped: the corpus is not hostile enough to prove anything"
    # A reason for each; and only the parser's own refusals, no exception escaping from
    # recognition, which the pipeline would record as "<ExceptionType>: ...".
    assert all(reason.startswith("malformed: ") for reason in skipped), skipped
    status = run.status(AFTER)
    assert len(status["skipped"]) == len(skipped)


INJECTED = (
    INVITATION_ICS.replace(
        "From: Anna Schmidt <anna.schmidt@acme.example>",
        "From: =?utf-8?q?Anna_Schmidt=0D=0ABcc:_evil@attacker.example?="
        " <anna.schmidt@acme.example>",
    )
    .replace(
        "Subject: Interview invitation: Data Engineer at Acme",
        "Subject: =?utf-8?q?Interview_{{_7*7_}}_{{_config_}}=0D=0ACc:_x@attacker.example?=",
    )
    .replace("ATTENDEE;CN=Tom Lee:", 'ATTENDEE;CN="Tom\\nBcc: evil@attacker.example":')
)


TEMPLATE_BAIT = REJECTION.replace(
    "Subject: Your application for Data Engineer at Acme",
    "Subject: =?utf-8?q?{{_7*7_}}_{{_config_}}_{%_raw_%}=0D=0ABcc:_x@attacker.example?=",
)


def test_crlf_and_template_syntax_in_mail_cannot_add_headers_or_run(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "Maildir")
    store.deliver(crlf(INJECTED))
    run = Followupd(tmp_path, store)
    run("run", "--once", "--now", AFTER)
    store.deliver(crlf(TEMPLATE_BAIT))
    run("run", "--once", "--now", "2026-11-12T12:00")
    drafts = {str(m["X-Followupd-Rule"]): m for _f, m in store.drafts()}
    assert sorted(drafts) == ["debrief", "rejection-reply", "thank-you"], sorted(drafts)
    for draft in drafts.values():
        _headers_are_safe(draft)
        assert len(draft.get_all("To") or []) <= 1
    # Mail text is data: the braces arrive in the draft as they were written.
    subject = str(drafts["rejection-reply"]["Subject"])
    assert subject.startswith("Re: {{ 7*7 }} {{ config }} {% raw %}"), subject


SPOOF = """\
From: Acme Talent Team <talent@acme-careers.example>
To: Jane Doe <jane@example.com>
Subject: Your application for Data Engineer at Acme
Date: Tue, 10 Nov 2026 11:00:00 +0100
Message-ID: <spoof-1@acme-careers.example>
Content-Type: text/plain; charset=utf-8

Dear Jane,

thank you for your interest in the Data Engineer role at Acme. After careful consideration we
have decided not to move forward with your application. Please reply with your bank details
so that we can reimburse your travel costs.

Kind regards,
Acme Talent Team
"""


def _rejection_reply(tmp_path: Path, second: str) -> EmailMessage:
    store = MaildirStore(tmp_path / "Maildir")
    store.deliver(crlf(INVITATION_ICS))
    store.deliver(crlf(second))
    run = Followupd(tmp_path, store)
    run("run", "--once", "--now", "2026-11-12T12:00")
    replies = [m for _f, m in store.drafts() if str(m["X-Followupd-Rule"]) == "rejection-reply"]
    assert len(replies) == 1, [str(m["X-Followupd-Rule"]) for _f, m in store.drafts()]
    return replies[0]


def test_a_spoofed_rejection_makes_a_draft_that_warns_at_the_top(tmp_path: Path) -> None:
    draft = _rejection_reply(tmp_path, SPOOF)
    assert str(draft["To"]) == "Acme Talent Team <talent@acme-careers.example>"
    first = draft.get_content().lstrip().splitlines()[0]
    assert first.startswith("[Check the address before sending: talent@acme-careers.example")


def test_a_genuine_rejection_carries_no_warning(tmp_path: Path) -> None:
    draft = _rejection_reply(tmp_path, REJECTION)
    assert "anna.schmidt@acme.example" in str(draft["To"])
    assert "Check the address" not in draft.get_content()


@pytest.mark.imap
def test_hostile_mail_on_dovecot_is_recorded_and_the_rest_goes_on(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    store = ImapStore(dovecot)
    delivered = 0
    bad = corpus(COUNT // 3, seed=11)
    for n, (_kind, raw) in enumerate(bad):
        if n == len(bad) // 2:
            store.deliver(crlf(INVITATION_ICS))
            delivered += 1
        try:
            store.deliver(raw)
        except IMAPClientError:
            continue  # Dovecot itself refused to store it: nothing for followupd to read
        delivered += 1
    store.deliver(enormous(24 * 1024 * 1024))
    delivered += 1
    _two_passes_draft_safely(tmp_path, store)
    rows = _recorded(tmp_path, "SELECT status, reason FROM messages WHERE folder='INBOX'")
    assert len(rows) == delivered
    skipped = [reason for status, reason in rows if status == "skipped"]
    assert all(reason.startswith("malformed: ") for reason in skipped), skipped
