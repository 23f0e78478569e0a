"""All SQL of the peers (docs/peers.md): their rows in `accounts`, their threads, messages and waits
(tables of their own, apart from the inbox), and the posts read for each of them a day."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from monitor.domain.changes import StoredThread, ThreadChange
from monitor.domain.figures import Hours
from monitor.domain.items import Rejected
from monitor.domain.model import Message, ThreadInfo, ThreadMessage
from monitor.domain.outcomes import WAIT_FIELDS, Flags, WaitRow
from monitor.store import figures
from monitor.store.db import Connection
from monitor.store.store import ACCOUNT_LOCK, Transaction, clean_messages

_WAIT_COLUMNS = ", ".join(WAIT_FIELDS)
_WAIT_COPIED = ("thread_id", "account_id", "seq", *WAIT_FIELDS)
_MESSAGE_COPIED = (
    "account_id",
    "external_id",
    "thread_id",
    "direction",
    "author_id",
    "body",
    "url",
    "is_retweet",
    "reply_to_brand",
    "created_at",
    "future_created_at",
    "raw",
    "is_question",
    "is_automatic",
    "reason",
)


PEER_PREFIX = "peer:"
"""How a peer's row in `accounts` is named: `peer:<brand>:<peer>`, a name no configured account
can have (account names have no colon)."""


def peer_account_name(brand: str, peer: str) -> str:
    """The name of a brand's peer's row in `accounts`."""
    return f"{PEER_PREFIX}{brand}:{peer}"


def peer_name(account_name: str, brand: str) -> str:
    """A peer's own name, from the name of its row in `accounts`."""
    return account_name.removeprefix(peer_account_name(brand, ""))


@dataclass(frozen=True, slots=True)
class PeerRow:
    """A configured peer as `accounts` holds it."""

    name: str
    brand: str
    handle: str
    user_id: str | None
    policy: str


@dataclass(frozen=True, slots=True)
class PeerReads:
    """Posts read for a peer in a UTC day, against the day's budget."""

    account_id: int
    day: date
    reads: int
    budget: int
    requests: int


class PeerStore:
    """The peers' data; their ingest transactions open here."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def sync_peers(self, peers: Iterable[PeerRow]) -> dict[str, int]:
        """Insert or update the configured peers' rows in `accounts`; return their ids by name."""
        rows = list(peers)
        async with self.pool.acquire() as conn:
            records = await conn.fetch(
                """
                INSERT INTO accounts (name, brand, channel, external_id, handle, policy, peer)
                SELECT u.name, u.brand, 'x', u.external_id, u.handle, u.policy, true
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                    AS u(name, brand, external_id, handle, policy)
                ON CONFLICT (name) DO UPDATE SET
                    brand = EXCLUDED.brand, external_id = EXCLUDED.external_id, handle = EXCLUDED.handle,
                    policy = EXCLUDED.policy, peer = true, updated_at = now()
                RETURNING id, name
                """,
                [r.name for r in rows],
                [r.brand for r in rows],
                [r.user_id or "" for r in rows],
                [r.handle for r in rows],
                [r.policy for r in rows],
            )
        return {r["name"]: r["id"] for r in records}

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PeerTransaction]:
        """A transaction on one connection: everything done through it is stored, or nothing is."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield PeerTransaction(conn)

    async def reserve(self, account_id: int, day: date, *, wanted: int, least: int, budget: int) -> int:
        """Reserve up to `wanted` posts of the peer's `budget` for `day`: what is left of it, or 0
        when that is less than `least` (a request cannot ask fewer). Counted before the request is
        sent, so that no crash between the answer and its count lets the budget be overrun."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """
                INSERT INTO peer_reads (account_id, day, budget) VALUES ($1, $2, $3)
                ON CONFLICT (account_id, day) DO UPDATE SET budget = EXCLUDED.budget
                RETURNING reads
                """,
                account_id,
                day,
                budget,
            )
            assert row is not None  # INSERT ... RETURNING always returns the row (locked until commit)
            left = budget - row["reads"]
            granted = min(wanted, left) if left >= least else 0
            if granted:
                await conn.execute(
                    "UPDATE peer_reads SET reads = reads + $3, requests = requests + 1"
                    " WHERE account_id = $1 AND day = $2",
                    account_id,
                    day,
                    granted,
                )
        return granted

    async def settle(self, account_id: int, day: date, *, reserved: int, read: int) -> None:
        """Correct a reservation by what the answer held (`read` posts; more than reserved when the
        API sent more than asked: what it sent is what it bills)."""
        if read == reserved:
            return
        async with self.pool.acquire() as conn:
            await conn.execute(
                "UPDATE peer_reads SET reads = greatest(0, reads + $3) WHERE account_id = $1 AND day = $2",
                account_id,
                day,
                read - reserved,
            )

    async def reads(self, account_ids: Sequence[int], day: date) -> list[PeerReads]:
        """The peers' counts for `day` (a peer not read that day has none)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT account_id, day, reads, budget, requests FROM peer_reads"
                " WHERE account_id = ANY($1::integer[]) AND day = $2",
                list(account_ids),
                day,
            )
        return [PeerReads(**dict(r)) for r in rows]


