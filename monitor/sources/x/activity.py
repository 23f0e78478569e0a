"""The X Activity API's persistent stream (`GET /2/activity/stream`): one connection per X app,
each event routed to its account and turned into a nudge of that account's polled streams (and
what X bills for it, counted through the engine).

Why a nudge and not an ingest, the keep-alive and the reconnection rules: docs/webhooks.md,
"X Activity API"."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp
from aiohttp.http_exceptions import LineTooLong
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from monitor.domain.cost import BillableRead
from monitor.domain.model import Message
from monitor.runtime import REAL_TIME, Backoff, Health, Supervised, Timer
from monitor.secrets import EnvSecret
from monitor.sources.webhooks import XAA_EVENTS, read_xaa
from monitor.sources.x.activity_events import CHAT_EVENTS, ActivityEvent, ActivityEventError, parse_line
from monitor.sources.x.activity_unsaved import MAX_UNSAVED_EVENTS, Unsaved, UnsavedEvents
from monitor.store.db import DATABASE_ERRORS

log = logging.getLogger(__name__)

STREAM_PATH = "/2/activity/stream"
DEFAULT_API_BASE = "https://api.x.com"

EVENT_KINDS = (*XAA_EVENTS, *CHAT_EVENTS)
"""The event types we use (what each means: `webhooks.read_xaa`, shared with /webhooks/x)."""
OTHER = "other"
"""The `kind` label of an event of another type (a bounded label set)."""

KEEPALIVE_SECONDS = 30.0
"""Reconnect after this long without a line. X sends a blank line every 20 s and says to reconnect
when 20 s pass without one (x-api/fundamentals/handling-disconnections.mdx); a timeout of exactly
20 s races the heartbeat itself (seen on the fake), so 10 s of slack for a slow network."""
MAX_LINE_BYTES = 1 << 20
"""Bytes of one event line (aiohttp's read buffer: it refuses a line past twice this). A post
event carries the whole post and its `includes` (users, referenced posts): tens of KB at most; a
longer line is no event of ours, and an outside party must not make us buffer without end."""
RECONNECT_BASE_SECONDS = 5.0
RECONNECT_CAP_SECONDS = 320.0
"""Backoff after a failed (re)connection: X's advice for HTTP errors starts at 5 s, doubles, and
stops at 320 s. A connection that ended after it was established is reopened at once."""
RETRY_BUDGET_SECONDS = 5.0
"""How long one retry stores kept events (after an outage) before the stream is read again: X
drops a client that reads too slowly (handling-disconnections.mdx), and lines wait meanwhile. A
quarter of X's 20 s heartbeat. An event's transaction takes about 1 ms (docs/cost.md): some
5,000 events a line, so a full queue (60,000) is stored within 12 keep-alives (4 minutes) even
while the account is quiet."""
HOLD_CHECK_SECONDS = 1.0
"""How often a process that does not hold the app's lease looks again (a lease change wakes it
sooner)."""


@dataclass(frozen=True)
class Routed:
    """What events mean for the accounts."""

    polls: dict[int, set[str]]
    """Account id -> streams to poll now."""
    chats: list[tuple[int, Message]]
    """(account id, encrypted chat message) to store."""
    billable: list[tuple[int, BillableRead]] = field(default_factory=list)
    """(account id, what X billed for an event) to count."""

    def ingests(self) -> dict[int, tuple[list[Message], list[BillableRead]]]:
        """Account id -> (chats, billable reads) to ingest for it, in one transaction each."""
        out: dict[int, tuple[list[Message], list[BillableRead]]] = {}
        for account_id, message in self.chats:
            out.setdefault(account_id, ([], []))[0].append(message)
        for account_id, read in self.billable:
            out.setdefault(account_id, ([], []))[1].append(read)
        return out


def route(events: Iterable[ActivityEvent], accounts: Mapping[str, Sequence[int]]) -> Routed:
    """What events mean for the accounts (X user id -> account ids): the streams to poll now per
    account, a set union (the same in any order and with any event repeated), the chats to
    store (stored once however often they come: the store keeps a message by its id), and what
    X bills (counted once per resource and UTC day however often it comes). An event of a user no
    account has is nobody's: neither stored nor counted."""
    polls: dict[int, set[str]] = {}
    chats: list[tuple[int, Message]] = []
    billable: list[tuple[int, BillableRead]] = []
    for event in events:
        delivery = read_xaa(event)
        for nudge in delivery.nudges:
            for account_id in accounts.get(nudge.key, ()):
                polls.setdefault(account_id, set()).update(nudge.streams)
        for chat in delivery.chats:
            chats += [(account_id, chat.message) for account_id in accounts.get(chat.key, ())]
        for bill in delivery.billable:
            billable += [(account_id, bill.read) for account_id in accounts.get(bill.key, ())]
    return Routed(polls, chats, billable)


