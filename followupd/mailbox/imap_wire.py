"""UID FETCH read straight off the connection: what imapclient's parser returns, far cheaper.

imaplib gathers a response line by line in Python and imapclient then parses it character by
character; over BODYSTRUCTURE for every message of a big mailbox that was the largest cost
of a first scan. Here the command goes out through the imaplib object imapclient wraps, and
each response is read with one `readline` per line and one `read` per literal (buffered,
C-speed), then split into tokens with a single `findall`. The result has the shapes
imapclient gives for what the staged fetch asks for: {uid: {b"RFC822.SIZE": int,
b"BODYSTRUCTURE": nested tuples (a multipart's children grouped in a list first),
b"BODY[...]": bytes}}; other atoms stay bytes, NIL is None. Several FETCH commands can go
out at once (pipelined), so that a stage of the scan costs one round trip.

Untagged responses other than FETCH (EXISTS, EXPUNGE, an unsolicited FETCH of FLAGS
without a UID) are read and dropped; a tagged NO or BAD raises `imaplib.IMAP4.error`, a
connection that ends mid-response `imaplib.IMAP4.abort`, as imaplib itself does, so the
caller's reconnect logic treats both alike.
"""

from __future__ import annotations

import imaplib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# One token: "quoted", a run of NILs ("NIL NIL NIL": a body structure is a third NILs, one
# token each was the reader's largest cost), ( ) {literal} or an atom, which may carry a
# section in brackets (BODY[HEADER.FIELDS (FROM TO)]) and a partial origin (BODY[1]<0>); any
# other single character is a token of its own, so that the builder can refuse it. The
# most frequent come first.
_TOKEN = re.compile(
    rb'"[^"\\\r\n]*(?:\\.[^"\\\r\n]*)*"'
    rb"|NIL(?: NIL)*(?=[ ()]|\Z)"
    rb"|[()]"
    rb"|\{\d+\}"
    rb'|[^ ()"{\[\]\r\n]+(?:\[[^\]\r\n]*\](?:<\d+>)?)?'
    rb"|\S"
)
_LITERAL = re.compile(rb"\{(\d+)\}\Z")
_ESCAPE = re.compile(rb"\\(.)")
_INTS = (b"UID", b"RFC822.SIZE")

# (uids, items) of one UID FETCH
Request = tuple[Sequence[int], Sequence[bytes]]
_OPEN, _CLOSE, _QUOTE, _BRACE, _N, _SPACE = b'()"{N '
_BRACKETS = b"[]"


class WireError(imaplib.IMAP4.error):
    """The server sent something that is not a response this reader understands."""


class Wire(Protocol):
    """What the reader needs of a connection; imaplib.IMAP4 has it."""

    def send(self, data: bytes) -> None:
        """Write bytes to the server."""

    def readline(self) -> bytes:
        """One line, with its line end; b"" at the end of the stream."""

    def read(self, size: int) -> bytes:
        """Up to `size` bytes; fewer only at the end of the stream."""


def fetch_fast(client: Any, requests: Sequence[Request]) -> dict[int, dict[bytes, Any]]:
    """Each (uids, items) request as a UID FETCH over imapclient's connection, all sent
    at once (pipelined, RFC 3501 5.5) → {uid: {item: value}} of all the answers."""
    pipeline = Pipeline.over(client)
    return pipeline.collect(pipeline.send(requests))


@dataclass(frozen=True)
class Ticket:
    """FETCH commands sent together, to be collected later: their tags and messages."""

    tags: tuple[bytes, ...]
    uids: frozenset[int]


