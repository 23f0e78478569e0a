"""The one place that wires things together: store, engine, sources, poller, deadlines, metrics, HTTP."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

import aiohttp
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily

from monitor.config import Config, GraphAccount, XAccount
from monitor.database import open_store as open_store  # re-exported: the commands open the store from here
from monitor.database import register
from monitor.deadlines import DeadlineScheduler
from monitor.domain.cost import BillableRead
from monitor.domain.mentions import Mention
from monitor.domain.model import Message
from monitor.engine import AccountContext, Engine
from monitor.leases import LeaseManager
from monitor.metrics import Metrics
from monitor.poller import Poller, PollTarget
from monitor.reports.schedule import ReportScheduler
from monitor.runtime import Backoff, Monotonic, Supervised, utcnow
from monitor.secrets import EnvSecret
from monitor.server import HttpServer, Webhooks
from monitor.sources import build_sources
from monitor.sources.x.activity import ActivityCollector, ActivityStream, Deliver, Ingest, StreamAccount
from monitor.sources.x.chats import CHAT_STREAM
from monitor.sources.x.peers import build_peer_source
from monitor.sources.x.streams import billable_kinds
from monitor.spending import Spending
from monitor.store import mentions, nudges
from monitor.store.db import DATABASE_ERRORS
from monitor.store.leases import LeaseStore
from monitor.store.mentions import MentionInbox
from monitor.store.store import Store

log = logging.getLogger(__name__)


async def prepare(config: Config, store: Store) -> tuple[Engine, dict[str, int]]:
    """Apply migrations, register the configured accounts; the engine and the accounts' ids."""
    registered = await register(config, store)
    ids = registered.accounts
    policies = {name: config.policy(name) for name in config.policies}
    contexts = {
        ids[a.name]: AccountContext(
            ids[a.name], a.name, brand, a.channel, policies[a.policy], a.handle, config.attribution(brand, a.policy)
        )
        for brand, a in config.accounts()
    }
    peer_ids = registered.peers
    ids = {**ids, **peer_ids}
    peer_contexts = {
        peer_ids[p.account_name]: AccountContext(peer_ids[p.account_name], p.label, p.brand, "x", policies[p.policy])
        for p in config.peers()
    }
    return Engine(store, contexts, peers=peer_contexts), ids


@dataclass
class Running:
    """What `run` started, for tests and the demo to look at."""

    engine: Engine
    poller: Poller
    metrics: Metrics
    scheduler: DeadlineScheduler
    server: HttpServer
    registry: CollectorRegistry
    leases: LeaseManager


