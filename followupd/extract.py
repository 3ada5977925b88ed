"""Pull the facts out of a classified message: company, role, interview time, people, dates."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from followupd.extract_when import FoundTime, duration, find_times, promised_reply
from followupd.model import Address, CalendarPart, Interview, Kind, ParsedMessage
from followupd.phrasebook import UPPER, Patterns, PhraseBook
from followupd.recognise_text import Texts, flatten

DEFAULT_LENGTH = timedelta(hours=1)
INTERVIEW_KINDS = frozenset(
    {Kind.INVITATION, Kind.CONFIRMATION, Kind.RESCHEDULE, Kind.CANCELLATION}
)
_NAME = re.compile(
    r"(?:(?:our|the|your) [\w -]{0,40}?,? )?(?:(?:Prof|Dr|Mr|Mrs|Ms)\.? )?"
    rf"(?P<name>[{UPPER}][a-zß-öø-ÿ'-]+(?: [{UPPER}][a-zß-öø-ÿ'-]+){{1,2}})"
    r"(?: \((?P<title>[^)]{1,60})\))?"
)
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_EDGE_PUNCT = " \t.,;:!?'\"()[]-"
_CAPITALISED_RUN = re.compile(rf"[{UPPER}][\w'-]*(?: (?:&|and|[{UPPER}][\w'-]*)){{0,4}}")
_ID_SUFFIX = re.compile(r"\s*\([^)]*\d[^)]*\)$")
_CLOCK_START = re.compile(r"^\d{1,2}(?:[:.]\d{2})? ?(?:am|pm)\b|^\d{1,2}[:.]\d{2}\b", re.I)
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu"})


@dataclass(frozen=True)
class Extraction:
    """Everything `extract` found, with notes on where the less obvious facts came from."""

    company: str | None
    role: str | None
    interview: Interview | None
    interviewers: tuple[Address, ...]
    organiser: Address | None
    promised_reply_by: date | None
    job_id: str | None
    contacts: tuple[Address, ...]
    evidence: tuple[str, ...]


def extract(
    msg: ParsedMessage,
    texts: Texts,
    kind: Kind,
    *,
    me: frozenset[str],
    tz: ZoneInfo,
    book: PhraseBook,
) -> Extraction:
    """Extract company, role, interview, people and dates; `me` holds lower-cased addresses."""
    notes: list[str] = []
    people = _known_people(msg)
    event = _event(msg.calendar)
    interview: Interview | None = None
    interviewers: tuple[Address, ...] = ()
    organiser: Address | None = None
    if kind in INTERVIEW_KINDS:
        interview = _interview(msg, texts, kind, event, tz, book, notes)
        interviewers = _interviewers(msg, texts, event, me, book, people)
        organiser = _organiser(msg, event, me, book)
    reply_by = None
    if msg.date is not None:
        found = promised_reply(texts.flat, ref=msg.date, tz=tz, book=book)
        if found:
            reply_by = found[0]
            notes.append(f'promised reply: "{found[1].rstrip(".")}"')
    calendar_text = flatten(f"{event.summary}. {event.description}") if event else ""
    role = _role(texts, book, calendar_text)
    return Extraction(
        company=_company(msg, texts, me, book, people, role, notes),
        role=role,
        interview=interview,
        interviewers=interviewers,
        organiser=organiser,
        promised_reply_by=reply_by,
        job_id=_job_id(texts, book),
        contacts=_contacts(msg, me, book),
        evidence=tuple(notes),
    )


def _organiser(
    msg: ParsedMessage, event: CalendarPart | None, me: frozenset[str], book: PhraseBook
) -> Address | None:
    """The calendar's organiser, or else the sender when a person wrote the message."""
    if event is not None and event.organizer and event.organizer.email.lower() not in me:
        return event.organizer
    return msg.sender if _is_person(msg.sender, me, book) else None


def _event(events: tuple[CalendarPart, ...]) -> CalendarPart | None:
    return next((e for e in events if e.start is not None), None)


def _interview(
    msg: ParsedMessage,
    texts: Texts,
    kind: Kind,
    event: CalendarPart | None,
    tz: ZoneInfo,
    book: PhraseBook,
    notes: list[str],
) -> Interview | None:
    if event is not None and event.start is not None:
        end = event.end if event.end and event.end > event.start else event.start + DEFAULT_LENGTH
        what = "all-day event" if event.all_day else f"{event.start:%Y-%m-%d %H:%M}"
        notes.append(
            f"interview time: calendar {what} {event.timezone or tz.key}"
            + (f" (UID {event.uid[:40]}, SEQUENCE {event.sequence})" if event.uid else "")
        )
        return Interview(
            start=event.start,
            end=end,
            timezone=event.timezone or tz.key,
            location=event.location,
            uid=event.uid,
            sequence=event.sequence,
        )
    if msg.date is None:
        return None
    found = find_times(texts.flat, ref=msg.date, tz=tz, book=book)
    if not found:
        found = find_times(texts.subject, ref=msg.date, tz=tz, book=book)
    chosen = _choose_time(found, texts.flat, kind, msg.date, book)
    if chosen is None:
        return None
    notes.append(f'interview time: "{chosen.text}"')
    length = duration(texts.flat, book) or DEFAULT_LENGTH
    return Interview(
        start=chosen.start, end=chosen.end or chosen.start + length, timezone=chosen.timezone
    )


