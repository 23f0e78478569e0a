"""Done-when 4 of issue 19: over a scripted day on the fake X API, what `cost` counts equals what
the fake billed, to the unit (repeat reads of a UTC day, a restart and DMs included)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
from prometheus_client import CollectorRegistry

from monitor.app import BilledCounter, activity_ingester
from monitor.backfill import backfill
from monitor.config import XAccount
from monitor.domain.cost import BillableRead, Prices
from monitor.domain.model import Message
from monitor.engine import Engine
from monitor.metrics import Metrics
from monitor.poller import Poller, PollTarget
from monitor.reports.build import ReportRequest, build_report
from monitor.reports.period import period_between
from monitor.reports.render import render
from monitor.runtime import Backoff, Clock, SleepTimer
from monitor.secrets import EnvSecret
from monitor.simulator.x_api import FakeXApi, UserKeys
from monitor.sources.demo import DemoSource
from monitor.sources.x import x_sources
from monitor.sources.x.activity import ActivityStream, StreamAccount
from monitor.spending import Spending, account_costs
from monitor.store.cost import count_billable
from monitor.store.reports import ReportStore
from monitor.store.store import Store
from tests.integration.helpers import engine_for
from tests.waiting import cli, cli_env, eventually

DAY = datetime(2026, 6, 1, tzinfo=UTC)
BRAND_ID, CUSTOMER_ID = "500", "900"
ENV = {"X_BEARER": "bearer", "X_CK": "ck", "X_CS": "cs", "X_AT": "500-access", "X_ATS": "ats"}


def scripted_fake(now: list[datetime]) -> FakeXApi:
    """The fake X API on the scripted clock, with the brand (its app's keys) and a customer."""
    fake = FakeXApi(
        clock=lambda: now[0].timestamp(), limits={"mentions": 10_000, "tweets": 10_000, "dm_events": 10_000}
    )
    fake.add_user(BRAND_ID, "brand")
    fake.add_user(CUSTOMER_ID, "customer")
    fake.add_bearer_token(ENV["X_BEARER"])
    fake.add_user_keys(UserKeys(BRAND_ID, ENV["X_CK"], ENV["X_CS"], ENV["X_AT"], ENV["X_ATS"]))
    return fake


def brand_account(base: str) -> XAccount:
    """The brand's X account on the fake, DMs read too."""
    return XAccount(
        name="brand-x",
        channel="x",
        user_id=BRAND_ID,
        bearer_token_env="X_BEARER",
        api_base_url=base,
        dm=True,
        consumer_key_env="X_CK",
        consumer_secret_env="X_CS",
        access_token_env="X_AT",
        access_token_secret_env="X_ATS",
    )


PollAll = Callable[[dict[str, str | None]], Awaitable[None]]


def poller_of(
    engine: Engine, account: XAccount, session: aiohttp.ClientSession, observers: list[Spending | Metrics], clock: Clock
) -> PollAll:
    """One poll of every stream of the account, as the poller does it (fetch, then ingest)."""
    account_id = next(iter(engine.accounts))

    async def poll_all(cursors: dict[str, str | None]) -> None:
        poller = Poller(engine, [], observers=observers)
        for source in x_sources(account, session, environ=ENV, clock=lambda: clock().timestamp()):
            target = PollTarget(account_id, "brand-x", "brand", "x", source, 60.0)
            batch, _ = await poller.poll_once(target, cursors.get(source.stream))
            cursors[source.stream] = batch.cursor

    return poll_all


async def test_a_scripted_day_costs_what_the_fake_billed(store: Store) -> None:
    now = [DAY + timedelta(hours=8)]
    fake = scripted_fake(now)
    base = await fake.start()
    engine = await engine_for(store, ["brand-x"], now=DAY)
    engine.clock = lambda: now[0]
    account_id = next(iter(engine.accounts))
    spending = Spending(Prices(), {}, clock=lambda: now[0])
    metrics = Metrics(engine.accounts, registry=(registry := CollectorRegistry()), clock=lambda: now[0])
    metrics.spending = spending
    account = brand_account(base)
    try:
        async with aiohttp.ClientSession() as session:
            poll_all = poller_of(engine, account, session, [spending, metrics], lambda: now[0])
            cursors: dict[str, str | None] = {}
            for hour in range(8, 20):  # a working day: questions, replies, DMs, a poll every half hour
                for half in (0, 30):
                    now[0] = DAY + timedelta(hours=hour, minutes=half)
                    q = fake.add_tweet(CUSTOMER_ID, f"@brand where is order {hour}{half}?", now[0], mentions=[BRAND_ID])
                    fake.add_tweet(BRAND_ID, "@customer on its way", now[0] + timedelta(seconds=5), reply_to=q)
                    fake.add_dm(CUSTOMER_ID, BRAND_ID, f"hello {hour}{half}?", now[0] + timedelta(seconds=7))
                    now[0] += timedelta(seconds=30)
                    await poll_all(cursors)
                if hour == 14:  # a restart that lost its cursors: every item of the day is read again
                    cursors = {}
            now[0] = DAY + timedelta(hours=23)
            await poll_all({})  # read everything again late in the same UTC day: nothing billed twice
            sources = x_sources(account, session, environ=ENV, clock=lambda: now[0].timestamp())
            done = await backfill(engine, account_id, sources, DAY)  # and once more, by a backfill
            assert done.pages >= 3

            costs = await account_costs(store.pool, Prices(), DAY.date(), DAY.date())
            request = ReportRequest(period_between(DAY.date(), DAY.date(), timezone="UTC"))
            report = await build_report(ReportStore(store.pool), request, as_of=now[0], prices=Prices())
            billed = {kind: n for (user, kind), n in fake.billed.items() if user == BRAND_ID}

            now[0] = DAY + timedelta(days=1, hours=1)  # a new UTC day: the same reads are billed again
            sources = x_sources(account, session, environ=ENV, clock=lambda: now[0].timestamp())
            await backfill(engine, account_id, sources, DAY)
            two_days = await account_costs(store.pool, Prices(), DAY.date(), now[0].date())
    finally:
        await fake.stop()
    both = {kind: n for (user, kind), n in fake.billed.items() if user == BRAND_ID}
    assert both == {"owned_read": 96, "dm_event_read": 48}
    assert two_days[0].counts == both
    assert billed == {"owned_read": 48, "dm_event_read": 24}  # 24 mentions + 24 replies, 24 DMs
    assert len(costs) == 1
    assert costs[0].counts == billed
    assert abs(costs[0].dollars - (48 * 0.001 + 24 * 0.010)) < 1e-9
    for kind, n in billed.items():  # the process's counter agrees (one process, no restart of it)
        labels = {"brand": "brand", "channel": "x", "account": "brand-x", "kind": kind}
        assert registry.get_sample_value("social_inbox_api_billable_total", labels) == n
    assert abs(spending.spent(account_id) - costs[0].dollars) < 1e-9
    # The report's section says the same, in both languages and the data file.
    assert [(c.account, c.resources, c.answered) for c in report.costs] == [("brand-x", 72, costs[0].answered)]
    assert report.costs[0].dollars == costs[0].dollars
    english, french = render(report, "html", "en").decode(), render(report, "html", "fr").decode()
    assert "X API spend (estimate)" in english and "0.29" in english
    assert "Dépenses de l&#39;API X (estimation)" in french and "0,29" in french
    assert json.loads(render(report, "json"))["costs"][0]["resources"] == 72
    assert render(report, "pdf").startswith(b"%PDF")


STREAM_EVENTS = (
    "post.mention.create",
    "post.reply.create",
    "post.create",
    "dm.received",
    "dm.sent",
    "chat.received",
    "chat.sent",
)
"""The subscriptions `x-activity subscribe` makes for an account with DMs."""
INGESTED = frozenset(STREAM_EVENTS) - {"dm.sent"}
"""The events the stream hands to the engine: billed ones, and chats (stored)."""


async def test_a_scripted_day_with_the_activity_stream_costs_what_the_fake_billed(store: Store) -> None:
    """The same kind of day with the X Activity stream on and polls reconciling: every post, DM and
    chat event the fake delivers on the stream is billed by it and counted by the store, once per
    resource and UTC day (a reply that also mentions the brand is one post, a repeated event is
    counted once), events lost while the stream was down are billed by neither; per kind, to the unit,
    in the store (`cost`), the process's counter and the budget's spend."""
    now = [DAY + timedelta(hours=8)]
    fake = scripted_fake(now)
    for event_type in STREAM_EVENTS:
        fake.activity.subscribe(event_type, BRAND_ID, "inbox-monitor")
    base = await fake.start()
    engine = await engine_for(store, ["brand-x"], now=DAY)
    engine.clock = lambda: now[0]
    account_id = next(iter(engine.accounts))
    spending = Spending(Prices(), {account_id: 100.0}, clock=lambda: now[0])
    metrics = Metrics(engine.accounts, registry=(registry := CollectorRegistry()), clock=lambda: now[0])
    metrics.spending = spending
    account = brand_account(base)
    counted = BilledCounter(lambda _: True, spending, metrics, store)
    ingest = activity_ingester(engine, metrics, lambda: None, counted.anywhere)
    handed = [0]

    async def ingest_counted(account_id: int, messages: Sequence[Message], billable: Sequence[BillableRead]) -> None:
        await ingest(account_id, messages, billable)
        handed[0] += 1

    async def nudged(account_id: int, streams: Sequence[str]) -> None:
        """The polls run on the script's schedule here: a nudge changes nothing billed."""

    def settled() -> bool:
        """Every event due is delivered, and each the engine takes is stored."""
        delivered = sum(1 for e in fake.activity.delivered if e["data"]["event_type"] in INGESTED)
        return fake.activity.pending == 0 and handed[0] == delivered

    try:
        async with aiohttp.ClientSession() as session:
            stream = ActivityStream(
                session,
                [StreamAccount(account_id, "brand-x", "brand", BRAND_ID, ())],
                bearer_token=EnvSecret("X_BEARER", ENV),
                deliver=nudged,
                holds=lambda: True,
                ingest=ingest_counted,
                api_base_url=base,
                backoff=Backoff(base_seconds=0.05, cap_seconds=0.2),
            )
            running = asyncio.create_task(stream.supervised.run())
            await eventually(lambda: stream.state.connected, timeout=10, what="the stream open")
            poll_all = poller_of(engine, account, session, [spending, metrics], lambda: now[0])
            cursors: dict[str, str | None] = {}
            lost: list[int] = []
            for hour in range(8, 20):
                for half in (0, 30):
                    now[0] = DAY + timedelta(hours=hour, minutes=half)
                    if hour == 15 and half == 0:  # X drops the stream and refuses it for a while
                        fake.activity.refusing = True
                        fake.activity.drop()
                        await eventually(lambda: not stream.state.connected, timeout=10, what="the stream down")
                    q = fake.add_tweet(CUSTOMER_ID, f"@brand where is order {hour}{half}?", now[0], mentions=[BRAND_ID])
                    if hour == 15 and half == 0:
                        lost.append(q)  # nobody connected: not delivered, not billed, read by the poll
                        fake.activity.refusing = False
                        await eventually(lambda: stream.state.connected, timeout=10, what="the stream back")
                    answer = fake.add_tweet(BRAND_ID, "@customer on its way", now[0] + timedelta(seconds=5), reply_to=q)
                    if half == 0:  # a reply that mentions the brand: a mention and a reply event, one post
                        fake.add_tweet(
                            CUSTOMER_ID, "@brand thanks, when?", now[0] + timedelta(seconds=6), reply_to=answer
                        )
                        fake.add_tweet(  # (its mention alone, billed as one more post)
                            CUSTOMER_ID, "@brand and?", now[0] + timedelta(seconds=6), mentions=[BRAND_ID]
                        )
                    fake.add_dm(CUSTOMER_ID, BRAND_ID, f"hello {hour}{half}?", now[0] + timedelta(seconds=7))
                    fake.add_dm(BRAND_ID, CUSTOMER_ID, "hello!", now[0] + timedelta(seconds=8))
                    fake.add_chat(CUSTOMER_ID, BRAND_ID, now[0] + timedelta(seconds=9))
                    fake.add_chat(BRAND_ID, CUSTOMER_ID, now[0] + timedelta(seconds=10))
                    if hour == 12 and half == 0:  # X sends an event twice
                        fake.activity.post(fake.tweets[q], {"id": str(q)})
                    now[0] += timedelta(seconds=30)
                    await eventually(settled, timeout=10, what="the events delivered and counted")
                    await poll_all(cursors)
            costs = await account_costs(store.pool, Prices(), DAY.date(), DAY.date())
            await stream.supervised.stop()
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    finally:
        await fake.stop()
    billed = {kind: n for (user, kind), n in fake.billed.items() if user == BRAND_ID}
    # 24 questions + 24 answers + 12 replies that mention + 12 mentions, less the 1 lost question;
    # 24 DMs and 24 chats received (sent ones are not billed); the polls' owned reads of the posts.
    assert billed["activity_event"] == 24 + 24 + 12 + 12 - 1
    assert billed["activity_dm_event"] == 24 + 24
    assert lost and all(e["data"]["payload"]["id"] != str(lost[0]) for e in fake.activity.delivered)
    assert len(costs) == 1
    assert costs[0].counts == billed
    for kind, n in billed.items():
        labels = {"brand": "brand", "channel": "x", "account": "brand-x", "kind": kind}
        assert registry.get_sample_value("social_inbox_api_billable_total", labels) == n, kind
    assert abs(spending.spent(account_id) - costs[0].dollars) < 1e-9


async def first_interval_wait(store: Store, engine: Engine, account_id: int, pace: Callable[[int], float]) -> float:
    """The wait the real Poller makes after one poll of a (demo) stream with a 60 s interval."""
    sleeps: list[float] = []
    done = asyncio.Event()

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) >= 2:  # the first polls' spread, then the wait after the first poll
            done.set()
            await asyncio.Event().wait()

    source = DemoSource("brand-x", "x", per_minute=0.001)
    target = PollTarget(account_id, "brand-x", "brand", "x", source, 60.0)
    poller = Poller(engine, [target], timer=SleepTimer(sleep), jitter=0.0, pace=pace)
    await poller.start()
    try:
        async with asyncio.timeout(30):
            await done.wait()
    finally:
        await poller.stop()
    return sleeps[1]


