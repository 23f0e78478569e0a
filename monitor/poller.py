"""The poll loop: one task per account and stream, with jitter, backoff and health as state.

Each stream also says why it is not being polled right now and until when (`StreamWait`), so
that a stream that stops polling for any reason shows in the metrics and alerts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from monitor.domain.changes import IngestResult
from monitor.engine import Engine
from monitor.runtime import REAL_TIME, Backoff, Clock, Health, Timer, utcnow
from monitor.sources.base import (
    BadPayload,
    Batch,
    CredentialsRejected,
    RateLimited,
    Source,
    SourceError,
)
from monitor.store.db import DATABASE_ERRORS
from monitor.store.store import StreamRecord

log = logging.getLogger(__name__)

STATE_SAVE_INTERVAL = 60.0

WaitReason = Literal["polling", "waiting", "rate_limited", "blocked", "backing_off", "credentials_rejected", "paused"]
WAIT_REASONS: tuple[WaitReason, ...] = (
    "polling",
    "waiting",
    "rate_limited",
    "blocked",
    "backing_off",
    "credentials_rejected",
    "paused",
)
"""Why a stream is not being polled now (a metric label, so a fixed set):
polling               a poll is under way (since `until`);
waiting               the poll interval (or the first polls' spread), or a nudge's gap;
rate_limited          an API rate limit: a 429's reset, or polls spaced to last the budget;
blocked               the Graph API blocks the app or Page until its announced regain time;
backing_off           after a failed poll (API error, bad payload, database), with backoff;
credentials_rejected  the API rejected the token: retried every `credentials_retry` seconds;
paused                the account's lease is ending: this process polls it no more."""

MORE_POLL_DELAY = 5.0
"""Seconds before polling again a stream whose fetch stopped early and says there is more (its
page cap). A backlog is still read within seconds, but an API whose pagination never ends costs
one fetch (20 requests at most) per 5 s, not a loop of requests as fast as it answers (25,000
in 20 s were seen); the rate budget's share of each stream bounds it further."""


@dataclass
class PollTarget:
    """One stream of one account, and how often to poll it."""

    account_id: int
    account: str
    brand: str
    channel: str
    source: Source
    interval: float
    nudge_gap: float | None = None
    """Its own `Poller.nudge_gap` (the X Activity stream's accounts: docs/webhooks.md), else None."""

    @property
    def stream(self) -> str:
        return self.source.stream


@dataclass(eq=False)
class StreamHealth(Health):
    """How a stream's polls are going: failure is state, logged on change only ("polls failing",
    "polls recovered"); its status is `ok`, `new`, or why it failed: `failing`, `rate_limited`,
    `credentials_rejected`."""

    saved: tuple[str, float] = ("", 0.0)
    """(status, monotonic time) last written to PostgreSQL."""
    wait: StreamWait | None = None
    """Why the stream is not polled now, and until when."""
    monitored_since: datetime | None = None
    """When polling the stream began (kept in PostgreSQL across restarts): the base of its
    staleness while it has never been polled successfully."""
    rejected: set[str] = field(default_factory=set)
    """Reasons for which this process has logged that the stream set items aside (once each)."""


@dataclass(frozen=True)
class StreamWait:
    """Why a stream is not polled now, and when its next poll is due."""

    reason: WaitReason
    until: datetime
    """When the next poll is due; while `polling`, when the poll under way started."""


class PollObserver(Protocol):
    """Told of every poll (the metrics implement it)."""

    def poll_done(
        self, target: PollTarget, result: str, seconds: float, batch: Batch | None, ingest: IngestResult | None
    ) -> None: ...


class StreamObserver(Protocol):
    """Told whenever a stream's wait, start of monitoring or stored last success changes (the
    metrics implement it)."""

    def stream_changed(self, target: PollTarget, health: StreamHealth) -> None: ...


POLL_BACKOFF_BASE_SECONDS = 2.0
POLL_BACKOFF_CAP_SECONDS = 300.0
"""A failed poll is retried within 2 s, then backs off up to 5 minutes while it keeps failing."""


class Poller:
    """Runs every target's loop; one target's failure never touches another.

    A stream's loop is not a `runtime.Supervised` step: when it polls next depends on how the last
    poll ended (a rate limit's reset, a rejected token, a page cap's `more`, a nudge that may or
    may not cut the wait short), which is the loop's whole job. It shares the runtime's parts: the
    `Backoff`, the `Clock`, the `Timer` and the failure state logged on change (`StreamHealth`).
    """

    def __init__(
        self,
        engine: Engine,
        targets: list[PollTarget],
        *,
        observers: Sequence[PollObserver] = (),
        stream_observers: Sequence[StreamObserver] = (),
        clock: Clock = utcnow,
        timer: Timer = REAL_TIME,
        backoff: Backoff | None = None,
        jitter: float = 0.1,
        credentials_retry: float = 300.0,
        first_poll_spread: float = 10.0,
        may_poll: Callable[[int], bool] = lambda account_id: True,
        nudge_gap: float = 1.0,
        pace: Callable[[int], float] = lambda account_id: 1.0,
    ) -> None:
        self.engine = engine
        self.targets = targets
        self.observers = list(observers)
        self.stream_observers = list(stream_observers)
        self.clock = clock
        self.timer = timer
        self.backoff = backoff or Backoff(base_seconds=POLL_BACKOFF_BASE_SECONDS, cap_seconds=POLL_BACKOFF_CAP_SECONDS)
        self.jitter = jitter
        self.credentials_retry = credentials_retry
        self.first_poll_spread = first_poll_spread
        self.may_poll = may_poll
        self.nudge_gap = nudge_gap
        self.pace = pace
        """Account id -> how many times its interval a stream waits between polls (1, or more when
        a monthly budget would be spent: `Spending.factor`). A nudge still polls at once."""
        """Seconds between the starts of two polls of a stream that a nudge brought forward: a busy
        Page's stream of webhook deliveries makes at most one poll a second, not one per delivery."""
        self.health: dict[tuple[str, str], StreamHealth] = {}
        self._tasks: dict[int, list[asyncio.Task[None]]] = {}
        self._news: dict[tuple[int, str], asyncio.Event] = {}
        """(account id, stream) -> set by `nudge`: poll now instead of at the end of the interval."""
        self.started = asyncio.Event()

    async def start(self, account_ids: Sequence[int] | None = None) -> None:
        """Poll the streams of these accounts (all of them when None)."""
        await self.activate({t.account_id for t in self.targets} if account_ids is None else set(account_ids))
        self.started.set()

    async def activate(self, account_ids: set[int]) -> None:
        """Start polling these accounts (their leases were just taken)."""
        now = self.clock()
        for t in self.targets:
            if t.account_id in account_ids and t.account_id not in self._tasks:
                h = self._health(t)
                # Until PostgreSQL says since when the stream is polled (it may be away): from now.
                h.monitored_since = h.monitored_since or now
                self._changed(t, h)
        for account_id in account_ids:
            if account_id in self._tasks:
                continue
            self._tasks[account_id] = [
                asyncio.create_task(self._loop(t), name=f"poll:{t.account}:{t.stream}")
                for t in self.targets
                if t.account_id == account_id
            ]

    async def deactivate(self, account_ids: set[int]) -> None:
        """Stop polling these accounts, and wait until their polls have ended."""
        tasks = [task for a in account_ids for task in self._tasks.pop(a, [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def active(self) -> set[int]:
        return set(self._tasks)

    def nudge(self, account_id: int, streams: Iterable[str]) -> int:
        """A webhook said these streams of the account have news: those polled here and waiting out
        their interval poll now (a wait after a failure or a rate limit is kept); several nudges
        during a poll make one more poll. Returns how many streams were nudged."""
        if account_id not in self._tasks:
            return 0
        wanted = set(streams)
        nudged = 0
        for t in self.targets:
            if t.account_id == account_id and t.stream in wanted:
                self._news.setdefault((account_id, t.stream), asyncio.Event()).set()
                nudged += 1
        return nudged

    async def _pause(self, target: PollTarget, delay: float, *, early: bool, polled: float) -> None:
        """Sleep `delay`; with `early`, a nudge of the stream ends the sleep (`nudge_gap` after
        `polled`, the monotonic start of the last poll, at the soonest)."""
        news = self._news.setdefault((target.account_id, target.stream), asyncio.Event())
        if not early:
            await self.timer.sleep(delay)
            return
        if news.is_set():  # nudged while the last poll ran: it may have missed the news
            news.clear()
            await self._gap(target, polled, delay)
            return
        nudged = await self.timer.wait(news, delay)
        news.clear()
        if nudged:
            await self._gap(target, polled, delay)

    async def _gap(self, target: PollTarget, polled: float, delay: float) -> None:
        """Wait out what is left of `nudge_gap` since the last poll started (never past `delay`)."""
        gap = self.nudge_gap if target.nudge_gap is None else target.nudge_gap
        left = min(gap, delay) - (time.monotonic() - polled)
        if left > 0:
            await self.timer.sleep(left)

    async def stop(self) -> None:
        await self.deactivate(set(self._tasks))

    async def _loop(self, target: PollTarget) -> None:
        rng = self.backoff.rng
        # Spread the first polls so that many accounts do not all call at once.
        spread = rng.uniform(0, min(self.jitter * target.interval, self.first_poll_spread))
        self._waiting(target, "waiting", spread)
        await self.timer.sleep(spread)
        cursor: str | None = None
        cursor_loaded = False
        while True:
            interval = target.interval * self.pace(target.account_id)
            delay = interval
            reason: WaitReason = "waiting"
            early = True  # a nudge may end the wait, unless it follows a failure or a rate limit
            if not self.may_poll(target.account_id):  # the account's lease is ending: wait for news
                self._waiting(target, "paused", min(1.0, target.interval))
                await self.timer.sleep(min(1.0, target.interval))
                continue
            polled = time.monotonic()
            self._waiting(target, "polling", 0.0)
            try:
                if not cursor_loaded:
                    record = await self.engine.store.open_stream(target.account_id, target.stream, at=self.clock())
                    cursor = record.cursor
                    self._known(target, record)
                    cursor_loaded = True
                batch, _ = await self.poll_once(target, cursor)
                cursor = batch.cursor if batch.cursor is not None else cursor
                self._ok(target)
                if batch.more:
                    delay = MORE_POLL_DELAY
                    early = False  # a nudge would not tell it more than it knows
                elif batch.next_poll_after is not None:
                    delay = max(delay, batch.next_poll_after)
                    early = delay == interval  # spacing polls to last the rate budget: kept
                    if delay > interval:
                        reason = self._throttled(target)
            except RateLimited as exc:
                self._failed(target, "rate_limited", exc)
                delay = exc.retry_after if exc.retry_after is not None else self._backoff(target)
                reason = self._throttled(target)
                early = False
            except CredentialsRejected as exc:
                self._failed(target, "credentials_rejected", exc)
                delay = max(interval, self.credentials_retry)
                reason = "credentials_rejected"
                early = False
            except (SourceError, *DATABASE_ERRORS) as exc:
                self._failed(target, "failing", exc)
                delay = self._backoff(target)
                reason = "backing_off"
                early = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not stop the other accounts, nor this one for good
                log.exception("poll crashed", extra={"account": target.account, "stream": target.stream})
                self._failed(target, "failing", exc)
                delay = self._backoff(target)
                reason = "backing_off"
                early = False
            if delay == interval:
                delay *= 1 + rng.uniform(-self.jitter, self.jitter)
            self._waiting(target, reason, delay)
            await self._record(target)
            if delay > 0:
                await self._pause(target, delay, early=early, polled=polled)

    async def poll_once(self, target: PollTarget, cursor: str | None) -> tuple[Batch, IngestResult]:
        """Fetch after `cursor` and ingest what came, reporting the outcome to the observer."""
        started = time.monotonic()
        batch: Batch | None = None
        try:
            batch = await target.source.fetch(cursor)
            if not batch.messages and not batch.rejected and not batch.billable and batch.cursor in (None, cursor):
                result = IngestResult()  # nothing new: no transaction
            else:
                result = await self.engine.ingest(
                    target.account_id,
                    target.stream,
                    batch.messages,
                    batch.cursor,
                    rejected=batch.rejected,
                    billable=batch.billable,
                )
        except BaseException as exc:
            self._tell(target, _result_label(exc), time.monotonic() - started, batch, None)
            raise
        self._tell(target, "ok", time.monotonic() - started, batch, result)
        if result.quarantined:
            self._quarantined(target, result.quarantined)
        return batch, result

    def _quarantined(self, target: PollTarget, counts: dict[str, int]) -> None:
        """Log once per stream and reason that items were set aside (the metric counts them all);
        the items' content stays in PostgreSQL, out of the logs."""
        h = self._health(target)
        for reason, count in sorted(counts.items()):
            if reason not in h.rejected:
                h.rejected.add(reason)
                log.warning(
                    "items quarantined",
                    extra={
                        "account": target.account,
                        "stream": target.stream,
                        "reason": reason,
                        "count": count,
                        "see": "inbox-monitor quarantine",
                    },
                )

    def _tell(
        self, target: PollTarget, result: str, seconds: float, batch: Batch | None, ingest: IngestResult | None
    ) -> None:
        for observer in self.observers:
            try:
                observer.poll_done(target, result, seconds, batch, ingest)
            except Exception:  # an observer's bug must not fail the poll
                log.exception("poll observer failed", extra={"account": target.account})

    def _waiting(self, target: PollTarget, reason: WaitReason, delay: float) -> None:
        """Note why the stream is not polled now and for how long, and tell the stream observers."""
        h = self.health[(target.account, target.stream)]
        now = self.clock()
        try:
            until = now + timedelta(seconds=delay)
        except (OverflowError, ValueError):  # past year 9999 (an absurd reset), or not a number
            until = datetime.max.replace(tzinfo=now.tzinfo)
        h.wait = StreamWait(reason, until)
        self._changed(target, h)

    def _known(self, target: PollTarget, record: StreamRecord) -> None:
        """What PostgreSQL remembers of the stream (from before a restart or a takeover)."""
        h = self.health[(target.account, target.stream)]
        if h.monitored_since is None or record.monitored_since < h.monitored_since:
            h.monitored_since = record.monitored_since
        if record.last_success_at is not None and (h.last_success is None or record.last_success_at > h.last_success):
            h.last_success = record.last_success_at
        self._changed(target, h)

    def _health(self, target: PollTarget) -> StreamHealth:
        """The stream's health, made on first use."""
        key = (target.account, target.stream)
        h = self.health.get(key)
        if h is None:
            h = self.health[key] = StreamHealth("polls", log, {"account": target.account, "stream": target.stream})
        return h

    def _changed(self, target: PollTarget, h: StreamHealth) -> None:
        for observer in self.stream_observers:
            try:
                observer.stream_changed(target, h)
            except Exception:  # an observer's bug must not stop the poll loop
                log.exception("stream observer failed", extra={"account": target.account})

    def _throttled(self, target: PollTarget) -> WaitReason:
        """`blocked` while the source says the API blocks it (the Graph API's regain time), else
        `rate_limited`."""
        blocked_until = target.source.rate_budget().blocked_until
        if blocked_until is not None and blocked_until > self.clock():
            return "blocked"
        return "rate_limited"

    def _backoff(self, target: PollTarget) -> float:
        return self.backoff.delay(self.health[(target.account, target.stream)].failures)

    def _ok(self, target: PollTarget) -> None:
        self.health[(target.account, target.stream)].succeeded(self.clock())

    def _failed(self, target: PollTarget, status: str, exc: BaseException) -> None:
        self.health[(target.account, target.stream)].failed(exc, status=status)

    async def _record(self, target: PollTarget) -> None:
        """Save the stream's state for `inbox-monitor accounts`: at every change and every failure,
        else at most once a minute (a poll should not cost a write of its own)."""
        h = self.health[(target.account, target.stream)]
        now = time.monotonic()
        if h.status == "ok" and h.saved[0] == "ok" and now - h.saved[1] < STATE_SAVE_INTERVAL:
            return
        h.saved = (h.status, now)
        try:
            await self.engine.store.record_poll(
                target.account_id, target.stream, at=self.clock(), status=h.status, error=h.last_error
            )
        except DATABASE_ERRORS as exc:  # the state is in memory; the next poll reports the database
            log.debug("poll state not saved", extra={"account": target.account, "error": repr(exc)})


def _result_label(exc: BaseException) -> str:
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, CredentialsRejected):
        return "credentials_rejected"
    if isinstance(exc, BadPayload):
        return "bad_payload"
    if isinstance(exc, SourceError):
        return "api_error"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return "store_error" if isinstance(exc, DATABASE_ERRORS) else "error"
