"""People's corrections of question decisions: the SQL of finding a message, storing a label and
its correction (the engine recomputes the thread in between, in the same transaction), reading a
thread back (`explain`) and the labelled export."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from monitor.domain.labels import Correction, MessageRef
from monitor.domain.outcomes import Flags
from monitor.store import nudges
from monitor.store.store import ACCOUNT_LOCK, Transaction

DIRECTIONS = ("needs_reply", "no_reply", "rules")
"""What a correction says: the message needs a reply, does not, or is given back to the rules."""

REF_MAX = 2048
"""Characters of a message reference (an id or a pasted URL): longer is nobody's message."""
FOUND_MAX = 20
"""Candidates returned for one reference: enough to name them in an "ambiguous" error."""
BODY_MAX = 2000
"""Characters of each message's text read back for `explain` (it shows a shortened text)."""

# Ids inside the links the sources store: an X status, a Facebook comment, a visitor post.
_URL_IDS = re.compile(r"/status(?:es)?/(\d{1,20})\b|[?&]comment_id=([\w.-]{1,100})|facebook\.com/(\d[\d_]{0,100})$")


def direction_of(label: bool | None) -> str:
    """The direction of a correction: `needs_reply`, `no_reply`, or `rules` (no label)."""
    return "rules" if label is None else ("needs_reply" if label else "no_reply")


@dataclass(frozen=True)
class ThreadView:
    """One thread as `explain` shows it: the thread, its messages in order, its waits."""

    thread: asyncpg.Record
    messages: list[asyncpg.Record]
    waits: list[asyncpg.Record]


def candidate_ids(ref: str) -> list[str]:
    """External ids a reference may mean: itself, and the ids inside a link the sources store."""
    ids = [ref]
    for match in _URL_IDS.finditer(ref.split("#", 1)[0]):
        ids += [g for g in match.groups() if g]
    return list(dict.fromkeys(ids))


_REF_COLUMNS = "m.id, m.account_id, a.name AS account, m.external_id, m.thread_id, m.direction, m.url"


async def find_messages(pool: asyncpg.Pool, ref: str, account_ids: Sequence[int]) -> list[MessageRef]:
    """The messages of these accounts that `ref` names: by external id (also an id inside a stored
    link), else by the stored link itself. The link is not indexed: it is read only when no id
    matched, and only for a reference that looks like a link."""
    ref = ref.strip()[:REF_MAX]
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"""
            SELECT {_REF_COLUMNS} FROM messages m JOIN accounts a ON a.id = m.account_id
            WHERE m.account_id = ANY($1::integer[]) AND m.external_id = ANY($2::text[])
            ORDER BY a.name, m.external_id LIMIT $3
            """,
            list(account_ids),
            candidate_ids(ref),
            FOUND_MAX,
        )
        if not rows and "://" in ref:
            rows = await conn.fetch(
                f"""
                SELECT {_REF_COLUMNS} FROM messages m JOIN accounts a ON a.id = m.account_id
                WHERE m.account_id = ANY($1::integer[]) AND m.url = $2
                ORDER BY a.name, m.created_at, m.external_id LIMIT $3
                """,
                list(account_ids),
                ref,
                FOUND_MAX,
            )
    return [MessageRef(**dict(r)) for r in rows]


async def relabel(tx: Transaction, message: MessageRef, label: bool | None) -> tuple[int, Flags]:
    """Set a message's label (None: back to the rules) under its account's lock; return its thread
    and its flags before. Its thread is then recomputed, and the correction `record`ed, in `tx`."""
    conn = tx.conn
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", ACCOUNT_LOCK, message.account_id)
    old = await conn.fetchrow(
        "SELECT thread_id, direction, is_question, is_automatic, reason FROM messages WHERE id = $1", message.id
    )
    if old is None or old["direction"] != "inbound":
        raise ValueError(f"message {message.external_id!r} is not a stored inbound message")
    await conn.execute("UPDATE messages SET label = $2 WHERE id = $1", message.id, label)
    return old["thread_id"], Flags(old["is_question"], old["is_automatic"], old["reason"])


