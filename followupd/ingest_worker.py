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

import os
import select
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


class WorkerDied(Exception):
    """The worker process is gone; what it has not answered must be read here."""


def _serve(tasks: Connection, results: Connection, zone: ZoneInfo, me: tuple[str, ...]) -> None:
    """The worker's loop: read each message sent on `tasks`, answer on `results`.

    A thread receives, so the main process never waits to send while this one waits for
    it to take an answer. Ends when `tasks` is closed.
    """
    import queue  # noqa: PLC0415 - in the worker only
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from followupd.recognise import default_phrasebook  # noqa: PLC0415 - heavy

    # Ctrl-C in a terminal reaches the whole process group: the main process stops this one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Its work waits in a queue; the scan and the mail server are what the user waits for.
    # Even at nice +5 it delayed Dovecot's answers on a 2-core machine, and the scan waited
    # for them as long as the worker saved it: SCHED_IDLE runs it only on an idle core.
    if hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    else:
        os.nice(WORKER_NICENESS)
    default_phrasebook()  # loaded before the first message
    inbox: queue.SimpleQueue[tuple[int, str, bytes] | None] = queue.SimpleQueue()

    def receive() -> None:
        try:
            while True:
                inbox.put(tasks.recv())
        except (EOFError, OSError):
            inbox.put(None)

    threading.Thread(target=receive, name="receive", daemon=True).start()
    while (task := inbox.get()) is not None:
        ticket, direction, raw = task
        reading = read(raw, direction=direction, zone=zone, me_addresses=me)
        try:
            results.send((ticket, reading))
        except OSError:
            return  # the main process has gone


def spare_core() -> bool:
    """Whether a core is free for the worker besides the scan's own.

    On a machine whose cores are busy already, a worker only takes CPU from the scan and
    the mail server (measured in benchmarks/first_scan.py --compare-inline): the
    1-minute load average must leave a core idle.
    """
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this system: assume a quiet machine
        load = 0.0
    return cores >= 2 and load < cores - 1


class Worker:
    """One spawned process reading candidates, started when first needed.

    Spawned, never forked: the daemon has threads (IDLE), which a fork would copy mid-step.
    Plain pipes, no helper threads here: a thread in this process would take the GIL
    from the scan at every message handed over or answered.
    """

    def __init__(self, zone: ZoneInfo, me_addresses: Collection[str]) -> None:
        self.broken = False
        self._args = (zone, tuple(sorted(me_addresses)))
        self._process: BaseProcess | None = None
        self._tasks: Connection | None = None
        self._results: Connection | None = None
        self._poller: select.poll | None = None  # of `_results`: asked after every message
        self._sent = 0
        self._answers: dict[int, Reading] = {}

    def start(self) -> None:
        """Start the process now, so it is ready when the first candidate comes."""
        if self._process is not None:
            return
        import multiprocessing  # noqa: PLC0415 - only for big scans

        ctx = multiprocessing.get_context("spawn")
        task_reader, self._tasks = ctx.Pipe(duplex=False)
        self._results, result_writer = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=_serve,
            args=(task_reader, result_writer, *self._args),
            name="followupd-reader",
            daemon=True,
        )
        self._process.start()
        # Only the worker holds these ends now: its death reads as EOF here.
        task_reader.close()
        result_writer.close()
        self._poller = select.poll()
        self._poller.register(self._results.fileno(), select.POLLIN)

    def submit(self, raw: bytes, direction: str) -> int:
        """Hand one message over; returns its ticket for `reading`. Raises WorkerDied."""
        self.start()
        assert self._tasks is not None
        self._sent += 1
        try:
            self._tasks.send((self._sent, direction, raw))
        except (OSError, ValueError) as exc:
            raise WorkerDied(f"{type(exc).__name__}: {exc}") from exc
        return self._sent

    def ready(self, ticket: int) -> bool:
        """Whether `reading(ticket)` would return (or raise) at once."""
        assert self._poller is not None
        # One poll(2), not `connection.wait`, which builds a selector every time.
        return ticket in self._answers or bool(self._poller.poll(0))

    def reading(self, ticket: int) -> Reading:
        """The worker's `read` of that message, waiting for it. Raises WorkerDied."""
        while ticket not in self._answers:
            self._collect(None)
        return self._answers.pop(ticket)

    def _collect(self, timeout: float | None) -> None:
        from multiprocessing.connection import wait  # noqa: PLC0415

        assert self._results is not None and self._process is not None
        try:
            while ready := wait([self._results, self._process.sentinel], timeout):
                if self._results not in ready:
                    raise WorkerDied(f"it ended with exit code {self._process.exitcode}")
                ticket, reading = self._results.recv()
                self._answers[ticket] = reading
                timeout = 0
        except (EOFError, OSError) as exc:
            raise WorkerDied(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        """Stop the process, dropping what it has not answered; waits for it to end."""
        if self._process is None:
            return
        assert self._tasks is not None and self._results is not None
        self._tasks.close()
        self._results.close()  # a worker blocked answering stops too
        self._process.join(timeout=5)
        if self._process.is_alive():  # stuck in one message
            self._process.kill()
            self._process.join()
        self._process = None
        self._answers.clear()
