from datetime import date

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
    assert not CAL.is_business_day(date(2026, 10, 3))  # German Unity Day
    assert Calendar(zone=BERLIN).is_business_day(date(2026, 12, 25)) is True  # no country given


def test_next_working_moment() -> None:
    assert CAL.next_working_moment(at("2026-11-05 19:30")) == at("2026-11-06 09:00")
    assert CAL.next_working_moment(at("2026-11-06 19:30")) == at("2026-11-09 09:00")  # Fri → Mon
    assert CAL.next_working_moment(at("2026-11-05 07:00")) == at("2026-11-05 09:00")
    assert CAL.next_working_moment(at("2026-11-05 11:15")) == at("2026-11-05 11:15")


def test_quiet_hours_move_to_the_morning() -> None:
    assert CAL.after_quiet_hours(at("2026-11-05 23:10")) == at("2026-11-06 08:00")
    assert CAL.after_quiet_hours(at("2026-11-06 03:00")) == at("2026-11-06 08:00")
    assert CAL.after_quiet_hours(at("2026-11-06 12:00")) == at("2026-11-06 12:00")
