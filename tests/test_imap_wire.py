"""The FETCH reader on server answers written out by hand: the tricky shapes RFC 3501 allows.

A `Script` is a connection whose server side is fixed bytes; what the reader sends is kept.
The same reader runs against the real Dovecot in tests/test_staged_fetch.py.
"""

from __future__ import annotations

import imaplib
import io
import re
from typing import Any

import pytest

from followupd.mailbox.imap_wire import Pipeline, Request, Ticket, WireError, fetch_item

TAG = b"A7"


class Script:
    """A connection whose server answers are `answer`, read through a buffered file."""

    def __init__(self, answer: bytes) -> None:
        self.file = io.BufferedReader(io.BytesIO(answer))
        self.sent = b""

    def send(self, data: bytes) -> None:
        self.sent += data

    def readline(self) -> bytes:
        return self.file.readline()

    def read(self, size: int) -> bytes:
        return self.file.read(size)


def fetch_on(wire: Script, commands: list[tuple[bytes, Request]]) -> dict[int, dict[bytes, Any]]:
    """Send each command with its own tag, then read every answer."""
    tags = iter([tag for tag, _ in commands])
    pipeline = Pipeline(wire, lambda: next(tags))
    return pipeline.collect(pipeline.send([request for _, request in commands]))


def fetch(answer: bytes, uids: list[int] | None = None) -> dict[int, dict[bytes, object]]:
    """The answer read as the response to a FETCH of `uids` (default: the UIDs it names)."""
    named = [int(uid) for uid in re.findall(rb"UID (\d+)", answer)]
    return fetch_on(Script(answer), [(TAG, (uids or named or [1], [b"BODYSTRUCTURE"]))])


def test_the_command_names_runs_of_uids_as_ranges() -> None:
    script = Script(b"A7 OK done\r\n")
    fetch_on(script, [(TAG, ([9, 3, 4, 5, 7, 10, 4], [b"UID", b"BODY.PEEK[1]<0.100>"]))])
    assert script.sent == b"A7 UID FETCH 3:5,7,9:10 (UID BODY.PEEK[1]<0.100>)\r\n"


def test_sizes_structures_and_header_literals_as_imapclient_shapes_them() -> None:
    answer = (
        b'* 1 FETCH (UID 41 RFC822.SIZE 2048 BODYSTRUCTURE (("text" "plain" ("charset" "utf-8")'
        b' NIL NIL "7bit" 12 1 NIL NIL NIL NIL)("application" "pdf" ("name" "cv.pdf") NIL NIL'
        b' "base64" 900 NIL ("attachment" ("filename" "cv.pdf")) NIL NIL) "mixed"'
        b' ("boundary" "b1") NIL NIL NIL) BODY[HEADER.FIELDS (FROM SUBJECT)] {22}\r\n'
        b"Subject: Interview\r\n\r\n)\r\n"
        b"A7 OK Fetch completed.\r\n"
    )
    item = fetch(answer)[41]
    assert item[b"UID"] == 41 and item[b"RFC822.SIZE"] == 2048
    assert item[b"BODY[HEADER.FIELDS (FROM SUBJECT)]"] == b"Subject: Interview\r\n\r\n"
    text = (b"text", b"plain", (b"charset", b"utf-8"), None, None, b"7bit", b"12", b"1")
    pdf = (b"application", b"pdf", (b"name", b"cv.pdf"), None, None, b"base64", b"900", None)
    children, *rest = item[b"BODYSTRUCTURE"]  # type: ignore[misc]
    assert children == [
        (*text, None, None, None, None),
        (*pdf, (b"attachment", (b"filename", b"cv.pdf")), None, None),
    ]
    assert rest == [b"mixed", (b"boundary", b"b1"), None, None, None]


