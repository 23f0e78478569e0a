"""The X Activity stream while PostgreSQL refuses: what its events bring is kept in order and
stored once the database is back (on the keep-alive lines, or without the lease), exactly once; a
full queue drops the oldest and counts it. The real stream client, engine and PostgreSQL; the
database faults are injected by subclassing asyncpg's connection class, as asyncpg's tests do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, ClassVar, TypeVar

import aiohttp
import asyncpg
import pytest

from monitor.app import activity_ingester
from monitor.engine import Engine
from monitor.metrics import Metrics
from monitor.runtime import Backoff
from monitor.secrets import EnvSecret
from monitor.simulator.x_api import FakeXApi
from monitor.sources.x.activity import ActivityCollector, ActivityStream, StreamAccount
from monitor.store.db import create_pool, migrate
from monitor.store.store import Store
from tests.integration.helpers import engine_for
from tests.waiting import eventually

R = TypeVar("R")

TOKEN = "app-token"
BRAND_USER = "1001"
CUSTOMER = "7001"
HEARTBEAT_SECONDS = 0.2
"""The fake's keep-alive interval: X's is 20 s; the retries on keep-alive lines come this often."""


class RefusingConnection(asyncpg.Connection):
    """A real connection that breaks before every statement while `refusing` (PostgreSQL away),
    and after the next `lose_commits` COMMITs (committed, the answer lost: the client retries
    what is stored already)."""

    refusing: ClassVar[bool] = False
    lose_commits: ClassVar[int] = 0
    refused: ClassVar[int] = 0

    async def _guard(self, query: str, run: Callable[[], Awaitable[R]]) -> R:
        cls = RefusingConnection
        if cls.refusing:
            cls.refused += 1
            self.terminate()
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        result = await run()
        if cls.lose_commits and query.split()[0].rstrip(";").upper() == "COMMIT":
            cls.lose_commits -= 1
            self.terminate()
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        return result

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> str:
        return await self._guard(query, lambda: super(RefusingConnection, self).execute(query, *args, **kwargs))

    async def executemany(self, command: str, args: Any, **kwargs: Any) -> None:
        return await self._guard(command, lambda: super(RefusingConnection, self).executemany(command, args, **kwargs))

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> list[Any]:
        return await self._guard(query, lambda: super(RefusingConnection, self).fetch(query, *args, **kwargs))

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._guard(query, lambda: super(RefusingConnection, self).fetchrow(query, *args, **kwargs))

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._guard(query, lambda: super(RefusingConnection, self).fetchval(query, *args, **kwargs))

    async def copy_records_to_table(self, table_name: str, **kwargs: Any) -> str:
        return await self._guard(
            f"COPY {table_name}", lambda: super(RefusingConnection, self).copy_records_to_table(table_name, **kwargs)
        )


@contextlib.asynccontextmanager
async def streaming(
    database_url: str,
    api: FakeXApi,
    *,
    holds: Callable[[], bool] = lambda: True,
    max_unsaved: int = 100,
    retry_budget_seconds: float = 5.0,
) -> AsyncIterator[tuple[ActivityStream, asyncpg.Pool]]:
    """The stream of account "shop" (user 1001), ingesting through the real engine on a pool of
    `RefusingConnection`s (the pool too)."""
    RefusingConnection.refusing = False
    RefusingConnection.lose_commits = 0
    pool = await create_pool(database_url, min_size=1, max_size=2, connection_class=RefusingConnection)
    try:
        await migrate(pool)
        store = Store(pool)
        engine = Engine(store, (await engine_for(store, ["shop"])).accounts)  # on the real clock
        [account_id] = engine.accounts

        async def billed(account_id: int, kinds: Mapping[str, int]) -> None:
            """Another process's spend: none here."""

        ingest = activity_ingester(engine, Metrics(engine.accounts, registry=None), lambda: None, billed)
        async with aiohttp.ClientSession() as session:
            stream = ActivityStream(
                session,
                [StreamAccount(account_id, "shop", "b", BRAND_USER, ("x.mentions",))],
                bearer_token=EnvSecret("X_ACTIVITY_TEST_TOKEN", {"X_ACTIVITY_TEST_TOKEN": TOKEN}),
                deliver=lambda account_id, streams: asyncio.sleep(0),
                ingest=ingest,
                holds=holds,
                api_base_url=api.base_url,
                backoff=Backoff(base_seconds=0.05, cap_seconds=0.1),
                max_unsaved=max_unsaved,
                retry_budget_seconds=retry_budget_seconds,
            )
            task = asyncio.create_task(stream.supervised.run())
            try:
                await eventually(lambda: stream.state.connected, timeout=10, what="connected")
                yield stream, pool
            finally:
                await stream.supervised.stop()
                await task
    finally:
        RefusingConnection.refusing = False
        await pool.close()


@pytest.fixture
async def api() -> AsyncIterator[FakeXApi]:
    fake = FakeXApi()
    await fake.start()
    fake.add_bearer_token(TOKEN)
    fake.activity.keepalive_seconds = HEARTBEAT_SECONDS
    fake.activity.subscribe("post.mention.create", BRAND_USER)
    fake.activity.subscribe("chat.received", BRAND_USER)
    yield fake
    await fake.stop()


def samples(stream: ActivityStream, name: str) -> list[float]:
    """The values of one of the collector's metric families."""
    families = {m.name: m for m in ActivityCollector([stream]).collect()}
    return [s.value for s in families[name].samples]


