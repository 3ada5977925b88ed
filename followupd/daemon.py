"""The long-running daemon: wake on new mail or when an action falls due, then run a pass.

Signals: SIGTERM/SIGINT stop it cleanly (IDLE ended, the current message or draft finished
and committed, connections logged out); SIGHUP reloads config and rules, keeping the running
ones when the new files have a problem.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, timedelta
from functools import partial
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler

from followupd.accounts import close_all, open_mailboxes, open_watchers
from followupd.clock import Clock
from followupd.config import Config
from followupd.errors import FollowupdError, MailboxError
from followupd.mailbox.base import Mailbox
from followupd.mailbox.reconnect import Backoff
from followupd.pipeline import Engine, Report
from followupd.progress import LogProgress
from followupd.sdnotify import Notifier

log = logging.getLogger(__name__)

WATCH_TIMEOUT = 25 * 60  # each wait ends at least this often; IDLE is renewed inside it
SAFETY_PASS = timedelta(minutes=30)  # a pass even when nothing signalled, to catch up regardless
STOP_GRACE = 3.0  # seconds a watcher gets to end its IDLE before the connections are closed


class Daemon:
    """Holds no state of its own: every pass reads and writes the tracker."""

    def __init__(
        self, config: Config, engine: Engine, clock: Clock, notifier: Notifier | None = None
    ) -> None:
        self.config = config
        self.notifier = notifier or Notifier()
        self.engine = engine
        self.clock = clock
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.digest_due = threading.Event()
        self.reload = threading.Event()
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.mailboxes: dict[str, Mailbox] = {}
        engine.should_stop = self.stop.is_set

    def request_stop(self, *_: object) -> None:
        self.stop.set()
        self.wake.set()

    def request_reload(self, *_: object) -> None:
        self.reload.set()
        self.wake.set()

    def install_signal_handlers(self) -> None:
        stop: Callable[[int, FrameType | None], None] = self.request_stop
        reload: Callable[[int, FrameType | None], None] = self.request_reload
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    def _progress_tick(self, line: str) -> None:
        # A long first read is progress, not a hang: keep the watchdog fed and say so.
        self.notifier.ping()
        self.notifier.status(line)

    def run(self) -> None:
        """Run until SIGTERM/SIGINT; overdue actions are done on the first pass."""
        if self.notifier.enabled:
            self.engine.progress = partial(LogProgress, tick=self._progress_tick)
        self.mailboxes = open_mailboxes(self.config)
        # Watchers get mailboxes of their own: a connection is never shared between threads.
        watched = open_watchers(self.config)
        self.scheduler.start()
        self.scheduler.add_job(self.wake.set, "interval", seconds=SAFETY_PASS.total_seconds())
        self._schedule_digest()
        watchers = [
            threading.Thread(target=self._watch, args=(mb,), name=f"watch-{name}", daemon=True)
            for name, mb in watched.items()
        ]
        for w in watchers:
            w.start()
        self._connect_and_report_ready()
        backoff = Backoff()
        try:
            while not self.stop.is_set():
                self.wake.clear()
                self.notifier.ping()
                if self.reload.is_set():
                    self._reload()
                try:
                    report = self.engine.run_once(self.mailboxes, self.clock.now())
                    backoff.succeeded()
                except MailboxError as exc:
                    delay = backoff.failed()
                    log.warning("mailbox problem, retrying in %.1f s: %s", delay, exc)
                    self.notifier.status(f"mailbox problem, retrying in {delay:.0f} s")
                    self._sleep(delay)
                    continue
                self._send_digest_if_due()
                self._schedule_next_due()
                self.notifier.status(self._summary(report))
                self._sleep(None)
        finally:
            self.notifier.stopping()
            self.scheduler.shutdown(wait=False)
            for w in watchers:
                w.join(STOP_GRACE)
            close_all(self.mailboxes)
            close_all(watched)
            self.engine.tracker.close()
            log.info("stopped")

    def _reload(self) -> None:
        from followupd.setup import load_checked  # noqa: PLC0415 - setup imports the engine

        self.reload.clear()
        try:
            config, ruleset = load_checked(self.config.source)
        except FollowupdError as exc:
            log.error("reload refused, still running with the previous config and rules:\n%s", exc)
            return
        if config.accounts != self.config.accounts or config.state_path != self.config.state_path:
            log.warning("changed accounts or state_dir take effect at the next restart")
            config = config.model_copy(
                update={"accounts": self.config.accounts, "state_dir": self.config.state_dir}
            )
        self.config = config
        self.engine.reconfigure(config, ruleset)
        log.info(
            "reloaded %s and %d rule(s) from %s", config.source, len(ruleset.rules), ruleset.source
        )

    def _connect_and_report_ready(self) -> None:
        """Log in to every account, then tell systemd the service is up.

        An unreachable server does not hold back READY: the daemon is running and
        retrying, which STATUS says; failing the start would only make systemd give up.
        """
        problems = []
        for name, mailbox in self.mailboxes.items():
            try:
                mailbox.roles()  # logs in and finds the folders
            except MailboxError as exc:
                problems.append(name)
                log.warning("%s: cannot connect yet: %s", name, exc)
        if problems:
            self.notifier.ready(f"running; cannot reach {', '.join(problems)} yet, retrying")
        else:
            self.notifier.ready(f"connected to {len(self.mailboxes)} account(s)")

    def _sleep(self, seconds: float | None) -> None:
        """Wait for a wake-up (or `seconds`), pinging the watchdog meanwhile."""
        end = None if seconds is None else time.monotonic() + seconds
        while not self.stop.is_set():
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return
            step = self.notifier.watchdog_interval
            if step is None or (left is not None and left < step):
                step = left
            if self.wake.wait(step):
                return
            self.notifier.ping()

    def _summary(self, report: Report) -> str:
        due = self.engine.tracker.next_due()
        drafted = report.count("drafted")
        head = f"watching {len(self.mailboxes)} account(s); last pass made {drafted} draft(s)"
        if due is None:
            return head + "; nothing planned"
        return head + f"; next action due {due.astimezone(self.config.me.zone):%Y-%m-%d %H:%M}"

    def _schedule_digest(self) -> None:
        """The weekly digest, at the configured local day and time (when notes are on)."""
        notify = self.config.notify
        if notify is None or notify.digest is None:
            return
        self.scheduler.add_job(
            self._digest_time,
            "cron",
            id="digest",
            day_of_week=notify.digest.day,
            hour=notify.digest.hour,
            minute=notify.digest.minute,
            timezone=self.config.me.zone,
            misfire_grace_time=6 * 3600,  # a laptop that slept through Monday 8:00 still gets it
            coalesce=True,
        )

    def _digest_time(self) -> None:
        # Runs in the scheduler's thread: only signal; the main loop owns the state file.
        self.digest_due.set()
        self.wake.set()

    def _send_digest_if_due(self) -> None:
        if not self.digest_due.is_set() or self.engine.notes is None:
            return
        self.digest_due.clear()
        try:
            self.engine.notes.send_digest(self.engine.tracker, self.clock.now())
        except FollowupdError as exc:
            log.warning("weekly digest not sent: %s", exc)

    def _schedule_next_due(self) -> None:
        due = self.engine.next_due(self.clock.now())
        if due is None:
            return
        run_at = max(due, self.clock.now()) + timedelta(seconds=1)
        self.scheduler.add_job(
            self.wake.set, "date", run_date=run_at, id="next-due", replace_existing=True
        )
        log.debug("next action due at %s", due.isoformat())

    def _watch(self, mailbox: Mailbox) -> None:
        backoff = Backoff()
        while not self.stop.is_set():
            try:
                if mailbox.wait(WATCH_TIMEOUT, self.stop):
                    self.wake.set()
                backoff.succeeded()
            except Exception as exc:  # a watcher that dies would leave only the safety pass
                delay = backoff.failed()
                log.warning("%s: watch failed, retrying in %.1f s: %s", mailbox.name, delay, exc)
                if not isinstance(exc, MailboxError):
                    log.debug("watch failure", exc_info=True)
                self.stop.wait(delay)
                # Mail may have come while the connection was down: a pass catches up.
                self.wake.set()
