"""The pure core: an application's history + rules + calendar → the drafts that should exist.

No clock, no I/O: the same inputs always give the same plan, which makes re-planning after
every new message (a reply, a reschedule, a cancellation) a matter of computing it again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from followupd.contacts import unfamiliar_note
from followupd.model import Address, Kind
from followupd.records import Action, Application, Event
from followupd.rounds import Round, interview_rounds
from followupd.ruleset import Rule
from followupd.signals import REFERENCES_REQUESTED
from followupd.timing import Calendar

_NO_REPLY = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|mailer-daemon|postmaster|bounces?"
    r"|notifications?|no-?respon[ds]e?r?)([+\-_.].*)?@",
    re.I,
)
MADE = ("drafting", "drafted", "sent")


def is_no_reply(email: str) -> bool:
    """True for addresses nobody reads (no-reply, notifications, bounces)."""
    return bool(_NO_REPLY.match(email))


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    references: tuple[Address, ...] = ()


@dataclass
class Plan:
    """The actions the rules want now, and why others were dropped."""

    actions: list[Action] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Trigger:
    """One reason for a rule to fire: what it replies to, when it happened, its anchor time."""

    ref: str  # stable part of the action key
    event: Event  # the message the draft threads under
    at: datetime  # when the trigger happened (for cancel_on)
    anchor: datetime
    round: Round | None = None
    why: str = ""


def plan_application(
    app: Application,
    rules: Sequence[Rule],
    cal: Calendar,
    me: Person,
    existing: Mapping[str, Action] | None = None,
) -> Plan:
    """Every action the rules want for this application, with due times and reasons."""
    plan = Plan()
    existing = existing or {}
    rounds = interview_rounds(app)
    cycle = current_cycle(rounds)
    budgets = {r.name: r.budget for r in rules}
    # A budget counts occasions (one per trigger), so one heads-up to each of three references
    # is one use, like one follow-up.
    spent: dict[str, set[str]] = {}
    for old in existing.values():
        if old.state in MADE:
            # A draft made before cycles were recorded counts everywhere: never one too many.
            if _counts_per_cycle(old.rule, rules) and old.context.get("cycle", cycle) != cycle:
                continue
            budget = budgets.get(old.rule, old.rule)
            spent.setdefault(budget, set()).add(old.context.get("occasion", old.key))
    for rule in rules:
        if not rule.enabled:
            continue
        for trig in _triggers(rule, app, rounds, cal):
            if not _conditions_hold(rule, app, rounds, trig, cal):
                continue
            stopper = _cancelled_by(rule, app, trig)
            addressed = _addressed(rule, app, trig, me)
            occasion = f"{app.id}:{rule.name}:{trig.ref}"
            used = spent.setdefault(rule.budget, set())
            limit = max_drafts(rule)
            known = occasion in used or any(existing.get(key) for _to, _cc, key in addressed)
            over = limit is not None and not known and len(used) >= limit
            if stopper is None and not over and (rule.to != "references" or me.references):
                used.add(occasion)
            nth = _nth(addressed, existing, len(used)) if limit is not None else 1
            for to, cc, key in addressed:
                if stopper is not None:
                    plan.dropped[key] = stopper
                elif rule.to == "references" and not to:
                    plan.dropped[key] = f"{rule.name}: no references listed in the config"
                elif over:
                    scope = "interview cycle" if rule.event == "silence" else "application"
                    plan.dropped[key] = f"{rule.name}: already {len(used)} made in this {scope}"
                else:
                    action = _action(rule, app, trig, to, cc, key, cal, rounds, me, nth, cycle)
                    action.context["occasion"] = occasion
                    plan.actions.append(action)
    return plan


def max_drafts(rule: Rule) -> int | None:
    """How many drafts a rule (or its group) may make; silence rules default to one."""
    if rule.event == "silence":
        return rule.max_per_application or 1
    return rule.max_per_application


def _counts_per_cycle(name: str, rules: Sequence[Rule]) -> bool:
    # Follow-ups start afresh with each interview round; other limits hold per application.
    return any(r.name == name and r.event == "silence" for r in rules)


def _nth(
    addressed: list[tuple[tuple[Address, ...], tuple[Address, ...], str]],
    existing: Mapping[str, Action],
    used: int,
) -> int:
    """Which draft of its budget this is: kept from when it was first planned."""
    for _to, _cc, key in addressed:
        if key in existing and "nth" in existing[key].context:
            return int(existing[key].context["nth"])
    return max(used, 1)


def current_cycle(rounds: list[Round]) -> str:
    """The interview round the application is in now; a new round starts a new cycle."""
    live = [r for r in rounds if r.cancelled is None]
    return live[-1].key if live else ""


def _triggers(rule: Rule, app: Application, rounds: list[Round], cal: Calendar) -> list[_Trigger]:
    if rule.event == "interview":
        out = []
        for r in rounds:
            if r.cancelled is not None:
                continue
            anchor = {
                "interview_end": r.interview.end,
                "message": r.first.at,
            }.get(rule.due.anchor, r.interview.start)
            label = "final interview" if r.final else "interview"
            why = f"{label} {fmt_span(r.interview.start, r.interview.end, cal)}"
            out.append(_Trigger(r.key, r.latest, r.first.at, anchor, r, why))
        return out
    if rule.event == "silence":
        return _silence(rule, app, rounds, cal)
    if rule.event == "references_requested":
        return [
            _Trigger(
                e.message_id, e, e.at, e.at, None, f"references asked for {fmt_day(e.at, cal)}"
            )
            for e in app.events
            if e.direction == "in" and REFERENCES_REQUESTED in e.signals
        ]
    kind = Kind(rule.event)
    return [
        _Trigger(e.message_id, e, e.at, e.at, None, f"{kind.value} received {fmt_day(e.at, cal)}")
        for e in app.events
        if e.direction == "in" and e.kind is kind
    ]


def _silence(rule: Rule, app: Application, rounds: list[Round], cal: Calendar) -> list[_Trigger]:
    contact = last_contact(app, rounds)
    if contact is None:
        return []
    at, event, round_ = contact
    # Keyed by the round while the interview is the last contact, so a confirmation or a
    # reschedule moves the follow-up instead of replacing it.
    ref = f"silence:{round_.key}" if round_ is not None else f"silence:{event.message_id}"
    since = _since(at, event, round_, cal)
    if rule.due.anchor == "promised_reply_by":
        promise = promised_reply(app)
        if promise is None:
            return []
        pevent, pdate = promise
        anchor = datetime.combine(pdate, time(12, 0), tzinfo=cal.zone)
        phrase = promise_phrase(pevent)
        said = f" {phrase!r}" if phrase else ""
        why = f"no reply since {since}; they promised a reply{said} (by {fmt_day(anchor, cal)})"
        return [
            _Trigger(
                f"promised:{pevent.message_id}", _reply_target(app, event), at, anchor, None, why
            )
        ]
    why = f"no reply since {since}"
    return [_Trigger(ref, _reply_target(app, event), at, at, round_, why)]


def _since(at: datetime, event: Event, round_: Round | None, cal: Calendar) -> str:
    if round_ is not None:
        return f"the interview on {fmt_day(at, cal)}"
    whose = "your message" if event.direction == "out" else "their message"
    return f"{whose} on {fmt_day(at, cal)}"


def promise_phrase(event: Event) -> str:
    """The words of the promise ("within two weeks"), as the extractor noted them."""
    for note in event.evidence:
        m = re.match(r'promised reply: "(.*)"$', note)
        if m:
            return m.group(1)
    return ""


def last_contact(
    app: Application, rounds: list[Round]
) -> tuple[datetime, Event, Round | None] | None:
    """The latest human contact: a real message either way, or the end of an interview."""
    best: tuple[datetime, Event, Round | None] | None = None
    for e in app.events:
        if not e.automatic and (best is None or e.at >= best[0]):
            best = (e.at, e, None)
    for r in rounds:
        if r.cancelled is None and (best is None or r.interview.end > best[0]):
            best = (r.interview.end, r.latest, r)
    return best


def promised_reply(app: Application) -> tuple[Event, Any] | None:
    """The reply date promised in the company's latest human message, if it named one."""
    replies = [e for e in app.events if e.is_reply]
    if replies and replies[-1].promised_reply_by is not None:
        return replies[-1], replies[-1].promised_reply_by
    return None


