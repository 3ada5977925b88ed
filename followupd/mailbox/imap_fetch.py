"""Staged IMAP fetch: headers and structure for every message, text only for candidates.

1. For a batch of UIDs: BODYSTRUCTURE and a few header fields (`prefilter.FIELDS`); the
   `Screen` judges each message from those. The parts' sizes come from the structure, so
   the whole size (RFC822.SIZE) is not asked for. A structure that cannot be read (a
   broken server) is taken as one part, the message's whole text.
2. For messages the screen wants to probe: the first `PROBE_BYTES` of the first text part.
3. For candidates: the header, the text parts (at most `TEXT_LIMIT` bytes each) and the
   calendar parts, put back together as one MIME message for the usual parser. Other
   attachments are never fetched. Candidates whose structures ask for the same sections
   share one FETCH, up to `CANDIDATE_BYTES` of a batch read at a time.

The stages of neighbouring batches overlap (`staged_fetch`): the server answers one
batch's commands while this process judges or hands over another's.

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

    The stages of neighbouring batches overlap, so that the server answers one command
    while this process works on other batches: it is not waited for while there is other
    work. Each round reads batch N+2's first stage and judges it, reads N+1's probes and
    judges them, then hands N over (`_Batch`); what a step sends is read a round later,
    so while N is handed over, N+1's candidates' bodies, N+2's probes and N+3's first
    stage are in flight. Bodies beyond CANDIDATE_BYTES in a batch, and those of messages
    found to join a thread only when handed over, are read when due; so at most two
    batches' bodies, CANDIDATE_BYTES each, are held at once.

    While this generator is suspended commands are in flight: the caller must not use
    the connection until it is exhausted or closed (closing reads every answer still due,
    so the connection stays usable).
    """
    flights = _Flights(stages)
    count = -(-len(uids) // batch)
    live: dict[int, _Batch] = {}  # at most four batches: flat memory however many

    def numbered(number: int) -> _Batch:
        if number not in live:
            live[number] = _Batch(list(uids[number * batch : (number + 1) * batch]))
        return live[number]

    if count:
        numbered(0).send_first(flights)
    try:
        for number in range(-2, count):
            # The steps run in the order their answers come on the connection: each
            # collects what the same step sent a round earlier, and reads nothing later.
            if number + 2 < count:
                following = numbered(number + 3) if number + 3 < count else None
                numbered(number + 2).judge(flights, folder, screen, following)
            if 0 <= number + 1 < count:
                live[number + 1].probed(flights, screen)
            if number >= 0:
                yield from live.pop(number).hand_over(flights, folder, screen)
    finally:
        flights.drain()


class _Flights:
    """The scan's tickets in flight, so that a scan closed early reads all their answers."""

    def __init__(self, stages: Stages) -> None:
        self._stages = stages
        self._open: list[Ticket] = []  # oldest first
        self._failed = False

    def send(self, requests: Sequence[Request]) -> Ticket:
        try:
            ticket = self._stages.send(requests)
        except BaseException:
            self._failed = True
            raise
        self._open.append(ticket)
        return ticket

    def collect(self, ticket: Ticket) -> dict[int, dict[bytes, Any]]:
        self._open = [t for t in self._open if t is not ticket]
        try:
            return self._stages.collect(ticket)
        except BaseException:
            self._failed = True
            raise

    def fetch(self, requests: Sequence[Request]) -> dict[int, dict[bytes, Any]]:
        return self.collect(self.send(requests))

    def drain(self) -> None:
        """Read every answer still due, unless the connection failed (it is dropped then)."""
        while self._open and not self._failed:
            self.collect(self._open[0])


# A message as judged: its header fields and body structure, the verdict and its reason.
_Judged = tuple[dict[str, str], Leaf | Multipart, Verdict, str]


class _Batch:
    """One batch on its way through the stages: judged, probed, handed over.

    Why judging ahead of handing over is safe: what the screen knows that changes during
    a scan is which threads mail belongs to, the ids of the mail it passed (`judge`,
    `probe`) and the tracker's threads (grown as the caller records what is handed over,
    `Screen.threaded`), and both only grow. (Whether a sent message is one of followupd's
    drafts does not change: drafts are made after a sync, not while it records.) Batch
    N+2 is judged before N+1's probes are judged and before N and N+1 are recorded, so it
    may not know yet that one of its messages joins a thread: the message then gets the
    verdict the rest of the screen gives it instead of "in a tracked thread". Just before
    a message that is not JOB is handed over, every message before it has been probed,
    passed and recorded, so `joins_thread` then answers as at its turn; a message that
    joins is read (its body fetched then) and judged again, so that the screen also
    counts it as passed, as it would have. A message judged JOB early is JOB either way.
    So each message is read exactly when judging it in turn would read it, except that,
    as before within a batch, the check also knows mail passed up to two batches later:
    a message that answers a later one (mail out of order) may be read where it would
    not have been, which costs a fetch and misses nothing.
    """

    def __init__(self, uids: list[int]) -> None:
        self.uids = uids
        self._first: Ticket | None = None
        self._judged: dict[int, _Judged] = {}
        self._probes: dict[str, list[tuple[int, Leaf]]] = {}
        self._probing: Ticket | None = None
        self._pending: list[int] = []  # the candidates, in UID order
        self._requested: set[int] = set()
        self._reading: tuple[Ticket, _Groups] | None = None

    def send_first(self, flights: _Flights) -> None:
        """Ask for the first stage: body structures and the screen's header fields."""
        self._first = flights.send([(self.uids, FIRST_STAGE)])

    def judge(
        self, flights: _Flights, folder: str, screen: Screen, following: _Batch | None
    ) -> None:
        """Read the first stage (and send the following batch's), judge, send the probes."""
        assert self._first is not None
        found = flights.collect(self._first)
        self._first = None
        if following is not None:
            following.send_first(flights)
        for uid in self.uids:
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
                    self._probes.setdefault(leaf.section, []).append((uid, leaf))
            self._judged[uid] = (fields, tree, verdict, reason)
        if self._probes:
            # The top of each probed message's text: one FETCH per section, sent together.
            self._probing = flights.send(
                [
                    (
                        [uid for uid, _ in members],
                        [f"BODY.PEEK[{section}]<0.{PROBE_BYTES}>".encode()],
                    )
                    for section, members in self._probes.items()
                ]
            )

    def probed(self, flights: _Flights, screen: Screen) -> None:
        """Read the probes and judge them; send the first candidates' bodies."""
        data = flights.collect(self._probing) if self._probing is not None else {}
        self._probing = None
        judged = self._judged
        for section, members in self._probes.items():
            key = f"BODY[{section}]<0>".encode()
            for uid, leaf in members:
                fields, tree, _verdict, _reason = judged[uid]
                raw = data.get(uid, {}).get(key) or b""
                text = probe_text(
                    bytes(raw),
                    leaf.encoding,
                    leaf.params.get("charset", ""),
                    leaf.ctype == "text/html",
                )
                if screen.probe(fields, text):
                    judged[uid] = (fields, tree, Verdict.JOB, "job phrase near the top")
                else:
                    judged[uid] = (fields, tree, Verdict.NOT, "no job phrase near the top")
        self._probes = {}
        self._pending = [
            uid for uid in self.uids if uid in judged and judged[uid][2] is Verdict.JOB
        ]
        if self._pending:
            chunk = within_budget([(uid, judged[uid][1]) for uid in self._pending])
            self._requested.update(uid for uid, _ in chunk)
            groups = _groups(chunk)
            self._reading = (flights.send(_body_requests(groups)), groups)

    def hand_over(
        self, flights: _Flights, folder: str, screen: Screen
    ) -> Iterator[Fetched | Screened]:
        """Each message in UID order: the candidates with their bodies, the rest screened."""
        bodies: dict[int, bytes] = {}
        if self._reading is not None:
            ticket, groups = self._reading
            self._reading = None
            bodies = _assemble(groups, flights.collect(ticket))
        for uid in self.uids:
            if uid not in self._judged:
                continue
            fields, tree, verdict, reason = self._judged.pop(uid)
            # Mail handed over since it was judged may have started its thread: the
            # batches before this one were judged before it, but their probes were read and
            # their messages recorded later (see `_Batch`).
            if verdict is not Verdict.JOB and screen.joins_thread(fields):
                # Judged again, now JOB: so that the screen counts it as passed, as it
                # would had it been judged now, and a reply to it joins too.
                screen.judge(fields, _has_calendar(tree))
                verdict = Verdict.JOB
            if verdict is Verdict.JOB:
                if uid not in self._requested:
                    # When the first candidate not read yet is due, read it with those after
                    # it, as many as the budget allows.
                    later = [u for u in self._pending if u not in self._requested and u > uid]
                    chunk = within_budget([(uid, tree), *((u, self._judged[u][1]) for u in later)])
                    self._requested.update(u for u, _ in chunk)
                    bodies.update(bounded_messages(flights.fetch, chunk))
                raw = bodies.pop(uid, None)  # None: expunged meanwhile
                if raw is not None:
                    yield Fetched(folder=folder, key=str(uid), uid=uid, raw=raw)
            else:
                yield Screened(folder, str(uid), uid, message_id(fields), reason)


def bounded_messages(
    fetch: Fetch, candidates: Sequence[tuple[int, Leaf | Multipart]]
) -> dict[int, bytes]:
    """Each message with only its kept parts (text cut at TEXT_LIMIT), by UID.

    Messages whose trees ask for the same items share one FETCH, and the FETCH commands go
    out together; an expunged message is absent.
    """
    groups = _groups(candidates)
    return _assemble(groups, fetch(_body_requests(groups)))


# Candidates by the items their trees ask for.
_Groups = dict[tuple[bytes, ...], list[tuple[int, Leaf | Multipart]]]


def _groups(candidates: Sequence[tuple[int, Leaf | Multipart]]) -> _Groups:
    groups: _Groups = {}
    for uid, tree in candidates:
        wanted = [b"BODY.PEEK[HEADER]"]
        _items(tree, wanted)
        groups.setdefault(tuple(wanted), []).append((uid, tree))
    return groups


def _body_requests(groups: _Groups) -> list[Request]:
    return [([uid for uid, _ in members], items) for items, members in groups.items()]


def _assemble(groups: _Groups, data: dict[int, dict[bytes, Any]]) -> dict[int, bytes]:
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
