"""An IMAP account through imapclient: verified TLS, BODY.PEEK reads, IDLE with polling fallback."""

from __future__ import annotations

import imaplib
import logging
import ssl
import threading
import time
from collections.abc import Collection, Container, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import imapclient

# The folder attributes (RFC 6154) are not re-exported by the package, unlike the flags.
from imapclient.imapclient import DRAFTS, SENT

from followupd.config import ImapSettings
from followupd.errors import MailboxError
from followupd.mailbox.base import Backlog, Fetched, FolderRoles, Mailbox, Screened
from followupd.mailbox.folders import DRAFT_NAMES, SENT_NAMES, by_known_name
from followupd.mailbox.imap_auth import sign_in
from followupd.mailbox.maildir import message_id_of, wanted_ids

if TYPE_CHECKING:
    from followupd.mailbox.imap_wire import Pipeline, Request, Ticket
    from followupd.prefilter import Screen

log = logging.getLogger(__name__)

BATCH = 200
BATCH_BYTES = 32 * 1024 * 1024
STALE = 10 * 60  # check an unused connection with NOOP before trusting it again
STOP_CHECK = 1.0  # how often a wait looks at its stop event
_CHANGES = {b"EXISTS", b"RECENT", b"FETCH"}
_Client = Any  # imapclient ships no type hints
_ERRORS = (imaplib.IMAP4.error, OSError)


def _changed(responses: Sequence[Any]) -> bool:
    return any(len(r) > 1 and r[1] in _CHANGES for r in responses if isinstance(r, tuple))