def promise_open(app: Application, cal: Calendar) -> bool:
    """A reply date was promised and the person has not yet written after it passed."""
    promise = promised_reply(app)
    if promise is None:
        return False
    return not any(e.direction == "out" and cal.local(e.at).date() > promise[1] for e in app.events)


def _reply_target(app: Application, fallback: Event) -> Event:
    """Thread a follow-up under the company's latest human message."""
    replies = [e for e in app.events if e.is_reply]
    return replies[-1] if replies else fallback


def _conditions_hold(
    rule: Rule, app: Application, rounds: list[Round], trig: _Trigger, cal: Calendar
) -> bool:
    when = rule.when
    if trig.event.confidence < when.min_confidence:
        return False
    closed = any(e.kind in (Kind.REJECTION, Kind.OFFER) for e in app.events if e.direction == "in")
    if when.active is not None and when.active == closed:
        return False
    had = any(r.cancelled is None for r in rounds)
    if when.had_interview is not None and when.had_interview != had:
        return False
    promised = promise_open(app, cal)
    if when.promised_reply is not None and when.promised_reply != promised:
        return False
    final = trig.round.final if trig.round is not None else any(r.final for r in rounds)
    if when.final_round is not None and when.final_round != final:
        return False
    has_people = bool(trig.round and any(p.email for p in trig.round.interviewers))
    return when.has_interviewers is None or when.has_interviewers == has_people