@dataclass(frozen=True)
class StreamAccount:
    """One account the connection serves."""

    account_id: int
    name: str
    brand: str
    user_id: str
    streams: tuple[str, ...]
    """Its polled streams: all are nudged when the connection (re)opens."""


Deliver = Callable[[int, Sequence[str]], Awaitable[None]]
"""(account id, streams) -> make those streams poll now, in whichever process polls them."""
Ingest = Callable[[int, Sequence[Message], Sequence[BillableRead]], Awaitable[None]]
"""(account id, messages, billable reads) -> store the messages (encrypted chats: no poll reads
them) and count what X billed for the events (docs/cost.md), in one transaction."""


@dataclass
class StreamState:
    """The connection as the metrics show it."""

    connected: bool = False
    connections: int = 0
    last_data: float | None = None
    """Unix time of the last line (an event or a keep-alive)."""
    events: dict[tuple[str, str], int] = field(default_factory=dict)
    """(user id, kind) -> events received."""
    unsaved: UnsavedEvents = field(default_factory=UnsavedEvents)
    """What events brought and PostgreSQL could not store yet, retried in order."""
    unsaved_since: int = 0
    """Events dropped from `unsaved` since it was last empty (logged once, then on recovery)."""
    unsaved_failing: bool = False
    """The last store of a kept event failed (logged once, and once when all are stored)."""


