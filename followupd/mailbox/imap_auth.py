"""Signing in to IMAP: LOGIN with a password, or SASL XOAUTH2/OAUTHBEARER with an access token."""

from __future__ import annotations

from typing import Any

from followupd.config import ImapSettings
from followupd.errors import FollowupdError, MailboxError


def sign_in(client: Any, settings: ImapSettings, where: str) -> str:
    """Log the (already TLS-protected) client in; returns the method used, for the log.

    The secret is fetched here, on every call: OAuth2 access tokens live about an hour, so
    each reconnect asks the token command for a current one.
    """
    try:
        credential = settings.credential()
    except MailboxError:
        raise
    except FollowupdError as exc:
        # A locked keyring or a failing token command may pass; the daemon retries with backoff.
        raise MailboxError(f"{where}: cannot get the secret to sign in: {exc}") from None
    if credential.kind == "password":
        client.login(settings.username, credential.value)
        return "password"
    mechanism = settings.oauth2_mechanism
    if not client.has_capability(f"AUTH={mechanism}"):
        offered = sorted(
            c.decode()[5:] for c in client.capabilities() if c.upper().startswith(b"AUTH=")
        )
        raise MailboxError(
            f"{where}: the server does not offer {mechanism} sign-in"
            f" (it offers: {', '.join(offered) or 'none'})"
        )
    if mechanism == "OAUTHBEARER":
        client.oauthbearer_login(settings.username, credential.value)
    else:
        client.oauth2_login(settings.username, credential.value, mech=mechanism)
    return mechanism
