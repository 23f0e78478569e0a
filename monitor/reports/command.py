"""`inbox-monitor report`: the arguments checked, the report made from the store and written."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from monitor.config import Config
from monitor.domain.figures import Hours
from monitor.reports.build import ReportError, ReportRequest, build_report
from monitor.reports.model import Language, Report
from monitor.reports.notes import default_timezone, policy_notes
from monitor.reports.period import Period, PeriodError, parse_period, period_between, zone
from monitor.reports.render import file_name, render
from monitor.store.reports import ReportStore

DEFAULT_PERIOD = "last-7-days"
Runner = Callable[[Coroutine[Any, Any, Any]], Any]


@dataclass(frozen=True)
class ReportOptions:
    period: str | None
    date_from: date | None
    date_to: date | None
    brands: tuple[str, ...]
    fmt: str
    out: str | None
    language: Language
    hours: Hours
    timezone: str | None
    as_of: datetime | None = None
    """The instant the report is made as of (None: now)."""


def resolve_period(options: ReportOptions, *, now: datetime, timezone: str) -> Period:
    """The period the options name; click errors naming the bad option."""
    try:
        zone(timezone)
    except PeriodError as exc:
        raise click.BadParameter(str(exc), param_hint="--timezone") from None
    if options.date_from is not None or options.date_to is not None:
        if options.period is not None:
            raise click.UsageError("give either --period or --from/--to, not both")
        if options.date_from is None or options.date_to is None:
            raise click.UsageError("--from and --to go together (both dates are included)")
        try:
            return period_between(options.date_from, options.date_to, timezone=timezone)
        except PeriodError as exc:
            raise click.BadParameter(str(exc), param_hint="--from/--to") from None
    try:
        return parse_period(options.period or DEFAULT_PERIOD, now=now, timezone=timezone)
    except PeriodError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None


def _destination(out: str | None, name: str) -> Path | None:
    """Where to write (None: standard output)."""
    if out == "-":
        return None
    if out is None:
        return Path.cwd() / name
    path = Path(out).expanduser()
    if path.is_dir():
        return path / name
    if not path.parent.is_dir():
        raise click.BadParameter(f"directory {str(path.parent)!r} does not exist", param_hint="--out")
    return path


async def make_report(config: Config, period: Period, options: ReportOptions, *, as_of: datetime) -> Report:
    """Open the configured store, bring its schema and accounts up to date, build the report."""
    from monitor.database import open_store, register

    async with open_store(config) as store:
        await register(config, store)
        request = ReportRequest(period, hours=options.hours, brands=options.brands)
        return await build_report(
            ReportStore(store.pool),
            request,
            as_of=as_of,
            policies=policy_notes(config),
            prices=config.x.pricing.prices(),
        )


def run_report_command(
    config: Config, options: ReportOptions, *, run: Runner = asyncio.run, now: datetime | None = None
) -> Path | None:
    """Make the report and write it; return the path written (None: standard output)."""
    now = options.as_of or now or datetime.now(UTC)
    period = resolve_period(options, now=now, timezone=options.timezone or default_timezone(config))
    if options.out is not None and options.out != "-":
        parent = Path(options.out).expanduser()
        if not parent.is_dir() and not parent.parent.is_dir():
            raise click.BadParameter(f"directory {str(parent.parent)!r} does not exist", param_hint="--out")
    if options.out == "-" and options.fmt == "pdf" and sys.stdout.isatty():
        raise click.BadParameter("will not write a PDF to a terminal; redirect it or give a file", param_hint="--out")
    try:
        report = run(make_report(config, period, options, as_of=now))
    except ReportError as exc:
        raise click.BadParameter(str(exc), param_hint="--brand") from None
    data = render(report, options.fmt, options.language)
    path = _destination(options.out, file_name(report, options.fmt))
    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise click.BadParameter(f"cannot write {str(path)!r}: {exc.strerror}", param_hint="--out") from None
    return path
