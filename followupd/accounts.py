"""Turn configured accounts into mailbox backends."""

from __future__ import annotations

from followupd.config import Account, Config
from followupd.mailbox.base import Mailbox


def open_mailbox(config: Config, account: Account) -> Mailbox:
    """The backend for one account; IMAP connects lazily on first use."""
    if account.maildir is not None:
        from followupd.mailbox.maildir import MaildirMailbox  # noqa: PLC0415 - lazy

        return MaildirMailbox(account.name, config.resolve(account.maildir))
    assert account.imap is not None
    from followupd.mailbox.imap import ImapMailbox  # noqa: PLC0415 - imapclient is slow to import

    return ImapMailbox(account.name, account.imap)


def open_mailboxes(config: Config) -> dict[str, Mailbox]:
    return {a.name: open_mailbox(config, a) for a in config.accounts}


def close_all(mailboxes: dict[str, Mailbox]) -> None:
    for mailbox in mailboxes.values():
        mailbox.close()