async def test_a_budget_below_the_days_need_slows_polls(store: Store) -> None:
    """A month's budget below what a day of reads projects to: the pace factor passes 1, the
    poller waits that many intervals (the gauge SocialInboxXBudgetAtRisk watches says so); no
    budget: the interval."""
    now = DAY + timedelta(hours=23)
    engine = await engine_for(store, ["brand-x"], now=now)
    account_id = next(iter(engine.accounts))
    async with store.transaction() as tx:  # a day of reads: 0.288 dollars, about 8.6 in a 30-day month
        reads = [BillableRead("owned_read", str(i)) for i in range(48)]
        reads += [BillableRead("dm_event_read", str(i)) for i in range(24)]
        await count_billable(tx.conn, account_id, now.date(), reads)
    spending = Spending(Prices(), {account_id: 2.0}, clock=lambda: now)
    await spending.load(store.pool)
    factor = spending.factor(account_id)
    assert factor > 1
    assert await first_interval_wait(store, engine, account_id, spending.factor) == 60.0 * factor
    assert await first_interval_wait(store, engine, account_id, lambda _: 1.0) == 60.0
    metrics = Metrics(engine.accounts, registry=(registry := CollectorRegistry()), clock=lambda: now)
    metrics.spending = spending
    metrics.cost_changed({account_id})
    labels = {"brand": "brand", "channel": "x", "account": "brand-x"}
    assert registry.get_sample_value("social_inbox_poll_pace_factor", labels) == factor
    assert registry.get_sample_value("social_inbox_api_monthly_budget_dollars", labels) == 2.0