def _cancelled_by(rule: Rule, app: Application, trig: _Trigger) -> str | None:
    """Why a later message makes this action unwanted, or None."""
    for e in app.events:
        if e.at <= trig.at or e.message_id == trig.event.message_id:
            continue
        for c in rule.cancel_on:
            hit = (
                (c == "sent" and e.direction == "out")
                or (c == "reply" and e.is_reply)
                or (e.direction == "in" and e.kind.value == c)
            )
            if hit:
                what = "your own message" if c == "sent" else _what(e)
                return f"{rule.name} cancelled: {what} arrived on {e.at:%Y-%m-%d}"
    return None


def why_dropped(app: Application, action: Action) -> str:
    """A readable reason for dropping a planned action that the rules no longer want."""
    anchor = next((e for e in app.events if e.id == action.event_id), None)
    later = [e for e in app.events if anchor is None or e.at > anchor.at]
    for e in reversed(later):
        if e.direction == "out":
            return f"{action.rule} cancelled: you wrote to them on {e.at:%Y-%m-%d}"
        if e.kind is Kind.INVITATION and e.interview is not None:
            return f"{action.rule} cancelled: a new interview round was set up on {e.at:%Y-%m-%d}"
        if e.kind is not Kind.OTHER or e.is_reply:
            return f"{action.rule} cancelled: {_what(e)} arrived on {e.at:%Y-%m-%d}"
    return f"{action.rule} cancelled: no longer applies"


def _what(e: Event) -> str:
    if e.kind is Kind.OTHER:
        return "a reply"
    article = "an" if e.kind.value[0] in "aeiou" else "a"
    return f"{article} {e.kind.value}"


def _addressed(
    rule: Rule, app: Application, trig: _Trigger, me: Person
) -> list[tuple[tuple[Address, ...], tuple[Address, ...], str]]:
    """(to, cc, key) for each draft this trigger makes; one per recipient when asked."""
    base = f"{app.id}:{rule.name}:{trig.ref}"
    to = recipients(rule.to, app, trig, me)
    cc = tuple(a for kind in rule.cc for a in recipients(kind, app, trig, me))
    if rule.one_per_recipient and len(to) > 1:
        return [((a,), cc, f"{base}:{a.email.lower()}") for a in to]
    return [(to, cc, base)]


