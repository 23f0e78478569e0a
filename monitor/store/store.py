"""All SQL of the project's data: accounts, ingest (messages, threads, waits, cursors), poll state."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import re
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from monitor.domain.changes import StoredThread, ThreadChange
from monitor.domain.items import DETAIL_MAX, Rejected, Settled
from monitor.domain.model import Message, ThreadInfo, ThreadMessage
from monitor.domain.outcomes import FLAG_FIELDS, WAIT_FIELDS, Flags, WaitRow
from monitor.logs import redact
from monitor.store.db import Connection

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text PostgreSQL accepts: NUL (refused in text and JSONB) and lone surrogates (not UTF-8,
    e.g. from a JSON "\\ud800" escape) become U+FFFD; everything else is kept as received."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = _SURROGATE.sub("\ufffd", text)
    return text


_TEXT_FIELDS = ("external_id", "thread_key", "text", "author_id", "author_handle", "url")


def clean_message(m: Message) -> Message:
    """The message with every text field storable, the same object when it already is."""
    dirty: dict[str, Any] = {}
    values = [getattr(m, f) or "" for f in _TEXT_FIELDS]
    joined = "".join(values)
    if clean_text(joined) is not joined:  # rare: look at each field
        for f, value in zip(_TEXT_FIELDS, values, strict=True):
            if (cleaned := clean_text(value)) is not value:
                dirty[f] = cleaned
    if m.created_at.tzinfo is None:
        raise ValueError(f"message {m.external_id!r}: created_at has no time zone")
    if m.created_at.tzinfo is not UTC:
        # Aware datetimes that share a tzinfo subtract as wall clocks (DST lost): keep UTC only.
        dirty["created_at"] = m.created_at.astimezone(UTC)
    return dataclasses.replace(m, **dirty) if dirty else m


def clean_messages(messages: Sequence[Message]) -> Sequence[Message]:
    """`clean_message` of each, checked for the whole batch at once first (nearly always clean)."""
    joined = "\x01".join(
        [v or "" for m in messages for v in (m.external_id, m.thread_key, m.text, m.author_id, m.author_handle, m.url)]
    )
    if clean_text(joined) is joined and all(m.created_at.tzinfo is UTC for m in messages):
        return messages
    return [clean_message(m) for m in messages]


def clean_json(value: Any) -> Any:
    """JSONB cannot hold \\u0000 either; clean strings and keys recursively."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def encode_json(value: Any) -> bytes:
    """JSON text PostgreSQL's jsonb accepts: no NUL, no lone surrogate (cleaned only when present)."""
    try:
        data = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        if b"\\u0000" not in data:
            return data
    except TypeError:  # a lone surrogate is not UTF-8, or an integer beyond 64 bits
        pass
    cleaned = clean_json(value)
    try:
        return orjson.dumps(cleaned, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(cleaned, ensure_ascii=False).encode()  # big integers kept exactly


@dataclass(frozen=True, slots=True)
class AccountRow:
    name: str
    brand: str
    channel: str
    external_id: str
    handle: str | None
    policy: str


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """What PostgreSQL remembers of a stream when a process sets out to poll it."""

    cursor: str | None
    last_success_at: datetime | None
    monitored_since: datetime


_COPIED = (
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
    "future_created_at",
    "reply_to_brand",
    "text_available",
    *FLAG_FIELDS,
    "app_id",
)

_WAIT_COLUMNS = ", ".join(WAIT_FIELDS)


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
                [r.name for r in rows],
                [r.brand for r in rows],
                [r.channel for r in rows],
                [r.external_id for r in rows],
                [r.handle for r in rows],
                [r.policy for r in rows],
            )
        return {r["name"]: r["id"] for r in records}

    async def load_cursor(self, account_id: int, stream: str) -> str | None:
        async with self.pool.acquire() as conn:
            value: str | None = await conn.fetchval(
                "SELECT cursor FROM poll_state WHERE account_id = $1 AND stream = $2", account_id, stream
            )
        return value

    async def open_stream(self, account_id: int, stream: str, *, at: datetime) -> StreamRecord:
        """The stream's cursor, last success and start of monitoring; the first time it is polled,
        its row is created, monitored from `at`."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                """
                INSERT INTO poll_state (account_id, stream, monitored_since) VALUES ($1, $2, $3)
                ON CONFLICT (account_id, stream) DO UPDATE SET monitored_since = poll_state.monitored_since
                RETURNING cursor, last_success_at, monitored_since
                """,
                account_id,
                stream,
                at,
            )
        assert row is not None  # INSERT ... RETURNING always returns the row
        return StreamRecord(row["cursor"], row["last_success_at"], row["monitored_since"])

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A transaction on one connection: everything done through it is stored, or nothing is."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield Transaction(conn)

    async def threads_since(self, since: datetime, account_ids: Sequence[int]) -> list[int]:
        """Ids of the accounts' threads with a message at or after `since`, in order (one scan of
        the period's block ranges)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """
                SELECT DISTINCT thread_id FROM messages
                WHERE created_at >= $1 AND account_id = ANY($2::integer[])
                ORDER BY thread_id
                """,
                since,
                list(account_ids),
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
                account_id,
                stream,
                at,
                ok,
                status,
                None if error is None else redact(error),
            )

    async def open_wait_summary(self, account_ids: Sequence[int] | None, now: datetime) -> list[asyncpg.Record]:
        """Open waits per account and kind: count, breached, at risk, oldest; the shortest and
        longest targets of the breached and of the at-risk ones, and the earliest deadline of the
        at-risk ones (NULL when there are none). One query; `account_ids` None: of every account
        (a third faster than naming 2,000 of them, for a caller that holds them all)."""
        async with self.pool.acquire() as conn:
            return await conn.fetch(
                """
                SELECT account_id, kind, count(*) AS open,
                       count(*) FILTER (WHERE deadline <= $2) AS breached,
                       count(*) FILTER (WHERE at_risk_at <= $2 AND deadline > $2) AS at_risk,
                       min(opened_at) AS oldest_opened_at,
                       min(target_seconds) FILTER (WHERE deadline <= $2) AS breached_target_min,
                       max(target_seconds) FILTER (WHERE deadline <= $2) AS breached_target_max,
                       min(target_seconds) FILTER (WHERE at_risk_at <= $2 AND deadline > $2) AS at_risk_target_min,
                       max(target_seconds) FILTER (WHERE at_risk_at <= $2 AND deadline > $2) AS at_risk_target_max,
                       min(deadline) FILTER (WHERE at_risk_at <= $2 AND deadline > $2) AS at_risk_deadline
                FROM waits
                WHERE closed_at IS NULL AND ($1::integer[] IS NULL OR account_id = ANY($1::integer[]))
                GROUP BY account_id, kind
                """,
                None if account_ids is None else list(account_ids),
                now,
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
                ids,
                now,
            )
            return await conn.fetch(
                """
                UPDATE waits w SET breached_at = w.deadline, breach_counted_at = $2
                FROM threads t
                WHERE w.breach_counted_at IS NULL AND (w.closed_at IS NULL OR w.closed_at > w.deadline)
                  AND w.deadline <= $2 AND w.account_id = ANY($1::integer[]) AND t.id = w.thread_id
                RETURNING w.account_id, w.kind, t.kind AS thread_kind, w.opened_message, t.url
                """,
                ids,
                now,
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
                account,
                breached_only,
                now,
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


def item_key(item: Rejected) -> str:
    """What makes a set-aside item the same when it is read again: its kind and id, or (the id
    unreadable) a digest of its raw payload."""
    if item.external_id:
        return f"{item.kind}:{item.external_id}"
    try:
        canonical = orjson.dumps(item.raw, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:  # a lone surrogate, an integer beyond 64 bits
        canonical = json.dumps(item.raw, sort_keys=True, default=str).encode("utf-8", "surrogatepass")
    return f"{item.kind}#{hashlib.sha256(canonical).hexdigest()[:32]}"


def _thread_rows(batch: Sequence[Message]) -> list[tuple[str, str, str | None, str | None, str | None]]:
    """One row per thread key: kind, the customer (the first inbound author seen, else whom the
    brand writes to), a link."""
    rows: dict[str, tuple[str, str, str | None, str | None, str | None]] = {}
    for m in sorted(batch, key=lambda m: (m.created_at, m.external_id)):
        known = rows.get(m.thread_key)
        inbound = m.direction == "inbound"
        if known is None or (known[2] is None and (inbound or m.customer_id is not None)):
            rows[m.thread_key] = (
                m.thread_key,
                m.thread_kind,
                m.author_id if inbound else m.customer_id,
                m.author_handle if inbound else None,
                m.url if inbound else (known[4] if known else None),
            )
    return [rows[k] for k in sorted(rows)]


def _thread_info(r: asyncpg.Record) -> ThreadInfo:
    return ThreadInfo(r["id"], r["account_id"], r["kind"], r["customer_id"], r["customer_handle"], r["url"])


ACCOUNT_LOCK = 0x1B0C  # advisory lock namespace: (ACCOUNT_LOCK, account id) while its threads change


async def _lock_threads(
    conn: Connection, account_id: int, rows: list[tuple[str, str, str | None, str | None, str | None]]
) -> dict[str, ThreadInfo]:
    """Lock the account's threads (one advisory lock per account: its streams ingest one at a
    time, whichever process runs them), create the batch's new threads, and fill in a customer
    learnt from this batch."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", ACCOUNT_LOCK, account_id)
    records = await conn.fetch(
        "SELECT id, thread_key, account_id, kind, customer_id, customer_handle, url FROM threads"
        " WHERE account_id = $1 AND thread_key = ANY($2::text[])",
        account_id,
        [r[0] for r in rows],
    )
    known = {r["thread_key"] for r in records}
    if fresh := [r for r in rows if r[0] not in known]:
        # No one else creates this account's threads while its lock is held: a plain insert.
        records += await conn.fetch(
            """
            INSERT INTO threads (account_id, thread_key, kind, customer_id, customer_handle, url)
            SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
            RETURNING id, thread_key, account_id, kind, customer_id, customer_handle, url
            """,
            account_id,
            *zip(*fresh, strict=True),
        )
    infos = {r["thread_key"]: _thread_info(r) for r in records}
    learnt = [row for row in rows if infos[row[0]].customer_id is None and row[2] is not None]
    if learnt:
        await conn.execute(
            """
            UPDATE threads t SET customer_id = u.customer_id, customer_handle = u.customer_handle,
                url = COALESCE(t.url, u.url)
            FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(thread_key, customer_id,
                customer_handle, url)
            WHERE t.account_id = $1 AND t.thread_key = u.thread_key
            """,
            account_id,
            [r[0] for r in learnt],
            [r[2] for r in learnt],
            [r[3] for r in learnt],
            [r[4] for r in learnt],
        )
        for key, _, customer_id, handle, url in learnt:
            info = infos[key]
            infos[key] = dataclasses.replace(info, customer_id=customer_id, customer_handle=handle, url=info.url or url)
    return infos


