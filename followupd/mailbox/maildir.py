"""A local Maildir++ tree (as mbsync or offlineimap keep it), read with the standard library."""

from __future__ import annotations

import itertools
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Collection, Container, Iterator
from pathlib import Path
from typing import TypeVar

from followupd.errors import MailboxError
from followupd.mailbox import file_screen
from followupd.mailbox.base import Fetched, FolderRoles, Mailbox, Screened
from followupd.prefilter import Judgement, Screen, Verdict, message_id

log = logging.getLogger(__name__)

INBOX = "INBOX"
DRAFTS = "Drafts"
SENT_NAMES = ("Sent", "Sent Items", "Sent Messages")
HEADER_LIMIT = 64 * 1024
# One byte more than the parser reads (parse.MAX_RAW_BYTES), so it can say it truncated.
READ_LIMIT = 16 * 1024 * 1024 + 1
_SUBDIRS = ("cur", "new", "tmp")
_MESSAGE_ID = re.compile(rb"^message-id[ \t]*:(.*)$", re.IGNORECASE | re.MULTILINE)
_counter = itertools.count(1)
_T = TypeVar("_T")


def normalize_message_id(value: str) -> str:
    """The comparable form of a Message-ID: no brackets or blanks, the domain in lower case."""
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    local, at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}" if at else value


def wanted_ids(message_ids: Collection[str]) -> dict[str, set[str]]:
    """The normalised form of each Message-ID asked for, mapped to the spellings given."""
    wanted: dict[str, set[str]] = {}
    for given in message_ids:
        wanted.setdefault(normalize_message_id(given), set()).add(given)
    return wanted


def message_id_of(head: bytes) -> str | None:
    """The normalised Message-ID in a header block, or None."""
    unfolded = re.sub(rb"\r?\n[ \t]+", b" ", head)
    match = _MESSAGE_ID.search(unfolded)
    if match is None:
        return None
    value = match.group(1).strip()
    bracketed = re.search(rb"<([^<>]*)>", value)
    if bracketed is not None:
        value = bracketed.group(1)
    return normalize_message_id(value.decode("utf-8", "replace")) if value else None


def _head(path: Path) -> bytes:
    """The header block of a message file: up to the blank line, at most HEADER_LIMIT bytes."""
    head = b""
    with path.open("rb") as fh:
        while len(head) < HEADER_LIMIT:
            chunk = fh.read(8192)
            if not chunk:
                break
            head += chunk
            end = re.search(rb"\r?\n\r?\n", head)
            if end is not None:
                return head[: end.start()]
    return head[:HEADER_LIMIT]


def _bounded(path: Path) -> bytes:
    """The message, but never more than READ_LIMIT bytes of it: a multi-gigabyte file must
    not exhaust memory. The parser notes the truncation as a defect."""
    with path.open("rb") as fh:
        return fh.read(READ_LIMIT)


def _screen_file(path: Path, screen: Screen) -> tuple[Judgement, dict[str, str]]:
    """The screen's verdict on one file, from its first bytes (and a calendar search)."""
    with path.open("rb") as fh:
        data = fh.read(file_screen.TOP_BYTES + 1)
        top = file_screen.Top(data[: file_screen.TOP_BYTES], len(data) <= file_screen.TOP_BYTES)
        calendar = file_screen.has_calendar(top, fh.fileno())
    return file_screen.judge_top(top, screen, calendar)


def _key(filename: str) -> str:
    return filename.split(":", 1)[0]


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