def recipients(kind: str, app: Application, trig: _Trigger, me: Person) -> tuple[Address, ...]:
    """Resolve a recipient role to addresses; never the person (except `me`), never no-reply."""
    if kind == "me":
        return (Address(me.name, me.email),)
    if kind == "references":
        return me.references
    mine = me.email.lower()
    candidates: list[Address] = []
    if kind == "interviewers" and trig.round is not None:
        candidates = [a for a in trig.round.interviewers if a.email]
    if kind in ("organiser",) and trig.round is not None and trig.round.organiser:
        candidates = [trig.round.organiser]
    if kind == "sender":
        candidates = list(trig.event.reply_to or ()) + _opt(trig.event.sender)
    if kind == "contact" or not [c for c in candidates if _usable(c, mine)]:
        candidates += _contacts(app, trig)
    usable = [c for c in candidates if _usable(c, mine)]
    if kind in ("sender", "organiser", "contact"):
        usable = usable[:1]
    return tuple(_unique(usable))


def _contacts(app: Application, trig: _Trigger) -> list[Address]:
    """People at the company, most recent first: organiser, reply-to, sender, named contacts."""
    out: list[Address] = []
    if trig.round is not None:
        out += _opt(trig.round.organiser)
    for e in reversed(app.events):
        if e.direction == "in":
            out += list(e.reply_to) + _opt(e.sender) + list(e.contacts)
    return out


def _opt(a: Address | None) -> list[Address]:
    return [a] if a is not None else []


def _usable(a: Address, mine: str) -> bool:
    return bool(a.email) and a.email.lower() != mine and not is_no_reply(a.email)


def _unique(items: Iterable[Address]) -> list[Address]:
    seen: set[str] = set()
    out = []
    for a in items:
        if a.email.lower() not in seen:
            seen.add(a.email.lower())
            out.append(a)
    return out


def due_time(
    rule: Rule,
    anchor: datetime,
    cal: Calendar,
    *,
    again: bool = False,
    recipient_zone: ZoneInfo | None = None,
) -> datetime:
    """Anchor + offset, at the rule's time of day, moved into working or out of quiet hours.

    `again` uses the longer wait of a second draft; `recipient_zone`, where known, keeps the
    draft inside the recipient's working day too.
    """
    due = rule.due
    offset = due.again if again and due.again is not None else due.offset
    raw = cal.add(anchor, offset)
    if due.clock is not None:
        raw = cal.at_time(raw, due.clock)
    if due.working_hours:
        moved = cal.next_shared_working_moment(raw, recipient_zone)
    else:
        moved = cal.after_quiet_hours(raw)
    limit = due.limit
    if limit is not None:
        deadline = cal.add(anchor, limit)
        if moved > deadline:
            # Working hours would push it past the deadline: keep it on time, only out of the night.
            moved = min(cal.after_quiet_hours(raw), max(raw, deadline))
    return moved


def _action(
    rule: Rule,
    app: Application,
    trig: _Trigger,
    to: tuple[Address, ...],
    cc: tuple[Address, ...],
    key: str,
    cal: Calendar,
    rounds: list[Round],
    me: Person,
    nth: int,
    cycle: str,
) -> Action:
    zone = _recipient_zone(rule, trig, rounds)
    due = due_time(rule, trig.anchor, cal, again=nth > 1, recipient_zone=zone)
    who = ", ".join(a.name or a.email for a in to) or "nobody yet (no usable address)"
    reason = f"{rule.name} to {who} planned for {fmt_moment(due, cal)}: {trig.why}"
    if trig.round is not None and trig.round.moved:
        reason += " (rescheduled)"
    if nth > 1 and rule.due.again is not None:
        reason += f"; follow-up number {nth}, after the longer wait of {rule.due.again}"
    if zone is not None and zone.key != cal.zone.key:
        reason += f"; inside their working hours ({zone.key})"
    context = template_context(app, trig, to, cal, rounds)
    if not context["to_note"]:
        mine = [me.email, *(r.email for r in me.references)]
        context["to_note"] = unfamiliar_note(app, trig.event, (*to, *cc), mine)
    context.update(cycle=trig.round.key if trig.round else cycle, nth=nth, thread=rule.thread)
    return Action(
        key=key,
        application_id=app.id,
        rule=rule.name,
        template=rule.template,
        to=to,
        cc=cc,
        due=due,
        reason=reason,
        event_id=trig.event.id,
        context=context,
        message_id=draft_message_id(key, me.email),
        account=trig.event.account,
    )


