"""Peers (docs/peers.md): a competitor's public questions and replies read with recent search on the
local X API, within a daily read budget that the fake counts, threaded and timed by the engine into
the peers' own tables, never the inbox's."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pypdf
import pytest

from monitor.app import prepare
from monitor.config import Config, XAccount, parse
from monitor.engine import Engine
from monitor.metrics import Metrics
from monitor.online import check_streams
from monitor.poller import Poller, PollTarget
from monitor.reports.build import ReportRequest, build_report
from monitor.reports.model import Language, Report
from monitor.reports.peers import compare
from monitor.reports.period import period_between
from monitor.reports.render import render
from monitor.simulator.clock import SimClock
from monitor.simulator.traffic import Scenario, generate, load_on_x
from monitor.simulator.x_api import SEARCH, FakeXApi
from monitor.sources.base import BadPayload
from monitor.sources.x import Cursor, build_x_sources
from monitor.sources.x.peers import XPeerSource, build_peer_source, peer_query
from monitor.store.reports import ReportStore
from monitor.store.store import Store

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
BEARER = "peer-app-bearer"
ENV = {"X_BEARER": BEARER}
BRAND_ID, RIVAL_ID, OTHER_ID = "100", "500", "600"


class ManualClock:
    def __init__(self, start: datetime) -> None:
        self.at = start.timestamp()

    def time(self) -> float:
        return self.at

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)

    def move(self, to: datetime) -> None:
        self.at = to.timestamp()


def config_for(base_url: str, *peers: dict[str, Any], public_first: str = "1h") -> Config:
    """Brand `shop` (its X account @shop) and these peers, on the local X API."""
    return parse(
        {
            "policies": {
                "default": {
                    "public": {"first": public_first, "next": "2h"},
                    "private": {"first": "1h", "next": "2h"},
                    "business_hours_only": False,
                }
            },
            "brands": [
                {
                    "name": "shop",
                    "accounts": [
                        {
                            "name": "shop-x",
                            "channel": "x",
                            "user_id": BRAND_ID,
                            "handle": "shop",
                            "bearer_token_env": "X_BEARER",
                            "api_base_url": base_url,
                        }
                    ],
                    "peers": list(peers),
                }
            ],
        },
        environ=ENV,
    )


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeXApi]:
    api = FakeXApi()
    await api.start()
    api.add_bearer_token(BEARER)
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def answering(seed: int, count: int, start: datetime, span: timedelta, delays: list[timedelta | None]) -> Scenario:
    """`count` questions to an X account over `span`, answered after `delays` (cycled; None: never)."""
    return generate(seed=seed, count=count, start=start, span=span, reply_delays=delays, prefix=f"s{seed}-")


def add_noise(fake: FakeXApi, user_id: str, handle: str, at: datetime) -> None:
    """What the query must leave out or the rules must not count: the account's own post, a
    retweet of it, praise."""
    fake.add_user("4100", "fan_of_it")
    post = fake.add_tweet(user_id, "Our summer sale starts today!", at)
    fake.add_tweet("4100", f"RT @{handle}: Our summer sale starts today!", at + timedelta(minutes=1), retweet_of=post)
    fake.add_tweet(
        "4100", f"@{handle} love the new collection, thank you!", at + timedelta(minutes=2), mentions=[user_id]
    )


async def peer_waits(store: Store, name: str) -> set[tuple[Any, ...]]:
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT w.opened_message, w.opened_at, w.closed_message, w.closed_at, w.kind
               FROM peer_waits w JOIN accounts a ON a.id = w.account_id WHERE a.name = $1""",
            name,
        )
    return {tuple(r) for r in rows}


def expected_waits(scenario: Scenario, loaded: dict[str, Any]) -> set[tuple[Any, ...]]:
    out = set()
    for w in scenario.expected_waits():
        closer = loaded[w.closed_by].reply_id if w.closed_by else None
        out.add((loaded[w.opened_by].question_id, w.opened_at, closer, w.closed_at, "first"))
    return out