async def run(
    config: Config,
    stop: asyncio.Event,
    *,
    started: Callable[[Running], Awaitable[None] | None] | None = None,
    stopped: Callable[[Store], Awaitable[None]] | None = None,
) -> None:
    """`inbox-monitor run`: poll every account until `stop` is set. `stopped` is called once
    everything has stopped, with the store still open (the demo reads its last figures there
    rather than starting the embedded PostgreSQL again)."""
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(config))
        if stopped is not None:
            stack.push_async_callback(stopped, store)
        engine, ids = await prepare(config, store)
        registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=registry)
        registry.register(_TaskCollector())
        # rendered by the server, with `registry` after it
        budgets = {ids[p.account_name]: p.daily_reads for p in config.peers()}
        kinds = {ids[a.name]: billable_kinds(a) for _, a in config.accounts() if isinstance(a, XAccount)}
        metrics = Metrics(
            engine.accounts, peers=engine.peers, read_budgets=budgets, billable_kinds=kinds, registry=None
        )
        session = await stack.enter_async_context(aiohttp.ClientSession())
        targets = [
            PollTarget(
                ids[account.name],
                account.name,
                brand,
                account.channel,
                source,
                account.poll_interval.total_seconds(),
                STREAM_NUDGE_GAP_SECONDS
                if isinstance(account, XAccount) and account.activity_mode() == "stream"
                else None,
            )
            for brand, account in config.accounts()
            for source in build_sources(account, session, mentions=MentionInbox(store.pool, ids[account.name]))
        ]
        targets += peer_targets(config, ids, engine, session)
        for target in targets:
            stack.push_async_callback(target.source.close)
        metrics.watch(targets)
        spending = Spending(
            config.x.pricing.prices(),
            {ids[a.name]: a.monthly_budget for _, a in config.accounts() if isinstance(a, XAccount)},
        )
        await spending.load(store.pool)
        metrics.spending = spending
        scheduler = DeadlineScheduler(store, [], on_breach=metrics.breaches)
        metrics.hold(set())

        async def leases_changed(gained: set[int], lost: set[int]) -> None:
            await poller.deactivate(lost)
            if gained:  # what other processes counted for these accounts this month
                await spending.load(store.pool)
            metrics.hold(set(leases.held))
            scheduler.account_ids = sorted(set(leases.held) & set(engine.accounts))  # a peer never alerts
            scheduler.wake()
            for stream in streams:
                stream.supervised.wake()  # the lease of its connection may have come or gone
            await poller.activate(gained)
            if gained or lost:
                log.info("accounts held", extra={"held": len(leases.held), "gained": len(gained), "lost": len(lost)})

        leases = LeaseManager(
            LeaseStore(store.pool),
            [*engine.accounts, *engine.peers],
            on_change=leases_changed,
            ttl=config.server.lease_time.total_seconds(),
        )
        poller = Poller(
            engine,
            targets,
            observers=[spending, metrics, scheduler],  # spending first: the metrics read its new spend
            stream_observers=[metrics],
            may_poll=leases.holds,
            pace=spending.factor,
        )

        def corrected(account_id: int, direction: str) -> None:
            """A correction committed by any process: the holder counts it and re-reads the account."""
            metrics.corrected(account_id, direction)
            if account_id in leases.held:
                scheduler.wake()  # a question the correction opened may be due already

        everywhere = nudger(store, poller)

        async def stream_nudge(account_id: int, names: Sequence[str]) -> None:
            """Here when this process polls the account (no round trip through PostgreSQL)."""
            if not poller.nudge(account_id, names):
                await everywhere(account_id, names)

        count_billed = BilledCounter(leases.holds, spending, metrics, store)
        ingest = activity_ingester(engine, metrics, scheduler.wake, count_billed.anywhere)
        streams = activity_streams(config, ids, targets, session, stream_nudge, leases, ingest)
        registry.register(ActivityCollector(streams))

        server = HttpServer(
            config.server.host,
            config.server.port,
            store=store,
            poller=poller,
            metrics=metrics,
            registry=registry,
            webhooks=webhooks(config, ids, store, poller, metrics, engine=engine, ingest=ingest),
            engine=engine,
            api_token=EnvSecret(config.server.api.token_env),
        )
        await server.start()
        stack.push_async_callback(server.stop)
        reports = ReportScheduler(store, config, session=session)
        background = {
            "snapshot": snapshot_refresher(metrics, store, config.server.snapshot_interval.total_seconds()),
            "deadlines": scheduler.supervised,
            "leases": leases.supervised,
            "notices": nudges.listener(store.pool, poller.nudge, corrected=corrected, billed=count_billed.here),
            **{f"x-activity-{i}": stream.supervised for i, stream in enumerate(streams)},
        }
        tasks = [asyncio.create_task(step.run(), name=name) for name, step in background.items()]
        tasks += [
            asyncio.create_task(_started(leases, poller), name="started"),
            asyncio.create_task(reports.run(), name="reports"),
        ]
        stack.push_async_callback(leases.leave)  # runs last: polls have stopped
        for stream in streams:  # after the tasks are cancelled, before the lease and the pool go
            stack.push_async_callback(stream.close)
        stack.push_async_callback(_cancel, tasks)
        stack.push_async_callback(_stop, [*background.values(), reports.supervised])
        stack.push_async_callback(poller.stop)
        log.info(
            "running",
            extra={
                "accounts": len(engine.accounts),
                "streams": len(targets),
                "listen": f"{server.host}:{server.port}",
                "holder": leases.holder,
            },
        )
        if started is not None:
            maybe = started(Running(engine, poller, metrics, scheduler, server, registry, leases))
            if maybe is not None:
                await maybe
        await stop.wait()
        log.info("stopping")


