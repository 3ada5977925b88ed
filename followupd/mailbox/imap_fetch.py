"""Staged IMAP fetch: headers and structure for every message, text only for candidates.

1. For a batch of UIDs: BODYSTRUCTURE and a few header fields (`prefilter.FIELDS`); the
   `Screen` judges each message from those. The parts' sizes come from the structure, so
   the whole size (RFC822.SIZE) is not asked for. A structure that cannot be read (a
   broken server) is taken as one part, the message's whole text.
2. For messages the screen wants to probe: the first `PROBE_BYTES` of the first text part.
3. For candidates: the header, the text parts (at most `TEXT_LIMIT` bytes each) and the
   calendar parts, put back together as one MIME message for the usual parser. Other
   attachments are never fetched. Candidates whose structures ask for the same sections
   share one FETCH, up to `CANDIDATE_BYTES` held at a time.

Every body item is a BODY.PEEK, so nothing is marked \\Seen (the folder is also EXAMINEd).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol

from followupd.mailbox.base import Fetched, Screened
from followupd.mailbox.imap_wire import Request, Ticket
from followupd.parse_ics import MAX_CALENDAR_BYTES
from followupd.prefilter import (
    FIELDS,
    PROBE_BYTES,
    Screen,
    Verdict,
    header_fields,
    message_id,
    probe_text,
)

STAGE_BATCH = 500
# Per text part of a candidate; recognition reads 64,000 characters of text at most.
TEXT_LIMIT = 256 * 1024
# Candidates' bodies held at once: the kept parts as the body structure sizes them, and
# an allowance for each header, which it does not size.
CANDIDATE_BYTES = 16 * 1024 * 1024
HEADER_ALLOWANCE = 16 * 1024
HEADER_ITEM = b"BODY.PEEK[HEADER.FIELDS (" + " ".join(FIELDS).encode() + b")]"
# How servers name it in the answer, as a rule (without .PEEK).
_HEADER_KEY = HEADER_ITEM.replace(b".PEEK", b"", 1)
_CALENDAR_TYPES = frozenset({"text/calendar", "application/ics", "text/x-vcalendar"})

# fetch([(uids, items), ...]) -> imapclient's {uid: {item: value}} for all the requests,
# which go out together: one round trip.
Fetch = Callable[[Sequence[Request]], dict[int, dict[bytes, Any]]]
FIRST_STAGE = (b"BODYSTRUCTURE", HEADER_ITEM)

log = logging.getLogger(__name__)


class Stages(Protocol):
    """FETCH commands sent now and collected later (`imap_wire.Pipeline`)."""

    def send(self, requests: Sequence[Request]) -> Ticket:
        """Send the requests' commands without waiting for their answers."""

    def collect(self, ticket: Ticket) -> dict[int, dict[bytes, Any]]:
        """The answers to a ticket sent earlier, by UID."""


class Leaf(NamedTuple):
    """A body part that is not multipart (message/rfc822 counts as one, kept whole).

    A named tuple, as Multipart: a scan makes one or more for every message, and a tuple
    is made several times faster than a frozen dataclass.
    """

    section: str
    ctype: str
    params: dict[str, str]
    encoding: str
    size: int
    attachment: bool  # has a file name or Content-Disposition: attachment

    @property
    def calendar(self) -> bool:
        name = self.params.get("name", "").lower()
        return self.ctype in _CALENDAR_TYPES or name.endswith(".ics")

    @property
    def text(self) -> bool:
        return self.ctype in ("text/plain", "text/html") and not self.attachment

    @property
    def kept(self) -> bool:
        """Fetched for a candidate: text, calendars, and small attached messages."""
        if self.calendar:
            return self.size <= 2 * MAX_CALENDAR_BYTES  # base64 is a third larger
        if self.ctype.startswith("message/"):
            return self.size <= TEXT_LIMIT
        return self.text


class Multipart(NamedTuple):
    section: str  # "" for the message itself
    boundary: str
    children: tuple[Leaf | Multipart, ...]


