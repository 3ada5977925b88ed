"""Notes to yourself over real SMTP (aiosmtpd): drafts waiting, the weekly digest, its schedule."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followupd.clock import FixedClock
from followupd.config import load_config
from followupd.daemon import Daemon
from followupd.digest import weekly_digest
from followupd.model import Kind
from followupd.planner import plan_application
from followupd.ruleset import load_rules
from followupd.setup import load_checked, open_engine
from tests.builders import ANNA, CAL, ME, app, at, event
from tests.dovecot import Dovecot
from tests.mail import INVITATION_ICS, REJECTION, crlf
from tests.smtpd import SmtpServer
from tests.stores import Followupd, ImapStore, MaildirStore

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    try:
        yield server
    finally:
        server.stop()


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "followupd", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def notify_yaml(port: int, extra: str = "") -> str:
    return (
        "notify:\n  host: 127.0.0.1\n"
        f"  port: {port}\n  tls: none\n  username: jane\n  password_env: FUPD_SMTP_PASSWORD\n"
        + extra
    )


def test_new_drafts_are_announced_to_me_only(
    dovecot: Dovecot, smtp: SmtpServer, tmp_path: Path
) -> None:
    store = ImapStore(dovecot)
    run = Followupd(tmp_path, store, extra=notify_yaml(smtp.port))
    run.env["FUPD_SMTP_PASSWORD"] = "s3cret-smtp"
    store.deliver(crlf(INVITATION_ICS))
    out = run("run", "--once", "--now", "2026-11-05T14:30")
    assert smtp.received == []  # nothing drafted yet, so nothing to say
    out = run("run", "--once", "--now", "2026-11-05T18:00")
    (note,) = smtp.wait_for(1)
    assert "notified   told jane@example.com about the new drafts" in out
    assert smtp.handler.logins == [("jane", "s3cret-smtp")]
    assert note.mail_from == "jane@example.com"
    assert note.rcpt_tos == ["jane@example.com"]
    assert note.message["To"] == "Jane Doe <jane@example.com>"
    assert note.message["Subject"] == "followupd: 3 new drafts waiting in Drafts"
    body = note.message.get_content()
    assert "- debrief to Jane Doe <jane@example.com>" in body
    assert "- thank-you to Anna Schmidt <anna.schmidt@acme.example>" in body
    assert "- thank-you to Tom Lee <tom.lee@acme.example>" in body
    assert "3 draft(s) made by followupd are waiting in Drafts in all." in body
    assert len(store.drafts()) == 3
    # Another pass with nothing new: no second note.
    run("run", "--once", "--now", "2026-11-05T19:00")
    assert len(smtp.wait_for(2, timeout=1)) == 1


def test_an_unreachable_smtp_server_never_costs_a_draft(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "Maildir")
    closed = SmtpServer()
    port = closed.port
    closed.stop()
    run = Followupd(tmp_path, store, extra=notify_yaml(port))
    run.env["FUPD_SMTP_PASSWORD"] = "s3cret-smtp"
    store.deliver(crlf(INVITATION_ICS))
    out = run("run", "--once", "--now", "2026-11-05T18:00")
    assert len(store.drafts()) == 3
    assert f"failed     note to yourself: cannot send the note via 127.0.0.1:{port}" in out
    assert "s3cret" not in out


def test_weekly_digest_is_sent_to_me_with_the_pipeline(smtp: SmtpServer, tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "Maildir")
    run = Followupd(tmp_path, store, extra=notify_yaml(smtp.port))
    run.env["FUPD_SMTP_PASSWORD"] = "s3cret-smtp"
    store.deliver(crlf(INVITATION_ICS))
    run("run", "--once", "--now", "2026-11-05T14:30")
    printed = run("digest", "--now", "2026-11-09T08:00")
    assert printed.startswith("Subject: followupd weekly digest: 1 active application\n")
    out = run("digest", "--send", "--now", "2026-11-09T08:00")
    assert out == "sent to jane@example.com: followupd weekly digest: 1 active application\n"
    (digest,) = smtp.wait_for(1)
    assert digest.rcpt_tos == ["jane@example.com"]
    body = digest.message.get_content()
    assert "* Data Engineer at Acme — interviewed" in body
    assert "    last contact: Thu 5 Nov" in body
    assert "    planned: follow-up-silence on Thu 12 Nov 09:30" in body
    assert "Processes active: 1" in body
    assert "Tip: keep two or three processes going" in body


def test_digest_send_without_notify_section_is_a_config_error(tmp_path: Path) -> None:
    run = Followupd(tmp_path, MaildirStore(tmp_path / "Maildir"))
    run("run", "--once", "--now", "2026-11-05T14:30")
    done = cli(run.config, "digest", "--send")
    assert done.returncode == 2
    assert "--send needs a notify: section in the config" in done.stderr


def test_notify_config_accepts_no_other_recipient(tmp_path: Path) -> None:
    run = Followupd(tmp_path, MaildirStore(tmp_path / "Maildir"), extra=notify_yaml(2525))
    assert cli(run.config, "check").returncode == 0
    run.config.write_text(
        run.config.read_text().replace("  tls: none\n", "  tls: none\n  to: boss@example.com\n")
    )
    done = cli(run.config, "check")
    assert done.returncode == 2
    assert done.stderr.endswith("config.yaml:10: notify.to: unknown key\n")


def test_notify_config_problems_are_located(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "me: {name: Jane Doe, email: jane@example.com}\n"
        "accounts: [{name: local, maildir: /tmp/x}]\n"
        "notify:\n  host: smtp.example.com\n  tls: none\n  username: jane\n"
    )
    done = cli(config, "check")
    assert done.returncode == 2
    assert f"{config}:3: notify:" in done.stderr
    assert "exactly one of password_command or password_env" in done.stderr


def test_daemon_schedules_the_digest_with_apscheduler(smtp: SmtpServer, tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "Maildir")
    run = Followupd(
        tmp_path,
        store,
        extra=notify_yaml(
            smtp.port, '  drafts_waiting: false\n  digest: {day: mon, at: "08:00"}\n'
        ),
    )
    store.deliver(crlf(INVITATION_ICS))
    store.deliver(crlf(REJECTION))
    config, ruleset = load_checked(run.config)
    os.environ["FUPD_SMTP_PASSWORD"] = "s3cret-smtp"
    try:
        now = datetime(2026, 11, 11, 12, 0, tzinfo=BERLIN)  # a Wednesday
        daemon = Daemon(config, open_engine(config, ruleset), FixedClock(now))
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        job = None
        for _ in range(100):
            job = daemon.scheduler.get_job("digest")
            if job is not None:
                break
            threading.Event().wait(0.05)
        assert job is not None
        upcoming = job.trigger.get_next_fire_time(None, now)
        assert upcoming == datetime(2026, 11, 16, 8, 0, tzinfo=BERLIN)  # the next Monday 08:00
        job.modify(next_run_time=datetime.now(UTC))  # let APScheduler fire it now
        (digest,) = smtp.wait_for(1)
        assert digest.rcpt_tos == ["jane@example.com"]
        assert digest.message["Subject"] == "followupd weekly digest: 0 active applications"
        assert "Closed this week: Data Engineer at Acme" in digest.message.get_content()
    finally:
        daemon.request_stop()
        thread.join(10)
        del os.environ["FUPD_SMTP_PASSWORD"]
    assert not thread.is_alive()
    assert load_config(run.config).notify is not None


def test_digest_lists_active_applications_with_their_plans() -> None:
    invite = event(
        1,
        Kind.INVITATION,
        "2026-11-02 10:00",
        interview=("2026-11-05 14:00", "2026-11-05 15:00"),
        interviewers=(ANNA,),
    )
    acme = app(invite)
    actions = plan_application(acme, load_rules(None).rules, CAL, ME).actions
    subject, body = weekly_digest([acme], actions, at("2026-11-04 08:00"), CAL)
    assert subject == "followupd weekly digest: 1 active application"
    assert body.splitlines()[:7] == [
        "Your job search on Wednesday 4 November 2026",
        "",
        "* Data Engineer at Acme — interview scheduled",
        "    last contact: Mon 2 Nov",
        "    planned: debrief on Thu 5 Nov 15:15",
        "    planned: thank-you on Thu 5 Nov 17:00",
        "    planned: follow-up-silence on Thu 12 Nov 09:30",
    ]


def test_starttls_is_required_and_verified(dovecot: Dovecot, tmp_path: Path) -> None:
    tls_dir = dovecot.ca_file.parent
    server = SmtpServer(tls=(tls_dir / "server.pem", tls_dir / "server.key"))
    try:
        store = MaildirStore(tmp_path / "Maildir")
        settings = (
            "notify:\n  host: localhost\n"
            f"  port: {server.port}\n  username: jane\n  password_env: FUPD_SMTP_PASSWORD\n"
        )
        run = Followupd(tmp_path, store, extra=settings)
        run.env["FUPD_SMTP_PASSWORD"] = "s3cret-smtp"
        store.deliver(crlf(INVITATION_ICS))
        # The server's certificate comes from a CA the system does not trust: refused.
        out = run("run", "--once", "--now", "2026-11-05T16:00")
        assert "failed     note to yourself: cannot send the note via localhost:" in out
        assert "CERTIFICATE_VERIFY_FAILED" in out or "certificate verify failed" in out
        assert server.received == [] and server.handler.logins == []
        # With the test CA as ca_file, STARTTLS is verified and the note goes through.
        run.config.write_text(
            run.config.read_text().replace(
                "  username: jane\n", f"  username: jane\n  ca_file: {dovecot.ca_file}\n"
            )
        )
        out = run("run", "--once", "--now", "2026-11-05T18:00")
        assert "notified   told jane@example.com about the new drafts" in out
        (note,) = server.wait_for(1)
        assert note.rcpt_tos == ["jane@example.com"]
        assert server.handler.logins == [("jane", "s3cret-smtp")]
    finally:
        server.stop()
