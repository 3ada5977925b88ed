"""What the worker process computes, and how the scan keeps order around it: plain data.

`read` + `settle` must give what `parse_message` + `recognise` give inline, for every
labelled message, threaded or not; `id_fields` must never hide an id the parser reads.
Some tests start a real worker process: the order and the in-flight bound, a worker
stopped (SIGSTOP) and continued, and its scheduling.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followupd.ingest_order import GRACE_SECONDS, MAX_IN_FLIGHT, Lane, id_fields, may_hold
from followupd.ingest_worker import WORKER_NICENESS, Failure, Reading, Worker, read, settle
from followupd.mailbox.base import Fetched, Screened
from followupd.model import Kind, ParsedMessage
from followupd.parse import MalformedMessage, parse_message, synthesise_message_id
from followupd.recognise import recognise

TESTS = Path(__file__).parent
BERLIN = ZoneInfo("Europe/Berlin")
ME = {"jane@example.com"}
# Long enough for the worker (it runs on idle CPU time only) on a machine busy with others.
SLOW = 120.0


def labelled() -> list[Path]:
    return sorted(TESTS.glob("samples/*.eml")) + sorted(TESTS.glob("corpus/*/*.eml"))


def test_the_worker_reads_every_labelled_message_as_inline_threaded_or_not() -> None:
    kinds = set()
    for path in labelled():
        raw = path.read_bytes()
        reading = read(raw, direction="in", zone=BERLIN, me_addresses=ME)
        msg = parse_message(raw, default_tz=BERLIN)
        assert reading.msg == msg, path.name
        for threaded in (False, True):
            inline = recognise(msg, me_addresses=ME, tz=BERLIN, facts_for_other=threaded)
            assert settle(reading, threaded) == inline, (path.name, threaded)
            kinds.add(inline.kind)
    # Both branches were exercised: job mail and other mail, with and without facts.
    assert Kind.OTHER in kinds and len(kinds) > 4


def test_sent_mail_is_parsed_not_recognised() -> None:
    raw = (TESTS / "samples" / "01_invite_google_acme.eml").read_bytes()
    reading = read(raw, direction="out", zone=BERLIN, me_addresses=ME)
    assert isinstance(reading.msg, ParsedMessage)
    assert settle(reading, threaded=True) is None


def test_the_persons_own_mail_gets_the_same_short_answer() -> None:
    raw = b"From: Jane Doe <jane@example.com>\r\nSubject: Interview on Monday\r\n\r\nSee you.\r\n"
    reading = read(raw, direction="in", zone=BERLIN, me_addresses=ME)
    msg = parse_message(raw, default_tz=BERLIN)
    for threaded in (False, True):
        expected = recognise(msg, me_addresses=ME, tz=BERLIN, facts_for_other=threaded)
        assert settle(reading, threaded) == expected
        assert expected.evidence == ("sender: your own address",)


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x00\x01 not a message at all"])
def test_unreadable_input_is_the_same_failure_as_inline(raw: bytes) -> None:
    reading = read(raw, direction="in", zone=BERLIN, me_addresses=ME)
    with pytest.raises(MalformedMessage) as inline:
        parse_message(raw, default_tz=BERLIN)
    assert reading.msg == Failure(True, "MalformedMessage", str(inline.value), reading.msg.trace)
    assert "MalformedMessage" in reading.msg.trace


def test_any_other_exception_becomes_a_failure_with_its_type() -> None:
    try:
        {}["missing"]
    except KeyError as exc:
        failure = Failure.of(exc)
    assert (failure.malformed, failure.name, failure.text) == (False, "KeyError", "'missing'")
    assert "KeyError" in failure.trace


# -- id_fields: which thread ids a candidate still being read may bring ---------------


def test_every_id_the_parser_reads_is_in_the_id_fields() -> None:
    for path in labelled():
        raw = path.read_bytes()
        msg = parse_message(raw, default_tz=BERLIN)
        fields = id_fields(raw)
        for i in (msg.message_id, msg.in_reply_to, *msg.references):
            if i:
                assert may_hold(fields, [i]), (path.name, i)


def test_ids_that_are_nowhere_in_the_header_are_ruled_out() -> None:
    raw = (
        b"From: a@example.org\r\nMessage-ID: <one@example.org>\r\n"
        b"References: <two@example.org>\r\n <three@example.org>\r\n"
        b"Subject: see <four@example.org>\r\n\r\nbody <five@example.org>\r\n"
    )
    fields = id_fields(raw)
    assert may_hold(fields, ["three@example.org"])  # on a continuation line
    assert may_hold(fields, ["x@y", "two@example.org"])
    for elsewhere in ("four@example.org", "five@example.org", "six@example.org"):
        assert not may_hold(fields, [elsewhere])


def test_what_cannot_be_ruled_out_cheaply_may_always_hold() -> None:
    encoded = b"Message-ID: <a@b>\r\nReferences: =?utf-8?q?=3Cx=40y=3E?=\r\n\r\n"
    assert id_fields(encoded) is None and may_hold(None, ["x@y"])
    eight_bit = "In-Reply-To: <ünï@example.org>\r\n\r\n".encode()
    assert id_fields(eight_bit) is None
    # A message without a Message-ID gets one made from its bytes, found in none of them.
    synthesised = synthesise_message_id(b"From: a@b\r\n\r\nhi\r\n")
    assert may_hold(id_fields(b"From: a@b\r\n\r\nhi\r\n"), [synthesised])


def test_the_header_ends_at_the_first_empty_line_whatever_the_line_breaks() -> None:
    for brk in (b"\r\n", b"\n", b"\r"):
        raw = b"Message-ID: <a@b>" + brk + brk + b"References: <c@d>" + brk
        assert id_fields(raw) == b" <a@b>"
        assert parse_message(raw, default_tz=BERLIN).references == ()


# -- the order, with a real worker process ---------------------------------------------


def candidate(n: int) -> bytes:
    """A message of its own (its Message-ID says which): an answer for another one shows."""
    return (
        f"From: Recruiter {n} <hr{n}@acme.example>\r\nTo: Jane Doe <jane@example.com>\r\n"
        f"Subject: Interview invitation {n}\r\nMessage-ID: <c{n}@acme.example>\r\n\r\n"
        f"We would like to invite you to an interview for the role {n}.\r\n"
    ).encode()


def warmed_up(worker: Worker) -> int:
    """Wait until the worker process answers (spawning it takes a moment); its pid."""
    ticket = worker.submit(candidate(0), "in")
    assert ticket is not None and worker.ready(ticket, within=SLOW)
    assert isinstance(worker.reading(ticket).msg, ParsedMessage)
    (process,) = multiprocessing.active_children()
    assert process.pid is not None
    return process.pid


class Recording:
    """A Lane over a real worker whose `take` and `record_screened` note what they get."""

    def __init__(self, worker: Worker, grace: float = GRACE_SECONDS) -> None:
        self.recorded: list[str] = []
        self.by_worker: list[str] = []
        self.most = 0
        self.lane = Lane(
            direction="in",
            record_screened=lambda batch: self.recorded.extend(item.key for item in batch),
            take=self.take,
            threaded=lambda ids: False,
            worker=worker,
            grace=grace,
        )

    def take(self, fetched: Fetched, reading: Reading | None) -> None:
        self.most = max(self.most, self.lane.in_flight)
        if reading is not None:  # it must be this message's reading, not another one's
            assert isinstance(reading.msg, ParsedMessage)
            assert reading.msg.message_id == f"c{int(fetched.key)}@acme.example"
            self.by_worker.append(fetched.key)
        self.recorded.append(fetched.key)

    def add(self, count: int, first: int = 1) -> list[str]:
        """`count` messages, every third one screened out; their keys."""
        keys = []
        for n in range(first, first + count):
            key = f"{n:04d}"
            keys.append(key)
            if n % 3 == 2:
                self.lane.add(Screened("INBOX", key, 0, f"s{n}@x", "no job words"))
            else:
                self.lane.add(Fetched("INBOX", key, 0, candidate(n)))
            self.most = max(self.most, self.lane.in_flight)
        return keys


def test_results_come_back_in_order_and_few_are_in_flight() -> None:
    worker = Worker(BERLIN, ME)
    try:
        warmed_up(worker)
        # Waiting as long as it takes: a busy machine could make the worker late otherwise.
        scan = Recording(worker, grace=SLOW)
        keys = scan.add(3 * MAX_IN_FLIGHT)
        scan.lane.finish()
    finally:
        worker.close()
    assert scan.recorded == keys  # screened ones never overtake a candidate being read
    assert len(scan.by_worker) == scan.lane.by_worker == 2 * MAX_IN_FLIGHT
    assert MAX_IN_FLIGHT // 2 < scan.most <= MAX_IN_FLIGHT


def test_a_stopped_worker_is_not_waited_for_and_its_late_answers_are_dropped() -> None:
    worker = Worker(BERLIN, ME)
    try:
        pid = warmed_up(worker)
        os.kill(pid, signal.SIGSTOP)
        scan = Recording(worker)
        keys = scan.add(3 * MAX_IN_FLIGHT)
        scan.lane.finish()  # returns: what the worker holds is read here
        assert scan.recorded == keys  # each once, in order
        assert scan.by_worker == [] and scan.lane.taken_back > 0
        assert worker.lagging()
        os.kill(pid, signal.SIGCONT)
        # It answers what it was given; those answers are dropped, and the next message
        # handed over gets its own answer.
        ticket = worker.submit(candidate(999), "in")
        assert ticket is not None and worker.ready(ticket, within=SLOW)
        reading = worker.reading(ticket)
        assert isinstance(reading.msg, ParsedMessage)
        assert reading.msg.message_id == "c999@acme.example"
        assert not worker.lagging()
        assert not any(worker.ready(t) for t in range(1, ticket))  # none kept, none twice
    finally:
        worker.close()


def test_a_worker_stopped_for_a_while_catches_up_and_is_used_again() -> None:
    worker = Worker(BERLIN, ME)
    try:
        pid = warmed_up(worker)
        scan = Recording(worker)
        os.kill(pid, signal.SIGSTOP)
        keys = scan.add(2 * MAX_IN_FLIGHT)
        assert scan.lane.taken_back > 0  # the in-flight limit did not wait for it
        os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + SLOW
        while worker.lagging() and time.monotonic() < deadline:  # its late answers come
            time.sleep(0.01)
        scan.lane.grace = SLOW  # a busy machine could make it late again otherwise
        later = scan.add(2 * MAX_IN_FLIGHT, first=len(keys) + 1)
        scan.lane.finish()
    finally:
        worker.close()
    assert scan.recorded == keys + later  # each once, in order; answers only for their message
    assert set(scan.by_worker) & set(later)  # handed over again once it had caught up


def test_the_worker_only_takes_cpu_time_nothing_else_wants() -> None:
    # Not even the mail server's: the scan waits for its answers.
    worker = Worker(BERLIN, ME)
    try:
        worker.start()
        if hasattr(os, "SCHED_IDLE"):  # Linux: from the start, before its imports
            (process,) = multiprocessing.active_children()
            assert process.pid is not None
            assert os.sched_getscheduler(process.pid) == os.SCHED_IDLE
        pid = warmed_up(worker)
        if hasattr(os, "SCHED_IDLE"):
            assert os.sched_getscheduler(pid) == os.SCHED_IDLE
        else:
            ours = os.getpriority(os.PRIO_PROCESS, 0)
            assert os.getpriority(os.PRIO_PROCESS, pid) == ours + WORKER_NICENESS
    finally:
        worker.close()
