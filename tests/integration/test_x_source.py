"""The X sources against the local X API over HTTP, with the real Poller, Engine and PostgreSQL.

Time is simulated (`SimClock`): the fake API, the sources, the poller's sleeps and the engine share
one clock running hundreds of times faster than the real one, so hours of traffic and 15-minute
rate windows pass in seconds.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pytest
from click.testing import CliRunner

from monitor.config import XAccount
from monitor.domain.changes import IngestResult
from monitor.domain.questions import is_automatic, needs_reply
from monitor.engine import Engine
from monitor.poller import Poller, PollTarget
from monitor.runtime import Backoff, SleepTimer
from monitor.simulator.clock import SimClock
from monitor.simulator.traffic import LoadedPost, Post, Scenario, generate, load_on_x
from monitor.simulator.x_api import DM_EVENTS, MENTIONS, TWEETS, FakeXApi, UserKeys
from monitor.sources.base import Batch, TemporaryFailure
from monitor.sources.x import Cursor, RateBudgets, build_x_sources, x_sources
from monitor.store.db import create_pool
from monitor.store.store import Store
from tests.integration.helpers import engine_for

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
DELAYS: list[timedelta | None] = [timedelta(seconds=s) for s in (41, 95, 300, 777, 1799, 2400)]
DELAYS.append(None)  # never answered
BEARER = "app-bearer-token"
ENV = {"X_BEARER": BEARER, "X_CK": "consumer-key", "X_CS": "consumer-secret"}


async def eventually(condition: Callable[[], Awaitable[Any]], within: float, what: str) -> Any:
    """The first truthy value of `condition()`, checked every 50 ms; fail after `within` s.
    (tests.waiting.wait_for is synchronous: it would block the loop the fake API runs on.)"""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await condition()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {within}s waiting for {what} (last: {last!r})")


@dataclass
class Observer:
    """Keeps every poll's outcome (the PollObserver the metrics implement)."""

    polls: list[tuple[str, str, str, Batch | None, IngestResult | None]] = field(default_factory=list)

    def poll_done(
        self, target: PollTarget, result: str, seconds: float, batch: Batch | None, ingest: IngestResult | None
    ) -> None:
        self.polls.append((target.account, target.stream, result, batch, ingest))

    def results(self, stream: str | None = None) -> list[str]:
        return [p[2] for p in self.polls if stream is None or p[1] == stream]


@dataclass
class Brand:
    name: str
    user_id: str
    handle: str
    scenario: Scenario
    loaded: dict[str, LoadedPost] = field(default_factory=dict)
    dm: bool = False

    def account(self, base_url: str) -> XAccount:
        extra: dict[str, Any] = {}
        if self.dm:
            extra = {
                "dm": True,
                "consumer_key_env": "X_CK",
                "consumer_secret_env": "X_CS",
                "access_token_env": f"X_AT_{self.user_id}",
                "access_token_secret_env": f"X_ATS_{self.user_id}",
            }
        return XAccount(
            name=self.name,
            channel="x",
            user_id=self.user_id,
            handle=self.handle,
            bearer_token_env="X_BEARER",
            api_base_url=base_url,
            **extra,
        )

    def expected(self) -> dict[str, tuple[Any, ...]]:
        """The waits the script implies, by opening message id."""
        out = {}
        by_key = {p.key: p for p in self.scenario.posts}
        for w in self.scenario.expected_waits():
            ids = self.loaded[w.opened_by]
            closer = self.loaded[w.closed_by].reply_id if w.closed_by else None
            out[ids.question_id] = (ids.thread_key, w.opened_at, closer, w.closed_at, w.wall_seconds)
            assert by_key[w.opened_by].at == w.opened_at
        return out

    def message_count(self) -> int:
        return sum(2 if p.reply_after is not None else 1 for p in self.scenario.posts)