def _choose_time(
    found: list[FoundTime], flat: str, kind: Kind, ref: datetime, book: PhraseBook
) -> FoundTime | None:
    """The interview's time among all times written: in a reschedule the new one."""
    if not found:
        return None
    if kind == Kind.RESCHEDULE:
        for item in found:
            before = flat[max(0, item.position - 60) : item.position]
            if any(cue.search(before) for cue in book.new_time_cues):
                return item
        return found[-1]
    upcoming = [f for f in found if f.start >= ref]
    return upcoming[0] if upcoming else found[0]


def _interviewers(
    msg: ParsedMessage,
    texts: Texts,
    event: CalendarPart | None,
    me: frozenset[str],
    book: PhraseBook,
    people: dict[str, Address],
) -> tuple[Address, ...]:
    if event is not None:
        attendees = tuple(
            a
            for a in event.attendees
            if a.email.lower() not in me and not _is_room(a, book) and not _is_noreply(a, book)
        )
        if attendees:
            return attendees
    my_names = {a.name.lower() for a in (*msg.to, *msg.cc) if a.name and a.email.lower() in me}
    result: list[Address] = []
    # Schedulers list the panel in the event's description when only you are invited.
    description = event.description if event is not None else ""
    flat = f"{texts.flat} {flatten(description)}".strip()
    lines = f"{texts.fresh}\n{description}"
    for intro in book.interviewer_intros.candidates(flat):
        for match in intro.finditer(flat):
            for name in _names_after(flat, match.end(), lines, book):
                key = name.lower()
                if key in my_names or key in book.company_stopwords:
                    continue
                address = people.get(key, Address(name, ""))
                if address not in result:
                    result.append(address)
    return tuple(result[:8])


def _names_after(text: str, pos: int, lines: str, book: PhraseBook) -> list[str]:
    """Names listed from `pos` on ("Sofia Marino (Analytics Manager) and Tom Lee").

    `text` is collapsed, so a name may run into the next line's first word ("Rafael Costa
    Thanks"); `lines` (the text with its line breaks) cuts it back to what one line holds.
    """
    names: list[str] = []
    while len(names) < 6:
        match = _NAME.match(text, pos)
        if not match:
            break
        words = match.group("name").split(" ")
        if len(words) > 2 and book.role_nouns.fullmatch(words[0].lower()):
            words = words[1:]  # a title before the name: "Lead Sophie Ahrens"
        if any(book.role_nouns.fullmatch(w.lower()) for w in words):
            break  # "the Senior Data Engineer": a role, not a person
        name = _on_one_line(" ".join(words), lines)
        names.append(name)
        if name != " ".join(words):
            break  # the line ended inside what looked like a longer name
        separator = book.name_separator.match(text, match.end())
        if not separator:
            break
        pos = separator.end()
    return names


def _on_one_line(name: str, lines: str) -> str:
    words = name.split(" ")
    while len(words) >= 2:
        if " ".join(words) in lines:
            return " ".join(words)
        words = words[:-1]
    return name  # wrapped across lines in the source: keep it whole