async def test_a_peer_is_read_within_its_budget_and_timed_apart_from_the_inbox(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession
) -> None:
    """60 posts a day for ~95 (50 questions, 40 replies, noise): the first day's fetch reads 60
    exactly (the fake counts them) and keeps a gap; the next day's fills it. The peer's waits are
    then the script's to the second, in `peer_waits`; nothing is in the inbox's tables."""
    clock = ManualClock(T0 + timedelta(hours=2))
    fake_api.clock = clock.time
    scenario = answering(1, 50, T0, timedelta(hours=1), [timedelta(minutes=20)] * 4 + [None])
    loaded = load_on_x(fake_api, scenario, brand_id=RIVAL_ID, brand_handle="rival")
    add_noise(fake_api, RIVAL_ID, "rival", T0 + timedelta(minutes=30))
    config = config_for(fake_api.base_url, {"handle": "@Rival", "daily_reads": 60})
    [peer] = config.peers()
    engine, ids = await prepare(config, store)
    account_id = ids[peer.account_name]
    assert set(engine.peers) == {account_id} and account_id not in engine.accounts
    source = build_peer_source(peer, account_id, session, engine.peer_store, environ=ENV, clock=clock.time)
    assert isinstance(source, XPeerSource)

    async def poll(cursor: str | None) -> str | None:
        batch = await source.fetch(cursor)
        await engine.ingest(account_id, source.stream, batch.messages, batch.cursor, rejected=batch.rejected)
        assert not batch.more  # out of budget: nothing more today
        return batch.cursor

    cursor = await poll(None)
    assert source.user_id == RIVAL_ID  # looked up by handle, once
    query = peer_query("Rival")
    assert fake_api.reads_of(query) == {"2026-06-01": 60}
    assert Cursor.decode(cursor).gap and source.reads_out
    searches = fake_api.requests_to(SEARCH)
    assert [r.params["max_results"] for r in searches] == ["60"]  # never more than the budget left
    assert await poll(cursor) == cursor and len(fake_api.requests_to(SEARCH)) == 1  # spent: no request

    clock.move(T0 + timedelta(days=1))
    cursor = await poll(cursor)
    assert not Cursor.decode(cursor).gap
    reads = fake_api.reads_of(query)
    assert reads["2026-06-01"] == 60 and 0 < reads["2026-06-02"] <= 60
    async with store.pool.acquire() as conn:
        counted = {
            str(r["day"]): r["reads"]
            for r in await conn.fetch("SELECT day, reads FROM peer_reads WHERE account_id = $1", account_id)
        }
        inbox = await conn.fetchval("SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM waits)")
    assert counted == reads  # what we count is what the fake served
    assert inbox == 0
    assert await peer_waits(store, peer.account_name) == expected_waits(scenario, loaded)