def brand(i: int, scenario: Scenario, fake: FakeXApi, *, dm: bool = False) -> Brand:
    b = Brand(f"brand{i}-x", str(100 + i), f"brand{i}", scenario, dm=dm)
    b.loaded = load_on_x(fake, scenario, brand_id=b.user_id, brand_handle=b.handle)
    if dm:
        keys = UserKeys(b.user_id, ENV["X_CK"], ENV["X_CS"], f"{b.user_id}-access", f"secret-{i}")
        fake.add_user_keys(keys)
        ENV[f"X_AT_{b.user_id}"] = keys.access_token
        ENV[f"X_ATS_{b.user_id}"] = keys.access_token_secret
    for p in scenario.posts:  # the script's texts are unambiguous for the classifier
        assert needs_reply(p.text, private=p.private) and not is_automatic(p.reply_text)
    return b


async def stored_waits(store: Store, account: str) -> dict[str, tuple[Any, ...]]:
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT t.thread_key, w.opened_message, w.opened_at, w.closed_message, w.closed_at,
                      w.wall_seconds
               FROM waits w JOIN threads t ON t.id = w.thread_id
               JOIN accounts a ON a.id = w.account_id
               WHERE a.name = $1""",
            account,
        )
    out = {}
    for r in rows:
        assert r["opened_message"] not in out, f"two waits opened by {r['opened_message']}"
        out[r["opened_message"]] = (
            r["thread_key"],
            r["opened_at"],
            r["closed_message"],
            r["closed_at"],
            r["wall_seconds"],
        )
    return out


async def message_ids(store: Store, account: str) -> list[str]:
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT m.external_id FROM messages m JOIN accounts a ON a.id = m.account_id WHERE a.name = $1", account
        )
    return [r["external_id"] for r in rows]


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeXApi]:
    async with FakeXApi() as api:
        api.add_bearer_token(BEARER)
        yield api


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


class Clock(Protocol):
    def time(self) -> float: ...

    def now(self) -> datetime: ...


async def poll_targets(
    store: Store,
    brands: Sequence[Brand],
    fake: FakeXApi,
    session: aiohttp.ClientSession,
    clock: Clock,
    *,
    interval: float,
    streams: Sequence[str] = ("x.mentions", "x.replies", "x.dm"),
) -> tuple[Engine, list[PollTarget]]:
    """An engine on the simulated clock and the accounts' X sources, as the app builds them."""
    base = await engine_for(store, [b.name for b in brands])
    engine = Engine(store, base.accounts, clock=clock.now)
    ids = {ctx.name: i for i, ctx in engine.accounts.items()}
    targets = [
        PollTarget(ids[b.name], b.name, "brand", "x", source, interval)
        for b in brands
        for source in build_x_sources(b.account(fake.base_url), session, environ=ENV, clock=clock.time)
        if source.stream in streams
    ]
    return engine, targets


async def test_five_accounts_thousand_mentions_with_429s_and_503s(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession
) -> None:
    """Every wait equals the script's, to the second, and no message is stored twice."""
    # ~300 mentions per account before the first poll (3+ pages each), the rest live, so that a
    # slow start never meets the API's 800-mention horizon.
    brands = [
        brand(
            i,
            generate(
                seed=i,
                count=1000,
                start=T0 - timedelta(minutes=40),
                span=timedelta(hours=2, minutes=13),
                reply_delays=DELAYS,
                prefix=f"b{i}-",
                edit_share=0.05,
                customers=300,
            ),
            fake_api,
        )
        for i in range(5)
    ]
    end = max(b.scenario.end for b in brands)
    clock = SimClock(T0, speed=800)
    fake_api.clock = clock.time
    fake_api.fault_rates = {"rate_limited": 0.03, "http_503_html": 0.03}
    fake_api.fault_retry_after = 20
    engine, targets = await poll_targets(store, brands, fake_api, session, clock, interval=120)
    observer = Observer()
    poller = Poller(
        engine,
        targets,
        observers=[observer],
        clock=clock.now,
        timer=clock,
        backoff=Backoff(base_seconds=4, cap_seconds=60),
    )
    await poller.start()
    try:

        async def caught_up() -> bool:
            if clock.now() <= end:
                return False
            counts = [len(await message_ids(store, b.name)) for b in brands]
            return counts == [b.message_count() for b in brands]

        await eventually(caught_up, within=45, what="every message stored")
    finally:
        await poller.stop()

    for b in brands:
        assert await stored_waits(store, b.name) == b.expected(), b.name
        stored = await message_ids(store, b.name)
        assert len(stored) == len(set(stored)) == b.message_count()
        edits = {p.edit_id for p in b.loaded.values() if p.edit_id}
        assert edits and not edits & set(stored)  # edits kept under the original ids
    results = observer.results()
    assert {"rate_limited", "api_error", "ok"} <= set(results), set(results)
    new = sum(p[4].messages_new for p in observer.polls if p[4] is not None)
    assert new == sum(b.message_count() for b in brands)  # nothing counted as new twice
    assert max(p[3].calls for p in observer.polls if p[3] is not None) >= 3  # pages of 100
    assert {r.params.get("max_results") for r in fake_api.requests} == {"100"}


