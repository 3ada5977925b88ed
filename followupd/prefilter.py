"""Decide from a few header fields (and perhaps the top of the text) whether mail could matter.

A first scan reads mailboxes where job mail is a few hundred messages among tens of
thousands. Fetching and parsing all of them is what made a scan slow, so backends that can
fetch in stages ask a `Screen` first:

- JOB: read the message's text and calendar parts and recognise it as usual. Mail in a
  thread followupd already tracks, mail with a calendar part, mail whose subject or
  sender names a job word, a kind's subject phrase or an applicant tracking system, and
  anything without the usual header fields (the parser then tells what is wrong with it).
- NOT: not job mail; record it without reading further. Bounces and auto-replies (the
  classifier rules these out from the same headers), and list mail (List-Id,
  List-Unsubscribe, Precedence: bulk) whose headers carry no job word.
- PROBE: look at the top of the text first (`Screen.probe`); only mail where some kind's
  phrase appears there is read in full. Without a kind phrase the classifier cannot
  name a kind, so nothing the classifier would find is skipped within what is examined.

Sent mail only matters in a tracked thread or as a draft followupd wrote, which headers show.
"""

from __future__ import annotations

import binascii
import enum
import html
import quopri
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from followupd.parse import decode_words
from followupd.phrasebook import PhraseBook, PhraseSet
from followupd.recognise_text import flatten, normalise

# The header fields the screen reads; fetched for every message, so kept few.
FIELDS = (
    "FROM",
    "SUBJECT",
    "MESSAGE-ID",
    "IN-REPLY-TO",
    "REFERENCES",
    "CONTENT-TYPE",
    "AUTO-SUBMITTED",
    "PRECEDENCE",
    "LIST-ID",
    "LIST-UNSUBSCRIBE",
    "X-AUTOREPLY",
    "X-AUTORESPOND",
    "X-FAILED-RECIPIENTS",
)
# How much of the first text part a probe reads. Job mail says what it is near the top.
PROBE_BYTES = 4 * 1024
_ANGLE_ID = re.compile(r"<([^<>\s]{1,995})>")
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w.-]+")
_TAG = re.compile(r"<(?:style|script)\b.*?</(?:style|script)\s*>|<[^>]*>", re.I | re.S)


class Verdict(enum.Enum):
    JOB = "job"
    NOT = "not"
    PROBE = "probe"


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str


# Messages without any of these are perhaps not messages at all.
_USUAL = frozenset({"from", "subject", "message-id", "content-type"})
# The usual verdicts, made once: one is given for nearly every message of a scan.
_UNUSUAL = Judgement(Verdict.JOB, "no usual header fields")
_THREADED = Judgement(Verdict.JOB, "in a tracked thread")
_OURS = Judgement(Verdict.JOB, "a draft followupd wrote")
_SENT = Judgement(Verdict.NOT, "sent mail outside tracked threads")
_CALENDAR = Judgement(Verdict.JOB, "has a calendar part")
_JOB_WORDS = Judgement(Verdict.JOB, "job words in the subject or sender")
_LIST_MAIL = Judgement(Verdict.NOT, "list mail without job words")
_PROBE = Judgement(Verdict.PROBE, "")


def header_fields(block: bytes) -> dict[str, str]:
    """A header block → {lower-case name: unfolded value} (first occurrence wins)."""
    fields: dict[str, str] = {}
    name = ""
    for line in block.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        if line[0] in " \t" and name:
            if name in fields:
                fields[name] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        name = key.strip().lower() if sep else ""
        if name and name not in fields:
            fields[name] = value.strip()
        elif name:
            name = ""  # a repeated field: keep the first one whole
    return fields


def message_id(fields: Mapping[str, str]) -> str:
    """The Message-ID without angle brackets, or "" when there is none."""
    value = fields.get("message-id", "")
    match = _ANGLE_ID.search(value)
    return match.group(1) if match else value.strip().strip("<>")


def thread_ids(fields: Mapping[str, str]) -> list[str]:
    """The ids of In-Reply-To and References."""
    ids: list[str] = []
    for name in ("in-reply-to", "references"):
        value = fields.get(name)
        if value:  # most mail answers nothing: no search
            ids += _ANGLE_ID.findall(value)
    return ids


