"""Lost connections, silent stalls, refused reconnects and server changes, on a real Dovecot.

followupd talks to Dovecot through tests/faultproxy.py; mail is delivered straight to
Dovecot, as another client would. Each test ends with every draft made exactly once.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.dovecot import Dovecot
from tests.faultproxy import FaultProxy
from tests.stores import PASSWORD_ENV, Followupd, ImapStore
from tests.test_daemon import invitation, stop_daemon, wait_for
from tests.test_signals import ACK, _followupd

pytestmark = pytest.mark.imap

# Short timings so a fault is noticed in seconds; the defaults are minutes.
FAST = "      timeout: 2\n      idle_renew: 2\n"


class ProxiedStore(ImapStore):
    def __init__(self, server: Dovecot, proxy: FaultProxy) -> None:
        super().__init__(server)
        self.proxy = proxy

    def account_yaml(self) -> str:
        text = (
            super().account_yaml().replace(f"port: {self.server.port}", f"port: {self.proxy.port}")
        )
        return text + FAST


def _first_draft_made(store: ImapStore, run: Followupd) -> None:
    """Invitation 0 arrives and is drafted: the daemon is up and watching."""
    store.deliver(invitation(0, _sent()))
    assert wait_for(lambda: len(store.drafts()) == 1, 20), run.log.read_text()


def _message_ids(store: ImapStore) -> Counter[str]:
    return Counter(str(m["Message-ID"]) for _f, m in store.drafts())


def _sent() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=5)


FAULTS = {
    # The server's answer to the FETCH of a candidate's header and text parts (the staged
    # fetch's last stage) is cut halfway through the literal.
    "mid-fetch": (b"BODY[HEADER] {", "cut-half", False),
    # The draft reaches the server whole, but its "APPEND completed" never comes back.
    "append-answer-lost": (b"X-Followupd-Rule", "swallow-replies", True),
    # The connection dies while the draft is being sent: the server stores nothing.
    "mid-append": (b"X-Followupd-Rule", "cut-half", True),
    # The FETCH goes out and nothing ever comes back: only the socket timeout can tell.
    "stall-in-fetch": (b"BODY.PEEK[HEADER]", "stall", True),
    "mid-idle": (b"IDLE\r\n", "cut", True),
    # IDLE accepted, then silence: no data, no FIN, as after hours behind a NAT box.
    "stall-in-idle": (b"IDLE\r\n", "stall", True),
}
IDLE_FAULTS = ("mid-idle", "stall-in-idle")


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_is_noticed_and_recovered_from_with_every_draft_made_once(
    fault: str, dovecot: Dovecot, proxy: FaultProxy, tmp_path: Path
) -> None:
    store = ProxiedStore(dovecot, proxy)
    run = _followupd(tmp_path, store, ACK)
    daemon = run.start()
    try:
        _first_draft_made(store, run)
        pattern, action, from_client = FAULTS[fault]
        proxy.arm(pattern, action, from_client=from_client)
        if fault in IDLE_FAULTS:
            # It fires at the next IDLE renewal; the mail then arrives while the link is down.
            assert wait_for(lambda: len(proxy.fired) == 1, 20), f"{fault} never fired"
        for n in (1, 2, 3):
            store.deliver(invitation(n, _sent()))
        assert wait_for(lambda: len(proxy.fired) == 1, 20), f"{fault} never fired"
        assert wait_for(lambda: len(store.drafts()) >= 4, 40), run.log.read_text()
        # Still watching after the recovery: new mail is noticed as before.
        store.deliver(invitation(4, _sent()))
        assert wait_for(lambda: len(store.drafts()) >= 5, 30), run.log.read_text()
        time.sleep(1)
    finally:
        code, _took = stop_daemon(daemon)
    log = run.log.read_text()
    assert code == 0, log
    assert "retrying in" in log  # the fault was noticed as a fault, not ignored
    ids = _message_ids(store)
    assert len(ids) == 5 and max(ids.values()) == 1, ids
    states = Counter(a["state"] for a in run.status(datetime.now(UTC).isoformat())["done"])
    assert states == {"drafted": 5}


def test_reconnects_refused_for_a_while_back_off_and_catch_up(
    dovecot: Dovecot, proxy: FaultProxy, tmp_path: Path
) -> None:
    store = ProxiedStore(dovecot, proxy)
    run = _followupd(tmp_path, store, ACK)
    daemon = run.start()
    try:
        _first_draft_made(store, run)
        proxy.refuse_for(6)
        for n in (1, 2):
            store.deliver(invitation(n, _sent()))
        time.sleep(3)
        assert len(store.drafts()) == 1  # nothing can get through yet
        assert wait_for(lambda: len(store.drafts()) == 3, 40), run.log.read_text()
    finally:
        code, _took = stop_daemon(daemon)
    assert code == 0
    assert proxy.refused >= 1
    # Backoff, not a tight loop: a handful of attempts in six seconds.
    assert proxy.refused < 20, proxy.refused
    assert max(_message_ids(store).values()) == 1


def _uidlist_reset(server: Dovecot, user: str) -> None:
    """Make Dovecot assign INBOX a new UIDVALIDITY, as when a mailbox is recreated."""
    home = server.root / "mail" / user
    for path in home.glob("dovecot*"):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def _inbox_validity(tmp_path: Path) -> int:
    db = sqlite3.connect(tmp_path / "state" / "state.sqlite3")
    try:
        row = db.execute("SELECT validity FROM cursors WHERE folder='INBOX'").fetchone()
        return int(row[0])
    finally:
        db.close()


def test_dovecot_restart_with_a_new_uidvalidity_repeats_no_work(
    dovecot: Dovecot, proxy: FaultProxy, tmp_path: Path
) -> None:
    store = ProxiedStore(dovecot, proxy)
    run = _followupd(tmp_path, store, ACK)
    daemon = run.start()
    try:
        for n in (1, 2, 3):
            store.deliver(invitation(n, _sent()))
        assert wait_for(lambda: len(store.drafts()) == 3, 30), run.log.read_text()
        before = _inbox_validity(tmp_path)
        dovecot.stop()
        _uidlist_reset(dovecot, "jane")
        dovecot.restart()
        store.deliver(invitation(4, _sent()))
        assert wait_for(lambda: len(store.drafts()) == 4, 40), run.log.read_text()
        assert wait_for(lambda: _inbox_validity(tmp_path) != before, 10)
        time.sleep(2)
    finally:
        code, _took = stop_daemon(daemon)
    assert code == 0
    ids = _message_ids(store)
    assert len(ids) == 4 and max(ids.values()) == 1
    status = run.status(datetime.now(UTC).isoformat())
    assert len(status["applications"]) == 4
    assert all(a["messages"] == 1 for a in status["applications"])


def test_mail_that_came_while_stopped_for_days_is_handled_at_once_and_once(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    store = ImapStore(dovecot)
    run = _followupd(tmp_path, store, ACK)
    run("run", "--once")  # known to followupd, then stopped
    for n in (1, 2, 3):
        store.deliver(invitation(n, datetime.now(UTC) - timedelta(days=4 - n)))
    daemon = run.start()
    try:
        assert wait_for(lambda: len(store.drafts()) == 3, 30), run.log.read_text()
    finally:
        stop_daemon(daemon)
    daemon = run.start()
    time.sleep(3)
    stop_daemon(daemon)
    ids = _message_ids(store)
    assert len(ids) == 3 and max(ids.values()) == 1


def test_idle_is_renewed_on_schedule_while_nothing_happens(
    dovecot: Dovecot, proxy: FaultProxy, tmp_path: Path
) -> None:
    store = ProxiedStore(dovecot, proxy)  # idle_renew: 2 seconds
    run = _followupd(tmp_path, store, ACK)
    daemon = run.start()
    try:
        assert wait_for(lambda: b"IDLE\r\n" in proxy.client_bytes, 20), run.log.read_text()
        time.sleep(7)
    finally:
        code, _took = stop_daemon(daemon)
    assert code == 0
    # Each renewal is DONE then IDLE again; DONE must be answered, proving the link alive.
    # Two IDLE connections renew side by side: the INBOX watcher and the Sent watcher.
    renewals = proxy.client_bytes.count(b"DONE\r\n")
    assert 6 <= renewals <= 12, renewals


def test_tls_connection_cut_and_refused_reconnects_recover_with_verification(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    proxy = FaultProxy(dovecot.host, dovecot.tls_port)
    try:
        store = ImapStore(dovecot)
        run = _followupd(tmp_path, store, ACK)
        tls = (
            "  - name: work\n    imap:\n"
            f"      host: {dovecot.host}\n      port: {proxy.port}\n      tls: implicit\n"
            f"      ca_file: {dovecot.ca_file}\n"
            f"      username: jane\n      password_env: {PASSWORD_ENV}\n" + FAST
        )
        head = run.config.read_text().split("accounts:\n")[0]
        run.config.write_text(head + "accounts:\n" + tls)
        daemon = run.start()
        try:
            _first_draft_made(store, run)
            proxy.refuse_for(4)
            store.deliver(invitation(1, _sent()))
            assert wait_for(lambda: len(store.drafts()) == 2, 40), run.log.read_text()
        finally:
            code, _took = stop_daemon(daemon)
        assert code == 0
        assert proxy.refused >= 1
        assert dovecot.users["jane"].encode() not in proxy.client_bytes
        assert max(_message_ids(store).values()) == 1
    finally:
        proxy.close()


def test_a_password_command_failing_for_a_while_is_retried_not_fatal(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    # As with a keyring that stays locked until the person logs in after boot.
    locked = tmp_path / "locked"
    locked.touch()
    store = ImapStore(dovecot)
    run = _followupd(tmp_path, store, ACK)
    command = f'test ! -e {locked} && printf "%s\\n" "${PASSWORD_ENV}"'
    run.config.write_text(
        run.config.read_text().replace(
            f"password_env: {PASSWORD_ENV}", f"password_command: {json.dumps(command)}"
        )
    )
    store.deliver(invitation(1, _sent()))
    daemon = run.start()
    try:
        assert wait_for(lambda: "password_command failed" in run.log.read_text(), 20)
        assert "retrying in" in run.log.read_text()
        time.sleep(2)
        assert daemon.poll() is None, run.log.read_text()
        assert store.drafts() == []
        locked.unlink()
        assert wait_for(lambda: len(store.drafts()) == 1, 40), run.log.read_text()
    finally:
        code, _took = stop_daemon(daemon)
    assert code == 0
    assert dovecot.users["jane"] not in run.log.read_text()
