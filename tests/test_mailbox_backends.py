"""One suite for both mailbox backends: Maildir in tmp_path, IMAP on a real Dovecot."""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from followupd.config import ImapSettings
from followupd.errors import MailboxError
from followupd.mailbox import imap as imap_module
from followupd.mailbox.base import FolderRoles, Mailbox
from followupd.mailbox.imap import ImapMailbox
from followupd.mailbox.maildir import MaildirMailbox
from tests.dovecot import Dovecot, free_port

_serial = itertools.count(1)


def message(subject: str, message_id: str | None = None, *, folded: bool = False) -> bytes:
    """A small RFC 5322 message with CRLF line ends."""
    message_id = message_id or f"m{next(_serial)}.{time.time_ns()}@test.example"
    mid = f"Message-ID:\r\n <{message_id}>" if folded else f"Message-ID: <{message_id}>"
    return (
        "From: Anna Schmidt <anna@acme.example>\r\n"
        "To: Jane Doe <jane@example.com>\r\n"
        f"Subject: {subject}\r\n"
        "Date: Tue, 03 Mar 2026 10:00:00 +0100\r\n"
        f"{mid}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"Body of {subject}.\r\n"
    ).encode()


def same(a: bytes, b: bytes) -> bool:
    """Equal up to line endings (Maildir stores LF, IMAP CRLF)."""
    return a.replace(b"\r\n", b"\n") == b.replace(b"\r\n", b"\n")


def subject_of(raw: bytes) -> str:
    for line in raw.decode().splitlines():
        if line.startswith("Subject: "):
            return line[9:]
    return ""


@dataclass
class Stored:
    key: str
    flags: frozenset[str]  # Maildir letters: S seen, D draft …
    raw: bytes
    where: str = ""  # the file's path (Maildir) or "" (IMAP)


@dataclass
class Backend:
    """What a test needs from either backend: make a mailbox, deliver as outsiders do, look."""

    kind: str
    make: Callable[..., Mailbox]
    deliver: Callable[[str, bytes], object]
    stored: Callable[[str], list[Stored]]
    opened: list[Mailbox] = field(default_factory=list)

    def mailbox(self, **overrides: Any) -> Mailbox:
        box = self.make(**overrides)
        self.opened.append(box)
        return box


# --- Maildir ----------------------------------------------------------------------------------


def make_maildir(root: Path, folders: tuple[str, ...] = (".Sent",)) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for folder in folders:
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
    return root


def maildir_deliver(folder_path: Path, raw: bytes, stamp: int | None = None) -> Path:
    """Deliver as an MDA does: write into tmp/, rename into new/."""
    stamp = stamp if stamp is not None else int(time.time())
    name = f"{stamp}.M{next(_serial)}P{os.getpid()}.testhost"
    tmp = folder_path / "tmp" / name
    tmp.write_bytes(raw.replace(b"\r\n", b"\n"))
    final = folder_path / "new" / name
    tmp.rename(final)
    return final


def maildir_stored(folder_path: Path) -> list[Stored]:
    found = []
    for sub in ("new", "cur"):
        for path in sorted((folder_path / sub).iterdir()):
            key, _, info = path.name.partition(":2,")
            found.append(Stored(key, frozenset(info), path.read_bytes(), str(path)))
    return found


def maildir_backend(tmp_path: Path) -> Backend:
    root = make_maildir(tmp_path / "Mail")

    def folder_path(folder: str) -> Path:
        return root if folder == "INBOX" else root / f".{folder}"

    return Backend(
        kind="maildir",
        make=lambda **kw: MaildirMailbox("local", root, poll_interval=0.05, **kw),
        deliver=lambda folder, raw: maildir_deliver(folder_path(folder), raw),
        stored=lambda folder: maildir_stored(folder_path(folder)),
    )


# --- IMAP -------------------------------------------------------------------------------------

_IMAP_FLAGS = {b"\\Seen": "S", b"\\Draft": "D", b"\\Flagged": "F", b"\\Answered": "R"}