class ActivityStream:
    """The persistent stream of one X app (its bearer token and API host)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        accounts: Sequence[StreamAccount],
        *,
        bearer_token: EnvSecret,
        deliver: Deliver,
        holds: Callable[[], bool],
        ingest: Ingest | None = None,
        api_base_url: str | None = None,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
        backoff: Backoff | None = None,
        timer: Timer = REAL_TIME,
        max_unsaved: int = MAX_UNSAVED_EVENTS,
        retry_budget_seconds: float = RETRY_BUDGET_SECONDS,
    ) -> None:
        self.session = session
        self.accounts = list(accounts)
        self.by_user: dict[str, list[int]] = {}
        for a in self.accounts:
            self.by_user.setdefault(a.user_id, []).append(a.account_id)
        self.bearer_token = bearer_token
        self.deliver = deliver
        self.ingest = ingest
        self.holds = holds
        """True while this process holds the lease that lets it open the app's connection."""
        self.url = (api_base_url or DEFAULT_API_BASE).rstrip("/") + STREAM_PATH
        self.keepalive_seconds = keepalive_seconds
        self.state = StreamState(unsaved=UnsavedEvents(max_unsaved))
        self.retry_budget_seconds = retry_budget_seconds
        self.supervised = Supervised(
            "x activity stream",
            self.step,
            interval_seconds=HOLD_CHECK_SECONDS,
            backoff=backoff or Backoff(base_seconds=RECONNECT_BASE_SECONDS, cap_seconds=RECONNECT_CAP_SECONDS),
            expected=(aiohttp.ClientError, TimeoutError, ActivityEventError),
            timer=timer,
            health=Health(
                "x activity stream",
                log,
                {"accounts": len(self.accounts), "first_account": self.accounts[0].name if self.accounts else ""},
                failing_message="x activity stream disconnected",
                recovered_message="x activity stream connected again",
            ),
        )

    async def step(self) -> float | None:
        """Connect and read until the connection ends (then reconnect at once), or, without the
        lease, look again later (and retry what is not stored yet: any process can store it)."""
        if not self.holds():
            await self._retry()
            return None
        token = self.bearer_token.get()
        if not token:
            raise aiohttp.ClientError("the bearer token's environment variable is empty")
        timeout = aiohttp.ClientTimeout(total=None, connect=self.keepalive_seconds, sock_read=self.keepalive_seconds)
        async with self.session.get(
            self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout, read_bufsize=MAX_LINE_BYTES
        ) as response:
            if response.status != 200:
                raise aiohttp.ClientResponseError(
                    response.request_info, (), status=response.status, message="the stream was refused"
                )
            self.state.connected = True
            self.state.connections += 1
            try:
                # Events sent while we were away are lost: the polls read what they announced.
                for account in self.accounts:
                    await self.deliver(account.account_id, account.streams)
                lines = await self._read(response)
            finally:
                self.state.connected = False
        if not lines:  # refused in all but name: reconnecting at once would loop
            raise aiohttp.ClientError("the stream ended before its first line")
        return 0.0

    async def _read(self, response: aiohttp.ClientResponse) -> int:
        """Route each line until the connection ends or the lease is gone; the lines read."""
        lines = 0
        while self.holds():
            try:
                line = await response.content.readuntil(b"\n")
            except (ValueError, LineTooLong):  # aiohttp: the line passed twice the read buffer
                raise ActivityEventError(f"a line longer than {2 * MAX_LINE_BYTES} bytes") from None
            except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError):
                return lines  # dropped (a deploy on X's side): reopened at once if it was working
            if not line:
                return lines  # the server closed the stream
            lines += 1
            self.state.last_data = time.time()
            line = line.strip()
            if not line:
                await self._retry()  # keep-alive: every 20 s, so a quiet account does not wait for an event
                continue
            try:
                event = parse_line(line)
            except ActivityEventError as exc:
                log.warning("x activity event skipped", extra={"error": str(exc)})
                continue
            kind = event.event_type if event.event_type in EVENT_KINDS else OTHER
            key = (event.user_id or "", kind)
            self.state.events[key] = self.state.events.get(key, 0) + 1
            routed = route([event], self.by_user)
            for account_id, streams in routed.polls.items():
                await self.deliver(account_id, sorted(streams))
            for account_id, (messages, billable) in routed.ingests().items():
                await self._ingest(account_id, messages, billable)
        return lines

    async def _ingest(self, account_id: int, messages: Sequence[Message], billable: Sequence[BillableRead]) -> None:
        """Store a chat and count what X billed for the event, after what earlier events could not
        store (X does not send an event twice on a stream: kept until stored, never fatal to the
        connection)."""
        if self.ingest is None:
            return
        dropped = self.state.unsaved.push(Unsaved(account_id, messages, billable))
        if dropped is not None:
            self.state.unsaved_since += 1
            if self.state.unsaved_since == 1:
                log.warning(
                    "x activity unsaved events dropped",
                    extra={"account_id": dropped.account_id, "limit": self.state.unsaved.limit},
                )
        await self._retry()

    async def _retry(self) -> None:
        """Store the kept events, oldest first, until one fails or `RETRY_BUDGET_SECONDS` pass
        (the rest wait for the next line, or the next lease check without the lease)."""
        unsaved = self.state.unsaved
        deadline = time.monotonic() + self.retry_budget_seconds
        while self.ingest is not None and (event := unsaved.first()) is not None:
            try:
                await self.ingest(event.account_id, event.messages, event.billable)
            except (*DATABASE_ERRORS, TimeoutError) as exc:
                if not self.state.unsaved_failing:
                    self.state.unsaved_failing = True
                    log.warning("x activity events not stored, kept", extra={"error": type(exc).__name__})
                return
            except Exception:
                unsaved.done(event)  # not a database's failure: retrying would block the queue for ever
                raise
            unsaved.done(event)
            if len(unsaved) and time.monotonic() >= deadline:
                return  # the stream is read again; the next line goes on
        if self.state.unsaved_failing:
            log.info("x activity events stored again", extra={"dropped": self.state.unsaved_since})
        self.state.unsaved_failing = False
        self.state.unsaved_since = 0

    async def close(self) -> None:
        """At shutdown (the stream stopped): one last try to store the kept events; what is
        still kept is lost with the process, and logged as an error."""
        await self._retry()
        if len(self.state.unsaved):
            log.error("x activity events lost at shutdown", extra={"events": len(self.state.unsaved)})