async def test_a_chat_received_while_postgresql_refuses_is_stored_once_when_it_is_back(
    database_url: str, api: FakeXApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="monitor.sources.x.activity")
    async with streaming(database_url, api) as (stream, _):
        RefusingConnection.refusing = True
        chat = api.add_chat(CUSTOMER, BRAND_USER, api.clock())
        api.add_tweet("7002", "@shop hello?", api.clock(), mentions=[BRAND_USER])
        await eventually(lambda: len(stream.state.unsaved) == 2, timeout=10, what="both events kept")
        assert samples(stream, "social_inbox_x_activity_unsaved_events") == [2.0]
        refused = RefusingConnection.refused
        await eventually(lambda: RefusingConnection.refused > refused, timeout=5, what="a retry on a keep-alive")
        assert await asyncpg_fetch(database_url, "SELECT * FROM messages") == []
        RefusingConnection.lose_commits = 1  # the first store commits, and its answer is lost
        RefusingConnection.refusing = False
        # No new event: the keep-alive lines bring the retries.
        await eventually(lambda: len(stream.state.unsaved) == 0, timeout=10, what="all stored")
        assert RefusingConnection.lose_commits == 0
        assert samples(stream, "social_inbox_x_activity_unsaved_events") == [0.0]
        assert samples(stream, "social_inbox_x_activity_events_dropped") == [0.0]
    rows = await asyncpg_fetch(database_url, "SELECT external_id, created_at, body, text_available FROM messages")
    assert [(r["external_id"], r["body"], r["text_available"]) for r in rows] == [(chat.id, "", False)]
    assert rows[0]["created_at"].timestamp() == pytest.approx(chat.created_at, abs=1e-3)
    waits = await asyncpg_fetch(database_url, "SELECT opened_at FROM waits")
    assert [w["opened_at"] for w in waits] == [rows[0]["created_at"]]
    billed = await asyncpg_fetch(database_url, "SELECT kind, count FROM billable_daily ORDER BY kind")
    assert {r["kind"]: r["count"] for r in billed} == {k: n for (u, k), n in api.billed.items() if u == BRAND_USER}
    assert {r["kind"] for r in billed} == {"activity_dm_event", "activity_event"}
    messages = [r.getMessage() for r in caplog.records if r.name == "monitor.sources.x.activity"]
    assert messages.count("x activity events not stored, kept") == 1, messages  # once, not per retry
    assert messages.count("x activity events stored again") == 1, messages


async def test_a_full_queue_drops_the_oldest_and_a_lost_lease_keeps_retrying(
    database_url: str, api: FakeXApi, caplog: pytest.LogCaptureFixture
) -> None:
    held = [True]
    async with streaming(database_url, api, holds=lambda: held[0], max_unsaved=2) as (stream, _):
        RefusingConnection.refusing = True
        chats = []
        for n in range(3):
            chats.append(api.add_chat(str(8000 + n), BRAND_USER, api.clock()))
            await eventually(lambda: sum(stream.state.events.values()) == len(chats), timeout=10, what="received")
        assert len(stream.state.unsaved) == 2
        assert samples(stream, "social_inbox_x_activity_events_dropped") == [1.0]
        assert samples(stream, "social_inbox_x_activity_unsaved_events") == [2.0]
        assert [r.getMessage() for r in caplog.records].count("x activity unsaved events dropped") == 1
        held[0] = False  # the lease moves away: the stream closes here, its kept events stay
        await eventually(lambda: not stream.state.connected, timeout=10, what="the stream closed")
        assert samples(stream, "social_inbox_x_activity_unsaved_events") == [2.0]  # exported all the same
        RefusingConnection.refusing = False
        await eventually(lambda: len(stream.state.unsaved) == 0, timeout=10, what="stored without the lease")
        assert samples(stream, "social_inbox_x_activity_events_dropped") == [1.0]
    rows = await asyncpg_fetch(database_url, "SELECT external_id FROM messages ORDER BY created_at")
    assert [r["external_id"] for r in rows] == [c.id for c in chats[1:]]  # the oldest dropped


async def asyncpg_fetch(database_url: str, query: str) -> list[asyncpg.Record]:
    """Rows read on a plain connection."""
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def test_events_still_kept_at_shutdown_are_logged_as_lost(
    database_url: str, api: FakeXApi, caplog: pytest.LogCaptureFixture
) -> None:
    async with streaming(database_url, api) as (stream, _):
        RefusingConnection.refusing = True
        api.add_chat(CUSTOMER, BRAND_USER, api.clock())
        await eventually(lambda: len(stream.state.unsaved) == 1, timeout=10, what="the chat kept")
        await stream.supervised.stop()
        await stream.close()  # as `run` does once the stream's task has stopped
    lost = [r for r in caplog.records if r.getMessage() == "x activity events lost at shutdown"]
    assert [(r.levelname, getattr(r, "events", None)) for r in lost] == [("ERROR", 1)]


async def test_one_retry_stores_for_its_budget_and_leaves_the_rest_for_the_next_line(
    database_url: str, api: FakeXApi
) -> None:
    async with streaming(database_url, api, retry_budget_seconds=0.0) as (stream, pool):
        RefusingConnection.refusing = True
        for n in range(3):
            api.add_chat(str(8000 + n), BRAND_USER, api.clock())
        await eventually(lambda: len(stream.state.unsaved) == 3, timeout=10, what="the chats kept")
        await stream.supervised.stop()  # no line comes any more: one retry alone
        RefusingConnection.refusing = False
        # The pool connects again first: on a loaded machine a new connection alone can take the
        # ingest's ACTIVITY_INGEST_SECONDS, and what is checked here is the retry's budget.
        await asyncio.gather(*(pool.fetchval("SELECT 1") for _ in range(2)))
        await stream.close()
        assert len(stream.state.unsaved) == 2  # a budget spent stores one event, then reads again
    assert len(await asyncpg_fetch(database_url, "SELECT * FROM messages")) == 1