async def test_an_honest_budget_never_meets_a_429(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession
) -> None:
    """10 requests per 15-minute window and a burst of 2,500 mentions in 30 seconds (25 pages,
    however the polls fall): polls are spaced by the rate-limit headers; a fetch that runs out of
    budget stores what it read and keeps a gap, filled in the next windows."""
    clock = SimClock(T0, speed=1500)
    fake_api.clock = clock.time
    fake_api.limits.update({MENTIONS: 10, TWEETS: 10})
    fake_api.timeline_cap[MENTIONS] = 3200  # this test is about the budget, not the 800 cap
    steady = generate(seed=11, count=60, start=T0, span=timedelta(hours=2), reply_delays=DELAYS, prefix="s")
    burst = generate(
        seed=12,
        count=2500,
        start=T0 + timedelta(minutes=40),
        span=timedelta(seconds=30),
        reply_delays=[timedelta(minutes=3), None],
        prefix="u",
        step=timedelta(milliseconds=10),
    )
    b = brand(0, Scenario(steady.posts + burst.posts), fake_api)
    engine, targets = await poll_targets(store, [b], fake_api, session, clock, interval=60)
    observer = Observer()
    poller = Poller(engine, targets, observers=[observer], clock=clock.now, timer=clock)
    await poller.start()
    try:

        async def caught_up() -> bool:
            return clock.now() > b.scenario.end and len(await message_ids(store, b.name)) == b.message_count()

        await eventually(caught_up, within=30, what="every message stored")
    finally:
        await poller.stop()

    assert [r for r in fake_api.requests if r.status == 429] == []
    assert set(observer.results()) - {"cancelled"} == {"ok"}  # cancelled: the poller's stop
    assert await stored_waits(store, b.name) == b.expected()
    gaps = [p[3].cursor for p in observer.polls if p[3] is not None and p[3].cursor and Cursor.decode(p[3].cursor).gap]
    assert gaps, "the burst should have needed more requests than one window allows"
    windows = {t.source.stream: t.source.rate_budget().remaining for t in targets}
    assert set(windows["x.mentions"]) == {MENTIONS} and set(windows["x.replies"]) == {TWEETS}


class Stepper:
    """The poller's sleep (through a `SleepTimer`): each `step()` lets one poll happen and returns when
    it is done."""

    def __init__(self) -> None:
        self._sleepers: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()
        self._pending: asyncio.Future[None] | None = None

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._sleepers.put_nowait(future)
        await future

    async def step(self) -> None:
        if self._pending is None:
            self._pending = await asyncio.wait_for(self._sleepers.get(), 10)
        self._pending.set_result(None)
        self._pending = await asyncio.wait_for(self._sleepers.get(), 10)


class ManualClock:
    def __init__(self, start: datetime) -> None:
        self.at = start.timestamp()

    def time(self) -> float:
        return self.at

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)


async def mentions_by_hand(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession
) -> tuple[ManualClock, Scenario, Brand, Engine, list[PollTarget]]:
    """400 mentions from an hour before T0 to an hour after, and the mentions stream of their
    brand, on a clock the test moves (clock, scenario, brand, engine, targets)."""
    clock = ManualClock(T0)
    fake_api.clock = clock.time
    scenario = generate(
        seed=3, count=400, start=T0 - timedelta(hours=1), span=timedelta(hours=2), reply_delays=[timedelta(minutes=5)]
    )
    b = brand(0, scenario, fake_api)
    engine, targets = await poll_targets(store, [b], fake_api, session, clock, interval=60, streams=["x.mentions"])
    return clock, scenario, b, engine, targets


