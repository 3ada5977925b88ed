"""SIGTERM stops the daemon cleanly and soon; SIGHUP reloads config and rules, or keeps them."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.dovecot import Dovecot
from tests.stores import Followupd, ImapStore, MaildirStore, Store
from tests.test_daemon import invitation, stop_daemon, wait_for

ACK = """\
  - name: ack
    event: invitation
    to: sender
    template: ack.j2
    due: {anchor: message, after: 1m, working_hours: false}
"""
NOTE = """\
  - name: note
    event: invitation
    to: me
    template: note.j2
    due: {anchor: message, after: 1m, working_hours: false}
"""


def _rules(tmp_path: Path, *rules: str) -> Path:
    folder = tmp_path / "rules"
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    (folder / "templates" / "ack.j2").write_text("Subject: Re: {{ original_subject }}\n\nThanks.\n")
    (folder / "templates" / "note.j2").write_text("Subject: Note: {{ company }}\n\nPrepare.\n")
    (folder / "r.yaml").write_text("rules:\n" + "".join(rules))
    return folder


def _followupd(tmp_path: Path, store: Store, *rules: str) -> Followupd:
    """followupd with these rules and no quiet hours, so drafts are made at any hour."""
    folder = _rules(tmp_path, *rules)
    return Followupd(tmp_path, store, extra=f"  quiet_hours: 00:00-00:00\nrules_dir: {folder}\n")


def _stop_within_5_seconds(daemon: subprocess.Popen[bytes], run: Followupd) -> None:
    code, took = stop_daemon(daemon)
    assert code == 0, run.log.read_text()
    assert took < 5, f"took {took:.1f} s"


def _rules_made(store: Store) -> Counter[str]:
    return Counter(str(m["X-Followupd-Rule"]) for _f, m in store.drafts())


@pytest.mark.imap
def test_sigterm_during_idle_ends_idle_and_exits_within_5_seconds(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    store = ImapStore(dovecot)
    run = _followupd(tmp_path, store, ACK)
    daemon = run.start()
    store.deliver(invitation(1, datetime.now(UTC) - timedelta(minutes=5)))
    assert wait_for(lambda: len(store.drafts()) == 1, 20), run.log.read_text()
    time.sleep(1.5)  # back in IDLE
    _stop_within_5_seconds(daemon, run)
    log = run.log.read_text()
    assert "IDLE ended for shutdown" in log
    assert "stopped" in log
    status = run.status(datetime.now(UTC).isoformat())
    assert [a["state"] for a in status["done"]] == ["drafted"]


@pytest.mark.imap
def test_sigterm_in_the_middle_of_a_long_pass_stops_soon_and_loses_nothing(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    store = ImapStore(dovecot)
    run = _followupd(tmp_path, store, ACK)
    sent = datetime.now(UTC) - timedelta(minutes=5)
    for n in range(120):
        store.deliver(invitation(n, sent))
    daemon = run.start()
    assert wait_for(lambda: "planned" in run.log.read_text() or len(store.drafts()) > 0, 30)
    _stop_within_5_seconds(daemon, run)
    before = len(store.drafts())
    assert before < 120, "the pass was not interrupted; the test proves nothing"
    run("run", "--once")
    made = Counter(str(m["Message-ID"]) for _f, m in store.drafts())
    assert len(made) == 120 and max(made.values()) == 1


def test_sighup_reloads_rules_and_a_bad_config_is_refused_keeping_the_old(
    tmp_path: Path,
) -> None:
    store = MaildirStore(tmp_path / "Maildir")
    run = _followupd(tmp_path, store, ACK)
    good_config = run.config.read_text()
    daemon = run.start()
    try:
        sent = datetime.now(UTC) - timedelta(minutes=5)
        store.deliver(invitation(1, sent))
        assert wait_for(lambda: _rules_made(store) == {"ack": 1}, 20), run.log.read_text()

        _rules(tmp_path, ACK, NOTE)
        daemon.send_signal(signal.SIGHUP)
        # The new rule applies at once, without a restart, to what is known and what comes.
        assert wait_for(lambda: _rules_made(store) == {"ack": 1, "note": 1}, 20)
        store.deliver(invitation(2, sent))
        assert wait_for(lambda: _rules_made(store) == {"ack": 2, "note": 2}, 20)

        run.config.write_text(good_config.replace("timezone: Europe/Berlin", "timezone: Mars/X"))
        daemon.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload refused" in run.log.read_text(), 10)
        assert "Mars/X" in run.log.read_text()  # the problem is named
        assert daemon.poll() is None
        store.deliver(invitation(3, sent))
        assert wait_for(lambda: _rules_made(store) == {"ack": 3, "note": 3}, 20)

        # Good config again, but a rule with a typo: refused as a whole, old rules kept.
        run.config.write_text(good_config)
        _rules(tmp_path, ACK, NOTE.replace("event: invitation", "evnt: x"))
        daemon.send_signal(signal.SIGHUP)
        assert wait_for(lambda: run.log.read_text().count("reload refused") == 2, 10)
        store.deliver(invitation(4, sent))
        assert wait_for(lambda: _rules_made(store) == {"ack": 4, "note": 4}, 20)
    finally:
        code, took = stop_daemon(daemon)
    assert code == 0, run.log.read_text()
    assert took < 5