_COPY_CHUNK = 250
"""New messages per COPY while computing: PostgreSQL inserts a chunk while the next is computed."""


class Transaction:
    """One transaction (see `Store.transaction`): lock an account's threads and read their messages
    and waits, apply what their recomputation changes, set items aside, save a cursor."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._channel: str | None = None
        self._message_ids: dict[tuple[int, str], int] = {}
        """(thread id, external id) -> row id of each stored message read: where its flags change."""

    async def lock_batch(
        self, account_id: int, channel: str, messages: Sequence[Message], *, dm_closes_public: bool = False
    ) -> list[StoredThread]:
        """Lock the account's threads (its streams ingest one at a time, whichever process runs
        them), create the batch's new threads, and read the threads the batch touches. The batch's
        messages not stored yet (in any of the account's threads) are their threads' `new`, made
        storable (`clean_messages`) and in their order; a message given twice counts once. With
        `dm_closes_public`, the public threads of the customers the brand writes to in private
        are read too, and every public thread gets its customer's `private_replies`."""
        unique = {m.external_id: m for m in clean_messages(messages)}
        batch = sorted(unique.values(), key=lambda m: (m.thread_key, m.external_id))
        if not batch:
            return []
        self._channel = channel
        infos = await _lock_threads(self.conn, account_id, _thread_rows(batch))
        threads = {i.id: StoredThread(i) for i in infos.values()}
        if dm_closes_public:
            written = {infos[m.thread_key].customer_id for m in batch if m.direction == "outbound"}
            customers = {i.customer_id for i in infos.values() if i.kind == "private" and i.customer_id in written}
            for r in await self.conn.fetch(
                "SELECT id, account_id, kind, customer_id, customer_handle, url FROM threads"
                " WHERE account_id = $1 AND kind = 'public' AND customer_id = ANY($2::text[])",
                account_id,
                sorted(c for c in customers if c is not None),
            ):
                threads.setdefault(r["id"], StoredThread(_thread_info(r)))
        known = await self._load(threads, account_id, [m.external_id for m in batch])
        if channel != "x":  # X tells no app; Meta's webhook echoes do (docs/agents.md)
            batch = await self._with_apps(account_id, batch, known)
        for m in batch:
            if m.external_id not in known:
                thread = threads[infos[m.thread_key].id]
                thread.new.append(m)
                thread.messages.append(m)  # a Message reads as a ThreadMessage
        if dm_closes_public:
            await self._private_replies(threads)
        return list(threads.values())

    async def _private_replies(self, threads: Mapping[int, StoredThread]) -> None:
        """Give each public thread with a customer the brand's messages to that customer in the
        account's private threads: the stored ones, and the new ones among `threads`."""
        public = [t for t in threads.values() if t.info.kind == "public" and t.info.customer_id is not None]
        if not public:
            return
        found: dict[tuple[int, str], dict[str, ThreadMessage | Message]] = {}
        for r in await self.conn.fetch(
            "SELECT t.account_id, t.customer_id, m.external_id, m.created_at, m.body, m.author_id, m.label"
            " FROM threads t JOIN messages m ON m.thread_id = t.id"
            " WHERE t.kind = 'private' AND m.direction = 'outbound'"
            " AND (t.account_id, t.customer_id) IN (SELECT * FROM unnest($1::int[], $2::text[]))",
            [t.info.account_id for t in public],
            [t.info.customer_id for t in public],
        ):
            message = ThreadMessage(r["external_id"], "outbound", r["created_at"], r["body"], r["author_id"])
            found.setdefault((r["account_id"], r["customer_id"]), {})[r["external_id"]] = message
        for t in threads.values():
            if t.info.kind == "private" and t.info.customer_id is not None:
                for m in t.new:
                    if m.direction == "outbound":
                        found.setdefault((t.info.account_id, t.info.customer_id), {})[m.external_id] = m
        for t in public:
            assert t.info.customer_id is not None
            t.private_replies = list(found.get((t.info.account_id, t.info.customer_id), {}).values())

    async def _with_apps(self, account_id: int, batch: list[Message], known: set[str]) -> list[Message]:
        """The batch with the app of each new outbound message that a webhook echo named."""
        wanted = [m.external_id for m in batch if m.direction == "outbound" and m.external_id not in known]
        if not wanted:
            return batch
        rows = await self.conn.fetch(
            "SELECT external_id, app_id FROM message_apps WHERE account_id = $1 AND external_id = ANY($2::text[])",
            account_id,
            wanted,
        )
        apps = {r["external_id"]: r["app_id"] for r in rows}
        if not apps:
            return batch
        return [dataclasses.replace(m, app_id=apps[m.external_id]) if m.external_id in apps else m for m in batch]

    async def record_apps(self, account_id: int, apps: Mapping[str, str]) -> list[int]:
        """Remember the app of each message (external id -> app id) under the account's lock; return
        the threads of the stored messages whose app this changes (to recompute)."""
        ids, app_ids = list(apps), list(apps.values())
        await self.conn.execute("SELECT pg_advisory_xact_lock($1, $2)", ACCOUNT_LOCK, account_id)
        await self.conn.execute(
            """
            INSERT INTO message_apps (account_id, external_id, app_id)
            SELECT $1, * FROM unnest($2::text[], $3::text[])
            ON CONFLICT (account_id, external_id) DO UPDATE SET app_id = EXCLUDED.app_id
            WHERE message_apps.app_id <> EXCLUDED.app_id
            """,
            account_id,
            ids,
            app_ids,
        )
        rows = await self.conn.fetch(
            """
            UPDATE messages m SET app_id = u.app_id
            FROM unnest($2::text[], $3::text[]) AS u(external_id, app_id)
            WHERE m.account_id = $1 AND m.external_id = u.external_id AND m.app_id IS DISTINCT FROM u.app_id
            RETURNING m.thread_id
            """,
            account_id,
            ids,
            app_ids,
        )
        return sorted({r["thread_id"] for r in rows})

    async def lock_threads(
        self, thread_ids: Sequence[int], *, dm_closes_public: Collection[int] = ()
    ) -> list[StoredThread]:
        """Lock the accounts of these threads (in order: no deadlock with another recompute) and
        read the threads; the public ones of the accounts in `dm_closes_public` with their
        customer's `private_replies`."""
        conn = self.conn
        accounts = await conn.fetch(
            "SELECT DISTINCT account_id FROM threads WHERE id = ANY($1::bigint[]) ORDER BY 1", list(thread_ids)
        )
        for a in accounts:
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", ACCOUNT_LOCK, a["account_id"])
        records = await conn.fetch(
            "SELECT id, account_id, kind, customer_id, customer_handle, url FROM threads WHERE id = ANY($1::bigint[])",
            sorted(thread_ids),
        )
        threads = {r["id"]: StoredThread(_thread_info(r)) for r in records}
        await self._load(threads)
        await self._private_replies({i: t for i, t in threads.items() if t.info.account_id in dm_closes_public})
        return list(threads.values())

    async def _load(
        self, threads: Mapping[int, StoredThread], account_id: int = 0, external_ids: Sequence[str] = ()
    ) -> set[str]:
        """Read the threads' messages and waits into them; return which of `external_ids` the
        account has stored already, in these threads or another one (one read)."""
        ids = sorted(threads)
        wanted = set(external_ids)
        known: set[str] = set()
        message_ids = self._message_ids
        for r in await self.conn.fetch(
            "SELECT id, thread_id, external_id, direction, created_at, body, author_id, is_retweet,"
            " reply_to_brand, label, app_id, text_available, is_question, is_automatic, reason, agent, team, app"
            " FROM messages"
            " WHERE thread_id = ANY($1::bigint[]) OR (account_id = $2 AND external_id = ANY($3::text[]))",
            ids,
            account_id,
            list(wanted),
        ):
            ext = r["external_id"]
            if ext in wanted:
                known.add(ext)
            thread = threads.get(r["thread_id"])
            if thread is None:
                continue  # stored in a thread this batch does not touch
            thread.messages.append(
                ThreadMessage(
                    ext,
                    r["direction"],
                    r["created_at"],
                    r["body"],
                    r["author_id"],
                    r["is_retweet"],
                    r["reply_to_brand"],
                    r["label"],
                    r["app_id"],
                    r["text_available"],
                )
            )
            thread.flags[ext] = Flags(r["is_question"], r["is_automatic"], r["reason"], r["agent"], r["team"], r["app"])
            message_ids[(r["thread_id"], ext)] = r["id"]
        for r in await self.conn.fetch(
            f"SELECT thread_id, seq, {_WAIT_COLUMNS} FROM waits WHERE thread_id = ANY($1::bigint[])", ids
        ):
            threads[r["thread_id"]].waits.append(WaitRow(*r[1:]))
        return known

    async def apply(self, changes: Iterable[ThreadChange]) -> None:
        """Write the locked threads' changes: new messages with their flags, the flags of stored
        messages, the waits (new, changed, gone).

        The account's lock is held: no one else inserts its messages now, so the new ones are
        COPY'd straight in (the fastest way PostgreSQL takes rows). They go a chunk at a time, each
        COPY in flight while `changes` computes the next threads, so both processors work."""
        conn = self.conn
        channel = self._channel
        rows: list[tuple[Any, ...]] = []
        pending: asyncio.Future[str] | None = None
        flag_rows: list[tuple[Any, ...]] = []
        new_waits: list[tuple[Any, ...]] = []
        changed_waits: list[tuple[Any, ...]] = []
        gone: list[tuple[int, int]] = []
        try:
            for change in changes:
                tid, account_id = change.thread.id, change.thread.account_id
                if change.new:
                    flags = change.flags
                    rows.extend(
                        (
                            account_id,
                            channel,
                            m.external_id,
                            tid,
                            m.direction,
                            m.author_id,
                            m.author_handle,
                            m.text,
                            m.url,
                            m.is_retweet,
                            m.created_at,
                            m.raw,
                            m.future_created_at,
                            m.reply_to_brand,
                            m.text_available,
                            *flags[m.external_id],
                            m.app_id,
                        )
                        for m in change.new
                    )
                    if len(rows) >= _COPY_CHUNK:
                        if pending is not None:
                            await pending
                        pending = asyncio.ensure_future(
                            conn.copy_records_to_table("messages", columns=_COPIED, records=rows)
                        )
                        rows = []
                        await asyncio.sleep(0)  # the COPY sends its rows now, before the next computation
                for ext, f in change.reflagged.items():
                    flag_rows.append((self._message_ids[(tid, ext)], *f))
                waits = change.waits
                new_waits += [(tid, account_id, *w) for w in waits.new]
                changed_waits += [(tid, account_id, *w) for w in waits.changed]
                gone += [(tid, seq) for seq in waits.gone]
            if pending is not None:
                await pending
                pending = None
            if rows:
                await conn.copy_records_to_table("messages", columns=_COPIED, records=rows)
        except BaseException:
            if pending is not None:  # the transaction can roll back only once the connection is free
                with contextlib.suppress(BaseException):
                    await pending
            raise
        if flag_rows:
            await conn.execute(
                """
                UPDATE messages m SET is_question = u.q, is_automatic = u.a, reason = u.reason,
                    agent = u.agent, team = u.team, app = u.app
                FROM unnest($1::bigint[], $2::boolean[], $3::boolean[], $4::text[], $5::text[], $6::text[],
                    $7::text[]) AS u(id, q, a, reason, agent, team, app)
                WHERE m.id = u.id
                """,
                *zip(*flag_rows, strict=True),
            )
        if gone:
            await conn.execute(
                """
                DELETE FROM waits w USING unnest($1::bigint[], $2::integer[]) AS g(thread_id, seq)
                WHERE w.thread_id = g.thread_id AND w.seq = g.seq
                """,
                *zip(*gone, strict=True),
            )
        # The account's lock is held and its stored waits were read under it: the new ones are
        # COPY'd, the changed ones updated.
        if new_waits:
            await conn.copy_records_to_table("waits", columns=_WAIT_COPIED, records=new_waits)
        if changed_waits:
            await _update_waits(conn, changed_waits)

    async def quarantine(
        self, account_id: int, channel: str, stream: str, items: Sequence[Rejected], received_at: datetime
    ) -> dict[str, int]:
        """Set the items aside, each once: an item read again keeps its row (its reason and detail
        follow the current code while it is unresolved). Returns the new rows by reason."""
        unique = {item_key(i): i for i in items}  # one row may be written once per statement
        rows = await self.conn.fetch(
            """
            INSERT INTO quarantine (account_id, channel, stream, item_key, kind, external_id, reason, detail,
                                    raw, context, received_at)
            SELECT $1, $2, $3, u.item_key, u.kind, u.external_id, u.reason, u.detail, u.raw::jsonb,
                   u.context::jsonb, $11
            FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
                AS u(item_key, kind, external_id, reason, detail, raw, context)
            ON CONFLICT (account_id, stream, item_key) DO UPDATE SET
                reason = EXCLUDED.reason, detail = EXCLUDED.detail, raw = EXCLUDED.raw, context = EXCLUDED.context
            WHERE quarantine.resolved_at IS NULL
              AND (quarantine.reason, quarantine.detail) IS DISTINCT FROM (EXCLUDED.reason, EXCLUDED.detail)
            RETURNING reason, xmax = 0 AS inserted
            """,
            account_id,
            channel,
            stream,
            list(unique),
            [i.kind for i in unique.values()],
            [i.external_id for i in unique.values()],
            [i.reason for i in unique.values()],
            [clean_text(i.detail[:DETAIL_MAX]) for i in unique.values()],
            [encode_json(i.raw).decode() for i in unique.values()],
            [encode_json(i.context).decode() for i in unique.values()],
            received_at,
        )
        counts: dict[str, int] = {}
        for r in rows:
            if r["inserted"]:
                counts[r["reason"]] = counts.get(r["reason"], 0) + 1
        return counts

    async def settle(self, settled: Settled) -> None:
        """Mark a quarantined item retried, and resolved if it became messages."""
        await self.conn.execute(
            "UPDATE quarantine SET retried_at = now(), resolved_at = CASE WHEN $2 THEN now() END WHERE id = $1",
            settled.quarantine_id,
            settled.resolved,
        )

    async def save_cursor(self, account_id: int, stream: str, cursor: str) -> None:
        await self.conn.execute(
            """
            INSERT INTO poll_state (account_id, stream, cursor, cursor_updated_at)
            VALUES ($1, $2, $3, now())
            ON CONFLICT (account_id, stream) DO UPDATE SET
                cursor = EXCLUDED.cursor, cursor_updated_at = EXCLUDED.cursor_updated_at
            """,
            account_id,
            stream,
            cursor,
        )


_WAIT_COPIED = ("thread_id", "account_id", "seq", *WAIT_FIELDS)


async def _update_waits(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    columns = list(zip(*rows, strict=True))
    await conn.execute(
        f"""
        UPDATE waits SET
            kind = u.kind, opened_at = u.opened_at, opened_message = u.opened_message, questions = u.questions,
            closed_at = u.closed_at, closed_message = u.closed_message, target_seconds = u.target_seconds,
            deadline = u.deadline, at_risk_at = u.at_risk_at, wall_seconds = u.wall_seconds,
            business_seconds = u.business_seconds,
            -- Instants marked by the deadline schedule stay while they still hold.
            at_risk_reached_at = COALESCE(u.at_risk_reached_at,
                CASE WHEN waits.at_risk_at = u.at_risk_at AND (u.closed_at IS NULL OR u.closed_at > u.at_risk_at)
                     THEN waits.at_risk_reached_at END),
            breached_at = COALESCE(u.breached_at,
                CASE WHEN waits.deadline = u.deadline AND (u.closed_at IS NULL OR u.closed_at > u.deadline)
                     THEN waits.breached_at END),
            breach_counted_at = CASE WHEN u.closed_at IS NOT NULL AND u.closed_at <= u.deadline
                THEN NULL ELSE waits.breach_counted_at END,
            updated_at = now()
        FROM unnest($1::bigint[], $2::integer[], $3::integer[], $4::text[],
            $5::timestamptz[], $6::text[], $7::integer[], $8::timestamptz[], $9::text[],
            $10::double precision[], $11::timestamptz[], $12::timestamptz[],
            $13::double precision[], $14::double precision[], $15::timestamptz[], $16::timestamptz[])
            AS u(thread_id, account_id, seq, {_WAIT_COLUMNS})
        WHERE waits.thread_id = u.thread_id AND waits.seq = u.seq
        """,
        *columns,
    )