class Screen:
    """Judges messages for one folder direction ("in" or "out"); see the module docstring.

    `threaded` says whether any of the ids belongs to a tracked application's thread;
    `ours` whether a Message-ID is one of followupd's drafts.
    """

    def __init__(
        self,
        book: PhraseBook,
        direction: str,
        threaded: Callable[[list[str]], bool],
        ours: Callable[[str], bool],
    ) -> None:
        self.book = book
        self.direction = direction
        self.threaded = threaded
        self.ours = ours
        # Job mail passed earlier in this scan: a reply to it in the same batch is not yet in
        # the tracker's threads, but belongs to the thread all the same.
        self._passed: set[str] = set()
        # Whether a sender's domain is an applicant tracking system's: most mail comes from
        # a few domains.
        self._ats: dict[str, bool] = {}
        self._subject = _Phrases(book.kind_subject_phrases)
        self._body = _Phrases(book.kind_body_phrases)
        self._terms = _Phrases(book.job_term_phrases)

    def judge(self, fields: Mapping[str, str], calendar: bool) -> Judgement:
        """The verdict on a message from its header fields and whether it has a calendar part."""
        judgement = self._judge(fields, calendar)
        if judgement.verdict is Verdict.JOB:
            self._passed.add(message_id(fields))
        return judgement

    def _judge(self, fields: Mapping[str, str], calendar: bool) -> Judgement:
        if fields.keys().isdisjoint(_USUAL):
            # Perhaps not a message at all: the parser decides, and reports it as skipped.
            return _UNUSUAL
        if self.joins_thread(fields):
            return _THREADED
        if self.direction != "in":
            if self.ours(message_id(fields)):
                return _OURS
            return _SENT
        if calendar:
            return _CALENDAR
        raw_sender = fields.get("from", "")
        address = _ADDRESS.search(raw_sender)
        machine = _bounce_or_auto_reply(fields, address)
        if machine:
            return Judgement(Verdict.NOT, machine)
        subject = flatten(normalise(decode_words(fields.get("subject", ""))))
        sender = decode_words(raw_sender)
        if sender != raw_sender:
            address = _ADDRESS.search(sender)
        if self._job_words(subject, sender, address):
            return _JOB_WORDS
        if _is_list_mail(fields):
            return _LIST_MAIL
        return _PROBE

    def joins_thread(self, fields: Mapping[str, str]) -> bool:
        """Whether the message answers a tracked thread or mail passed earlier in this scan.

        Asked again just before a screened-out message is handed over, as the job mail
        before it in the same batch is recorded meanwhile.
        """
        refs = thread_ids(fields)
        return bool(refs) and bool(self._passed.intersection(refs) or self.threaded(refs))

    def probe(self, fields: Mapping[str, str], text: str) -> bool:
        """True when some kind's phrase occurs in `text` (the top of the body).

        For messages `judge` sent to PROBE, so their subjects hold no kind's phrase.
        """
        hit = self._body.any_hit(flatten(normalise(text)))
        if hit:
            self._passed.add(message_id(fields))
        return hit

    def _job_words(self, subject: str, sender: str, address: re.Match[str] | None) -> bool:
        """`address`: the first address in `sender`."""
        domain = address.group(0).rpartition("@")[2].lower().strip(".") if address else ""
        ats = self._ats.get(domain)
        if ats is None:
            ats = self._ats[domain] = self.book.is_ats(domain)
        if ats:
            return True
        if self._subject.any_hit(subject):
            return True
        name = _ADDRESS.sub(" ", sender) if address else sender
        return self._terms.any_hit(subject) or self._terms.any_hit(name)


def probe_text(data: bytes, encoding: str, charset: str, html_part: bool) -> str:
    """The readable text of the start of a body part (transfer encoding undone)."""
    encoding = encoding.lower()
    if encoding in ("base64", "quoted-printable") and len(data) >= PROBE_BYTES:
        data = data[: data.rfind(b"\n") + 1] or data  # drop a half-fetched line
    if encoding == "base64":
        compact = b"".join(data.split())
        try:
            data = binascii.a2b_base64(compact[: len(compact) // 4 * 4])
        except binascii.Error:
            data = b""
    elif encoding == "quoted-printable":
        data = quopri.decodestring(data)
    try:
        text = data.decode(charset or "utf-8", "replace")
    except LookupError:
        text = data.decode("utf-8", "replace")
    if html_part:
        text = html.unescape(_TAG.sub(" ", text))
    return text


class _Phrases:
    """Phrases with an index of their required strings, to test a text against all at once."""

    def __init__(self, phrases: PhraseSet) -> None:
        self.phrases = phrases
        self.index = phrases.lookup

    def any_hit(self, text: str) -> bool:
        """Whether any phrase occurs in `text`.

        A pattern whose matches are bounded (`reach`) is only run near the places where
        its rarest required string occurs: some patterns (dates) are slow to try at every
        position of a long text.
        """
        if not text:
            return False
        for i, starts in self.index.where(text):
            regex, span = self.phrases[i].regex, self.phrases[i].reach
            if starts is None or span is None:
                if regex.search(text):
                    return True
            elif any(regex.search(text, lo, hi) for lo, hi in _windows(starts, span, len(text))):
                return True
        return False


def _windows(starts: list[int], span: tuple[int, int], size: int) -> list[tuple[int, int]]:
    """Merged (start, end) ranges around each offset wide enough for any match there.

    `span`: how far a match reaches before and after the offset (`literals.analyse`),
    including what its look-aheads read past its end. Nothing is added before: a search
    from `pos` still sees the text before it (for look-behinds and word boundaries), while
    `endpos` cuts the text short.
    """
    before, after = span
    ranges: list[tuple[int, int]] = []
    for start in sorted(starts):
        lo, hi = max(0, start - before), min(size, start + after)
        if ranges and lo <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))
    return ranges


def _bounce_or_auto_reply(fields: Mapping[str, str], sender: re.Match[str] | None) -> str:
    """The classifier's header verdicts (always "not job mail"), as a reason; "" if none.

    `sender`: the first address in From.
    """
    if fields.get("auto-submitted", "").strip().lower().startswith("auto-replied"):
        return "auto-reply (Auto-Submitted)"
    if "x-autoreply" in fields or "x-autorespond" in fields:
        return "auto-reply (X-Autoreply)"
    ctype = fields.get("content-type", "").lower()
    if ctype.startswith("multipart/report") and "delivery-status" in ctype:
        return "delivery report"
    if "x-failed-recipients" in fields:
        return "delivery report (X-Failed-Recipients)"
    local = sender.group(0).split("@")[0].lower() if sender else ""
    if local in ("mailer-daemon", "postmaster"):
        return f"delivery report ({local})"
    return ""


def _is_list_mail(fields: Mapping[str, str]) -> bool:
    precedence = fields.get("precedence", "").strip().lower()
    return (
        precedence in ("bulk", "list", "junk")
        or "list-id" in fields
        or ("list-unsubscribe" in fields)
    )
