"""PostgreSQL restarted mid-run, with API resets, 5xx and truncated bodies: nothing fetched is lost,
nothing is stored twice, and the waits are the scripted ones.

Two tests: `inbox-monitor run` riding out a real PostgreSQL restart (readiness, reconnection, leases
taken back), and the poller in-process on a connection that breaks before or after its statements
(an answer lost, a COMMIT done but not known to be), injected the way asyncpg's own tests inject
faults: by subclassing the real connection class (`connection_class=`), not by mocking.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import signal
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import aiohttp
import asyncpg
import pytest

from monitor.config import XAccount
from monitor.engine import Engine
from monitor.poller import Poller, PollTarget
from monitor.runtime import Backoff
from monitor.simulator.x_api import MENTIONS, TWEETS, FakeXApi
from monitor.sources.x import build_x_sources
from monitor.store.db import Connection, create_pool, migrate
from monitor.store.store import Store
from tests.integration.helpers import engine_for
from tests.waiting import cli_env, eventually, free_port, in_thread, serving, start_cli

R = TypeVar("R")

ACCOUNTS = 4
QUESTIONS = 6
"""Questions to each account in each phase: before the outage, during it, after it."""
SPACING = 1.0
"""Seconds between two questions of an account within a phase."""
REPLY_AFTER = 3
LOGFMT_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')
"""A `key=value` of a logfmt line (monitor/logs.py): the value bare, or JSON-quoted."""
OUTAGE = 5.0
"""Seconds PostgreSQL stays down: over the 3-second lease, so the process must take its accounts back."""


Script = dict[tuple[str, object], tuple[float, float | None]]
"""(account, question key) -> (asked at, replied at or None): one thread each."""


async def assert_stored_as_scripted(conn: Connection, expected: Script) -> None:
    """Every scripted message stored once, every question one `first` wait closed by its reply."""
    assert await conn.fetchval("SELECT count(*) FROM messages") == sum(2 if r else 1 for _, r in expected.values())
    rows = await conn.fetch("""
        SELECT a.name, w.kind, w.opened_at, w.closed_at, w.questions FROM waits w
        JOIN accounts a ON a.id = w.account_id ORDER BY a.name, w.opened_at""")
    got = sorted(
        (
            (
                r["name"],
                r["kind"],
                r["opened_at"].timestamp(),
                r["closed_at"].timestamp() if r["closed_at"] else None,
                r["questions"],
            )
            for r in rows
        ),
        key=str,
    )  # None among floats
    assert got == sorted(
        ((name, "first", asked, replied, 1) for (name, _), (asked, replied) in expected.items()), key=str
    )


def config(port: int, api: str) -> str:
    head = f"""
[server]
listen = "127.0.0.1:{port}"
snapshot_interval = "1s"
lease_time = "3s"