MALFORMED = ("non_json", "truncated_json", "malformed_json")


async def test_malformed_payloads_are_bad_payload_polls_and_store_nothing(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """Each second page that is not a JSON page fails the whole fetch (nothing stored, cursor
    kept), as one `bad_payload` poll; one log line names the account and the endpoint; the poller
    goes on. (A malformed *item* does not: see the next test.)"""
    clock, scenario, b, engine, targets = await mentions_by_hand(store, fake_api, session)
    account_id = targets[0].account_id
    observer = Observer()
    stepper = Stepper()
    poller = Poller(engine, targets, observers=[observer], clock=clock.now, timer=SleepTimer(stepper.sleep))
    caplog.set_level(logging.INFO, logger="monitor.poller")
    await poller.start()
    try:
        await stepper.step()
        assert observer.results() == ["ok"]
        before = sorted(await message_ids(store, b.name))
        cursor = await store.load_cursor(account_id, "x.mentions")
        assert len(before) == sum(p.at <= clock.now() for p in scenario.posts)
        clock.at = (T0 + timedelta(hours=1)).timestamp()  # ~200 new mentions: two pages
        for fault in MALFORMED:
            fake_api.inject(fault, endpoint=MENTIONS, skip=1)  # the second page is broken
            await stepper.step()
            assert observer.polls[-1][2:4] == ("bad_payload", None), fault
            assert sorted(await message_ids(store, b.name)) == before, fault
            assert await store.load_cursor(account_id, "x.mentions") == cursor
        await stepper.step()
        assert observer.results()[-1] == "ok"
    finally:
        await poller.stop()
    mentions = [p for p in scenario.posts if p.at <= clock.now()]
    assert len(await message_ids(store, b.name)) == len(mentions)  # the question side only
    failing = [r for r in caplog.records if r.getMessage() == "polls failing"]
    assert len(failing) == 1
    line = failing[0]
    assert line.account == b.name and line.stream == "x.mentions"  # type: ignore[attr-defined]
    assert MENTIONS in line.error and "BadPayload" in line.error  # type: ignore[attr-defined]
    assert len([r for r in caplog.records if r.getMessage() == "polls recovered"]) == 1
    health = poller.health[(b.name, "x.mentions")]
    assert health.status == "ok"


async def quarantined(store: Store, account: str) -> dict[str, tuple[str, str, str]]:
    """External id (or "-") -> (stream, reason, detail) of an account's items set aside."""
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT q.external_id, q.stream, q.reason, q.detail FROM quarantine q"
            " JOIN accounts a ON a.id = q.account_id WHERE a.name = $1",
            account,
        )
    return {r["external_id"] or "-": (r["stream"], r["reason"], r["detail"]) for r in rows}


