"""Ingest throughput: the whole path (normalise, classify, upsert, thread and wait recomputation,
cursor) into PostgreSQL, against a raw COPY of the same rows into the same messages table.

Usage: python bench/bench_ingest.py [--messages 100000] [--batch 1000]
Prints messages/second for both and the ratio; checks a sample of waits against the pure domain.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

from common import database_url, report

from monitor.config import parse
from monitor.domain.model import Message, ThreadMessage
from monitor.engine import AccountContext, Engine, thread_outcome
from monitor.store.db import create_pool, migrate
from monitor.store.store import AccountRow, Store, ThreadInfo

QUESTIONS = ["Bonjour, ma commande n'est toujours pas arrivée, vous pouvez vérifier ?",
             "How do I reset my password", "Still waiting for a refund, this is ridiculous",
             "Ça ne marche pas depuis ce matin", "Do you ship to Canada?"]
OTHER = ["Merci, super service !", "Love it 😍"]
REPLY = "Bonjour, nous regardons cela et revenons vers vous."
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def traffic(n: int, seed: int = 1) -> list[Message]:
    """Public threads of 1-4 customer posts and 0-2 brand replies, ~3 messages a thread."""
    rng = random.Random(seed)
    out: list[Message] = []
    thread = 0
    while len(out) < n:
        thread += 1
        customer = str(rng.randrange(10**9))
        key = f"{thread}:{customer}"
        t = T0 + timedelta(seconds=thread * 2)
        for i in range(rng.randint(1, 4)):
            t += timedelta(seconds=rng.randint(5, 600))
            text = f"{rng.choice(QUESTIONS if rng.random() < 0.8 else OTHER)} #{thread}-{i}"  # each text unique
            out.append(Message(f"q{thread}-{i}", key, "public", "inbound", t, text, customer, f"user{customer[:5]}",
                               f"https://x.com/u/status/{thread}{i}", raw={"id": f"q{thread}-{i}", "text": "x" * 80}))
            if rng.random() < 0.6:
                t += timedelta(seconds=rng.randint(30, 7200))
                out.append(Message(f"r{thread}-{i}", key, "public", "outbound", t, REPLY, "brand", "brand",
                                   None, raw={"id": f"r{thread}-{i}"}))
    return out[:n]


async def run(url: str, n: int, batch: int) -> list[tuple[str, str]]:
    pool = await create_pool(url, min_size=1, max_size=4)
    await migrate(pool)
    store = Store(pool)
    config = parse({"policies": {"default": {"public": {"first": "30m", "next": "1h"},
                                             "private": {"first": "1h", "next": "2h"}, "business_hours_only": False}},
                    "brands": [{"name": "b", "accounts": [{"name": "a", "channel": "x", "user_id": "1",
                                                          "source": "demo"}]}]}, environ={})
    ids = await store.sync_accounts([AccountRow("bench", "b", "x", "1", None, "default"),
                                     AccountRow("copy", "b", "x", "2", None, "default")])
    ctx = AccountContext(ids["bench"], "bench", "b", "x", config.policy("default"))
    now = T0 + timedelta(days=30)
    engine = Engine(store, {ctx.id: ctx}, clock=lambda: now)
    messages = traffic(n)
    # Messages arrive in time order, as a poller reads them; a thread's question and its reply
    # often land in different batches.
    t = time.perf_counter()
    for i in range(0, n, batch):
        await engine.ingest(ctx.id, "bench", messages[i:i + batch], f"c{i}")
    ingest_s = time.perf_counter() - t

    # Baseline: the same rows, COPY'd into the same table (thread ids borrowed from the ingest).
    async with pool.acquire() as conn:
        thread_ids = {r["thread_key"]: r["id"] for r in await conn.fetch(
            "SELECT thread_key, id FROM threads WHERE account_id = $1", ctx.id)}
        rows = [(ids["copy"], "x", m.external_id, thread_ids[m.thread_key], m.direction, m.author_id,
                 m.author_handle, m.text, m.url, m.is_retweet, m.created_at, m.raw) for m in messages]
        columns = ["account_id", "channel", "external_id", "thread_id", "direction", "author_id", "author_handle",
                   "body", "url", "is_retweet", "created_at", "raw"]
        t = time.perf_counter()
        for i in range(0, n, batch):
            async with conn.transaction():
                await conn.copy_records_to_table("messages", records=rows[i:i + batch], columns=columns)
        copy_s = time.perf_counter() - t

        # Check a sample of threads against the pure domain.
        by_thread: dict[str, list[Message]] = {}
        for m in messages:
            by_thread.setdefault(m.thread_key, []).append(m)
        sample = random.Random(2).sample(sorted(by_thread), 200)
        for key in sample:
            info = ThreadInfo(thread_ids[key], ctx.id, "public", None, None)
            expected = thread_outcome(ctx, info, [ThreadMessage(m.external_id, m.direction, m.created_at, m.text,
                                                                m.author_id) for m in by_thread[key]], now).waits
            got = await conn.fetch("SELECT seq, kind, opened_message, closed_message, closed_at FROM waits"
                                   " WHERE thread_id = $1 ORDER BY seq", thread_ids[key])
            assert [(w.seq, w.kind, w.opened_message, w.closed_message, w.closed_at) for w in expected] == \
                [tuple(r) for r in got], key
        waits = await conn.fetchval("SELECT count(*) FROM waits")
    await pool.close()
    return [
        ("ingest, whole path",
         f"{n / ingest_s:,.0f} messages/s ({n:,} messages in batches of {batch}, {waits:,} waits)"),
        ("raw COPY of the same rows", f"{n / copy_s:,.0f} messages/s"),
        ("ingest / COPY", f"{copy_s / ingest_s:.0%}"),
        ("waits checked against the pure domain", "200 threads, all equal"),
    ]


def main() -> list[tuple[str, str]]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args, _ = parser.parse_known_args()
    with database_url() as url:
        return report(asyncio.run(run(url, args.messages, args.batch)))


if __name__ == "__main__":
    main()
