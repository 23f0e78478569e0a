"""Report periods: whole local days in a time zone, and the period each one is compared with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PeriodKind = Literal["week", "month", "days"]

NAMED = ("last-week", "last-month", "this-week", "this-month", "last-7-days", "last-30-days")
PERIOD_HELP = "last-week, last-month, this-week, this-month, last-7-days, last-30-days, YYYY-MM or YYYY-Www"
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$", re.IGNORECASE)


class PeriodError(ValueError):
    """A period that cannot be understood, with a message for the user."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or a PeriodError saying it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PeriodError(f"unknown time zone {name!r} (expected an IANA name such as Europe/Paris)") from None


@dataclass(frozen=True)
class Period:
    """Local days `first_day`..`last_day` (inclusive) in `timezone`: the instants [start, end)."""

    kind: PeriodKind
    first_day: date
    last_day: date
    timezone: str

    @property
    def start(self) -> datetime:
        return _midnight(self.first_day, self.timezone)

    @property
    def end(self) -> datetime:
        return _midnight(self.last_day + timedelta(days=1), self.timezone)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def label(self) -> str:
        """A short name for files: 2026-W13, 2026-03, 2026-03-02_2026-03-15."""
        if self.kind == "week":
            year, week, _ = self.first_day.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.first_day.year}-{self.first_day.month:02d}"
        return f"{self.first_day.isoformat()}_{self.last_day.isoformat()}"

    def hours(self) -> tuple[list[datetime], list[int], list[int]]:
        """Each local hour: its start (UTC; a skipped hour starts where the next one does), then the
        period's end; for each hour, its day's index in the period and its weekday * 24 + hour."""
        tz = zone(self.timezone)
        starts, days, cells = [], [], []
        for i in range(self.days):
            day = self.first_day + timedelta(days=i)
            for hour in range(24):
                starts.append(datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC))
                days.append(i)
                cells.append(day.weekday() * 24 + hour)
        starts.append(self.end)
        for k in range(len(starts) - 2, -1, -1):  # a skipped hour (clocks forward) must not go back in time
            starts[k] = min(starts[k], starts[k + 1])
        return starts, days, cells

    def previous(self) -> Period:
        """The period this one is compared with: the week, month or as many days just before."""
        if self.kind == "month":
            last = self.first_day - timedelta(days=1)
            return Period("month", last.replace(day=1), last, self.timezone)
        return Period(
            self.kind, self.first_day - timedelta(days=self.days), self.first_day - timedelta(days=1), self.timezone
        )


def _midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone(tz)).astimezone(UTC)


def _month(year: int, month: int, tz: str) -> Period:
    first = date(year, month, 1)
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return Period("month", first, nxt - timedelta(days=1), tz)


def _week(monday: date, tz: str) -> Period:
    return Period("week", monday, monday + timedelta(days=6), tz)


def parse_period(spec: str, *, now: datetime, timezone: str) -> Period:
    """`last-week`, `2026-03`, `2026-W13`… as local days in `timezone`, relative to `now`."""
    zone(timezone)
    today = now.astimezone(zone(timezone)).date()
    text = spec.strip().lower()
    monday = today - timedelta(days=today.weekday())
    if text == "this-week":
        return _week(monday, timezone)
    if text == "last-week":
        return _week(monday - timedelta(days=7), timezone)
    if text == "this-month":
        return _month(today.year, today.month, timezone)
    if text == "last-month":
        last = today.replace(day=1) - timedelta(days=1)
        return _month(last.year, last.month, timezone)
    if text in ("last-7-days", "last-30-days"):
        n = 7 if text == "last-7-days" else 30
        return Period("days", today - timedelta(days=n - 1), today, timezone)
    if m := _MONTH.match(text):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise PeriodError(f"{spec!r}: there is no month {month:02d}")
        return _month(year, month, timezone)
    if m := _WEEK.match(spec.strip()):
        year, week = int(m.group(1)), int(m.group(2))
        try:
            return _week(date.fromisocalendar(year, week, 1), timezone)
        except ValueError:
            raise PeriodError(f"{spec!r}: {year} has no ISO week {week}") from None
    raise PeriodError(f"unknown period {spec!r} (expected {PERIOD_HELP})")


def period_between(first_day: date, last_day: date, *, timezone: str) -> Period:
    """The local days `first_day`..`last_day`, both included."""
    zone(timezone)
    if last_day < first_day:
        raise PeriodError(f"--to ({last_day}) is before --from ({first_day})")
    if (last_day - first_day).days > 3660:
        raise PeriodError("a report covers at most ten years")
    return Period("days", first_day, last_day, timezone)
