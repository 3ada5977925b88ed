"""Raw RFC 5322 bytes → `ParsedMessage`: headers, addresses, plain text, calendar parts.

mail-parser does the MIME walking, address parsing and charset handling; the stdlib
`email` package covers what it leaves out (Date with a zone, calendar parts, raw header
values); `followupd.parse_ics` turns calendar parts into `CalendarPart` records.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import html2text
import mailparser
from dateutil import parser as dateparser

from followupd.model import Address, CalendarPart, ParsedMessage
from followupd.parse_ics import MAX_CALENDAR_BYTES, parse_calendar

# mail-parser logs a warning for every part type it does not render (text/calendar among
# them); those are expected here and would drown the daemon's own log.
logging.getLogger("mailparser").setLevel(logging.ERROR)

MAX_RAW_BYTES = 16 * 1024 * 1024
MAX_TEXT_CHARS = 1024 * 1024
MAX_HEADER_CHARS = 4000
MAX_DEFECTS = 50
MAX_PARTS = 500
MAX_REFERENCES = 100

TRIAGE_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-autoreply",
    "x-autorespond",
    "x-failed-recipients",
    "content-type",
    "return-path",
)
# Any one of these makes bytes look like a mail message rather than random data.
_KNOWN_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "received",
        "mime-version",
        "content-type",
        "return-path",
        "delivered-to",
        "sender",
        "reply-to",
        "in-reply-to",
        "references",
    }
)
_ANGLE_ID = re.compile(r"<([^<>\s]{1,995})>")
_WS = re.compile(r"\s+")
_ZONE_ABBREVIATIONS = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "CET": 3600,
    "CEST": 7200,
    "BST": 3600,
    "EST": -5 * 3600,
    "EDT": -4 * 3600,
    "CST": -6 * 3600,
    "CDT": -5 * 3600,
    "PST": -8 * 3600,
    "PDT": -7 * 3600,
}


class MalformedMessage(ValueError):
    """The bytes cannot be read as a mail message at all; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_message(raw: bytes, *, default_tz: ZoneInfo) -> ParsedMessage:
    """Parse one raw message.

    Floating and all-day calendar times are read in `default_tz`. Whatever can be read is
    returned, with problems listed in `defects`; only input that is not a message at all
    raises `MalformedMessage` (never any other exception).
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MalformedMessage(f"expected bytes, got {type(raw).__name__}")
    data = bytes(raw)
    if not data.strip():
        raise MalformedMessage("empty message")
    try:
        return _parse(data, default_tz)
    except MalformedMessage:
        raise
    except RecursionError as exc:
        raise MalformedMessage("MIME structure nested too deeply") from exc
    except Exception as exc:
        # Invariant 5 (bad input never stops the daemon) outweighs a precise exception type.
        raise MalformedMessage(f"unreadable message ({type(exc).__name__}: {exc})") from exc


def synthesise_message_id(raw: bytes) -> str:
    """A stable Message-ID for a message that has none: the same bytes give the same id."""
    return f"{hashlib.sha256(raw).hexdigest()[:32]}@followupd.invalid"


def _parse(data: bytes, default_tz: ZoneInfo) -> ParsedMessage:
    defects: list[str] = []
    full = data
    if len(data) > MAX_RAW_BYTES:
        data = data[:MAX_RAW_BYTES]
        defects.append(f"message truncated to {MAX_RAW_BYTES} bytes for parsing")
    try:
        mail = mailparser.parse_from_bytes(data)
    except Exception as exc:
        raise MalformedMessage(f"MIME parser failed ({type(exc).__name__}: {exc})") from exc
    msg: Message = mail.message
    if msg is None or not any(k.lower() in _KNOWN_HEADERS for k in msg):
        raise MalformedMessage("no mail headers found")
    defects.extend(_mailparser_defects(mail.defects))
    raw_headers = _raw_headers(msg)

    message_id = _first_id(_decode(raw_headers.get("message-id")))
    if message_id is None:
        message_id = synthesise_message_id(full)
        defects.append("no Message-ID; synthesised from the content hash")

    text, text_defects = _body_text(mail)
    defects.extend(text_defects)
    calendar, cal_defects = _calendar_parts(msg, default_tz)
    defects.extend(cal_defects)
    date = _date(_decode(raw_headers.get("date")), defects)
    senders = _addresses(mail.from_)

    return ParsedMessage(
        message_id=message_id,
        subject=_decode(raw_headers.get("subject")) or "",
        date=date,
        sender=senders[0] if senders else None,
        reply_to=_addresses(mail.reply_to),
        to=_addresses(mail.to),
        cc=_addresses(mail.cc),
        in_reply_to=_first_id(_decode(raw_headers.get("in-reply-to"))),
        references=_ids(_decode(raw_headers.get("references"))),
        headers=_triage_headers(raw_headers),
        text=text,
        calendar=calendar,
        defects=tuple(defects[:MAX_DEFECTS]),
    )


def _raw_headers(msg: Message) -> dict[str, str]:
    """The first occurrence of each header this module reads, undecoded."""
    wanted = {"subject", "date", "message-id", "in-reply-to", "references", *TRIAGE_HEADERS}
    found: dict[str, str] = {}
    for key, value in msg.raw_items():
        name = key.lower()
        if name in wanted and name not in found:
            found[name] = str(value)[:MAX_HEADER_CHARS]
    return found


def _decode(raw: str | None) -> str | None:
    """RFC 2047 words decoded; raw 8-bit bytes read as UTF-8 (or Windows-1252)."""
    if raw is None:
        return None
    return _WS.sub(" ", decode_words(_undo_surrogates(raw))).strip()


def decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded; anything undecodable is kept as written."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError, TypeError, AssertionError, MessageError):
        return value  # e.g. a charset name that is not ASCII (CharsetError)


def _undo_surrogates(text: str) -> str:
    # The stdlib keeps undecodable header bytes as lone surrogates; recover the bytes.
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _triage_headers(raw: dict[str, str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name in TRIAGE_HEADERS:
        value = _decode(raw.get(name))
        if value is not None:
            headers[name] = value
    return headers


def _first_id(value: str | None) -> str | None:
    if not value:
        return None
    match = _ANGLE_ID.search(value)
    if match:
        return match.group(1)
    token = value.strip().strip("<>").split()
    return token[0][:995] if token else None


def _ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    ids = _ANGLE_ID.findall(value) or [t.strip("<>") for t in re.split(r"[\s,]+", value)]
    return tuple(i for i in ids if i)[-MAX_REFERENCES:]


def _addresses(pairs: Any) -> tuple[Address, ...]:
    """mail-parser's [(name, email), ...] → Address records, skipping empty entries."""
    result: list[Address] = []
    if not isinstance(pairs, list):
        return ()
    for pair in pairs[:200]:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            continue
        name, email = (str(pair[0] or "").strip().strip('"'), str(pair[1] or "").strip())
        if email:
            result.append(Address(_WS.sub(" ", name), email))
    return tuple(result)


