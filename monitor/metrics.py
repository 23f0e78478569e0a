"""Prometheus metrics: events counted as they happen, gauges read from a PostgreSQL snapshot.

Labels only come from bounded sets — the configured brands, channels and accounts, the wait kind
(first/next), the thread kind (public/private), stream names fixed in code and poll results —
never from message content. Message ids and links go in exemplars (OpenMetrics only).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric

from monitor import __version__
from monitor.domain.calendar import business_seconds
from monitor.domain.model import ThreadKind, WaitKind
from monitor.engine import AccountContext, Clock, utcnow
from monitor.poller import PollTarget
from monitor.sources.base import Batch
from monitor.store.store import IngestResult, Store, WaitEvent

log = logging.getLogger(__name__)

PREFIX = "social_inbox"
WAIT_LABELS = ("brand", "channel", "account", "kind")
WAIT_KINDS: tuple[WaitKind, ...] = ("first", "next")
THREAD_KINDS: tuple[ThreadKind, ...] = ("public", "private")
POLL_RESULTS = ("ok", "rate_limited", "credentials_rejected", "bad_payload", "api_error", "store_error", "error")

# Response-time bucket edges (seconds), to which every configured SLA target is added so that
# "answered within target" is an exact bucket: 1 and 5 minutes (answered while the customer is
# still on the page), 15 and 30 minutes (what good brands promise on X), 1, 2, 4 and 8 hours
# (a working day), 1 and 2 days, 1 week (the long tail a report must still place).
RESPONSE_BUCKETS = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0, 604800.0)
# Ingest lag (customer's clock to ours): within a poll interval (seconds to minutes) when healthy,
# hours when a poller was down or a backfill ran.
LAG_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 21600.0, 86400.0)
# One poll: a single page (tens of ms) to a full backlog of pages (tens of seconds).
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
EXEMPLAR_MAX = 128  # OpenMetrics: the exemplar's label names and values, in characters


def response_buckets(targets: Iterable[float]) -> list[float]:
    return sorted(set(RESPONSE_BUCKETS) | {float(t) for t in targets if t > 0})


def exemplar(message: str | None, url: str | None) -> dict[str, str] | None:
    """Message id and link of a wait, within the OpenMetrics exemplar size limit."""
    if not message:
        return None
    out = {"message_id": message}
    if url and len("message_id" + message + "url" + url) <= EXEMPLAR_MAX:
        out["url"] = url
    return out if len("message_id" + message) <= EXEMPLAR_MAX else None


@dataclass
class Snapshot:
    """Open-wait gauges as last read from PostgreSQL."""

    taken_at: float = 0.0
    rows: dict[tuple[int, str], tuple[int, int, int, datetime | None, float]] = field(default_factory=dict)
    """(account id, kind) -> (open, breached, at risk, oldest opened_at, oldest business seconds)."""


class Metrics:
    """All of inbox-monitor's metrics for the accounts this process holds."""

    def __init__(
        self,
        accounts: Mapping[int, AccountContext],
        *,
        registry: CollectorRegistry = REGISTRY,
        clock: Clock = utcnow,
    ) -> None:
        self.accounts = dict(accounts)
        self.clock = clock
        self.snapshot = Snapshot()
        sla_targets = [
            ctx.policy.targets_for(ctx.channel, thread_kind).for_kind(k)
            for ctx in accounts.values() for thread_kind in THREAD_KINDS for k in WAIT_KINDS
        ] + [r.targets.for_kind(k) for ctx in accounts.values() for r in ctx.policy.priority_rules for k in WAIT_KINDS]
        buckets = response_buckets(sla_targets)
        p = PREFIX
        self.response = Histogram(f"{p}_response_seconds", "Response time of answered waits (wall clock).",
                                  WAIT_LABELS, buckets=buckets, registry=registry)
        self.response_business = Histogram(
            f"{p}_response_business_seconds", "Response time of answered waits, in business hours.",
            WAIT_LABELS, buckets=buckets, registry=registry)
        self.opened = Counter(f"{p}_waits_opened", "Waits opened (a question waiting for a reply).",
                              WAIT_LABELS, registry=registry)
        self.answered = Counter(f"{p}_waits_answered", "Waits closed by a reply.", WAIT_LABELS, registry=registry)
        self.breached = Counter(f"{p}_waits_breached", "Waits that passed their SLA deadline, counted when it passed.",
                                WAIT_LABELS, registry=registry)
        self.polls = Counter(f"{p}_poll", "Polls of a stream, by result.",
                             ("brand", "channel", "account", "stream", "result"), registry=registry)
        self.poll_duration = Histogram(f"{p}_poll_duration_seconds", "Duration of a poll (fetch and ingest).",
                                       ("channel", "stream"), buckets=POLL_BUCKETS, registry=registry)
        self.last_success = Gauge(f"{p}_last_successful_poll_timestamp_seconds",
                                  "Unix time of the last successful poll of a stream.",
                                  ("brand", "channel", "account", "stream"), registry=registry)
        self.credentials_valid = Gauge(f"{p}_credentials_valid",
                                       "1 unless the API rejected the account's credentials at the last poll.",
                                       ("brand", "channel", "account", "stream"), registry=registry)
        self.lag = Histogram(f"{p}_ingest_lag_seconds", "From a message's creation to its ingestion.",
                             ("channel",), buckets=LAG_BUCKETS, registry=registry)
        Info(f"{p}_build", "Version of inbox-monitor.", registry=registry).info({"version": __version__})
        self._targets: list[PollTarget] = []
        for ctx in accounts.values():
            for kind in WAIT_KINDS:
                labels = (ctx.brand, ctx.channel, ctx.name, kind)
                for metric in (self.opened, self.answered, self.breached, self.response, self.response_business):
                    metric.labels(*labels)
        registry.register(_SnapshotCollector(self))

    def watch(self, targets: Sequence[PollTarget]) -> None:
        """Export the pipeline state (rate-limit budget, credentials) of these streams."""
        self._targets = list(targets)
        for t in targets:
            labels = (t.brand, t.channel, t.account, t.stream)
            self.credentials_valid.labels(*labels).set(1)
            for result in POLL_RESULTS:
                self.polls.labels(*labels, result)

    def _labels(self, account_id: int, kind: str) -> tuple[str, str, str, str]:
        ctx = self.accounts[account_id]
        return ctx.brand, ctx.channel, ctx.name, kind

    def poll_done(self, target: PollTarget, result: str, seconds: float, batch: Batch | None,
                  ingest: IngestResult | None) -> None:
        """PollObserver: count the poll and what its ingest opened and answered."""
        labels = (target.brand, target.channel, target.account, target.stream)
        self.polls.labels(*labels, result).inc()
        self.poll_duration.labels(target.channel, target.stream).observe(seconds)
        if result == "ok":
            self.last_success.labels(*labels).set(time.time())
        if result in ("ok", "credentials_rejected"):
            self.credentials_valid.labels(*labels).set(1 if result == "ok" else 0)
        if ingest is not None:
            self.ingested(ingest, target.channel)

    def ingested(self, ingest: IngestResult, channel: str) -> None:
        now = self.clock()
        for created in ingest.new_created_at:
            self.lag.labels(channel).observe(max(0.0, (now - created).total_seconds()))
        for event in ingest.opened:
            if event.account_id in self.accounts:
                self.opened.labels(*self._labels(event.account_id, event.kind)).inc()
        for event in ingest.answered:
            if event.account_id in self.accounts:
                self._answered(event)

    def _answered(self, event: WaitEvent) -> None:
        labels = self._labels(event.account_id, event.kind)
        self.answered.labels(*labels).inc()
        ex = exemplar(event.message, event.url)
        if event.wall_seconds is not None:
            self.response.labels(*labels).observe(event.wall_seconds, ex)
        if event.business_seconds is not None:
            self.response_business.labels(*labels).observe(event.business_seconds, ex)

    def breaches(self, rows: Iterable[asyncpg.Record]) -> None:
        """Count waits that have just passed their deadline (from the deadline schedule)."""
        for row in rows:
            if row["account_id"] in self.accounts:
                self.breached.labels(*self._labels(row["account_id"], row["kind"])).inc()

    async def refresh(self, store: Store) -> None:
        """Read the open-wait gauges from PostgreSQL (one indexed query)."""
        now = self.clock()
        rows = await store.open_wait_summary(list(self.accounts), now)
        snap: dict[tuple[int, str], tuple[int, int, int, datetime | None, float]] = {}
        for r in rows:
            oldest = r["oldest_opened_at"]
            calendar = self.accounts[r["account_id"]].policy.calendar
            business = business_seconds(calendar, oldest, now) if oldest is not None else 0.0
            snap[(r["account_id"], r["kind"])] = (r["open"], r["breached"], r["at_risk"], oldest, business)
        self.snapshot = Snapshot(time.time(), snap)

    def collect_snapshot(self) -> Iterator[Metric]:
        """The gauges of the last snapshot (no I/O: called on the event loop)."""
        p = PREFIX
        open_ = GaugeMetricFamily(f"{p}_open_waits", "Questions waiting for a reply now.", labels=WAIT_LABELS)
        breached = GaugeMetricFamily(f"{p}_open_waits_breached", "Open waits past their SLA deadline.",
                                     labels=WAIT_LABELS)
        at_risk = GaugeMetricFamily(f"{p}_open_waits_at_risk",
                                    "Open waits past the at-risk share of their target, not yet breached.",
                                    labels=WAIT_LABELS)
        oldest = GaugeMetricFamily(f"{p}_oldest_open_wait_seconds", "Age of the oldest open wait (wall clock).",
                                   labels=WAIT_LABELS)
        oldest_b = GaugeMetricFamily(f"{p}_oldest_open_wait_business_seconds",
                                     "Age of the oldest open wait, in business hours.", labels=WAIT_LABELS)
        target = GaugeMetricFamily(f"{p}_sla_target_seconds", "SLA response target.",
                                   labels=(*WAIT_LABELS, "thread"))
        snap_ts = GaugeMetricFamily(f"{p}_snapshot_timestamp_seconds",
                                    "Unix time of the last read of the open waits from PostgreSQL.")
        now = self.clock()
        for account_id, ctx in self.accounts.items():
            for kind in WAIT_KINDS:
                labels = [ctx.brand, ctx.channel, ctx.name, kind]
                n, b, r, first, business = self.snapshot.rows.get((account_id, kind), (0, 0, 0, None, 0.0))
                open_.add_metric(labels, n)
                breached.add_metric(labels, b)
                at_risk.add_metric(labels, r)
                oldest.add_metric(labels, max(0.0, (now - first).total_seconds()) if first else 0.0)
                oldest_b.add_metric(labels, business)
                for thread in THREAD_KINDS:
                    target.add_metric([*labels, thread], ctx.policy.targets_for(ctx.channel, thread).for_kind(kind))
        snap_ts.add_metric([], self.snapshot.taken_at)
        yield from (open_, breached, at_risk, oldest, oldest_b, target, snap_ts)
        remaining = GaugeMetricFamily(f"{p}_api_rate_limit_remaining",
                                      "Requests (X) or percent of usage (Graph API) left in the current window.",
                                      labels=("brand", "channel", "account", "endpoint"))
        for stream in self._targets:
            for endpoint, value in sorted(getattr(stream.source, "rate_limit_remaining", {}).items()):
                remaining.add_metric([stream.brand, stream.channel, stream.account, endpoint], value)
        yield remaining


class _SnapshotCollector:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self.metrics.collect_snapshot()

    def describe(self) -> list[Metric]:
        return []  # no samples at registration: collect() must not run before the first snapshot
