"""A throwaway Dovecot for tests: its own config, users, TLS certificate and mail tree.

Started once per test session by the `dovecot` fixture in conftest.py. Runs as root
(as CI does) with the mail owned by the `dovecot` system user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from followupd.config import ImapSettings

HOST = "127.0.0.1"
USERS = {"jane": "jane-secret-1", "bob": "bob-secret-2"}
# OAuth2 access tokens: a second passdb accepts these, and only through XOAUTH2/OAUTHBEARER.
TOKENS = {"jane": "jane-oauth-token-1", "bob": "bob-oauth-token-2"}
STANDARD_FOLDERS = ("INBOX", "Drafts", "Sent")

_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = followupd-test
log_path = {root}/dovecot.log
listen = {host}
protocols = imap
ssl = yes
ssl_cert = <{root}/tls/server.pem
ssl_key = <{root}/tls/server.key
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain login xoauth2 oauthbearer
disable_plaintext_auth = no
auth_failure_delay = 0
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:{root}/mail/%u
# Dovecot notices new mail through inotify; this is the fallback when inotify is unavailable.
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
  mechanisms = plain login
}}
# Stands in for a token endpoint: the "password" of this passdb is the user's access token.
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/tokens
  mechanisms = xoauth2 oauthbearer
}}
userdb {{
  driver = passwd-file
  args = {root}/users
}}
namespace inbox {{
  inbox = yes
  mailbox Drafts {{
    special_use = \\Drafts
    auto = create
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
    ssl = yes
  }}
}}
# No growing delay after failed logins (Dovecot's auth penalty): tests fail logins on purpose.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    user = dovecot
  }}
  unix_listener stats-writer {{
    user = dovecot
  }}
}}
"""


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _make_certificate(tls_dir: Path) -> None:
    """A test CA and a server certificate for localhost/127.0.0.1 signed by it."""
    tls_dir.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tls_dir, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ca_ext = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"]
    openssl(
        *["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2"],
        *["-subj", "/CN=followupd test CA", "-addext", ca_ext[0], "-addext", ca_ext[1]],
    )
    openssl(
        "req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"
    )
    (tls_dir / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
    )
    openssl(
        *["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key"],
        *["-CAcreateserial", "-days", "2", "-out", "server.pem", "-extfile", "server.ext"],
    )
    (tls_dir / "server.key").chmod(0o600)