async def test_a_malformed_tweet_is_quarantined_and_the_rest_of_its_page_stored(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """Two tweets served malformed (no created_at, null text) in ~200 new mentions, and a page
    whose first tweet comes without created_at nor text: every other mention is stored, the three
    are set aside with their reasons, the cursor moves past them, the polls are `ok`; the metric
    counts each reason, the log says each reason once, without the payload."""
    from monitor.metrics import Metrics

    clock, scenario, b, engine, targets = await mentions_by_hand(store, fake_api, session)
    account_id = targets[0].account_id
    metrics = Metrics(engine.accounts, registry=None, clock=clock.now)
    metrics.watch(targets)
    observer = Observer()
    stepper = Stepper()
    poller = Poller(engine, targets, observers=[observer, metrics], clock=clock.now, timer=SleepTimer(stepper.sleep))
    caplog.set_level(logging.INFO, logger="monitor.poller")
    later = [p for p in scenario.posts if T0 < p.at <= T0 + timedelta(hours=1)]
    no_time, no_text = b.loaded[later[10].key].question_id, b.loaded[later[150].key].question_id
    fake_api.malform(int(no_time), drop=["created_at"])
    fake_api.malform(int(no_text), values={"text": None})
    await poller.start()
    try:
        await stepper.step()
        cursor = await store.load_cursor(account_id, "x.mentions")
        clock.at = (T0 + timedelta(hours=1)).timestamp()  # ~200 new mentions: two pages
        fake_api.inject("missing_fields", endpoint=MENTIONS, skip=1)  # the second page's first tweet
        await stepper.step()
        await stepper.step()  # a poll with nothing new: nothing set aside twice
    finally:
        await poller.stop()
    assert observer.results()[:3] == ["ok", "ok", "ok"]
    mentions = {b.loaded[p.key].question_id for p in scenario.posts if p.at <= clock.now()}
    missing = mentions - set(await message_ids(store, b.name))
    [broken] = missing - {no_time, no_text}  # the first tweet of the page the fault broke
    assert {no_time, no_text} < missing
    set_aside = await quarantined(store, b.name)
    assert set(set_aside) == {no_time, no_text, broken}
    assert set_aside[broken] == ("x.mentions", "bad_text", "data[0].text: missing")
    assert set_aside[no_time][:2] == ("x.mentions", "missing_created_at")
    assert re.fullmatch(r"data\[\d+\]\.created_at: missing", set_aside[no_time][2])
    assert set_aside[no_text][:2] == ("x.mentions", "bad_text")
    assert re.fullmatch(r"data\[\d+\]\.text: null", set_aside[no_text][2])
    moved = await store.load_cursor(account_id, "x.mentions")
    assert moved != cursor and int(Cursor.decode(moved).newest or 0) >= max(map(int, mentions))
    assert metrics.rejected.value(("x", "x.mentions", "bad_text")) == 2
    assert metrics.rejected.value(("x", "x.mentions", "missing_created_at")) == 1
    assert metrics.rejected.value(("x", "x.mentions", "bad_id")) == 0
    assert b"social_inbox_items_rejected_total" in metrics.render()
    said = [r for r in caplog.records if r.getMessage() == "items quarantined"]
    assert sorted(r.reason for r in said) == ["bad_text", "missing_created_at"]  # type: ignore[attr-defined]
    assert all(r.account == b.name and r.stream == "x.mentions" for r in said)  # type: ignore[attr-defined]
    texts = {p.text for p in scenario.posts}
    assert not any(t in caplog.text for t in texts)  # no customer's words in the logs


async def test_a_restart_resumes_from_the_cursors(store: Store, fake_api: FakeXApi, database_url: str) -> None:
    """A new Poller and new sources on the same database read only what came after."""
    clock = SimClock(T0, speed=1000)
    fake_api.clock = clock.time
    scenario = generate(
        seed=5,
        count=400,
        start=T0 - timedelta(minutes=30),
        span=timedelta(hours=1),
        reply_delays=[timedelta(minutes=m) for m in (1, 4, 9, 20)] + [None],
        private_share=0.25,
        edit_share=0.05,
    )
    b = brand(0, scenario, fake_api, dm=True)

    async def run(until: Callable[[], Awaitable[bool]]) -> None:
        """One process' life: its own pool, session, sources and poller."""
        pool = await create_pool(database_url, min_size=1, max_size=5)
        async with aiohttp.ClientSession() as session:
            engine, targets = await poll_targets(Store(pool), [b], fake_api, session, clock, interval=60)
            poller = Poller(engine, targets, clock=clock.now, timer=clock)
            await poller.start()
            try:
                await eventually(until, within=20, what="the poller to get there")
            finally:
                await poller.stop()
                for t in targets:
                    await t.source.close()
                await pool.close()

    async def cursors() -> dict[str, str | None]:
        async with store.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT p.stream, p.cursor FROM poll_state p JOIN accounts a ON a.id = p.account_id WHERE a.name = $1",
                b.name,
            )
        return {r["stream"]: r["cursor"] for r in rows}

    async def mid_scenario() -> bool:
        c = await cursors()
        return clock.now() > T0 + timedelta(minutes=10) and all(c.get(s) for s in ("x.mentions", "x.replies", "x.dm"))

    await run(mid_scenario)
    first_run = set(await message_ids(store, b.name))
    saved = await cursors()
    requests_before = len(fake_api.requests)

    async def finished() -> bool:
        return clock.now() > scenario.end and len(await message_ids(store, b.name)) == b.message_count()

    await run(finished)
    later = fake_api.requests[requests_before:]
    assert later
    for stream, endpoint in (("x.mentions", MENTIONS), ("x.replies", TWEETS)):
        floor = int(Cursor.decode(saved[stream]).newest or 0)
        reqs = [r for r in later if r.endpoint == endpoint]
        assert reqs[0].params["since_id"] == saved[stream]
        assert all(int(r.params["since_id"]) >= floor for r in reqs)
        assert not {i for r in reqs for i in r.ids} & first_run  # nothing stored was read again
    dm_reqs = [r for r in later if r.endpoint == DM_EVENTS]
    assert dm_reqs and not [r for r in dm_reqs if "pagination_token" in r.params]
    assert await stored_waits(store, b.name) == b.expected()
    stored = await message_ids(store, b.name)
    assert len(stored) == len(set(stored)) == b.message_count()


