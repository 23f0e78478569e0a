"""Report time on a year of data for 10 brands (20 accounts, about 10 million messages).

The facts are generated in PostgreSQL (generate_series, seeded random()): threads, messages
(questions, brand replies, praise) and the waits the engine would have stored for them, with
wall and business seconds, targets and deadlines. Then the report is made as `inbox-monitor
report` makes it (build from the store, render the PDF) for: last month, last week, one brand's
month, and the whole year (the worst case). Prints each time (best and worst of the runs).

A real PostgreSQL: the embedded one (pgserver, default settings) in --data-dir (kept, so a second
run skips the generation), or BENCH_DATABASE_URL.

Usage: python bench/bench_report.py [--messages 10000000] [--data-dir /tmp/bench-report] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg

from monitor.reports.build import ReportRequest, build_report
from monitor.reports.period import parse_period, period_between
from monitor.reports.render import render
from monitor.store.db import create_pool, migrate
from monitor.store.reports import ReportStore

BRANDS = 10
YEAR_START = datetime(2025, 11, 1, tzinfo=UTC)
YEAR_END = datetime(2026, 11, 1, tzinfo=UTC)
NOW = YEAR_END + timedelta(days=1, hours=8)  # the morning after the year: every period is settled
MESSAGES_PER_THREAD = 2.146  # question, reply (85 %), a next wait (25 %, 80 % answered); 7 % praise only

GENERATE = """
SELECT setseed(0.42);
CREATE UNLOGGED TABLE bench_conv AS
SELECT i AS n,
       1 + (i % {accounts}) AS account_id,
       '{start}'::timestamptz + (i::double precision / {threads}) * (timestamptz '{end}' - timestamptz '{start}')
           + random() * interval '20 minutes' AS t0,
       random() < 0.3 AS private,
       random() < 0.07 AS praise,
       random() < 0.85 AS answered1,
       exp(6.2 + 1.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS delay1,
       random() < 0.25 AS has_next,
       300 + random() * 7200 AS gap,
       random() < 0.8 AS answered2,
       exp(6.5 + 1.4 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS delay2
FROM generate_series(1, {threads}) AS i;
"""

THREADS = """
INSERT INTO threads (id, account_id, thread_key, kind, customer_id, customer_handle, url)
SELECT n, account_id, 'conv:' || n, CASE WHEN private THEN 'private' ELSE 'public' END,
       (n % 500000)::text, 'customer_' || (n % 500000), 'https://example.com/t/' || n
FROM bench_conv
"""

MESSAGES = """
INSERT INTO messages (account_id, channel, external_id, thread_id, direction, author_id, author_handle,
                      body, url, created_at, is_question)
SELECT c.account_id, a.channel, m.ext, c.n, m.direction, m.author, m.handle, m.body,
       'https://example.com/m/' || m.ext, m.at, m.question
FROM bench_conv c JOIN accounts a ON a.id = c.account_id
CROSS JOIN LATERAL (VALUES
    (c.n || 'q1', 'inbound', c.n::text, 'customer', 'Bonjour, ma commande n''est toujours pas arrivée ?', c.t0,
     NOT c.praise, true),
    (c.n || 'r1', 'outbound', 'brand', 'brand', 'Bonjour, nous regardons cela en DM.',
     c.t0 + c.delay1 * interval '1 second', false, NOT c.praise AND c.answered1),
    (c.n || 'q2', 'inbound', c.n::text, 'customer', 'Toujours rien, vous pouvez vérifier ?',
     c.t0 + (c.delay1 + c.gap) * interval '1 second', true, NOT c.praise AND c.answered1 AND c.has_next),
    (c.n || 'r2', 'outbound', 'brand', 'brand', 'C''est réglé, merci de votre patience.',
     c.t0 + (c.delay1 + c.gap + c.delay2) * interval '1 second', false,
     NOT c.praise AND c.answered1 AND c.has_next AND c.answered2)
) AS m(ext, direction, author, handle, body, at, question, present)
WHERE m.present
"""

WAITS = """
INSERT INTO waits (thread_id, seq, account_id, kind, opened_at, opened_message, closed_at, closed_message,
                   questions, target_seconds, deadline, at_risk_at, wall_seconds, business_seconds,
                   at_risk_reached_at, breached_at, breach_counted_at)
SELECT w.thread_id, w.seq, w.account_id, w.kind, w.opened_at, w.opened_message, w.closed_at, w.closed_message,
       1, w.target, w.opened_at + w.target * interval '1 second',
       w.opened_at + 0.8 * w.target * interval '1 second',
       extract(epoch FROM w.closed_at - w.opened_at), 0.45 * extract(epoch FROM w.closed_at - w.opened_at),
       CASE WHEN w.closed_at IS NULL OR w.closed_at > w.opened_at + 0.8 * w.target * interval '1 second'
            THEN w.opened_at + 0.8 * w.target * interval '1 second' END,
       CASE WHEN w.closed_at IS NULL OR w.closed_at > w.opened_at + w.target * interval '1 second'
            THEN w.opened_at + w.target * interval '1 second' END,
       CASE WHEN w.closed_at IS NULL OR w.closed_at > w.opened_at + w.target * interval '1 second'
            THEN w.opened_at + w.target * interval '1 second' END
FROM (
    SELECT c.n AS thread_id, 0 AS seq, c.account_id, 'first' AS kind, c.t0 AS opened_at, c.n || 'q1' AS opened_message,
           CASE WHEN c.answered1 THEN c.t0 + c.delay1 * interval '1 second' END AS closed_at,
           CASE WHEN c.answered1 THEN c.n || 'r1' END AS closed_message,
           CASE WHEN c.private THEN 3600.0 ELSE 1800.0 END AS target
    FROM bench_conv c WHERE NOT c.praise
    UNION ALL
    SELECT c.n, 1, c.account_id, 'next', c.t0 + (c.delay1 + c.gap) * interval '1 second', c.n || 'q2',
           CASE WHEN c.answered2 THEN c.t0 + (c.delay1 + c.gap + c.delay2) * interval '1 second' END,
           CASE WHEN c.answered2 THEN c.n || 'r2' END,
           CASE WHEN c.private THEN 7200.0 ELSE 3600.0 END
    FROM bench_conv c WHERE NOT c.praise AND c.answered1 AND c.has_next
) AS w
"""


async def generate(pool: asyncpg.Pool, messages: int) -> None:
    threads = int(messages / MESSAGES_PER_THREAD)
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT count(*) FROM accounts") > 0:
            print("data already there: reusing it", flush=True)
            return
        await conn.execute("SET synchronous_commit = off; SET maintenance_work_mem = '1GB'")
        await conn.execute(
            "INSERT INTO accounts (name, brand, channel, external_id, policy) "
            "SELECT 'brand' || lpad(((i - 1) / 2)::text, 2, '0') || CASE WHEN i % 2 = 1 THEN '-x' ELSE '-fb' END, "
            "'brand' || lpad(((i - 1) / 2)::text, 2, '0'), CASE WHEN i % 2 = 1 THEN 'x' ELSE 'facebook' END, "
            "i::text, 'default' FROM generate_series(1, $1) AS i",
            BRANDS * 2,
        )
        # Load without the secondary indexes and the unique and foreign-key constraints, then
        # build them in bulk (as a restore does).
        tables = ["threads", "messages", "waits"]
        constraints = await conn.fetch(
            "SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint"
            " WHERE conrelid::regclass::text = ANY($1::text[]) AND contype IN ('u', 'f')",
            tables,
        )
        for c in constraints:
            await conn.execute(f"ALTER TABLE {c['tbl']} DROP CONSTRAINT {c['conname']}")
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1::text[])"
            " AND indexname NOT LIKE '%pkey'",
            tables,
        )
        for r in indexes:
            await conn.execute(f"DROP INDEX {r['indexname']}")
        sql = GENERATE.format(
            accounts=BRANDS * 2, threads=threads, start=YEAR_START.isoformat(), end=YEAR_END.isoformat()
        )
        for name, step in (("draws", sql), ("threads", THREADS), ("messages", MESSAGES), ("waits", WAITS)):
            t = time.perf_counter()
            await conn.execute(step)
            print(f"  generated {name} in {time.perf_counter() - t:.0f}s", flush=True)
        t = time.perf_counter()
        for c in constraints:
            await conn.execute(f"ALTER TABLE {c['tbl']} ADD CONSTRAINT {c['conname']} {c['def']}")
        for r in indexes:
            await conn.execute(r["indexdef"])
        await conn.execute("SELECT setval('threads_id_seq', (SELECT max(id) FROM threads))")
        await conn.execute("DROP TABLE bench_conv")
        print(f"  constraints and indexes in {time.perf_counter() - t:.0f}s", flush=True)
        t = time.perf_counter()
        await conn.execute("VACUUM ANALYZE accounts, threads, messages, waits")
        print(f"  vacuum analyze in {time.perf_counter() - t:.0f}s", flush=True)


async def _main() -> list[tuple[str, str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/bench-report"))
    parser.add_argument("--runs", type=int, default=3)
    args, _ = parser.parse_known_args()
    figures: list[tuple[str, str]] = []

    server = None
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        import pgserver

        server = pgserver.get_server(args.data_dir, cleanup_mode="stop")  # the data is kept
        url = server.get_uri()
    pool = await create_pool(url, min_size=1, max_size=10)
    try:
        await migrate(pool)
        t = time.perf_counter()
        await generate(pool, args.messages)
        async with pool.acquire() as conn:
            counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("messages", "waits", "threads")}
        print(
            f"data: {counts['messages']:,} messages, {counts['waits']:,} waits, {counts['threads']:,} threads, "
            f"{BRANDS} brands, 20 accounts, {YEAR_START:%Y-%m-%d}..{YEAR_END:%Y-%m-%d} "
            f"(ready in {time.perf_counter() - t:.0f}s)",
            flush=True,
        )
        store = ReportStore(pool)
        cases = [
            ("last month, all brands", ReportRequest(parse_period("last-month", now=NOW, timezone="Europe/Paris"))),
            ("last week, all brands", ReportRequest(parse_period("last-week", now=NOW, timezone="Europe/Paris"))),
            (
                "last month, one brand",
                ReportRequest(parse_period("last-month", now=NOW, timezone="Europe/Paris"), brands=("brand03",)),
            ),
            (
                "whole year, all brands",
                ReportRequest(period_between(date(2025, 11, 1), date(2026, 10, 31), timezone="Europe/Paris")),
            ),
        ]
        data = f"{counts['messages']:,} messages, {counts['waits']:,} waits, {BRANDS} brands, one year"
        figures.append(("data", data))
        worst = 0.0
        for name, request in cases:
            builds, totals = [], []
            for _ in range(args.runs):
                t = time.perf_counter()
                report = await build_report(store, request, as_of=NOW)
                built = time.perf_counter() - t
                pdf = await asyncio.to_thread(render, report, "pdf", "fr")
                totals.append(time.perf_counter() - t)
                builds.append(built)
            worst = max(worst, max(totals))
            print(
                f"{name:24s} waits {report.total.current.waits_opened:>9,}  "
                f"figures {min(builds):5.2f}s (max {max(builds):5.2f}s)  "
                f"figures + PDF {min(totals):5.2f}s (max {max(totals):5.2f}s, median "
                f"{statistics.median(totals):5.2f}s)  {len(pdf) // 1024} KiB",
                flush=True,
            )
            figures.append(
                (
                    (
                        f"{name} ({report.total.current.waits_opened:,} waits): figures / figures + PDF, best of "
                        f"{args.runs} (worst)"
                    ),
                    f"{min(builds):.2f} s / {min(totals):.2f} s ({max(totals):.2f} s)",
                )
            )
        print(f"worst report time: {worst:.2f}s (target <= 20 s)")
        figures.append(("worst report time, figures + PDF", f"{worst:.2f} s"))
    finally:
        await pool.close()
        if server is not None:
            server.cleanup()
    return figures


def main() -> list[tuple[str, str]]:
    return asyncio.run(_main())


if __name__ == "__main__":
    main()
