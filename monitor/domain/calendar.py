"""Business-hours calendars: how many business seconds lie between two instants, and when a
business-seconds target is reached.

Pure domain code: no I/O, no clock. All instants are timezone-aware ``datetime`` objects; naive
ones are rejected with ``ValueError``.

Semantics
---------
* A calendar has weekly opening hours in its own time zone: for each weekday (``"mon"`` ..
  ``"sun"``) any number of periods ``"HH:MM-HH:MM"`` in local wall-clock time. A period whose end
  is not after its start crosses midnight (``"22:00-06:00"`` runs from 22:00 into 06:00 of the
  next day; ``"09:00-09:00"`` is 24 hours); ``"00:00-24:00"`` is the whole day. Overlapping
  periods (e.g. an overnight period running into the next day's morning period) are merged, never
  counted twice.
* A period belongs to the local day it **starts** on. A public holiday (``holidays`` package,
  country and optional subdivision) or an extra closed date closes the periods that start on
  that date, whole. So an overnight shift that starts on the eve of a holiday still runs into the
  holiday morning, and the overnight shift starting on the holiday evening does not run at all.
  ``closed_periods`` are removed as exact instants, whatever the weekly hours.
* Period bounds are local wall-clock times, converted to UTC with ``zoneinfo`` for the actual
  date, so a period follows DST: 09:00-18:00 is always 9 real hours; 22:00-06:00 is 7 real hours
  across a spring-forward night and 9 across a fall-back night (in Europe/Paris). A bound that
  does not exist (in a spring-forward gap) maps forward to the first existing instant, i.e. the
  moment the clocks jump (02:30 on 2026-03-29 in Paris is 03:00 CEST). An ambiguous bound (in a
  fall-back fold) is read with ``fold=0``, i.e. its first occurrence (02:30 on 2026-10-25 in Paris
  is 02:30 CEST).
* Results are exact: everything is computed in integer microseconds and converted to float
  seconds once, at the end.

Performance
-----------
The open intervals of each local day are cached (``lru_cache`` on ``(calendar, date)``), and
assembled into per-UTC-year tables of merged open intervals with prefix sums (also cached), so
``business_seconds``, ``deadline`` and ``is_open`` cost a few binary searches per UTC year
spanned once the tables of the years involved are built.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["ALWAYS_OPEN", "WEEKDAYS", "Calendar", "business_seconds", "deadline", "is_open"]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_US = timedelta(microseconds=1)
_SECOND_US = 1_000_000
_MINUTE_US = 60 * _SECOND_US
_DAY_US = 86_400 * _SECOND_US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORD = date(1970, 1, 1).toordinal()
_PERIOD_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
# deadline() gives up after this many consecutive UTC years without any open time.
_MAX_EMPTY_YEARS = 3

# Subdivision codes people naturally write that the `holidays` package spells differently.
# Bas-Rhin (67) and Haut-Rhin (68) are Alsace, "6AE" in `holidays`.
_SUBDIV_ALIASES: dict[tuple[str, str], str] = {("FR", "67"): "6AE", ("FR", "68"): "6AE"}

# A parsed period: (start minute, end minute) from local midnight of the day it starts on;
# end > start, end <= start + 1440 (so at most 2880).
_Period = tuple[int, int]
_Interval = tuple[int, int]  # [start, end) in UTC microseconds since the epoch


class _FrozenHours(Mapping[str, tuple[str, ...]]):
    """Read-only, hashable weekday -> periods mapping, in weekday order."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Iterable[tuple[str, tuple[str, ...]]]) -> None:
        self._items: tuple[tuple[str, tuple[str, ...]], ...] = tuple(items)
        self._hash = hash(self._items)

    def __getitem__(self, key: str) -> tuple[str, ...]:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _FrozenHours):
            return self._items == other._items
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return repr(dict(self._items))


def _parse_hhmm(hh: str, mm: str, *, is_end: bool) -> int | None:
    h, m = int(hh), int(mm)
    if m > 59:
        return None
    if h == 24 and m == 0 and is_end:
        return 1440
    if h > 23:
        return None
    return h * 60 + m


def _parse_period(text: str) -> _Period:
    match = _PERIOD_RE.match(text)
    if match is None:
        raise ValueError(f"invalid opening period {text!r}: expected 'HH:MM-HH:MM'")
    start = _parse_hhmm(match[1], match[2], is_end=False)
    end = _parse_hhmm(match[3], match[4], is_end=True)
    if start is None or end is None:
        raise ValueError(f"invalid opening period {text!r}: hours 00-23 (24:00 only as an end), minutes 00-59")
    if end <= start:  # crosses midnight into the next day
        end += 1440
    return start, end


