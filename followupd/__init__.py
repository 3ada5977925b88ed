"""followupd: a mailbox watcher that drafts interview thank-yous and follow-ups."""

__version__ = "0.1.0"
