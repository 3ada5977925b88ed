"""Parse and recognise candidate job mail in one worker process during a big first read.

A first scan is CPU-bound in one process: fetching and screening every message, and
parsing and recognising the few candidates (about 2 ms each, a fifth of the scan). The
pure part of that — `parse_message` and `recognise` — can run in one spawned process
(`Worker`) while the main process goes on fetching and screening; `ingest_order.Lane`
records the results in the order the messages came.

Whether a candidate's facts are kept depends on the tracker (other mail keeps them only
when it joins a tracked thread), which only the main process knows when the message's
turn comes: the worker therefore answers for both cases (`Reading`), and `settle` picks.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import struct
import time
import traceback
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from followupd.model import Kind, ParsedMessage, Recognition

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from followupd.phrasebook import PhraseBook


@dataclass(frozen=True)
class Failure:
    """Why a message could not be read: what the inline path records as skipped."""

    malformed: bool  # parse.MalformedMessage
    name: str  # the exception's type
    text: str
    trace: str  # for the debug log

    @classmethod
    def of(cls, exc: Exception) -> Failure:
        """The failure `exc` stands for; exceptions themselves do not always pickle."""
        from followupd.parse import MalformedMessage  # noqa: PLC0415 - heavy

        trace = "".join(traceback.format_exception(exc))
        return cls(isinstance(exc, MalformedMessage), type(exc).__name__, str(exc), trace)


@dataclass(frozen=True)
class Reading:
    """What parse + recognise made of one message, for either answer to "is it threaded?"."""

    msg: ParsedMessage | Failure
    full: Recognition | Failure | None  # with facts; None for sent mail (not recognised)
    bare: Recognition | None  # other mail without facts; None when always `full`


def read(
    raw: bytes,
    *,
    direction: str,
    zone: ZoneInfo,
    me_addresses: Collection[str],
    phrases: PhraseBook | None = None,
) -> Reading:
    """Parse `raw` and, for received mail, recognise it with and without facts.

    Never raises: a failure is returned in the field where it happened, so a message whose
    fact extraction fails is still read as inline when its facts would not be kept.
    """
    from followupd.parse import parse_message  # noqa: PLC0415 - heavy
    from followupd.recognise import judge, with_facts  # noqa: PLC0415 - heavy

    try:
        msg = parse_message(raw, default_tz=zone)
    except Exception as exc:  # noqa: BLE001 - reported as the inline path does
        return Reading(Failure.of(exc), None, None)
    if direction != "in":
        return Reading(msg, None, None)
    try:
        first = judge(msg, me_addresses=me_addresses, phrases=phrases)
    except Exception as exc:  # noqa: BLE001
        return Reading(msg, Failure.of(exc), None)
    bare = first.bare if first.bare.kind is Kind.OTHER else None
    try:
        return Reading(msg, with_facts(first, zone), bare)
    except Exception as exc:  # noqa: BLE001
        return Reading(msg, Failure.of(exc), bare)


def settle(reading: Reading, threaded: bool) -> Recognition | Failure | None:
    """What `recognise(..., facts_for_other=threaded)` gives for the message read."""
    if reading.bare is not None and not threaded:
        return reading.bare
    return reading.full


# -- the worker process ----------------------------------------------------------------

# Added to the worker's nice value where there is no SCHED_IDLE (see `_serve`).
WORKER_NICENESS = 5
# What an answer's length is sent as, before its pickle.
_FRAME = struct.Struct("!Q")
# Each pipe to and from the worker is made this big where the system allows (Linux: up to
# /proc/sys/fs/pipe-max-size, 1 MB by default): what the scan hands over and the worker has
# not answered must fit in it, so that handing over never waits for a worker that lags.
PIPE_BYTES = 1024 * 1024
# What `Connection.send_bytes` writes before the bytes: 4, or 12 for 2 GB and more.
_SEND_HEADER = 12
# Answers are read this much at a time (a few answers; a bigger buffer costs an mmap).
_READ_BYTES = 64 * 1024


class WorkerDied(Exception):
    """The worker process is gone; what it has not answered must be read here."""


def _serve(tasks: Connection, results: Connection, zone: ZoneInfo, me: tuple[str, ...]) -> None:
    """The worker's loop: read each message sent on `tasks`, answer on `results`.

    A thread receives, so the main process never waits to send while this one waits for
    it to take an answer. Answers go out as `_FRAME`-prefixed pickles (`Worker._collect`
    reads them without ever blocking). Ends when `tasks` is closed.
    """
    import queue  # noqa: PLC0415 - in the worker only
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from followupd.recognise import default_phrasebook  # noqa: PLC0415 - heavy

    # Ctrl-C in a terminal reaches the whole process group: the main process stops this one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Its work waits in a queue; the scan and the mail server are what the user waits for.
    # Where there is SCHED_IDLE, `Worker.start` has set it already, from the first moment.
    if not hasattr(os, "SCHED_IDLE"):
        os.nice(WORKER_NICENESS)
    default_phrasebook()  # loaded before the first message
    inbox: queue.SimpleQueue[tuple[int, str, bytes] | None] = queue.SimpleQueue()

    def receive() -> None:
        try:
            while True:
                inbox.put(pickle.loads(tasks.recv_bytes()))  # noqa: S301 - our own
        except (EOFError, OSError):
            inbox.put(None)

    threading.Thread(target=receive, name="receive", daemon=True).start()
    out = results.fileno()
    while (task := inbox.get()) is not None:
        ticket, direction, raw = task
        reading = read(raw, direction=direction, zone=zone, me_addresses=me)
        data = pickle.dumps((ticket, reading), protocol=pickle.HIGHEST_PROTOCOL)
        frame = memoryview(_FRAME.pack(len(data)) + data)
        try:
            while frame:
                frame = frame[os.write(out, frame) :]
        except OSError:
            return  # the main process has gone


def second_core() -> bool:
    """Whether this process may run on two cores or more: one for the scan, one for the worker.

    How busy they are does not matter (it may change during the scan, and the load average
    lags behind it): the worker runs on idle CPU time only, and the scan reads a candidate
    itself when the worker is late (`ingest_order.GRACE_SECONDS`).
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on this system: every core
        usable = os.cpu_count() or 1
    return usable >= 2