def structure(data: Any, section: str = "") -> Leaf | Multipart:
    """imapclient's BODYSTRUCTURE value → a tree of Leaf and Multipart with IMAP sections."""
    if isinstance(data[0], list):
        children = tuple(
            structure(child, f"{section}.{i}" if section else str(i))
            for i, child in enumerate(data[0], 1)
        )
        params = _pairs(data[2]) if len(data) > 2 else {}
        return Multipart(section, params.get("boundary", ""), children)
    ctype = f"{_text(data[0])}/{_text(data[1])}".lower()
    params = _pairs(data[2])
    # Extension data follows the basic fields; text parts carry a line count, attached
    # messages an envelope, a body structure and a line count first (RFC 3501 7.4.2).
    extra = 8 if ctype.startswith("text/") else 10 if ctype == "message/rfc822" else 7
    disposition = data[extra + 1] if len(data) > extra + 1 else None
    kind, dparams = "", {}
    if isinstance(disposition, tuple) and disposition:
        kind = _text(disposition[0]).lower()
        dparams = _pairs(disposition[1]) if len(disposition) > 1 else {}
    filename = dparams.get("filename") or params.get("name")
    if "filename" in dparams:
        params = {**params, "name": dparams["filename"]}
    return Leaf(
        section or "1",
        ctype,
        params,
        _text(data[5]).lower(),
        int(data[6] or 0),
        bool(filename) or kind == "attachment",
    )


def _structure_or_text(folder: str, uid: int, data: Any) -> Leaf | Multipart:
    """The message's structure; where the server's cannot be read, its whole text as one
    part (up to TEXT_LIMIT), so that the parser judges the message instead of the scan
    stopping at it."""
    try:
        return structure(data)
    except (IndexError, TypeError, ValueError, RecursionError) as exc:
        log.warning(
            "%s %d: the server's BODYSTRUCTURE cannot be read (%r): reading the text as a whole",
            folder,
            uid,
            exc,
        )
        return Leaf("TEXT", "text/plain", {}, "7bit", TEXT_LIMIT, attachment=False)


def leaves(node: Leaf | Multipart) -> list[Leaf]:
    """Every leaf, in order."""
    if isinstance(node, Leaf):
        return [node]
    found: list[Leaf] = []
    for child in node.children:
        found += leaves(child)
    return found


def _has_calendar(node: Leaf | Multipart) -> bool:
    if isinstance(node, Leaf):  # most mail: no list of one
        return node.calendar
    return any(leaf.calendar for leaf in leaves(node))


def probe_leaf(node: Leaf | Multipart) -> Leaf | None:
    """The part the parser takes the text from: the first plain text part, else HTML."""
    texts = [leaf for leaf in leaves(node) if leaf.text]
    plain = [leaf for leaf in texts if leaf.ctype == "text/plain"]
    chosen = plain or texts
    return chosen[0] if chosen else None


def staged_fetch(
    stages: Stages, folder: str, uids: Sequence[int], screen: Screen, *, batch: int = STAGE_BATCH
) -> Iterator[Fetched | Screened]:
    """Fetch `uids` in stages (see the module docstring), `batch` at a time, in UID order.

    The next batch's first stage is sent as soon as this batch's has been read, so the
    server works on it while this batch is judged and handed over (a worker process reading
    the candidates makes the hand-over too short to hide it behind; probes sent after it
    wait for it, but this batch's judging hides most of that). While this generator is
    suspended a command may be in flight: the caller must not use the connection until
    it is exhausted or closed (closing reads the answer, so the connection stays usable).
    """

    def fetch(requests: Sequence[Request]) -> dict[int, dict[bytes, Any]]:
        return stages.collect(stages.send(requests))

    batches = [list(uids[i : i + batch]) for i in range(0, len(uids), batch)]
    ahead = _Ahead(stages, batches[0] if batches else [])
    ahead.send()
    try:
        for number, current in enumerate(batches):
            found = ahead.take(batches[number + 1] if number + 1 < len(batches) else [])
            ahead.send()
            yield from _batch(fetch, folder, current, found, screen)
    finally:
        ahead.drain()


