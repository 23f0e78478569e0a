"""Marks waits at risk and breached at their instants, from a schedule kept in PostgreSQL.

The next instant comes from the partial indexes `waits_breach_due` and `waits_at_risk_due`
(one index probe, not a scan); the task sleeps until then, or until an ingest may have brought
an earlier one. Each breach is counted once: PostgreSQL records that it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import asyncpg

from monitor.domain.changes import IngestResult
from monitor.poller import PollTarget
from monitor.runtime import REAL_TIME, Backoff, Clock, Supervised, Timer, utcnow
from monitor.sources.base import Batch
from monitor.store.db import DATABASE_ERRORS
from monitor.store.store import Store

log = logging.getLogger(__name__)


class DeadlineScheduler:
    """Wakes at the next deadline of the accounts it holds and marks what has come."""

    def __init__(
        self,
        store: Store,
        account_ids: Sequence[int],
        *,
        on_breach: Callable[[list[asyncpg.Record]], None] = lambda rows: None,
        clock: Clock = utcnow,
        max_sleep: float = 30.0,
        backoff: Backoff | None = None,
        timer: Timer = REAL_TIME,
    ) -> None:
        self.store = store
        self.account_ids = list(account_ids)
        self.on_breach = on_breach
        self.clock = clock
        self.max_sleep = max_sleep
        self.supervised = Supervised(
            "deadline schedule",
            self.step,
            interval_seconds=max_sleep,
            expected=DATABASE_ERRORS,
            backoff=backoff or Backoff(base_seconds=2.0, cap_seconds=max_sleep),
            logger=log,
            clock=clock,
            timer=timer,
        )
        """Deadlines are instants: no jitter; a failure is retried within 2 s, then backs off up to
        `max_sleep` (an ingest's wake cuts a backoff short)."""

    def wake(self) -> None:
        """Look at the schedule again now (new waits may be due earlier)."""
        self.supervised.wake()

    def poll_done(
        self, target: PollTarget, result: str, seconds: float, batch: Batch | None, ingest: IngestResult | None
    ) -> None:
        if ingest is not None and ingest.threads_touched:
            self.wake()

    async def step(self) -> float:
        """Mark what is due; return the seconds until the next instant (capped)."""
        breached = await self.store.mark_due(self.account_ids, self.clock())
        if breached:
            self.on_breach(list(breached))
        nxt = await self.store.next_due(self.account_ids)
        if nxt is None:
            return self.max_sleep
        return min(max(0.0, (nxt - self.clock()).total_seconds()), self.max_sleep)

    async def run(self) -> None:
        """Mark what is due at each instant, until stopped."""
        await self.supervised.run()
