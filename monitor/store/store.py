"""All SQL of the project's data: accounts, ingest (messages, threads, waits, cursors), poll state."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from monitor.domain.model import Message, ThreadMessage


def clean_text(text: str) -> str:
    """PostgreSQL text cannot hold NUL: keep the message, mark where the NUL was."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def clean_message(m: Message) -> Message:
    """The message with every text field storable (NUL replaced), the same object when it already is."""
    fields = ("external_id", "thread_key", "text", "author_id", "author_handle", "url")
    dirty: dict[str, Any] = {f: clean_text(v) for f in fields if isinstance(v := getattr(m, f), str) and "\x00" in v}
    return dataclasses.replace(m, **dirty) if dirty else m


def clean_json(value: Any) -> Any:
    """JSONB cannot hold \\u0000 either; clean strings and keys recursively."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class AccountRow:
    name: str
    brand: str
    channel: str
    external_id: str
    handle: str | None
    policy: str


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    id: int
    account_id: int
    kind: str
    customer_id: str | None
    customer_handle: str | None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class WaitRow:
    """A wait as stored: the domain's wait plus what the policy says of it."""

    seq: int
    kind: str
    opened_at: datetime
    opened_message: str
    questions: int
    closed_at: datetime | None
    closed_message: str | None
    target_seconds: float
    deadline: datetime
    at_risk_at: datetime
    wall_seconds: float | None
    business_seconds: float | None
    at_risk_reached_at: datetime | None
    breached_at: datetime | None


@dataclass(frozen=True, slots=True)
class ThreadOutcome:
    waits: list[WaitRow]
    flags: Mapping[str, tuple[bool, bool]]
    """external id -> (is_question, is_automatic)."""


Compute = Callable[[ThreadInfo, list[ThreadMessage]], ThreadOutcome]


@dataclass(frozen=True, slots=True)
class WaitEvent:
    """A wait opened or answered by a transaction, for the metrics."""

    account_id: int
    thread_id: int
    seq: int
    kind: str
    thread_kind: str
    wall_seconds: float | None = None
    business_seconds: float | None = None
    message: str | None = None
    """External id of the question that opened the wait."""
    url: str | None = None


@dataclass
class IngestResult:
    messages_new: int = 0
    new_created_at: list[datetime] = field(default_factory=list)
    """Customer time of each new message (for the ingest lag)."""
    threads_touched: int = 0
    opened: list[WaitEvent] = field(default_factory=list)
    answered: list[WaitEvent] = field(default_factory=list)


_WAIT_COLUMNS = (
    "kind, opened_at, opened_message, questions, closed_at, closed_message, target_seconds,"
    " deadline, at_risk_at, wall_seconds, business_seconds, at_risk_reached_at, breached_at"
)