def test_a_literal_inside_a_structure_and_quoted_strings_with_escapes() -> None:
    # Servers send a parameter as a literal when it holds a quote or an 8-bit byte.
    answer = (
        b'* 1 FETCH (UID 5 BODYSTRUCTURE ("text" "plain" ("name" {13}\r\n'
        b'caf\xc3\xa9 "q".txt "x" "say \\"hi\\" \\\\ bye") NIL NIL "8bit" 3 1 NIL NIL NIL NIL))\r\n'
        b"A7 OK done\r\n"
    )
    structure = fetch(answer)[5][b"BODYSTRUCTURE"]
    assert structure[2] == (b"name", b'caf\xc3\xa9 "q".txt', b"x", b'say "hi" \\ bye')  # type: ignore[index]


def test_literals_of_any_content_and_empty_or_nil_bodies() -> None:
    body = b'line one\r\n) ( {5}\r\n"unbalanced\r\n'
    answer = (
        b"* 3 FETCH (UID 8 BODY[1]<0> {%d}\r\n" % len(body)
        + body
        + b" BODY[2] {0}\r\n BODY[3] NIL body[4] nil)\r\nA7 OK done\r\n"
    )
    item = fetch(answer)[8]
    assert item[b"BODY[1]<0>"] == body
    assert item[b"BODY[2]"] == b""
    assert item[b"BODY[3]"] is None and item[b"BODY[4]"] is None


def test_runs_of_nil_are_nones_and_atoms_that_start_with_nil_stay_atoms() -> None:
    answer = (
        b'* 1 FETCH (UID 6 BODYSTRUCTURE ("text" "plain" NIL NIL NIL "7bit" 3 1 NIL nil NIL'
        b' NILS (NIL NIL) NIL.X "NIL" NIL NIL))\r\n'
        b"A7 OK done\r\n"
    )
    assert fetch(answer)[6][b"BODYSTRUCTURE"] == (
        b"text", b"plain", None, None, None, b"7bit", b"3", b"1", None, None, None,
        b"NILS", (None, None), b"NIL.X", b"NIL", None, None,
    )  # fmt: skip


def test_other_untagged_answers_are_skipped_and_split_answers_merged() -> None:
    answer = (
        b"* 12 EXISTS\r\n"
        b"* 2 EXPUNGE\r\n"
        b"* OK [HIGHESTMODSEQ 7] still here\r\n"
        b"* 1 FETCH (UID 4 RFC822.SIZE 10)\r\n"
        b"* 2 FETCH (FLAGS (\\Seen \\Answered))\r\n"  # unsolicited: no UID, not ours
        b"* 3 FETCH (FLAGS (\\Flagged) MODSEQ (9) BODY[TEXT] {2}\r\nhi)\r\n"
        b"* 1 FETCH (UID 4 BODYSTRUCTURE NIL)\r\n"
        b"A7 OK done\r\n"
    )
    assert fetch(answer, [4]) == {4: {b"UID": 4, b"RFC822.SIZE": 10, b"BODYSTRUCTURE": None}}


@pytest.mark.parametrize("status", [b"NO [SERVERBUG] Internal error", b"BAD Error in IMAP command"])
def test_a_refused_fetch_raises_an_imap_error_naming_the_reason(status: bytes) -> None:
    reason = re.escape(status.split(b" ", 1)[1].decode())
    with pytest.raises(imaplib.IMAP4.error, match=reason) as caught:
        fetch(b"* 1 FETCH (UID 4 RFC822.SIZE 10)\r\nA7 " + status + b"\r\n")
    assert "UID FETCH failed" in str(caught.value)
    assert not isinstance(caught.value, imaplib.IMAP4.abort)


@pytest.mark.parametrize(
    "answer",
    [
        b"",
        b"* 1 FETCH (UID 4 BODY[] {100}\r\nonly part of the literal",
        b"* 1 FETCH (UID 4 BODY[] {4}\r\nfull",
        b"* 1 FETCH (UID 4 RFC822.SIZE 1",
        b"* 1 FETCH (UID 4 RFC822.SIZE 10)\r\n",
        b"* BYE Shutting down\r\n",
    ],
    ids=["nothing", "inside-literal", "after-literal", "inside-line", "before-tag", "bye"],
)
def test_a_connection_ending_mid_answer_raises_abort(answer: bytes) -> None:
    # imaplib.IMAP4.abort is what imaplib raises for a lost connection: the mailbox drops
    # the connection and the daemon reconnects.
    with pytest.raises(imaplib.IMAP4.abort):
        fetch(answer)