class Pipeline:
    """FETCH commands in flight on one connection, their answers read in order.

    A scan keeps a command of each stage in flight for batches ahead of the one it hands
    over, so the server works on them meanwhile (`imap_fetch.staged_fetch`). Answers
    arrive in the order the commands were sent; collecting a ticket reads every answer up
    to its own and keeps those of later tickets for them. Tickets in flight together must
    ask about different messages. Nothing else may use the connection while a ticket is
    in flight.
    """

    def __init__(self, wire: Wire, new_tag: Callable[[], bytes]) -> None:
        self._wire = wire
        self._new_tag = new_tag
        self._open: list[bytes] = []  # tags sent and not yet answered, oldest first
        self._answers: dict[int, dict[bytes, Any]] = {}  # read, not yet collected

    @classmethod
    def over(cls, client: Any) -> Pipeline:
        """A pipeline on imapclient's connection, with imaplib's tag sequence.

        imapclient offers no way to get a FETCH response unparsed, so this goes through
        the imaplib object it wraps: its documented send/readline/read and its tags.
        """
        imap = client._imap

        def new_tag() -> bytes:
            tag: bytes = imap._new_tag()
            # imaplib never sees these commands complete: keep its table of open ones clean.
            imap.tagged_commands.pop(tag, None)
            return tag

        return cls(imap, new_tag)

    @property
    def idle(self) -> bool:
        """True when no command is in flight."""
        return not self._open

    def send(self, requests: Sequence[Request]) -> Ticket:
        """Send `tag UID FETCH uids (items)` for each request with messages; don't wait."""
        wanted = [(uids, items) for uids, items in requests if uids]
        tags = tuple(self._new_tag() for _ in wanted)
        if wanted:
            self._wire.send(
                b"".join(
                    tag + b" UID FETCH " + _uid_set(uids) + b" (" + b" ".join(items) + b")\r\n"
                    for tag, (uids, items) in zip(tags, wanted, strict=True)
                )
            )
            self._open += tags
        return Ticket(tags, frozenset(uid for uids, _ in wanted for uid in uids))

    def collect(self, ticket: Ticket) -> dict[int, dict[bytes, Any]]:
        """The answers to `ticket` by UID, reading those of earlier tickets on the way."""
        if ticket.tags and ticket.tags[-1] in self._open:
            upto = self._open.index(ticket.tags[-1]) + 1
            awaited, self._open = self._open[:upto], self._open[upto:]
            for uid, item in read_fetch(self._wire, awaited).items():
                self._answers.setdefault(uid, {}).update(item)
        return {uid: self._answers.pop(uid) for uid in ticket.uids if uid in self._answers}


def _uid_set(uids: Sequence[int]) -> bytes:
    """Ascending runs as ranges (1:4,7,9:10): short commands for a batch of neighbours."""
    ordered = sorted(set(uids))
    runs: list[str] = []
    start = prev = ordered[0]
    for uid in ordered[1:]:
        if uid != prev + 1:
            runs.append(f"{start}:{prev}" if prev > start else str(start))
            start = uid
        prev = uid
    runs.append(f"{start}:{prev}" if prev > start else str(start))
    return ",".join(runs).encode()


def read_fetch(wire: Wire, tags: Sequence[bytes]) -> dict[int, dict[bytes, Any]]:
    """Read responses until each of `tags` is completed; the FETCH data by UID.

    A refused command raises only once all are answered, so the connection stays usable.
    """
    found: dict[int, dict[bytes, Any]] = {}
    waiting = set(tags)
    refused: list[bytes] = []
    while waiting:
        text, literals = _response(wire)
        if text.startswith(b"* "):
            parts = text.split(b" ", 3)
            if len(parts) == 4 and parts[2].upper() == b"FETCH":
                item = fetch_item(parts[3], literals)
                uid = item.get(b"UID")
                if uid is not None:  # without one, an unsolicited flag change
                    found.setdefault(uid, {}).update(item)
            elif parts[1].upper() == b"BYE":
                raise imaplib.IMAP4.abort(f"the server closed the session: {_show(text)}")
            continue
        tag, _, status = text.partition(b" ")
        if tag not in waiting:
            raise WireError(f"unexpected response to UID FETCH: {_show(text)}")
        waiting.discard(tag)
        if status[:3].upper() not in (b"OK", b"OK "):
            refused.append(status)
    if refused:
        raise imaplib.IMAP4.error(f"UID FETCH failed: {_show(refused[0])}")
    return found


