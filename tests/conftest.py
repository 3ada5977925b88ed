"""Shared fixtures. The IMAP ones start a real Dovecot once per session (see tests/dovecot.py)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dovecot import Dovecot, remove, start_dovecot
from tests.faultproxy import FaultProxy
from tests.stores import ImapStore, MaildirStore, Store


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The phrase-book cache of this run (and of the commands it starts) in a folder of its own."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A running Dovecot on free loopback ports with users jane and bob.

    Fails (never skips) when Dovecot is missing or does not start: the IMAP backend
    must be tested on CI.
    """
    try:
        server = start_dovecot()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"cannot start Dovecot for the IMAP tests: {exc}", pytrace=False)
    try:
        yield server
    finally:
        remove(server)


@pytest.fixture(params=["maildir", pytest.param("imap", marks=pytest.mark.imap)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same test on a local Maildir and on a real Dovecot account."""
    if request.param == "maildir":
        yield MaildirStore(tmp_path / "Maildir")
    else:
        yield ImapStore(request.getfixturevalue("dovecot"))


@pytest.fixture
def proxy(dovecot: Dovecot) -> Iterator[FaultProxy]:
    """A fault-injecting TCP proxy in front of Dovecot's IMAP port (tests/faultproxy.py)."""
    p = FaultProxy(dovecot.host, dovecot.port)
    yield p
    p.close()
