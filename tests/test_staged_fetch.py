"""Staged IMAP fetch on the real Dovecot: what is read, what is not, and what it decides.

Every labelled sample and corpus message is delivered to bob's INBOX together with ordinary
mail and big attachments; the staged fetch must hand over every message recognition calls
job mail, recognise it exactly as from the whole message, never fetch an attachment other
than a calendar, never body-fetch mail its headers rule out, and mark nothing \\Seen.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from followupd.mailbox.base import Fetched, Screened
from followupd.mailbox.imap import ImapMailbox
from followupd.mailbox.imap_fetch import (
    CANDIDATE_BYTES,
    HEADER_ITEM,
    TEXT_LIMIT,
    Leaf,
    Multipart,
    bounded_messages,
    staged_fetch,
    structure,
    within_budget,
)
from followupd.mailbox.imap_wire import Pipeline, Request, Ticket, fetch_fast
from followupd.model import Kind
from followupd.parse import parse_message
from followupd.prefilter import FIELDS, Screen
from followupd.recognise import default_phrasebook, recognise
from tests.dovecot import Dovecot

pytestmark = pytest.mark.imap

TESTS = Path(__file__).parent
BERLIN = ZoneInfo("Europe/Berlin")
ME = {"jane@example.com"}
USER = "bob"
ATTACHMENT_MARK = b"ATTACHMENT-PAYLOAD-NEVER-FETCHED"


def crlf(raw: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", raw)


def labelled_mail() -> list[Path]:
    """Every sample and corpus message (the corpus as far as it exists on this branch)."""
    return sorted(TESTS.glob("samples/*.eml")) + sorted(TESTS.glob("corpus/*/*.eml"))


def with_attachment(subject: str, body: str, message_id: str) -> bytes:
    """A multipart/mixed message: a text part and a 600 KB PDF that must never be fetched."""
    payload = ATTACHMENT_MARK * (600_000 // len(ATTACHMENT_MARK))
    pdf = base64.encodebytes(payload).decode("ascii")
    return crlf(
        (
            "From: Sam Ortiz <sam@example.org>\n"
            "To: Jane Doe <jane@example.com>\n"
            f"Subject: {subject}\n"
            "Date: Tue, 03 Nov 2026 10:00:00 +0100\n"
            f"Message-ID: <{message_id}>\n"
            "MIME-Version: 1.0\n"
            'Content-Type: multipart/mixed; boundary="outer"\n\n'
            "--outer\nContent-Type: text/plain; charset=utf-8\n\n"
            f"{body}\n"
            "--outer\n"
            'Content-Type: application/pdf; name="scan.pdf"\n'
            'Content-Disposition: attachment; filename="scan.pdf"\n'
            "Content-Transfer-Encoding: base64\n\n"
            f"{pdf}"
            "--outer--\n"
        ).encode()
    )


NEWSLETTER = crlf(
    b"From: City Museum <newsletter@museum.example>\n"
    b"To: Jane Doe <jane@example.com>\n"
    b"Subject: This month at the museum\n"
    b"Date: Tue, 03 Nov 2026 10:00:00 +0100\n"
    b"Message-ID: <news.1@museum.example>\n"
    b"List-Id: <museum.example>\n"
    b"List-Unsubscribe: <mailto:unsubscribe@museum.example>\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: text/plain; charset=utf-8\n\n"
    b"New paintings in the east wing. Opening hours change in December.\n"
)
INVITATION_WITH_PDF = with_attachment(
    "Interview invitation - Data Analyst",
    "Dear Jane,\n\nwe would like to invite you to an interview for the Data Analyst role"
    " at Initech on Tuesday, 24 November 2026 at 14:00 CET.\n\nBest regards,\nPriya Shah",
    "att.2@example.org",
)
HOLIDAY_PHOTOS = with_attachment(
    "photos from the trip", "Hi Jane,\n\nhere they are!\n\nSam", "att.1@example.org"
)


class Recorder:
    """A fetch function over a real connection that notes which items each UID was sent."""

    def __init__(self, client: Any) -> None:
        self.pipeline = Pipeline.over(client)
        self.items: dict[int, list[bytes]] = {}
        self.commands = 0
        self.round_trips = 0

    def send(self, requests: Sequence[Request]) -> Ticket:
        self.round_trips += 1
        self.commands += len(requests)
        for uids, items in requests:
            for uid in uids:
                self.items.setdefault(uid, []).extend(items)
        return self.pipeline.send(requests)

    def collect(self, ticket: Ticket) -> dict[int, dict[bytes, Any]]:
        return self.pipeline.collect(ticket)

    def __call__(self, requests: Sequence[Request]) -> dict[int, dict[bytes, Any]]:
        return self.collect(self.send(requests))

    def bodies(self, uid: int) -> list[bytes]:
        """Body sections fetched for uid, other than the screening header fields."""
        return [
            i
            for i in self.items.get(uid, [])
            if i.startswith(b"BODY") and b"HEADER.FIELDS" not in i
        ]


@pytest.fixture(scope="module")
def seeded(dovecot: Dovecot) -> dict[int, bytes]:
    """bob's INBOX with every labelled message and the three above; {uid: raw}."""
    dovecot.reset(USER)
    raws = [crlf(p.read_bytes()) for p in labelled_mail()]
    raws += [NEWSLETTER, INVITATION_WITH_PDF, HOLIDAY_PHOTOS]
    return {dovecot.append(USER, "INBOX", raw): raw for raw in raws}


