"""Benchmark business-hours calendars: ``business_seconds`` over one-year spans and ``deadline``
with a 40-business-hour target, on a Europe/Paris calendar with French public holidays and split
shifts. Prints median and p99 per call after warm-up; writes nothing else.

Usage: python bench/bench_calendar.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.domain.calendar import Calendar, business_seconds, deadline

PARIS = ZoneInfo("Europe/Paris")
CALENDAR = Calendar(
    tz="Europe/Paris",
    hours=dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), ("09:00-12:00", "14:00-18:00"))
    | {"sat": ("10:00-13:00",)},
    holidays_country="FR",
)
N = 5000
WARMUP = 500


def _starts(n: int) -> list[datetime]:
    """Instants spread over 2026 (every ~105 minutes, odd seconds), Paris time."""
    first = datetime(2026, 1, 1, tzinfo=PARIS)
    return [first + timedelta(seconds=i * 6317 + 7) for i in range(n)]


def _measure(calls: list[Callable[[], object]]) -> tuple[float, float]:
    for call in calls[:WARMUP]:
        call()
    samples: list[int] = []
    for call in calls:
        t0 = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    median = statistics.median(samples) / 1000
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1000
    return median, p99


def main() -> list[tuple[str, str]]:
    starts = _starts(N)
    # Warm the caches of every year involved (tables are built once per calendar and UTC year).
    for start in (starts[0], starts[-1]):
        business_seconds(CALENDAR, start, start + timedelta(days=366))
        deadline(CALENDAR, start, 40 * 3600.0)
    year = timedelta(days=365)
    bs_calls: list[Callable[[], object]] = [partial(business_seconds, CALENDAR, s, s + year) for s in starts]
    dl_calls: list[Callable[[], object]] = [partial(deadline, CALENDAR, s, 40 * 3600.0) for s in starts]
    bs_median, bs_p99 = _measure(bs_calls)
    dl_median, dl_p99 = _measure(dl_calls)
    figures = [
        (
            f"business_seconds, 1-year span (Europe/Paris, FR holidays, split shifts), {N} calls, median / p99",
            f"{bs_median:.1f} µs / {bs_p99:.1f} µs",
        ),
        (
            f"deadline, 40 business hours, same calendar, {N} calls, median / p99",
            f"{dl_median:.1f} µs / {dl_p99:.1f} µs",
        ),
    ]
    # Cold cost: build one year's tables from scratch (fresh calendar, so nothing is cached).
    t0 = time.perf_counter_ns()
    fresh = Calendar(
        tz="Europe/Paris",
        hours=dict(CALENDAR.hours),
        holidays_country="FR",
        closed_dates=(date(2030, 1, 2),),
    )
    business_seconds(fresh, datetime(2031, 1, 2, tzinfo=PARIS), datetime(2031, 12, 1, tzinfo=PARIS))
    cold_ms = (time.perf_counter_ns() - t0) / 1e6
    figures.append(("cold: construct a calendar and build one UTC year's tables", f"{cold_ms:.2f} ms"))
    for name, value in figures:
        print(f"{name}: {value}")
    return figures


if __name__ == "__main__":
    main()
