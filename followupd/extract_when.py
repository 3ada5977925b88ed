"""Dates and times written in prose: interview times and promised reply dates.

Everything is resolved against a reference time (the message's Date), never the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from followupd.phrasebook import PhraseBook
from followupd.recognise_text import sentences

# Fixed offsets of the zone abbreviations people write in mail (hours east of UTC).
ZONE_ABBREVIATIONS: dict[str, float] = {
    "UTC": 0,
    "GMT": 0,
    "WET": 0,
    "BST": 1,
    "WEST": 1,
    "CET": 1,
    "CEST": 2,
    "MEZ": 1,
    "MESZ": 2,
    "EET": 2,
    "EEST": 3,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
}
# Zones people name by place rather than by abbreviation.
ZONE_NAMES: dict[str, str] = {"UK": "Europe/London"}
_OFFSET_ZONE = re.compile(r"^(?:UTC|GMT)([+-])(\d{1,2})(?::?(\d{2}))?$", re.I)
_OFFSET_TEXT = re.compile(r"^(\d+) (business days|days|weeks)$")


@dataclass(frozen=True)
class FoundTime:
    """A date with a time of day found in text, resolved to an aware datetime."""

    start: datetime
    end: datetime | None
    timezone: str  # IANA name, or "+01:00" for a fixed offset
    position: int  # where in the text it was written
    text: str  # what was written, for evidence


@dataclass(frozen=True)
class _Grammar:
    date: re.Pattern[str]
    next_word: re.Pattern[str]
    after: re.Pattern[str]
    before: re.Pattern[str]


_grammars: dict[int, tuple[PhraseBook, _Grammar]] = {}


def _grammar(book: PhraseBook) -> _Grammar:
    cached = _grammars.get(id(book))
    if cached is not None and cached[0] is book:
        return cached[1]
    w = book.date_words
    weekday = "|".join(sorted(book.weekdays, key=len, reverse=True))
    # Abbreviations ("Sat") are too ambiguous alone; "lundi" and "jeudi" are not.
    long_weekday = "|".join(sorted((d for d in book.weekdays if len(d) >= 5), key=len))
    month = "|".join(sorted(book.months, key=len, reverse=True))
    relative = "|".join(sorted(book.relative_days, key=len, reverse=True)) or "(?!)"
    ordinal = rf"(?:{w.ordinal})?"
    date_expr = (
        rf"(?:(?P<wd1>{weekday})\b\.?,? )?(?:(?:{w.of}) )?(?P<d1>\d{{1,2}}){ordinal}\.?"
        rf" (?:(?:{w.of}) )?(?P<m1>{month})\b\.?(?:,? (?:(?:{w.of}) )?(?P<y1>\d{{4}}))?"
        rf"|(?:(?P<wd2>{weekday})\b\.?,? )?(?P<m2>{month})\b\.? (?P<d2>\d{{1,2}}){ordinal}\b"
        rf"(?:,? (?P<y2>\d{{4}}))?"
        r"|(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})"
        # "11.03.2026" and the European short form "Mittwoch, 11.03.": day first.
        rf"|(?:(?:{weekday})\b\.?,? )?(?P<ed>\d{{1,2}})\.(?P<em>\d{{1,2}})"
        r"(?:\.(?P<ey>\d{4})|(?=\.(?!\d)))"
        rf"|(?P<rel>{relative})"
        rf"|(?P<wd3>{long_weekday})"
    )

    def clock(i: int) -> str:
        return (
            rf"(?P<h{i}>\d{{1,2}})(?:(?:[:.]|{w.separator})(?P<mi{i}>\d{{2}}))?"
            rf"(?: ?(?P<oc{i}>{w.oclock})(?!\w))?"
            rf"(?: ?(?P<ap{i}>{w.am}|{w.pm})(?!\w))?|(?P<noon{i}>{w.noon})"
        )

    times = (
        rf"(?P<at>(?:{w.at}) )?(?:{clock(1)})(?: ?(?:{w.range}) ?(?:{clock(2)}))?"
        r"(?: ?\(?(?P<zone>(?-i:[A-Z]{2,5})(?:[+-]\d{1,2}(?::?\d{2})?)?"
        r"|(?-i:[A-Z])[A-Za-z]+/[A-Za-z_]+(?:/[A-Za-z_]+)?)\b\)?)?"
    )
    grammar = _Grammar(
        date=re.compile(rf"\b(?:(?:{w.on}) )?(?:{date_expr})\b", re.I),
        next_word=re.compile(rf"(?:{w.next}) ", re.I),
        after=re.compile(rf"(?:'s)?(?:\.(?=,))?,? ?(?:{times})", re.I),
        before=re.compile(rf"(?:{times}),? (?:(?:{w.on}) )?$", re.I),
    )
    _grammars[id(book)] = (book, grammar)
    return grammar


def find_times(flat: str, *, ref: datetime, tz: ZoneInfo, book: PhraseBook) -> list[FoundTime]:
    """Every "date + time of day" in `flat` (collapsed text), in the order written.

    Dates without a year take the next such date on or after `ref`; a weekday alone is
    the next such day after `ref`. Times without a zone are in `tz`. An hour from 1 to 6
    without am/pm is read as afternoon, since interviews are held in working hours.
    """
    grammar = _grammar(book)
    today = ref.astimezone(tz).date()
    found: list[FoundTime] = []
    for match in grammar.date.finditer(flat):
        day = _resolve_date(match, today, book)
        if day is None:
            continue
        if match.group("wd3") and grammar.next_word.match(match.group(0)):
            # "next Wednesday" said on a Tuesday is the Wednesday of next week.
            monday = today - timedelta(days=today.weekday())
            if day < monday + timedelta(days=7):
                day += timedelta(days=7)
        tail = grammar.after.match(flat, match.end())
        head = (
            None
            if tail
            else grammar.before.search(flat[max(0, match.start() - 60) : match.start()])
        )
        clock = tail or head
        if clock is None:
            continue
        resolved = _resolve_clock(clock, day, tz, book)
        if resolved is None:
            continue
        start, end, zone_name = resolved
        lo = match.start() if tail else max(0, match.start() - 60) + clock.start()
        hi = clock.end() if tail else match.end()
        found.append(FoundTime(start, end, zone_name, match.start(), flat[lo:hi]))
    return found


def parse_day(text: str, *, ref: datetime, tz: ZoneInfo, book: PhraseBook) -> date | None:
    """A date written alone ("4 December", "Friday") resolved against `ref`."""
    match = _grammar(book).date.search(text)
    return _resolve_date(match, ref.astimezone(tz).date(), book) if match else None


def _resolve_date(match: re.Match[str], today: date, book: PhraseBook) -> date | None:
    g = match.groupdict()
    try:
        if g["rel"]:
            return today + timedelta(days=book.relative_days[g["rel"].lower()])
        if g["wd3"]:
            return next_weekday(today, book.weekdays[g["wd3"].lower()])
        if g["iy"]:
            return date(int(g["iy"]), int(g["im"]), int(g["id"]))
        if g["ed"]:
            day, month, year = int(g["ed"]), int(g["em"]), g["ey"]
        else:
            day = int(g["d1"] or g["d2"])
            month = book.months[(g["m1"] or g["m2"]).lower().rstrip(".")]
            year = g["y1"] or g["y2"]
        if year:
            return date(int(year), month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except (ValueError, KeyError, TypeError):
        return None


def _resolve_clock(
    m: re.Match[str], day: date, tz: ZoneInfo, book: PhraseBook
) -> tuple[datetime, datetime | None, str] | None:
    start = _clock(m, 1, has_at=bool(m.group("at")), book=book)
    if start is None:
        return None
    end = _clock(m, 2, has_at=True, book=book)
    ap1, ap2 = m.group("ap1"), m.group("ap2")
    if end is not None and ap2 and not ap1 and start.hour < 12:
        pm = re.fullmatch(book.date_words.pm, ap2, re.I) is not None
        adjusted = time((start.hour % 12) + (12 if pm else 0), start.minute)
        if adjusted < end:
            start = adjusted
    zone, zone_name = _zone(m.group("zone"), tz)
    naive_start = datetime.combine(day, start)
    if zone is None:
        zone, zone_name = tz, tz.key
    elif not isinstance(zone, ZoneInfo):
        # A written abbreviation that agrees with the person's own zone is just that zone.
        local = naive_start.replace(tzinfo=tz)
        if local.utcoffset() == zone.utcoffset(None):
            zone, zone_name = tz, tz.key
    aware_start = naive_start.replace(tzinfo=zone)
    aware_end = None
    if end is not None:
        aware_end = datetime.combine(day, end).replace(tzinfo=zone)
        if aware_end <= aware_start:
            aware_end = None
    return aware_start, aware_end, zone_name


def _clock(m: re.Match[str], i: int, *, has_at: bool, book: PhraseBook) -> time | None:
    if m.group(f"noon{i}"):
        return time(12, 0)
    hour_text = m.group(f"h{i}")
    if hour_text is None:
        return None
    hour, minute_text, ap = int(hour_text), m.group(f"mi{i}"), m.group(f"ap{i}")
    minute = int(minute_text) if minute_text else 0
    if not (minute_text or ap or has_at or m.group(f"oc{i}")) or minute > 59:
        return None
    if ap:
        if not 1 <= hour <= 12:
            return None
        pm = re.fullmatch(book.date_words.pm, ap, re.I) is not None
        hour = hour % 12 + (12 if pm else 0)
    elif 1 <= hour <= 6:
        hour += 12
    return time(hour, minute) if hour <= 23 else None


def _zone(name: str | None, tz: ZoneInfo) -> tuple[tzinfo | None, str]:
    if not name:
        return None, tz.key
    upper = name.upper()
    if upper in ZONE_NAMES:
        return ZoneInfo(ZONE_NAMES[upper]), ZONE_NAMES[upper]
    if upper in ZONE_ABBREVIATIONS:
        return _fixed(timedelta(hours=ZONE_ABBREVIATIONS[upper]))
    offset = _OFFSET_ZONE.match(name)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3) or 0))
        return _fixed(sign * delta)
    if "/" in name:
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError, OSError):
            return None, tz.key
    return None, tz.key


def _fixed(delta: timedelta) -> tuple[tzinfo, str]:
    sign = "-" if delta < timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return timezone(delta), f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def duration(flat: str, book: PhraseBook) -> timedelta | None:
    """An interview length stated in the text ("a 45-minute call"), if any."""
    for pattern in book.durations.candidates(flat):
        m = pattern.search(flat)
        if not m:
            continue
        unit = m.group("unit").lower()
        if m.group("n").lower() == "half" and unit.startswith("h"):
            return timedelta(minutes=30)
        n = _number(m.group("n"), book)
        if n is None or n <= 0:
            continue
        # Minutes are "m..." in every language covered; hours are "h", "Stunde", "hora".
        length = timedelta(minutes=n) if unit.startswith("m") else timedelta(hours=n)
        if timedelta(minutes=10) <= length <= timedelta(hours=10):
            return length
    return None


def promised_reply(
    flat: str, *, ref: datetime, tz: ZoneInfo, book: PhraseBook
) -> tuple[date, str] | None:
    """The date by which the sender promised to get back ("within two weeks"), and the phrase.

    Only sentences that talk about replying count, so deadlines set for the candidate
    ("please complete it within 5 days") are not mistaken for promises. In such a sentence
    the phrase after the talk of replying wins ("we meet one more candidate on Monday and
    you will hear from me in the next few days" promises the few days, not Monday).
    """
    today = ref.astimezone(tz).date()
    # A sentence is part of `flat`: what cannot match in `flat` cannot match in it.
    reply_context = book.reply_context.candidates(flat)
    if not reply_context:
        return None
    for sentence in sentences(flat):
        contexts = [m.start() for c in reply_context if (m := c.search(sentence))]
        if not contexts:
            continue
        said = min(contexts)
        hits = []
        for order, promise in enumerate(book.promised_reply):
            m = promise.regex.search(sentence)
            if m:
                hits.append((m.start() < said, m.start(), order, m, promise.offset))
        for *_, m, offset in sorted(hits, key=lambda h: h[:3]):
            resolved = _apply_offset(offset, m, today, ref, tz, book)
            if resolved is not None:
                return resolved, m.group(0)
    return None


def _apply_offset(
    offset: str, m: re.Match[str], today: date, ref: datetime, tz: ZoneInfo, book: PhraseBook
) -> date | None:
    groups = m.groupdict()
    if "{n}" in offset:
        n = _number(groups.get("n"), book)
        if n is None:
            return None
        offset = offset.replace("{n}", str(n))
    friday = today + timedelta(days=(4 - today.weekday()) % 7)
    if offset == "end of this week":
        return friday
    if offset == "end of next week":
        return friday + timedelta(days=7)
    if offset == "early next week":
        return next_weekday(today, 0) + timedelta(days=1)
    if offset == "weekday":
        wd = book.weekdays.get((groups.get("weekday") or "").lower())
        return next_weekday(today, wd) if wd is not None else None
    if offset == "date":
        return parse_day(groups.get("date") or "", ref=ref, tz=tz, book=book)
    parsed = _OFFSET_TEXT.match(offset)
    if not parsed:
        return None
    n, unit = int(parsed.group(1)), parsed.group(2)
    if unit == "business days":
        return add_business_days(today, n)
    return today + timedelta(days=n * (7 if unit == "weeks" else 1))


def _number(text: str | None, book: PhraseBook) -> int | None:
    if not text:
        return None
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    return book.numbers.get(text)


def next_weekday(today: date, weekday: int) -> date:
    """The next `weekday` (0 = Monday) strictly after `today`."""
    return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)


def add_business_days(start: date, n: int) -> date:
    """`n` working days (Monday to Friday) after `start`; public holidays are not known here."""
    day = start
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day