def screen() -> Screen:
    return Screen(default_phrasebook(), "in", threaded=lambda ids: False, ours=lambda mid: False)


def run_staged(dovecot: Dovecot, uids: list[int]) -> tuple[list[Fetched | Screened], Recorder]:
    with dovecot.client(USER) as client:
        client.select_folder("INBOX", readonly=True)
        recorder = Recorder(client)
        return list(staged_fetch(recorder, "INBOX", uids, screen())), recorder


def full_recognition(raw: bytes) -> Any:
    return recognise(parse_message(raw, default_tz=BERLIN), me_addresses=ME, tz=BERLIN)


def test_job_mail_is_fetched_and_recognised_as_from_the_whole_message(
    dovecot: Dovecot, seeded: dict[int, bytes]
) -> None:
    items, _ = run_staged(dovecot, sorted(seeded))
    assert [i.uid for i in items] == sorted(seeded)
    for item in items:
        expected = full_recognition(seeded[item.uid])
        if isinstance(item, Fetched):
            assert full_recognition(item.raw) == expected, item.uid
        else:
            assert expected.kind == Kind.OTHER, (item.uid, item.reason, expected)
    fetched = [i for i in items if isinstance(i, Fetched)]
    assert len(fetched) >= sum(
        1 for raw in seeded.values() if full_recognition(raw).kind.value != "other"
    )


def test_attachments_are_never_fetched(dovecot: Dovecot, seeded: dict[int, bytes]) -> None:
    items, recorder = run_staged(dovecot, sorted(seeded))
    by_raw = {raw: uid for uid, raw in seeded.items()}
    invitation = next(i for i in items if i.uid == by_raw[INVITATION_WITH_PDF])
    assert isinstance(invitation, Fetched)
    assert ATTACHMENT_MARK not in invitation.raw
    assert b"scan.pdf" not in invitation.raw
    assert len(invitation.raw) < 5000 < len(INVITATION_WITH_PDF) // 100
    assert full_recognition(invitation.raw).kind == Kind.INVITATION
    # No FETCH ever named the attachment's section (2) or the whole message.
    for uid in seeded:
        for item in recorder.bodies(uid):
            assert not item.startswith((b"BODY.PEEK[]", b"RFC822", b"BODY[")), item
            if uid in (by_raw[INVITATION_WITH_PDF], by_raw[HOLIDAY_PHOTOS]):
                assert not item.startswith(b"BODY.PEEK[2]"), item


