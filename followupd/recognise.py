"""Recognise what a parsed message means for the person's job search.

`recognise` ties the stages together: text preparation (`recognise_text`), the kind with
its confidence and evidence (`classify`), and the facts (`extract`, `extract_when`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from followupd.classify import classify
from followupd.extract import extract
from followupd.model import Kind, ParsedMessage, Recognition
from followupd.phrasebook import PhraseBook, load_phrasebook
from followupd.recognise_text import Texts, prepare


def default_phrasebook() -> PhraseBook:
    """The bundled phrase books for every language, loaded once."""
    return load_phrasebook()


def recognise(
    msg: ParsedMessage,
    *,
    me_addresses: Collection[str],
    tz: ZoneInfo,
    phrases: PhraseBook | None = None,
    facts_for_other: bool = True,
) -> Recognition:
    """Classify `msg` and extract its facts.

    `me_addresses` are the person's own addresses (never a contact or interviewer); `tz` is
    their time zone, used for times written without one. Relative dates ("tomorrow",
    "within two weeks") are resolved against the message's Date header, never the clock.
    With `facts_for_other` False, mail that is not job mail gets no facts: extraction costs
    more than classification, and a scan reads mostly such mail.
    """
    first = judge(msg, me_addresses=me_addresses, phrases=phrases)
    if first.bare.kind is Kind.OTHER and not facts_for_other:
        return first.bare
    return with_facts(first, tz)


@dataclass(frozen=True)
class Judged:
    """`recognise` up to the facts: the kind, confidence and evidence of one message."""

    msg: ParsedMessage
    bare: Recognition  # without facts: what other mail gets with facts_for_other False
    texts: Texts | None  # None when no facts are ever extracted (the person's own mail)
    book: PhraseBook
    me: frozenset[str]


def judge(
    msg: ParsedMessage, *, me_addresses: Collection[str], phrases: PhraseBook | None = None
) -> Judged:
    """The first half of `recognise`: classify, without extracting facts."""
    book = phrases if phrases is not None else default_phrasebook()
    me = frozenset(a.strip().lower() for a in me_addresses if a and a.strip())
    if msg.sender is not None and msg.sender.email.lower() in me:
        # A copy of the person's own mail says nothing about what the company decided.
        own = Recognition(kind=Kind.OTHER, confidence=0.95, evidence=("sender: your own address",))
        return Judged(msg, own, None, book, me)
    texts = prepare(msg, book)
    verdict = classify(msg, texts, book)
    # Other mail from an address nobody reads is machine mail, never "the company replied".
    local = msg.sender.email.partition("@")[0] if msg.sender is not None else ""
    automatic = verdict.kind == Kind.OTHER and (
        verdict.automatic or bool(local and book.noreply.match(local))
    )
    bare = Recognition(
        kind=verdict.kind,
        confidence=verdict.confidence,
        evidence=verdict.evidence,
        automatic=automatic,
    )
    return Judged(msg, bare, texts, book, me)


def with_facts(first: Judged, tz: ZoneInfo) -> Recognition:
    """The second half of `recognise`: the judged message with its facts."""
    if first.texts is None:
        return first.bare
    bare = first.bare
    facts = extract(first.msg, first.texts, bare.kind, me=first.me, tz=tz, book=first.book)
    return Recognition(
        kind=bare.kind,
        confidence=bare.confidence,
        evidence=bare.evidence + facts.evidence,
        company=facts.company,
        role=facts.role,
        interview=facts.interview,
        interviewers=facts.interviewers,
        organiser=facts.organiser,
        promised_reply_by=facts.promised_reply_by,
        automatic=bare.automatic,
        job_id=facts.job_id,
        contacts=facts.contacts,
    )