def peer_targets(
    config: Config, ids: dict[str, int], engine: Engine, session: aiohttp.ClientSession
) -> list[PollTarget]:
    """The peers' streams (docs/peers.md): recent search within each peer's daily read budget."""
    targets = []
    for peer in config.peers():
        account_id = ids[peer.account_name]
        source = build_peer_source(peer, account_id, session, engine.peer_store)
        if source is not None:
            name = peer.account_name
            targets.append(PollTarget(account_id, name, peer.brand, "x", source, peer.poll_interval.total_seconds()))
    return targets


class _TaskCollector:
    """`social_inbox_asyncio_tasks`: tasks alive in the event loop (a leak shows as growth)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("social_inbox_asyncio_tasks", "Tasks alive in the event loop.")
        try:
            family.add_metric([], len(asyncio.all_tasks()))
        except RuntimeError:  # no running loop (a registry read outside the server)
            family.add_metric([], 0)
        yield family


def webhooks(
    config: Config,
    ids: dict[str, int],
    store: Store,
    poller: Poller,
    metrics: Metrics,
    *,
    engine: Engine | None = None,
    ingest: Ingest | None = None,
) -> Webhooks:
    """The webhook endpoints' view of the configuration: a delivery nudges the streams it names in
    whichever process polls them (a NOTIFY through PostgreSQL; this process alone when it is away);
    the encrypted chats it carries and what X bills for it go to `ingest` (no poll reads them),
    and its Messenger echoes say which app sent the Pages' replies (stored by the engine)."""
    settings = config.server.webhooks
    app_secrets = dict.fromkeys(
        [settings.facebook_app_secret_env]
        + [a.app_secret_env for _, a in config.accounts() if isinstance(a, GraphAccount)]
    )
    accounts: dict[tuple[str, str], list[int]] = {}
    for _, a in config.accounts():
        accounts.setdefault((a.channel, a.external_id), []).append(ids[a.name])
    deliver = nudger(store, poller)

    async def remember(account_id: int, found: Sequence[Mention]) -> None:
        await asyncio.wait_for(mentions.remember(store.pool, account_id, found, at=utcnow()), timeout=2)

    return Webhooks(
        facebook_verify_token=EnvSecret(settings.facebook_verify_token_env),
        facebook_app_secrets=[EnvSecret(name) for name in app_secrets if name],
        x_consumer_secret=EnvSecret(settings.x_consumer_secret_env),
        accounts=accounts,
        deliver=deliver,
        remember=remember,
        ingest=ingest,
        record_apps=engine.record_apps if engine is not None else None,
        counted=metrics.webhook,
    )


Billed = Callable[[int, Mapping[str, int]], Awaitable[None]]
"""(account id, kind -> resources newly billed) -> count them in the process holding the account."""


@dataclass
class BilledCounter:
    """What X billed for an account outside its polls (X Activity events, received by any process)
    counted in its counter and budget's spend by the process holding it."""

    holds: Callable[[int], bool]
    spending: Spending
    metrics: Metrics
    store: Store

    def here(self, account_id: int, billed: Mapping[str, int]) -> None:
        """Count it when this process holds the account (a billed notice's listener too)."""
        if self.holds(account_id):
            self.spending.add(account_id, billed)  # first: the metrics read its new spend
            self.metrics.billed(account_id, billed)

    async def anywhere(self, account_id: int, billed: Mapping[str, int]) -> None:
        """Here when this process holds the account, else a NOTIFY to the one that does."""
        if self.holds(account_id):
            self.here(account_id, billed)
            return
        try:
            await asyncio.wait_for(
                nudges.publish_billed(self.store.pool, account_id, dict(billed)), timeout=NUDGE_PUBLISH_SECONDS
            )
        except DATABASE_ERRORS as exc:  # stored all the same: the holder's spend catches up on reload
            log.warning("billed notice not sent", extra={"error": type(exc).__name__})


ACTIVITY_INGEST_SECONDS = 2.0
"""Time allowed to store what an X Activity event brings: X gives up on a webhook's answer after
10 s, and a stream that stops reading is dropped by X."""


def activity_ingester(engine: Engine, metrics: Metrics, woken: Callable[[], None], billed: Billed) -> Ingest:
    """Store encrypted chats and count what X billed for the X Activity events (a webhook's or the
    stream's: no poll reads them), in one transaction; the newly billed resources go to `billed`."""

    async def ingest(account_id: int, messages: Sequence[Message], billable: Sequence[BillableRead]) -> None:
        result = await asyncio.wait_for(
            engine.ingest(account_id, CHAT_STREAM, messages, None, billable=billable), timeout=ACTIVITY_INGEST_SECONDS
        )
        metrics.ingested(result, "x")  # counted here when this process holds the account
        if result.billable:
            await billed(account_id, result.billable)
        if result.threads_touched:
            woken()  # a new wait's deadline may come before the schedule looks again

    return ingest


