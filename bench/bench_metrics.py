"""Scrape and snapshot cost with 2,000 accounts and 200,000 open waits.

A real PostgreSQL (embedded, or BENCH_DATABASE_URL) holds the waits; the real HTTP server serves
/metrics with every account's counters, gauges and histograms populated; an aiohttp client
scrapes it. Prints the snapshot refresh time and the scrape time (median, p99), in both formats.

Usage: python bench/bench_metrics.py [--accounts 2000] [--waits 200000] [--scrapes 200]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from common import database_url, report
from prometheus_client import CollectorRegistry, ProcessCollector

from monitor.config import parse
from monitor.domain.changes import IngestResult, WaitEvent
from monitor.engine import AccountContext
from monitor.metrics import Metrics
from monitor.poller import Poller, PollTarget
from monitor.server import HttpServer
from monitor.sources.demo import DemoSource
from monitor.store.db import create_pool, migrate
from monitor.store.store import AccountRow, Store


async def scrape(port: int, accept: str) -> bytes:
    """GET /metrics with a minimal HTTP/1.1 client: reads as fast as Prometheus's own scraper would
    (aiohttp's client alone takes longer than the server to move 4 MB)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /metrics HTTP/1.1\r\nHost: bench\r\nAccept: {accept}\r\nConnection: close\r\n\r\n".encode())
    chunks = []
    while chunk := await reader.read(1 << 20):
        chunks.append(chunk)
    writer.close()
    response = b"".join(chunks)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return body


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)]


async def fill(store: Store, accounts: int, waits: int) -> dict[int, AccountContext]:
    config = parse(
        {
            "policies": {
                "default": {
                    "public": {"first": "30m", "next": "1h"},
                    "private": {"first": "1h", "next": "2h"},
                    "business_hours_only": False,
                }
            },
            "brands": [{"name": "b", "accounts": [{"name": "a", "channel": "x", "user_id": "1", "source": "demo"}]}],
        },
        environ={},
    )
    policy = config.policy("default")
    rows = [
        AccountRow(f"acct-{i:04d}", f"brand-{i % 20:02d}", "x" if i % 2 else "facebook", str(i), None, "default")
        for i in range(accounts)
    ]
    ids = await store.sync_accounts(rows)
    async with store.pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO threads (account_id, thread_key, kind)
            SELECT a.id, 't' || g, 'public' FROM generate_series(1, $1) g
            JOIN accounts a ON a.id = (SELECT min(id) FROM accounts) + (g % $2)
        """,
            waits,
            accounts,
        )
        await conn.execute("""
            INSERT INTO waits (thread_id, seq, account_id, kind, opened_at, opened_message, questions,
                               target_seconds, deadline, at_risk_at)
            SELECT t.id, 0, t.account_id, CASE WHEN t.id % 3 = 0 THEN 'next' ELSE 'first' END,
                   now() - (t.id % 7200) * interval '1 second', 'm' || t.id, 1, 1800,
                   now() - (t.id % 7200) * interval '1 second' + interval '30 minutes',
                   now() - (t.id % 7200) * interval '1 second' + interval '24 minutes'
            FROM threads t
        """)
        await conn.execute("ANALYZE waits")
    return {
        ids[r.name]: AccountContext(ids[r.name], r.name, r.brand, r.channel, policy)  # type: ignore[arg-type]
        for r in rows
    }


async def run(url: str, accounts: int, waits: int, scrapes: int) -> list[tuple[str, str]]:
    pool = await create_pool(url, min_size=1, max_size=4)
    await migrate(pool)
    store = Store(pool)
    t = time.perf_counter()
    contexts = await fill(store, accounts, waits)
    print(f"filled {accounts} accounts, {waits} open waits in {time.perf_counter() - t:.1f} s")
    metrics = Metrics(contexts, registry=None)
    targets = [
        PollTarget(i, c.name, c.brand, c.channel, DemoSource(c.name, c.channel), 60)
        for i, c in contexts.items()
        for _ in range(1)
    ]
    metrics.watch(targets)
    rng = random.Random(1)
    now = datetime.now(UTC)
    for target in targets:  # every account has polled and answered some questions
        answered = [
            WaitEvent(
                target.account_id,
                0,
                0,
                rng.choice(("first", "next")),
                "public",
                rng.uniform(10, 20000),
                rng.uniform(10, 20000),
                f"{rng.randrange(10**18)}",
                "https://x.com/brand/status/1234567890123456789",
            )
            for _ in range(20)
        ]
        metrics.poll_done(
            target,
            "ok",
            rng.uniform(0.01, 2),
            None,
            IngestResult(messages_new=40, new_created_at=[now - timedelta(seconds=30)] * 40, answered=answered),
        )
    refreshes = []
    for _ in range(10):
        t = time.perf_counter()
        await metrics.refresh(store)
        refreshes.append(time.perf_counter() - t)
    assert sum(metrics.open_waits.value(k) for k in metrics.open_waits.series) == waits
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    poller = Poller(None, [])  # type: ignore[arg-type]
    server = HttpServer("127.0.0.1", 0, store=store, poller=poller, metrics=metrics, registry=registry)
    await server.start()
    figures = [
        (
            "snapshot refresh (median / max of 10)",
            f"{statistics.median(refreshes) * 1000:.0f} ms / {max(refreshes) * 1000:.0f} ms",
        )
    ]
    if True:
        for name, accept in (("text", "text/plain"), ("OpenMetrics", "application/openmetrics-text")):
            times, size = [], 0
            await metrics.refresh(store)  # as in production: the snapshot task renders what changed
            for i in range(scrapes):
                for target in rng.sample(targets, 20):  # polls between two scrapes change values
                    metrics.poll_done(target, "ok", 0.1, None, None)
                if i % 20 == 0:
                    await metrics.refresh(store)
                t = time.perf_counter()
                body = await scrape(server.port, accept)
                times.append(time.perf_counter() - t)
                size = len(body)
            lines = body.count(b"\n")
            figures.append(
                (
                    f"scrape, {name} ({size / 1e6:.1f} MB, {lines} lines) median / p99",
                    f"{statistics.median(times) * 1000:.1f} ms / {p99(times) * 1000:.1f} ms",
                )
            )

    await server.stop()
    await pool.close()
    return figures


def main() -> list[tuple[str, str]]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--waits", type=int, default=200_000)
    parser.add_argument("--scrapes", type=int, default=200)
    args, _ = parser.parse_known_args()
    with database_url() as url:
        return report(asyncio.run(run(url, args.accounts, args.waits, args.scrapes)))


if __name__ == "__main__":
    main()
