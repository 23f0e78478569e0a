"""What X billed each account: the resources read once per UTC day, and the counts per day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg

from monitor.domain.cost import BillableKind, BillableRead, unique_reads
from monitor.store.db import Connection

BILLABLE_KEEP_DAYS = 2
"""UTC days of billed resource ids kept (today and yesterday): X de-duplicates within one UTC day,
so older ids can never make a read free again; yesterday's stay for a batch read just before
midnight and stored just after. This bounds the table to two days of reads."""


async def count_billable(conn: Connection, account_id: int, day: date, reads: Sequence[BillableRead]) -> dict[str, int]:
    """Count the reads X bills on `day`: each resource once per day, whoever read it before.
    Returns the newly billed resources by kind (within the caller's transaction)."""
    unique = unique_reads(reads)
    if not unique:
        return {}
    rows = await conn.fetch(
        """
        INSERT INTO billable_reads (account_id, day, kind, resource_id)
        SELECT $1, $2, u.kind, u.resource_id FROM unnest($3::text[], $4::text[]) AS u(kind, resource_id)
        ON CONFLICT DO NOTHING
        RETURNING kind
        """,
        account_id,
        day,
        [r.kind for r in unique],
        [r.resource_id for r in unique],
    )
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["kind"]] = counts.get(r["kind"], 0) + 1
    if counts:
        await conn.execute(
            """
            INSERT INTO billable_daily (account_id, day, kind, count)
            SELECT $1, $2, u.kind, u.n FROM unnest($3::text[], $4::bigint[]) AS u(kind, n)
            ON CONFLICT (account_id, day, kind) DO UPDATE SET count = billable_daily.count + EXCLUDED.count
            """,
            account_id,
            day,
            list(counts),
            list(counts.values()),
        )
    await conn.execute(
        "DELETE FROM billable_reads WHERE account_id = $1 AND day < $2",
        account_id,
        day - timedelta(days=BILLABLE_KEEP_DAYS - 1),
    )
    return counts


@dataclass(frozen=True)
class BilledCount:
    """Resources of one kind X billed an account over a period."""

    account: str
    brand: str
    kind: BillableKind
    count: int


async def billed(
    pool: asyncpg.Pool, start: date, end: date, accounts: Sequence[str] | None = None
) -> list[BilledCount]:
    """Resources billed per account and kind on the UTC days [start, end)."""
    rows = await pool.fetch(
        """
        SELECT a.name, a.brand, d.kind, sum(d.count)::bigint AS n
        FROM billable_daily d JOIN accounts a ON a.id = d.account_id
        WHERE d.day >= $1 AND d.day < $2 AND ($3::text[] IS NULL OR a.name = ANY($3::text[]))
        GROUP BY a.name, a.brand, d.kind
        ORDER BY a.brand, a.name, d.kind
        """,
        start,
        end,
        list(accounts) if accounts is not None else None,
    )
    return [BilledCount(r["name"], r["brand"], r["kind"], int(r["n"])) for r in rows]


async def billed_by_account(
    pool: asyncpg.Pool, start: date, end: date, accounts: Sequence[str] | None = None
) -> dict[tuple[str, str], dict[BillableKind, int]]:
    """(brand, account) -> kind -> resources billed on the UTC days [start, end), by brand and name."""
    out: dict[tuple[str, str], dict[BillableKind, int]] = {}
    for b in await billed(pool, start, end, accounts):
        out.setdefault((b.brand, b.account), {})[b.kind] = b.count
    return out


async def answered_questions(
    pool: asyncpg.Pool, start: datetime, end: datetime, accounts: Sequence[str] | None = None
) -> dict[str, int]:
    """Account name -> questions whose wait got its reply in [start, end)."""
    rows = await pool.fetch(
        """
        SELECT a.name, sum(w.questions)::bigint AS n
        FROM waits w JOIN accounts a ON a.id = w.account_id
        WHERE w.closed_at >= $1 AND w.closed_at < $2 AND ($3::text[] IS NULL OR a.name = ANY($3::text[]))
        GROUP BY a.name
        """,
        start,
        end,
        list(accounts) if accounts is not None else None,
    )
    return {r["name"]: int(r["n"]) for r in rows}


async def month_billed(pool: asyncpg.Pool, month_start: date) -> dict[int, dict[str, int]]:
    """Account id -> kind -> resources billed since `month_start` (the budget's spend so far)."""
    rows = await pool.fetch(
        """
        SELECT account_id, kind, sum(count)::bigint AS n FROM billable_daily
        WHERE day >= $1 GROUP BY account_id, kind
        """,
        month_start,
    )
    out: dict[int, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["account_id"], {})[r["kind"]] = int(r["n"])
    return out