STREAM_NUDGE_GAP_SECONDS = 0.2
"""Seconds between two polls of a stream that X Activity events bring forward (a webhook's: 1 s).
An event announces one post that exists now, so a poll soon after it finds it; under a burst the
stream polls 5 times a second at most, and the rate budget spaces the polls further when the
window runs short (docs/webhooks.md, "X Activity API")."""

NUDGE_PUBLISH_SECONDS = 2.0
"""Time allowed to publish a nudge through PostgreSQL: Meta and X give up on a slow webhook
answer (and retry), and a stream that stops reading is dropped by X."""


def nudger(store: Store, poller: Poller) -> Deliver:
    """Make an account's streams poll now in whichever process polls them (a NOTIFY through
    PostgreSQL; this process alone when it is away)."""

    async def deliver(account_id: int, streams: Sequence[str]) -> None:
        try:
            await asyncio.wait_for(nudges.publish(store.pool, account_id, streams), timeout=NUDGE_PUBLISH_SECONDS)
        except DATABASE_ERRORS:
            poller.nudge(account_id, streams)

    return deliver


def activity_streams(
    config: Config,
    ids: dict[str, int],
    targets: Sequence[PollTarget],
    session: aiohttp.ClientSession,
    deliver: Deliver,
    leases: LeaseManager,
    ingest: Ingest | None = None,
) -> list[ActivityStream]:
    """One X Activity stream per X app (bearer token and API host) with accounts in `stream` mode,
    opened by the process holding the lease of the app's first account: never twice at once."""
    apps: dict[tuple[str | None, str | None], list[StreamAccount]] = {}
    for brand, a in config.accounts():
        if not isinstance(a, XAccount) or a.activity_mode() != "stream":
            continue
        account_id = ids[a.name]
        polled = tuple(sorted(t.stream for t in targets if t.account_id == account_id))
        apps.setdefault((a.api_base_url, a.bearer_token_env), []).append(
            StreamAccount(account_id, a.name, brand, a.user_id, polled)
        )
    streams = []
    for (base, token_env), members in apps.items():
        lead = min(m.account_id for m in members)
        streams.append(
            ActivityStream(
                session,
                members,
                bearer_token=EnvSecret(token_env),
                deliver=deliver,
                ingest=ingest,
                holds=functools.partial(leases.holds, lead),
                api_base_url=base,
            )
        )
    return streams


async def _started(leases: LeaseManager, poller: Poller) -> None:
    """Ready once the first lease round is done (the pollers of the accounts held have started)."""
    await leases.ready.wait()
    poller.started.set()


def snapshot_refresher(
    metrics: Metrics,
    store: Store,
    interval_seconds: float,
    *,
    coalesce_seconds: float = 0.2,
    monotonic: Monotonic = time.monotonic,
) -> Supervised:
    """Keeps the gauges' snapshot fresh: every held account each `interval_seconds`, and the
    accounts an ingest or a breach just touched as soon as it happens (a burst read together,
    `coalesce_seconds` after its first change)."""
    next_full = monotonic()

    async def step() -> float:
        nonlocal next_full
        now = monotonic()
        touched = metrics.take_touched()
        if now < next_full and not touched:
            return next_full - now
        due, next_full = next_full, now  # should this read fail, the next one reads every account
        if now >= due:
            await metrics.refresh(store)
            due = now + interval_seconds
        else:
            await metrics.refresh(store, touched)
        next_full = due
        return max(0.0, next_full - monotonic())

    return Supervised(
        "metrics snapshot",
        step,
        interval_seconds=interval_seconds,
        expected=DATABASE_ERRORS,
        backoff=Backoff(base_seconds=min(1.0, interval_seconds), cap_seconds=interval_seconds),
        wake=metrics.changed,
        settle_seconds=coalesce_seconds,
        logger=log,
    )


async def _stop(steps: list[Supervised]) -> None:
    await asyncio.gather(*(step.stop() for step in steps))


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