def imap_backend(server: Dovecot, user: str = "jane") -> Backend:
    server.reset(user)

    def stored(folder: str) -> list[Stored]:
        return [
            Stored(str(uid), frozenset(_IMAP_FLAGS[f] for f in flags if f in _IMAP_FLAGS), raw)
            for uid, flags, raw in server.fetch_all(user, folder)
        ]

    return Backend(
        kind="imap",
        make=lambda **kw: ImapMailbox("work", server.imap_settings(user, **kw)),
        deliver=lambda folder, raw: server.append(user, folder, raw),
        stored=stored,
    )


@pytest.fixture(params=["maildir", pytest.param("imap", marks=pytest.mark.imap)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "maildir":
        made = maildir_backend(tmp_path)
    else:
        made = imap_backend(request.getfixturevalue("dovecot"))
    yield made
    for box in made.opened:
        box.close()


@pytest.fixture
def server(dovecot: Dovecot) -> Dovecot:
    dovecot.reset("jane")
    dovecot.reset("bob")
    return dovecot


def later(seconds: float, action: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()), daemon=True)
    thread.start()
    return thread


# --- the shared suite -------------------------------------------------------------------------


def test_fetch_new_yields_messages_oldest_first_and_skips_known(backend: Backend) -> None:
    box = backend.mailbox()
    sent = [message(f"Interview {n}") for n in range(3)]
    for raw in sent:
        backend.deliver("INBOX", raw)

    got = list(box.fetch_new("INBOX", 0, set()))

    assert [subject_of(f.raw) for f in got] == ["Interview 0", "Interview 1", "Interview 2"]
    assert all(same(f.raw, raw) for f, raw in zip(got, sent, strict=True))
    assert {f.folder for f in got} == {"INBOX"}
    assert len({f.key for f in got}) == 3
    again = list(box.fetch_new("INBOX", 0, {got[0].key, got[2].key}))
    assert [f.key for f in again] == [got[1].key]


def test_reading_never_marks_a_message_seen(backend: Backend) -> None:
    box = backend.mailbox()
    backend.deliver("INBOX", message("Your application"))
    before = backend.stored("INBOX")

    assert len(list(box.fetch_new("INBOX", 0, set()))) == 1
    box.find_message_ids("INBOX", ["nothing@example.com"])

    after = backend.stored("INBOX")
    assert after == before  # same keys, flags, bytes and (Maildir) file paths
    assert all("S" not in s.flags for s in after)


def test_append_draft_lands_in_drafts_flagged_as_draft(backend: Backend) -> None:
    box = backend.mailbox()
    draft = message("Thank you for today", "draft-1@followupd.invalid")

    box.append_draft(draft)

    drafts = backend.stored(box.roles().drafts)
    assert len(drafts) == 1
    assert "D" in drafts[0].flags
    assert same(drafts[0].raw, draft)
    assert backend.stored("INBOX") == []


def test_find_message_ids_finds_exactly_the_present_ones(backend: Backend) -> None:
    box = backend.mailbox()
    backend.deliver("INBOX", message("one", "Offer.42@ACME.example"))
    backend.deliver("INBOX", message("two", "x{1}%*+y@ats.example", folded=True))
    backend.deliver("INBOX", message("three", "abc-123@mail.example"))

    asked = [
        "Offer.42@acme.example",  # domains compare case-insensitively
        "<x{1}%*+y@ats.example>",  # brackets are ignored, odd characters are quoted
        "abc-123",  # a substring is not a match
        "ABC-123@mail.example",  # the local part is case-sensitive
        "missing@mail.example",
    ]
    assert box.find_message_ids("INBOX", asked) == {asked[0], asked[1]}
    assert box.find_message_ids("INBOX", []) == set()
    assert box.find_message_ids("Sent", asked) == set()


def test_wait_returns_true_soon_after_new_mail(backend: Backend) -> None:
    box = backend.mailbox()
    box.roles()
    started = time.monotonic()
    later(0.5, lambda: backend.deliver("INBOX", message("Invitation")))

    assert box.wait(10) is True
    assert time.monotonic() - started < 5


def test_wait_notices_mail_that_came_between_fetch_and_wait(backend: Backend) -> None:
    box = backend.mailbox()
    list(box.fetch_new("INBOX", 0, set()))
    list(box.fetch_new("Sent", 0, set()))
    backend.deliver("Sent", message("My reply"))

    started = time.monotonic()
    assert box.wait(5) is True
    assert time.monotonic() - started < 3


def test_wait_returns_false_on_timeout(backend: Backend) -> None:
    box = backend.mailbox()
    box.roles()
    started = time.monotonic()

    assert box.wait(1.0) is False
    assert 0.9 <= time.monotonic() - started < 4


def test_roles(backend: Backend) -> None:
    roles = backend.mailbox().roles()
    assert (roles.inbox, roles.drafts, roles.sent) == ("INBOX", "Drafts", "Sent")


def test_validity_is_stable(backend: Backend) -> None:
    box = backend.mailbox()
    assert box.validity("INBOX") == box.validity("INBOX") > 0


# --- IMAP only --------------------------------------------------------------------------------


@pytest.mark.imap
def test_imap_fetch_new_respects_after_uid(server: Dovecot) -> None:
    uids = [server.append("jane", "INBOX", message(f"n{n}")) for n in range(3)]
    box = ImapMailbox("work", server.imap_settings("jane"))
    try:
        got = list(box.fetch_new("INBOX", uids[1], set()))
        assert [(f.uid, f.key) for f in got] == [(uids[2], str(uids[2]))]
        # "N:*" with N above every UID still matches the last message: it must not come back.
        assert list(box.fetch_new("INBOX", uids[2], set())) == []
        assert list(box.fetch_new("INBOX", uids[2] + 1000, set())) == []
        got = list(box.fetch_new("INBOX", 0, {str(uids[0])}))
        assert [f.uid for f in got] == uids[1:]
    finally:
        box.close()


@pytest.mark.imap
def test_imap_fetch_new_survives_other_calls_between_batches(
    server: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imap_module, "BATCH", 1)
    for n in range(3):
        server.append("jane", "INBOX", message(f"n{n}"))
    server.append("jane", "Sent", message("sent one", "sent-1@test.example"))
    box = ImapMailbox("work", server.imap_settings("jane"))
    try:
        subjects = []
        for fetched in box.fetch_new("INBOX", 0, set()):
            subjects.append(subject_of(fetched.raw))
            assert box.find_message_ids("Sent", ["sent-1@test.example"]) == {"sent-1@test.example"}
            box.append_draft(message(f"draft {fetched.uid}"))
        assert subjects == ["n0", "n1", "n2"]
    finally:
        box.close()


@pytest.mark.imap
def test_imap_appended_draft_is_draft_and_seen(server: Dovecot) -> None:
    box = ImapMailbox("work", server.imap_settings("jane"))
    try:
        box.append_draft(message("draft"))
    finally:
        box.close()
    [(_uid, flags, _raw)] = server.fetch_all("jane", "Drafts")
    assert set(flags) >= {b"\\Draft", b"\\Seen"}


@pytest.mark.imap
def test_imap_drafts_folder_from_config_wins(server: Dovecot) -> None:
    with server.client("jane") as client:
        client.create_folder("Entwürfe")
    box = ImapMailbox("work", server.imap_settings("jane", drafts_folder="Entwürfe"))
    try:
        assert box.roles().drafts == "Entwürfe"
        box.append_draft(message("Danke"))
    finally:
        box.close()
    assert len(server.fetch_all("jane", "Entwürfe")) == 1
    assert server.fetch_all("jane", "Drafts") == []


@pytest.mark.imap
def test_imap_configured_folder_that_does_not_exist_is_an_error(server: Dovecot) -> None:
    box = ImapMailbox("work", server.imap_settings("jane", sent_folder="Gesendet"))
    try:
        with pytest.raises(MailboxError, match="Gesendet"):
            box.roles()
    finally:
        box.close()


@pytest.mark.imap
def test_imap_wait_polls_when_the_server_has_no_idle(server: Dovecot) -> None:
    box = ImapMailbox("work", server.imap_settings("jane", poll_interval=0.2))
    box._supports_idle = lambda: False  # type: ignore[method-assign]
    try:
        assert box.wait(0.5) is False
        later(0.3, lambda: server.append("jane", "Sent", message("reply")))
        started = time.monotonic()
        assert box.wait(10) is True
        assert time.monotonic() - started < 3
    finally:
        box.close()


@pytest.mark.imap
def test_imap_reconnects_after_the_connection_broke(server: Dovecot) -> None:
    box = ImapMailbox("work", server.imap_settings("jane"))
    try:
        validity = box.validity("INBOX")
        box._client.shutdown()  # type: ignore[attr-defined]
        with pytest.raises(MailboxError, match=rf"127\.0\.0\.1:{server.port}"):
            box.validity("INBOX")
        assert box.validity("INBOX") == validity
    finally:
        box.close()
        box.close()  # idempotent


@pytest.mark.imap
def test_imap_tls_verifies_the_certificate(server: Dovecot) -> None:
    untrusted = ImapMailbox(
        "work", server.imap_settings("jane", port=server.tls_port, tls="implicit")
    )
    with pytest.raises(MailboxError, match=rf"127\.0\.0\.1:{server.tls_port}.*CERTIFICATE_VERIFY"):
        untrusted.roles()
    untrusted.close()

    for port, mode in ((server.tls_port, "implicit"), (server.port, "starttls")):
        settings = server.imap_settings("jane", port=port, tls=mode, ca_file=server.ca_file)
        box = ImapMailbox("work", settings)
        try:
            assert box.roles().drafts == "Drafts"
            box.append_draft(message(f"over {mode}"))
        finally:
            box.close()
    assert len(server.fetch_all("jane", "Drafts")) == 2


@pytest.mark.imap
def test_imap_password_never_reaches_the_log(
    server: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    box = ImapMailbox("work", server.imap_settings("jane"))
    try:
        box.roles()
        box.append_draft(message("logged"))
    finally:
        box.close()
    assert "LOGIN" in caplog.text.upper()
    assert server.users["jane"] not in caplog.text


@pytest.mark.imap
def test_imap_wrong_password_is_a_mailbox_error_without_the_password(server: Dovecot) -> None:
    box = ImapMailbox("work", server.imap_settings("jane", password="not-the-Pa55word"))
    with pytest.raises(MailboxError) as caught:
        box.roles()
    assert f"127.0.0.1:{server.port}" in str(caught.value)
    assert "not-the-Pa55word" not in str(caught.value)


def test_imap_connection_refused_names_host_and_port() -> None:
    port = free_port()
    settings = ImapSettings(
        host="127.0.0.1",
        port=port,
        username="jane",
        password="x",
        tls="none",
        allow_plaintext_on_loopback=True,
        timeout=5,
    )
    with pytest.raises(MailboxError, match=rf"work: 127\.0\.0\.1:{port}: ") as caught:
        ImapMailbox("work", settings).roles()
    assert isinstance(caught.value, ConnectionError)


def test_imap_starttls_is_required_when_asked_for() -> None:
    """A server that does not offer STARTTLS never gets the password."""
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, conn.makefile("rwb") as stream:
            stream.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] plain only\r\n")
            stream.flush()
            for line in stream:
                received.append(line)
                tag, _, command = line.decode().strip().partition(" ")
                if command.upper() == "CAPABILITY":
                    stream.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")
                stream.write(f"{tag} OK done\r\n".encode())
                stream.flush()
                if command.upper() == "LOGOUT":
                    break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings = ImapSettings(
        host="127.0.0.1", port=port, username="jane", password="s3cret-pw", tls="starttls"
    )
    try:
        with pytest.raises(MailboxError, match="STARTTLS"):
            ImapMailbox("work", settings).roles()
    finally:
        listener.close()
    thread.join(timeout=5)
    assert not any(b"s3cret-pw" in line or b"LOGIN" in line.upper() for line in received)


class FakeClient:
    """Just enough of IMAPClient for folder discovery."""

    def __init__(self, folders: list[tuple[tuple[bytes, ...], str]]) -> None:
        self.folders = folders
        self.created: list[str] = []

    def noop(self) -> None:
        pass

    def list_folders(self, directory: str = "", pattern: str = "*") -> list[Any]:
        names = [(flags, b".", name) for flags, name in self.folders]
        return names if pattern == "*" else [n for n in names if n[2] == pattern]

    def find_special_folder(self, attr: bytes) -> str | None:
        return next((name for flags, name in self.folders if attr in flags), None)

    def create_folder(self, name: str) -> None:
        self.created.append(name)


def discover(folders: list[tuple[tuple[bytes, ...], str]], **overrides: Any) -> Any:
    settings = ImapSettings(host="imap.example.com", username="j", password="p", **overrides)
    box = ImapMailbox("work", settings)
    fake = FakeClient(folders)
    box._client = fake
    box._used = time.monotonic()
    return box.roles(), fake.created


def test_imap_discovery_prefers_special_use_then_known_names() -> None:
    folders = [((), "INBOX"), ((), "Drafts"), ((b"\\Drafts",), "Brouillons perso")]
    folders += [((), "Sent"), ((b"\\Sent",), "Gesendete Objekte")]
    roles, created = discover(folders)
    assert (roles.drafts, roles.sent, created) == ("Brouillons perso", "Gesendete Objekte", [])

    roles, created = discover([((), "INBOX"), ((), "[Gmail]/Drafts"), ((), "Sent Items")])
    assert (roles.drafts, roles.sent, created) == ("[Gmail]/Drafts", "Sent Items", [])

    roles, created = discover(folders, drafts_folder="Drafts", sent_folder="Sent")
    assert (roles.drafts, roles.sent) == ("Drafts", "Sent")


def test_imap_creates_drafts_when_there_is_none() -> None:
    roles, created = discover([((), "INBOX")])
    assert (roles.drafts, roles.sent, created) == ("Drafts", None, ["Drafts"])


# --- Maildir only -----------------------------------------------------------------------------


def test_maildir_missing_root_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "Maildir"
    with pytest.raises(MailboxError, match=str(missing)):
        MaildirMailbox("local", missing)
    (tmp_path / "plain").mkdir()
    with pytest.raises(MailboxError, match="not a Maildir"):
        MaildirMailbox("local", tmp_path / "plain")


def test_maildir_drafts_are_private_and_named_for_mbsync(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Mail")
    box = MaildirMailbox("local", root)
    old = os.umask(0)
    try:
        box.append_draft(message("draft"))
    finally:
        os.umask(old)
    [path] = (root / ".Drafts" / "cur").iterdir()
    assert path.name.endswith(":2,D")
    assert path.stat().st_mode & 0o777 == 0o600
    assert list((root / ".Drafts" / "tmp").iterdir()) == []
    assert b"\r\n" not in path.read_bytes()


def test_maildir_verbatim_layout_and_no_sent(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Mail", folders=("Sent",))
    box = MaildirMailbox("local", root)
    assert box.roles().sent == "Sent"
    box.append_draft(message("draft"))
    assert len(list((root / "Drafts" / "cur").iterdir())) == 1

    bare = MaildirMailbox("local", make_maildir(tmp_path / "Bare", folders=()))
    assert bare.roles().sent is None
    assert (tmp_path / "Bare" / ".Drafts" / "cur").is_dir()


def test_maildir_verbatim_layout_with_inbox_beside_the_folders(tmp_path: Path) -> None:
    root = tmp_path / "Mail"
    make_maildir(root / "INBOX", folders=())
    make_maildir(root / "Sent", folders=())
    maildir_deliver(root / "INBOX", message("hello"))
    box = MaildirMailbox("local", root)
    assert box.roles() == FolderRoles("INBOX", "Drafts", "Sent")
    assert [subject_of(f.raw) for f in box.fetch_new("INBOX", 0, set())] == ["hello"]
    box.append_draft(message("draft"))
    assert len(list((root / "Drafts" / "cur").iterdir())) == 1


def test_maildir_orders_by_delivery_time_and_reads_cur(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Mail")
    maildir_deliver(root, message("newer"), stamp=1_800_000_000)
    older = maildir_deliver(root, message("older"), stamp=1_700_000_000)
    older.rename(root / "cur" / f"{older.name}:2,S")  # read in a mail client meanwhile
    got = list(MaildirMailbox("local", root).fetch_new("INBOX", 0, set()))
    assert [subject_of(f.raw) for f in got] == ["older", "newer"]
    assert got[0].key == older.name
    assert got[0].uid == 0


def test_maildir_follows_a_message_renamed_while_reading(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Mail")
    maildir_deliver(root, message("first"), stamp=1_700_000_000)
    second = maildir_deliver(root, message("second"), stamp=1_700_000_001)
    fetched = MaildirMailbox("local", root).fetch_new("INBOX", 0, set())
    assert subject_of(next(fetched).raw) == "first"
    second.rename(root / "cur" / f"{second.name}:2,S")
    assert [subject_of(f.raw) for f in fetched] == ["second"]
