"""Calendar arithmetic in the person's time zone: business days, working and quiet hours."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

# Public holidays are read for this many years at a time (one cache entry each).
HOLIDAY_YEARS = 4
_COUNTRY = re.compile(r"[A-Za-z0-9_-]{1,16}")

_DURATION = re.compile(
    r"^\s*(\d+)\s*(m|min|minutes?|h|hours?|d|days?|bd|business[ _]days?|w|weeks?)\s*$", re.I
)


@dataclass(frozen=True)
class Offset:
    """A duration as a rule states it: plain time, or a number of business days."""

    delta: timedelta = timedelta(0)
    business_days: int = 0

    def __str__(self) -> str:
        if self.business_days:
            return f"{self.business_days} business day{'s' if self.business_days != 1 else ''}"
        hours = self.delta.total_seconds() / 3600
        return f"{hours:g} h"


def parse_offset(text: str) -> Offset:
    """Parse "30m", "2h", "1d", "3 business days", "1bd", "2w"."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"not a duration: {text!r} (try 30m, 2h, 1d, 3 business days, 1w)")
    n, unit = int(m.group(1)), m.group(2).lower()
    if unit.startswith("b"):
        return Offset(business_days=n)
    if unit.startswith("m"):
        return Offset(delta=timedelta(minutes=n))
    if unit.startswith("h"):
        return Offset(delta=timedelta(hours=n))
    if unit.startswith("w"):
        return Offset(delta=timedelta(weeks=n))
    return Offset(delta=timedelta(days=n))


@dataclass(frozen=True)
class Calendar:
    """The person's working week: zone, working hours, quiet hours, public holidays."""

    zone: ZoneInfo
    day_start: time = time(9, 0)
    day_end: time = time(18, 0)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    country: str | None = None

    @cached_property
    def _holidays(self) -> dict[int, dict[date, str]]:
        """The country's public holidays by date, in blocks of years by their first year."""
        return {}

    def is_business_day(self, day: date) -> bool:
        if day.weekday() >= 5:
            return False
        holidays = self._holidays_around(day)
        return not (holidays is not None and day in holidays)

    def _holidays_around(self, day: date) -> dict[date, str] | None:
        if not self.country:
            return None
        first = day.year - day.year % HOLIDAY_YEARS
        if first not in self._holidays:
            self._holidays[first] = public_holidays(self.country, first)
        return self._holidays[first]

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def add(self, at: datetime, offset: Offset) -> datetime:
        """Add an offset; business days keep the local time of day."""
        if not offset.business_days:
            return at + offset.delta
        local = self.local(at)
        day, left = local.date(), offset.business_days
        while left:
            day += timedelta(days=1)
            if self.is_business_day(day):
                left -= 1
        return self._at_local(day, local.time())

    def _at_local(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.zone)

    def next_working_moment(self, at: datetime) -> datetime:
        """`at` itself if inside working hours on a business day, else the next start of one."""
        local = self.local(at)
        day = local.date()
        if self.is_business_day(day):
            if local.time() < self.day_start:
                return self._at_local(day, self.day_start)
            if local.time() < self.day_end:
                return local
        day += timedelta(days=1)
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return self._at_local(day, self.day_start)

    def next_shared_working_moment(self, at: datetime, other: ZoneInfo | None) -> datetime:
        """The next working moment that is also a weekday working hour in `other`'s zone.

        The recipient's own working hours are taken to be the same span as the person's. When
        the two working days never overlap, the person's own working hours win.
        """
        mine = self.next_working_moment(at)
        if other is None or other.key == self.zone.key:
            return mine
        moment = mine
        for _ in range(21):  # three weeks of tries is plenty for any two zones that overlap
            theirs = moment.astimezone(other)
            if theirs.weekday() < 5 and self.day_start <= theirs.time() < self.day_end:
                return self.local(moment)
            day = theirs.date() + timedelta(days=theirs.time() >= self.day_start)
            while day.weekday() >= 5:
                day += timedelta(days=1)
            moment = self.next_working_moment(datetime.combine(day, self.day_start, tzinfo=other))
        return mine

    def is_quiet(self, at: datetime) -> bool:
        t = self.local(at).time()
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= t < self.quiet_end
        return t >= self.quiet_start or t < self.quiet_end

    def after_quiet_hours(self, at: datetime) -> datetime:
        """`at`, or the end of the quiet period it falls in."""
        if not self.is_quiet(at):
            return self.local(at)
        local = self.local(at)
        day = local.date()
        if local.time() >= self.quiet_end and self.quiet_start > self.quiet_end:
            day += timedelta(days=1)
        return self._at_local(day, self.quiet_end)

    def at_time(self, at: datetime, clock: time) -> datetime:
        """The same local day as `at`, at the given local time."""
        return self._at_local(self.local(at).date(), clock)


def public_holidays(country: str, first_year: int) -> dict[date, str]:
    """`country`'s public holidays in HOLIDAY_YEARS years from `first_year`: {date: name}.

    From the `holidays` library, through the disk cache: importing it and loading a
    country (it loads all 250 at once) is some 0.17 s, more than a day's use needs.
    """
    from followupd.buildcache import cached  # noqa: PLC0415 - only where holidays are used

    def build() -> dict[date, str]:
        import holidays  # noqa: PLC0415 - slow to import, see above

        years = range(first_year, first_year + HOLIDAY_YEARS)
        found = holidays.country_holidays(country, years=years)
        return {day: str(name) for day, name in found.items()}

    if not _COUNTRY.fullmatch(country):
        return build()  # not a code the library knows (it says so): not a cache file name
    spec = importlib.util.find_spec("holidays")
    # The library's version module: its data changes with each release.
    version = (
        Path(spec.origin).with_name("version.py").read_bytes() if spec and spec.origin else b""
    )
    sources = [version, country.encode(), str(first_year).encode()]
    return cached(f"holidays-{country}-{first_year}", sources, dict, build)
