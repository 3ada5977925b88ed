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


def open_watchers(config: Config) -> dict[str, Mailbox]:
    """Mailboxes for the daemon's watcher threads: one IDLE on INBOX and one on Sent per
    IMAP account (a message you send is noticed at once), one per Maildir account."""
    watchers: dict[str, Mailbox] = {}
    for account in config.accounts:
        watchers[account.name] = open_mailbox(config, account)
        if account.imap is not None:
            from followupd.mailbox.imap import ImapMailbox  # noqa: PLC0415 - slow to import

            watchers[f"{account.name}/sent"] = ImapMailbox(account.name, account.imap, "sent")
    return watchers


def close_all(mailboxes: dict[str, Mailbox]) -> None:
    for mailbox in mailboxes.values():
        mailbox.close()
