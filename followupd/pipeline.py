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

# Messages ruled out unread are recorded this many to a transaction.
SCREENED_BATCH = 1000


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
        for folder, direction in folders:
            validity = mailbox.validity(folder)
            cursor = self.tracker.cursor(mailbox.name, folder)
            progress = None
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
            known = self.tracker.known_keys(mailbox.name, folder, validity)
            pending: list[Screened] = []
            screen = self._screen(direction)
            try:
                for item in mailbox.fetch_screened(folder, after, known, screen):
                    if progress is not None:
                        progress.advance()
                    if isinstance(item, Screened):
                        pending.append(item)
                        if len(pending) >= SCREENED_BATCH:
                            self._record_screened(mailbox.name, validity, pending)
                            if self.should_stop():
                                return changed
                        continue
                    # Recorded first, so the folder's cursor never passes an unrecorded message.
                    self._record_screened(mailbox.name, validity, pending)
                    if self.should_stop():
                        return changed
                    app = self.ingest(mailbox.name, item, validity, direction, report, now)
                    if app is not None:
                        changed.add(app)
                self._record_screened(mailbox.name, validity, pending)
            finally:
                if progress is not None:
                    progress.close()
        return changed

    def _screen(self, direction: str) -> Screen:
        from followupd.prefilter import Screen  # noqa: PLC0415 - heavy
        from followupd.recognise import default_phrasebook  # noqa: PLC0415 - heavy

        tracker = self.tracker
        return Screen(
            default_phrasebook(),
            direction,
            threaded=tracker.in_tracked_thread,
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
        pending.clear()

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
        from followupd.parse import MalformedMessage, parse_message  # noqa: PLC0415 - heavy
        from followupd.recognise import recognise  # noqa: PLC0415 - heavy

        where = f"{account}/{fetched.folder} {fetched.key}"

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

        try:
            msg = parse_message(fetched.raw, default_tz=self.cal.zone)
            rec = None
            if direction == "in":
                # Facts of other mail are only kept when it joins a known application's thread.
                threaded = self.tracker.application_for_thread(_thread_ids(msg)) is not None
                rec = recognise(
                    msg,
                    me_addresses=self.config.me.addresses,
                    tz=self.cal.zone,
                    facts_for_other=threaded,
                )
        except MalformedMessage as exc:
            record("", "skipped", f"malformed: {exc}")
            report.add(now, "skipped", f"{where}: malformed message: {exc}")
            return None
        except Exception as exc:  # one hostile message must not stop the daemon
            log.debug("recognition failed for %s", where, exc_info=True)
            record("", "skipped", f"{type(exc).__name__}: {exc}")
            report.add(now, "skipped", f"{where}: could not be read ({type(exc).__name__})")
            return None
        if self.tracker.has_event(msg.message_id) or self.tracker.seen_message_id(msg.message_id):
            record(msg.message_id, "processed", "already seen under another key")
            return None
        app_id = self._store(account, msg, rec, direction, record, report, now)
        return app_id

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
