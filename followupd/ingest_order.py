"""Record the messages of a folder in the order they came, some read by a worker process.

The folder's cursor must never pass an unrecorded message, and the state must be the same
as when every candidate is read in the scanning process: so a candidate handed to the
worker (`ingest_worker.Worker`) holds back everything after it until its reading is back,
and the screen's question "does this message join a tracked thread?" waits for the
candidates before it that may start that thread.

The worker runs only on otherwise idle CPU time, so on a busy machine (or if it is
stopped) its answers may be late: when the scan would have to wait for one longer than
`GRACE_SECONDS`, it reads that candidate itself, drops the worker's answer when it comes,
and hands the worker nothing more until it has caught up.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass

from followupd.ingest_worker import Reading, Worker, WorkerDied
from followupd.mailbox.base import Fetched, Screened

log = logging.getLogger(__name__)

# Messages ruled out unread are recorded this many to a transaction.
SCREENED_BATCH = 1000
# Candidates handed over and not yet recorded: at most this many, and this many bytes of
# their mail (held here until recorded, so a dead worker loses nothing).
MAX_IN_FLIGHT = 64
MAX_IN_FLIGHT_BYTES = 4 * 1024 * 1024
# Messages held back behind a candidate: at most this many (with a worker that is late,
# a candidate might otherwise hold back the rest of the folder).
MAX_HELD = 10 * SCREENED_BATCH
# How long the scan waits for the worker's answer before reading the candidate itself.
# The worker reads in order, so the answer waited for is the one it is reading now: when
# it runs, that takes at most one reading (1 ms typically, 4-5 ms at most, measured on the
# labelled mail and on a 256 KB text). Reading it here takes as long, so waiting longer
# than the slowest reading is a worse bet than reading it (on the busy 2-core machine a
# 20 ms grace added up to 0.3 s of waiting in a 4 s scan, with no answer given up on).
# A stopped worker costs the scan this once: after that nothing waits for it.
GRACE_SECONDS = 0.005
# The end of the Message-ID `parse.synthesise_message_id` gives a message without one:
# such an id is in no message's bytes.
SYNTHESISED_SUFFIX = "@followupd.invalid"

# A line break followed by another: the end of a message's header.
_BLANK_LINE = re.compile(rb"\n\n|\n\r|\r\r")
# Every field whose name ends in one of these (a superset of the ones the parser reads),
# with its continuation lines, line breaks as the parser sees them.
_ID_FIELD = re.compile(
    rb"(?:message-id|in-reply-to|references)[ \t]*:([^\r\n]*(?:(?:\r\n|\r|\n)[ \t][^\r\n]*)*)",
    re.IGNORECASE,
)


def id_fields(raw: bytes) -> bytes | None:
    """Where `parse_message(raw)` can find its Message-ID and thread ids, cheaply.

    The values of the header's Message-ID, In-Reply-To and References fields (and of any
    field whose name ends so), joined: when they are ASCII without encoded words, every id
    the parser reads is a substring of them. None when that cannot be said.
    """
    end = _BLANK_LINE.search(raw)
    head = raw[: end.start()] if end else raw
    values = b"\n".join(m.group(1) for m in _ID_FIELD.finditer(head))
    return values if values.isascii() and b"=?" not in values else None


def may_hold(fields: bytes | None, ids: Collection[str]) -> bool:
    """False only if a message with these `id_fields` cannot have any of `ids`."""
    if fields is None:
        return True
    return any(i.endswith(SYNTHESISED_SUFFIX) or i.encode() in fields for i in ids)


@dataclass
class _InFlight:
    fetched: Fetched
    ticket: int | None  # the worker's; None: read here, in turn
    fields: bytes | None  # its `id_fields`


class Lane:
    """The messages of one folder, recorded in the order they came.

    `record_screened` records messages ruled out unread (a batch at a time); `take` records
    a candidate from its `Reading`, or reads it inline when given None. A candidate handed
    to the worker holds back everything after it until its reading is back: the folder's
    cursor must never pass an unrecorded message. Candidates go to `worker` once
    `offload_at` messages have come before them; without a worker (or once it has died)
    they are read inline, in turn. When the worker is late (`grace` seconds, when the scan
    would have to wait), the candidates it has not answered are read inline as their turn
    comes, and new ones are kept for reading inline until it has caught up.
    """

    def __init__(
        self,
        *,
        direction: str,
        record_screened: Callable[[list[Screened]], None],
        take: Callable[[Fetched, Reading | None], None],
        threaded: Callable[[list[str]], bool],
        worker: Worker | None,
        offload_at: int = 0,
        grace: float = GRACE_SECONDS,
    ) -> None:
        self._direction = direction
        self._record_screened = record_screened
        self._take = take
        self._threaded = threaded
        self.worker = worker
        self._offload_at = offload_at
        self.grace = grace
        self._seen = 0
        if worker is not None and offload_at == 0:
            worker.start()  # it starts while the first batch is screened
        self._queue: deque[Screened | _InFlight] = deque()
        self._held: deque[_InFlight] = deque()  # the candidates in `_queue`, oldest first
        self._batch: list[Screened] = []
        self._bytes = 0
        self.by_worker = 0  # candidates recorded from the worker's reading
        self.taken_back = 0  # handed to the worker, then read here as it was late
        self.kept = 0  # read here while the worker lagged, never handed over
        self.waited = 0.0  # seconds the scan waited for the worker

    def add(self, item: Fetched | Screened) -> None:
        """Hand over the next message; records what is ready, waits when too much is pending."""
        self._seen += 1
        if self._seen == self._offload_at and self.worker is not None:
            self.worker.start()
        if isinstance(item, Screened):
            if self._queue:
                self._make_room(0)
                self._queue.append(item)
            else:
                self._screened(item)
            self._advance(wait=False)
            return
        if self.worker is None or self.worker.broken or self._seen <= self._offload_at:
            self._inline(item)
            return
        self._make_room(len(item.raw))
        ticket = None
        if not self.worker.lagging():
            try:
                ticket = self.worker.submit(item.raw, self._direction)
            except WorkerDied as exc:
                self._broke(exc)
        if ticket is None and not self.worker.broken:
            self.kept += 1
        entry = _InFlight(item, ticket, id_fields(item.raw))
        self._queue.append(entry)
        self._held.append(entry)
        self._bytes += len(item.raw)
        self._advance(wait=False)

    @property
    def in_flight(self) -> int:
        """Candidates handed to the worker (or kept from it) and not yet recorded."""
        return len(self._held)

    def threaded(self, ids: list[str]) -> bool:
        """Whether `ids` belong to a tracked thread, as if every earlier message were recorded.

        For the screen: when a candidate still being read may add one of them, it and what
        comes before it are recorded first.
        """
        if self._threaded(ids):
            return True
        last = None
        for entry in self._held:
            if may_hold(entry.fields, ids):
                last = entry
        if last is None:
            return False
        self._advance(wait=True, until=last)
        return self._threaded(ids)

    def stop(self) -> None:
        """Record what is ready, waiting for nothing: the rest is read again next time."""
        self._advance(wait=False)
        if not self._queue:
            self._flush()

    def finish(self) -> None:
        """Record everything still pending (the worker's late answers read here instead)."""
        self._advance(wait=True)
        self._flush()
        if self.by_worker or self.taken_back or self.kept:
            log.debug(
                "%d candidates read by the worker; %d read here instead as it was late, %d"
                " kept from it while it lagged; %.3f s waited for it",
                self.by_worker,
                self.taken_back,
                self.kept,
                self.waited,
            )

    def _make_room(self, size: int) -> None:
        """Record from the front (waiting) while a message of `size` bytes would be too many."""
        while self._held and (
            len(self._held) >= MAX_IN_FLIGHT
            or self._bytes + size > MAX_IN_FLIGHT_BYTES
            or len(self._queue) >= MAX_HELD
        ):
            self._advance(wait=True, until=self._held[0])

    def _advance(self, *, wait: bool, until: _InFlight | None = None) -> None:
        """Record from the front: while ready, or (`wait`) up to `until` or everything."""
        while self._queue:
            head = self._queue[0]
            if isinstance(head, Screened):
                self._queue.popleft()
                self._screened(head)
                continue
            if head.ticket is not None and not self._due(head, wait=wait):
                return
            self._queue.popleft()
            self._held.popleft()
            self._bytes -= len(head.fetched.raw)
            reading: Reading | None = None
            if head.ticket is not None:
                assert self.worker is not None  # it took the candidate
                try:
                    reading = self.worker.reading(head.ticket)
                    self.by_worker += 1
                except WorkerDied as exc:  # read it here, and the rest too
                    self._broke(exc)
            self._flush()
            self._take(head.fetched, reading)
            if head is until:
                return

    def _due(self, head: _InFlight, *, wait: bool) -> bool:
        """Whether the head's turn has come: its answer is back or, when the scan must wait,
        has not come within the grace (it is then read here, its ticket given up).
        """
        worker = self.worker
        assert worker is not None and head.ticket is not None  # it took the candidate
        if worker.ready(head.ticket):
            return True
        if not wait:
            return False
        # Once late, the worker is not waited for again until it has caught up.
        if not worker.lagging():
            start = time.monotonic()
            answered = worker.ready(head.ticket, within=self.grace)
            self.waited += time.monotonic() - start
            if answered:
                return True
        worker.abandon(head.ticket)
        head.ticket = None
        self.taken_back += 1
        return True

    def _inline(self, item: Fetched) -> None:
        self._advance(wait=True)
        self._flush()
        self._take(item, None)

    def _screened(self, item: Screened) -> None:
        self._batch.append(item)
        if len(self._batch) >= SCREENED_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            self._record_screened(batch)

    def _broke(self, exc: Exception) -> None:
        if self.worker is not None and not self.worker.broken:
            self.worker.broken = True
            log.warning(
                "the process reading job mail stopped (%s: %s); reading the rest in this one",
                type(exc).__name__,
                exc,
            )