async def test_transport_failures_and_credentials(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession
) -> None:
    """Connection resets are temporary; a token changed at the API is a credentials error."""
    from monitor.sources.base import CredentialsRejected

    scenario = generate(seed=8, count=20, start=T0 - timedelta(hours=2), span=timedelta(hours=1), reply_delays=[None])
    b = brand(0, scenario, fake_api)
    [mentions, _] = build_x_sources(b.account(fake_api.base_url), session, environ=ENV)
    fake_api.inject("connection_reset", endpoint=MENTIONS, times=2)  # aiohttp retries once itself
    with pytest.raises(TemporaryFailure, match="GET /2/users/:id/mentions"):
        await mentions.fetch(None)
    batch = await mentions.fetch(None)
    assert len(batch.messages) == 20
    fake_api.bearer_tokens = {"rotated"}
    with pytest.raises(CredentialsRejected, match="401"):
        await mentions.fetch(batch.cursor)


async def test_a_timeout_is_a_temporary_failure_and_loses_nothing(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession
) -> None:
    """An API that answers too late: the fetch fails as temporary, the next one reads it all."""
    scenario = generate(seed=10, count=150, start=T0 - timedelta(hours=2), span=timedelta(hours=1), reply_delays=[None])
    b = brand(0, scenario, fake_api)
    [mentions, _] = build_x_sources(b.account(fake_api.base_url), session, environ=ENV, timeout=0.3)
    fake_api.slow_seconds = 1.0
    fake_api.inject("slow", endpoint=MENTIONS, times=1, skip=1)  # the second page hangs
    with pytest.raises(TemporaryFailure, match="GET /2/users/:id/mentions"):
        await mentions.fetch(None)
    batch = await mentions.fetch(None)
    assert len({m.external_id for m in batch.messages}) == len(batch.messages) == 150