def _recipient_zone(rule: Rule, trig: _Trigger, rounds: list[Round]) -> ZoneInfo | None:
    """The company's time zone, where the interview's calendar named one."""
    if rule.to in ("me", "references"):
        return None
    live = [r for r in rounds if r.cancelled is None]
    round_ = trig.round or (live[-1] if live else None)
    if round_ is None or "/" not in round_.zone:
        return None
    try:
        return ZoneInfo(round_.zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def draft_message_id(key: str, my_email: str) -> str:
    """The same action always gets the same Message-ID, so a draft can be recognised anywhere."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = my_email.rpartition("@")[2] or "followupd.invalid"
    return f"followupd.{digest}@{domain}"


def template_context(
    app: Application,
    trig: _Trigger,
    to: tuple[Address, ...],
    cal: Calendar,
    rounds: list[Round],
) -> dict[str, Any]:
    """Facts a template may use; all plain data (strings, lists, dicts)."""
    first = to[0] if to else None
    done = [r for r in rounds if r.cancelled is None and r.interview.end <= trig.anchor]
    last = trig.round or (done[-1] if done else None)
    interviewer_names = [p.name or p.email for p in trig.round.interviewers] if trig.round else []
    return {
        "company": app.company,
        "role": app.role,
        "recipient": {
            "name": first.name if first else "",
            "first_name": first_name(first.name) if first else "",
            "email": first.email if first else "",
        },
        "interview": _interview(trig.round, cal),
        "last_interview": _interview(last, cal),
        "interviewer_names": interviewer_names,
        "original_subject": _strip_re(trig.event.subject),
        "promised_reply_by": (p[1].isoformat() if (p := promised_reply(app)) is not None else None),
        "to_note": _to_note(to, trig),
    }


def _interview(r: Round | None, cal: Calendar) -> dict[str, Any] | None:
    if r is None:
        return None
    start = cal.local(r.interview.start)
    return {
        "when": fmt_span(r.interview.start, r.interview.end, cal),
        "date": start.strftime("%Y-%m-%d"),
        "day_phrase": f"on {start:%A}",
        "start": r.interview.start.isoformat(),
        "end": r.interview.end.isoformat(),
        "location": r.interview.location,
        "final": r.final,
    }


def _to_note(to: tuple[Address, ...], trig: _Trigger) -> str:
    if to:
        return ""
    sender = trig.event.sender.email if trig.event.sender else "an unknown sender"
    return (
        f"followupd left To empty: the message came from {sender}, which does not take replies,"
        " and no other contact at the company is known. Add the right address before sending."
    )


def first_name(name: str) -> str:
    """The given name from a display name ("Schmidt, Anna" → Anna; "Dr. Anna Schmidt" → Anna)."""
    name = name.strip().strip('"')
    if "," in name:
        name = name.split(",", 1)[1]
    parts = [
        p for p in name.split() if p.rstrip(".").lower() not in {"dr", "mr", "ms", "mrs", "prof"}
    ]
    return parts[0] if parts else ""


def _strip_re(subject: str) -> str:
    return re.sub(r"^\s*((re|aw|fwd?|wg|tr)\s*:\s*)+", "", subject, flags=re.I).strip()


def fmt_day(at: datetime, cal: Calendar) -> str:
    return cal.local(at).strftime("%a %-d %b")


def fmt_moment(at: datetime, cal: Calendar) -> str:
    return cal.local(at).strftime("%a %-d %b %H:%M")


def fmt_span(start: datetime, end: datetime, cal: Calendar) -> str:
    s, e = cal.local(start), cal.local(end)
    return f"{s:%a %-d %b %H:%M}–{e:%H:%M} {s.tzname()}"