def _date(value: str | None, defects: list[str]) -> datetime | None:
    if not value:
        defects.append("no Date header")
        return None
    parsed: datetime | None
    try:
        parsed = parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError, OverflowError):
        parsed = None
    if parsed is None:
        try:
            parsed = dateparser.parse(value, tzinfos=_ZONE_ABBREVIATIONS)
        except (ValueError, OverflowError, TypeError):
            defects.append(f"unparseable Date header: {value[:80]!r}")
            return None
        defects.append(f"Date header is not RFC 5322: {value[:80]!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        defects.append("Date header has no time zone; read as UTC")
        parsed = parsed.replace(tzinfo=UTC)
    if not 1970 <= parsed.year <= 2200:
        defects.append(f"implausible Date header: {value[:80]!r}")
        return None
    return parsed


def _body_text(mail: Any) -> tuple[str, list[str]]:
    defects: list[str] = []
    plain = [p for p in mail.text_plain if isinstance(p, str) and p.strip()]
    if plain:
        text = "\n\n".join(plain)
    else:
        html = "\n".join(p for p in mail.text_html if isinstance(p, str))
        if len(html) > MAX_TEXT_CHARS:
            html = html[:MAX_TEXT_CHARS]
            defects.append(f"HTML body truncated to {MAX_TEXT_CHARS} characters")
        text = _html_to_text(html) if html.strip() else ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        defects.append(f"text truncated to {MAX_TEXT_CHARS} characters")
    return text, defects


_CELL_END = re.compile(r"</t[dh]\s*>", re.I)


def _html_to_text(html: str) -> str:
    # Without table markup html2text runs cells together ("Time09:30"); keep them apart.
    html = _CELL_END.sub(lambda m: " " + m.group(0), html)
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.unicode_snob = True
    return str(converter.handle(html))


def _calendar_parts(
    msg: Message, default_tz: ZoneInfo
) -> tuple[tuple[CalendarPart, ...], list[str]]:
    """Every text/calendar part and .ics attachment; identical events are kept once."""
    events: list[CalendarPart] = []
    defects: list[str] = []
    for index, part in enumerate(msg.walk()):
        if index >= MAX_PARTS:
            defects.append(f"more than {MAX_PARTS} MIME parts; the rest were not examined")
            break
        if part.is_multipart() or not _is_calendar(part):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload.strip():
            continue
        if len(payload) > MAX_CALENDAR_BYTES:
            defects.append(f"calendar part {index} larger than {MAX_CALENDAR_BYTES} bytes skipped")
            continue
        method = part.get_param("method")
        parsed, part_defects = parse_calendar(
            payload,
            charset=part.get_content_charset() or "utf-8",
            method=method if isinstance(method, str) else None,
            default_tz=default_tz,
        )
        defects.extend(f"calendar part {index}: {d}" for d in part_defects)
        events.extend(e for e in parsed if e not in events)
    return tuple(events), defects


def _is_calendar(part: Message) -> bool:
    ctype = part.get_content_type()
    if ctype in ("text/calendar", "application/ics", "text/x-vcalendar"):
        return True
    try:
        filename = part.get_filename() or ""
    except (LookupError, UnicodeError, ValueError, TypeError):
        return False
    return str(filename).lower().strip().endswith(".ics")


def _mailparser_defects(found: Any) -> list[str]:
    """Flatten mail-parser's [{part: [defect, ...]}, ...] into short strings."""
    result: list[str] = []
    if not isinstance(found, list):
        return result
    for entry in found:
        if not isinstance(entry, dict):
            continue
        for where, items in entry.items():
            for item in items if isinstance(items, list) else [items]:
                result.append(f"{where}: {str(item)[:200]}")
    return result[:MAX_DEFECTS]
