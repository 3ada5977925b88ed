"""iCalendar payloads → `CalendarPart` records with aware times and IANA zone names."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

from followupd.model import Address, CalendarPart

MAX_CALENDAR_BYTES = 1024 * 1024
MAX_EVENTS = 20
MAX_ATTENDEES = 100
MAX_TEXT = 20_000

# Exchange/Outlook write Windows zone names into TZID; these are the ones seen most often.
WINDOWS_ZONES: Mapping[str, str] = {
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kyiv",
    "GTB Standard Time": "Europe/Bucharest",
    "Russian Standard Time": "Europe/Moscow",
    "Turkey Standard Time": "Europe/Istanbul",
    "Israel Standard Time": "Asia/Jerusalem",
    "Arabian Standard Time": "Asia/Dubai",
    "India Standard Time": "Asia/Kolkata",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "Tokyo Standard Time": "Asia/Tokyo",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
    "South Africa Standard Time": "Africa/Johannesburg",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix",
    "Pacific Standard Time": "America/Los_Angeles",
    "Atlantic Standard Time": "America/Halifax",
    "E. South America Standard Time": "America/Sao_Paulo",
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
}
_ROOM_TYPES = frozenset({"ROOM", "RESOURCE"})
# icalendar warns when it strips a vendor prefix from a TZID; we resolve TZIDs ourselves.
_GUESS_WARNING = getattr(icalendar, "GloballyUniqueTZIDGuessed", None)
if isinstance(_GUESS_WARNING, type) and issubclass(_GUESS_WARNING, Warning):
    warnings.filterwarnings("ignore", category=_GUESS_WARNING)
_IANA_TAIL = re.compile(r"([A-Za-z]+(?:/[A-Za-z0-9_+-]+){1,2})$")


def parse_calendar(
    payload: bytes, *, charset: str, method: str | None, default_tz: ZoneInfo
) -> tuple[list[CalendarPart], list[str]]:
    """Every VEVENT of one calendar payload, and the problems met reading it.

    `method` is the Content-Type `method=` parameter, used when the VCALENDAR has no METHOD.
    Attendees with CUTYPE=ROOM or RESOURCE are left out: they are places, not people.
    """
    defects: list[str] = []
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:
        text = payload.decode("utf-8", errors="replace")
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except Exception as exc:  # noqa: BLE001
        # icalendar raises a wide variety of errors on broken input.
        return [], [f"unparseable iCalendar ({type(exc).__name__}: {str(exc)[:120]})"]
    events: list[CalendarPart] = []
    for cal in calendars:
        cal_method = _text(cal.get("METHOD")).upper() or (method or "").upper() or None
        locations = {
            _text(vtz.get("TZID")): _text(vtz.get("X-LIC-LOCATION"))
            for vtz in cal.walk("VTIMEZONE")
        }
        for event in cal.walk("VEVENT"):
            if len(events) >= MAX_EVENTS:
                defects.append(f"more than {MAX_EVENTS} events; the rest were skipped")
                return events, defects
            try:
                events.append(_event(event, cal_method, locations, default_tz, defects))
            except Exception as exc:  # noqa: BLE001 - one bad event must not hide the others
                defects.append(f"unreadable VEVENT ({type(exc).__name__}: {str(exc)[:120]})")
    return events, defects


def iana_zone(tzid: str, locations: Mapping[str, str] | None = None) -> str | None:
    """The IANA name for a TZID: itself, a Mozilla-style path tail, a Windows name, or the
    VTIMEZONE's X-LIC-LOCATION; None when none of these is a known zone."""
    tzid = tzid.strip().strip('"')
    candidates = [tzid]
    tail = _IANA_TAIL.search(tzid)
    if tail:
        candidates.append(tail.group(1))
    if tzid in WINDOWS_ZONES:
        candidates.append(WINDOWS_ZONES[tzid])
    if locations and locations.get(tzid):
        candidates.append(locations[tzid])
    for name in candidates:
        if _zone(name) is not None:
            return name
    return None