[policies.default]
public = {{ first = "30m", next = "1h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false

[[brands]]
name = "faults"
"""
    return head + "".join(
        f"""
[[brands.accounts]]
name = "acc-{i}"
channel = "x"
user_id = "{100 + i}"
handle = "brand{i}"
bearer_token_env = "X_TOKEN"
api_base_url = "{api}"
poll_interval = "1s"
"""
        for i in range(ACCOUNTS)
    )


def readyz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3) as r:
            status: int = r.status
            return status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


@pytest.mark.slow
async def test_postgresql_restart_and_api_faults_lose_nothing(tmp_path: Path, short_tmp: Path) -> None:
    from pgserver.postgres_server import get_server

    data = short_tmp / "pgdata"
    server = get_server(data, cleanup_mode="stop")
    url = server.get_uri()
    api = FakeXApi(
        limits={MENTIONS: 10**9, TWEETS: 10**9},
        seed=5,
        fault_rates={"connection_reset": 0.03, "http_500": 0.03, "truncated_json": 0.03},
    )
    base = await api.start()
    api.add_bearer_token("tok")
    expected: Script = {}

    def ask(phase: str, first: float) -> None:
        """QUESTIONS questions to each account from `first` (whole seconds) on; a third never answered."""
        for a in range(ACCOUNTS):
            for q in range(QUESTIONS):
                customer = str(5000 + len(expected))  # one thread each
                api.add_user(customer, f"customer{customer}")
                asked = first + q * SPACING
                tid = api.add_tweet(
                    customer,
                    f"@brand{a} my order {phase}-{q} never arrived, can you check?",
                    asked,
                    mentions=[str(100 + a)],
                )
                replied = None
                if q % 3 != 2:
                    replied = asked + REPLY_AFTER
                    api.add_tweet(str(100 + a), f"@customer{customer} sorry, we are on it", replied, reply_to=tid)
                expected[(f"acc-{a}", f"{phase}-{q}")] = (asked, replied)

    for a in range(ACCOUNTS):
        api.add_user(str(100 + a), f"brand{a}")
    ask("before", float(int(time.time())) - QUESTIONS * SPACING)
    port = free_port()
    (tmp_path / "faults.toml").write_text(config(port, base))
    env = cli_env(INBOX_MONITOR_DATABASE_URL=url, X_TOKEN="tok", INBOX_MONITOR_CONFIG=str(tmp_path / "faults.toml"))
    proc = start_cli("run", env=env, log=tmp_path / "run.log")

    async def stored() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM messages"))
        finally:
            await conn.close()

    try:
        await eventually(in_thread(serving(proc, port)), timeout=60, what="inbox-monitor ready")
        await eventually(stored, timeout=60, what="the first messages stored")
        # PostgreSQL goes away while questions keep coming, and comes back.
        await asyncio.to_thread(server.cleanup)
        down = time.time()
        ask("during", float(int(down) + 1))
        await eventually(lambda: readyz(port) == 503, timeout=20, what="/readyz failing while PostgreSQL is down")
        await eventually(
            lambda: time.time() > down + OUTAGE, timeout=OUTAGE + 5, interval=0.2, what=f"{OUTAGE:.0f} s of outage"
        )
        assert proc.poll() is None  # the process rides it out
        server = await asyncio.to_thread(get_server, data, cleanup_mode="stop")
        up = time.time()
        ask("after", float(int(up) + 1))
        await eventually(lambda: readyz(port) == 200, timeout=60, what="/readyz after PostgreSQL came back")
        assert any(down < asked < up for asked, _ in expected.values())  # asked while it was down
        total_messages = sum(2 if r else 1 for _, r in expected.values())
        count = 0

        async def all_stored() -> bool:
            nonlocal count
            count = await stored()
            return count >= total_messages

        last = max(r or q for q, r in expected.values())
        await eventually(
            all_stored, timeout=last - time.time() + 60, interval=0.5, what=f"all {total_messages} messages stored"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            await api.stop()

    conn = await asyncpg.connect(url)
    try:
        await assert_stored_as_scripted(conn, expected)
    finally:
        await conn.close()
        await asyncio.to_thread(server.cleanup)
    # Failures are logged on change, not per retry: per stream, a "polls failing" line comes
    # after a success or with another status, never after one with the same status (the outage
    # alone fails each stream's polls more than once).
    said: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for line in (tmp_path / "run.log").read_text().splitlines():
        fields = {k: json.loads(v) if v.startswith('"') else v for k, v in LOGFMT_FIELD.findall(line)}
        if fields.get("msg") in ("polls failing", "polls recovered"):
            said.setdefault((fields["account"], fields["stream"]), []).append((fields["msg"], fields.get("status", "")))
    assert any(("polls failing", "failing") in lines for lines in said.values()), said
    for stream, lines in said.items():
        assert all(a != b for a, b in itertools.pairwise(lines)), (stream, lines)


class BreakingConnection(asyncpg.Connection):
    """A real connection that breaks around a statement: before it (nothing done), or after it
    (done, the answer lost; after a COMMIT, committed without the client knowing). At `rate`, at
    random but reproducibly, and at the `FORCED` occurrences of a statement. Off until `rate` is set."""

    FORCED: ClassVar[dict[tuple[str, int], str]] = {
        ("COMMIT", 2): "after",
        ("COMMIT", 4): "before",
        ("COPY", 2): "after",
    }
    """(statement, its n-th occurrence since `rate` was set) -> when it breaks: the cases the test needs."""
    rate: ClassVar[float] = 0.0
    rng: ClassVar[random.Random] = random.Random(18)
    seen: ClassVar[dict[str, int]] = {}
    breaks: ClassVar[list[str]] = []

    async def _maybe_break(self, query: str, run: Callable[[], Awaitable[R]]) -> R:
        if not self.rate:
            return await run()
        statement = query.split()[0].rstrip(";").upper()
        self.seen[statement] = n = self.seen.get(statement, 0) + 1
        forced = self.FORCED.get((statement, n))
        roll = self.rng.random()
        if forced == "before" or (forced is None and roll < self.rate / 2):
            self.breaks.append(f"before {statement}")
            self.terminate()
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        result = await run()
        if forced == "after" or (forced is None and roll < self.rate):
            self.breaks.append(f"after {statement}")
            self.terminate()
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        return result

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> str:
        return await self._maybe_break(query, lambda: super(BreakingConnection, self).execute(query, *args, **kwargs))

    async def executemany(self, command: str, args: Any, **kwargs: Any) -> None:
        return await self._maybe_break(
            command, lambda: super(BreakingConnection, self).executemany(command, args, **kwargs)
        )

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> list[Any]:
        return await self._maybe_break(query, lambda: super(BreakingConnection, self).fetch(query, *args, **kwargs))

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._maybe_break(query, lambda: super(BreakingConnection, self).fetchrow(query, *args, **kwargs))

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._maybe_break(query, lambda: super(BreakingConnection, self).fetchval(query, *args, **kwargs))

    async def copy_records_to_table(self, table_name: str, **kwargs: Any) -> str:
        return await self._maybe_break(
            f"COPY {table_name}", lambda: super(BreakingConnection, self).copy_records_to_table(table_name, **kwargs)
        )


async def test_connections_breaking_around_statements_lose_nothing_and_store_nothing_twice(database_url: str) -> None:
    """The in-process poller on a pool whose connections break around one statement in ten: each
    broken poll is retried after its backoff, and the stored messages and waits are the script's."""
    api = FakeXApi(limits={MENTIONS: 10**9, TWEETS: 10**9}, seed=7)
    await api.start()
    api.add_bearer_token("tok")
    users = {f"acc-{a}": str(100 + a) for a in range(ACCOUNTS)}
    pool = await create_pool(database_url, min_size=1, max_size=4, connection_class=BreakingConnection)
    session = aiohttp.ClientSession()
    poller: Poller | None = None
    try:
        await migrate(pool)
        store = Store(pool)
        engine = Engine(store, (await engine_for(store, list(users))).accounts)  # on the real clock
        ids = {ctx.name: i for i, ctx in engine.accounts.items()}
        targets = [
            PollTarget(ids[name], name, "faults", "x", source, 0.2)
            for name, uid in users.items()
            for source in build_x_sources(
                XAccount(
                    name=name,
                    channel="x",
                    user_id=uid,
                    handle=name,
                    bearer_token_env="X_TOKEN",
                    api_base_url=api.base_url,
                ),
                session,
                environ={"X_TOKEN": "tok"},
            )
        ]
        poller = Poller(engine, targets, first_poll_spread=0.0, backoff=Backoff(base_seconds=0.05, cap_seconds=0.5))
        expected: Script = {}
        # The script starts now, once the database is set up: its questions arrive while polled.
        start = float(int(time.time()))
        for name, uid in users.items():
            api.add_user(uid, name)
            for q in range(3 * QUESTIONS):
                customer = str(5000 + len(expected))
                api.add_user(customer, f"customer{customer}")
                asked = start - 4 + q / 4  # before the first poll, and while the streams are polled
                tid = api.add_tweet(
                    customer, f"@{name} my order {q} never arrived, can you check?", asked, mentions=[uid]
                )
                replied = None
                if q % 3 != 2:
                    replied = asked + 2
                    api.add_tweet(uid, f"@customer{customer} sorry, we are on it", replied, reply_to=tid)
                expected[(name, q)] = (asked, replied)
        total = sum(2 if r else 1 for _, r in expected.values())
        last = max(r or q for q, r in expected.values())
        BreakingConnection.seen.clear()
        BreakingConnection.breaks.clear()
        BreakingConnection.rate = 0.1
        await poller.start()

        async def all_stored() -> bool:  # through the breaking pool too: a broken check is retried
            async with pool.acquire() as conn:
                return int(await conn.fetchval("SELECT count(*) FROM messages")) >= total

        await eventually(
            lambda: time.time() > last, timeout=max(0.0, last - time.time()) + 5, what="the end of the script"
        )
        await eventually(all_stored, timeout=60, interval=0.2, what=f"all {total} messages stored")
    finally:
        if poller is not None:
            await poller.stop()
        BreakingConnection.rate = 0.0
        await session.close()
        await api.stop()
    try:
        async with pool.acquire() as conn:
            await assert_stored_as_scripted(conn, expected)
    finally:
        await pool.close()
    breaks = BreakingConnection.breaks
    assert {"before COMMIT", "after COMMIT", "after COPY"} <= set(breaks), breaks  # a COMMIT's answer lost...
    assert len(breaks) >= 20 and len(set(breaks)) >= 6, breaks  # ... and breaks around all kinds of statements