class MaildirMailbox(Mailbox):
    """A Maildir++ tree: INBOX is the root, other folders are `.Name` in it.

    Also the layout of mbsync's "SubFolders Verbatim": `Name` folders, INBOX the root or `INBOX`.

    Messages are never renamed or moved; the only write is a new file in the Drafts folder.
    """

    def __init__(self, name: str, root: Path, *, poll_interval: float = 1.0) -> None:
        self.name = name
        self.root = Path(root).expanduser()
        self.poll_interval = poll_interval
        if not self.root.is_dir():
            raise MailboxError(f"{name}: Maildir {self.root} does not exist")
        # mbsync's "SubFolders Verbatim" trees often keep INBOX beside the other folders.
        inbox = next((p for p in (self.root, self.root / INBOX) if _is_maildir(p)), None)
        if inbox is None:
            raise MailboxError(f"{name}: {self.root} is not a Maildir (no cur/ and new/ in it)")
        self._inbox = inbox
        # Directory mtimes as of the last fetch or wait, so changes in between are not missed.
        self._stamps: dict[Path, int] = {}

    def _where(self, path: Path) -> str:
        return f"{self.name}: {path}"

    def _folder_path(self, folder: str) -> Path | None:
        if folder == INBOX:
            return self._inbox
        for candidate in (self.root / ("." + folder.replace("/", ".")), self.root / folder):
            if _is_maildir(candidate):
                return candidate
        return None

    def _existing(self, folder: str) -> Path:
        path = self._folder_path(folder)
        if path is None:
            raise MailboxError(f"{self.name}: no folder {folder!r} in Maildir {self.root}")
        return path

    def _drafts_path(self) -> Path:
        path = self._folder_path(DRAFTS)
        if path is not None:
            return path
        # Follow the tree's layout: mbsync's "SubFolders Verbatim" uses plain names.
        verbatim = self._inbox != self.root or any(_is_maildir(self.root / n) for n in SENT_NAMES)
        path = self.root / (DRAFTS if verbatim else "." + DRAFTS)
        try:
            for sub in _SUBDIRS:
                (path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            if not verbatim:
                (path / "maildirfolder").touch(mode=0o600)
        except OSError as exc:
            raise MailboxError(f"{self._where(path)}: cannot create Drafts: {exc}") from exc
        log.info("%s: created the Drafts folder %s", self.name, path)
        return path

    def roles(self) -> FolderRoles:
        """INBOX is the root, Drafts is created if missing, Sent is None when there is none."""
        self._drafts_path()
        sent = next((n for n in SENT_NAMES if self._folder_path(n) is not None), None)
        return FolderRoles(inbox=INBOX, drafts=DRAFTS, sent=sent)

    def validity(self, folder: str) -> int:
        """Maildir keys never change meaning, so validity is a constant."""
        return 1

    def _entries(self, path: Path) -> dict[str, str]:
        """{key: file path}; paths as plain strings, which a folder of 100,000 files makes
        tens of megabytes lighter than Path objects."""
        found: dict[str, str] = {}
        for sub in ("new", "cur"):
            try:
                with os.scandir(path / sub) as it:
                    for entry in it:
                        if not entry.name.startswith(".") and entry.is_file():
                            found[_key(entry.name)] = entry.path
            except OSError as exc:
                raise MailboxError(f"{self._where(path / sub)}: {exc}") from exc
        return found

    def _read(
        self, folder_path: Path, key: str, path: str, reader: Callable[[Path], _T]
    ) -> _T | None:
        # A mail client or mbsync may rename the file (flags, new/ -> cur/, ",U=") as we read.
        for _attempt in range(3):
            try:
                return reader(Path(path))
            except FileNotFoundError:
                moved = self._entries(folder_path).get(key)
                if moved is None:
                    return None
                path = moved
            except OSError as exc:
                raise MailboxError(f"{self._where(Path(path))}: {exc}") from exc
        return None

    def fetch_new(self, folder: str, after_uid: int, known: Container[str]) -> Iterator[Fetched]:
        """Every message whose key is not in `known`, oldest first (Maildir has no UIDs)."""
        folder_path = self._existing(folder)
        for key, path in self._pending(folder_path, known):
            raw = self._read(folder_path, key, path, _bounded)
            if raw is None:
                log.info("%s: %s vanished before it could be read", self.name, key)
                continue
            yield Fetched(folder=folder, key=key, uid=0, raw=raw)

    def fetch_screened(
        self, folder: str, after_uid: int, known: Container[str], screen: Screen
    ) -> Iterator[Fetched | Screened]:
        """Like `fetch_new`, but each file's first bytes decide whether it is read whole.

        See `file_screen`: what the screen rules out is recorded from its header and the
        top of its text; the rest (and a file the screen cannot read) is read and parsed.
        """
        folder_path = self._existing(folder)
        for key, path in self._pending(folder_path, known):
            judged = self._read(folder_path, key, path, lambda p: _screen_file(p, screen))
            if judged is None:
                log.info("%s: %s vanished before it could be read", self.name, key)
                continue
            judgement, fields = judged
            if judgement.verdict is Verdict.JOB:
                raw = self._read(folder_path, key, path, _bounded)
                if raw is not None:
                    yield Fetched(folder=folder, key=key, uid=0, raw=raw)
            else:
                yield Screened(folder, key, 0, message_id(fields), judgement.reason)

    def _pending(self, folder_path: Path, known: Container[str]) -> list[tuple[str, str]]:
        """(key, path) of the messages not in `known`, in delivery order."""
        self._stamps.update(self._snapshot([folder_path]))
        order: list[tuple[float, int, str, str]] = []
        for key, path in self._entries(folder_path).items():
            if key in known:
                continue
            try:
                mtime_ns = os.stat(path).st_mtime_ns
            except OSError:
                mtime_ns = 0
            prefix = key.split(".", 1)[0]
            delivered = float(prefix) if prefix.isdigit() else mtime_ns / 1e9
            order.append((delivered, mtime_ns, key, path))
        order.sort()
        return [(key, path) for _delivered, _mtime, key, path in order]

    def find_message_ids(self, folder: str, message_ids: Collection[str]) -> set[str]:
        """Which of these Message-IDs are in the folder; reads the headers of each message only."""
        wanted = wanted_ids(message_ids)
        found: set[str] = set()
        if not wanted:
            return found
        folder_path = self._existing(folder)
        for key, path in self._entries(folder_path).items():
            head = self._read(folder_path, key, path, _head)
            found_id = message_id_of(head) if head else None
            if found_id is not None and found_id in wanted:
                found |= wanted[found_id]
        return found

    def append_draft(self, raw: bytes) -> None:
        """Write the draft into tmp/, then link it into cur/ as `<unique>:2,D`, mode 0600."""
        folder = self._drafts_path()
        host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")
        now = time.time()
        unique = f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{next(_counter)}.{host}"
        tmp, final = folder / "tmp" / unique, folder / "cur" / f"{unique}:2,D"
        # Maildir files use the local line ending; mbsync and mutt convert on their own.
        data = raw.replace(b"\r\n", b"\n")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.fchmod(fd, 0o600)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, final)
                os.unlink(tmp)
            except OSError:
                # Some file systems have no hard links; rename is atomic too.
                os.rename(tmp, final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise MailboxError(f"{self._where(folder)}: cannot write a draft: {exc}") from exc
        log.debug("%s: wrote draft %s", self.name, final.name)

    def _watched(self) -> list[Path]:
        folders = [self._inbox]
        folders += [p for n in SENT_NAMES if (p := self._folder_path(n)) is not None][:1]
        return folders

    def _snapshot(self, folders: list[Path]) -> dict[Path, int]:
        stamps: dict[Path, int] = {}
        for folder in folders:
            for sub in ("new", "cur"):
                try:
                    stamps[folder / sub] = (folder / sub).stat().st_mtime_ns
                except FileNotFoundError:
                    stamps[folder / sub] = -1
                except OSError as exc:
                    raise MailboxError(f"{self._where(folder / sub)}: {exc}") from exc
        return stamps

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Poll the mtimes of INBOX and Sent new/ and cur/ until one changes or timeout."""
        deadline = time.monotonic() + timeout
        folders = self._watched()
        baseline = self._snapshot(folders)
        baseline.update({k: v for k, v in self._stamps.items() if k in baseline})
        while True:
            current = self._snapshot(folders)
            if current != baseline:
                self._stamps.update(current)
                return True
            left = deadline - time.monotonic()
            if left <= 0 or (stop is not None and stop.is_set()):
                self._stamps.update(current)
                return False
            if stop is not None:
                stop.wait(min(self.poll_interval, left))
            else:
                time.sleep(min(self.poll_interval, left))

    def close(self) -> None:
        """Nothing to release."""