def _zone(name: str) -> ZoneInfo | None:
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _event(
    event: Any,
    method: str | None,
    locations: Mapping[str, str],
    default_tz: ZoneInfo,
    defects: list[str],
) -> CalendarPart:
    start, tzname, all_day = _when(event.get("DTSTART"), locations, default_tz, defects)
    end: datetime | None = None
    if event.get("DTEND") is not None:
        end, _, _ = _when(event.get("DTEND"), locations, default_tz, defects)
    elif start is not None and event.get("DURATION") is not None:
        duration = getattr(event.get("DURATION"), "dt", None)
        if isinstance(duration, timedelta):
            end = start + duration
    elif start is not None and all_day:
        end = start + timedelta(days=1)
    if start is not None and end is not None and end < start:
        defects.append("event ends before it starts; end ignored")
        end = None
    attendees = event.get("ATTENDEE")
    if attendees is None:
        attendees = []
    elif not isinstance(attendees, list):
        attendees = [attendees]
    people = tuple(
        a
        for a in (_address(x) for x in attendees[:MAX_ATTENDEES] if not _is_room(x))
        if a is not None
    )
    status = _text(event.get("STATUS")).upper()
    return CalendarPart(
        method=method,
        uid=_text(event.get("UID")) or None,
        sequence=_sequence(event.get("SEQUENCE")),
        summary=_text(event.get("SUMMARY")),
        start=start,
        end=end,
        timezone=tzname,
        organizer=_address(event.get("ORGANIZER")),
        attendees=people,
        location=_text(event.get("LOCATION")),
        description=_text(event.get("DESCRIPTION"))[:MAX_TEXT],
        status=status or None,
        all_day=all_day,
    )


def _when(
    prop: Any, locations: Mapping[str, str], default_tz: ZoneInfo, defects: list[str]
) -> tuple[datetime | None, str | None, bool]:
    """A DTSTART/DTEND property → (aware datetime, zone name, all-day)."""
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime):
        params = getattr(prop, "params", {}) or {}
        tzid = str(params.get("TZID", "") or "")
        if tzid and not _is_utc(value):
            name = iana_zone(tzid, locations)
            if name is not None:
                return value.replace(tzinfo=ZoneInfo(name)), name, False
            if value.tzinfo is not None and value.utcoffset() is not None:
                return value, _offset_name(value), False
            defects.append(f"unknown TZID {tzid[:60]!r}; read in {default_tz.key}")
            return value.replace(tzinfo=default_tz), default_tz.key, False
        if value.tzinfo is None or value.utcoffset() is None:
            # A floating time means "wall-clock time wherever the reader is".
            return value.replace(tzinfo=default_tz), default_tz.key, False
        return value, "UTC" if _is_utc(value) else _offset_name(value), False
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=default_tz), default_tz.key, True
    return None, None, False


def _is_utc(value: datetime) -> bool:
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        return False
    return str(value.tzinfo).upper() in ("UTC", "Z", "UTC+00:00", "ETC/UTC")


def _offset_name(value: datetime) -> str:
    offset = value.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _address(prop: Any) -> Address | None:
    if prop is None:
        return None
    raw = str(prop).strip()
    email = re.sub(r"^mailto:", "", raw, flags=re.I).strip()
    params = getattr(prop, "params", {}) or {}
    name = str(params.get("CN", "") or "").strip().strip('"')
    if "@" not in email:
        email = ""
    if not email and not name:
        return None
    return Address(name if name.lower() != email.lower() else "", email)


def _is_room(prop: Any) -> bool:
    params = getattr(prop, "params", {}) or {}
    return str(params.get("CUTYPE", "")).upper() in _ROOM_TYPES


def _sequence(prop: Any) -> int:
    try:
        return max(0, min(int(str(prop).strip()), 1_000_000)) if prop is not None else 0
    except ValueError:
        return 0


def _text(prop: Any) -> str:
    if prop is None:
        return ""
    if isinstance(prop, list):
        prop = prop[0] if prop else ""
    return str(prop).strip()
