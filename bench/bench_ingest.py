"""Ingest throughput: the whole path (normalise, classify, upsert, thread and wait recomputation,
cursor) into PostgreSQL, against a raw COPY of the same rows into the same messages table.

Usage: python bench/bench_ingest.py [--messages 100000] [--batch 1000] [--history 100000] [--streams 1]
                                   [--rounds 3]

The store first holds `--history` messages of earlier traffic, ingested the same way and then
analysed (as autovacuum does on a live database: an empty, never-analysed table makes PostgreSQL
plan scans for lookups that an index answers in production). Then `--messages` new messages are
ingested, in time order, in batches, by `--streams` accounts at once (the poller ingests several
accounts concurrently, each on its own connection); and the same rows are COPY'd by as many
connections at once into the same messages table, for the baseline.
Prints messages/second for both and the ratio; checks a sample of waits against the pure domain.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from common import database_url, report

from monitor.config import parse
from monitor.domain.model import Message, ThreadInfo, ThreadMessage
from monitor.engine import AccountContext, Engine, thread_outcome
from monitor.simulator.traffic import PRAISE, PUBLIC_QUESTIONS, REPLIES, mixed
from monitor.store.db import create_pool, migrate
from monitor.store.store import AccountRow, Store

QUESTIONS = mixed(PUBLIC_QUESTIONS)
OTHER = mixed(PRAISE)
REPLY = REPLIES["fr"][0]
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
            out.append(
                Message(
                    f"q{thread}-{i}",
                    key,
                    "public",
                    "inbound",
                    t,
                    text,
                    customer,
                    f"user{customer[:5]}",
                    f"https://x.com/u/status/{thread}{i}",
                    raw={"id": f"q{thread}-{i}", "text": "x" * 80},
                )
            )
            if rng.random() < 0.6:
                t += timedelta(seconds=rng.randint(30, 7200))
                out.append(
                    Message(
                        f"r{thread}-{i}",
                        key,
                        "public",
                        "outbound",
                        t,
                        REPLY,
                        "brand",
                        "brand",
                        None,
                        raw={"id": f"r{thread}-{i}"},
                    )
                )
    return out[:n]


async def run(url: str, n: int, batch: int, history: int, streams: int, rounds: int) -> list[tuple[str, str]]:
    pool = await create_pool(url, min_size=1, max_size=streams + 1)
    await migrate(pool)
    store = Store(pool)
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
    now = T0 + timedelta(days=60)
    ids = await store.sync_accounts(
        [
            AccountRow(f"{role}{r}-{s}", "b", "x", f"{role}{r}-{s}", None, "default")
            for role in ("bench", "copy")
            for r in range(-1, rounds)
            for s in range(streams)
        ]
    )
    contexts = {name: AccountContext(i, name, "b", "x", policy) for name, i in ids.items()}
    engine = Engine(store, {c.id: c for c in contexts.values()}, clock=lambda: now)

    async def ingest(account: str, messages: list[Message]) -> None:
        # Messages arrive in time order, as a poller reads them; a thread's question and its
        # reply often land in different batches.
        for i in range(0, len(messages), batch):
            await engine.ingest(ids[account], "bench", messages[i : i + batch], f"c{i}")

    # The history: other accounts' earlier traffic, then analysed.
    await asyncio.gather(*(ingest(f"bench-1-{s}", traffic(history // streams, seed=100 + s)) for s in range(streams)))
    columns = [
        "account_id",
        "channel",
        "external_id",
        "thread_id",
        "direction",
        "author_id",
        "author_handle",
        "body",
        "url",
        "is_retweet",
        "created_at",
        "raw",
    ]
    per_stream = n // streams
    measured = per_stream * streams
    results: list[tuple[float, float]] = []
    checked: dict[str, list[Message]] = {}
    for r in range(rounds):
        async with pool.acquire() as conn:
            await conn.execute("ANALYZE")
        traffics = {f"bench{r}-{s}": traffic(per_stream, seed=r * 10 + s + 1) for s in range(streams)}
        t = time.perf_counter()
        await asyncio.gather(*(ingest(account, messages) for account, messages in traffics.items()))
        ingest_s = time.perf_counter() - t

        # Baseline: the same rows, COPY'd into the same table by as many connections at once (into
        # other accounts, with the thread ids of the ingest).
        async with pool.acquire() as conn:
            thread_ids = {
                (r["account_id"], r["thread_key"]): r["id"]
                for r in await conn.fetch(
                    "SELECT account_id, thread_key, id FROM threads WHERE account_id = ANY($1::integer[])",
                    [ids[a] for a in traffics],
                )
            }

        async def copy(account: str, messages: list[Message], thread_ids: dict[tuple[int, str], int]) -> None:
            rows = [
                (
                    ids["copy" + account.removeprefix("bench")],
                    "x",
                    m.external_id,
                    thread_ids[(ids[account], m.thread_key)],
                    m.direction,
                    m.author_id,
                    m.author_handle,
                    m.text,
                    m.url,
                    m.is_retweet,
                    m.created_at,
                    m.raw,
                )
                for m in messages
            ]
            async with pool.acquire() as conn:
                for i in range(0, len(rows), batch):
                    async with conn.transaction():
                        await conn.copy_records_to_table("messages", records=rows[i : i + batch], columns=columns)

        t = time.perf_counter()
        await asyncio.gather(*(copy(account, messages, thread_ids) for account, messages in traffics.items()))
        copy_s = time.perf_counter() - t
        results.append((measured / ingest_s, measured / copy_s))
        print(
            f"round {r + 1}: ingest {measured / ingest_s:,.0f}/s, COPY {measured / copy_s:,.0f}/s, "
            f"{copy_s / ingest_s:.0%}",
            flush=True,
        )
        checked.update(traffics)

    # Check a sample of threads against the pure domain.
    async with pool.acquire() as conn:
        by_thread: dict[tuple[str, str], list[Message]] = {}
        for account, messages in checked.items():
            for m in messages:
                by_thread.setdefault((account, m.thread_key), []).append(m)
        sample = random.Random(2).sample(sorted(by_thread), 200)
        for account, key in sample:
            ctx = contexts[account]
            tid = await conn.fetchval("SELECT id FROM threads WHERE account_id = $1 AND thread_key = $2", ctx.id, key)
            info = ThreadInfo(tid, ctx.id, "public", None, None)
            expected = thread_outcome(
                ctx,
                info,
                [
                    ThreadMessage(m.external_id, m.direction, m.created_at, m.text, m.author_id)
                    for m in by_thread[(account, key)]
                ],
                now,
            ).waits
            got = await conn.fetch(
                "SELECT seq, kind, opened_message, closed_message, closed_at FROM waits"
                " WHERE thread_id = $1 ORDER BY seq",
                tid,
            )
            assert [(w.seq, w.kind, w.opened_message, w.closed_message, w.closed_at) for w in expected] == [
                tuple(r) for r in got
            ], key
        waits = await conn.fetchval("SELECT count(*) FROM waits")
    await pool.close()
    ingest_rate = statistics.median(i for i, _ in results)
    copy_rate = statistics.median(c for _, c in results)
    ratio = statistics.median(i / c for i, c in results)
    how = (
        f"{measured:,} messages in batches of {batch}, {streams} account(s) at once, after {history:,} messages "
        f"of history; median of {rounds} rounds"
    )
    return [
        ("ingest, whole path", f"{ingest_rate:,.0f} messages/s ({how})"),
        ("raw COPY of the same rows", f"{copy_rate:,.0f} messages/s ({streams} connection(s) at once)"),
        ("ingest / COPY", f"{ratio:.0%}"),
        ("rounds: ingest messages/s, COPY messages/s", "; ".join(f"{i:,.0f}, {c:,.0f}" for i, c in results)),
        ("waits checked against the pure domain", f"200 threads of {len(by_thread):,}, all equal ({waits:,} waits)"),
    ]


def main() -> list[tuple[str, str]]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    args, _ = parser.parse_known_args()
    with database_url() as url:
        return report(asyncio.run(run(url, args.messages, args.batch, args.history, args.streams, args.rounds)))


if __name__ == "__main__":
    main()
