"""Configuration of scheduled reports: `[[reports]]` tables of the TOML file.

```toml
[[reports]]
name = "weekly-directors"
cron = "0 8 * * mon"              # every Monday at 08:00 …
timezone = "Europe/Paris"         # … in this time zone, which also bounds the period's days
period = "last-week"
formats = ["pdf", "csv"]
language = "fr"

[reports.directory]
path = "/var/lib/inbox-monitor/reports"

[reports.slack]
webhook_url_env = "SLACK_REPORTS_WEBHOOK_URL"

[reports.email]
host = "smtp.example.com"
port = 587
from = "sla-reports@example.com"
to = ["direction@example.com"]
username = "sla-reports@example.com"
password_env = "SMTP_PASSWORD"
```
This module is imported by `monitor.config`: it must not import it back, nor anything heavy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.domain.figures import DEFAULT_HOURS, Hours
from monitor.reports.period import NAMED, PeriodError, zone

EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
ScheduleName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
Address = Annotated[str, Field(pattern=r"^[^@\s<>]+@[^@\s<>]+$")]
RelativePeriod = Literal["last-week", "last-month", "this-week", "this-month", "last-7-days", "last-30-days"]
assert set(RelativePeriod.__args__) == set(NAMED)  # type: ignore[attr-defined]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DirectoryDelivery(_Model):
    """Write the report's files into a directory (created if missing)."""

    path: Path


class SlackDelivery(_Model):
    """Post a summary to a Slack incoming webhook, whose URL is in an environment variable."""

    webhook_url_env: EnvName


class EmailDelivery(_Model):
    """Send the report's files, attached, by SMTP; the password is in an environment variable."""

    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    sender: Address = Field(alias="from")
    to: list[Address] = Field(min_length=1)
    username: str | None = None
    password_env: EnvName | None = None
    security: Literal["starttls", "tls", "none"] = "starttls"
    """starttls (port 587), tls (implicit, port 465) or none (a local relay)."""
    timeout_seconds: float = Field(30.0, gt=0)


class ReportSchedule(_Model):
    """A report made and delivered at every occurrence of a cron expression."""

    name: ScheduleName
    cron: str
    """Standard five-field cron expression, e.g. `0 8 * * mon`, in `timezone`."""
    timezone: str | None = None
    """IANA time zone of the cron and of the period's days (default: the policies' calendar zone, else UTC)."""
    period: RelativePeriod = "last-week"
    formats: list[Literal["pdf", "html", "csv", "json"]] = Field(["pdf"], min_length=1)
    language: Literal["fr", "en"] = "en"
    hours: Hours = DEFAULT_HOURS
    """Response times in wall time (default) or in the policies' business hours (docs/definitions.md)."""
    brands: list[str] = []
    """Only these brands (default: all)."""
    directory: DirectoryDelivery | None = None
    slack: SlackDelivery | None = None
    email: EmailDelivery | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter

        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a five-field cron expression such as '0 8 * * mon'")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zone(value)
            except PeriodError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("formats")
    @classmethod
    def _unique_formats(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _delivered_somewhere(self) -> ReportSchedule:
        if self.directory is None and self.slack is None and self.email is None:
            raise ValueError(
                "a scheduled report needs at least one delivery: [reports.directory], "
                "[reports.slack] or [reports.email]"
            )
        return self


def _unique_names(schedules: list[ReportSchedule]) -> list[ReportSchedule]:
    seen: set[str] = set()
    for s in schedules:
        if s.name in seen:
            raise ValueError(f"two scheduled reports are named {s.name!r}")
        seen.add(s.name)
    return schedules


ReportSchedules = Annotated[list[ReportSchedule], AfterValidator(_unique_names)]
"""The type of `Config.reports`."""


def secret_problems(schedules: list[ReportSchedule], environ: Mapping[str, str] = os.environ) -> list[tuple[str, str]]:
    """(location, message) for each secret a schedule names that the environment does not hold."""
    problems = []
    for i, s in enumerate(schedules):
        names = []
        if s.slack is not None:
            names.append(("slack.webhook_url_env", s.slack.webhook_url_env))
        if s.email is not None and s.email.password_env is not None:
            names.append(("email.password_env", s.email.password_env))
        for where, env in names:
            if not (environ.get(env) or environ.get(f"{env}_FILE")):
                problems.append((f"reports[{i}].{where}", f"environment variable {env} (or {env}_FILE) is not set"))
    return problems