def _validate_aware(value: Any, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive datetime {value.isoformat()}")
    return value


def _to_us(value: datetime) -> int:
    return (value - _EPOCH) // _US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True)
class Calendar:
    """Business hours: a time zone, weekly opening periods, holidays and extra closures.

    ``hours`` maps a weekday (``"mon"`` .. ``"sun"``, case-insensitive; missing days are closed)
    to periods ``"HH:MM-HH:MM"`` in local time; a period whose end is not after its start crosses
    midnight, ``"00:00-24:00"`` is a whole day. A period belongs to the local day it starts on:
    a holiday or a ``closed_dates`` entry closes the periods that START on that date, so an
    overnight shift starting on the eve of a holiday still runs into the holiday morning.
    Local bounds inside a DST gap map forward to the moment the clocks jump; ambiguous ones use
    ``fold=0`` (first occurrence). See the module docstring for the full semantics.

    Validated at construction (``ValueError`` naming the offending value). Hashable and
    comparable: ``hours`` is frozen into a read-only mapping, ``closed_dates`` and
    ``closed_periods`` into sorted tuples.
    """

    tz: str
    hours: Mapping[str, tuple[str, ...]]
    holidays_country: str | None = None
    holidays_subdiv: str | None = None
    closed_dates: tuple[date, ...] = ()
    closed_periods: tuple[tuple[datetime, datetime], ...] = ()

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__

        # Time zone.
        if not isinstance(self.tz, str) or not self.tz:
            raise ValueError(f"unknown time zone {self.tz!r}")
        try:
            zone = ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown time zone {self.tz!r}") from exc

        # Weekly hours.
        if not isinstance(self.hours, Mapping):
            raise ValueError(f"hours must be a mapping weekday -> periods, got {self.hours!r}")
        by_day: dict[str, tuple[str, ...]] = {}
        for key, value in self.hours.items():
            day = key.strip().lower() if isinstance(key, str) else key
            if day not in WEEKDAYS:
                raise ValueError(f"invalid weekday {key!r}: expected one of {', '.join(WEEKDAYS)}")
            if day in by_day:
                raise ValueError(f"weekday {key!r} given twice")
            texts = (value,) if isinstance(value, str) else tuple(value)
            for text in texts:
                if not isinstance(text, str):
                    raise ValueError(f"invalid opening period {text!r} for {key!r}")
            by_day[day] = texts
        week = [tuple(sorted({_parse_period(t) for t in by_day.get(day, ())})) for day in WEEKDAYS]
        setattr_(self, "hours", _FrozenHours((d, by_day[d]) for d in WEEKDAYS if d in by_day))

        # Holidays.
        subdiv: str | None = None
        if self.holidays_country is None:
            if self.holidays_subdiv is not None:
                raise ValueError(f"holidays subdivision {self.holidays_subdiv!r} given without a country")
        else:
            if not isinstance(self.holidays_country, str):
                raise ValueError(f"unknown holidays country {self.holidays_country!r}")
            if self.holidays_subdiv is not None:
                subdiv = _SUBDIV_ALIASES.get((self.holidays_country, self.holidays_subdiv), self.holidays_subdiv)
            try:
                _country_holidays(self.holidays_country, years=())
            except (NotImplementedError, KeyError, ValueError) as exc:
                raise ValueError(f"unknown holidays country {self.holidays_country!r}") from exc
            if subdiv is not None:
                try:
                    _country_holidays(self.holidays_country, subdiv=subdiv, years=())
                except (NotImplementedError, KeyError, ValueError) as exc:
                    raise ValueError(
                        f"unknown holidays subdivision {self.holidays_subdiv!r} for country {self.holidays_country!r}"
                    ) from exc

        # Extra closed dates.
        dates = tuple(self.closed_dates)
        for d in dates:
            if isinstance(d, datetime) or not isinstance(d, date):
                raise ValueError(f"closed date {d!r} must be a date (not a datetime)")
        dates = tuple(sorted(set(dates)))
        setattr_(self, "closed_dates", dates)

        # Extra closed periods.
        periods: list[tuple[datetime, datetime]] = []
        for item in self.closed_periods:
            try:
                lo, hi = item
            except (TypeError, ValueError) as exc:
                raise ValueError(f"closed period {item!r} must be a (start, end) pair") from exc
            try:
                _validate_aware(lo, "closed period start")
                _validate_aware(hi, "closed period end")
            except TypeError as exc:
                raise ValueError(f"closed period {item!r}: {exc}") from exc
            if hi <= lo:
                raise ValueError(f"closed period {item!r} ends before it starts")
            periods.append((lo, hi))
        periods.sort()
        setattr_(self, "closed_periods", tuple(periods))
        identity = (
            self.tz,
            self.hours,
            self.holidays_country,
            self.holidays_subdiv,
            self.closed_dates,
            self.closed_periods,
        )
        # Derived state lives outside the dataclass fields (so fields(), asdict(), replace(),
        # == and repr only see the six public fields).
        setattr_(
            self,
            "_compiled",
            _Compiled(
                zone=zone,
                week=tuple(week),
                subdiv=subdiv,
                closed_dates=frozenset(dates),
                closed_us=_merge([(_to_us(lo), _to_us(hi)) for lo, hi in periods]),
                hash=hash(identity),
            ),
        )

    def __hash__(self) -> int:
        return _compiled(self).hash

    def __reduce__(self) -> tuple[type[Calendar], tuple[Any, ...]]:
        # Rebuild through __init__ (validation, derived state, and a hash that is valid in the
        # unpickling process: str hashes are randomised per process).
        return (
            type(self),
            (
                self.tz,
                dict(self.hours),
                self.holidays_country,
                self.holidays_subdiv,
                self.closed_dates,
                self.closed_periods,
            ),
        )

    @property
    def has_hours(self) -> bool:
        """Whether any weekday has an opening period at all."""
        return any(_compiled(self).week)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """What ``Calendar.__post_init__`` derives from the public fields."""

    zone: ZoneInfo
    week: tuple[tuple[_Period, ...], ...]  # index 0 = Monday
    subdiv: str | None  # holidays subdivision after aliasing
    closed_dates: frozenset[date]
    closed_us: tuple[_Interval, ...]  # closed_periods, merged, UTC microseconds
    hash: int


def _compiled(calendar: Calendar) -> _Compiled:
    return cast(_Compiled, calendar.__dict__["_compiled"])


# ---------------------------------------------------------------------------------------------
# Per-day open intervals


def _merge(intervals: list[_Interval]) -> tuple[_Interval, ...]:
    """Sort and merge overlapping or touching intervals, dropping empty ones."""
    out: list[_Interval] = []
    for lo, hi in sorted(intervals):
        if hi <= lo:
            continue
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def _offset_us_at(zone: ZoneInfo, utc_us: int) -> int:
    offset = _from_us(utc_us).astimezone(zone).utcoffset()
    assert offset is not None
    return offset // _US


def _local_to_utc_us(zone: ZoneInfo, day: date, minute: int) -> int:
    """UTC microseconds of local wall time ``day + minute``: gap -> forward, fold -> fold=0."""
    ordinal = day.toordinal() + minute // 1440
    hour, minute_of_hour = divmod(minute % 1440, 60)
    wall = date.fromordinal(ordinal)
    off0 = datetime(wall.year, wall.month, wall.day, hour, minute_of_hour, tzinfo=zone).utcoffset()
    off1 = datetime(wall.year, wall.month, wall.day, hour, minute_of_hour, fold=1, tzinfo=zone).utcoffset()
    assert off0 is not None and off1 is not None
    local_us = (ordinal - _EPOCH_ORD) * _DAY_US + (hour * 60 + minute_of_hour) * _MINUTE_US
    if off0 >= off1:  # regular time (equal) or ambiguous fold (fold=0: first occurrence)
        return local_us - off0 // _US
    # In a gap: fold=1 reads it with the offset after the jump (an instant before the jump),
    # fold=0 with the offset before it (an instant after). Find the jump itself.
    after_us = off1 // _US
    lo, hi = local_us - after_us, local_us - off0 // _US
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset_us_at(zone, mid) == after_us:
            hi = mid
        else:
            lo = mid
    return hi


def _country_holidays(country: str, *, subdiv: str | None = None, years: int | tuple[()]) -> Mapping[date, str]:
    """The `holidays` library's calendar of a country: imported on first use, so that a process
    whose calendars name no country never loads it (8 MB resident, every country's rules)."""
    import holidays

    result: Mapping[date, str] = holidays.country_holidays(country, subdiv=subdiv, years=years)
    return result


@lru_cache(maxsize=1 << 16)
def _holiday_dates(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    return frozenset(_country_holidays(country, subdiv=subdiv, years=year).keys())


def _is_closed_date(calendar: Calendar, day: date) -> bool:
    compiled = _compiled(calendar)
    if day in compiled.closed_dates:
        return True
    if calendar.holidays_country is None:
        return False
    return day in _holiday_dates(calendar.holidays_country, compiled.subdiv, day.year)


@lru_cache(maxsize=1 << 14)
def _day_intervals(calendar: Calendar, day: date) -> tuple[_Interval, ...]:
    """Open intervals (UTC microseconds) of the periods starting on local date ``day``.

    Holidays and closed dates are applied; ``closed_periods`` are not (see ``_year_table``).
    """
    compiled = _compiled(calendar)
    periods = compiled.week[day.weekday()]
    if not periods or _is_closed_date(calendar, day):
        return ()
    zone = compiled.zone
    return tuple((_local_to_utc_us(zone, day, start), _local_to_utc_us(zone, day, end)) for start, end in periods)


# ---------------------------------------------------------------------------------------------
# Per-UTC-year tables with prefix sums


def _year_start_us(year: int) -> int:
    if year > date.max.year:
        return (date.max.toordinal() + 1 - _EPOCH_ORD) * _DAY_US
    return (date(year, 1, 1).toordinal() - _EPOCH_ORD) * _DAY_US


def _utc_year(us: int) -> int:
    return _from_us(us).year


@dataclass(frozen=True, slots=True)
class _YearTable:
    """Merged open intervals clipped to one UTC year [lo, hi), with cumulative sums."""

    lo: int
    hi: int
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    cum_before: tuple[int, ...]  # open microseconds in [lo, starts[i])
    cum_after: tuple[int, ...]  # open microseconds in [lo, ends[i])
    total: int

    def elapsed(self, at: int) -> int:
        """Open microseconds in [lo, at), for lo <= at <= hi."""
        i = bisect_right(self.starts, at) - 1
        if i < 0:
            return 0
        return self.cum_before[i] + min(at, self.ends[i]) - self.starts[i]

    def instant(self, goal: int) -> int:
        """Earliest instant with ``elapsed(instant) == goal``, for 0 < goal <= total."""
        i = bisect_left(self.cum_after, goal)
        return self.ends[i] - (self.cum_after[i] - goal)

    def is_open(self, at: int) -> bool:
        i = bisect_right(self.starts, at) - 1
        return i >= 0 and at < self.ends[i]


def _subtract(intervals: tuple[_Interval, ...], closed: tuple[_Interval, ...]) -> list[_Interval]:
    """``intervals`` minus ``closed``; both sorted, merged."""
    out: list[_Interval] = []
    j = 0
    for lo, hi in intervals:
        while j < len(closed) and closed[j][1] <= lo:
            j += 1
        k = j
        cur = lo
        while k < len(closed) and closed[k][0] < hi:
            c_lo, c_hi = closed[k]
            if c_lo > cur:
                out.append((cur, c_lo))
            cur = max(cur, c_hi)
            k += 1
        if cur < hi:
            out.append((cur, hi))
    return out


@lru_cache(maxsize=1024)
def _year_table(calendar: Calendar, year: int) -> _YearTable:
    lo, hi = _year_start_us(year), _year_start_us(year + 1)
    # A period starting on local date d lies within [d - 14 h, d + 48 h + 12 h] in UTC: a few
    # days of margin on each side cover every zone offset.
    first = max(date.min.toordinal(), date(year, 1, 1).toordinal() - 3)
    last = min(date.max.toordinal() - 2, date(min(year, date.max.year), 12, 31).toordinal() + 3)
    raw: list[_Interval] = []
    for ordinal in range(first, last + 1):
        raw.extend(_day_intervals(calendar, date.fromordinal(ordinal)))
    merged = _merge([(max(a, lo), min(b, hi)) for a, b in raw if b > lo and a < hi])
    closed = _compiled(calendar).closed_us
    if closed:
        opened = _subtract(merged, closed)
    else:
        opened = list(merged)
    starts: list[int] = []
    ends: list[int] = []
    cum_before: list[int] = []
    cum_after: list[int] = []
    total = 0
    for a, b in opened:
        starts.append(a)
        ends.append(b)
        cum_before.append(total)
        total += b - a
        cum_after.append(total)
    return _YearTable(lo, hi, tuple(starts), tuple(ends), tuple(cum_before), tuple(cum_after), total)


# ---------------------------------------------------------------------------------------------
# Public API


def business_seconds(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Open (business) seconds of ``calendar`` in [start, end); 0.0 when end <= start."""
    s = _to_us(_validate_aware(start, "start"))
    e = _to_us(_validate_aware(end, "end"))
    return _business_us(calendar, s, e) / _SECOND_US


class BusinessAges:
    """Business seconds from many instants to a `now` that moves forward (the age of each
    account's oldest open wait, at every metrics snapshot), the same figure as `business_seconds`:
    each instant's open time up to the last `now` is kept, so a snapshot walks the calendar once
    per calendar (from the last `now` to this one) instead of once per account. Exact: open time
    is additive, and counted in whole microseconds."""

    def __init__(self) -> None:
        self._calendars: dict[Calendar, tuple[dict[datetime, tuple[int, int, int]], dict[int, int]]] = {}
        """calendar -> (since -> (up to, open microseconds in [since, up to), generation asked in),
        up to -> open microseconds in [up to, now)); instants in UTC microseconds."""
        self._generation = 0
        self._now: datetime | None = None
        self._now_us = 0

    def age(self, calendar: Calendar, since: datetime, now: datetime) -> float:
        """`business_seconds(calendar, since, now)`."""
        if now is not self._now:
            self._now, self._now_us = now, _to_us(_validate_aware(now, "now"))
            for _, steps in self._calendars.values():
                steps.clear()
        e = self._now_us
        known = self._calendars.get(calendar)
        if known is None:
            known = self._calendars[calendar] = ({}, {})
        sinces, steps = known
        entry = sinces.get(since)
        if entry is not None and entry[0] <= e:
            upto, before, _ = entry
            step = steps.get(upto)
            if step is None:
                step = steps[upto] = _business_us(calendar, upto, e)
            total = before + step
        else:
            s = _to_us(_validate_aware(since, "since"))
            total = _business_us(calendar, s, e)
            upto = s  # open time before `since` never counts
        sinces[since] = (max(upto, e), total, self._generation)
        return total / _SECOND_US

    def forget_unseen(self) -> None:
        """Keep only the instants asked about since the last call (a full snapshot's): bounded by
        the open waits' accounts and kinds."""
        generation = self._generation
        self._calendars = {
            calendar: (kept, {})
            for calendar, (sinces, _) in self._calendars.items()
            if (kept := {k: v for k, v in sinces.items() if v[2] == generation})
        }
        self._generation += 1


def _business_us(calendar: Calendar, s: int, e: int) -> int:
    """Open microseconds of ``calendar`` in [s, e) (UTC microseconds since the epoch)."""
    if e <= s:
        return 0
    total = 0
    for year in range(_utc_year(s), _utc_year(e) + 1):
        table = _year_table(calendar, year)
        a = max(s, table.lo)
        b = min(e, table.hi)
        if a == table.lo and b == table.hi:
            total += table.total
        elif b > a:
            total += table.elapsed(b) - table.elapsed(a)
    return total


def deadline(calendar: Calendar, start: datetime, target: float) -> datetime:
    """Earliest instant (aware, UTC) at which ``target`` business seconds have elapsed since
    ``start``, to the microsecond (the target is rounded to the nearest microsecond).

    For a positive target the result lies inside an open period or at its end (never padded to
    the next opening). A zero target returns ``start``. Raises ``ValueError`` for a negative or
    non-finite target, or when the calendar has no open time in the rest of the start's UTC year
    and the three following years (or no opening hours at all).
    """
    s = _to_us(_validate_aware(start, "start"))
    if not math.isfinite(target) or target < 0:
        raise ValueError(f"target must be a finite number of seconds >= 0, got {target!r}")
    remaining = round(target * _SECOND_US)
    if remaining == 0:
        return _from_us(s)
    if not calendar.has_hours:
        raise ValueError(f"calendar has no opening hours, deadline never reached: {calendar!r}")
    year = _utc_year(s)
    pos = s
    empty_years = 0
    while year <= date.max.year:
        table = _year_table(calendar, year)
        done = table.elapsed(pos)
        available = table.total - done
        if remaining <= available:
            return _from_us(table.instant(done + remaining))
        remaining -= available
        if available == 0:
            empty_years += 1
            if empty_years > _MAX_EMPTY_YEARS:
                break
        else:
            empty_years = 0
        year += 1
        pos = table.hi
    if year > date.max.year:
        raise ValueError(f"deadline for target {target!r} from {start.isoformat()} is past year 9999")
    raise ValueError(
        f"calendar has no open time for {_MAX_EMPTY_YEARS} years after {start.isoformat()}, "
        f"deadline never reached: {calendar!r}"
    )


def is_open(calendar: Calendar, at: datetime) -> bool:
    """Whether ``calendar`` is open at instant ``at`` (periods are half-open [start, end))."""
    x = _to_us(_validate_aware(at, "at"))
    return _year_table(calendar, _utc_year(x)).is_open(x)


#: Round the clock, every day, no holidays.
ALWAYS_OPEN: Calendar = Calendar(tz="UTC", hours=dict.fromkeys(WEEKDAYS, ("00:00-24:00",)))
