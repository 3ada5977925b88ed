"""One pass of the pipeline: fetch → parse → recognise → track → plan → draft what is due."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from followupd import faults
from followupd.compose import compose_draft
from followupd.config import Config
from followupd.errors import FollowupdError, MailboxError
from followupd.ingest_order import Lane
from followupd.ingest_worker import Failure, Reading, Worker, second_core, settle
from followupd.mailbox.base import Fetched, Mailbox, Screened
from followupd.model import Address, Kind, ParsedMessage, Recognition
from followupd.planner import Person, plan_application, why_dropped
from followupd.progress import LogProgress, ProgressFactory
from followupd.records import Action, Application, Event
from followupd.ruleset import RuleSet
from followupd.signals import signals_of
from followupd.timing import Calendar
from followupd.tracker import Tracker

if TYPE_CHECKING:
    from followupd.notify import Notes
    from followupd.prefilter import Screen

log = logging.getLogger(__name__)

# A first read of at least this many messages parses and recognises its candidates in a
# worker process (`ingest_worker`). Starting one costs about 0.15 s of CPU (0.5 s with a
# cold disk cache) and each candidate it reads saves the scan about 2.3 ms: with some 2 %
# of mail being candidates, that is 46 ms per 1,000 messages, so from about 3,000 on the
# worker has paid for itself. The daemon's usual few new messages stay in this process, and
# so does everything on a machine with one core (`ingest_worker.second_core`). However busy
# the cores, the worker costs the scan little: it runs on idle CPU time only, and when its
# answer is late the scan reads the candidate itself (`ingest_order.GRACE_SECONDS`).
OFFLOAD_FROM = 3000


class Recorder(Protocol):
    def __call__(
        self, message_id: str, status: str, reason: str = "", db: sqlite3.Connection | None = None
    ) -> None: ...


@dataclass(frozen=True)
class Happening:
    """One line of what a pass did, for logs, the demo's timeline and tests."""

    at: datetime
    what: str  # recognised, skipped, planned, moved, cancelled, drafted, sent, failed
    text: str


@dataclass
class Report:
    happenings: list[Happening] = field(default_factory=list)
    made: list[Action] = field(default_factory=list)  # drafts appended in this pass

    def add(self, at: datetime, what: str, text: str) -> None:
        self.happenings.append(Happening(at, what, text))
        log.info("%s: %s", what, text)

    def count(self, what: str) -> int:
        return sum(1 for h in self.happenings if h.what == what)


def calendar_for(config: Config) -> Calendar:
    me = config.me
    return Calendar(
        zone=me.zone,
        day_start=me.day_start,
        day_end=me.day_end,
        quiet_start=me.quiet_start,
        quiet_end=me.quiet_end,
        country=me.country,
    )