async def test_a_token_rotated_in_its_file_is_used_without_a_restart(
    fake_api: FakeXApi, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """$NAME empty, $NAME_FILE names a mounted secret: a new token there is read at the next fetch."""
    from monitor.sources.base import CredentialsRejected

    scenario = generate(seed=8, count=5, start=T0 - timedelta(hours=2), span=timedelta(hours=1), reply_delays=[None])
    b = brand(0, scenario, fake_api)
    secret = tmp_path / "bearer"
    secret.write_text("expired-token\n")
    budgets = RateBudgets()
    [mentions, replies] = x_sources(
        b.account(fake_api.base_url), session, budgets=budgets, environ={"X_BEARER": "", "X_BEARER_FILE": str(secret)}
    )
    # Another account, on the bearer token the first one will rotate to.
    quiet = generate(
        seed=18, count=1, start=T0 - timedelta(hours=2), span=timedelta(hours=1), reply_delays=[None], prefix="o"
    )
    [other, _] = x_sources(
        brand(1, quiet, fake_api).account(fake_api.base_url), session, budgets=budgets, environ={"X_BEARER": BEARER}
    )
    expired = mentions.window
    assert expired.users == 1 and other.window.users == 1 and other.window is not expired
    with pytest.raises(CredentialsRejected):
        await mentions.fetch(None)
    secret.write_text(BEARER + "\n")
    assert len((await mentions.fetch(None)).messages) == 5
    # X counts requests per token: the rotated stream now spends (and spaces its polls by) the
    # new token's window, shared with the other account; the old token's window has no user left.
    assert mentions.window is other.window and other.window.users == 2 and expired.users == 0
    assert mentions.window.remaining is not None
    assert replies.window is not mentions.window  # another endpoint, another window


async def test_backfill_command_reads_history_and_leaves_the_live_cursor(
    store: Store, fake_api: FakeXApi, database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    scenario = generate(
        seed=9,
        count=300,
        start=now - timedelta(days=10),
        span=timedelta(days=9),
        reply_delays=[timedelta(minutes=7), None],
        private_share=0.2,
    )
    b = brand(0, scenario, fake_api, dm=True)
    config = tmp_path / "config.toml"
    config.write_text(f"""
[policies.default]
public = {{ first = "30m", next = "1h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false

[[brands]]
name = "brand"

[[brands.accounts]]
name = "{b.name}"
channel = "x"
user_id = "{b.user_id}"
handle = "{b.handle}"
bearer_token_env = "X_BEARER"
dm = true
consumer_key_env = "X_CK"
consumer_secret_env = "X_CS"
access_token_env = "X_AT_{b.user_id}"
access_token_secret_env = "X_ATS_{b.user_id}"
api_base_url = "{fake_api.base_url}"
""")
    engine = await engine_for(store, [b.name])
    account_id = next(iter(engine.accounts))
    await engine.ingest(account_id, "x.mentions", [], "99999999999999999999"[:19])  # a live cursor
    env = {**ENV, "INBOX_MONITOR_DATABASE_URL": database_url, "INBOX_MONITOR_CONFIG": str(config)}
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke,
        __import__("monitor.cli", fromlist=["main"]).main,
        ["backfill", "--account", b.name, "--since", "7d"],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"backfilled {b.name}" in result.output

    start = now - timedelta(days=7)
    kept = [p for p in scenario.posts if p.at >= start]
    expected = {k: v for k, v in b.expected().items() if v[1] >= start}
    assert await stored_waits(store, b.name) == expected
    assert len(kept) < len(scenario.posts)
    assert await store.load_cursor(account_id, "x.mentions") == "9999999999999999999"
    assert await store.load_cursor(account_id, "x.replies") is None
    mentions = fake_api.requests_to(MENTIONS)
    assert mentions
    assert all("start_time" in r.params and "since_id" not in r.params for r in mentions)


def test_scenario_expectations_follow_the_script() -> None:
    at = T0
    posts = [
        Post("a", "1", "one", at, "where is my order?", timedelta(minutes=5)),
        Post("b", "1", "one", at + timedelta(minutes=1), "hello??", timedelta(minutes=1), thread="a"),
        Post("c", "2", "two", at, "refund?", None),
    ]
    waits = Scenario(posts).expected_waits()
    assert [(w.opened_by, w.closed_by, w.wall_seconds) for w in waits] == [("a", "b", 120.0), ("c", None, None)]


async def test_backfill_waits_for_the_rate_window_instead_of_failing(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession
) -> None:
    from monitor.backfill import backfill
    from monitor.sources.x import x_sources

    clock = SimClock(T0, speed=2000)
    fake_api.clock = clock.time
    fake_api.limits[MENTIONS] = 2  # the history needs 3 pages: one wait for the next window
    scenario = generate(
        seed=4, count=300, start=T0 - timedelta(days=3), span=timedelta(days=2), reply_delays=[timedelta(minutes=2)]
    )
    b = brand(0, scenario, fake_api)
    base = await engine_for(store, [b.name])
    engine = Engine(store, base.accounts, clock=clock.now)
    sources = x_sources(b.account(fake_api.base_url), session, environ=ENV, clock=clock.time)
    shares: list[tuple[str, float]] = []
    result = await backfill(
        engine,
        next(iter(engine.accounts)),
        sources,
        T0 - timedelta(days=7),
        progress=lambda stream, share: shares.append((stream, share)),
        clock=clock.time,
        timer=clock,
    )
    assert result.new_messages == b.message_count() == 600
    assert [r.status for r in fake_api.requests_to(MENTIONS)] == [200, 200, 200]
    assert fake_api.requests_to(MENTIONS)[2].at - fake_api.requests_to(MENTIONS)[0].at >= 900
    assert shares[-1] == ("x.replies", 1.0) and all(0 <= s <= 1 for _, s in shares)
    assert await stored_waits(store, b.name) == b.expected()


async def test_accounts_with_different_base_urls_share_one_session(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession
) -> None:
    """The rewrite middleware is per request, so one process session serves every account."""
    other = FakeXApi()
    await other.start()
    other.add_bearer_token(BEARER)
    try:
        one = brand(1, generate(seed=1, count=7, start=T0, span=timedelta(hours=1), reply_delays=[None]), fake_api)
        two = brand(2, generate(seed=2, count=9, start=T0, span=timedelta(hours=1), reply_delays=[None]), other)
        [m1, _] = build_x_sources(one.account(fake_api.base_url), session, environ=ENV)
        [m2, _] = build_x_sources(two.account(other.base_url), session, environ=ENV)
        assert len((await m1.fetch(None)).messages) == 7
        assert len((await m2.fetch(None)).messages) == 9
        assert [r.user_id for r in fake_api.requests] == [one.user_id]
        assert [r.user_id for r in other.requests] == [two.user_id]
    finally:
        await other.stop()


async def test_the_fake_speaks_the_v2_wire_format(fake_api: FakeXApi, session: aiohttp.ClientSession) -> None:
    scenario = generate(
        seed=6, count=30, start=T0 - timedelta(hours=1), span=timedelta(minutes=30), reply_delays=[timedelta(minutes=1)]
    )
    b = brand(0, scenario, fake_api)
    url = f"{fake_api.base_url}/2/users/{b.user_id}/mentions"
    auth = {"Authorization": f"Bearer {BEARER}"}

    async def get(params: dict[str, str], headers: dict[str, str] = auth, path: str = url) -> tuple[int, Any, Any]:
        async with session.get(path, params=params, headers=headers) as r:
            return r.status, await r.json(), r.headers

    status, body, headers = await get({"max_results": "1000"})
    assert status == 400 and body["title"] == "Invalid Request"
    assert body["errors"][0]["parameters"] == {"max_results": ["1000"]}
    assert {"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"} <= set(headers)

    status, body, _ = await get({"max_results": "5"})
    assert status == 200 and set(body) == {"data", "meta"}
    assert set(body["data"][0]) == {"id", "text", "edit_history_tweet_ids"}  # default fields only
    meta = body["meta"]
    assert meta["result_count"] == 5 and meta["newest_id"] == body["data"][0]["id"]
    assert meta["oldest_id"] == body["data"][-1]["id"] and meta["next_token"]
    assert [int(d["id"]) for d in body["data"]] == sorted((int(d["id"]) for d in body["data"]), reverse=True)

    status, page2, _ = await get({"max_results": "5", "pagination_token": meta["next_token"]})
    assert int(page2["data"][0]["id"]) < int(meta["oldest_id"])

    status, body, _ = await get(
        {
            "max_results": "100",
            "tweet.fields": "created_at,author_id",
            "expansions": "author_id",
            "user.fields": "username",
            "since_id": meta["oldest_id"],
        }
    )
    assert body["meta"]["result_count"] == 4
    assert set(body["data"][0]) == {"id", "text", "edit_history_tweet_ids", "created_at", "author_id"}
    assert {u["id"] for u in body["includes"]["users"]} == {d["author_id"] for d in body["data"]}

    start = (T0 - timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, body, _ = await get({"max_results": "100", "start_time": start, "tweet.fields": "created_at"})
    assert body["meta"]["result_count"] == sum(p.at >= T0 - timedelta(minutes=40) for p in scenario.posts)

    status, body, _ = await get({"tweet.fields": "colour"})
    assert status == 400
    status, body, _ = await get({}, headers={"Authorization": "Bearer wrong"})
    assert status == 401 and body["title"] == "Unauthorized"
    status, body, _ = await get({}, path=f"{fake_api.base_url}/2/dm_events")
    assert status == 403 and body["title"] == "Unsupported Authentication"
    status, body, _ = await get({}, path=f"{fake_api.base_url}/2/users/42/tweets")
    assert status == 200 and body["errors"][0]["title"] == "Not Found Error"
    assert {r.status for r in fake_api.requests} == {200, 400, 401, 403}