@pytest.mark.parametrize(
    "text",
    [
        b'(UID 4 BODYSTRUCTURE ("text" "plain")',
        b"(UID 4))",
        b'(UID 4 X "unterminated)',
        b"(UID 4 X ])",
        b"UID 4",
        b"(UID 4 RFC822.SIZE)",
        b"(UID 4 RFC822.SIZE (12))",
    ],
)
def test_a_malformed_answer_is_a_clear_error_not_a_wrong_value(text: bytes) -> None:
    with pytest.raises(WireError, match="UID 4"):
        fetch_item(text, [])


def test_an_unexpected_line_is_refused_rather_than_skipped() -> None:
    with pytest.raises(WireError, match="unexpected response"):
        fetch(b"+ go ahead\r\nA7 OK done\r\n")


def test_pipelined_commands_go_out_together_and_every_answer_is_read() -> None:
    answer = (
        b"* 1 FETCH (UID 4 BODY[1]<0> {2}\r\nhi)\r\n"
        b"A1 OK done\r\n"
        b"* 2 FETCH (UID 6 BODY[2]<0> {3}\r\nyou)\r\n"
        b"A2 OK done\r\n"
    )
    script = Script(answer)
    found = fetch_on(
        script, [(b"A1", ([4], [b"BODY.PEEK[1]<0.9>"])), (b"A2", ([6], [b"BODY.PEEK[2]<0.9>"]))]
    )
    assert script.sent == (
        b"A1 UID FETCH 4 (BODY.PEEK[1]<0.9>)\r\nA2 UID FETCH 6 (BODY.PEEK[2]<0.9>)\r\n"
    )
    assert found == {4: {b"UID": 4, b"BODY[1]<0>": b"hi"}, 6: {b"UID": 6, b"BODY[2]<0>": b"you"}}


def test_one_refused_command_of_several_raises_after_all_are_answered() -> None:
    script = Script(
        b"A1 NO [SERVERBUG] broken\r\n* 2 FETCH (UID 6 RFC822.SIZE 3)\r\nA2 OK done\r\n"
        b"* 3 EXISTS\r\n"
    )
    requests = [(b"A1", ([4], [b"RFC822.SIZE"])), (b"A2", ([6], [b"RFC822.SIZE"]))]
    with pytest.raises(imaplib.IMAP4.error, match="SERVERBUG"):
        fetch_on(script, requests)
    # Read up to the last completion, and no further: the connection is still in step.
    assert script.readline() == b"* 3 EXISTS\r\n"


def two_in_flight() -> tuple[Script, Pipeline, Ticket, Ticket]:
    """Two FETCH commands sent, their answers waiting on the connection in order."""
    script = Script(
        b"* 1 FETCH (UID 10 RFC822.SIZE 100)\r\nT1 OK done\r\n"
        b"* 2 FETCH (UID 20 RFC822.SIZE 200)\r\nT2 OK done\r\n"
    )
    tags = iter([b"T1", b"T2"])
    pipeline = Pipeline(script, lambda: next(tags))
    first = pipeline.send([([10], [b"RFC822.SIZE"])])
    second = pipeline.send([([20], [b"RFC822.SIZE"])])
    return script, pipeline, first, second


def test_a_ticket_collected_later_keeps_its_answers() -> None:
    """Two commands in flight: collecting the second reads the first's answer on the way."""
    script, pipeline, first, second = two_in_flight()
    assert script.sent.count(b"UID FETCH") == 2 and not pipeline.idle
    assert pipeline.collect(second) == {20: {b"UID": 20, b"RFC822.SIZE": 200}}
    assert pipeline.idle
    assert pipeline.collect(first) == {10: {b"UID": 10, b"RFC822.SIZE": 100}}


def test_collecting_the_first_ticket_leaves_the_second_in_flight() -> None:
    _script, pipeline, first, second = two_in_flight()
    assert list(pipeline.collect(first)) == [10]
    assert not pipeline.idle  # the second answer is still unread on the connection
    assert list(pipeline.collect(second)) == [20]
    assert pipeline.idle