class Engine:
    """Everything a pass needs, wired together; the mailboxes are passed in per call."""

    def __init__(self, config: Config, ruleset: RuleSet, tracker: Tracker) -> None:
        self.tracker = tracker
        # Polled between messages and drafts, so SIGTERM ends a long pass within a moment;
        # every message and draft is its own transaction, so stopping between them is safe.
        self.should_stop: Callable[[], bool] = lambda: False
        # How the first read of a folder reports progress: log lines unless the CLI, in a
        # terminal, chooses a bar; the daemon adds its watchdog ping.
        self.progress: ProgressFactory = LogProgress
        # From how big a first read on candidates are read in a worker process (tests lower it).
        self.offload_from = OFFLOAD_FROM
        self.reconfigure(config, ruleset)

    def reconfigure(self, config: Config, ruleset: RuleSet) -> None:
        """Use a new config and rules from the next step on (SIGHUP); the state is untouched."""
        self.config = config
        self.ruleset = ruleset
        self.cal = calendar_for(config)
        refs = tuple(Address(r.get("name", ""), r["email"]) for r in config.references)
        self.person = Person(config.me.name, config.me.email, refs)
        self.notes: Notes | None = None
        if config.notify:
            # Only when used: asyncio and SMTP are some 40 ms of every start, `explain` too.
            from followupd.notify import Notes  # noqa: PLC0415

            self.notes = Notes(config, config.notify, self.cal)

    # -- intake ------------------------------------------------------------------------

    def sync(self, mailbox: Mailbox, report: Report, now: datetime) -> set[int]:
        """Process new mail in INBOX and Sent; returns the applications that changed."""
        with self.tracker.intake():
            return self._sync(mailbox, report, now)

    def _sync(self, mailbox: Mailbox, report: Report, now: datetime) -> set[int]:
        changed: set[int] = set()
        roles = mailbox.roles()
        folders = [(roles.inbox, "in")] + ([(roles.sent, "out")] if roles.sent else [])
        worker = Worker(self.cal.zone, self.config.me.addresses)  # a process only when used
        try:
            for folder, direction in folders:
                if not self._sync_folder(mailbox, folder, direction, worker, changed, report, now):
                    break
        finally:
            worker.close()
        return changed

    def _sync_folder(
        self,
        mailbox: Mailbox,
        folder: str,
        direction: str,
        worker: Worker,
        changed: set[int],
        report: Report,
        now: datetime,
    ) -> bool:
        """Record the folder's new messages; False when stopped (`should_stop`) part-way."""
        validity = mailbox.validity(folder)
        cursor = self.tracker.cursor(mailbox.name, folder)
        progress = None
        offload_at = None
        if cursor and cursor[0] == validity:
            after = cursor[1]
        else:
            # First read (or the folder was recreated): only the look-back window.
            days = self.config.lookback_days
            since = (now - timedelta(days=days)).date() if days is not None else None
            backlog = mailbox.backlog(folder, since)
            after = backlog.after_uid
            if backlog.count:
                progress = self.progress(f"{mailbox.name}/{folder}", backlog.count)
            offload_at = self._offload_at(backlog.count)

        def take(fetched: Fetched, reading: Reading | None) -> None:
            app = (
                self.ingest(mailbox.name, fetched, validity, direction, report, now)
                if reading is None
                else self.ingest_reading(
                    mailbox.name, fetched, validity, direction, reading, report, now
                )
            )
            if app is not None:
                changed.add(app)

        lane = Lane(
            direction=direction,
            record_screened=lambda batch: self._record_screened(mailbox.name, validity, batch),
            take=take,
            threaded=self.tracker.in_tracked_thread,
            worker=worker if offload_at is not None else None,
            offload_at=offload_at or 0,
        )
        known = self.tracker.known_keys(mailbox.name, folder, validity)
        screen = self._screen(direction, lane.threaded)
        try:
            # Recorded in order: the folder's cursor never passes an unrecorded message.
            for item in mailbox.fetch_screened(folder, after, known, screen):
                if progress is not None:
                    progress.advance()
                lane.add(item)
                if self.should_stop():
                    lane.stop()
                    return False
            lane.finish()
        finally:
            if progress is not None:
                progress.close()
        return True

    def _offload_at(self, count: int | None) -> int | None:
        """After how many messages of a first read the worker takes over (None: never)."""
        if not self.config.scan_worker or not second_core():
            return None
        if count is None:  # a store that cannot tell: from when the read has become big
            return self.offload_from
        return 0 if count >= self.offload_from else None

    def _screen(self, direction: str, threaded: Callable[[list[str]], bool]) -> Screen:
        from followupd.prefilter import Screen  # noqa: PLC0415 - heavy
        from followupd.recognise import default_phrasebook  # noqa: PLC0415 - heavy

        tracker = self.tracker
        return Screen(
            default_phrasebook(),
            direction,
            threaded=threaded,
            ours=lambda message_id: tracker.action_for_message_id(message_id) is not None,
        )

    def _record_screened(self, account: str, validity: int, pending: list[Screened]) -> None:
        """Record messages ruled out before reading as not job mail, in one transaction."""
        if not pending:
            return
        with self.tracker.transaction() as db:
            self.tracker.record_messages(
                db,
                account=account,
                folder=pending[0].folder,
                validity=validity,
                rows=[
                    (item.key, item.uid, item.message_id, f"not job mail: {item.reason}")
                    for item in pending
                ],
            )

    def ingest(
        self,
        account: str,
        fetched: Fetched,
        validity: int,
        direction: str,
        report: Report,
        now: datetime,
    ) -> int | None:
        """Record one message; never raises for bad input (it is marked skipped instead)."""
        from followupd.parse import parse_message  # noqa: PLC0415 - heavy
        from followupd.recognise import recognise  # noqa: PLC0415 - heavy

        try:
            msg = parse_message(fetched.raw, default_tz=self.cal.zone)
            rec = None
            if direction == "in":
                rec = recognise(
                    msg,
                    me_addresses=self.config.me.addresses,
                    tz=self.cal.zone,
                    facts_for_other=self._threaded(msg),
                )
        except Exception as exc:  # noqa: BLE001 - one hostile message must not stop the daemon
            self._skip(account, fetched, validity, Failure.of(exc), report, now)
            return None
        return self._keep(account, fetched, validity, direction, msg, rec, report, now)

    def ingest_reading(
        self,
        account: str,
        fetched: Fetched,
        validity: int,
        direction: str,
        reading: Reading,
        report: Report,
        now: datetime,
    ) -> int | None:
        """Record one message the worker has read, exactly as `ingest` would."""
        outcome: Recognition | Failure | None = None
        msg = reading.msg
        try:
            if isinstance(msg, Failure):
                outcome = msg
            elif direction == "in":
                outcome = settle(reading, self._threaded(msg))
        except Exception as exc:  # noqa: BLE001 - as in `ingest`
            outcome = Failure.of(exc)
        if isinstance(outcome, Failure):
            self._skip(account, fetched, validity, outcome, report, now)
            return None
        assert not isinstance(msg, Failure)
        return self._keep(account, fetched, validity, direction, msg, outcome, report, now)

    def _threaded(self, msg: ParsedMessage) -> bool:
        # Facts of other mail are only kept when it joins a known application's thread.
        return self.tracker.application_for_thread(_thread_ids(msg)) is not None

    def _recorder(self, account: str, fetched: Fetched, validity: int) -> Recorder:
        def record(
            message_id: str, status: str, reason: str = "", db: sqlite3.Connection | None = None
        ) -> None:
            if db is None:
                with self.tracker.transaction() as own:
                    record(message_id, status, reason, own)
                return
            self.tracker.record_message(
                db,
                account=account,
                folder=fetched.folder,
                validity=validity,
                key=fetched.key,
                uid=fetched.uid,
                message_id=message_id,
                status=status,
                reason=reason,
            )

        return record

    def _skip(
        self,
        account: str,
        fetched: Fetched,
        validity: int,
        failure: Failure,
        report: Report,
        now: datetime,
    ) -> None:
        record = self._recorder(account, fetched, validity)
        where = f"{account}/{fetched.folder} {fetched.key}"
        if failure.malformed:
            record("", "skipped", f"malformed: {failure.text}")
            report.add(now, "skipped", f"{where}: malformed message: {failure.text}")
            return
        log.debug("recognition failed for %s:\n%s", where, failure.trace)
        record("", "skipped", f"{failure.name}: {failure.text}")
        report.add(now, "skipped", f"{where}: could not be read ({failure.name})")

    def _keep(
        self,
        account: str,
        fetched: Fetched,
        validity: int,
        direction: str,
        msg: ParsedMessage,
        rec: Recognition | None,
        report: Report,
        now: datetime,
    ) -> int | None:
        record = self._recorder(account, fetched, validity)
        if self.tracker.has_event(msg.message_id) or self.tracker.seen_message_id(msg.message_id):
            record(msg.message_id, "processed", "already seen under another key")
            return None
        return self._store(account, msg, rec, direction, record, report, now)

    def _store(
        self,
        account: str,
        msg: ParsedMessage,
        rec: Recognition | None,
        direction: str,
        record: Recorder,
        report: Report,
        now: datetime,
    ) -> int | None:
        thread_ids = _thread_ids(msg)
        app_id = self.tracker.application_for_thread(thread_ids)
        sent_action = None
        if direction == "out":
            sent_action = self.tracker.action_for_message_id(msg.message_id)
            if sent_action is not None:
                app_id = sent_action.application_id
            elif app_id is not None:
                # Many clients give a sent draft a new Message-ID: match it by thread instead.
                sent_action = self._sent_by_thread(app_id, msg, thread_ids)
        elif app_id is None and rec is not None and rec.kind is not Kind.OTHER and rec.company:
            app_id = self.tracker.find_application(rec.company, rec.role)
        job_mail = rec is not None and rec.kind is not Kind.OTHER
        if app_id is None and not job_mail:
            record(msg.message_id, "processed", "not job mail")
            return None
        event = _event(account, msg, rec, direction, now)
        with self.tracker.transaction() as db:
            if app_id is None:
                assert rec is not None
                app_id = self.tracker.create_application(db, rec.company, rec.role, account)
            elif rec is not None:
                self.tracker.fill_application(db, app_id, rec.company, rec.role)
            self.tracker.add_thread_ids(db, app_id, [msg.message_id, *thread_ids])
            self.tracker.add_event(db, replace(event, application_id=app_id))
            if sent_action is not None:
                self.tracker.mark_sent(db, sent_action.key)
            record(msg.message_id, "processed", "", db)
        who = msg.sender.formatted() if msg.sender else "unknown sender"
        if direction == "out":
            report.add(event.at, "sent", f"you wrote to the thread: {msg.subject!r}")
        else:
            assert rec is not None
            label = " / ".join(x for x in (rec.company, rec.role) if x) or "unknown company"
            report.add(
                event.at,
                "recognised",
                f"{rec.kind.value} ({rec.confidence:.2f}) from {who}: {label}",
            )
        return app_id

    def _sent_by_thread(
        self, app_id: int, msg: ParsedMessage, thread_ids: list[str]
    ) -> Action | None:
        """The made draft this sent message most likely is: same thread, same recipients."""
        parent = msg.in_reply_to or (thread_ids[-1] if thread_ids else None)
        if parent is None:
            return None
        events = {e.id: e for e in self.tracker.application(app_id).events}
        sent_to = {a.email.lower() for a in (*msg.to, *msg.cc)}
        candidates = [
            a
            for a in self.tracker.actions(("drafting", "drafted"))
            if a.application_id == app_id
            and a.event_id in events
            and events[a.event_id].message_id == parent
            # Written before the draft existed: a different message in the same thread.
            and (msg.date is None or msg.date >= a.due)
        ]
        addressed = [a for a in candidates if sent_to & {x.email.lower() for x in a.to}]
        if len(addressed) == 1:
            return addressed[0]
        blank = [a for a in candidates if not a.to]  # a no-reply draft the person addressed
        return blank[0] if not addressed and len(blank) == 1 else None

    # -- planning ----------------------------------------------------------------------

    def replan(self, app_ids: Iterable[int] | None, report: Report, now: datetime) -> None:
        """Recompute the wanted actions of these applications (all when None) and store them."""
        wanted = set(app_ids) if app_ids is not None else None
        existing: dict[int, dict[str, Action]] = {}
        for action in self.tracker.actions():
            existing.setdefault(action.application_id, {})[action.key] = action
        for app in self.tracker.applications():
            if wanted is not None and app.id not in wanted:
                continue
            self._replan_one(app, existing.get(app.id, {}), report, now)

    def _replan_one(
        self, app: Application, existing: Mapping[str, Action], report: Report, now: datetime
    ) -> None:
        plan = plan_application(app, self.ruleset.rules, self.cal, self.person, existing)
        with self.tracker.transaction() as db:
            for action in plan.actions:
                outcome = self.tracker.upsert_action(db, action)
                if outcome in ("planned", "moved", "replanned"):
                    report.add(now, "planned" if outcome != "moved" else "moved", action.reason)
            wanted = {a.key for a in plan.actions}
            for key, old in existing.items():
                if old.state == "planned" and key not in wanted:
                    why = plan.dropped.get(key) or why_dropped(app, old)
                    self.tracker.cancel_action(db, key, why)
                    report.add(now, "cancelled", why)

    # -- drafting ----------------------------------------------------------------------

    def make_due(self, mailboxes: Mapping[str, Mailbox], report: Report, now: datetime) -> None:
        """Append every due draft exactly once, however often this is interrupted."""
        if self.cal.is_quiet(now):
            # Overdue drafts (the daemon was down, the laptop asleep) wait for the morning too.
            return
        events = {e.id: e for app in self.tracker.applications() for e in app.events}
        me = Address(self.config.me.name, self.config.me.email)
        for action in self.tracker.due_actions(now):
            if self.should_stop():
                return
            mailbox = mailboxes.get(action.account) or next(iter(mailboxes.values()))
            try:
                self._make(mailbox, action, events[action.event_id], me, report, now)
            except MailboxError:
                raise
            except FollowupdError as exc:
                self.tracker.set_state(action.key, "failed", str(exc))
                report.add(now, "failed", f"{action.rule}: {exc}")

    def next_due(self, now: datetime) -> datetime | None:
        """When the next draft may be made: its due time, but never inside quiet hours."""
        due = self.tracker.next_due()
        return None if due is None else self.cal.after_quiet_hours(max(due, now))

    def _make(
        self,
        mailbox: Mailbox,
        action: Action,
        event: Event,
        me: Address,
        report: Report,
        now: datetime,
    ) -> None:
        drafts = mailbox.roles().drafts
        if action.state == "drafting" and mailbox.find_message_ids(drafts, [action.message_id]):
            # The APPEND went through before a crash; only the state update was lost.
            self.tracker.set_state(action.key, "drafted")
            return
        raw = compose_draft(
            self.ruleset, action, event, me, self.config.me.signature, self.cal.local(now)
        )
        self.tracker.set_state(action.key, "drafting")
        mailbox.append_draft(raw)
        faults.after_append()
        self.tracker.set_state(action.key, "drafted")
        report.made.append(action)
        report.add(now, "drafted", action.reason)

    def run_once(self, mailboxes: Mapping[str, Mailbox], now: datetime) -> Report:
        """Sync every mailbox, re-plan what changed, and make the drafts due at `now`."""
        report = Report()
        for mailbox in mailboxes.values():
            self.sync(mailbox, report, now)
        # Planning is cheap and depends only on state, so re-plan everything: a rules change or
        # a message that moved between applications is reflected at once.
        self.replan(None, report, now)
        self.make_due(mailboxes, report, now)
        self._tell_the_person(report, now)
        return report

    def _tell_the_person(self, report: Report, now: datetime) -> None:
        """An optional note to the person about new drafts; a failure never fails the pass."""
        if self.notes is None or not report.made:
            return
        from followupd.notify import NotifyError  # noqa: PLC0415 - imported with Notes

        try:
            if self.notes.drafts_made(report.made, self.tracker, now):
                report.add(now, "notified", f"told {self.config.me.email} about the new drafts")
        except NotifyError as exc:
            report.add(now, "failed", f"note to yourself: {exc}")


def _thread_ids(msg: ParsedMessage) -> list[str]:
    return [i for i in (msg.in_reply_to, *msg.references) if i]


def _event(
    account: str, msg: ParsedMessage, rec: Recognition | None, direction: str, now: datetime
) -> Event:
    return Event(
        id=0,
        application_id=0,
        account=account,
        message_id=msg.message_id,
        direction=direction,
        kind=rec.kind if rec else Kind.OTHER,
        at=msg.date or now,
        automatic=rec.automatic if rec else False,
        confidence=rec.confidence if rec else 1.0,
        subject=msg.subject,
        sender=msg.sender,
        reply_to=msg.reply_to,
        references=tuple(msg.references),
        interview=rec.interview if rec else None,
        interviewers=rec.interviewers if rec else (),
        organiser=rec.organiser if rec else None,
        promised_reply_by=rec.promised_reply_by if rec else None,
        contacts=rec.contacts if rec else (),
        evidence=rec.evidence if rec else (),
        signals=signals_of(msg) if rec else (),
    )
