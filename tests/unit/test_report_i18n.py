"""Report words and number formats, French and English."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from monitor.reports.i18n import MINUS, NBSP, NNBSP, Words
from monitor.reports.period import Period

FR, EN = Words("fr"), Words("en")


def test_numbers() -> None:
    assert FR.integer(1234567) == f"1{NNBSP}234{NNBSP}567" and EN.integer(1234567) == "1,234,567"
    assert FR.percent(0.4837) == f"48,4{NNBSP}%" and EN.percent(0.4837) == "48.4%"
    assert FR.percent(None) == EN.percent(None) == "–"
    assert EN.decimal(-0.04) == "0.0" and EN.decimal(-1.25, 2) == f"{MINUS}1.25"


@pytest.mark.parametrize(
    ("seconds", "fr", "en"),
    [
        (42, f"42{NNBSP}s", f"42{NNBSP}s"),
        (59.6, f"1{NNBSP}min", f"1{NNBSP}min"),
        (1190, f"19{NNBSP}min", f"19{NNBSP}min"),
        (3600 * 9 + 300, f"9{NNBSP}h{NNBSP}05", f"9h{NBSP}05m"),
        (86400 * 2 + 3 * 3600 + 59, f"2{NNBSP}j{NNBSP}3{NNBSP}h", f"2d{NBSP}3h"),
        (None, "–", "–"),
    ],
)
def test_durations(seconds: float | None, fr: str, en: str) -> None:
    assert (FR.duration(seconds), EN.duration(seconds)) == (fr, en)


def test_changes() -> None:
    assert EN.relative_change(120, 100) == "+20%" and FR.relative_change(80, 100) == f"{MINUS}20{NNBSP}%"
    assert EN.relative_change(100.2, 100) == "0%"  # rounds to nothing: no sign
    assert EN.relative_change(5, 0) == EN.relative_change(None, 3) == "–"
    assert EN.points_change(0.52, 0.5) == f"+2.0{NNBSP}pts" and FR.points_change(0.5, 0.52) == f"{MINUS}2,0{NNBSP}pts"
    assert EN.points_change(None, 0.5) == "–"


def test_dates_and_periods() -> None:
    tz = "Europe/Paris"
    assert FR.period(Period("week", date(2026, 3, 2), date(2026, 3, 8), tz)) == "2–8 mars 2026"
    assert EN.period(Period("week", date(2026, 3, 30), date(2026, 4, 5), tz)) == "30 March – 5 April 2026"
    assert FR.period(Period("days", date(2026, 3, 1), date(2026, 3, 8), tz)) == "1er–8 mars 2026"
    assert EN.period(Period("days", date(2025, 12, 29), date(2026, 1, 4), tz)) == "29 December 2025 – 4 January 2026"
    assert FR.period(Period("month", date(2026, 8, 1), date(2026, 8, 31), tz)) == "août 2026"
    assert FR.instant(datetime(2026, 3, 9, 9, 0, tzinfo=UTC), tz) == "9 mars 2026 à 10:00 (Europe/Paris)"
    assert EN.timestamp(datetime(2026, 3, 9, 9, 0, tzinfo=UTC), tz) == "03-09 10:00"


def test_bucket_labels() -> None:
    assert FR.bucket(0, 300) == f"< 5{NNBSP}min"
    assert EN.bucket(300, 900) == f"5–15{NNBSP}min"
    assert EN.bucket(1800, 3600) == f"30{NNBSP}min–1{NNBSP}h"
    assert FR.bucket(28800, 86400) == f"8{NNBSP}h–1{NNBSP}j"
    assert EN.bucket(86400, None) == f"> 1{NNBSP}d"


def test_every_word_exists_in_both_languages() -> None:
    from monitor.reports.i18n import _STRINGS

    assert all(set(v) == {"fr", "en"} and all(v.values()) for v in _STRINGS.values())
    assert len(FR.methodology()) == len(EN.methodology())