def _company(
    msg: ParsedMessage,
    texts: Texts,
    me: frozenset[str],
    book: PhraseBook,
    people: dict[str, Address],
    role: str | None,
    notes: list[str],
) -> str | None:
    label = _domain_label(msg.sender.email if msg.sender else "", me, book)
    if label is None:
        # Mail sent through an ATS or a scheduler names the employer in Reply-To.
        label = next(
            (x for a in msg.reply_to if (x := _domain_label(a.email, me, book)) is not None), None
        )
    # An ATS's no-reply sender is named after the company, not after a person.
    persons = {name for name, a in people.items() if _is_person(a, me, book)}
    candidates: list[tuple[str, str]] = []
    for address in (msg.sender, *msg.reply_to):
        if address and address.name:
            found = _from_display(address.name, book)
            if found is None and _is_ats(address.email, book):
                # An ATS sends as "<Employer> <no-reply@ats>": the whole name is the employer.
                found = address.name.strip().strip('"')
                candidates.append((found, f'ATS display name "{address.name}"'))
            elif found:
                candidates.append((found, f'display name "{address.name}"'))
    candidates += [(c, "signature") for c in _from_signature(texts, book)]
    candidates += [(c, "subject") for c in _matches(book.company_subject, texts.subject)]
    candidates += [(c, "body") for c in _matches(book.company_body, texts.flat)]
    valid = [(_clean_company(c, book), where) for c, where in candidates]
    valid = [
        (c, w)
        for c, w in valid
        if c
        and _plausible_company(c, book)
        and c != role
        and (
            c.lower() not in persons
            or w.startswith("ATS")
            or (label is not None and _same_org(c, label))
        )
    ]
    if label:
        for name, where in valid:
            # "Fuchs & Partner" writes its domain fuchs-partner or fuchsundpartner.
            if _squash(label) in (_squash(name), _NOT_ALNUM.sub("", _ascii(name.lower()))):
                notes.append(f"company: {where}, matches the sender's domain")
                return name
        spelled = _spelled(label, (texts.subject, texts.flat, texts.signature, texts.full_flat))
        if spelled:
            notes.append("company: sender's domain, as the text spells it")
            return spelled
        for name, where in valid:
            if _same_org(name, label):
                notes.append(f"company: {where}, matches the sender's domain")
                return name
    if label and (not valid or valid[0][1] == "body"):
        # A name caught by a body pattern ("interview with Karin Holm") is weaker than
        # the sender's domain written as a word in the text ("Contoso").
        spelled = _spelled(label, (texts.signature, texts.flat, texts.subject), several=False)
        if spelled:
            notes.append("company: sender's domain, as the text spells it")
            return spelled
    if valid:
        notes.append(f"company: {valid[0][1]}")
        return valid[0][0]
    if label:
        notes.append("company: sender's domain")
        return label.title()
    return None


def _is_ats(email: str, book: PhraseBook) -> bool:
    return book.is_ats(email.rpartition("@")[2])


def _squash(name: str) -> str:
    return _NOT_ALNUM.sub("", _ascii(name.lower()).replace("&", "and"))


def _ascii(text: str) -> str:
    """Accents dropped: the domain of "Vallée Verte Énergie" is valleeverte-energie.fr."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _spelled(label: str, texts: Iterable[str], *, several: bool = True) -> str | None:
    """The words in the text that spell a domain label: "meridianbank" → "Meridian Bank".

    With `several` (the default) only names of two words or more count: a one-word match
    ("Copperleaf" in "Copperleaf Games") is weaker than a name found elsewhere.
    """
    target = _squash(label)
    for text in texts:
        for run in _CAPITALISED_RUN.finditer(text):
            words = run.group(0).split(" ")
            for first in range(len(words)):
                for last in range(first + 1, min(len(words), first + 4) + 1):
                    phrase = " ".join(words[first:last])
                    if _squash(phrase) == target and (" " in phrase or not several):
                        return phrase
    return None


def _from_display(name: str, book: PhraseBook) -> str | None:
    """Peel ATS and team wording off a display name: "Acme Recruiting via Greenhouse" → "Acme"."""
    current, changed = name.strip().strip('"'), False
    for _ in range(4):
        for pattern in book.company_display:
            match = pattern.match(current)
            if match and match.group("company").strip():
                current, changed = match.group("company").strip(), True
                break
        else:
            break
    return current if changed else None


def _from_signature(texts: Texts, book: PhraseBook) -> list[str]:
    block = texts.signature or "\n".join(texts.body.splitlines()[-6:])
    found = []
    for line in block.splitlines()[:12]:
        if len(line) > 80:
            continue
        parts = [p for p in book.signature_split.split(line.strip()) if p]
        if len(parts) >= 2 and book.signature_titles.search(" ".join(parts[:-1])):
            found.append(parts[-1])
        elif line.strip().lower().split(" ")[-1] in book.company_suffixes and len(line) < 60:
            found.append(line.strip())
    return found


def _matches(patterns: Patterns, text: str) -> list[str]:
    found = []
    for pattern in patterns.candidates(text):
        found += [m.group("company") for m in pattern.finditer(text)]
    return found


def _clean_company(name: str, book: PhraseBook) -> str:
    words = name.strip(_EDGE_PUNCT).replace("'s ", " ").split()
    if words and words[-1].endswith("'s"):
        words[-1] = words[-1][:-2]
    while len(words) > 1 and words[-1].lower().strip(",") in book.company_suffixes:
        words.pop()
    return " ".join(words).strip(_EDGE_PUNCT)


def _plausible_company(name: str, book: PhraseBook) -> bool:
    lower = name.lower()
    first = lower.split()[0]
    if len(name) > 40 or len(lower.split()) > 4 or "@" in name or "/" in name:
        return False
    if lower in book.company_stopwords or first in book.company_stopwords:
        return False
    if first in book.weekdays or first in book.months or not re.search(r"[a-z]", lower):
        return False
    if first.removesuffix("'s") in book.relative_days:  # "Tomorrow's interview"
        return False
    # "Fuchs & Partner" is a firm, "Senior Partner" a role.
    if _CLOCK_START.match(name) or (
        book.role_nouns.fullmatch(lower.split()[-1]) and "&" not in name
    ):
        return False
    return _NOT_ALNUM.sub("", lower) not in {d.split(".")[0] for d in book.ats_domains}


def _domain_label(email: str, me: frozenset[str], book: PhraseBook) -> str | None:
    """The organisation part of the sender's domain, unless it is an ATS, free mail or mine."""
    domain = email.rpartition("@")[2].lower().strip(".")
    if not domain or "." not in domain:
        return None
    my_domains = {m.rpartition("@")[2] for m in me}
    for known in (*book.ats_domains, *book.freemail_domains, *my_domains):
        if domain == known or domain.endswith("." + known):
            return None
    parts = domain.split(".")
    if len(parts) >= 3 and parts[-2] in _SECOND_LEVEL and len(parts[-1]) == 2:
        return parts[-3]
    return parts[-2]