def test_mail_ruled_out_by_its_headers_is_not_body_fetched(
    dovecot: Dovecot, seeded: dict[int, bytes]
) -> None:
    items, recorder = run_staged(dovecot, sorted(seeded))
    by_raw = {raw: uid for uid, raw in seeded.items()}
    newsletter = next(i for i in items if i.uid == by_raw[NEWSLETTER])
    assert isinstance(newsletter, Screened)
    assert newsletter.message_id == "news.1@museum.example"
    assert "list mail" in newsletter.reason
    assert recorder.bodies(newsletter.uid) == [b"BODYSTRUCTURE"]
    photos = next(i for i in items if i.uid == by_raw[HOLIDAY_PHOTOS])
    assert isinstance(photos, Screened)
    # Personal mail is probed: the top of its text part, nothing more.
    assert recorder.bodies(photos.uid) == [b"BODYSTRUCTURE", b"BODY.PEEK[1]<0.4096>"]


def test_nothing_is_marked_seen(dovecot: Dovecot, seeded: dict[int, bytes]) -> None:
    mailbox = ImapMailbox("bob", dovecot.imap_settings(USER))
    try:
        items = list(mailbox.fetch_screened("INBOX", 0, set(), screen()))
    finally:
        mailbox.close()
    assert {i.uid for i in items} == set(seeded)
    flags = {uid: f for uid, f, _raw in dovecot.fetch_all(USER, "INBOX")}
    assert all(b"\\Seen" not in f for f in flags.values())


def test_known_keys_and_cursor_are_respected(dovecot: Dovecot, seeded: dict[int, bytes]) -> None:
    uids = sorted(seeded)
    mailbox = ImapMailbox("bob", dovecot.imap_settings(USER))
    try:
        items = list(mailbox.fetch_screened("INBOX", uids[4], {str(uids[6])}, screen()))
    finally:
        mailbox.close()
    assert [i.uid for i in items] == [u for u in uids[5:] if u != uids[6]]


def test_body_structure_of_a_calendar_invitation(dovecot: Dovecot) -> None:
    raw = crlf((TESTS / "samples" / "01_invite_google_acme.eml").read_bytes())
    uid = dovecot.append(USER, "Drafts", raw)
    with dovecot.client(USER) as client:
        client.select_folder("Drafts", readonly=True)
        tree = structure(client.fetch([uid], ["BODYSTRUCTURE"])[uid][b"BODYSTRUCTURE"])
    assert isinstance(tree, Multipart) and isinstance(tree.children[0], Multipart)
    alternative = tree.children[0]
    kinds = [(c.section, c.ctype) for c in alternative.children if isinstance(c, Leaf)]
    assert kinds == [("1.1", "text/plain"), ("1.2", "text/html"), ("1.3", "text/calendar")]
    ics = tree.children[1]
    assert isinstance(ics, Leaf) and ics.calendar and ics.attachment and ics.kept


def test_fast_reader_agrees_with_imapclient(dovecot: Dovecot, seeded: dict[int, bytes]) -> None:
    uids = sorted(seeded)
    items = [b"RFC822.SIZE", b"BODYSTRUCTURE", HEADER_ITEM, b"BODY.PEEK[1]<0.300>"]
    with dovecot.client(USER) as client:
        client.select_folder("INBOX", readonly=True)
        slow = client.fetch(uids, items)
        fast = fetch_fast(client, [(uids, items)])
    assert sorted(fast) == uids
    header_key = next(k for k in slow[uids[0]] if k.startswith(b"BODY[HEADER.FIELDS"))
    for uid in uids:
        assert fast[uid][b"RFC822.SIZE"] == slow[uid][b"RFC822.SIZE"] == len(seeded[uid])
        assert fast[uid][header_key] == slow[uid][header_key]
        assert fast[uid][b"BODY[1]<0>"] == slow[uid][b"BODY[1]<0>"]
        assert structure(fast[uid][b"BODYSTRUCTURE"]) == structure(slow[uid][b"BODYSTRUCTURE"])


def threads_folder(dovecot: Dovecot) -> str:
    with dovecot.client(USER) as client:
        if not client.folder_exists("Threads"):
            client.create_folder("Threads")
    return "Threads"


