"""Screen a message stored as a file (Maildir) from its first bytes, before reading it all.

The same `Screen` the staged IMAP fetch uses decides, from the header fields and, for
mail that looks personal, from the top of the first text part. Only mail it passes is
read whole and parsed; everything else is recorded from the first `TOP_BYTES`, which is
where a file keeps its header and, nearly always, the start of its text.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from followupd.prefilter import PROBE_BYTES, Judgement, Screen, Verdict, header_fields, probe_text

# Read from every file: the header and the start of the body.
TOP_BYTES = 32 * 1024
# How much of the body the parser sees when it looks for the first text part.
_TEXT_WINDOW = 8 * 1024
# How much of a part header is looked at for a calendar content type or file name.
_PART_HEADER = 1024
# Multiparts nested deeper than this are not looked into (hostile mail nests thousands).
_MAX_DEPTH = 8
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
# What names a calendar part (content type or file name), in lower-cased bytes.
_CALENDAR_WORDS = (b"calendar", b"/ics", b".ics")


@dataclass(frozen=True)
class Top:
    """The first bytes of a message file and whether they are the whole file."""

    data: bytes
    complete: bool


def judge_top(top: Top, screen: Screen, calendar: bool) -> tuple[Judgement, dict[str, str]]:
    """The screen's verdict on a message from its first bytes (JOB or NOT, never PROBE).

    `calendar` says whether a part of the file names a calendar (see `has_calendar`).
    """
    end = _BLANK_LINE.search(top.data)
    if end is None and not top.complete:
        return Judgement(Verdict.JOB, f"a header longer than {TOP_BYTES} bytes"), {}
    head = top.data[: end.start()] if end else top.data
    fields = header_fields(head)
    calendar = calendar or _names_calendar(fields.get("content-type", ""))
    judgement = screen.judge(fields, calendar)
    if judgement.verdict is not Verdict.PROBE:
        return judgement, fields
    window = top.data[: (end.end() if end else len(top.data)) + _TEXT_WINDOW]
    text = first_text(window)
    if text is None and len(window) < len(top.data):
        text = first_text(top.data)  # a long first part hid the text part
    if text is None:
        return Judgement(Verdict.NOT, "no text part"), fields
    if screen.probe(fields, text):
        return Judgement(Verdict.JOB, "job phrase near the top"), fields
    return Judgement(Verdict.NOT, "no job phrase near the top"), fields


def has_calendar(top: Top, fileno: int | None) -> bool:
    """Whether a part header names a calendar; `fileno` opens the rest of a big file.

    Part headers follow boundary lines, and a boundary line starts with "--", which base64
    never contains: one C-speed search over the file finds them all, and only the few
    hundred bytes after each are looked at. A chance hit only means the message is read.
    """
    if top.complete or fileno is None:
        return _part_names_calendar(top.data)
    with mmap.mmap(fileno, 0, access=mmap.ACCESS_READ) as whole:
        return _part_names_calendar(whole)


def _part_names_calendar(data: bytes | mmap.mmap) -> bool:
    at = data.find(b"\n--")
    while at >= 0:
        head = bytes(data[at : at + _PART_HEADER]).lower()
        end = _BLANK_LINE.search(head)
        if any(word in head[: end.start() if end else None] for word in _CALENDAR_WORDS):
            return True
        at = data.find(b"\n--", at + 3)
    return False


def _names_calendar(content_type: str) -> bool:
    lower = content_type.lower().encode("utf-8", "replace")
    return any(word in lower for word in _CALENDAR_WORDS)


def first_text(data: bytes) -> str | None:
    """The readable start of the part a parser takes the text from: first plain, else HTML.

    `data` may stop in the middle of the message; what is there is enough for the top.
    Only MIME boundaries and part headers are read, with C-speed splits: running the full
    email parser over every personal-looking message cost more than the rest of the scan.
    """
    plain: tuple[Message, bytes] | None = None
    html: tuple[Message, bytes] | None = None
    for part, body in _leaves(data, 0):
        if _attached(part):
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = (part, body)
            break
        if ctype == "text/html" and html is None:
            html = (part, body)
    chosen = plain or html
    if chosen is None:
        return None
    part, body = chosen
    return probe_text(
        body[:PROBE_BYTES],
        part.get("content-transfer-encoding", ""),
        part.get_content_charset() or "",
        chosen is html,
    )


def _leaves(data: bytes, depth: int) -> Iterator[tuple[Message, bytes]]:
    """(the part's MIME header, its body) for each non-multipart part, in order."""
    end = _BLANK_LINE.search(data)
    if data.startswith((b"\r\n", b"\n")):
        head, body = b"", data.lstrip(b"\r").removeprefix(b"\n")
    elif end is None:
        head, body = data, b""
    else:
        head, body = data[: end.start()], data[end.end() :]
    part = _mime_header(header_fields(head))
    if part.get_content_maintype() != "multipart":
        yield part, body
        return
    boundary = part.get_boundary()
    if not boundary or depth >= _MAX_DEPTH:
        return
    delimiter = b"\n--" + boundary.encode("utf-8", "replace")
    for piece in (b"\n" + body).split(delimiter)[1:]:
        if piece.startswith(b"--"):
            return  # the closing delimiter
        _rest_of_line, _newline, inner = piece.partition(b"\n")
        yield from _leaves(inner, depth + 1)


def _mime_header(fields: dict[str, str]) -> Message:
    """A header-only Message carrying the MIME fields, for the email package's parameter parsing."""
    part = Message()
    for name in ("content-type", "content-disposition", "content-transfer-encoding"):
        if name in fields:
            part[name] = fields[name]
    return part


def _attached(part: Message) -> bool:
    return part.get_filename() is not None or part.get_content_disposition() == "attachment"
