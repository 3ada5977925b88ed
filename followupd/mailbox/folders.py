"""Which folder is Drafts and which is Sent when the server does not say (no SPECIAL-USE).

Names as the big providers and the common servers spell them, in several languages;
a folder in the config always wins, then the server's SPECIAL-USE attributes, then these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

DRAFT_NAMES = (
    "Drafts",
    "[Gmail]/Drafts",
    "[Google Mail]/Drafts",
    "INBOX/Drafts",
    "Draft",
    "Entwürfe",
    "[Google Mail]/Entwürfe",
    "Brouillons",
    "[Gmail]/Brouillons",
    "Borradores",
    "[Gmail]/Borradores",
    "Bozze",
    "Concepten",
    "Rascunhos",
    "Utkast",
    "Kladder",
)
SENT_NAMES = (
    "Sent",
    "Sent Items",  # Microsoft 365 / Exchange
    "Sent Messages",  # iCloud
    "Sent Mail",
    "[Gmail]/Sent Mail",
    "[Google Mail]/Sent Mail",
    "INBOX/Sent",
    "Gesendet",
    "Gesendete Elemente",
    "Gesendete Objekte",
    "[Google Mail]/Gesendet",
    "Envoyés",
    "Éléments envoyés",
    "Messages envoyés",
    "[Gmail]/Messages envoyés",
    "Enviados",
    "Elementos enviados",
    "[Gmail]/Enviados",
    "Posta inviata",
    "Verzonden items",
)


def _normal(name: str) -> str:
    # "INBOX.Drafts" (Courier, Cyrus) and "INBOX/Drafts" are the same place; case varies.
    return name.replace(".", "/").casefold()


def by_known_name(existing: Iterable[str], known: Sequence[str]) -> str | None:
    """The existing folder matching the earliest known name, spelled as the server spells it."""
    present = {_normal(name): name for name in existing}
    for name in known:
        match = present.get(_normal(name))
        if match is not None:
            return match
    return None