@pytest.mark.parametrize("batch", [500, 1], ids=["same-batch", "next-batch"])
def test_a_reply_to_mail_tracked_earlier_is_read(dovecot: Dovecot, batch: int) -> None:
    """The reply is judged before the first message is recorded (in the same batch, or
    as the batch after it: judged ahead); it is read all the same."""
    reply = crlf(
        b"From: Sam Ortiz <sam@example.org>\nTo: Jane Doe <jane@example.com>\n"
        b"Subject: Re: photos from the trip\nDate: Tue, 03 Nov 2026 11:00:00 +0100\n"
        b"Message-ID: <reply.1@example.org>\nIn-Reply-To: <att.1@example.org>\n"
        b"Content-Type: text/plain; charset=utf-8\n\nI will bring the slides.\n"
    )
    folder = threads_folder(dovecot)
    first = dovecot.append(USER, folder, HOLIDAY_PHOTOS)
    second = dovecot.append(USER, folder, reply)
    tracked: set[str] = set()
    judge = Screen(
        default_phrasebook(), "in", threaded=lambda ids: bool(tracked & set(ids)), ours=bool
    )
    with dovecot.client(USER) as client:
        client.select_folder(folder, readonly=True)
        items = staged_fetch(Recorder(client), folder, [first, second], judge, batch=batch)
        assert isinstance(next(items), Screened)
        tracked.add("att.1@example.org")  # as if the pipeline had tracked the first one
        answer = next(items)
    assert isinstance(answer, Fetched) and b"bring the slides" in answer.raw


def plain(headers: str, body: str) -> bytes:
    return crlf(
        (
            "From: Sam Ortiz <sam@example.org>\nTo: Jane Doe <jane@example.com>\n"
            f"Date: Tue, 03 Nov 2026 11:00:00 +0100\n{headers}"
            "Content-Type: text/plain; charset=utf-8\n\n"
            f"{body}\n"
        ).encode()
    )


def test_replies_to_mail_passed_by_its_probe_a_batch_earlier_are_read(dovecot: Dovecot) -> None:
    """A batch is judged before the probes of the batch before it are: a reply to mail
    whose probe found a job phrase is judged before that is known, and must still be read
    as job mail, and so must a reply to that reply."""
    invitation = crlf((TESTS / "samples" / "03_invite_text_initech.eml").read_bytes())
    invitation = re.sub(rb"(?m)^Subject: .*$", b"Subject: a note", invitation)
    invitation_id = "f3b1c9a2-55d0-4e8e-9a51-initech03@initech.example"
    assert f"<{invitation_id}>".encode() in invitation
    folder = threads_folder(dovecot)
    uids = [
        dovecot.append(USER, folder, raw)
        for raw in (
            invitation,
            plain(
                "Subject: Re: a note\nMessage-ID: <r1@example.org>\n"
                f"In-Reply-To: <{invitation_id}>\n",
                "Thursday works for me, thank you.",
            ),
            plain(
                "Subject: Re: a note\nMessage-ID: <r2@example.org>\n"
                "In-Reply-To: <r1@example.org>\n",
                "I will bring the slides.",
            ),
            plain("Subject: lunch\nMessage-ID: <l1@example.org>\n", "Pizza at noon?"),
        )
    ]
    with dovecot.client(USER) as client:
        client.select_folder(folder, readonly=True)
        items = list(staged_fetch(Recorder(client), folder, uids, screen(), batch=1))
    assert [type(i) for i in items] == [Fetched, Fetched, Fetched, Screened]
    assert b"Thursday works for me" in items[1].raw  # type: ignore[union-attr]
    assert b"bring the slides" in items[2].raw  # type: ignore[union-attr]
    assert full_recognition(items[0].raw).kind is Kind.INVITATION  # type: ignore[union-attr]