def comparison_sql(*, brands: str, start: str, end: str, as_of: str, hours: Hours) -> str:
    """The figures of the comparison (docs/peers.md, "The method"), one row per brand that has peers
    (`peer_id` NULL: the brand's public X threads) and per peer (its `peer_id` and `handle`): the
    waits opened in [`start`, `end`), as of `as_of`, each figure as docs/definitions.md defines it
    (monitor/store/figures.py), response times on the `hours` clock. Each argument is SQL: `brands`
    a condition on `accounts` (which brands), the others expressions (bind parameters in the report,
    Grafana's macros on the dashboard: one query for both)."""
    part = "w.kind, w.questions, w.closed_at, w.deadline, w.wall_seconds, w.business_seconds"
    opened = f"w.opened_at >= {start} AND w.opened_at < {end}"
    some = "w.kind IS NOT NULL"  # a line without waits has one row of NULLs (the LEFT JOIN)
    answered, first = figures.answered(as_of), "w.kind = 'first'"
    return f"""
        WITH scope AS (
            SELECT id, brand, peer, handle FROM accounts
            WHERE ({brands}) AND (peer OR channel = 'x') AND brand IN (SELECT brand FROM accounts WHERE peer)
        ), lines AS (
            SELECT DISTINCT brand, NULL::integer AS peer_id, NULL::text AS handle FROM scope
            UNION ALL
            SELECT brand, id, handle FROM scope WHERE peer
        ), compared AS (
            SELECT s.brand, NULL::integer AS peer_id, {part}
            FROM waits w JOIN scope s ON s.id = w.account_id AND NOT s.peer
            JOIN threads t ON t.id = w.thread_id AND t.kind = 'public'
            WHERE {opened}
            UNION ALL
            SELECT s.brand, s.id, {part}
            FROM peer_waits w JOIN scope s ON s.id = w.account_id AND s.peer
            WHERE {opened}
        )
        SELECT l.brand, l.peer_id, l.handle,
               count(w.kind) AS waits_opened,
               coalesce(sum(w.questions), 0)::bigint AS questions,
               count(*) FILTER (WHERE {answered}) AS answered,
               count(*) FILTER (WHERE {first}) AS first_waits,
               count(*) FILTER (WHERE {first} AND {answered}) AS first_answered,
               count(*) FILTER (WHERE {figures.within_sla(as_of)}) AS within_sla,
               count(*) FILTER (WHERE {figures.breached(as_of)}) AS breaches,
               {figures.response_rate(as_of, some)} AS response_rate,
               {figures.within_sla_share(as_of, some)} AS within_sla_share,
               {figures.first_response(0.5, as_of, hours)} AS median_first_seconds,
               {figures.first_response(0.9, as_of, hours)} AS p90_first_seconds
        FROM lines l
        LEFT JOIN compared w ON w.brand = l.brand AND w.peer_id IS NOT DISTINCT FROM l.peer_id
        GROUP BY l.brand, l.peer_id, l.handle
        ORDER BY l.brand, l.peer_id NULLS FIRST
    """


@dataclass(frozen=True, slots=True)
class PeerAccount:
    """A peer as the report lists it, with what its reading was like over the period."""

    id: int
    brand: str
    name: str
    handle: str
    reads: int
    """Posts read on the UTC days the period touches."""
    days_at_budget: int
    """UTC days of the period on which its budget ran out."""
    monitored_since: datetime | None
    """When its stream was first polled (None: never yet)."""


