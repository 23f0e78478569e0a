"""Business-hours calendars: exact seconds on pinned dates, validation, and properties."""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from monitor.domain.calendar import (
    ALWAYS_OPEN,
    WEEKDAYS,
    BusinessAges,
    Calendar,
    business_seconds,
    deadline,
    is_open,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KOLKATA = ZoneInfo("Asia/Kolkata")

WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
HOUR = 3600.0


def office(tz: str = "Europe/Paris", **kwargs: object) -> Calendar:
    """Mon-Fri 09:00-18:00."""
    return Calendar(tz=tz, hours=dict.fromkeys(WORKDAYS, ("09:00-18:00",)), **kwargs)  # type: ignore[arg-type]


def every_day(tz: str, *periods: str, **kwargs: object) -> Calendar:
    return Calendar(tz=tz, hours=dict.fromkeys(WEEKDAYS, periods), **kwargs)  # type: ignore[arg-type]


def at(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=zone, fold=fold)  # type: ignore[arg-type,misc]


# --------------------------------------------------------------------------------------------
# Weekly hours


def test_office_week_is_exactly_162000_seconds() -> None:
    cal = office()
    # Monday 2026-01-05 to Monday 2026-01-12 (no holiday in that week).
    assert business_seconds(cal, at(PARIS, 2026, 1, 5), at(PARIS, 2026, 1, 12)) == 162000.0
    # Any 7-day window spans exactly one week of hours.
    start = at(PARIS, 2026, 1, 7, 13, 17, 42)
    assert business_seconds(cal, start, start + timedelta(days=7)) == 162000.0


def test_office_partial_day_and_outside_hours() -> None:
    cal = office()
    assert business_seconds(cal, at(PARIS, 2026, 1, 5, 8), at(PARIS, 2026, 1, 5, 9, 30)) == 1800.0
    assert business_seconds(cal, at(PARIS, 2026, 1, 5, 18), at(PARIS, 2026, 1, 6, 9)) == 0.0
    assert business_seconds(cal, at(PARIS, 2026, 1, 10), at(PARIS, 2026, 1, 12)) == 0.0
    assert business_seconds(cal, at(PARIS, 2026, 1, 5, 17, 59, 59, 500000), at(PARIS, 2026, 1, 6)) == 0.5


def test_end_before_start_is_zero() -> None:
    cal = office()
    assert business_seconds(cal, at(PARIS, 2026, 1, 6, 12), at(PARIS, 2026, 1, 5, 12)) == 0.0
    assert business_seconds(cal, at(PARIS, 2026, 1, 6, 12), at(PARIS, 2026, 1, 6, 12)) == 0.0


def test_friday_evening_question_is_due_monday_morning() -> None:
    cal = office(holidays_country="FR")
    due = deadline(cal, at(PARIS, 2026, 1, 2, 17, 45), 30 * 60)
    assert due.tzinfo is UTC
    assert due == at(PARIS, 2026, 1, 5, 9, 15)


def test_friday_evening_question_before_easter_monday_is_due_tuesday() -> None:
    # 2026-04-03 is Good Friday (a working day in France outside Alsace-Moselle),
    # 2026-04-06 is Easter Monday (a French public holiday).
    cal = office(holidays_country="FR")
    assert deadline(cal, at(PARIS, 2026, 4, 3, 17, 45), 30 * 60) == at(PARIS, 2026, 4, 7, 9, 15)
    # Without holidays, Monday.
    assert deadline(office(), at(PARIS, 2026, 4, 3, 17, 45), 1800) == at(PARIS, 2026, 4, 6, 9, 15)
    assert business_seconds(cal, at(PARIS, 2026, 4, 3, 17, 45), at(PARIS, 2026, 4, 7, 9, 15)) == 1800.0


def test_deadline_inside_open_period_and_at_period_end() -> None:
    cal = office()
    assert deadline(cal, at(PARIS, 2026, 1, 5, 10), 3600) == at(PARIS, 2026, 1, 5, 11)
    # Exactly reaching the end of a period gives the period end, not the next opening.
    assert deadline(cal, at(PARIS, 2026, 1, 5, 17), 3600) == at(PARIS, 2026, 1, 5, 18)
    # Asked before opening: counted from the opening.
    assert deadline(cal, at(PARIS, 2026, 1, 5, 7), 60) == at(PARIS, 2026, 1, 5, 9, 1)
    # Zero target: the start itself.
    assert deadline(cal, at(PARIS, 2026, 1, 5, 7), 0) == at(PARIS, 2026, 1, 5, 7)


def test_deadline_many_weeks_ahead() -> None:
    cal = office(holidays_country="FR")
    start = at(PARIS, 2026, 1, 5, 9)
    # 1000 business hours = 111 days of 9 hours + 1 hour.
    due = deadline(cal, start, 1000 * HOUR)
    assert business_seconds(cal, start, due) == 1000 * HOUR
    assert is_open(cal, due - timedelta(microseconds=1))
    # 2026-06-19 (Fri) ... work it out independently: count open days.
    days = 0
    d = date(2026, 1, 5)
    fr_2026 = {
        date(2026, 4, 6),
        date(2026, 5, 1),
        date(2026, 5, 8),
        date(2026, 5, 14),
        date(2026, 5, 25),
    }
    while days < 111:
        if d.weekday() < 5 and d not in fr_2026:
            days += 1
        d += timedelta(days=1)
    while d.weekday() >= 5 or d in fr_2026:
        d += timedelta(days=1)
    assert due == at(PARIS, d.year, d.month, d.day, 10)
    # Across a year boundary, and over several years.
    assert business_seconds(cal, start, deadline(cal, start, 5000 * HOUR)) == 5000 * HOUR


def test_split_shifts() -> None:
    cal = Calendar(tz="Europe/Paris", hours=dict.fromkeys(WORKDAYS, ("09:00-12:00", "14:00-18:00")))
    monday = (2026, 1, 5)
    assert business_seconds(cal, at(PARIS, *monday, 8), at(PARIS, *monday, 20)) == 7 * HOUR
    assert business_seconds(cal, at(PARIS, *monday, 11), at(PARIS, *monday, 15)) == 2 * HOUR
    assert deadline(cal, at(PARIS, *monday, 11, 30), HOUR) == at(PARIS, *monday, 14, 30)
    assert deadline(cal, at(PARIS, *monday, 11, 30), 1800) == at(PARIS, *monday, 12)
    assert not is_open(cal, at(PARIS, *monday, 12))
    assert not is_open(cal, at(PARIS, *monday, 13, 59, 59))
    assert is_open(cal, at(PARIS, *monday, 14))
    assert is_open(cal, at(PARIS, *monday, 11, 59, 59))
    week = business_seconds(cal, at(PARIS, *monday), at(PARIS, 2026, 1, 12))
    assert week == 5 * 7 * HOUR


def test_overnight_shift() -> None:
    cal = every_day("Europe/Paris", "22:00-06:00")
    # A plain day: 22:00 -> 06:00 is 8 hours.
    assert business_seconds(cal, at(PARIS, 2026, 1, 6, 12), at(PARIS, 2026, 1, 7, 12)) == 8 * HOUR
    assert deadline(cal, at(PARIS, 2026, 1, 6, 23), 2 * HOUR) == at(PARIS, 2026, 1, 7, 1)
    assert deadline(cal, at(PARIS, 2026, 1, 7, 7), HOUR) == at(PARIS, 2026, 1, 7, 23)
    assert is_open(cal, at(PARIS, 2026, 1, 7, 3))
    assert not is_open(cal, at(PARIS, 2026, 1, 7, 6))


def test_overnight_shift_belongs_to_the_day_it_starts() -> None:
    # Only Friday nights: Friday 22:00 -> Saturday 06:00.
    cal = Calendar(tz="Europe/Paris", hours={"fri": ("22:00-06:00",)})
    assert is_open(cal, at(PARIS, 2026, 1, 10, 5))  # Saturday 05:00
    assert not is_open(cal, at(PARIS, 2026, 1, 9, 5))  # Friday 05:00
    assert business_seconds(cal, at(PARIS, 2026, 1, 5), at(PARIS, 2026, 1, 12)) == 8 * HOUR


def test_overlapping_periods_are_not_counted_twice() -> None:
    cal = Calendar(
        tz="Europe/Paris",
        hours={"mon": ("20:00-10:00", "09:00-12:00"), "tue": ("00:00-24:00", "08:00-09:00")},
    )
    # Mon 09:00-12:00, then Mon 20:00 -> Wed 00:00 continuously open: 3 + 28 hours.
    assert business_seconds(cal, at(PARIS, 2026, 1, 5), at(PARIS, 2026, 1, 8)) == 31 * HOUR


def test_whole_day_period() -> None:
    cal = Calendar(tz="Europe/Paris", hours={"mon": ("00:00-24:00",), "wed": ("09:00-09:00",)})
    assert business_seconds(cal, at(PARIS, 2026, 1, 5), at(PARIS, 2026, 1, 6)) == 86400.0
    assert deadline(cal, at(PARIS, 2026, 1, 4, 23), 2 * HOUR) == at(PARIS, 2026, 1, 5, 2)
    # "09:00-09:00" is 24 hours, Wednesday 09:00 to Thursday 09:00.
    assert business_seconds(cal, at(PARIS, 2026, 1, 7), at(PARIS, 2026, 1, 9)) == 86400.0
    assert is_open(cal, at(PARIS, 2026, 1, 8, 8, 59))


def test_always_open() -> None:
    start = datetime(2026, 3, 1, 12, 34, 56, 789, tzinfo=UTC)
    assert business_seconds(ALWAYS_OPEN, start, start + timedelta(days=400)) == 400 * 86400.0
    assert deadline(ALWAYS_OPEN, start, 12345.5) == start + timedelta(seconds=12345.5)
    assert is_open(ALWAYS_OPEN, start)
    assert ALWAYS_OPEN.holidays_country is None
    # Across a UTC year boundary.
    ny = datetime(2026, 12, 31, 23, tzinfo=UTC)
    assert business_seconds(ALWAYS_OPEN, ny, ny + timedelta(hours=2)) == 2 * HOUR


def test_inputs_in_other_zones_are_the_same_instants() -> None:
    cal = office()
    a = at(PARIS, 2026, 1, 5, 10)
    b = at(PARIS, 2026, 1, 5, 16)
    assert business_seconds(cal, a.astimezone(NEW_YORK), b.astimezone(KOLKATA)) == 6 * HOUR


# --------------------------------------------------------------------------------------------
# DST


def test_paris_spring_forward_night() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST.
    night = every_day("Europe/Paris", "22:00-06:00")
    assert business_seconds(night, at(PARIS, 2026, 3, 28, 12), at(PARIS, 2026, 3, 29, 12)) == 7 * HOUR
    # Asked at 01:30 CET (00:30 UTC): 3.5 real hours until 06:00 CEST (04:00 UTC).
    asked = at(PARIS, 2026, 3, 29, 1, 30)
    assert business_seconds(night, asked, at(PARIS, 2026, 3, 29, 12)) == 3.5 * HOUR
    assert deadline(night, asked, 3 * HOUR) == datetime(2026, 3, 29, 3, 30, tzinfo=UTC)
    assert deadline(night, asked, 3 * HOUR) == at(PARIS, 2026, 3, 29, 5, 30)
    # Office hours on the DST Sunday... a Sunday calendar: 09:00-18:00 is 9 real hours.
    sunday = Calendar(tz="Europe/Paris", hours={"sun": ("09:00-18:00",)})
    assert business_seconds(sunday, at(PARIS, 2026, 3, 29), at(PARIS, 2026, 3, 30)) == 9 * HOUR
    # 24/7 in Paris: that local day has 23 hours.
    local_24_7 = every_day("Europe/Paris", "00:00-24:00")
    assert business_seconds(local_24_7, at(PARIS, 2026, 3, 29), at(PARIS, 2026, 3, 30)) == 23 * HOUR
    assert business_seconds(ALWAYS_OPEN, asked, at(PARIS, 2026, 3, 29, 6)) == 3.5 * HOUR
    assert deadline(ALWAYS_OPEN, asked, HOUR) == at(PARIS, 2026, 3, 29, 3, 30)


def test_paris_fall_back_night() -> None:
    # 2026-10-25 03:00 CEST -> 02:00 CET.
    night = every_day("Europe/Paris", "22:00-06:00")
    assert business_seconds(night, at(PARIS, 2026, 10, 24, 12), at(PARIS, 2026, 10, 25, 12)) == 9 * HOUR
    first = at(PARIS, 2026, 10, 25, 2, 30)  # CEST, 00:30 UTC
    second = at(PARIS, 2026, 10, 25, 2, 30, fold=1)  # CET, 01:30 UTC
    assert business_seconds(night, first, second) == HOUR
    assert business_seconds(night, first, at(PARIS, 2026, 10, 25, 12)) == 4.5 * HOUR
    assert business_seconds(night, second, at(PARIS, 2026, 10, 25, 12)) == 3.5 * HOUR
    assert deadline(night, first, 3 * HOUR) == datetime(2026, 10, 25, 3, 30, tzinfo=UTC)
    local_24_7 = every_day("Europe/Paris", "00:00-24:00")
    assert business_seconds(local_24_7, at(PARIS, 2026, 10, 25), at(PARIS, 2026, 10, 26)) == 25 * HOUR
    # (Inter-zone == is always False for an ambiguous local time, PEP 495: compare in UTC.)
    assert deadline(ALWAYS_OPEN, first, HOUR) == second.astimezone(UTC)


def test_new_york_spring_forward_night() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT.
    night = every_day("America/New_York", "22:00-06:00")
    assert business_seconds(night, at(NEW_YORK, 2026, 3, 7, 12), at(NEW_YORK, 2026, 3, 8, 12)) == 7 * HOUR
    asked = at(NEW_YORK, 2026, 3, 8, 1, 45)  # EST, 06:45 UTC
    assert business_seconds(night, asked, at(NEW_YORK, 2026, 3, 8, 12)) == 3.25 * HOUR
    assert deadline(night, asked, 3 * HOUR) == at(NEW_YORK, 2026, 3, 8, 5, 45)
    assert deadline(night, asked, 3.25 * HOUR) == at(NEW_YORK, 2026, 3, 8, 6)
    # Past the end of the night: next night, 22:00 EDT.
    assert deadline(night, asked, 3.5 * HOUR) == at(NEW_YORK, 2026, 3, 8, 22, 15)
    assert business_seconds(ALWAYS_OPEN, asked, at(NEW_YORK, 2026, 3, 8, 3, 15)) == 0.5 * HOUR


def test_new_york_fall_back_night() -> None:
    # 2026-11-01 02:00 EDT -> 01:00 EST.
    night = every_day("America/New_York", "22:00-06:00")
    assert business_seconds(night, at(NEW_YORK, 2026, 10, 31, 12), at(NEW_YORK, 2026, 11, 1, 12)) == 9 * HOUR
    asked = at(NEW_YORK, 2026, 11, 1, 1, 30)  # first 01:30 (EDT, 05:30 UTC)
    due = deadline(night, asked, HOUR)
    # second 01:30 (EST, 06:30 UTC); compared in UTC (PEP 495 inter-zone == on a fold).
    assert due == at(NEW_YORK, 2026, 11, 1, 1, 30, fold=1).astimezone(UTC)
    assert due == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert business_seconds(night, asked, at(NEW_YORK, 2026, 11, 1, 12)) == 5.5 * HOUR
    assert business_seconds(ALWAYS_OPEN, asked, at(NEW_YORK, 2026, 11, 1, 3)) == 2.5 * HOUR


def test_period_bounds_in_the_dst_gap_and_fold() -> None:
    # A bound in the spring gap maps forward to the jump (03:00 CEST); a bound in the
    # fall-back fold is its first occurrence (CEST).
    cal = Calendar(tz="Europe/Paris", hours={"sun": ("02:30-04:00",)})
    assert business_seconds(cal, at(PARIS, 2026, 3, 29), at(PARIS, 2026, 3, 30)) == HOUR
    assert deadline(cal, at(PARIS, 2026, 3, 29), 60) == at(PARIS, 2026, 3, 29, 3, 1)
    assert business_seconds(cal, at(PARIS, 2026, 10, 25), at(PARIS, 2026, 10, 26)) == 2.5 * HOUR
    gap_only = Calendar(tz="Europe/Paris", hours={"sun": ("02:00-03:00",)})
    assert business_seconds(gap_only, at(PARIS, 2026, 3, 29), at(PARIS, 2026, 3, 30)) == 0.0
    assert business_seconds(gap_only, at(PARIS, 2026, 3, 22), at(PARIS, 2026, 3, 23)) == HOUR


def test_lord_howe_half_hour_dst() -> None:
    night = every_day("Australia/Lord_Howe", "22:00-06:00")
    # 2026-10-04 02:00 -> 02:30 (+10:30 -> +11), 2026-04-05 02:00 -> 01:30.
    assert business_seconds(night, at(LORD_HOWE, 2026, 10, 3, 12), at(LORD_HOWE, 2026, 10, 4, 12)) == 7.5 * HOUR
    assert business_seconds(night, at(LORD_HOWE, 2026, 4, 4, 12), at(LORD_HOWE, 2026, 4, 5, 12)) == 8.5 * HOUR
    gap = Calendar(tz="Australia/Lord_Howe", hours={"sun": ("02:10-03:00",)})
    assert business_seconds(gap, at(LORD_HOWE, 2026, 10, 4), at(LORD_HOWE, 2026, 10, 5)) == 30 * 60.0
    assert deadline(gap, at(LORD_HOWE, 2026, 10, 4), 60) == at(LORD_HOWE, 2026, 10, 4, 2, 31)


def test_kolkata_has_no_dst() -> None:
    night = every_day("Asia/Kolkata", "22:00-06:00")
    assert business_seconds(night, at(KOLKATA, 2026, 3, 28, 12), at(KOLKATA, 2026, 3, 29, 12)) == 8 * HOUR


# --------------------------------------------------------------------------------------------
# Holidays and closures


def test_holidays_with_subdivision_alsace_moselle() -> None:
    # Good Friday 2026-04-03 and St Stephen's Day 2025-12-26 are public holidays in Moselle (57)
    # and Alsace (6AE, also accepted as 67 / 68), not in the rest of France.
    thursday = at(PARIS, 2026, 4, 2, 17, 45)
    assert deadline(office(holidays_country="FR"), thursday, 1800) == at(PARIS, 2026, 4, 3, 9, 15)
    for subdiv in ("57", "6AE", "67", "68"):
        cal = office(holidays_country="FR", holidays_subdiv=subdiv)
        assert deadline(cal, thursday, 1800) == at(PARIS, 2026, 4, 7, 9, 15), subdiv
        assert not is_open(cal, at(PARIS, 2025, 12, 26, 10)), subdiv
    assert is_open(office(holidays_country="FR"), at(PARIS, 2025, 12, 26, 10))
    # The field keeps what was given.
    assert office(holidays_country="FR", holidays_subdiv="67").holidays_subdiv == "67"


def test_holidays_with_subdivision_new_york() -> None:
    # Lincoln's Birthday, Thursday 2026-02-12, is a New York State holiday only.
    nine_to_five = Calendar(
        tz="America/New_York",
        hours=dict.fromkeys(WORKDAYS, ("09:00-17:00",)),
        holidays_country="US",
        holidays_subdiv="NY",
    )
    asked = at(NEW_YORK, 2026, 2, 11, 16, 30)
    assert deadline(nine_to_five, asked, HOUR) == at(NEW_YORK, 2026, 2, 13, 9, 30)
    federal = dataclasses.replace(nine_to_five, holidays_subdiv=None)
    assert deadline(federal, asked, HOUR) == at(NEW_YORK, 2026, 2, 12, 9, 30)
    # Thanksgiving, federal.
    assert not is_open(federal, at(NEW_YORK, 2026, 11, 26, 10))


def test_holiday_closes_periods_starting_that_day_only() -> None:
    # 2026-05-01 (Friday) is a French public holiday: the shift starting on the eve runs into
    # the holiday morning, the one starting on the holiday evening does not run.
    night = every_day("Europe/Paris", "22:00-06:00", holidays_country="FR")
    assert is_open(night, at(PARIS, 2026, 5, 1, 3))
    assert not is_open(night, at(PARIS, 2026, 5, 1, 23))
    assert not is_open(night, at(PARIS, 2026, 5, 2, 5))
    assert business_seconds(night, at(PARIS, 2026, 4, 30, 12), at(PARIS, 2026, 5, 2, 12)) == 8 * HOUR
    # Same with an extra closed date.
    closed = every_day("Europe/Paris", "22:00-06:00", closed_dates=(date(2026, 6, 10),))
    assert business_seconds(closed, at(PARIS, 2026, 6, 9, 12), at(PARIS, 2026, 6, 11, 12)) == 8 * HOUR
    assert is_open(closed, at(PARIS, 2026, 6, 10, 5))
    # New Year's Day: the shift from 31 December runs across the UTC year boundary.
    ny = every_day("Europe/Paris", "22:00-06:00", holidays_country="FR")
    assert business_seconds(ny, at(PARIS, 2026, 12, 31, 12), at(PARIS, 2027, 1, 1, 12)) == 8 * HOUR
    assert business_seconds(ny, at(PARIS, 2026, 12, 31, 12), at(PARIS, 2027, 1, 2, 12)) == 8 * HOUR


def test_closed_dates() -> None:
    cal = office(closed_dates=(date(2026, 1, 7), date(2026, 1, 6)))
    assert cal.closed_dates == (date(2026, 1, 6), date(2026, 1, 7))
    assert business_seconds(cal, at(PARIS, 2026, 1, 5), at(PARIS, 2026, 1, 12)) == 3 * 9 * HOUR
    assert deadline(cal, at(PARIS, 2026, 1, 5, 17), 2 * HOUR) == at(PARIS, 2026, 1, 8, 10)


def test_closed_periods() -> None:
    closure = (at(PARIS, 2026, 6, 1, 10), at(PARIS, 2026, 6, 1, 12))
    cal = every_day("Europe/Paris", "00:00-24:00", closed_periods=(closure,))
    assert business_seconds(cal, at(PARIS, 2026, 6, 1), at(PARIS, 2026, 6, 2)) == 22 * HOUR
    assert deadline(cal, at(PARIS, 2026, 6, 1, 9), 2 * HOUR) == at(PARIS, 2026, 6, 1, 13)
    assert not is_open(cal, at(PARIS, 2026, 6, 1, 11))
    assert is_open(cal, at(PARIS, 2026, 6, 1, 12))
    # Overlapping and unordered closures merge; a closure across the UTC year boundary.
    cal2 = office(
        closed_periods=(
            (at(PARIS, 2026, 1, 5, 15), at(PARIS, 2026, 1, 6, 10)),
            (at(PARIS, 2026, 1, 5, 10), at(PARIS, 2026, 1, 5, 16)),
            (datetime(2026, 12, 31, 12, tzinfo=UTC), datetime(2027, 1, 4, 9, tzinfo=UTC)),
        )
    )
    assert cal2.closed_periods[0][0] == at(PARIS, 2026, 1, 5, 10)
    assert business_seconds(cal2, at(PARIS, 2026, 1, 5), at(PARIS, 2026, 1, 7)) == 9 * HOUR
    # 2026-12-31 09:00-13:00 CET, then Monday 2027-01-04 from 10:00 CET (09:00 UTC).
    assert business_seconds(cal2, at(PARIS, 2026, 12, 31), at(PARIS, 2027, 1, 5)) == 4 * HOUR + 8 * HOUR


def test_no_open_time_deadline_raises() -> None:
    empty = Calendar(tz="Europe/Paris", hours={})
    assert business_seconds(empty, at(PARIS, 2026, 1, 1), at(PARIS, 2027, 1, 1)) == 0.0
    with pytest.raises(ValueError, match="no opening hours"):
        deadline(empty, at(PARIS, 2026, 1, 1), 1)
    # Hours exist, but a closure covers the next ten years.
    shut = office(closed_periods=((at(PARIS, 2026, 1, 1), at(PARIS, 2036, 1, 1)),))
    with pytest.raises(ValueError, match="no open time"):
        deadline(shut, at(PARIS, 2026, 1, 1), 1)
    # A two-year closure is fine.
    short = office(closed_periods=((at(PARIS, 2026, 1, 1), at(PARIS, 2028, 1, 1)),))
    assert deadline(short, at(PARIS, 2026, 1, 1), 60) == at(PARIS, 2028, 1, 3, 9, 1)


# --------------------------------------------------------------------------------------------
# Construction, validation, hashing


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tz": "Mars/Olympus_Mons"}, "Mars/Olympus_Mons"),
        ({"tz": ""}, "time zone"),
        ({"tz": "../etc/passwd"}, "passwd"),
        ({"hours": {"mo": ("09:00-18:00",)}}, "'mo'"),
        ({"hours": {"monday": ("09:00-18:00",)}}, "'monday'"),
        ({"hours": {"mon": ("9h-18h",)}}, "9h-18h"),
        ({"hours": {"mon": ("25:00-26:00",)}}, "25:00-26:00"),
        ({"hours": {"mon": ("09:60-10:00",)}}, "09:60-10:00"),
        ({"hours": {"mon": ("24:00-01:00",)}}, "24:00-01:00"),
        ({"hours": {"mon": ("09:00",)}}, "'09:00'"),
        ({"hours": {"mon": (9,)}}, "9"),
        ({"hours": {"mon": ("09:00-18:00",), "MON": ("10:00-11:00",)}}, "twice"),
        ({"holidays_country": "XX"}, "'XX'"),
        ({"holidays_country": "FR", "holidays_subdiv": "99"}, "'99'"),
        ({"holidays_country": "US", "holidays_subdiv": "ZZ"}, "'ZZ'"),
        ({"holidays_subdiv": "NY"}, "'NY'"),
        ({"closed_dates": (datetime(2026, 1, 1, tzinfo=UTC),)}, "2026"),
        ({"closed_dates": ("2026-01-01",)}, "2026-01-01"),
        ({"closed_periods": ((datetime(2026, 1, 1), datetime(2026, 1, 2)),)}, "naive"),  # noqa: DTZ001 - under test
        ({"closed_periods": ((at(PARIS, 2026, 1, 2), at(PARIS, 2026, 1, 1)),)}, "ends before"),
        ({"closed_periods": ((at(PARIS, 2026, 1, 2),),)}, "pair"),
    ],
)
def test_invalid_calendars(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"tz": "Europe/Paris", "hours": {"mon": ("09:00-18:00",)}}
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Calendar(**(base | kwargs))  # type: ignore[arg-type]


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 1, 5, 10)  # noqa: DTZ001 - under test
    aware = at(PARIS, 2026, 1, 5, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_seconds(ALWAYS_OPEN, naive, aware)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_seconds(ALWAYS_OPEN, aware, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline(ALWAYS_OPEN, naive, 60)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(ALWAYS_OPEN, naive)


@pytest.mark.parametrize("target", [-1.0, math.nan, math.inf])
def test_invalid_targets(target: float) -> None:
    with pytest.raises(ValueError, match="target"):
        deadline(ALWAYS_OPEN, at(PARIS, 2026, 1, 5), target)


def test_calendar_is_hashable_and_normalised() -> None:
    a = Calendar(
        tz="Europe/Paris",
        hours={"tue": ["14:00-18:00", "09:00-12:00"], "Mon": "09:00-18:00"},  # type: ignore[dict-item]
        holidays_country="FR",
        closed_dates=[date(2026, 1, 2), date(2026, 1, 1)],  # type: ignore[arg-type]
    )
    b = Calendar(
        tz="Europe/Paris",
        hours={"mon": ("09:00-18:00",), "tue": ("14:00-18:00", "09:00-12:00")},
        holidays_country="FR",
        closed_dates=(date(2026, 1, 1), date(2026, 1, 2)),
    )
    assert a == b
    assert hash(a) == hash(b)
    assert {a: 1}[b] == 1
    assert list(a.hours) == ["mon", "tue"]
    assert a.hours["mon"] == ("09:00-18:00",)
    assert a.hours == {"mon": ("09:00-18:00",), "tue": ("14:00-18:00", "09:00-12:00")}
    with pytest.raises(TypeError):
        a.hours["wed"] = ("09:00-18:00",)  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.tz = "UTC"  # type: ignore[misc]
    assert a != dataclasses.replace(a, holidays_country=None)
    assert "Europe/Paris" in repr(a)


def test_calendar_pickles_and_copies() -> None:
    cal = office(
        holidays_country="FR",
        holidays_subdiv="67",
        closed_dates=(date(2026, 1, 2),),
        closed_periods=((at(PARIS, 2026, 1, 5, 10), at(PARIS, 2026, 1, 5, 11)),),
    )
    for clone in (pickle.loads(pickle.dumps(cal)), copy.deepcopy(cal), copy.copy(cal)):
        assert clone == cal
        assert hash(clone) == hash(cal)
        assert business_seconds(clone, at(PARIS, 2026, 1, 1), at(PARIS, 2026, 1, 12)) == 44 * HOUR


def test_mutating_the_input_mapping_does_not_change_the_calendar() -> None:
    hours = {"mon": ("09:00-18:00",)}
    cal = Calendar(tz="Europe/Paris", hours=hours)
    before = business_seconds(cal, at(PARIS, 2026, 1, 5), at(PARIS, 2026, 1, 6))
    hours["mon"] = ("00:00-24:00",)
    assert business_seconds(cal, at(PARIS, 2026, 1, 5), at(PARIS, 2026, 1, 6)) == before == 9 * HOUR


# --------------------------------------------------------------------------------------------
# Properties

ZONES = ("Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC")
HOLIDAYS: dict[str, list[tuple[str, str | None] | None]] = {
    "Europe/Paris": [None, ("FR", None), ("FR", "57")],
    "America/New_York": [None, ("US", None), ("US", "NY")],
    "Asia/Kolkata": [None],
    "Australia/Lord_Howe": [None, ("AU", "NSW")],
    "UTC": [None],
}
LO_US = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
HI_US = int(datetime(2029, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


minutes = st.one_of(st.integers(0, 96).map(lambda q: q * 15), st.integers(0, 1440))
periods = st.tuples(minutes.filter(lambda m: m < 1440), minutes).map(lambda p: f"{_hhmm(p[0])}-{_hhmm(p[1])}")
instants_us = st.integers(LO_US, HI_US)


def _instant(us: int, tz: str) -> datetime:
    return (EPOCH + timedelta(microseconds=us)).astimezone(ZoneInfo(tz))


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    tz = draw(st.sampled_from(ZONES))
    hours = draw(st.dictionaries(st.sampled_from(WEEKDAYS), st.lists(periods, max_size=3).map(tuple)))
    assume(any(hours.values()))
    hol = draw(st.sampled_from(HOLIDAYS[tz]))
    closed_dates = draw(st.lists(st.dates(date(2024, 1, 1), date(2028, 12, 31)), max_size=4).map(tuple))
    closed_periods = []
    for start, length in draw(st.lists(st.tuples(instants_us, st.integers(1, 10 * 86400 * 1_000_000)), max_size=3)):
        closed_periods.append((_instant(start, tz), _instant(start + length, "UTC")))
    return Calendar(
        tz=tz,
        hours=hours,
        holidays_country=hol[0] if hol else None,
        holidays_subdiv=hol[1] if hol else None,
        closed_dates=closed_dates,
        closed_periods=tuple(closed_periods),
    )


PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
"""Each example builds a random calendar's year tables (~35 ms): 200 examples (twice Hypothesis'
default) keep each of the four properties at a few seconds of the suite's time (500 took 15-18 s)."""


@PROPERTY
@given(calendars(), st.lists(instants_us, min_size=3, max_size=3).map(sorted), st.sampled_from(ZONES))
def test_business_seconds_additive_bounded_nonnegative(cal: Calendar, points: list[int], input_tz: str) -> None:
    a, b, c = (_instant(p, input_tz) for p in points)
    ab = business_seconds(cal, a, b)
    bc = business_seconds(cal, b, c)
    ac = business_seconds(cal, a, c)
    assert abs(ac - (ab + bc)) <= 1e-6
    assert 0.0 <= ab <= (b - a).total_seconds()
    assert 0.0 <= ac <= (c - a).total_seconds()
    assert business_seconds(cal, c, a) == 0.0


def _weekly_ms(cal: Calendar) -> int:
    """Open milliseconds in a plain week (no holiday, no DST) of ``cal``."""
    total = 0
    for texts in cal.hours.values():
        for text in texts:
            start, end = (int(t[:2]) * 60 + int(t[3:]) for t in text.split("-"))
            total += (end - start) if end > start else end + 1440 - start
    return total * 60_000


def _targets_ms(cal: Calendar) -> st.SearchStrategy[int]:
    """Targets up to 200 business hours, and at most ~20 plain weeks of this calendar's hours
    (so that sparse calendars do not need centuries of tables)."""
    return st.integers(1, max(1, min(200 * 3_600_000, 20 * _weekly_ms(cal))))


@PROPERTY
@given(calendars(), instants_us, st.data())
def test_deadline_is_the_earliest_inverse(cal: Calendar, start_us: int, data: st.DataObject) -> None:
    start = _instant(start_us, cal.tz)
    target = data.draw(_targets_ms(cal), label="target_ms") / 1000
    due = deadline(cal, start, target)
    assert due.tzinfo is UTC
    assert due > start
    assert abs(business_seconds(cal, start, due) - target) <= 1e-6
    # Earliest: one microsecond earlier the target is not reached, and the calendar was open
    # during that last microsecond (the deadline is inside or at the end of an open period).
    before = due - US
    assert business_seconds(cal, start, before) < target
    assert is_open(cal, before)


@PROPERTY
@given(calendars(), instants_us, st.data())
def test_deadline_is_monotonic_in_target(cal: Calendar, start_us: int, data: st.DataObject) -> None:
    start = _instant(start_us, "UTC")
    t1 = data.draw(_targets_ms(cal), label="t1_ms") / 1000
    t2 = data.draw(_targets_ms(cal), label="t2_ms") / 1000
    low, high = sorted((t1, t2))
    assert deadline(cal, start, low) <= deadline(cal, start, high)
    assert deadline(cal, start, 0) == start


@PROPERTY
@given(calendars(), instants_us)
def test_business_seconds_agrees_with_is_open(cal: Calendar, point: int) -> None:
    # Without closed periods (which have arbitrary microsecond bounds), every open-interval
    # bound is on a whole UTC minute (period bounds are whole local minutes, UTC offsets and DST
    # jumps are whole minutes in these zones): a 30-second window starting on a whole minute is
    # entirely open or entirely closed.
    cal = dataclasses.replace(cal, closed_periods=())
    a = _instant(point - point % 60_000_000, "UTC")
    b = a + timedelta(seconds=30)
    expected = 30.0 if is_open(cal, a) else 0.0
    assert business_seconds(cal, a, b) == expected
    assert is_open(cal, b - US) == is_open(cal, a)


AGES_CALENDARS = (
    office(),
    office("America/New_York", holidays_country="US", holidays_subdiv="NY"),
    every_day("Australia/Lord_Howe", "08:00-12:00", "13:30-17:45"),
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(range(len(AGES_CALENDARS))), st.integers(0, 3), st.integers(0, 40 * 86400)),
        min_size=1,
        max_size=30,
    ),
    st.data(),
)
def test_business_ages_equal_business_seconds_as_now_moves(
    asks: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    """What the metrics snapshot keeps from one refresh to the next gives the very figure
    `business_seconds` gives, whatever the instants, the calendars and the moves of `now` (forward
    mostly, sometimes back), with forgetting between snapshots."""
    ages = BusinessAges()
    base = datetime(2026, 3, 20, tzinfo=UTC)
    sinces = [base + timedelta(hours=17 * i) for i in range(4)]
    now = base
    for calendar_index, since_index, step in asks:
        now += timedelta(seconds=step if data.draw(st.booleans()) else -step // 7)
        cal, since = AGES_CALENDARS[calendar_index], sinces[since_index]
        assert ages.age(cal, since, now) == business_seconds(cal, since, now)
        if data.draw(st.integers(0, 4)) == 0:
            ages.forget_unseen()