class InFlight(Recorder):
    """A Recorder that also notes which tickets were sent and not yet collected, and how
    many messages' first stage was asked for."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.open: list[Ticket] = []
        self.first_stage: list[int] = []

    def send(self, requests: Sequence[Request]) -> Ticket:
        ticket = super().send(requests)
        self.open.append(ticket)
        for uids, items in requests:
            if b"BODYSTRUCTURE" in items:
                self.first_stage += uids
        return ticket

    def collect(self, ticket: Ticket) -> dict[int, dict[bytes, Any]]:
        self.open.remove(ticket)
        return super().collect(ticket)


def test_a_scan_closed_early_with_several_stages_in_flight_leaves_the_connection_usable(
    dovecot: Dovecot, seeded: dict[int, bytes]
) -> None:
    """While the first batch is handed over, later batches' probes, bodies and first
    stage are in flight: closing the scan must read every answer."""
    uids = sorted(seeded)
    with dovecot.client(USER) as client:
        client.select_folder("INBOX", readonly=True)
        recorder = InFlight(client)
        items = staged_fetch(recorder, "INBOX", uids, screen(), batch=4)
        assert next(items).uid == uids[0]
        assert len(recorder.open) >= 2
        items.close()
        assert recorder.open == [] and recorder.pipeline.idle
        assert client.search(["UID", str(uids[0])]) == [uids[0]]
        size = client.fetch([uids[1]], ["RFC822.SIZE"])[uids[1]][b"RFC822.SIZE"]
        assert size == len(seeded[uids[1]])


def test_a_scan_holds_a_few_batches_at_most(dovecot: Dovecot, seeded: dict[int, bytes]) -> None:
    """Memory stays flat however big the folder: the first stage is asked for at most
    four batches ahead of what has been handed over."""
    uids = sorted(seeded)
    handed: list[int] = []
    ahead: list[int] = []
    with dovecot.client(USER) as client:
        client.select_folder("INBOX", readonly=True)
        recorder = InFlight(client)
        for item in staged_fetch(recorder, "INBOX", uids, screen(), batch=10):
            handed.append(item.uid)
            ahead.append(len(recorder.first_stage) - len(handed))
    assert handed == uids
    # Asked for ahead: more than the next batch (the stages overlap), at most four.
    assert 2 * 10 < max(ahead) <= 4 * 10
    assert recorder.open == []


def test_mail_expunged_while_the_scan_runs_is_left_out(dovecot: Dovecot) -> None:
    """Another client expunges two messages while later batches are in flight: one
    already judged (its text not read yet), one not asked about yet. The scan leaves
    both out and reads everything else, in order."""
    with dovecot.client(USER) as client:
        if not client.folder_exists("Expunged"):
            client.create_folder("Expunged")
    samples = sorted(TESTS.glob("samples/*.eml"))[:12]
    uids = [dovecot.append(USER, "Expunged", crlf(path.read_bytes())) for path in samples]
    gone = [uids[5], uids[8]]  # batch 2 (judged before the first hand-over), batch 4
    with dovecot.client(USER) as client, dovecot.client(USER) as other:
        client.select_folder("Expunged", readonly=True)
        items = staged_fetch(Recorder(client), "Expunged", uids, screen(), batch=2)
        handed = [next(items).uid]
        other.select_folder("Expunged")
        other.delete_messages(gone)
        other.expunge()
        handed += [item.uid for item in items]
    assert handed == [uid for uid in uids if uid not in gone]


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_the_staged_fetch_reads_the_same_over_tls(
    tls: str, dovecot: Dovecot, seeded: dict[int, bytes]
) -> None:
    port = dovecot.tls_port if tls == "implicit" else dovecot.port
    settings = {
        "none": dovecot.imap_settings(USER),
        tls: dovecot.imap_settings(USER, port=port, tls=tls, ca_file=dovecot.ca_file),
    }
    results = {}
    for mode, setting in settings.items():
        mailbox = ImapMailbox("bob", setting)
        try:
            results[mode] = list(mailbox.fetch_screened("INBOX", 0, set(), screen()))
        finally:
            mailbox.close()
    assert [i.uid for i in results[tls]] == sorted(seeded)
    assert results[tls] == results["none"]
    assert any(isinstance(i, Fetched) for i in results[tls])


def test_candidates_of_one_shape_share_a_fetch_and_read_the_same_bytes(
    dovecot: Dovecot, seeded: dict[int, bytes]
) -> None:
    uids = sorted(seeded)
    with dovecot.client(USER) as client:
        client.select_folder("INBOX", readonly=True)
        found = client.fetch(uids, [b"BODYSTRUCTURE"])
        trees = [(uid, structure(found[uid][b"BODYSTRUCTURE"])) for uid in uids]
        one_by_one = {}
        for uid, tree in trees:
            one_by_one.update(bounded_messages(Recorder(client), [(uid, tree)]))
        batched = Recorder(client)
        together = bounded_messages(batched, trees)
    assert together == one_by_one
    assert set(together) == set(uids)
    # The samples come in a handful of shapes (plain, alternative, with a calendar …).
    assert batched.commands < len(uids) / 5
    assert batched.round_trips == 1


def test_a_batch_of_candidates_holds_a_bounded_amount_of_text() -> None:
    big = Leaf("1", "text/plain", {}, "7bit", 10 * TEXT_LIMIT, attachment=False)
    small = Leaf("1", "text/plain", {}, "7bit", 2_000, attachment=False)
    many_big = [(uid, big) for uid in range(1, 1000)]
    chunk = within_budget(many_big)
    # TEXT_LIMIT is read of each, whatever the part's size.
    assert 1 < len(chunk) <= CANDIDATE_BYTES // TEXT_LIMIT
    assert chunk == many_big[: len(chunk)]
    assert within_budget([(1, small), (2, small)]) == [(1, small), (2, small)]
    # A message over the budget on its own is still read, alone.
    parts = tuple(
        Leaf(str(n), "text/plain", {}, "7bit", TEXT_LIMIT, attachment=False) for n in range(1, 100)
    )
    huge = Multipart("", "b", parts)
    assert within_budget([(1, huge), (2, small)]) == [(1, huge)]


def test_a_scan_closed_early_leaves_the_connection_usable(
    dovecot: Dovecot, seeded: dict[int, bytes]
) -> None:
    """The next batch's first stage is in flight while a batch is handed over; closing
    the scan then must read its answer, or the next command would read it instead."""
    uids = sorted(seeded)
    # Sent mail outside tracked threads is ruled out from its headers: the first batch
    # sends no probe or body FETCH that would read the next batch's answer before it.
    sent_mail = Screen(
        default_phrasebook(), "out", threaded=lambda ids: False, ours=lambda m: False
    )
    with dovecot.client(USER) as client:
        client.select_folder("INBOX", readonly=True)
        recorder = Recorder(client)
        items = staged_fetch(recorder, "INBOX", uids, sent_mail, batch=100)
        for _ in range(100):  # the whole first batch
            next(items)
        assert not recorder.pipeline.idle
        items.close()
        assert recorder.pipeline.idle
        assert client.search(["UID", str(uids[0])]) == [uids[0]]
        assert client.fetch([uids[1]], ["RFC822.SIZE"])[uids[1]][b"RFC822.SIZE"] == len(
            seeded[uids[1]]
        )


class Canned:
    """A server's first-stage answers, written out: for how a server may spell them."""

    def __init__(self, answers: dict[int, dict[bytes, Any]]) -> None:
        self.answers = answers

    def send(self, requests: Sequence[Request]) -> Ticket:
        return Ticket((), frozenset(uid for uids, _ in requests for uid in uids))

    def collect(self, ticket: Ticket) -> dict[int, dict[bytes, Any]]:
        return {uid: self.answers[uid] for uid in ticket.uids if uid in self.answers}


