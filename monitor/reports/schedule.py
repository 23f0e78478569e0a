"""Scheduled reports: make and deliver each configured report at its cron occurrences.

The application runs it as a supervised step (`ReportScheduler.supervised`).

Each occurrence is claimed in PostgreSQL (`report_runs`) before it is made, so with several
processes exactly one makes it. An occurrence missed while no process ran (the latest one only,
and only if the schedule was already configured then) is made once at start. A claim whose
process died mid-way is taken over after `stale_after`; the deliveries it had made are skipped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiohttp
import asyncpg
from croniter import croniter

from monitor.config import Config
from monitor.reports.build import ReportError, ReportRequest, build_report
from monitor.reports.deliver import DeliveryError, Made, deliver_directory, deliver_email, deliver_slack
from monitor.reports.i18n import Words
from monitor.reports.notes import default_timezone, policy_notes
from monitor.reports.period import parse_period, zone
from monitor.reports.render import file_name, render
from monitor.reports.settings import ReportSchedule
from monitor.runtime import REAL_TIME, Backoff, Clock, Supervised, Timer, utcnow
from monitor.store.reports import ReportStore

log = logging.getLogger(__name__)

_DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)
DELIVERY_WAIT_MAX = 300.0
"""Seconds a delivery waits at most before its next attempt, whatever a Retry-After asks."""


class _HasPool(Protocol):
    pool: asyncpg.Pool


def latest_occurrence(cron: str, timezone: str, now: datetime) -> datetime:
    """The last instant at or before `now` that `cron` (read in `timezone`) names, in UTC."""
    local = (now + timedelta(microseconds=1)).astimezone(zone(timezone))  # get_prev is strict
    prev: datetime = croniter(cron, local).get_prev(datetime)
    return prev.astimezone(UTC)


def next_occurrence(cron: str, timezone: str, now: datetime) -> datetime:
    """The first instant strictly after `now` that `cron` names, in UTC."""
    nxt: datetime = croniter(cron, now.astimezone(zone(timezone))).get_next(datetime)
    return nxt.astimezone(UTC)


@dataclass
class RunResult:
    """What one occurrence of a schedule did."""

    schedule: str
    occurrence: datetime
    files: dict[str, bytes] = field(default_factory=dict)
    delivered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class ReportScheduler:
    """Runs the configured report schedules; one `run()` per process."""

    def __init__(
        self,
        store: _HasPool,
        config: Config,
        *,
        session: aiohttp.ClientSession | None = None,
        clock: Clock = utcnow,
        timer: Timer = REAL_TIME,
        environ: Mapping[str, str] = os.environ,
        owner: str | None = None,
        jitter_seconds: float = 5.0,
        stale_after: timedelta = timedelta(minutes=30),
        delivery_attempts: int = 3,
        delivery_backoff: Backoff | None = None,
        max_sleep_seconds: float = 300.0,
    ) -> None:
        self.reports = ReportStore(store.pool)
        self.config = config
        self.schedules: list[ReportSchedule] = list(config.reports)
        self.session = session
        self.clock = clock
        self.timer = timer
        self.environ = environ
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.jitter_seconds = jitter_seconds
        self.stale_after = stale_after
        self.delivery_attempts = delivery_attempts
        self.delivery_backoff = delivery_backoff or Backoff(base_seconds=10.0, cap_seconds=DELIVERY_WAIT_MAX)
        self.max_sleep_seconds = max_sleep_seconds
        self._first_seen: dict[str, datetime] = {}
        self.supervised = Supervised(
            "report schedules",
            self._step,
            interval_seconds=max_sleep_seconds,
            expected=_DATABASE_ERRORS,
            backoff=Backoff(base_seconds=min(10.0, max_sleep_seconds), cap_seconds=max_sleep_seconds),
            logger=log,
            clock=clock,
            timer=timer,
        )
        """A failed round (the database away) is retried within 10 s, backing off up to
        `max_sleep_seconds`; a report that fails is recorded on its claim, not retried here."""

    def timezone(self, schedule: ReportSchedule) -> str:
        return schedule.timezone or default_timezone(self.config)

    async def register(self) -> None:
        """Record when each schedule was first seen (occurrences before that were never missed)."""
        now = self.clock()
        for s in self.schedules:
            self._first_seen[s.name] = await self.reports.register_schedule(s.name, now)

    async def run_due(self) -> list[RunResult]:
        """Make and deliver each schedule's latest occurrence if it has come and nobody made it."""
        if len(self._first_seen) < len(self.schedules):
            await self.register()
        results = []
        for s in self.schedules:
            now = self.clock()
            occurrence = latest_occurrence(s.cron, self.timezone(s), now)
            if occurrence < self._first_seen[s.name]:
                continue
            done = await self.reports.claim_run(s.name, occurrence, self.owner, now=now, stale_after=self.stale_after)
            if done is None:
                continue
            results.append(await self._execute(s, occurrence, done))
        return results

    def next_wake(self) -> datetime | None:
        """The next occurrence of any schedule."""
        now = self.clock()
        upcoming = [next_occurrence(s.cron, self.timezone(s), now) for s in self.schedules]
        return min(upcoming, default=None)

    async def run(self) -> None:
        """Until stopped: make what is due, sleep until the next occurrence (plus a small offset)."""
        if not self.schedules:
            return
        log.info("report schedules", extra={"schedules": ",".join(s.name for s in self.schedules)})
        await self.supervised.run()

    async def _step(self) -> float:
        await self.run_due()
        wake = self.next_wake()
        if wake is None:
            return self.max_sleep_seconds
        return min(
            self.max_sleep_seconds,
            max(0.0, (wake - self.clock()).total_seconds()) + self.supervised.rng.uniform(0, self.jitter_seconds),
        )

    # --- one occurrence ----------------------------------------------------------------------

    async def make(self, schedule: ReportSchedule, occurrence: datetime) -> Made:
        """The report of `schedule` for the period its occurrence names, rendered in its formats."""
        period = parse_period(schedule.period, now=occurrence, timezone=self.timezone(schedule))
        request = ReportRequest(period, hours=schedule.hours, brands=tuple(schedule.brands))
        report = await build_report(
            self.reports,
            request,
            as_of=self.clock(),
            policies=policy_notes(self.config),
            prices=self.config.x.pricing.prices(),
        )

        def render_all() -> dict[str, bytes]:
            return {
                file_name(report, fmt, schedule.name): render(report, fmt, schedule.language)
                for fmt in schedule.formats
            }

        return Made(report, Words(schedule.language), await asyncio.to_thread(render_all))

    async def _execute(self, schedule: ReportSchedule, occurrence: datetime, done: list[str]) -> RunResult:
        result = RunResult(schedule.name, occurrence, delivered=list(done))
        context = {"schedule": schedule.name, "occurrence": occurrence.isoformat()}
        try:
            made = await self.make(schedule, occurrence)
        except Exception as exc:  # recorded on the claim; the next occurrence tries again
            result.errors.append(f"report: {type(exc).__name__}: {exc}")
            log.error(
                "scheduled report failed",
                extra={**context, "error": result.errors[-1]},
                exc_info=not isinstance(exc, (ReportError, *_DATABASE_ERRORS)),
            )
            await self.reports.finish_run(
                schedule.name, occurrence, self.owner, now=self.clock(), error=result.errors[-1]
            )
            return result
        result.files = made.files
        for name, deliver in self._deliveries(schedule, made):
            if name in done:
                continue
            try:
                await self._with_retries(deliver)
            except DeliveryError as exc:
                result.errors.append(f"{name}: {exc}")
                log.error("report delivery failed", extra={**context, "delivery": name, "error": str(exc)})
                continue
            await self.reports.mark_delivered(schedule.name, occurrence, self.owner, name)
            result.delivered.append(name)
            log.info("report delivered", extra={**context, "delivery": name})
        await self.reports.finish_run(
            schedule.name, occurrence, self.owner, now=self.clock(), error="; ".join(result.errors) or None
        )
        return result

    def _deliveries(self, schedule: ReportSchedule, made: Made) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
        out: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        if (d := schedule.directory) is not None:
            out.append(("directory", lambda: deliver_directory(d, made)))
        if (s := schedule.slack) is not None:
            out.append(("slack", lambda: self._slack(s, made)))
        if (e := schedule.email) is not None:
            out.append(("email", lambda: deliver_email(e, made, self.environ)))
        return out

    async def _slack(self, delivery: Any, made: Made) -> None:
        if self.session is not None:
            await deliver_slack(delivery, made, self.session, self.environ)
            return
        async with aiohttp.ClientSession() as session:
            await deliver_slack(delivery, made, session, self.environ)

    async def _with_retries(self, deliver: Callable[[], Awaitable[Any]]) -> None:
        for attempt in range(1, self.delivery_attempts + 1):
            try:
                await deliver()
                return
            except DeliveryError as exc:
                if exc.permanent or attempt == self.delivery_attempts:
                    raise
                wait = exc.retry_after if exc.retry_after is not None else self.delivery_backoff.delay(attempt)
                await self.timer.sleep(min(wait, DELIVERY_WAIT_MAX))