class Store:
    """The project's PostgreSQL data; every transaction opens here."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def sync_accounts(self, accounts: Iterable[AccountRow]) -> dict[str, int]:
        """Insert or update the configured accounts; return their ids by name."""
        rows = list(accounts)
        async with self.pool.acquire() as conn:
            records = await conn.fetch(
                """
                INSERT INTO accounts (name, brand, channel, external_id, handle, policy)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                ON CONFLICT (name) DO UPDATE SET
                    brand = EXCLUDED.brand, channel = EXCLUDED.channel,
                    external_id = EXCLUDED.external_id, handle = EXCLUDED.handle,
                    policy = EXCLUDED.policy, updated_at = now()
                RETURNING id, name
                """,
                [r.name for r in rows], [r.brand for r in rows], [r.channel for r in rows],
                [r.external_id for r in rows], [r.handle for r in rows], [r.policy for r in rows],
            )
        return {r["name"]: r["id"] for r in records}

    async def load_cursor(self, account_id: int, stream: str) -> str | None:
        async with self.pool.acquire() as conn:
            value: str | None = await conn.fetchval(
                "SELECT cursor FROM poll_state WHERE account_id = $1 AND stream = $2", account_id, stream
            )
        return value

    async def ingest(
        self,
        account_id: int,
        channel: str,
        stream: str,
        messages: Sequence[Message],
        cursor: str | None,
        compute: Compute,
    ) -> IngestResult:
        """Store a batch, recompute the waits of every thread it touches and save the cursor,
        all in one transaction: either everything is stored or nothing is."""
        unique = {m.external_id: m for m in map(clean_message, messages)}
        batch = sorted(unique.values(), key=lambda m: (m.thread_key, m.external_id))
        result = IngestResult()
        async with self.pool.acquire() as conn, conn.transaction():
            thread_ids: list[int] = []
            if batch:
                threads = _thread_rows(batch)
                records = await conn.fetch(
                    """
                    INSERT INTO threads (account_id, thread_key, kind, customer_id, customer_handle, url)
                    SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                    ON CONFLICT (account_id, thread_key) DO UPDATE SET
                        customer_id = COALESCE(threads.customer_id, EXCLUDED.customer_id),
                        customer_handle = COALESCE(threads.customer_handle, EXCLUDED.customer_handle),
                        url = COALESCE(threads.url, EXCLUDED.url)
                    RETURNING id, thread_key
                    """,
                    account_id, *zip(*threads, strict=True),
                )
                ids = {r["thread_key"]: r["id"] for r in records}
                thread_ids = sorted(ids.values())
                inserted = await conn.fetch(
                    """
                    INSERT INTO messages (account_id, channel, external_id, thread_id, direction,
                        author_id, author_handle, body, url, is_retweet, created_at, raw)
                    SELECT $1, $2, * FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[],
                        $7::text[], $8::text[], $9::text[], $10::boolean[], $11::timestamptz[], $12::jsonb[])
                    ON CONFLICT (account_id, external_id) DO NOTHING
                    RETURNING created_at
                    """,
                    account_id, channel,
                    [m.external_id for m in batch], [ids[m.thread_key] for m in batch],
                    [m.direction for m in batch], [m.author_id for m in batch],
                    [m.author_handle for m in batch], [m.text for m in batch], [m.url for m in batch],
                    [m.is_retweet for m in batch], [m.created_at for m in batch],
                    [clean_json(m.raw) for m in batch],
                )
                result.messages_new = len(inserted)
                result.new_created_at = [r["created_at"] for r in inserted]
            if thread_ids:
                await _recompute(conn, thread_ids, compute, result)
            if cursor is not None:
                await conn.execute(
                    """
                    INSERT INTO poll_state (account_id, stream, cursor, cursor_updated_at)
                    VALUES ($1, $2, $3, now())
                    ON CONFLICT (account_id, stream) DO UPDATE SET
                        cursor = EXCLUDED.cursor, cursor_updated_at = EXCLUDED.cursor_updated_at
                    """,
                    account_id, stream, cursor,
                )
        return result

    async def recompute(self, thread_ids: Sequence[int], compute: Compute) -> IngestResult:
        """Recompute the waits of these threads (after a policy change) in one transaction."""
        result = IngestResult()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT 1 FROM threads WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
                sorted(thread_ids),
            )
            await _recompute(conn, sorted(thread_ids), compute, result)
        return result

    async def threads_since(
        self, since: datetime, account_ids: Sequence[int], *, after_id: int = 0, limit: int = 1000
    ) -> list[int]:
        """Ids of the accounts' threads with a message at or after `since`, by id, for paging."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """
                SELECT DISTINCT thread_id FROM messages
                WHERE created_at >= $1 AND account_id = ANY($2::integer[]) AND thread_id > $3
                ORDER BY thread_id LIMIT $4
                """,
                since, list(account_ids), after_id, limit,
            )
        return [r["thread_id"] for r in rows]

    async def record_poll(
        self, account_id: int, stream: str, *, at: datetime, status: str, error: str | None = None
    ) -> None:
        """Remember how the last poll of a stream went."""
        ok = status == "ok"
        async with self.pool.acquire() as conn:
            await conn.execute(
                """
                INSERT INTO poll_state (account_id, stream, last_poll_at, last_success_at, status,
                    last_error, consecutive_failures)
                VALUES ($1, $2, $3::timestamptz, CASE WHEN $4::boolean THEN $3::timestamptz END, $5, $6,
                        CASE WHEN $4::boolean THEN 0 ELSE 1 END)
                ON CONFLICT (account_id, stream) DO UPDATE SET
                    last_poll_at = EXCLUDED.last_poll_at,
                    last_success_at = COALESCE(EXCLUDED.last_success_at, poll_state.last_success_at),
                    status = EXCLUDED.status,
                    last_error = EXCLUDED.last_error,
                    consecutive_failures = CASE WHEN $4::boolean THEN 0
                                                ELSE poll_state.consecutive_failures + 1 END
                """,
                account_id, stream, at, ok, status, error,
            )

    async def open_wait_summary(self, account_ids: Sequence[int], now: datetime) -> list[asyncpg.Record]:
        """Open waits per account and kind: count, breached, at risk, oldest (one indexed query)."""
        async with self.pool.acquire() as conn:
            return await conn.fetch(
                """
                SELECT account_id, kind, count(*) AS open,
                       count(*) FILTER (WHERE deadline <= $2) AS breached,
                       count(*) FILTER (WHERE at_risk_at <= $2 AND deadline > $2) AS at_risk,
                       min(opened_at) AS oldest_opened_at
                FROM waits
                WHERE closed_at IS NULL AND account_id = ANY($1::integer[])
                GROUP BY account_id, kind
                """,
                list(account_ids), now,
            )

    async def mark_due(self, account_ids: Sequence[int], now: datetime) -> list[asyncpg.Record]:
        """Mark the breaches and at-risk instants that have come; return the newly breached waits.

        Each breach is returned once: `breach_counted_at` records that it was counted."""
        ids = list(account_ids)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                UPDATE waits SET at_risk_reached_at = at_risk_at
                WHERE at_risk_reached_at IS NULL AND (closed_at IS NULL OR closed_at > at_risk_at)
                  AND at_risk_at <= $2 AND account_id = ANY($1::integer[])
                """,
                ids, now,
            )
            return await conn.fetch(
                """
                UPDATE waits w SET breached_at = w.deadline, breach_counted_at = $2
                FROM threads t
                WHERE w.breach_counted_at IS NULL AND (w.closed_at IS NULL OR w.closed_at > w.deadline)
                  AND w.deadline <= $2 AND w.account_id = ANY($1::integer[]) AND t.id = w.thread_id
                RETURNING w.account_id, w.kind, t.kind AS thread_kind, w.opened_message, t.url
                """,
                ids, now,
            )

    async def next_due(self, account_ids: Sequence[int]) -> datetime | None:
        """The earliest breach or at-risk instant still to be marked (from the partial indexes)."""
        async with self.pool.acquire() as conn:
            value: datetime | None = await conn.fetchval(
                """
                SELECT least(
                    (SELECT min(deadline) FROM waits WHERE breach_counted_at IS NULL
                        AND (closed_at IS NULL OR closed_at > deadline) AND account_id = ANY($1::integer[])),
                    (SELECT min(at_risk_at) FROM waits WHERE at_risk_reached_at IS NULL
                        AND (closed_at IS NULL OR closed_at > at_risk_at) AND account_id = ANY($1::integer[])))
                """,
                list(account_ids),
            )
        return value

    async def oldest_open_wait_url(self, account: str, *, breached_only: bool, now: datetime) -> str | None:
        """Link to the post of an account's oldest open wait (the breached ones only, if asked)."""
        async with self.pool.acquire() as conn:
            url: str | None = await conn.fetchval(
                """
                SELECT coalesce(m.url, t.url) FROM waits w
                JOIN accounts a ON a.id = w.account_id
                JOIN threads t ON t.id = w.thread_id
                LEFT JOIN messages m ON m.account_id = w.account_id AND m.external_id = w.opened_message
                WHERE a.name = $1 AND w.closed_at IS NULL AND (NOT $2::boolean OR w.deadline <= $3)
                ORDER BY w.opened_at LIMIT 1
                """,
                account, breached_only, now,
            )
        return url

    async def account_states(self) -> list[asyncpg.Record]:
        """Every account with the state of each of its streams (for `inbox-monitor accounts`)."""
        async with self.pool.acquire() as conn:
            return await conn.fetch(
                """
                SELECT a.name, a.brand, a.channel, a.handle, p.stream, p.status, p.last_poll_at,
                       p.last_success_at, p.consecutive_failures, p.last_error,
                       (SELECT count(*) FROM waits w WHERE w.account_id = a.id AND w.closed_at IS NULL)
                           AS open_waits
                FROM accounts a LEFT JOIN poll_state p ON p.account_id = a.id
                ORDER BY a.brand, a.name, p.stream
                """
            )