def _same_org(name: str, label: str) -> bool:
    norm = _NOT_ALNUM.sub("", _ascii(name.lower()))
    label = _NOT_ALNUM.sub("", _ascii(label.lower()))
    if len(norm) < 3 or len(label) < 3:
        return norm == label
    return norm == label or norm.startswith(label) or label.startswith(norm)


def _role(texts: Texts, book: PhraseBook, calendar_text: str) -> str | None:
    """The role, from the subject, the body, quoted history, then the calendar event."""
    sources = (
        (book.role_subject, texts.subject),
        (book.role_body, texts.subject),
        (book.role_body, texts.flat),
        (book.role_body, texts.full_flat),
        (book.role_subject, calendar_text),
        (book.role_body, calendar_text),
    )
    for patterns, text in sources:
        for pattern in patterns.candidates(text):
            for match in pattern.finditer(text):
                role = _clean_role(match.group("role"), book)
                if role:
                    return role
    return None


def _clean_role(role: str, book: PhraseBook) -> str | None:
    role = flatten(role).strip(_EDGE_PUNCT.replace("()", "").replace(")", ""))
    # "Litware - Platform Engineer", "Onsite Interview - Staff Designer": the title is last.
    role = role.rpartition(" - ")[2]
    # "Availability Request for Senior Data Engineer": the title follows the last "for".
    after_for = role.rpartition(" for ")[2]
    if after_for != role and book.role_nouns.search(after_for):
        role = after_for
    role = _ID_SUFFIX.sub("", role)
    if re.search(r"\binterview", role, re.I):
        return None
    role = re.sub(r"\s+(?:position|role|opening|vacancy|job)$", "", role, flags=re.I)
    if role.count("(") != role.count(")"):
        role = role.split("(")[0].strip()
    words = role.split()
    if not words or len(words) > 8 or not book.role_nouns.search(role):
        return None
    return role


def _job_id(texts: Texts, book: PhraseBook) -> str | None:
    for text in (texts.subject, texts.flat, texts.full_flat):
        for pattern in book.job_id.candidates(text):
            for match in pattern.finditer(text):
                value = match.group("id")
                if any(ch.isdigit() for ch in value):
                    return value
    return None


def _contacts(msg: ParsedMessage, me: frozenset[str], book: PhraseBook) -> tuple[Address, ...]:
    result: list[Address] = []
    for address in (msg.sender, *msg.reply_to):
        if (
            address is not None
            and _is_person(address, me, book)
            and all(a.email.lower() != address.email.lower() for a in result)
        ):
            result.append(address)
    return tuple(result)


def _is_person(address: Address | None, me: frozenset[str], book: PhraseBook) -> bool:
    return (
        address is not None
        and "@" in address.email
        and address.email.lower() not in me
        and not _is_noreply(address, book)
    )


def _is_noreply(address: Address, book: PhraseBook) -> bool:
    return bool(book.noreply.match(address.email.partition("@")[0]))


def _is_room(address: Address, book: PhraseBook) -> bool:
    local, _, domain = address.email.lower().partition("@")
    return (
        domain.endswith("resource.calendar.google.com")
        or bool(book.rooms.search(address.name))
        or bool(book.rooms.search(local))
    )


def _known_people(msg: ParsedMessage) -> dict[str, Address]:
    """Every named address in the message, by lower-cased name, to give names an email."""
    people: dict[str, Address] = {}
    everyone = [msg.sender, *msg.reply_to, *msg.to, *msg.cc]
    for event in msg.calendar:
        everyone += [event.organizer, *event.attendees]
    for address in everyone:
        if address is not None and address.name and address.email:
            people.setdefault(address.name.lower(), address)
    return people