def test_header_fields_are_read_however_the_server_spells_their_section() -> None:
    text = (b"text", b"plain", (b"charset", b"utf-8"), None, None, b"7bit", b"20", b"1")
    header = b"From: News <news@digest.example>\r\nList-Id: <d.example>\r\nMessage-ID: <n.%d@d>\r\n"
    as_asked = HEADER_ITEM.replace(b".PEEK", b"")
    quoted = b"BODY[HEADER.FIELDS (" + b" ".join(b'"%s"' % f.encode() for f in FIELDS) + b")]"
    answers = {
        1: {b"UID": 1, b"BODYSTRUCTURE": text, as_asked: header % 1},
        2: {b"UID": 2, b"BODYSTRUCTURE": text, quoted: header % 2},
    }
    judge = Screen(default_phrasebook(), "in", threaded=lambda ids: False, ours=bool)
    items = list(staged_fetch(Canned(answers), "INBOX", [1, 2], judge))
    assert [(i.message_id, i.reason) for i in items if isinstance(i, Screened)] == [
        ("n.1@d", "list mail without job words"),
        ("n.2@d", "list mail without job words"),
    ]


class Breaking(Canned):
    """Canned answers until the connection breaks, at the `breaks_at`-th collect."""

    def __init__(self, answers: dict[int, dict[bytes, Any]], breaks_at: int) -> None:
        super().__init__(answers)
        self.breaks_at = breaks_at
        self.sent = 0
        self.collects = 0

    def send(self, requests: Sequence[Request]) -> Ticket:
        self.sent += 1
        return super().send(requests)

    def collect(self, ticket: Ticket) -> dict[int, dict[bytes, Any]]:
        self.collects += 1
        if self.collects >= self.breaks_at:
            raise OSError("connection reset by peer")
        return super().collect(ticket)


