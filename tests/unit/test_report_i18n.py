"""Report words and number formats, French and English."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from monitor.domain.model import CHANNEL_NAMES, CHANNELS
from monitor.reports.charts import CHANNEL_COLORS
from monitor.reports.i18n import MINUS, NBSP, NNBSP, Words, french_spacing
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
    # Nothing to compare with: nothing is said (not a grey dash under every figure).
    assert EN.relative_change(5, 0) == EN.relative_change(None, 3) == ""
    assert EN.points_change(0.52, 0.5) == f"+2.0{NNBSP}pts" and FR.points_change(0.5, 0.52) == f"{MINUS}2,0{NNBSP}pts"
    assert EN.points_change(None, 0.5) == ""


def test_dates_and_periods() -> None:
    tz = "Europe/Paris"
    assert FR.period(Period("week", date(2026, 3, 2), date(2026, 3, 8), tz)) == "2–8 mars 2026"
    assert EN.period(Period("week", date(2026, 3, 30), date(2026, 4, 5), tz)) == "30 March – 5 April 2026"
    assert FR.period(Period("days", date(2026, 3, 1), date(2026, 3, 8), tz)) == "1er–8 mars 2026"
    assert EN.period(Period("days", date(2025, 12, 29), date(2026, 1, 4), tz)) == "29 December 2025 – 4 January 2026"
    assert FR.period(Period("month", date(2026, 8, 1), date(2026, 8, 31), tz)) == "août 2026"
    assert FR.instant(datetime(2026, 3, 9, 9, 0, tzinfo=UTC), tz) == "9 mars 2026 à 10:00 (Europe/Paris)"
    # Table dates name the month: "12-05" reads as 12 May to a European, 5 December to others.
    assert EN.timestamp(datetime(2026, 12, 5, 5, 1, tzinfo=UTC), tz) == f"5{NBSP}Dec 06:01"
    assert FR.timestamp(datetime(2026, 12, 5, 5, 1, tzinfo=UTC), tz) == f"5{NBSP}déc. 06:01"
    assert FR.short_day(date(2026, 3, 2)) == f"2{NBSP}mars" and EN.short_day(date(2026, 3, 2)) == f"2{NBSP}Mar"


def test_french_spacing_before_two_part_punctuation() -> None:
    assert (
        french_spacing("objectifs: public ; privé? oui!")
        == f"objectifs{NBSP}: public{NNBSP}; privé{NNBSP}? oui{NNBSP}!"
    )
    assert french_spacing("à 09:00, https://example.com (?)") == "à 09:00, https://example.com (?)"
    for paragraph in FR.methodology():
        assert not re.search(r"[^\u00a0\u202f][:;?!](\s|$)", paragraph), paragraph
    assert FR("no_previous").startswith("Aucune donnée") and f"{NBSP}:" in FR("no_previous")


def test_weekly_hours_group_days_with_the_same_periods() -> None:
    week = {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": ["10:00-12:00", "14:00-16:00"]}
    assert EN.weekly_hours(week) == "Mon–Fri 09:00–18:00, Sat 10:00–12:00 14:00–16:00"
    assert FR.weekly_hours({"mon": ["09:00-12:00"], "wed": ["09:00-12:00"]}) == "lun. 09:00–12:00, mer. 09:00–12:00"


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


def test_every_channel_has_a_name_and_a_colour() -> None:
    """No channel list of the reports can leave one out (monitor.domain.model.CHANNELS)."""
    assert set(CHANNEL_NAMES) == set(CHANNELS) == set(CHANNEL_COLORS)
    assert [Words(lang).channel("instagram") for lang in ("fr", "en")] == ["Instagram", "Instagram"]