class _Ahead:
    """The first stage of the batch after the current one: sent early, taken in turn."""

    def __init__(self, stages: Stages, batch: list[int]) -> None:
        self._stages = stages
        self._batch = batch
        self._ticket: Ticket | None = None

    def send(self) -> None:
        """Send it, unless sent already or there is no next batch."""
        if self._ticket is None and self._batch:
            self._ticket = self._stages.send([(self._batch, FIRST_STAGE)])

    def take(self, following: list[int]) -> dict[int, dict[bytes, Any]]:
        """Its answers (sent now if not yet); `following` becomes the next batch."""
        self.send()
        ticket, self._ticket, self._batch = self._ticket, None, following
        return self._stages.collect(ticket) if ticket is not None else {}

    def drain(self) -> None:
        """Read the answer of a command still in flight: the connection stays usable."""
        if self._ticket is not None:
            ticket, self._ticket = self._ticket, None
            self._stages.collect(ticket)


def _batch(
    fetch: Fetch,
    folder: str,
    batch: list[int],
    found: dict[int, dict[bytes, Any]],
    screen: Screen,
) -> Iterator[Fetched | Screened]:
    """One batch from its first stage's answers."""
    judged: dict[int, tuple[dict[str, str], Leaf | Multipart, Verdict, str]] = {}
    probes: dict[str, list[tuple[int, Leaf]]] = {}
    for uid in batch:
        item = found.get(uid)
        if item is None or b"BODYSTRUCTURE" not in item:
            continue  # expunged meanwhile
        fields = header_fields(_header_block(item))
        tree = _structure_or_text(folder, uid, item[b"BODYSTRUCTURE"])
        judgement = screen.judge(fields, _has_calendar(tree))
        verdict, reason = judgement.verdict, judgement.reason
        if verdict is Verdict.PROBE:
            leaf = probe_leaf(tree)
            if leaf is None:
                verdict, reason = Verdict.NOT, "no text part"
            else:
                probes.setdefault(leaf.section, []).append((uid, leaf))
        judged[uid] = (fields, tree, verdict, reason)
    _run_probes(fetch, probes, judged, screen)
    # When the first candidate not read yet is due, read it with those after it, as many
    # as the budget allows: a few FETCH commands per batch instead of one per candidate.
    pending = [uid for uid in batch if uid in judged and judged[uid][2] is Verdict.JOB]
    requested: set[int] = set()
    bodies: dict[int, bytes] = {}
    for uid in batch:
        if uid not in judged:
            continue
        fields, tree, verdict, reason = judged[uid]
        # A message earlier in this batch may have started the thread since it was judged.
        if verdict is not Verdict.JOB and screen.joins_thread(fields):
            verdict = Verdict.JOB
        if verdict is Verdict.JOB:
            if uid not in requested:
                later = [u for u in pending if u not in requested and u != uid]
                chunk = within_budget([(u, judged[u][1]) for u in [uid, *later]])
                requested.update(u for u, _ in chunk)
                bodies.update(bounded_messages(fetch, chunk))
            raw = bodies.pop(uid, None)  # None: expunged meanwhile
            if raw is not None:
                yield Fetched(folder=folder, key=str(uid), uid=uid, raw=raw)
        else:
            yield Screened(folder, str(uid), uid, message_id(fields), reason)


def _run_probes(
    fetch: Fetch,
    probes: dict[str, list[tuple[int, Leaf]]],
    judged: dict[int, tuple[dict[str, str], Leaf | Multipart, Verdict, str]],
    screen: Screen,
) -> None:
    """Fetch the top of each probed message's text (one FETCH per section, all sent
    together) and judge it."""
    data = fetch(
        [
            ([uid for uid, _ in members], [f"BODY.PEEK[{section}]<0.{PROBE_BYTES}>".encode()])
            for section, members in probes.items()
        ]
    )
    for section, members in probes.items():
        key = f"BODY[{section}]<0>".encode()
        for uid, leaf in members:
            fields, tree, _verdict, _reason = judged[uid]
            raw = data.get(uid, {}).get(key) or b""
            text = probe_text(
                bytes(raw), leaf.encoding, leaf.params.get("charset", ""), leaf.ctype == "text/html"
            )
            if screen.probe(fields, text):
                judged[uid] = (fields, tree, Verdict.JOB, "job phrase near the top")
            else:
                judged[uid] = (fields, tree, Verdict.NOT, "no job phrase near the top")