@dataclass
class Dovecot:
    """A running test Dovecot and helpers to look into and prepare its mailboxes."""

    root: Path
    port: int
    tls_port: int
    host: str = HOST
    users: dict[str, str] = field(default_factory=lambda: dict(USERS))
    tokens: dict[str, str] = field(default_factory=lambda: dict(TOKENS))
    process: subprocess.Popen[bytes] | None = None

    @property
    def ca_file(self) -> Path:
        return self.root / "tls" / "ca.pem"

    @property
    def log_file(self) -> Path:
        return self.root / "dovecot.log"

    def log(self) -> str:
        """What Dovecot printed and logged so far."""
        parts = []
        for path in (self.root / "dovecot.out", self.log_file):
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts) or "(nothing logged)"

    def imap_settings(self, user: str = "jane", **overrides: Any) -> ImapSettings:
        """Settings for the plain loopback listener; pass overrides for TLS, folders …"""
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "username": user,
            "password": self.users[user],
            "tls": "none",
            "allow_plaintext_on_loopback": True,
            "timeout": 10.0,
            "poll_interval": 0.2,
        }
        values.update(overrides)
        return ImapSettings(**values)

    def set_token(self, user: str, token: str) -> None:
        """Issue a new access token for `user`; the old one stops working at once."""
        path = self.root / "tokens"
        # Dovecot re-reads a passwd-file when its mtime changes, looking at most once a
        # second: a distinct mtime, then wait until the new token is taken.
        earlier = min(time.time(), path.stat().st_mtime) - 2
        self.tokens[user] = token
        _write_users(path, self.tokens)
        os.utime(path, (earlier, earlier))
        deadline = time.monotonic() + 10
        while not self._token_works(user, token):
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not take the new token:\n{self.log()}")
            time.sleep(0.2)

    def _token_works(self, user: str, token: str) -> bool:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        try:
            client.oauth2_login(user, token)
        except IMAPClient.Error:
            client.shutdown()
            return False
        client.logout()
        return True

    @contextmanager
    def client(self, user: str) -> Iterator[Any]:
        """A logged-in IMAPClient for `user` on the plain listener."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        try:
            client.login(user, self.users[user])
            yield client
        finally:
            try:
                client.logout()
            except (IMAPClient.Error, OSError):
                client.shutdown()

    def append(self, user: str, folder: str, raw: bytes, flags: Iterable[bytes] = ()) -> int:
        """Deliver a message as another client would; returns its UID."""
        with self.client(user) as client:
            response = client.append(folder, raw, flags=tuple(flags))
        # "[APPENDUID <validity> <uid>] Append completed." (UIDPLUS)
        return int(response.split(b"]")[0].split()[-1])

    def fetch_all(self, user: str, folder: str) -> list[tuple[int, tuple[bytes, ...], bytes]]:
        """Every message of the folder as (uid, flags, raw), read without setting \\Seen."""
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            # imapclient 4 wants explicit UIDs in fetch(), not a "1:*" range.
            data = client.fetch(client.search("ALL"), ["FLAGS", "BODY.PEEK[]"])
        return [(uid, tuple(d[b"FLAGS"]), bytes(d[b"BODY[]"])) for uid, d in sorted(data.items())]

    def reset(self, user: str) -> None:
        """Empty INBOX, Drafts and Sent of `user` and delete any other folder."""
        with self.client(user) as client:
            for _flags, _sep, name in client.list_folders():
                if name not in STANDARD_FOLDERS:
                    client.delete_folder(name)
            for name in STANDARD_FOLDERS:
                if not client.folder_exists(name):
                    client.create_folder(name)
                client.select_folder(name)
                uids = client.search("ALL")
                if uids:
                    client.delete_messages(uids)
                    client.expunge()
                client.close_folder()

    def restart(self, timeout: float = 20.0) -> None:
        """Start the stopped server again on the same ports, with the same mail."""
        self.stop()
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        with (self.root / "dovecot.out").open("ab") as out:
            self.process = subprocess.Popen(
                [binary, "-F", "-c", str(self.root / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        deadline = time.monotonic() + timeout
        while not _accepts(self.host, self.port, greeting=True):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"dovecot did not come back:\n{self.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _write_users(path: Path, secrets: dict[str, str]) -> None:
    """A passwd-file: user, secret, the dovecot uid/gid, home under the server's root."""
    account = pwd.getpwnam("dovecot")
    root = path.parent
    path.write_text(
        "".join(
            f"{user}:{secret}:{account.pw_uid}:{account.pw_gid}::{root}/home/{user}::\n"
            for user, secret in secrets.items()
        )
    )


def _accepts(host: str, port: int, greeting: bool) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            return not greeting or sock.recv(200).startswith(b"* OK")
    except OSError:
        return False


def start_dovecot(startup_timeout: float = 20.0) -> Dovecot:
    """Write a config into a fresh directory, start `dovecot -F` and wait for its greeting.

    Raises RuntimeError (with the Dovecot log) when it cannot be started.
    """
    binary = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )
    if binary is None:
        raise RuntimeError(
            "the IMAP tests need a real Dovecot: install it with `apt-get install dovecot-imapd`"
        )
    account = pwd.getpwnam("dovecot")
    # Short path: Dovecot's unix sockets live under base_dir (108-byte limit).
    root = Path(tempfile.mkdtemp(prefix="fud-dovecot-"))
    # Dovecot's unprivileged processes must reach the sockets and the mail below it.
    root.chmod(0o755)
    _make_certificate(root / "tls")
    for sub in ("mail", "home"):
        (root / sub).mkdir()
        os.chown(root / sub, account.pw_uid, account.pw_gid)
    _write_users(root / "users", USERS)
    _write_users(root / "tokens", TOKENS)
    server = Dovecot(root=root, port=free_port(), tls_port=free_port())
    conf = root / "dovecot.conf"
    conf.write_text(_CONF.format(root=root, host=HOST, port=server.port, tls_port=server.tls_port))
    with (root / "dovecot.out").open("wb") as out:
        server.process = subprocess.Popen(
            [binary, "-F", "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            server.process = None
            raise RuntimeError(f"dovecot exited at start:\n{server.log()}")
        if _accepts(HOST, server.port, greeting=True) and _accepts(
            HOST, server.tls_port, greeting=False
        ):
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"dovecot did not greet within {startup_timeout:.0f} s:\n{server.log()}")


def remove(server: Dovecot) -> None:
    """Stop the server and delete its directory."""
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)
