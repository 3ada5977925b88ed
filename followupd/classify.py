"""Decide what a message is: kind, confidence and the evidence that decided it.

Scores are sums of phrase weights (subject and fresh body; quoted history is never read)
plus calendar facts. Negative categories (newsletters, auto-replies ...) compete with the
kinds; header facts (Auto-Submitted, DSN reports) override everything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from followupd.model import CalendarPart, Kind, ParsedMessage
from followupd.phrasebook import Phrase, PhraseBook, PhraseSet, Weighted
from followupd.recognise_text import Texts

MIN_SCORE = 2.0  # below this no kind is claimed
CALENDAR_CANCEL = 6.0
CALENDAR_UPDATE = 5.0
CALENDAR_REQUEST = 4.0
CALENDAR_PUBLISH = 3.0
BULK_HEADER = 2.0
AUTO_GENERATED = 1.0
REPLY_SUBJECT = 0.25
# Phrases lighter than this are generic words ("interview"); they never make a rival.
GENERIC = 2.0
NOT_AN_INTERVIEW = 5.0
NAMED_OTHERWISE = 4.0
MAX_EVIDENCE = 12
# How much the runner-up's score takes off the winner's before it becomes a confidence.
RIVAL_DISCOUNT = 0.75
# When two kinds score the same, the one that changes more for the person wins.
_PRIORITY = (
    Kind.CANCELLATION,
    Kind.RESCHEDULE,
    Kind.OFFER,
    Kind.REJECTION,
    Kind.ASSESSMENT,
    Kind.CONFIRMATION,
    Kind.INVITATION,
)


@dataclass(frozen=True)
class Classification:
    """The outcome of `classify`."""

    kind: Kind
    confidence: float
    evidence: tuple[str, ...]
    automatic: bool


@dataclass
class _Score:
    total: float = 0.0
    subject: float = 0.0
    specific: float = 0.0  # from phrases of weight GENERIC and up
    evidence: list[str] = field(default_factory=list)

    def add(self, weight: float, note: str, *, subject: bool = False, base: float = 0.0) -> None:
        self.total += weight
        if subject:
            self.subject += weight
        if (base or weight) >= GENERIC:
            self.specific += weight
        self.evidence.append(note)


def classify(msg: ParsedMessage, texts: Texts, book: PhraseBook) -> Classification:
    """Classify one message from its prepared texts; see the module docstring."""
    # A reply inherits the subject it answers, so the subject says little about the reply.
    scale = REPLY_SUBJECT if book.reply_prefix.match(texts.subject) else 1.0
    # The phrases that could match, found in one pass over the subject and one over the body.
    look = _Lookups(
        _possible(book.subject_phrases, texts.subject), _possible(book.body_phrases, texts.flat)
    )
    kinds = {k: _score(book.kinds.get(k, Weighted()), texts, look, scale) for k in _PRIORITY}
    negatives = {neg.name: _score(neg.phrases, texts, look, scale) for neg in book.negatives}
    automatic_of = {neg.name: neg.automatic for neg in book.negatives}
    hard_of = {neg.name: neg.hard for neg in book.negatives}
    header_notes: list[str] = []

    forced = _header_verdict(msg, header_notes)
    if forced is not None:
        notes = header_notes + negatives.get(forced, _Score()).evidence
        return Classification(Kind.OTHER, 0.97, _limit(notes), True)

    machine = _machine_headers(msg)
    if machine:
        note, weight, fallback = machine
        target = max(negatives, key=lambda n: negatives[n].total, default=fallback)
        if negatives.get(target, _Score()).total <= 0:
            target = fallback
            automatic_of.setdefault(target, True)
        negatives.setdefault(target, _Score()).add(weight, f"header: {note}")

    calendar_note = _calendar(msg.calendar, texts, book, kinds, negatives)
    if "meeting" in negatives:
        # A private invitation is from a person; one sent to a mailing list is bulk mail.
        automatic_of["meeting"] = machine is not None

    for name, score in negatives.items():
        if hard_of.get(name) and score.subject >= 3:
            return Classification(Kind.OTHER, 0.92, _limit(score.evidence), True)

    best_kind = max(_PRIORITY, key=lambda k: (kinds[k].total, -_PRIORITY.index(k)))
    best = kinds[best_kind].total
    runner_up = max((kinds[k].specific for k in _PRIORITY if k != best_kind), default=0.0)
    neg_name = max(negatives, key=lambda n: negatives[n].total, default="")
    neg = negatives[neg_name].total if neg_name else 0.0

    # The word "interview" alone (a newsletter, a prep guide) never makes an invitation;
    # "unfortunately" about "your application" still makes a rejection.
    generic_only = best_kind is Kind.INVITATION and kinds[best_kind].specific <= 0
    if best >= MIN_SCORE and best > neg and not generic_only:
        confidence = _strength(best - RIVAL_DISCOUNT * max(runner_up, neg))
        notes = kinds[best_kind].evidence + calendar_note + header_notes
        return Classification(best_kind, _clamp(confidence), _limit(notes), False)

    if neg > 0:
        confidence = max(0.5, _strength(neg - RIVAL_DISCOUNT * best))
        notes = [f"not job mail ({neg_name.replace('_', '-')})", *negatives[neg_name].evidence]
        return Classification(
            Kind.OTHER, _clamp(confidence), _limit(notes), automatic_of.get(neg_name, False)
        )

    job_words = _job_words(texts, book)
    if best > 0:
        confidence = 0.6
        notes = [f"too little evidence for {best_kind.value}", *kinds[best_kind].evidence]
    elif job_words:
        confidence = 0.7
        notes = [f"job-related words but no known phrase ({', '.join(job_words[:3])})"]
    else:
        confidence = 0.9
        notes = ["no job-related phrases"]
    return Classification(Kind.OTHER, confidence, _limit(notes), False)


@dataclass(frozen=True)
class _Lookups:
    """The phrases (by id) whose required strings occur in the subject and in the body."""

    subject: set[int]
    body: set[int]


def _possible(phrases: PhraseSet, text: str) -> set[int]:
    return {id(phrases[i]) for i in phrases.lookup.candidates(text)}


def _score(phrases: Weighted, texts: Texts, look: _Lookups, subject_scale: float) -> _Score:
    score = _Score()
    _hits(score, phrases.subject, texts.subject, look.subject, "subject", subject_scale)
    _hits(score, phrases.body, texts.flat, look.body, "body", 0.0)
    return score


def _hits(
    score: _Score,
    phrases: Iterable[Phrase],
    text: str,
    possible: set[int],
    where: str,
    subject_scale: float,
) -> None:
    """Add every phrase found; a `subject_scale` above 0 marks (and scales) subject hits."""
    if not text:
        return
    for phrase in phrases:
        # Most phrases cannot match ordinary mail; their required strings say so cheaply.
        if id(phrase) not in possible:
            continue
        match = phrase.regex.search(text)
        if match:
            snippet = match.group(0).strip().lower()[:60]
            weight = phrase.weight * (subject_scale or 1.0)
            note = f'{where}: "{snippet}"'
            score.add(weight, note, subject=subject_scale > 0, base=phrase.weight)


def _header_verdict(msg: ParsedMessage, notes: list[str]) -> str | None:
    """The negative category ("out_of_office", "delivery_failure") headers prove, if any."""
    headers = msg.headers
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto.startswith("auto-replied"):
        notes.append(f"header: Auto-Submitted: {auto}")
        return "out_of_office"
    for name in ("x-autoreply", "x-autorespond"):
        if name in headers:
            notes.append(f"header: {name}: {headers[name][:40]}")
            return "out_of_office"
    ctype = headers.get("content-type", "").lower()
    if ctype.startswith("multipart/report") and "delivery-status" in ctype:
        notes.append("header: Content-Type: multipart/report; report-type=delivery-status")
        return "delivery_failure"
    if "x-failed-recipients" in headers:
        notes.append("header: X-Failed-Recipients")
        return "delivery_failure"
    local = msg.sender.email.split("@")[0].lower() if msg.sender else ""
    if local in ("mailer-daemon", "postmaster"):
        notes.append(f"sender: {local}")
        return "delivery_failure"
    return None


def _machine_headers(msg: ParsedMessage) -> tuple[str, float, str] | None:
    """Headers of list or machine mail: (note, weight, negative category to charge)."""
    headers = msg.headers
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in ("bulk", "list", "junk"):
        return f"Precedence: {precedence}", BULK_HEADER, "newsletter"
    if "list-id" in headers:
        return "List-Id", BULK_HEADER, "newsletter"
    if "list-unsubscribe" in headers:
        return "List-Unsubscribe", BULK_HEADER, "newsletter"
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        # ATSs send real rejections this way too, so it only tips a close call.
        return f"Auto-Submitted: {auto}", AUTO_GENERATED, "auto_ack"
    return None


def _calendar(
    events: tuple[CalendarPart, ...],
    texts: Texts,
    book: PhraseBook,
    kinds: dict[Kind, _Score],
    negatives: dict[str, _Score],
) -> list[str]:
    """Add the calendar's weight to a kind (or to "not an interview") and describe it."""
    if not events:
        return []
    event = next((e for e in events if e.start is not None), events[0])
    method = event.method or "none"
    facts = [f"METHOD:{method}"]
    if event.sequence:
        facts.append(f"SEQUENCE:{event.sequence}")
    if event.status:
        facts.append(f"STATUS:{event.status}")
    count = len(event.attendees)
    facts.append(f"{count} attendee{'s' if count != 1 else ''}")
    note = "calendar: " + ", ".join(facts)
    context = " ".join((event.summary, event.description[:4000], texts.subject, texts.flat))
    # A subject that already says "webinar" or "job alert" outweighs job words in the text.
    named_otherwise = any(score.subject >= NAMED_OTHERWISE for score in negatives.values())
    if named_otherwise or not any(term.search(context) for term in book.job_terms):
        summary = event.summary[:60] or "untitled event"
        negatives.setdefault("meeting", _Score()).add(
            NOT_AN_INTERVIEW, f'{note}; not an interview: "{summary}"'
        )
        return []
    if method == "CANCEL" or event.status == "CANCELLED":
        kinds[Kind.CANCELLATION].add(CALENDAR_CANCEL, note)
    elif method in ("REPLY", "COUNTER", "REFRESH", "DECLINECOUNTER", "ADD"):
        return [note]
    elif event.sequence > 0:
        kinds[Kind.RESCHEDULE].add(CALENDAR_UPDATE, note)
    else:
        weight = CALENDAR_REQUEST if method == "REQUEST" else CALENDAR_PUBLISH
        confirming = kinds[Kind.CONFIRMATION].total > kinds[Kind.INVITATION].total
        kinds[Kind.CONFIRMATION if confirming else Kind.INVITATION].add(weight, note)
    return []


def _job_words(texts: Texts, book: PhraseBook) -> list[str]:
    found = []
    for term in book.job_terms:
        match = term.search(texts.subject) or term.search(texts.flat)
        if match:
            found.append(match.group(0).lower())
    return found


def _strength(score: float) -> float:
    return 1.0 - math.exp(-score / 2.5)


def _clamp(value: float) -> float:
    return round(min(0.98, max(0.05, value)), 2)


def _limit(notes: list[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for note in notes:
        if note not in seen:
            seen.append(note)
    return tuple(seen[:MAX_EVIDENCE])