def bounded_messages(
    fetch: Fetch, candidates: Sequence[tuple[int, Leaf | Multipart]]
) -> dict[int, bytes]:
    """Each message with only its kept parts (text cut at TEXT_LIMIT), by UID.

    Messages whose trees ask for the same items share one FETCH, and the FETCH commands go
    out together; an expunged message is absent.
    """
    groups: dict[tuple[bytes, ...], list[tuple[int, Leaf | Multipart]]] = {}
    for uid, tree in candidates:
        wanted = [b"BODY.PEEK[HEADER]"]
        _items(tree, wanted)
        groups.setdefault(tuple(wanted), []).append((uid, tree))
    data = fetch([([uid for uid, _ in members], items) for items, members in groups.items()])
    found: dict[int, bytes] = {}
    for members in groups.values():
        for uid, tree in members:
            item = data.get(uid)
            if item is not None and b"BODY[HEADER]" in item:
                found[uid] = bytes(item[b"BODY[HEADER]"]) + _body(tree, item)
    return found


def within_budget(
    candidates: list[tuple[int, Leaf | Multipart]],
) -> list[tuple[int, Leaf | Multipart]]:
    """The first candidates whose kept parts add up to at most CANDIDATE_BYTES (one at least)."""
    total = 0
    for count, (_uid, tree) in enumerate(candidates):
        total += HEADER_ALLOWANCE + sum(
            min(leaf.size, _limit(leaf)) for leaf in leaves(tree) if leaf.kept
        )
        if count and total > CANDIDATE_BYTES:
            return candidates[:count]
    return candidates


def _items(node: Leaf | Multipart, items: list[bytes]) -> None:
    if isinstance(node, Leaf):
        if node.kept:
            items.append(f"BODY.PEEK[{node.section}]<0.{_limit(node)}>".encode())
        return
    for child in node.children:
        if _has_kept(child):
            items.append(f"BODY.PEEK[{child.section}.MIME]".encode())
            _items(child, items)


def _body(node: Leaf | Multipart, data: dict[bytes, Any]) -> bytes:
    if isinstance(node, Leaf):
        if not node.kept:
            return b""
        body = bytes(data.get(f"BODY[{node.section}]<0>".encode()) or b"")
        if len(body) >= _limit(node):
            body = body[: body.rfind(b"\n") + 1] or body  # no half line at the cut
        return body
    boundary = node.boundary.encode("utf-8", "replace")
    out = []
    for child in node.children:
        if _has_kept(child):
            mime = bytes(data.get(f"BODY[{child.section}.MIME]".encode()) or b"\r\n")
            out.append(b"--" + boundary + b"\r\n" + mime + _body(child, data) + b"\r\n")
    return b"".join(out) + b"--" + boundary + b"--\r\n"


def _has_kept(node: Leaf | Multipart) -> bool:
    return any(leaf.kept for leaf in leaves(node))


def _limit(leaf: Leaf) -> int:
    return 2 * MAX_CALENDAR_BYTES if leaf.calendar else TEXT_LIMIT


def _header_block(item: dict[bytes, Any]) -> bytes:
    if _HEADER_KEY in item:
        return bytes(item[_HEADER_KEY] or b"")
    for key, value in item.items():  # some servers spell the section differently
        if isinstance(key, bytes) and key.startswith(b"BODY[HEADER.FIELDS"):
            return bytes(value or b"")
    return b""


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _pairs(value: Any) -> dict[str, str]:
    if not isinstance(value, tuple | list):
        return {}
    pairs: dict[str, str] = {}
    # A loop, not a comprehension: this runs for every part of every message of a scan.
    items = iter(value)
    for name, content in zip(items, items, strict=False):
        pairs[_text(name).lower()] = _text(content)
    return pairs