def _response(wire: Wire) -> tuple[bytes, list[bytes]]:
    """One whole response: its lines joined (each literal left as its {n} marker), and
    its literals in order."""
    line = _line(wire)
    if not line.endswith(b"}"):
        return line, []
    lines, literals = [line], []
    while (marker := _LITERAL.search(line)) is not None:
        size = int(marker.group(1))
        literal = wire.read(size)
        if len(literal) != size:
            raise imaplib.IMAP4.abort(
                f"the connection ended inside a literal ({len(literal)} of {size} bytes)"
            )
        literals.append(literal)
        line = _line(wire)
        lines.append(line)
    return b" ".join(lines), literals


def _line(wire: Wire) -> bytes:
    line = wire.readline()
    if not line.endswith(b"\n"):
        raise imaplib.IMAP4.abort("socket error: EOF inside a response")
    return line.rstrip(b"\r\n")


def fetch_item(text: bytes, literals: Sequence[bytes]) -> dict[bytes, Any]:
    """The parenthesised list after `* n FETCH` → {item name: value}.

    The literals replace their {n} markers in order; UID and RFC822.SIZE become ints.
    """
    values = _values(text, literals)
    if len(values) != 1 or not isinstance(values[0], tuple):
        raise WireError(f"a FETCH response is not one list: {_show(text)}")
    pairs = values[0]
    if len(pairs) % 2:
        raise WireError(f"a FETCH item without a value: {_show(text)}")
    item: dict[bytes, Any] = {}
    for key, value in zip(pairs[::2], pairs[1::2], strict=True):
        if not isinstance(key, bytes):
            raise WireError(f"a FETCH item without a name: {_show(text)}")
        name = key.upper()
        if name in _INTS and value is not None:
            if not (isinstance(value, bytes) and value.isdigit()):
                raise WireError(f"{name.decode()} is not a number: {_show(text)}")
            item[name] = int(value)
        else:
            item[name] = value
    return item


def _values(text: bytes, literals: Sequence[bytes]) -> list[Any]:
    pending = iter(literals)
    stack: list[list[Any]] = []
    current: list[Any] = []
    # Dispatch on the first byte as an int: no slice is made for each of a million tokens.
    for token in _TOKEN.findall(text):
        first = token[0]
        if first == _QUOTE:
            if len(token) < 2:
                raise WireError(f"an unterminated string in {_show(text)}")
            value = token[1:-1]
            current.append(_ESCAPE.sub(rb"\1", value) if b"\\" in value else value)
        elif first == _N and token[:3] == b"NIL" and (len(token) == 3 or token[3] == _SPACE):
            current += [None] * ((len(token) + 1) // 4)  # "NIL" and " NIL" for each more
        elif first == _OPEN:
            stack.append(current)
            current = []
        elif first == _CLOSE:
            if not stack:
                raise WireError(f"an unmatched ')' in {_show(text)}")
            done = _shape(current) if current and type(current[0]) is tuple else tuple(current)
            current = stack.pop()
            current.append(done)
        elif first == _BRACE:
            literal = next(pending, None)
            if literal is None or len(token) < 3:
                raise WireError(f"a stray '{{' in {_show(text)}")
            current.append(literal)
        elif first in _BRACKETS:
            raise WireError(f"a stray {chr(first)!r} in {_show(text)}")
        elif len(token) == 3 and token.upper() == b"NIL":
            current.append(None)
        else:
            current.append(token)
    if stack:
        raise WireError(f"the response ended inside a list: {_show(text)}")
    return current


def _shape(items: list[Any]) -> Any:
    """A list that starts with lists is a multipart body: its children go in a list first."""
    count = 0
    while count < len(items) and type(items[count]) is tuple:
        count += 1
    return ([*items[:count]], *items[count:])


def _show(text: bytes) -> str:
    return repr(text[:120])[2:-1] + ("..." if len(text) > 120 else "")