async def record(
    tx: Transaction, message: MessageRef, label: bool | None, before: Flags, after: Flags, *, by: str, note: str | None
) -> Correction:
    """Store the correction of a `relabel`ed message with its decision before and after; its notice
    leaves when `tx` commits."""
    labelled_at = await tx.conn.fetchval(
        """
        INSERT INTO message_labels (message_id, account_id, label, labelled_by, note,
            old_is_question, old_reason, new_is_question, new_reason)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING labelled_at
        """,
        message.id,
        message.account_id,
        label,
        by,
        note,
        before.is_question,
        before.reason,
        after.is_question,
        after.reason,
    )
    await tx.conn.execute(
        "SELECT pg_notify($1, $2)",
        nudges.CORRECTIONS,
        nudges.correction_notice(message.account_id, direction_of(label)),
    )
    return Correction(
        message, label, (before.is_question, before.reason), (after.is_question, after.reason), labelled_at
    )


async def thread_view(pool: asyncpg.Pool, thread_id: int) -> ThreadView:
    """A thread, its messages (each with its latest correction) in the waits' order, and its waits."""
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        thread = await conn.fetchrow(
            """
            SELECT t.id, t.thread_key, t.kind, t.customer_handle, t.url, a.name AS account, a.brand, a.channel
            FROM threads t JOIN accounts a ON a.id = t.account_id WHERE t.id = $1
            """,
            thread_id,
        )
        messages = await conn.fetch(
            """
            SELECT m.external_id, m.direction, m.created_at, m.author_handle, m.author_id,
                   left(m.body, $2) AS body, m.url, m.is_question, m.is_automatic, m.reason, m.label,
                   m.reply_to_brand, m.text_available, m.agent, m.team, m.app, m.app_id,
                   l.labelled_by, l.labelled_at, l.note, l.old_is_question, l.old_reason
            FROM messages m
            LEFT JOIN LATERAL (SELECT * FROM message_labels x WHERE x.message_id = m.id
                               ORDER BY x.id DESC LIMIT 1) l ON true
            WHERE m.thread_id = $1
            ORDER BY m.created_at, m.direction = 'outbound', m.external_id
            """,
            thread_id,
            BODY_MAX,
        )
        waits = await conn.fetch(
            """
            SELECT seq, kind, opened_at, opened_message, questions, closed_at, closed_message, target_seconds,
                   deadline, at_risk_at, wall_seconds, business_seconds, at_risk_reached_at, breached_at,
                   CASE WHEN closed_at IS NULL THEN deadline <= now() ELSE closed_at > deadline END
                       AS breached
            FROM waits WHERE thread_id = $1 ORDER BY seq
            """,
            thread_id,
        )
    if thread is None:
        raise LookupError(f"no thread {thread_id}")
    return ThreadView(thread, list(messages), list(waits))


async def labelled(pool: asyncpg.Pool, account_ids: Sequence[int]) -> list[asyncpg.Record]:
    """The messages of these accounts that carry a correction now, in the order they were corrected:
    their text, the correction, the kind of thread and the channel."""
    async with pool.acquire() as conn:
        return list(
            await conn.fetch(
                """
            SELECT m.external_id, m.body, m.label, t.kind AS thread_kind, a.name AS account, a.channel,
                   l.labelled_at
            FROM (SELECT DISTINCT ON (message_id) message_id, id, labelled_at FROM message_labels
                  WHERE account_id = ANY($1::integer[]) ORDER BY message_id, id DESC) l
            JOIN messages m ON m.id = l.message_id
            JOIN threads t ON t.id = m.thread_id
            JOIN accounts a ON a.id = m.account_id
            WHERE m.label IS NOT NULL
            ORDER BY l.id
            """,
                list(account_ids),
            )
        )
