"""Report periods: local days in a time zone, the period before, clear errors."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest

from monitor.reports.period import Period, PeriodError, parse_period, period_between

# Wednesday 1 April 2026, 00:30 in Paris (still 31 March in UTC).
NOW = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)
PARIS = "Europe/Paris"


@pytest.mark.parametrize(
    ("spec", "kind", "first", "last", "label"),
    [
        ("this-week", "week", date(2026, 3, 30), date(2026, 4, 5), "2026-W14"),
        ("last-week", "week", date(2026, 3, 23), date(2026, 3, 29), "2026-W13"),
        ("this-month", "month", date(2026, 4, 1), date(2026, 4, 30), "2026-04"),
        ("last-month", "month", date(2026, 3, 1), date(2026, 3, 31), "2026-03"),
        ("last-7-days", "days", date(2026, 3, 26), date(2026, 4, 1), "2026-03-26_2026-04-01"),
        ("last-30-days", "days", date(2026, 3, 3), date(2026, 4, 1), "2026-03-03_2026-04-01"),
        ("2026-02", "month", date(2026, 2, 1), date(2026, 2, 28), "2026-02"),
        ("2026-W01", "week", date(2025, 12, 29), date(2026, 1, 4), "2026-W01"),
        (" Last-Week ", "week", date(2026, 3, 23), date(2026, 3, 29), "2026-W13"),
    ],
)
def test_named_periods_are_local_days(spec: str, kind: str, first: date, last: date, label: str) -> None:
    p = parse_period(spec, now=NOW, timezone=PARIS)
    assert (p.kind, p.first_day, p.last_day, p.label) == (kind, first, last, label)


def test_the_same_instant_in_utc_is_the_previous_day() -> None:
    assert parse_period("this-month", now=NOW, timezone="UTC").first_day == date(2026, 3, 1)


def test_instants_follow_the_time_zone_across_the_summer_time_switch() -> None:
    week = parse_period("2026-W13", now=NOW, timezone=PARIS)  # 29 March: clocks go forward
    assert week.start == datetime(2026, 3, 22, 23, 0, tzinfo=UTC)
    assert week.end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert (week.end - week.start).total_seconds() == 7 * 86400 - 3600


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [
        ("2026-W01", date(2025, 12, 22), date(2025, 12, 28)),
        ("2026-01", date(2025, 12, 1), date(2025, 12, 31)),
        ("2026-03", date(2026, 2, 1), date(2026, 2, 28)),
        ("last-7-days", date(2026, 3, 19), date(2026, 3, 25)),
    ],
)
def test_the_previous_period(spec: str, first: date, last: date) -> None:
    previous = parse_period(spec, now=NOW, timezone=PARIS).previous()
    assert (previous.first_day, previous.last_day) == (first, last)


def test_between_dates_and_its_previous() -> None:
    p = period_between(date(2026, 3, 10), date(2026, 3, 19), timezone=PARIS)
    assert p == Period("days", date(2026, 3, 10), date(2026, 3, 19), PARIS) and p.days == 10
    assert (p.previous().first_day, p.previous().last_day) == (date(2026, 2, 28), date(2026, 3, 9))
    one = period_between(date(2026, 3, 10), date(2026, 3, 10), timezone="UTC")
    assert (one.start, one.end) == (datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("2026-13", "there is no month 13"),
        ("2026-00", "there is no month 00"),
        ("2026-W54", "2026 has no ISO week 54"),
        ("yesterday", "unknown period 'yesterday' (expected last-week, last-month"),
        ("", "unknown period ''"),
    ],
)
def test_bad_periods(spec: str, message: str) -> None:
    with pytest.raises(PeriodError) as err:
        parse_period(spec, now=NOW, timezone=PARIS)
    assert message in str(err.value)


def test_bad_time_zone_and_reversed_dates() -> None:
    with pytest.raises(PeriodError, match="unknown time zone 'Mars/Olympus'"):
        parse_period("last-week", now=NOW, timezone="Mars/Olympus")
    with pytest.raises(PeriodError, match=r"--to \(2026-03-01\) is before --from \(2026-03-05\)"):
        period_between(date(2026, 3, 5), date(2026, 3, 1), timezone=PARIS)


def test_local_hours_across_both_summer_time_switches() -> None:
    """The hours the daily chart and the heat map count waits in: local, whatever the offset."""
    spring = Period("days", date(2026, 3, 29), date(2026, 3, 29), PARIS)  # 02:00 does not exist
    starts, days, cells = spring.hours()
    assert len(starts) == 25 and starts[0] == spring.start and starts[-1] == spring.end
    assert starts[2] == starts[3] == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # the skipped hour is empty
    assert all(a <= b for a, b in itertools.pairwise(starts))
    assert set(days) == {0} and cells == [6 * 24 + h for h in range(24)]  # a Sunday
    autumn = Period("days", date(2026, 10, 25), date(2026, 10, 25), PARIS)  # 02:00 happens twice
    starts, _, _ = autumn.hours()
    assert (starts[3] - starts[2]).total_seconds() == 7200 and (autumn.end - autumn.start).total_seconds() == 25 * 3600
    week = Period("week", date(2026, 3, 2), date(2026, 3, 8), "Asia/Kolkata")  # +05:30
    starts, days, cells = week.hours()
    assert starts[0] == datetime(2026, 3, 1, 18, 30, tzinfo=UTC) and days[-1] == 6 and cells[25] == 1 * 24 + 1
