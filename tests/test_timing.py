import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from followupd.timing import Calendar, Offset, parse_offset
from tests.builders import BERLIN, CAL, at


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("30m", Offset(delta=parse_offset("30 minutes").delta)),
        ("2h", parse_offset("2 hours")),
        ("3 business days", Offset(business_days=3)),
        ("1bd", Offset(business_days=1)),
    ],
)
def test_durations_in_several_spellings(text: str, offset: Offset) -> None:
    assert parse_offset(text) == offset


def test_bad_duration_names_the_value() -> None:
    with pytest.raises(ValueError, match="2 fortnights"):
        parse_offset("2 fortnights")


def test_business_days_skip_weekends_and_german_holidays() -> None:
    # Thu 24 Dec 2026 + 1 business day: 25 and 26 Dec are holidays, then a weekend.
    assert CAL.add(at("2026-12-24 10:00"), Offset(business_days=1)) == at("2026-12-28 10:00")
    assert not CAL.is_business_day(date(2025, 10, 3))  # Friday, German Unity Day
    assert Calendar(zone=BERLIN).is_business_day(date(2026, 12, 25)) is True  # no country given


def test_public_holidays_are_the_librarys_across_years_and_from_the_cache() -> None:
    import holidays

    library = holidays.country_holidays("FR")
    for _ in range(2):  # the second calendar reads what the first one cached
        cal = Calendar(zone=BERLIN, country="FR")
        day = date(2025, 12, 1)
        while day < date(2029, 2, 1):
            assert cal.is_business_day(day) == (day.weekday() < 5 and day not in library), day
            day += timedelta(days=1)


def test_a_later_start_knows_holidays_without_importing_the_library(tmp_path: Path) -> None:
    check = (
        "import sys; from datetime import date; from zoneinfo import ZoneInfo;"
        "from followupd.timing import Calendar;"
        "cal = Calendar(zone=ZoneInfo('Europe/Berlin'), country='DE');"
        "print(cal.is_business_day(date(2025, 10, 3)), 'holidays' in sys.modules)"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", check], env=env, capture_output=True, text=True, check=True
        )
        for _ in range(2)
    ]
    assert [run.stdout.split() for run in runs] == [
        ["False", "True"],  # Fri 3 Oct 2025, German Unity Day
        ["False", "False"],
    ]


def test_an_unknown_country_is_an_error_naming_it() -> None:
    with pytest.raises(NotImplementedError, match="XX"):
        Calendar(zone=BERLIN, country="XX").is_business_day(date(2026, 12, 25))
    with pytest.raises(NotImplementedError, match="x/y"):
        Calendar(zone=BERLIN, country="../x/y").is_business_day(date(2026, 12, 25))


def test_next_working_moment() -> None:
    assert CAL.next_working_moment(at("2026-11-05 19:30")) == at("2026-11-06 09:00")
    assert CAL.next_working_moment(at("2026-11-06 19:30")) == at("2026-11-09 09:00")  # Fri → Mon
    assert CAL.next_working_moment(at("2026-11-05 07:00")) == at("2026-11-05 09:00")
    assert CAL.next_working_moment(at("2026-11-05 11:15")) == at("2026-11-05 11:15")


def test_quiet_hours_move_to_the_morning() -> None:
    assert CAL.after_quiet_hours(at("2026-11-05 23:10")) == at("2026-11-06 08:00")
    assert CAL.after_quiet_hours(at("2026-11-06 03:00")) == at("2026-11-06 08:00")
    assert CAL.after_quiet_hours(at("2026-11-06 12:00")) == at("2026-11-06 12:00")
