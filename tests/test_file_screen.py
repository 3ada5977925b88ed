"""Maildir first scans read each file's top first: what is handed over, what is ruled out.

Every labelled sample and corpus message sits in a Maildir beside ordinary mail; whatever
recognition calls job mail when it reads the whole file must be handed over whole, and
what the screen rules out must really be other mail.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from followupd.mailbox.base import Fetched, Screened
from followupd.mailbox.file_screen import TOP_BYTES, first_text
from followupd.mailbox.maildir import MaildirMailbox
from followupd.model import Kind
from tests.test_staged_fetch import (
    HOLIDAY_PHOTOS,
    INVITATION_WITH_PDF,
    NEWSLETTER,
    crlf,
    full_recognition,
    labelled_mail,
    screen,
)


def write_maildir(root: Path, raws: list[bytes]) -> dict[str, bytes]:
    """A Maildir holding `raws` in delivery order; {key: raw}."""
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    keys = {}
    for n, raw in enumerate(raws):
        key = f"{1_700_000_000 + n}.M{n}P1.test"
        (root / "cur" / f"{key}:2,S").write_bytes(raw)
        keys[key] = raw
    return keys


def scan(root: Path) -> list[Fetched | Screened]:
    return list(MaildirMailbox("test", root).fetch_screened("INBOX", 0, set(), screen()))


def late_calendar() -> bytes:
    """A list mail with a bland subject whose calendar part comes after a big attachment."""
    pdf = base64.encodebytes(b"%PDF" * 40_000).decode("ascii")
    return crlf(
        (
            "From: Club Events <events@example.org>\n"
            "To: Jane Doe <jane@example.com>\n"
            "Subject: Tuesday\n"
            "Message-ID: <late.cal@example.org>\n"
            "List-Id: <events.example.org>\n"
            "MIME-Version: 1.0\n"
            'Content-Type: multipart/mixed; boundary="b"\n\n'
            "--b\nContent-Type: text/plain\n\nSee attached.\n"
            '--b\nContent-Type: application/pdf; name="a.pdf"\n'
            "Content-Transfer-Encoding: base64\n\n"
            f"{pdf}"
            '--b\nContent-Type: text/calendar; method=REQUEST; name="invite.ics"\n\n'
            "BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\nSUMMARY:Interview\n"
            "END:VEVENT\nEND:VCALENDAR\n--b--\n"
        ).encode()
    )


def test_job_mail_is_handed_over_whole(tmp_path: Path) -> None:
    raws = [crlf(p.read_bytes()) for p in labelled_mail()]
    raws += [NEWSLETTER, INVITATION_WITH_PDF, HOLIDAY_PHOTOS]
    stored = write_maildir(tmp_path, raws)
    items = scan(tmp_path)
    assert sorted(i.key for i in items) == sorted(stored)
    for item in items:
        expected = full_recognition(stored[item.key])
        if isinstance(item, Fetched):
            assert item.raw == stored[item.key]
        else:
            assert expected.kind == Kind.OTHER, (item.key, item.reason, expected)
    screened = {i.message_id: i.reason for i in items if isinstance(i, Screened)}
    assert screened["news.1@museum.example"] == "list mail without job words"
    assert "att.1@example.org" in screened  # holiday photos: no job phrase near the top
    assert "att.2@example.org" not in screened


def test_a_calendar_part_after_a_big_attachment_is_noticed(tmp_path: Path) -> None:
    raw = late_calendar()
    assert len(raw) > TOP_BYTES and raw.find(b"text/calendar") > TOP_BYTES
    write_maildir(tmp_path, [raw])
    [item] = scan(tmp_path)
    assert isinstance(item, Fetched) and item.raw == raw


def test_a_header_longer_than_the_top_is_left_to_the_parser(tmp_path: Path) -> None:
    filler = "".join(f"X-Filler-{n}: {'y' * 60}\r\n" for n in range(TOP_BYTES // 70 + 10))
    raw = f"From: a@example.org\r\n{filler}Subject: hi\r\n\r\nHello\r\n".encode()
    write_maildir(tmp_path, [raw])
    [item] = scan(tmp_path)
    assert isinstance(item, Fetched)


def test_known_keys_are_skipped(tmp_path: Path) -> None:
    stored = write_maildir(tmp_path, [NEWSLETTER, INVITATION_WITH_PDF])
    first = sorted(stored)[0]
    items = list(MaildirMailbox("t", tmp_path).fetch_screened("INBOX", 0, {first}, screen()))
    assert [i.key for i in items] == sorted(stored)[1:]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"Subject: x\n\nPlain body\n", "Plain body\n"),
        (
            b'Content-Type: multipart/alternative; boundary="b"\n\n--b\n'
            b"Content-Type: text/html\n\n<p>Rich <b>body</b></p>\n--b\n"
            b"Content-Type: text/plain\n\nPlain body\n--b--\n",
            "Plain body",
        ),
        (
            b"Content-Type: text/html\n\n<style>p {color: red}</style><p>Only &amp; HTML</p>\n",
            "Only & HTML",
        ),
        (
            b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
            + base64.encodebytes("Grüße aus Köln\n".encode()),
            "Grüße aus Köln",
        ),
        (
            b'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
            b'Content-Type: text/plain; name="notes.txt"\n\nAttached notes\n--b\n'
            b"Content-Type: text/html\n\n<p>The message</p>\n--b--\n",
            "The message",
        ),
    ],
    ids=["single-part", "plain-preferred", "html-only", "base64", "attached-text-skipped"],
)
def test_first_text_is_the_part_the_parser_reads(raw: bytes, expected: str) -> None:
    text = first_text(raw)
    assert text is not None and expected in text
    assert "Attached notes" not in text and "Rich" not in text


def test_a_message_without_text_has_no_first_text() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: image/png\n\nxx\n--b--\n"
    )
    assert first_text(raw) is None
