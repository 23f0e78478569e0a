"""Scheduled-report configuration: valid tables, every problem with its location."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.config import ConfigError, parse
from monitor.reports.schedule import latest_occurrence, next_occurrence
from monitor.reports.settings import secret_problems

BASE: dict[str, Any] = {
    "policies": {"default": {"public": {"first": "30m", "next": "1h"}, "private": {"first": "1h", "next": "2h"}}},
    "brands": [{"name": "b", "accounts": [{"name": "a", "channel": "x", "user_id": "1", "source": "demo"}]}],
}
GOOD = {
    "name": "weekly",
    "cron": "0 8 * * mon",
    "timezone": "Europe/Paris",
    "period": "last-week",
    "formats": ["pdf", "csv", "pdf"],
    "language": "fr",
    "directory": {"path": "/tmp/reports"},
    "slack": {"webhook_url_env": "SLACK_URL"},
    "email": {
        "host": "smtp.example.com",
        "from": "sla@example.com",
        "to": ["boss@example.com"],
        "password_env": "SMTP_PASSWORD",
        "username": "sla",
    },
}


SECRETS = {"SLACK_URL": "https://hooks.slack.test/x", "SMTP_PASSWORD": "pw"}  # check-config asks for them


def test_a_schedule_with_every_delivery() -> None:
    config = parse({**BASE, "reports": [GOOD]}, environ=SECRETS)
    [s] = config.reports
    assert s.formats == ["pdf", "csv"] and s.hours == "wall" and s.brands == []  # wall time by default
    assert s.email is not None and s.email.sender == "sla@example.com" and s.email.port == 587
    assert s.email.security == "starttls"
    assert parse(BASE, environ={}).reports == []


def problems(report: dict[str, Any], *more: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse({**BASE, "reports": [report, *more]}, environ={})
    return [str(p) for p in err.value.problems]


def test_every_problem_has_its_location() -> None:
    found = problems(
        {
            "name": "Weekly!",
            "cron": "at eight",
            "timezone": "Mars/Olympus",
            "period": "2026-03",
            "formats": ["docx"],
            "language": "de",
            "hours": "office",
            "email": {"host": "", "port": 0, "from": "not-an-address", "to": [], "security": "ssl"},
            "teams": {},
        }
    )
    text = "\n".join(found)
    for location in (
        "reports[0].name",
        "reports[0].cron: 'at eight' is not a five-field cron expression",
        "reports[0].timezone: unknown time zone 'Mars/Olympus'",
        "reports[0].period",
        "reports[0].formats[0]",
        "reports[0].language",
        "reports[0].hours",
        "reports[0].email.host",
        "reports[0].email.port",
        "reports[0].email.from",
        "reports[0].email.to",
        "reports[0].email.security",
        "reports[0].teams: extra inputs are not permitted",
    ):
        assert location in text, (location, text)


def test_a_schedule_needs_a_delivery_and_a_unique_name() -> None:
    [nowhere] = problems({"name": "weekly", "cron": "0 8 * * mon"})
    assert nowhere.startswith("reports[0]: a scheduled report needs at least one delivery")
    [twice] = problems(GOOD, GOOD)
    assert twice == "reports: two scheduled reports are named 'weekly'"
    [seconds] = problems({**GOOD, "cron": "0 0 8 * * mon"})  # croniter's six-field form is not cron
    assert seconds.startswith("reports[0].cron: '0 0 8 * * mon' is not a five-field cron expression")


def test_secret_problems_name_the_missing_variables() -> None:
    config = parse({**BASE, "reports": [GOOD]}, environ=SECRETS)
    assert secret_problems(config.reports, {"SLACK_URL": "https://hooks", "SMTP_PASSWORD_FILE": "/run/pw"}) == []
    assert secret_problems(config.reports, {}) == [
        ("reports[0].slack.webhook_url_env", "environment variable SLACK_URL (or SLACK_URL_FILE) is not set"),
        ("reports[0].email.password_env", "environment variable SMTP_PASSWORD (or SMTP_PASSWORD_FILE) is not set"),
    ]


def test_occurrences_in_the_schedule_time_zone() -> None:
    paris = "Europe/Paris"
    monday_8 = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # 08:00 in Paris, summer time
    assert latest_occurrence("0 8 * * mon", paris, monday_8) == monday_8
    assert latest_occurrence("0 8 * * mon", paris, datetime(2026, 3, 30, 5, 59, tzinfo=UTC)) == datetime(
        2026, 3, 23, 7, 0, tzinfo=UTC
    )  # winter time the week before
    assert next_occurrence("0 8 * * mon", paris, monday_8) == datetime(2026, 4, 6, 6, 0, tzinfo=UTC)
    assert next_occurrence("30 7 1 * *", "UTC", datetime(2026, 1, 31, tzinfo=UTC)) == datetime(
        2026, 2, 1, 7, 30, tzinfo=UTC
    )