class PeerComparison:
    """The report's reads of the peers (`monitor.reports.peers`)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def peers(
        self, brands: Sequence[str] | None, start: datetime, end: datetime, *, least: int
    ) -> list[PeerAccount]:
        """The peers of these brands (all when None), by brand and name; a day with fewer than
        `least` posts left of its budget (a request's smallest) is a day at budget."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """
                SELECT a.id, a.brand, a.name, a.handle,
                       coalesce(sum(r.reads), 0)::bigint AS reads,
                       count(r.day) FILTER (WHERE r.budget - r.reads < $4) AS days_at_budget,
                       (SELECT min(p.monitored_since) FROM poll_state p WHERE p.account_id = a.id)
                           AS monitored_since
                FROM accounts a
                LEFT JOIN peer_reads r ON r.account_id = a.id
                    AND r.day >= ($2::timestamptz AT TIME ZONE 'UTC')::date
                    AND r.day <= (($3::timestamptz - interval '1 microsecond') AT TIME ZONE 'UTC')::date
                WHERE a.peer AND ($1::text[] IS NULL OR a.brand = ANY($1::text[]))
                GROUP BY a.id
                ORDER BY a.brand, a.name
                """,
                None if brands is None else list(brands),
                start,
                end,
                least,
            )
        return [PeerAccount(**dict(r)) for r in rows]

    async def figures(
        self, brands: Sequence[str] | None, start: datetime, end: datetime, *, as_of: datetime, hours: Hours
    ) -> list[asyncpg.Record]:
        """`comparison_sql` for these brands (all when None), waits opened in [start, end), as of
        `as_of`, response times on the `hours` clock."""
        sql = comparison_sql(
            brands="$1::text[] IS NULL OR brand = ANY($1::text[])", start="$2", end="$3", as_of="$4", hours=hours
        )
        async with self.pool.acquire() as conn:
            return await conn.fetch(sql, None if brands is None else list(brands), start, end, as_of)


def _decision(flags: Flags) -> tuple[bool, bool, str | None]:
    """What is stored of a peer's message's flags: the decision, never who signed a reply (a
    competitor's staff are none of ours to name)."""
    return flags.is_question, flags.is_automatic, flags.reason


def _first_inbound(batch: Sequence[Message]) -> dict[str, tuple[str | None, str | None]]:
    """Per thread key: the customer (the first inbound author seen) and a link to their post."""
    out: dict[str, tuple[str | None, str | None]] = {}
    for m in sorted(batch, key=lambda m: (m.created_at, m.external_id)):
        known = out.get(m.thread_key)
        if m.direction == "inbound" and (known is None or known[0] is None):
            out[m.thread_key] = (m.author_id, m.url)
        elif known is None:
            out[m.thread_key] = (None, None)
    return out


class PeerTransaction:
    """One ingest of a peer's batch: lock the peer, read the threads the batch brings news to, write
    what their recomputation changes; set items aside and save the cursor as the inbox does."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._inbox = Transaction(conn)
        """Quarantine and cursors: the same tables as every stream's."""

    async def lock_batch(self, account_id: int, messages: Sequence[Message]) -> list[StoredThread]:
        """Lock the peer (its stream ingests one batch at a time, whichever process runs it), create
        the batch's new threads, and read every thread that gets a message it did not have (the
        others do not change). Each thread's `new` holds those messages, made storable."""
        unique = {m.external_id: m for m in clean_messages(messages)}
        if not unique:
            return []
        conn = self.conn
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", ACCOUNT_LOCK, account_id)
        known = {
            r["external_id"]
            for r in await conn.fetch(
                "SELECT external_id FROM peer_messages WHERE account_id = $1 AND external_id = ANY($2::text[])",
                account_id,
                list(unique),
            )
        }
        fresh = sorted((m for m in unique.values() if m.external_id not in known), key=lambda m: m.external_id)
        if not fresh:
            return []
        customers = _first_inbound(fresh)
        keys = sorted(customers)
        records = await conn.fetch(
            """
            INSERT INTO peer_threads (account_id, thread_key, customer_id, url)
            SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])
            ON CONFLICT (account_id, thread_key) DO UPDATE SET
                customer_id = coalesce(peer_threads.customer_id, EXCLUDED.customer_id),
                url = coalesce(peer_threads.url, EXCLUDED.url)
            RETURNING id, thread_key, customer_id, url
            """,
            account_id,
            keys,
            [customers[k][0] for k in keys],
            [customers[k][1] for k in keys],
        )
        threads = {
            r["thread_key"]: StoredThread(ThreadInfo(r["id"], account_id, "public", r["customer_id"], None, r["url"]))
            for r in records
        }
        by_id = {t.info.id: t for t in threads.values()}
        for r in await conn.fetch(
            "SELECT thread_id, external_id, direction, created_at, body, author_id, is_retweet, reply_to_brand,"
            " is_question, is_automatic, reason FROM peer_messages WHERE thread_id = ANY($1::bigint[])",
            list(by_id),
        ):
            thread = by_id[r["thread_id"]]
            ext = r["external_id"]
            thread.messages.append(
                ThreadMessage(
                    ext,
                    r["direction"],
                    r["created_at"],
                    r["body"],
                    r["author_id"],
                    r["is_retweet"],
                    r["reply_to_brand"],
                )
            )
            thread.flags[ext] = Flags(r["is_question"], r["is_automatic"], r["reason"])
        for r in await conn.fetch(
            f"SELECT thread_id, seq, {_WAIT_COLUMNS} FROM peer_waits WHERE thread_id = ANY($1::bigint[])", list(by_id)
        ):
            by_id[r["thread_id"]].waits.append(WaitRow(*r[1:]))
        for m in fresh:
            thread = threads[m.thread_key]
            thread.new.append(m)
            thread.messages.append(m)
        return list(threads.values())

    async def apply(self, changes: Iterable[ThreadChange]) -> None:
        """Write the locked threads' changes: new messages with their flags, the stored messages'
        changed flags, the waits (a changed wait is written again)."""
        conn = self.conn
        messages: list[tuple[Any, ...]] = []
        flags: list[tuple[int, str, bool, bool, str | None]] = []
        waits: list[tuple[Any, ...]] = []
        gone: list[tuple[int, int]] = []
        for change in changes:
            tid, account_id = change.thread.id, change.thread.account_id
            messages += [
                (
                    account_id,
                    m.external_id,
                    tid,
                    m.direction,
                    m.author_id,
                    m.text,
                    m.url,
                    m.is_retweet,
                    m.reply_to_brand,
                    m.created_at,
                    m.future_created_at,
                    m.raw,
                    *_decision(change.flags[m.external_id]),
                )
                for m in change.new
            ]
            flags += [(account_id, ext, *_decision(f)) for ext, f in change.reflagged.items()]
            diff = change.waits
            gone += [(tid, seq) for seq in diff.gone] + [(tid, w.seq) for w in diff.changed]
            waits += [(tid, account_id, *w) for w in (*diff.new, *diff.changed)]
        if messages:
            await conn.copy_records_to_table("peer_messages", columns=_MESSAGE_COPIED, records=messages)
        if flags:
            await conn.execute(
                """
                UPDATE peer_messages m SET is_question = u.q, is_automatic = u.a, reason = u.reason
                FROM unnest($1::integer[], $2::text[], $3::boolean[], $4::boolean[], $5::text[])
                    AS u(account_id, external_id, q, a, reason)
                WHERE m.account_id = u.account_id AND m.external_id = u.external_id
                """,
                *zip(*flags, strict=True),
            )
        if gone:
            await conn.execute(
                """
                DELETE FROM peer_waits w USING unnest($1::bigint[], $2::integer[]) AS g(thread_id, seq)
                WHERE w.thread_id = g.thread_id AND w.seq = g.seq
                """,
                *zip(*gone, strict=True),
            )
        if waits:
            await conn.copy_records_to_table("peer_waits", columns=_WAIT_COPIED, records=waits)

    async def quarantine(
        self, account_id: int, stream: str, items: Sequence[Rejected], received_at: datetime
    ) -> dict[str, int]:
        """Set the peer's malformed items aside, as every stream's are."""
        return await self._inbox.quarantine(account_id, "x", stream, items, received_at)

    async def save_cursor(self, account_id: int, stream: str, cursor: str) -> None:
        await self._inbox.save_cursor(account_id, stream, cursor)
