"""The one interface every mailbox backend implements."""

from __future__ import annotations

import abc
import threading
from collections.abc import Collection, Container, Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from followupd.prefilter import Screen


@dataclass(frozen=True)
class Fetched:
    """One message read from a folder, without changing its flags."""

    folder: str
    key: str  # stable within (folder, validity): the IMAP UID, or the Maildir unique name
    uid: int  # IMAP UID; 0 for Maildir, which has none
    raw: bytes


@dataclass(frozen=True)
class Screened:
    """A message ruled out as job mail before its text was read (see `followupd.prefilter`)."""

    folder: str
    key: str
    uid: int
    message_id: str
    reason: str


@dataclass(frozen=True)
class FolderRoles:
    inbox: str
    drafts: str
    sent: str | None


@dataclass(frozen=True)
class Backlog:
    """Where a folder's first read starts, and how many messages it will look at."""

    after_uid: int  # read messages with a UID above this; 0 reads the whole folder
    count: int | None  # None when the store cannot tell without reading


class Mailbox(abc.ABC):
    """A mail store followupd reads from and appends drafts to.

    Implementations never change, move, flag or delete an existing message.
    """

    name: str

    @abc.abstractmethod
    def roles(self) -> FolderRoles:
        """The folders that play the INBOX, Drafts and Sent roles."""

    @abc.abstractmethod
    def validity(self, folder: str) -> int:
        """IMAP UIDVALIDITY of the folder; a constant for stores without UIDs."""

    @abc.abstractmethod
    def fetch_new(self, folder: str, after_uid: int, known: Container[str]) -> Iterator[Fetched]:
        """Yield messages with UID > after_uid (IMAP) whose key is not in `known`, oldest first.

        Reads never mark anything as seen (IMAP: BODY.PEEK).
        """

    def fetch_screened(
        self, folder: str, after_uid: int, known: Container[str], screen: Screen
    ) -> Iterator[Fetched | Screened]:
        """Like `fetch_new`, but what `screen` rules out may come as `Screened`, unread.

        Backends that cannot fetch in stages return everything (this default).
        """
        return iter(self.fetch_new(folder, after_uid, known))

    def backlog(self, folder: str, since: date | None) -> Backlog:
        """The first read of a folder: only mail that arrived on or after `since` (None: all).

        Stores that cannot search by date read everything (this default).
        """
        return Backlog(0, None)

    @abc.abstractmethod
    def find_message_ids(self, folder: str, message_ids: Collection[str]) -> set[str]:
        """Which of these Message-IDs (without angle brackets) are present in the folder."""

    @abc.abstractmethod
    def append_draft(self, raw: bytes) -> None:
        """Store a message in the Drafts folder, flagged as a draft (IMAP \\Draft, Maildir D)."""

    @abc.abstractmethod
    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Block until the INBOX or Sent may have changed, timeout, or `stop` is set.

        True if something may have changed. When `stop` is set it returns within about a
        second, having ended any IDLE cleanly.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; idempotent."""