async def test_the_online_check_searches_for_nothing_and_finds_the_handle(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check-config --online`'s call for a peer bills no post; an unknown handle says so."""
    clock = ManualClock(T0)
    fake_api.clock = clock.time
    load_on_x(
        fake_api,
        answering(5, 20, T0 - timedelta(hours=1), span=timedelta(minutes=30), delays=[None]),
        brand_id=RIVAL_ID,
        brand_handle="rival",
    )
    config = config_for(fake_api.base_url, {"handle": "rival"}, {"handle": "nobody_here"})
    engine, ids = await prepare(config, store)
    results = {}
    for peer in config.peers():
        source = build_peer_source(
            peer, ids[peer.account_name], session, engine.peer_store, environ=ENV, clock=clock.time
        )
        assert source is not None
        results[peer.handle] = (await source.check(), source.user_id)
    assert results["rival"][0].ok and results["rival"][1] == RIVAL_ID
    assert results["nobody_here"][0].status == "not_found" and "nobody_here" in results["nobody_here"][0].detail
    fake_api.add_user(BRAND_ID, "shop")
    monkeypatch.setenv("X_BEARER", BEARER)  # `check-config --online` reads the process environment
    checks = await check_streams(config)
    assert [(c.account, c.stream, c.result.status) for c in checks] == [
        ("shop-x", "x.mentions", "ok"),
        ("shop-x", "x.replies", "ok"),
        ("peer:shop:rival", "x.peer", "ok"),
        ("peer:shop:nobody_here", "x.peer", "not_found"),
    ]
    assert sum(fake_api.reads_of(peer_query("rival")).values()) == 0


async def test_an_api_that_serves_more_than_asked_is_refused_and_every_post_it_served_counted(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession
) -> None:
    """A page larger than `max_results` is a bad payload (nothing stored, cursor kept), yet X bills
    what it sent: the day's count holds all of it, and no further request is made that day."""
    clock = ManualClock(T0 + timedelta(hours=2))
    fake_api.clock = clock.time
    load_on_x(
        fake_api,
        answering(4, 40, T0, timedelta(hours=1), [timedelta(minutes=5)]),
        brand_id=RIVAL_ID,
        brand_handle="rival",
    )
    fake_api.misbehave("oversized_page", endpoint=SEARCH)
    config = config_for(fake_api.base_url, {"handle": "rival", "daily_reads": 50})
    [peer] = config.peers()
    engine, ids = await prepare(config, store)
    source = build_peer_source(peer, ids[peer.account_name], session, engine.peer_store, environ=ENV, clock=clock.time)
    assert source is not None
    with pytest.raises(BadPayload, match="80 posts on one page, more than the max_results=50 asked"):
        await source.fetch(None)
    [counted] = await engine.peer_store.reads([ids[peer.account_name]], T0.date())
    assert counted.reads == fake_api.reads_of(peer_query("rival"))["2026-06-01"] == 80
    fake_api.behave()
    batch = await source.fetch(None)
    assert (batch.messages, batch.calls, source.reads_out) == ([], 0, True)  # over budget: no request
    assert len(fake_api.requests_to(SEARCH)) == 1


async def eventually(condition: Callable[[], Awaitable[Any]], within: float, what: str) -> Any:
    """The first truthy value of `condition()`, checked every 50 ms; fail after `within` s."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await condition()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {within}s waiting for {what} (last: {last!r})")


async def stored(store: Store, table: str, account: str) -> int:
    async with store.pool.acquire() as conn:
        count: int = await conn.fetchval(
            f"SELECT count(*) FROM {table} m JOIN accounts a ON a.id = m.account_id WHERE a.name = $1", account
        )
    return count


DAY = datetime(2026, 6, 1, tzinfo=UTC)
SPEED = 6000
"""Simulated seconds per real second: the 18 simulated hours in 11 s. A poll of the brand is due
every 50 ms, of a peer every 150 ms; a poller slower than that under load polls less often, which
changes nothing here (what is read, when it was posted, within each day's budget)."""


@pytest.mark.slow
async def test_two_peers_against_the_brand_to_the_second_within_their_budgets(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession
) -> None:
    """A day of scripted traffic polled by the real poller on a simulated clock: the brand answers
    90 % in 10 minutes, globex 80 % in 20 minutes, initech 30 % in 5 hours (its 78 posts read within
    a budget of 50 a day: up to 50 the first day, the rest the next). The comparison gives exactly those
    figures; neither peer's budget is ever exceeded by what the fake served; nothing of a peer is in
    the inbox's series."""
    clock = SimClock(DAY + timedelta(hours=7), speed=SPEED)
    fake_api.clock = clock.time
    span = timedelta(hours=4)
    ten, twenty, five_h = timedelta(minutes=10), timedelta(minutes=20), timedelta(hours=5)
    own = answering(1, 40, DAY + timedelta(hours=8), span, [ten] * 9 + [None])
    globex = answering(2, 50, DAY + timedelta(hours=8), span, [twenty] * 4 + [None])
    initech = answering(3, 60, DAY + timedelta(hours=8), span, [five_h] * 3 + [None] * 7)
    load_on_x(fake_api, own, brand_id=BRAND_ID, brand_handle="shop")
    load_on_x(fake_api, globex, brand_id=RIVAL_ID, brand_handle="globex")
    load_on_x(fake_api, initech, brand_id=OTHER_ID, brand_handle="initech")
    add_noise(fake_api, RIVAL_ID, "globex", DAY + timedelta(hours=9))
    config = config_for(
        fake_api.base_url,
        {"handle": "globex", "daily_reads": 200, "poll_interval": "15m"},
        {"handle": "initech", "daily_reads": 50, "poll_interval": "15m"},
    )
    base, ids = await prepare(config, store)
    engine = Engine(store, base.accounts, clock=clock.now, peers=base.peers)
    [(brand, account)] = config.accounts()
    assert isinstance(account, XAccount)
    targets = [
        PollTarget(ids[account.name], account.name, brand, "x", source, 300)
        for source in build_x_sources(account, session, environ=ENV, clock=clock.time)
    ]
    for peer in config.peers():
        source = build_peer_source(
            peer, ids[peer.account_name], session, engine.peer_store, environ=ENV, clock=clock.time
        )
        assert source is not None
        targets.append(PollTarget(ids[peer.account_name], peer.account_name, brand, "x", source, 900))
    budgets = {ids[p.account_name]: p.daily_reads for p in config.peers()}
    metrics = Metrics(engine.accounts, peers=engine.peers, read_budgets=budgets, registry=None, clock=clock.now)
    metrics.watch(targets)
    poller = Poller(engine, targets, observers=[metrics], stream_observers=[metrics], clock=clock.now, timer=clock)
    await poller.start()
    expected = {
        "shop-x": 40 + 36,
        "peer:shop:globex": 50 + 40 + 1,  # and the praise (a mention, not a question)
        "peer:shop:initech": 60 + 18,
    }
    try:

        async def caught_up() -> bool:
            if clock.now() < DAY + timedelta(days=1, hours=1):
                return False
            counts = {"shop-x": await stored(store, "messages", "shop-x")}
            for name in expected:
                if name.startswith("peer:"):
                    counts[name] = await stored(store, "peer_messages", name)
            return counts == expected

        await eventually(caught_up, within=90, what="every post read and stored")
        await metrics.refresh(store)
    finally:
        await poller.stop()

    as_of = clock.now()
    period = period_between(DAY.date(), DAY.date(), timezone="UTC")
    report = await build_report(ReportStore(store.pool), ReportRequest(period, hours="wall"), as_of=as_of)
    compared = report.peers
    assert compared == await compare(store.pool, [], DAY, DAY + timedelta(days=1), as_of=as_of, hours="wall")
    figures = {c.name: c.figures for c in compared}
    assert [c.name for c in compared] == ["shop", "globex", "initech"]
    assert {
        n: (f.waits_opened, f.response_rate, f.median_first_seconds, f.within_sla_share) for n, f in figures.items()
    } == {
        "shop": (40, 0.9, 600.0, 0.9),
        "globex": (50, 0.8, 1200.0, 0.8),
        "initech": (60, 0.3, 18000.0, 0.0),
    }
    for c in compared[1:]:
        served = fake_api.reads_of(peer_query(c.handle or ""))
        budget = {"globex": 200, "initech": 50}[c.name]
        assert served and max(served.values()) <= budget, (c.name, served)
        # The period's day, never below what was served (a request cut short keeps its reservation).
        assert c.reads is not None and c.reads >= served["2026-06-01"] and not c.partial(DAY)
    initech_reads = fake_api.reads_of(peer_query("initech"))
    # The first day stops with fewer than 10 posts of its 50 left (a request asks 10 at least).
    assert 40 < initech_reads["2026-06-01"] <= 50 and sum(initech_reads.values()) == 78
    assert compared[2].days_at_budget == 1 and compared[1].days_at_budget == 0
    text = metrics.render().decode()
    assert 'social_inbox_peer_read_budget{brand="shop",peer="initech"} 50.0' in text
    assert 'social_inbox_peer_poll_total{brand="shop",peer="globex",result="ok"}' in text
    assert "peer:" not in text  # no inbox series names a peer
    assert [a.account for a in report.accounts] == ["shop-x"]  # the inbox's tables know no peer
    async with store.pool.acquire() as conn:  # the cost of reading peers (docs/cost.md): not owned reads
        billed = await conn.fetch(
            "SELECT a.name, b.kind, count(*) AS n FROM billable_reads b JOIN accounts a ON a.id = b.account_id"
            " WHERE a.peer GROUP BY 1, 2 ORDER BY 1"
        )
    assert [(r["name"], r["kind"]) for r in billed] == [
        ("peer:shop:globex", "post_read"),
        ("peer:shop:initech", "post_read"),
    ]
    assert sum(r["n"] for r in billed) <= fake_api.billed[("", "post_read")]
    assert_rendered(report)


def assert_rendered(report: Report) -> None:
    """The section in every format and language: the CSV to the second, the pages in words."""
    rows = {
        (r["scope"], r["account"]): r
        for r in csv.DictReader(io.StringIO(render(report, "csv").decode()))
        if r["scope"].startswith("compared")
    }
    assert {
        k: (v["response_rate"], v["median_first_response_seconds"], v["within_sla_share"]) for k, v in rows.items()
    } == {
        ("compared_brand", ""): ("0.9", "600.0", "0.9"),
        ("compared_peer", "globex"): ("0.8", "1200.0", "0.8"),
        ("compared_peer", "initech"): ("0.3", "18000.0", "0.0"),
    }
    assert rows[("compared_peer", "initech")]["days_at_budget"] == "1"
    assert json.loads(render(report, "json"))["peers"][1]["current"]["median_first_response_seconds"] == 1200.0
    cases: list[tuple[Language, str, list[str]]] = [
        ("en", "You and your peers", ["@globex", "80.0%", "20\u202fmin", "@initech", "30.0%", "5h\u00a000m", "0.0%"]),
        ("fr", "Vous et vos concurrents", ["@globex", "80,0\u202f%", "20\u202fmin", "5\u202fh\u202f00"]),
    ]
    for language, title, cells in cases:
        html = render(report, "html", language).decode()
        assert title in html and all(c in html for c in cells), (language, [c for c in cells if c not in html])
        pdf = pypdf.PdfReader(io.BytesIO(render(report, "pdf", language)))
        text = "\n".join(page.extract_text() for page in pdf.pages)
        assert title in text and "@initech" in text, language