COST_CONFIG = """
[policies.default]
public = { first = "30m", next = "1h" }
private = { first = "1h", next = "2h" }

[x.pricing]
owned_read = 0.002

[[brands]]
name = "acme"

[[brands.accounts]]
name = "acme-x"
channel = "x"
user_id = "1"
source = "demo"
monthly_budget = 10
"""


def test_the_cost_command_shows_the_spend_per_account(tmp_path: Path, database_url: str) -> None:
    """`inbox-monitor cost` reads the stored counts at the configured prices; a wrong period or
    account is a clear error (exit 2)."""
    path = tmp_path / "config.toml"
    path.write_text(COST_CONFIG)
    env = cli_env(INBOX_MONITOR_DATABASE_URL=database_url, INBOX_MONITOR_CONFIG=str(path))
    first = cli("cost", "--period", "2026-06", env=env)
    assert first.returncode == 0 and "nothing billed in this period" in first.stdout, first.stderr

    async def store_counts() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                """
                INSERT INTO billable_daily (account_id, day, kind, count)
                SELECT id, d::date, k, n FROM accounts,
                    (VALUES ('2026-06-01', 'owned_read', 100), ('2026-06-02', 'owned_read', 50),
                            ('2026-06-02', 'dm_event_read', 7), ('2026-07-01', 'owned_read', 999)) AS v(d, k, n)
                WHERE name = 'acme-x'
                """
            )
        finally:
            await conn.close()

    asyncio.run(store_counts())
    shown = cli("cost", "--period", "2026-06", "--format", "json", env=env)
    assert shown.returncode == 0, shown.stderr
    [row] = json.loads(shown.stdout)
    assert row["account"] == "acme-x" and row["resources"] == {"owned_read": 150, "dm_event_read": 7}
    assert abs(row["dollars"] - (150 * 0.002 + 7 * 0.010)) < 1e-9  # the configured owned_read price
    text = cli("cost", "--period", "2026-06", "--account", "acme-x", env=env)
    assert text.returncode == 0 and "0.3700" in text.stdout, text.stdout
    for bad in (["--period", "someday"], ["--account", "nobody"]):
        refused = cli("cost", *bad, env=env)
        assert refused.returncode == 2, refused.stderr