def test_a_broken_connection_is_reported_not_read_again() -> None:
    """Commands are in flight when the connection breaks: its error reaches the caller,
    and the scan does not try to read their answers from the dead connection."""
    text = (b"text", b"plain", (b"charset", b"utf-8"), None, None, b"7bit", b"20", b"1")
    header = b"From: Sam <sam@example.org>\r\nSubject: lunch\r\nMessage-ID: <m.%d@d>\r\n"
    answers = {
        uid: {
            b"UID": uid,
            b"BODYSTRUCTURE": text,
            HEADER_ITEM.replace(b".PEEK", b""): header % uid,
            b"BODY[1]<0>": b"Pizza at noon?",
        }
        for uid in range(1, 21)
    }
    judge = Screen(default_phrasebook(), "in", threaded=lambda ids: False, ours=bool)
    stages = Breaking(answers, breaks_at=5)
    with pytest.raises(OSError, match="reset by peer"):
        list(staged_fetch(stages, "INBOX", list(answers), judge, batch=2))
    assert stages.collects == 5
    assert stages.sent > stages.collects  # answers were still due, and left alone


def nested(depth: int) -> Any:
    """A multipart with one multipart in it, and so on `depth` times (hostile mail)."""
    node: Any = (b"text", b"plain", None, None, None, b"7bit", b"10", b"1")
    for _ in range(depth):
        node = ([node], b"mixed", None, None, None, None)
    return node


@pytest.mark.parametrize(
    "bad",
    [
        None,
        (),
        (b"text",),
        (b"text", b"plain", None, None, None, b"7bit", b"many"),
        [[()]],
        nested(5000),
    ],
    ids=["nil", "empty", "short", "size-not-a-number", "empty-part", "nested-5000-deep"],
)
def test_a_body_structure_that_cannot_be_read_has_the_whole_text_read(bad: Any) -> None:
    """A server's broken BODYSTRUCTURE must not stop the scan at that message: the
    message's text is read as a whole and recognised as usual."""
    raw = crlf((TESTS / "samples" / "03_invite_text_initech.eml").read_bytes())
    header, _, body = raw.partition(b"\r\n\r\n")
    header += b"\r\n\r\n"
    quiet = re.sub(rb"(?m)^Subject: .*$", b"Subject: a note", header)  # judged by the probe
    answers = {
        uid: {
            b"UID": uid,
            b"BODYSTRUCTURE": bad,
            HEADER_ITEM.replace(b".PEEK", b""): head,
            b"BODY[TEXT]<0>": body if uid == 1 else body[:4096],
            b"BODY[HEADER]": head,
        }
        for uid, head in ((1, header), (2, quiet))
    }
    judge = Screen(default_phrasebook(), "in", threaded=lambda ids: False, ours=bool)
    items = list(staged_fetch(Canned(answers), "INBOX", [1, 2], judge))
    assert [type(i) for i in items] == [Fetched, Fetched]
    expected = full_recognition(raw)
    assert expected.kind is Kind.INVITATION
    assert full_recognition(items[0].raw) == expected  # type: ignore[union-attr]