def _widen(conn: Connection) -> int:
    """Make the pipe behind `conn` `PIPE_BYTES` big where allowed; how much it holds."""
    try:
        import fcntl  # noqa: PLC0415 - not on every system
    except ImportError:
        return select.PIPE_BUF  # all a pipe is sure to hold
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    getsize = getattr(fcntl, "F_GETPIPE_SZ", None)
    if setsize is None or getsize is None:  # not Linux
        return select.PIPE_BUF
    # It stays smaller above the system's limit, or when the user's pipes hold much already.
    with contextlib.suppress(OSError):
        fcntl.fcntl(conn.fileno(), setsize, PIPE_BYTES)
    return int(fcntl.fcntl(conn.fileno(), getsize))


class Worker:
    """One spawned process reading candidates, started when first needed.

    Spawned, never forked: the daemon has threads (IDLE), which a fork would copy mid-step.
    Plain pipes, no helper threads here: a thread in this process would take the GIL
    from the scan at every message handed over or answered. This process never waits on
    the worker longer than it chooses: a message is handed over only when the pipe has room
    for it whatever the worker does (`submit`), answers are read as far as they have come
    (`ready`), and one given up on (`abandon`, read here instead) is dropped when it comes.
    Tickets are answered in the order they were handed over.
    """

    def __init__(self, zone: ZoneInfo, me_addresses: Collection[str]) -> None:
        self.broken = False
        self._args = (zone, tuple(sorted(me_addresses)))
        self._process: BaseProcess | None = None
        self._tasks: Connection | None = None
        self._results: Connection | None = None
        self._poller: select.poll | None = None  # of `_results`: asked after every message
        self._room = 0  # bytes the task pipe holds
        self._sent = 0
        # ticket -> bytes it took in the task pipe; their sum is at most what the pipe may
        # still hold unread
        self._unanswered: dict[int, int] = {}
        self._abandoned: set[int] = set()  # unanswered, and read here instead
        self._answers: dict[int, Reading] = {}
        self._partial = bytearray()  # of the next answer
        self._dead: str | None = None  # why, once the worker is gone

    def start(self) -> None:
        """Start the process now, so it is ready when the first candidate comes."""
        if self._process is not None:
            return
        import multiprocessing  # noqa: PLC0415 - only for big scans

        ctx = multiprocessing.get_context("spawn")
        task_reader, self._tasks = ctx.Pipe(duplex=False)
        self._results, result_writer = ctx.Pipe(duplex=False)
        self._room = _widen(self._tasks)
        _widen(self._results)  # fewer, longer writes of answers
        self._process = ctx.Process(
            target=_serve,
            args=(task_reader, result_writer, *self._args),
            name="followupd-reader",
            daemon=True,
        )
        self._process.start()
        if hasattr(os, "SCHED_IDLE"):
            # Even at nice +5 the worker delayed Dovecot's answers on a 2-core machine, and
            # the scan waited for them as long as the worker saved it: SCHED_IDLE runs it
            # only on an idle core. Set at once: its start-up (some 0.08 s of CPU before
            # `_serve` runs) is idle work too.
            assert self._process.pid is not None  # started
            with contextlib.suppress(OSError):  # it may have ended already
                os.sched_setscheduler(self._process.pid, os.SCHED_IDLE, os.sched_param(0))
        # Only the worker holds these ends now: its death reads as EOF here.
        task_reader.close()
        result_writer.close()
        os.set_blocking(self._results.fileno(), False)
        self._poller = select.poll()
        self._poller.register(self._results.fileno(), select.POLLIN)

    def submit(self, raw: bytes, direction: str) -> int | None:
        """Hand one message over; its ticket for `reading`, or None if it would have to wait.

        None when the pipe has no room for it beside what the worker has not answered (it
        may lag, or be stopped): read that one here. Raises WorkerDied.
        """
        self.start()
        assert self._tasks is not None
        if self._dead is not None:
            raise WorkerDied(self._dead)
        ticket = self._sent + 1
        data = pickle.dumps((ticket, direction, raw), protocol=pickle.HIGHEST_PROTOCOL)
        size = len(data) + _SEND_HEADER
        if sum(self._unanswered.values()) + size > self._room:
            return None
        try:
            self._tasks.send_bytes(data)
        except (OSError, ValueError) as exc:
            self._dead = f"{type(exc).__name__}: {exc}"
            raise WorkerDied(self._dead) from exc
        self._sent = ticket
        self._unanswered[ticket] = size
        return ticket

    def ready(self, ticket: int, within: float = 0.0) -> bool:
        """Whether `reading(ticket)` returns (or raises) at once, waiting up to `within` s."""
        if ticket in self._answers or self._dead is not None:
            return True
        self._collect(0)
        deadline = time.monotonic() + within
        while ticket not in self._answers and self._dead is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._collect(left)
        return True

    def reading(self, ticket: int) -> Reading:
        """The worker's `read` of that message, once `ready`. Raises WorkerDied."""
        if ticket in self._answers:
            return self._answers.pop(ticket)
        raise WorkerDied(self._dead or f"ticket {ticket} is not answered yet")

    def abandon(self, ticket: int) -> None:
        """Give up waiting for that ticket (it is read here): its answer is dropped on arrival."""
        if self._answers.pop(ticket, None) is None and ticket in self._unanswered:
            self._abandoned.add(ticket)

    def lagging(self) -> bool:
        """Whether an abandoned ticket is still unanswered: the worker has not caught up."""
        if self._abandoned:
            self._collect(0)
        return bool(self._abandoned) and self._dead is None

    def _collect(self, timeout: float) -> None:
        """Take in the answers that have come, waiting up to `timeout` s for the first."""
        assert self._poller is not None and self._results is not None
        if self._dead is not None or not self._poller.poll(timeout * 1000):
            return
        while True:
            try:
                chunk = os.read(self._results.fileno(), _READ_BYTES)
            except BlockingIOError:
                break
            except OSError as exc:
                self._dead = f"{type(exc).__name__}: {exc}"
                break
            if not chunk:  # every writing end is closed: the worker has ended
                assert self._process is not None
                self._process.join(timeout=1)
                self._dead = f"it ended with exit code {self._process.exitcode}"
                break
            self._partial += chunk
            if len(chunk) < _READ_BYTES:  # all there was
                break
        self._unpack()

    def _unpack(self) -> None:
        buf, at = self._partial, 0
        while len(buf) - at >= _FRAME.size:
            (length,) = _FRAME.unpack_from(buf, at)
            end = at + _FRAME.size + length
            if len(buf) < end:
                break
            ticket, reading = pickle.loads(buf[at + _FRAME.size : end])  # noqa: S301 - our own
            at = end
            del self._unanswered[ticket]
            if ticket in self._abandoned:
                self._abandoned.remove(ticket)
            else:
                self._answers[ticket] = reading
        del buf[:at]

    def close(self) -> None:
        """Stop the process, dropping what it has not answered; waits for it to end."""
        if self._process is None:
            return
        assert self._tasks is not None and self._results is not None
        self._tasks.close()
        self._results.close()  # a worker blocked answering stops too
        if self._unanswered:  # it lags or is stopped: what it would still read is not wanted
            self._process.kill()
        self._process.join(timeout=5)
        if self._process.is_alive():  # stuck in one message
            self._process.kill()
            self._process.join()
        self._process = None
        self._answers.clear()
        self._abandoned.clear()
        self._unanswered.clear()
        self._partial.clear()
        self._dead = None