def _quote(value: bytes) -> bytes:
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class ImapMailbox(Mailbox):
    """One IMAP account. Connects on first use and again after any connection error."""

    def __init__(
        self, name: str, settings: ImapSettings, idle_on: Literal["inbox", "sent"] = "inbox"
    ) -> None:
        self.name = name
        self.settings = settings
        # Which folder wait() keeps an IDLE on; the daemon runs one watcher for each.
        self.idle_on = idle_on
        self._client: _Client | None = None
        self._used = 0.0
        self._idler: _Client | None = None  # a second connection, only for IDLE on INBOX
        self._selected: str | None = None
        self._roles: FolderRoles | None = None
        # (UIDNEXT, MESSAGES) per folder when last looked at, so wait() notices what came between.
        self._status: dict[str, tuple[int, int]] = {}

    @property
    def _where(self) -> str:
        return f"{self.name}: {self.settings.host}:{self.settings.port}"

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except MailboxError:
            raise
        except _ERRORS as exc:
            self._drop()
            raise MailboxError(f"{self._where}: {what}: {exc}") from exc

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.settings.ca_file is not None:
            context.load_verify_locations(cafile=str(self.settings.ca_file.expanduser()))
        return context

    def _connect(self) -> _Client:
        s, mode = self.settings, self.settings.tls_mode
        context = self._ssl_context() if mode != "none" else None
        client = imapclient.IMAPClient(
            s.host, port=s.port, ssl=mode == "implicit", ssl_context=context, timeout=s.timeout
        )
        try:
            if mode == "starttls":
                if not client.has_capability("STARTTLS"):
                    raise MailboxError(
                        f"{self._where}: the server does not offer STARTTLS;"
                        " refusing to send the password without TLS"
                    )
                client.starttls(context)
            method = sign_in(client, s, self._where)
        except BaseException:
            with suppress(*_ERRORS):
                client.shutdown()
            raise
        log.info("%s: logged in as %s (%s, %s)", self._where, s.username, method, mode)
        return client

    def _conn(self) -> _Client:
        now = time.monotonic()
        if self._client is not None and now - self._used > min(STALE, self.settings.idle_renew):
            try:
                self._client.noop()
            except _ERRORS:
                # The server logged us out while we were idle: a fresh login is safe here.
                log.info("%s: connection went stale; reconnecting", self._where)
                self._drop()
        if self._client is None:
            self._client = self._connect()
            self._selected = None
        self._used = now
        return self._client

    def _select(self, folder: str) -> dict[bytes, Any]:
        client = self._conn()
        # EXAMINE: the server itself then refuses any change, \Seen included.
        info: dict[bytes, Any] = client.select_folder(folder, readonly=True)
        self._selected = folder
        return info

    def _unselect(self) -> None:
        # STATUS on the selected folder may report the session's stale view (Dovecot does).
        if self._client is not None and self._selected is not None:
            if self._client.has_capability("UNSELECT"):
                self._client.unselect_folder()
            else:
                self._client.close_folder()  # selected read-only: CLOSE expunges nothing
            self._selected = None

    def _drop(self) -> None:
        for client in (self._client, self._idler):
            if client is not None:
                with suppress(*_ERRORS):  # already broken; nothing left to release
                    client.shutdown()
        self._client = self._idler = self._selected = None

    def roles(self) -> FolderRoles:
        """Drafts and Sent from the config, else SPECIAL-USE, else well-known names."""
        if self._roles is None:
            with self._guard("discovering folders"):
                self._roles = self._discover()
        return self._roles

    def _discover(self) -> FolderRoles:
        s, client = self.settings, self._conn()
        names = {str(name) for _flags, _sep, name in client.list_folders()}
        for configured in (s.drafts_folder, s.sent_folder):
            if configured is not None and configured not in names:
                raise MailboxError(
                    f"{self._where}: the configured folder {configured!r} is missing"
                )
        drafts = s.drafts_folder or self._special(client, DRAFTS, DRAFT_NAMES, names)
        if drafts is None:
            client.create_folder("Drafts")
            drafts = "Drafts"
            log.info("%s: created the Drafts folder", self._where)
        sent = s.sent_folder or self._special(client, SENT, SENT_NAMES, names)
        log.info("%s: folders: drafts %r, sent %r", self._where, drafts, sent)
        return FolderRoles(inbox=s.inbox_folder, drafts=drafts, sent=sent)

    @staticmethod
    def _special(client: _Client, attr: bytes, known: Sequence[str], names: set[str]) -> str | None:
        found = client.find_special_folder(attr)
        if found:
            return str(found)
        return by_known_name(names, known)

    def validity(self, folder: str) -> int:
        """The folder's UIDVALIDITY."""
        with self._guard(f"STATUS {folder}"):
            status = self._conn().folder_status(folder, [b"UIDVALIDITY"])
        return int(status[b"UIDVALIDITY"])

    def fetch_new(self, folder: str, after_uid: int, known: Container[str]) -> Iterator[Fetched]:
        """Messages with UID > after_uid and key not in `known`, by UID, read with BODY.PEEK[]."""
        with self._guard(f"searching {folder}"):
            info = self._select(folder)
            self._remember(folder, info.get(b"UIDNEXT"), info.get(b"EXISTS"))
            # "N:*" always matches the last message, even when its UID is below N.
            found = self._conn().search(f"UID {after_uid + 1}:*")
            uids = sorted(u for u in map(int, found) if u > after_uid and str(u) not in known)
        for start in range(0, len(uids), BATCH):
            with self._guard(f"fetching from {folder}"):
                chunk = uids[start : start + BATCH]
                if self._selected != folder:  # the caller used the connection in between
                    self._select(folder)
                sizes = self._conn().fetch(chunk, ["RFC822.SIZE"])
            for batch in self._by_size(chunk, sizes):
                with self._guard(f"fetching from {folder}"):
                    if self._selected != folder:
                        self._select(folder)
                    data = self._conn().fetch(batch, ["BODY.PEEK[]"])
                for uid in batch:
                    raw = data.get(uid, {}).get(b"BODY[]")
                    if raw is not None:  # None: expunged meanwhile
                        yield Fetched(folder=folder, key=str(uid), uid=uid, raw=bytes(raw))

    def backlog(self, folder: str, since: date | None) -> Backlog:
        """SEARCH SINCE (the arrival date): read from the first message in the window."""
        with self._guard(f"searching {folder}"):
            info = self._select(folder)
            criteria = ["SINCE", since] if since is not None else ["ALL"]
            found = sorted(map(int, self._conn().search(criteria)))
        if found:
            return Backlog(found[0] - 1, len(found))
        # Nothing in the window: start after the newest message, so old mail stays unread.
        return Backlog(int(info.get(b"UIDNEXT", 1)) - 1, 0)

    def fetch_screened(
        self, folder: str, after_uid: int, known: Container[str], screen: Screen
    ) -> Iterator[Fetched | Screened]:
        """New messages fetched in stages (`imap_fetch`): bodies only of likely job mail."""
        from followupd.mailbox.imap_fetch import staged_fetch  # noqa: PLC0415 - only for scans
        from followupd.mailbox.imap_wire import Pipeline  # noqa: PLC0415 - only for scans

        with self._guard(f"searching {folder}"):
            info = self._select(folder)
            self._remember(folder, info.get(b"UIDNEXT"), info.get(b"EXISTS"))
            found = self._conn().search(f"UID {after_uid + 1}:*")
            uids = sorted(u for u in map(int, found) if u > after_uid and str(u) not in known)
            pipeline = Pipeline.over(self._conn())
        return staged_fetch(_Guarded(self, folder, pipeline), folder, uids, screen)

    @staticmethod
    def _by_size(uids: list[int], sizes: dict[int, Any]) -> Iterator[list[int]]:
        # Keep one FETCH response well below memory limits when messages carry big attachments.
        batch: list[int] = []
        total = 0
        for uid in uids:
            size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))
            if batch and total + size > BATCH_BYTES:
                yield batch
                batch, total = [], 0
            batch.append(uid)
            total += size
        if batch:
            yield batch

    def find_message_ids(self, folder: str, message_ids: Collection[str]) -> set[str]:
        """Search HEADER Message-ID for each id, then confirm hits against the exact header."""
        wanted = wanted_ids(message_ids)
        found: set[str] = set()
        if not wanted:
            return found
        with self._guard(f"searching {folder}"):
            self._select(folder)
            client, hits = self._conn(), set[int]()
            usable = [i for i in wanted if i and i.isprintable()]
            ascii_ids = [i.encode() for i in usable if i.isascii()]
            for start in range(0, len(ascii_ids), 20):
                terms = [b"HEADER Message-ID " + _quote(i) for i in ascii_ids[start : start + 20]]
                # Prefix notation: "OR a OR b c"; sent as is, quoted by us.
                criteria = b"OR " * (len(terms) - 1) + b" ".join(terms)
                hits.update(map(int, client.search(criteria)))
            for other in (i for i in usable if not i.isascii()):
                # imapclient sends 8-bit criteria as literals.
                found_uids = client.search(["HEADER", "Message-ID", other.encode()], "UTF-8")
                hits.update(map(int, found_uids))
            if not hits:
                return found
            headers = client.fetch(sorted(hits), ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        for item in headers.values():
            for key, value in item.items():
                if isinstance(key, bytes) and key.startswith(b"BODY[") and value:
                    present = message_id_of(bytes(value))
                    if present is not None and present in wanted:
                        found |= wanted[present]
        return found

    def append_draft(self, raw: bytes) -> None:
        """APPEND to Drafts with the \\Draft and \\Seen flags."""
        drafts = self.roles().drafts
        with self._guard(f"APPEND to {drafts}"):
            self._conn().append(drafts, raw, flags=[imapclient.DRAFT, imapclient.SEEN])

    def _remember(self, folder: str, uidnext: Any, messages: Any) -> bool:
        if uidnext is None or messages is None:
            return False
        now = (int(uidnext), int(messages))
        before = self._status.get(folder, now)
        self._status[folder] = now
        return before != now

    def _status_changed(self, folders: list[str]) -> bool:
        changed = False
        for folder in folders:
            status = self._conn().folder_status(folder, [b"UIDNEXT", b"MESSAGES"])
            changed |= self._remember(folder, status.get(b"UIDNEXT"), status.get(b"MESSAGES"))
        return changed

    def _supports_idle(self) -> bool:
        return bool(self._conn().has_capability("IDLE"))

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """IDLE on INBOX or Sent (or poll both) until something arrives; False on timeout."""
        stop = stop or threading.Event()
        deadline = time.monotonic() + timeout
        roles = self.roles()
        watched = [roles.inbox] + ([roles.sent] if roles.sent else [])
        with self._guard("waiting for new mail"):
            self._conn()
            self._unselect()
            idle = self._supports_idle()
            if idle:
                folder = roles.sent if self.idle_on == "sent" and roles.sent else roles.inbox
                self._ready_idler(folder)
            if self._status_changed(watched):
                return True
            if idle:
                return self._idle_until(deadline, stop)
            while (left := deadline - time.monotonic()) > 0 and not stop.is_set():
                stop.wait(min(self.settings.poll_interval, left))
                if self._status_changed(watched):
                    return True
            return False

    def _ready_idler(self, folder: str) -> None:
        if self._idler is not None:
            try:
                self._idler.noop()  # drains old news: what came before shows in the STATUS check
                return
            except _ERRORS:
                # Logged out while unused between two waits; a new session loses nothing.
                with suppress(*_ERRORS):
                    self._idler.shutdown()
                self._idler = None
        self._idler = self._connect()
        self._idler.select_folder(folder, readonly=True)

    def _idle_until(self, deadline: float, stop: threading.Event) -> bool:
        idler = self._idler
        assert idler is not None
        while (left := deadline - time.monotonic()) > 0 and not stop.is_set():
            renew = time.monotonic() + min(left, self.settings.idle_renew)
            changed = False
            idler.idle()
            try:
                while not changed and not stop.is_set() and (part := renew - time.monotonic()) > 0:
                    changed = _changed(idler.idle_check(timeout=min(part, STOP_CHECK)))
            finally:
                # DONE must be answered within the socket timeout: a connection that went
                # silent (a stall, a dead NAT mapping) fails here instead of hanging forever.
                _text, late = idler.idle_done()
            if changed or _changed(late):
                return True
            self._conn()  # keeps the main connection from being logged out meanwhile
        if stop.is_set():
            log.info("%s: IDLE ended for shutdown", self._where)
        return False

    def close(self) -> None:
        """Log out of both connections; safe to call more than once."""
        # ValueError: at shutdown a watcher thread still stuck in IDLE may have closed the
        # socket file underneath us; logging out is best effort then.
        for client in (self._idler, self._client):
            if client is not None:
                try:
                    client.logout()
                except (*_ERRORS, ValueError):
                    with suppress(*_ERRORS, ValueError):
                        client.shutdown()
        self._client = self._idler = self._selected = None


class _Guarded:
    """A scan's FETCH pipeline, with connection errors reported as `MailboxError`."""

    def __init__(self, mailbox: ImapMailbox, folder: str, pipeline: Pipeline) -> None:
        self._mailbox = mailbox
        self._folder = folder
        self._pipeline = pipeline

    def send(self, requests: Sequence[Request]) -> Ticket:
        """Send FETCH commands on the folder's connection without waiting."""
        with self._mailbox._guard(f"fetching from {self._folder}"):
            return self._pipeline.send(requests)

    def collect(self, ticket: Ticket) -> dict[int, dict[bytes, Any]]:
        """The answers to commands sent earlier."""
        with self._mailbox._guard(f"fetching from {self._folder}"):
            return self._pipeline.collect(ticket)