def _thread_rows(batch: Sequence[Message]) -> list[tuple[str, str, str | None, str | None, str | None]]:
    """One row per thread key: kind, the customer (first inbound author seen), a link."""
    rows: dict[str, tuple[str, str, str | None, str | None, str | None]] = {}
    for m in sorted(batch, key=lambda m: (m.created_at, m.external_id)):
        known = rows.get(m.thread_key)
        inbound = m.direction == "inbound"
        if known is None or (known[2] is None and inbound):
            rows[m.thread_key] = (
                m.thread_key, m.thread_kind,
                m.author_id if inbound else None,
                m.author_handle if inbound else None,
                m.url if inbound else (known[4] if known else None),
            )
    return [rows[k] for k in sorted(rows)]


async def _recompute(
    conn: asyncpg.Connection, thread_ids: list[int], compute: Compute, result: IngestResult
) -> None:
    """Replace the waits of `thread_ids` by what `compute` makes of their messages."""
    result.threads_touched += len(thread_ids)
    infos = {
        r["id"]: ThreadInfo(r["id"], r["account_id"], r["kind"], r["customer_id"], r["customer_handle"], r["url"])
        for r in await conn.fetch(
            "SELECT id, account_id, kind, customer_id, customer_handle, url FROM threads"
            " WHERE id = ANY($1::bigint[])",
            thread_ids,
        )
    }
    by_thread: dict[int, list[ThreadMessage]] = {t: [] for t in infos}
    stored_flags: dict[tuple[int, str], tuple[bool, bool, int]] = {}
    for r in await conn.fetch(
        "SELECT id, thread_id, external_id, direction, created_at, body, author_id, is_retweet,"
        " is_question, is_automatic FROM messages WHERE thread_id = ANY($1::bigint[])",
        thread_ids,
    ):
        by_thread[r["thread_id"]].append(
            ThreadMessage(r["external_id"], r["direction"], r["created_at"], r["body"],
                          r["author_id"], r["is_retweet"])
        )
        stored_flags[(r["thread_id"], r["external_id"])] = (r["is_question"], r["is_automatic"], r["id"])
    old = {
        (r["thread_id"], r["seq"]): r
        for r in await conn.fetch(
            "SELECT thread_id, seq, opened_message, closed_at FROM waits WHERE thread_id = ANY($1::bigint[])",
            thread_ids,
        )
    }
    new_rows: list[tuple[Any, ...]] = []
    flag_ids: list[int] = []
    flag_q: list[bool] = []
    flag_a: list[bool] = []
    counts: list[int] = []
    for tid in thread_ids:
        info = infos[tid]
        outcome = compute(info, by_thread[tid])
        counts.append(len(outcome.waits))
        for ext, (q, a) in outcome.flags.items():
            sq, sa, mid = stored_flags[(tid, ext)]
            if (sq, sa) != (q, a):
                flag_ids.append(mid)
                flag_q.append(q)
                flag_a.append(a)
        for w in outcome.waits:
            new_rows.append((tid, w.seq, info.account_id, w.kind, w.opened_at, w.opened_message,
                             w.questions, w.closed_at, w.closed_message, w.target_seconds, w.deadline,
                             w.at_risk_at, w.wall_seconds, w.business_seconds, w.at_risk_reached_at,
                             w.breached_at))
            before = old.get((tid, w.seq))
            if before is None:
                result.opened.append(WaitEvent(info.account_id, tid, w.seq, w.kind, info.kind,
                                               message=w.opened_message, url=info.url))
            if w.closed_at is not None and (before is None or before["closed_at"] is None):
                result.answered.append(WaitEvent(info.account_id, tid, w.seq, w.kind, info.kind,
                                                 w.wall_seconds, w.business_seconds, w.opened_message,
                                                 info.url))
    if flag_ids:
        await conn.execute(
            """
            UPDATE messages m SET is_question = u.q, is_automatic = u.a
            FROM unnest($1::bigint[], $2::boolean[], $3::boolean[]) AS u(id, q, a) WHERE m.id = u.id
            """,
            flag_ids, flag_q, flag_a,
        )
    await conn.execute(
        """
        DELETE FROM waits w USING unnest($1::bigint[], $2::integer[]) AS t(id, n)
        WHERE w.thread_id = t.id AND w.seq >= t.n
        """,
        thread_ids, counts,
    )
    if new_rows:
        columns = list(zip(*new_rows, strict=True))
        await conn.execute(
            f"""
            INSERT INTO waits (thread_id, seq, account_id, {_WAIT_COLUMNS})
            SELECT * FROM unnest($1::bigint[], $2::integer[], $3::integer[], $4::text[],
                $5::timestamptz[], $6::text[], $7::integer[], $8::timestamptz[], $9::text[],
                $10::double precision[], $11::timestamptz[], $12::timestamptz[],
                $13::double precision[], $14::double precision[], $15::timestamptz[], $16::timestamptz[])
            ON CONFLICT (thread_id, seq) DO UPDATE SET
                kind = EXCLUDED.kind, opened_at = EXCLUDED.opened_at,
                opened_message = EXCLUDED.opened_message, questions = EXCLUDED.questions,
                closed_at = EXCLUDED.closed_at, closed_message = EXCLUDED.closed_message,
                target_seconds = EXCLUDED.target_seconds, deadline = EXCLUDED.deadline,
                at_risk_at = EXCLUDED.at_risk_at, wall_seconds = EXCLUDED.wall_seconds,
                business_seconds = EXCLUDED.business_seconds,
                at_risk_reached_at = COALESCE(EXCLUDED.at_risk_reached_at,
                    CASE WHEN waits.at_risk_at = EXCLUDED.at_risk_at THEN waits.at_risk_reached_at END),
                breached_at = COALESCE(EXCLUDED.breached_at,
                    CASE WHEN waits.deadline = EXCLUDED.deadline
                          AND (EXCLUDED.closed_at IS NULL OR EXCLUDED.closed_at > EXCLUDED.deadline)
                         THEN waits.breached_at END),
                breach_counted_at = CASE WHEN EXCLUDED.breached_at IS NULL AND
                    NOT (waits.deadline = EXCLUDED.deadline
                         AND (EXCLUDED.closed_at IS NULL OR EXCLUDED.closed_at > EXCLUDED.deadline))
                    THEN NULL ELSE waits.breach_counted_at END,
                updated_at = now()
            WHERE (waits.kind, waits.opened_at, waits.opened_message, waits.questions, waits.closed_at,
                   waits.closed_message, waits.target_seconds, waits.deadline, waits.at_risk_at,
                   waits.wall_seconds, waits.business_seconds, waits.at_risk_reached_at, waits.breached_at)
                IS DISTINCT FROM
                  (EXCLUDED.kind, EXCLUDED.opened_at, EXCLUDED.opened_message, EXCLUDED.questions,
                   EXCLUDED.closed_at, EXCLUDED.closed_message, EXCLUDED.target_seconds,
                   EXCLUDED.deadline, EXCLUDED.at_risk_at, EXCLUDED.wall_seconds,
                   EXCLUDED.business_seconds, EXCLUDED.at_risk_reached_at, EXCLUDED.breached_at)
            """,
            *columns,
        )
