"""Prometheus metrics: events counted as they happen, gauges read from a PostgreSQL snapshot.

Labels only come from bounded sets — the configured brands, channels and accounts, the wait kind
(first/next), the thread kind (public/private), stream names fixed in code and poll results —
never from message content. Message ids and links go in exemplars (OpenMetrics only).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC

import asyncpg
from prometheus_client import REGISTRY, CollectorRegistry

from monitor import __version__
from monitor.domain.calendar import BusinessAges
from monitor.domain.changes import IngestResult, WaitEvent
from monitor.domain.cost import BILLABLE_KINDS
from monitor.domain.items import REJECT_REASONS
from monitor.domain.model import ThreadKind, WaitKind
from monitor.engine import AccountContext
from monitor.exposition import Family, FamilySet, Labels
from monitor.poller import WAIT_REASONS, PollTarget, StreamHealth
from monitor.runtime import Clock, utcnow
from monitor.sources.base import Batch
from monitor.spending import Spending
from monitor.store.labels import DIRECTIONS
from monitor.store.peers import PeerStore
from monitor.store.store import Store

log = logging.getLogger(__name__)

PREFIX = "social_inbox"
WAIT_LABELS = ("brand", "channel", "account", "kind")
# Response-time histograms are per brand, not per account: 2,000 accounts x 2 kinds x 2 histograms
# x 16 lines would be 128,000 series (19 MB a scrape). Per-account distributions come from
# PostgreSQL (dashboards, reports); the exemplars still name the message.
HISTOGRAM_LABELS = ("brand", "channel", "kind")
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
ALERT_FACT_COLUMNS = (
    ("breached_target_min", "breached", "min", min),
    ("breached_target_max", "breached", "max", max),
    ("at_risk_target_min", "at_risk", "min", min),
    ("at_risk_target_max", "at_risk", "max", max),
)
"""The open-wait summary's target columns: (column, state label, bound label, how two combine)."""
EXEMPLAR_MAX = 128  # OpenMetrics: the exemplar's label names and values, in characters


def _label_in(labels: Labels, *, index: int, names: set[str]) -> bool:
    return labels[index] in names


def _label_not_in(labels: Labels, *, index: int, names: set[str]) -> bool:
    return labels[index] not in names


def response_buckets(targets: Iterable[float]) -> list[float]:
    return sorted(set(RESPONSE_BUCKETS) | {float(t) for t in targets if t > 0})


WEBHOOK_RESULTS = frozenset(
    {
        "subscribed",
        "ok",
        "ignored",
        "unknown_account",
        "bad_signature",
        "bad_request",
        "not_configured",
        "stale",
        "replayed",
        "rate_limited",
        "unavailable",
    }
)


def exemplar(message: str | None, url: str | None) -> dict[str, str] | None:
    """Message id and link of a wait, within the OpenMetrics exemplar size limit."""
    if not message:
        return None
    out = {"message_id": message}
    if url and len("message_id" + message + "url" + url) <= EXEMPLAR_MAX:
        out["url"] = url
    return out if len("message_id" + message) <= EXEMPLAR_MAX else None