class ActivityCollector:
    """The streams' state, per account they serve, in this process (no I/O):

    social_inbox_x_activity_stream_up{brand,channel,account} 1 (open) or 0 (this process should
        hold it open and does not)
    social_inbox_x_activity_stream_connections_total{brand,channel,account}
    social_inbox_x_activity_last_data_timestamp_seconds{brand,channel,account}
    social_inbox_x_activity_events_total{brand,channel,account,kind}
    Only the process holding a stream's lease exports these; every process exports (its kept
    events outlive the lease):
    social_inbox_x_activity_unsaved_events{brand,channel,account} events not stored yet
    social_inbox_x_activity_events_dropped_total{brand,channel,account} dropped unsaved (full)"""

    def __init__(self, streams: Sequence[ActivityStream]) -> None:
        self.streams = list(streams)

    def collect(self) -> Iterator[Metric]:
        labels = ["brand", "channel", "account"]
        up = GaugeMetricFamily(
            "social_inbox_x_activity_stream_up", "X Activity stream connection open (1) or not (0).", labels=labels
        )
        conns = CounterMetricFamily(
            "social_inbox_x_activity_stream_connections",
            "X Activity stream connections opened.",
            labels=labels,
        )
        last = GaugeMetricFamily(
            "social_inbox_x_activity_last_data_timestamp_seconds",
            "Unix time of the X Activity stream's last line (event or keep-alive).",
            labels=labels,
        )
        events = CounterMetricFamily(
            "social_inbox_x_activity_events", "X Activity events received, by type.", labels=[*labels, "kind"]
        )
        unsaved = GaugeMetricFamily(
            "social_inbox_x_activity_unsaved_events",
            "X Activity events not stored yet (PostgreSQL away), retried in order.",
            labels=labels,
        )
        dropped = CounterMetricFamily(
            "social_inbox_x_activity_events_dropped",
            "X Activity events dropped unsaved: the queue of events not stored yet was full.",
            labels=labels,
        )
        for stream in self.streams:
            s = stream.state
            for a in stream.accounts:
                key = [a.brand, "x", a.name]
                unsaved.add_metric(key, s.unsaved.held.get(a.account_id, 0))
                dropped.add_metric(key, s.unsaved.dropped.get(a.account_id, 0))
            if not stream.holds():
                continue
            for a in stream.accounts:
                key = [a.brand, "x", a.name]
                up.add_metric(key, 1.0 if s.connected else 0.0)
                conns.add_metric(key, s.connections)
                if s.last_data is not None:
                    last.add_metric(key, s.last_data)
                for (user, kind), n in sorted(s.events.items()):
                    if user == a.user_id:
                        events.add_metric([*key, kind], n)
        yield from (up, conns, last, events, unsaved, dropped)


async def run_streams(streams: Sequence[ActivityStream]) -> None:
    """Run every stream until cancelled."""
    await asyncio.gather(*(s.supervised.run() for s in streams))