class Metrics:
    """All of inbox-monitor's metrics for the accounts this process holds.

    Exported (prefix social_inbox_; W = brand, channel, account, kind; S = brand, channel, account, stream):
      response_seconds{brand, channel, kind}, response_business_seconds{brand, channel, kind}
                                                          histograms, observed when a wait closes
      waits_opened_total{W}, waits_answered_total{W}, waits_breached_total{W}
      open_waits{W}, open_waits_breached{W}, open_waits_at_risk{W},
      oldest_open_wait_seconds{W}, oldest_open_wait_business_seconds{W}   from the snapshot
      open_waits_target_seconds{brand, channel, account, state, bound},
      at_risk_deadline_timestamp_seconds{brand, channel, account}   from the snapshot, only while
                                                          some wait is breached (at risk)
      sla_target_seconds{policy, channel, thread, kind}, account_info{brand, channel, account, policy, handle}
      poll_total{S, result}, poll_duration_seconds{channel, stream}, last_successful_poll_timestamp_seconds{S},
      poll_interval_seconds{S}, stream_monitored_since_timestamp_seconds{S},
      stream_next_poll_timestamp_seconds{S}, stream_waiting{S, reason}   (one series a stream: the
                                                          current reason, 1)
      credentials_valid{S}, api_rate_limit_remaining{brand, channel, account, endpoint},
      ingest_lag_seconds{channel}, snapshot_timestamp_seconds, build_info{version},
      webhook_deliveries_total{channel, result}, corrections_total{brand, channel, direction}
      webhook_deliveries_total{channel, result}, items_rejected_total{channel, stream, reason}
      api_billable_total{brand, channel, account, kind}, api_spend_month_dollars{brand, channel, account},
      api_monthly_budget_dollars{brand, channel, account}, poll_pace_factor{brand, channel, account}   (X)
      peer_poll_total{brand, peer, result}, peer_last_successful_poll_timestamp_seconds{brand, peer},
      peer_reads_today{brand, peer}, peer_read_budget{brand, peer}   (peers: docs/peers.md; nothing
                                                          of a peer is in the series above)
    """

    def __init__(
        self,
        accounts: Mapping[int, AccountContext],
        *,
        peers: Mapping[int, AccountContext] | None = None,
        read_budgets: Mapping[int, int] | None = None,
        billable_kinds: Mapping[int, Sequence[str]] | None = None,
        registry: CollectorRegistry | None = REGISTRY,
        clock: Clock = utcnow,
    ) -> None:
        self.all_accounts = dict(accounts)
        self.accounts = dict(accounts)
        """The accounts this process holds, whose series it exports."""
        self.all_peers = dict(peers or {})
        self.peers = dict(self.all_peers)
        """The peers this process holds (their streams' leases), whose series it exports."""
        self.read_budgets = dict(read_budgets or {})
        """Peer id -> posts it may read a UTC day."""
        self.billable_kinds = dict(billable_kinds or {})
        """X account id -> the kinds its reads can be billed as (all of them when not given)."""
        self.clock = clock
        self._business_ages = BusinessAges()
        self.spending: Spending | None = None
        """The month's spend of the X accounts, when the app tracks it (the cost gauges follow it)."""
        self._targets: list[PollTarget] = []
        self._dirty: set[int] = set()
        self.changed = asyncio.Event()
        """Set when an ingest or a breach changed some held account's open waits."""
        sla_targets = [
            ctx.policy.targets_for(ctx.channel, thread_kind).for_kind(k)
            for ctx in accounts.values()
            for thread_kind in THREAD_KINDS
            for k in WAIT_KINDS
        ] + [r.targets.for_kind(k) for ctx in accounts.values() for r in ctx.policy.priority_rules for k in WAIT_KINDS]
        buckets = response_buckets(sla_targets)
        p, f = PREFIX, FamilySet()
        self.families = f
        stream = ("brand", "channel", "account", "stream")
        self.response = f.add(
            Family(
                f"{p}_response_seconds",
                "Response time of answered waits (wall clock).",
                "histogram",
                HISTOGRAM_LABELS,
                buckets=buckets,
            )
        )
        self.response_business = f.add(
            Family(
                f"{p}_response_business_seconds",
                "Response time of answered waits, in business hours.",
                "histogram",
                HISTOGRAM_LABELS,
                buckets=buckets,
            )
        )
        self.opened = f.add(
            Family(f"{p}_waits_opened", "Waits opened (a question waiting for a reply).", "counter", WAIT_LABELS)
        )
        self.answered = f.add(Family(f"{p}_waits_answered", "Waits closed by a reply.", "counter", WAIT_LABELS))
        self.breached = f.add(
            Family(
                f"{p}_waits_breached",
                "Waits that passed their SLA deadline, counted when it passed.",
                "counter",
                WAIT_LABELS,
            )
        )
        self.open_waits = f.add(Family(f"{p}_open_waits", "Questions waiting for a reply now.", "gauge", WAIT_LABELS))
        self.open_breached = f.add(
            Family(f"{p}_open_waits_breached", "Open waits past their SLA deadline.", "gauge", WAIT_LABELS)
        )
        self.open_at_risk = f.add(
            Family(
                f"{p}_open_waits_at_risk",
                "Open waits past the at-risk share of their target, not yet breached.",
                "gauge",
                WAIT_LABELS,
            )
        )
        self.oldest = f.add(
            Family(f"{p}_oldest_open_wait_seconds", "Age of the oldest open wait (wall clock).", "gauge", WAIT_LABELS)
        )
        self.oldest_business = f.add(
            Family(
                f"{p}_oldest_open_wait_business_seconds",
                "Age of the oldest open wait, in business hours.",
                "gauge",
                WAIT_LABELS,
            )
        )
        self.sla_target = f.add(
            Family(
                f"{p}_sla_target_seconds",
                "SLA response target of a policy.",
                "gauge",
                ("policy", "channel", "thread", "kind"),
            )
        )
        self.account_info = f.add(
            Family(
                f"{p}_account",
                "A monitored account, its SLA policy and its handle (as configured, without a leading @).",
                "info",
                ("brand", "channel", "account", "policy", "handle"),
            )
        )
        self.open_targets = f.add(
            Family(
                f"{p}_open_waits_target_seconds",
                "Shortest (bound=min) and longest (bound=max) SLA target of the account's open waits that "
                "are breached (state=breached) or at risk (state=at_risk); only while there are some.",
                "gauge",
                ("brand", "channel", "account", "state", "bound"),
            )
        )
        self.at_risk_deadline = f.add(
            Family(
                f"{p}_at_risk_deadline_timestamp_seconds",
                "Unix time the first of the account's at-risk waits breaches; only while one is at risk.",
                "gauge",
                ("brand", "channel", "account"),
            )
        )
        self.polls = f.add(Family(f"{p}_poll", "Polls of a stream, by result.", "counter", (*stream, "result")))
        self.poll_duration = f.add(
            Family(
                f"{p}_poll_duration_seconds",
                "Duration of a poll (fetch and ingest).",
                "histogram",
                ("channel", "stream"),
                buckets=POLL_BUCKETS,
            )
        )
        self.last_success = f.add(
            Family(
                f"{p}_last_successful_poll_timestamp_seconds",
                "Unix time of the last successful poll of a stream.",
                "gauge",
                stream,
            )
        )
        self.interval = f.add(
            Family(f"{p}_poll_interval_seconds", "Configured poll interval of a stream.", "gauge", stream)
        )
        self.monitored_since = f.add(
            Family(
                f"{p}_stream_monitored_since_timestamp_seconds",
                "Unix time polling of a stream began (kept in PostgreSQL): the base of its staleness until a "
                "poll succeeds.",
                "gauge",
                stream,
            )
        )
        self.next_poll = f.add(
            Family(
                f"{p}_stream_next_poll_timestamp_seconds",
                "Unix time the next poll of a stream is due (while one is under way: when it started).",
                "gauge",
                stream,
            )
        )
        self.waiting = f.add(
            Family(
                f"{p}_stream_waiting",
                f"Why a stream is not polled now: 1 for the current reason ({', '.join(WAIT_REASONS)}).",
                "gauge",
                (*stream, "reason"),
            )
        )
        self.credentials_valid = f.add(
            Family(
                f"{p}_credentials_valid",
                "1 unless the API rejected the account's credentials at the last poll.",
                "gauge",
                stream,
            )
        )
        self.rate_limit = f.add(
            Family(
                f"{p}_api_rate_limit_remaining",
                "Requests (X) or percent of usage (Graph API) left in the current rate-limit window.",
                "gauge",
                ("brand", "channel", "account", "endpoint"),
            )
        )
        self.lag = f.add(
            Family(
                f"{p}_ingest_lag_seconds",
                "From a message's creation to its ingestion.",
                "histogram",
                ("channel",),
                buckets=LAG_BUCKETS,
            )
        )
        self.webhooks = f.add(
            Family(
                f"{p}_webhook_deliveries",
                "Webhook requests (deliveries and URL checks), by result.",
                "counter",
                ("channel", "result"),
            )
        )
        self.corrections = f.add(
            Family(
                f"{p}_corrections",
                "People's corrections of question decisions (needs_reply, no_reply, rules: "
                "back to the rules), counted by the process holding the account.",
                "counter",
                ("brand", "channel", "direction"),
            )
        )
        self.billable = f.add(
            Family(
                f"{p}_api_billable",
                "Resources the API bills (X: post_read, owned_read, dm_event_read, activity_event, "
                "activity_dm_event), each once per UTC day, counted by the process holding the account.",
                "counter",
                ("brand", "channel", "account", "kind"),
            )
        )
        self.spend_month = f.add(
            Family(
                f"{p}_api_spend_month_dollars",
                "Estimated dollars the account's billed reads cost since the start of the UTC month.",
                "gauge",
                ("brand", "channel", "account"),
            )
        )
        self.budget_month = f.add(
            Family(
                f"{p}_api_monthly_budget_dollars",
                "The account's configured monthly_budget (only accounts that have one).",
                "gauge",
                ("brand", "channel", "account"),
            )
        )
        self.pace = f.add(
            Family(
                f"{p}_poll_pace_factor",
                "How many times its poll interval the account waits between polls to stay within its "
                "monthly budget (1: not slowed).",
                "gauge",
                ("brand", "channel", "account"),
            )
        )
        self.rejected = f.add(
            Family(
                f"{p}_items_rejected",
                "Items of a page set aside in quarantine (not messages), by reason.",
                "counter",
                ("channel", "stream", "reason"),
            )
        )
        peer = ("brand", "peer")
        self.peer_polls = f.add(
            Family(f"{p}_peer_poll", "Polls of a peer's recent search, by result.", "counter", (*peer, "result"))
        )
        self.peer_last_success = f.add(
            Family(
                f"{p}_peer_last_successful_poll_timestamp_seconds",
                "Unix time of the last successful poll of a peer's recent search.",
                "gauge",
                peer,
            )
        )
        self.peer_reads = f.add(
            Family(
                f"{p}_peer_reads_today",
                "Posts read for a peer since 00:00 UTC (billed by X, counted before each request).",
                "gauge",
                peer,
            )
        )
        self.peer_budget = f.add(
            Family(f"{p}_peer_read_budget", "Posts a peer may read a UTC day (its daily_reads).", "gauge", peer)
        )
        self.snapshot_ts = f.add(
            Family(
                f"{p}_snapshot_timestamp_seconds",
                "Unix time of the last read of the open waits from PostgreSQL.",
                "gauge",
            )
        )
        f.add(Family(f"{p}_build", "Version of inbox-monitor.", "info", ("version",))).labels(__version__)
        for ctx in accounts.values():
            for kind in WAIT_KINDS:
                for thread in THREAD_KINDS:
                    target = ctx.policy.targets_for(ctx.channel, thread).for_kind(kind)
                    self.sla_target.set((ctx.policy.name, ctx.channel, thread, kind), target)
        self.snapshot_ts.set((), 0.0)
        self.hold(set(accounts) | set(self.all_peers))
        if registry is not None:
            registry.register(f)

    def hold(self, account_ids: set[int]) -> None:
        """Export the series of these accounts only (the ones whose leases this process holds), so
        that sums across processes count each account once."""
        self.accounts = {i: c for i, c in self.all_accounts.items() if i in account_ids}
        self.peers = {i: c for i, c in self.all_peers.items() if i in account_ids}
        peers = {(c.brand, c.name) for c in self.peers.values()}
        for family in (self.peer_polls, self.peer_last_success, self.peer_reads, self.peer_budget):
            family.retain(lambda labels: (labels[0], labels[1]) in peers)
        for i, c in self.peers.items():
            self.peer_polls.labels(c.brand, c.name, "ok")
            self.peer_budget.set((c.brand, c.name), self.read_budgets.get(i, 0))
            self.peer_reads.labels(c.brand, c.name)
        names = {c.name for c in self.accounts.values()}
        for family in self.families.families:
            if "account" in family.labelnames:
                index = family.labelnames.index("account")
                family.retain(functools.partial(_label_in, index=index, names=names))
        for account_id, ctx in self.accounts.items():
            self.account_info.labels(ctx.brand, ctx.channel, ctx.name, ctx.policy.name, (ctx.handle or "").lstrip("@"))
            for kind in WAIT_KINDS:
                for family in (self.opened, self.answered, self.breached):
                    family.labels(ctx.brand, ctx.channel, ctx.name, kind)
            for direction in DIRECTIONS:
                self.corrections.labels(ctx.brand, ctx.channel, direction)
            if ctx.channel == "x":
                # zero until billed: rate() sees the first one
                for bkind in self.billable_kinds.get(account_id, BILLABLE_KINDS):
                    self.billable.labels(ctx.brand, ctx.channel, ctx.name, bkind)
        self.cost_changed(set(self.accounts))
        for t in self._targets:
            if t.account_id in self.accounts:
                labels = (t.brand, t.channel, t.account, t.stream)
                if labels not in self.credentials_valid.series:
                    self.credentials_valid.set(labels, 1)
                self.polls.labels(*labels, "ok")
                self.interval.set(labels, t.interval)
                for reason in REJECT_REASONS:  # zero until it happens: rate() sees the first one
                    self.rejected.labels(t.channel, t.stream, reason)
        self._zero_snapshot()

    def webhook(self, channel: str, result: str) -> None:
        """Count a webhook request (result: subscribed, ok, ignored, unknown_account, stale, replayed,
        rate_limited, bad_signature, bad_request, not_configured, unavailable)."""
        self.webhooks.inc((channel, result if result in WEBHOOK_RESULTS else "bad_request"))

    def corrected(self, account_id: int, direction: str) -> None:
        """A correction of one of the account's decisions was committed (by any process): count it
        if this process holds the account, and re-read the account's gauges now."""
        if account_id in self.accounts and direction in DIRECTIONS:
            ctx = self.accounts[account_id]
            self.corrections.inc((ctx.brand, ctx.channel, direction))
            self._touched(account_id)

    def render(self, openmetrics: bool = False, tail: bytes = b"") -> bytes:
        """This process's social_inbox_* metrics in the Prometheus text or OpenMetrics format,
        followed by `tail` (the other collectors' lines, in the same format)."""
        return self.families.render(openmetrics, tail)

    def watch(self, targets: Sequence[PollTarget]) -> None:
        """Export the pipeline state (polls, rate-limit budget, credentials) of these streams."""
        self._targets = list(targets)
        self.hold(set(self.accounts) | set(self.peers))

    def _labels(self, account_id: int, kind: str) -> Labels:
        ctx = self.accounts[account_id]
        return ctx.brand, ctx.channel, ctx.name, kind

    def poll_done(
        self, target: PollTarget, result: str, seconds: float, batch: Batch | None, ingest: IngestResult | None
    ) -> None:
        """PollObserver: count the poll and what its ingest opened and answered (a peer's: the poll
        only)."""
        peer = self.peers.get(target.account_id)
        if peer is not None:
            self.peer_polls.inc((peer.brand, peer.name, result if result in POLL_RESULTS else "error"))
            if result == "ok":
                self.peer_last_success.set((peer.brand, peer.name), time.time())
            return
        if target.account_id not in self.accounts:
            return  # a poll that ended after the lease went elsewhere
        labels = (target.brand, target.channel, target.account, target.stream)
        self.polls.inc((*labels, result if result in POLL_RESULTS else "error"))
        self.poll_duration.observe((target.channel, target.stream), seconds)
        if result == "ok":
            self.last_success.set(labels, time.time())
        if result in ("ok", "credentials_rejected"):
            self.credentials_valid.set(labels, 1 if result == "ok" else 0)
        if ingest is not None:
            self.ingested(ingest, target.channel)
            for reason, count in ingest.quarantined.items():
                self.rejected.inc(
                    (target.channel, target.stream, reason if reason in REJECT_REASONS else "bad_item"), count
                )
            if ingest.billable:
                self.billed(target.account_id, ingest.billable)

    def billed(self, account_id: int, billed: Mapping[str, int]) -> None:
        """Count what X newly billed for a held account (kind -> resources: a poll's reads, the
        X Activity events delivered for it) and set its spend gauges."""
        ctx = self.accounts.get(account_id)
        if ctx is None:
            return
        for bkind, count in billed.items():
            if bkind in BILLABLE_KINDS:
                self.billable.inc((ctx.brand, ctx.channel, ctx.name, bkind), count)
        self.cost_changed({account_id})

    def cost_changed(self, account_ids: set[int]) -> None:
        """Set the spend, budget and pace gauges of these held X accounts from `spending`."""
        if self.spending is None:
            return
        for account_id in account_ids:
            ctx = self.accounts.get(account_id)
            if ctx is None or ctx.channel != "x":
                continue
            labels = (ctx.brand, ctx.channel, ctx.name)
            self.spend_month.set(labels, self.spending.spent(account_id))
            self.pace.set(labels, self.spending.factor(account_id))
            budget = self.spending.budgets.get(account_id)
            if budget is not None:
                self.budget_month.set(labels, budget)

    def stream_changed(self, target: PollTarget, health: StreamHealth) -> None:
        """StreamObserver: why the stream waits and until when; since when it is polled, and its
        last success as PostgreSQL remembers it (after a restart or a takeover)."""
        if target.account_id not in self.accounts:
            return
        labels = (target.brand, target.channel, target.account, target.stream)
        if health.monitored_since is not None:
            self.monitored_since.set(labels, health.monitored_since.timestamp())
        if health.last_success is not None and labels not in self.last_success.series:
            self.last_success.set(labels, health.last_success.timestamp())
        wait = health.wait
        if wait is None:
            return
        self.next_poll.set(labels, wait.until.timestamp())
        for reason in WAIT_REASONS:
            if reason != wait.reason:
                self.waiting.remove((*labels, reason))
        self.waiting.set((*labels, wait.reason), 1)

    def ingested(self, ingest: IngestResult, channel: str) -> None:
        now = self.clock()
        for created in ingest.new_created_at:
            self.lag.observe((channel,), max(0.0, (now - created).total_seconds()))
        for event in ingest.opened:
            if event.account_id in self.accounts:
                self.opened.inc(self._labels(event.account_id, event.kind))
                self._touched(event.account_id)
        for event in ingest.answered:
            if event.account_id in self.accounts:
                self._answered(event)
                self._touched(event.account_id)

    def _answered(self, event: WaitEvent) -> None:
        labels = self._labels(event.account_id, event.kind)
        self.answered.inc(labels)
        ex = exemplar(event.message, event.url)
        brand_labels = (labels[0], labels[1], labels[3])
        if event.wall_seconds is not None:
            self.response.observe(brand_labels, event.wall_seconds, ex)
        if event.business_seconds is not None:
            self.response_business.observe(brand_labels, event.business_seconds, ex)

    def breaches(self, rows: Iterable[asyncpg.Record]) -> None:
        """Count waits that have just passed their deadline (from the deadline schedule)."""
        for row in rows:
            if row["account_id"] in self.accounts:
                self.breached.inc(self._labels(row["account_id"], row["kind"]))
                self._touched(row["account_id"])

    def _touched(self, account_id: int) -> None:
        """The account's open waits changed: the snapshot task reads its gauges again now."""
        self._dirty.add(account_id)
        self.changed.set()

    def take_touched(self) -> set[int]:
        """The held accounts whose open waits changed since the last call."""
        self.changed.clear()
        touched, self._dirty = self._dirty & set(self.accounts), set()
        return touched

    def _zero_snapshot(self) -> None:
        """Series for every held account (zero until the next snapshot says otherwise)."""
        for family in (self.open_waits, self.open_breached, self.open_at_risk, self.oldest, self.oldest_business):
            for c in self.accounts.values():
                for k in WAIT_KINDS:
                    family.labels(c.brand, c.channel, c.name, k)

    async def refresh(self, store: Store, account_ids: set[int] | None = None) -> None:
        """Read the open-wait gauges from PostgreSQL (one indexed query): of every held account
        and the sources' budgets, or of `account_ids` only (the ones an ingest just touched)."""
        now = self.clock()
        full = account_ids is None
        held = {i: c for i, c in self.accounts.items() if account_ids is None or i in account_ids}
        # Holding every account (one process), the query names none: the same rows, sooner.
        every = account_ids is None and len(held) == len(self.all_accounts)
        rows = await store.open_wait_summary(None if every else list(held), now)
        names = {c.name for c in self.accounts.values()}  # leases may have moved while the query ran
        values: tuple[dict[Labels, float], ...] = ({}, {}, {}, {}, {})
        opened, breached, at_risk, oldest, oldest_business = values
        for account in held.values():
            if account.name in names:
                for kind in WAIT_KINDS:
                    labels = (account.brand, account.channel, account.name, kind)
                    for v in values:
                        v[labels] = 0.0
        targets: dict[Labels, float] = {}
        deadlines: dict[Labels, float] = {}
        age = self._business_ages.age
        for r in rows:
            ctx = held.get(r["account_id"])
            if ctx is None or ctx.name not in names:  # an account no longer configured, or let go
                continue
            labels = (ctx.brand, ctx.channel, ctx.name, r["kind"])
            since = r["oldest_opened_at"]
            opened[labels] = r["open"]
            breached[labels] = r["breached"]
            at_risk[labels] = r["at_risk"]
            oldest[labels] = max(0.0, (now - since).total_seconds())
            oldest_business[labels] = age(ctx.policy.calendar, since, now) if since <= now else 0.0
            self._alert_facts(labels[:3], r, targets, deadlines)
        families = (self.open_waits, self.open_breached, self.open_at_risk, self.oldest, self.oldest_business)
        for family, v in zip(families, values, strict=True):
            if full:
                family.replace(v)
            else:
                for k, x in v.items():
                    family.set(k, x)
        if full:
            self._business_ages.forget_unseen()
            self.open_targets.replace(targets)
            self.at_risk_deadline.replace(deadlines)
        else:
            read = {ctx.name for ctx in held.values()}
            for family, facts in ((self.open_targets, targets), (self.at_risk_deadline, deadlines)):
                family.retain(functools.partial(_label_not_in, index=2, names=read))
                for key, value in facts.items():
                    family.set(key, value)
        if account_ids is None and self.peers:
            today = self.clock().astimezone(UTC).date()
            counted = {r.account_id: r.reads for r in await PeerStore(store.pool).reads(list(self.peers), today)}
            self.peer_reads.replace({(c.brand, c.name): counted.get(i, 0) for i, c in self.peers.items()})
        if account_ids is None:
            self.rate_limit.replace(
                {
                    (t.brand, t.channel, t.account, endpoint): float(value)
                    for t in self._targets
                    if t.account_id in self.accounts
                    for endpoint, value in t.source.rate_budget().remaining.items()
                }
            )
            self.snapshot_ts.set((), time.time())
            self.cost_changed(set(self.accounts))  # the pace follows the days passing too
        self.families.prerender()  # the gauges just changed: render them here, not in the next scrape

    @staticmethod
    def _alert_facts(
        account: Labels, row: asyncpg.Record, targets: dict[Labels, float], deadlines: dict[Labels, float]
    ) -> None:
        """Add a row's facts for the alert texts: the shortest and longest targets of the breached
        and at-risk waits, and the first at-risk deadline, per account (across the kinds, first
        and next). Accounts without such waits get no series."""
        for column, state, bound, pick in ALERT_FACT_COLUMNS:
            value = row[column]
            if value is not None:
                key = (*account, state, bound)
                known = targets.get(key)
                targets[key] = value if known is None else pick(known, value)
        at = row["at_risk_deadline"]
        if at is not None:
            stamp = at.timestamp()
            known = deadlines.get(account)
            deadlines[account] = stamp if known is None else min(known, stamp)
