"""The engine against a real PostgreSQL: idempotent, order-independent, atomic with the cursor."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.domain.changes import StoredThread, ThreadChange, thread_change
from monitor.domain.model import Direction, Message
from monitor.engine import thread_outcome
from monitor.store.db import create_pool, migrate, migrations, pending_migrations
from monitor.store.store import Store
from tests.integration.helpers import FIXED_NOW, engine_for, shuffled_batches, waits_of

T0 = FIXED_NOW - timedelta(days=1)
QUESTION = "Bonjour, ma commande n'est toujours pas arrivée, vous pouvez vérifier ?"
THANKS = "Merci beaucoup, super service 😍"
REPLY = "Bonjour, nous regardons cela en DM."


def message(
    ext: str, thread: str, minute: int, direction: Direction = "inbound", text: str = QUESTION, customer: str = "42"
) -> Message:
    return Message(
        ext,
        thread,
        "public",
        direction,
        T0 + timedelta(minutes=minute),
        text,
        customer if direction == "inbound" else "brand",
        f"user{customer}",
        f"https://x.com/i/web/status/{ext}",
        raw={"id": ext},
    )


async def test_ingest_stores_messages_waits_and_cursor(store: Store) -> None:
    engine = await engine_for(store, ["acme-x"])
    account_id = next(iter(engine.accounts))
    batch = [message("1", "k:42", 0), message("2", "k:42", 12, "outbound", REPLY), message("3", "k:42", 30)]
    result = await engine.ingest(account_id, "x.mentions", batch, "cursor-3")
    assert result.messages_new == 3 and len(result.opened) == 2 and len(result.answered) == 1
    assert result.answered[0].wall_seconds == 720.0
    waits = (await waits_of(store, "acme-x"))["k:42"]
    assert [(w[1], w[3], w[6]) for w in waits] == [("first", "1", "2"), ("next", "3", None)]
    assert waits[1][10] == T0 + timedelta(minutes=30 + 60)  # open and past its 1h deadline: breached
    assert await store.load_cursor(account_id, "x.mentions") == "cursor-3"

    again = await engine.ingest(account_id, "x.mentions", batch, "cursor-3")
    assert again.messages_new == 0 and again.opened == [] and again.answered == []


async def test_nul_bytes_and_huge_text_are_stored(store: Store) -> None:
    engine = await engine_for(store, ["acme-x"])
    account_id = next(iter(engine.accounts))
    text = "help\x00 me " + "é" * 100_000
    batch = [Message("n1", "k:1", "public", "inbound", T0, text, "1", "a\x00b", raw={"t\x00": "\x00"})]
    await engine.ingest(account_id, "s", batch, None)
    async with store.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT body, author_handle, raw FROM messages WHERE external_id='n1'")
    assert row is not None
    assert row["body"].startswith("help\ufffd me") and len(row["body"]) == len(text)
    assert row["author_handle"] == "a\ufffdb" and row["raw"] == {"t\ufffd": "\ufffd"}


async def test_failed_transaction_stores_nothing(store: Store) -> None:
    engine = await engine_for(store, ["acme-x"])
    account_id = next(iter(engine.accounts))

    def broken(threads: list[StoredThread]) -> Iterator[ThreadChange]:  # fails mid-transaction
        for _ in threads:
            raise RuntimeError("boom")
        yield from ()

    async def write_then_fail() -> None:
        async with store.transaction() as tx:  # threads created, cursor saved, then the failure
            threads = await tx.lock_batch(account_id, "x", [message("1", "k:1", 0)])
            await tx.save_cursor(account_id, "s", "c1")
            await tx.apply(broken(threads))

    with pytest.raises(RuntimeError, match="boom"):
        await write_then_fail()
    async with store.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM messages") == 0
        assert await conn.fetchval("SELECT count(*) FROM threads") == 0
    assert await store.load_cursor(account_id, "s") is None


async def test_concurrent_migrations_do_not_race(database_url: str) -> None:
    pools = [await create_pool(database_url, min_size=1, max_size=1) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(p) for p in pools))
        assert sorted(len(r) for r in results) == [0, 0, 0, len(migrations())]
        assert await pending_migrations(pools[0]) == []
    finally:
        for p in pools:
            await p.close()


async def test_message_unique_per_account_and_external_id(store: Store) -> None:
    engine = await engine_for(store, ["a", "b"])
    ids = sorted(engine.accounts)
    for account_id in ids:  # a tweet that mentions two monitored accounts is in both inboxes
        await engine.ingest(account_id, "s", [message("same", "k:1", 0)], None)
    async with store.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM messages WHERE external_id = 'same'") == 2
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO messages (account_id, channel, external_id, thread_id, direction, body,"
                " created_at) SELECT account_id, channel, external_id, thread_id, direction, body,"
                " created_at FROM messages LIMIT 1"
            )


# --- order independence and idempotency, through the real database --------------------------

TEXTS = [QUESTION, THANKS, "How do I reset my password", "still waiting...", "merci", "lol 😂"]
_counter = itertools.count()


@st.composite
def threads(draw: st.DrawFn) -> list[Message]:
    """Messages of 1–3 threads: customers' posts and brand replies, ties in time included."""
    n = next(_counter)
    out = []
    for t in range(draw(st.integers(1, 3))):
        customer = str(t + 1)
        for i in range(draw(st.integers(1, 10))):
            outbound = draw(st.booleans())
            out.append(
                message(
                    f"{n}-{t}-{i}",
                    f"conv{n}:{customer}",
                    draw(st.integers(0, 600)),
                    "outbound" if outbound else "inbound",
                    REPLY if outbound and draw(st.booleans()) else draw(st.sampled_from(TEXTS)),
                    customer,
                )
            )
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=threads(), seed=st.integers(0, 2**32 - 1), batches=st.integers(1, 5))
def test_shuffled_duplicated_batches_give_the_waits_of_one_ordered_ingest(
    db: tuple[asyncio.AbstractEventLoop, Store], messages: list[Message], seed: int, batches: int
) -> None:
    loop, store = db
    chunks = shuffled_batches(messages, random.Random(seed), batches)

    async def go() -> None:
        engine = await engine_for(store, ["ordered", "shuffled"])
        by_name = {c.name: i for i, c in engine.accounts.items()}
        ordered = sorted(messages, key=lambda m: (m.created_at, m.external_id))
        await engine.ingest(by_name["ordered"], "s", ordered, None)
        for chunk in chunks:
            await engine.ingest(by_name["shuffled"], "s", chunk, None)
        threads_keys = {m.thread_key for m in messages}
        expected = {k: v for k, v in (await waits_of(store, "ordered")).items() if k in threads_keys}
        got = {k: v for k, v in (await waits_of(store, "shuffled")).items() if k in threads_keys}
        assert got == expected
        async with store.pool.acquire() as conn:
            stored = await conn.fetchval(
                "SELECT count(*) FROM messages m JOIN accounts a ON a.id = m.account_id"
                " WHERE a.name = 'shuffled' AND m.external_id = ANY($1::text[])",
                [m.external_id for m in messages],
            )
        assert stored == len(messages)

    loop.run_until_complete(go())


async def test_any_unicode_and_odd_timestamps_are_stored_and_waited_on(store: Store) -> None:
    """Bad input never stops the pipeline nor stores garbage: RTL, combining marks, emoji, 100 KB,
    timestamps far in the past or in the future."""
    engine = await engine_for(store, ["acme-x"])
    account_id = next(iter(engine.accounts))
    texts = [
        "مرحبا، طلبي لم يصل بعد؟ \u202b",
        "e\u0301\u0301\u0301 ça ne marche pas ?",
        "🙂" * 30_000,
        "\ud7ff\ufffe how do I reset my password",
        "x" * 100_000 + "?",
        "lone \ud800 surrogate?",
    ]
    odd_times = [datetime(1971, 1, 1, tzinfo=FIXED_NOW.tzinfo), FIXED_NOW + timedelta(days=3650)]
    batch = [message(f"u{i}", f"u:{i}", 0, text=t) for i, t in enumerate(texts)] + [
        Message(f"t{i}", f"t:{i}", "public", "inbound", at, QUESTION, "9", "someone") for i, at in enumerate(odd_times)
    ]
    result = await engine.ingest(account_id, "s", batch, "c")
    assert result.messages_new == len(batch)
    async with store.pool.acquire() as conn:
        bodies = {r["external_id"]: r["body"] for r in await conn.fetch("SELECT external_id, body FROM messages")}
        future = await conn.fetchrow("SELECT * FROM waits WHERE opened_message = 't1'")
    assert future is not None
    assert [bodies[f"u{i}"] for i in range(len(texts) - 1)] == texts[:-1]  # stored exactly as received
    assert bodies[f"u{len(texts) - 1}"] == "lone \ufffd surrogate?"  # not UTF-8: marked, not refused
    assert future["breached_at"] is None and future["deadline"] > FIXED_NOW  # a future question waits


async def test_raw_payloads_are_kept_whatever_they_hold(store: Store) -> None:
    """The API's payload is stored as jsonb: NUL (refused by jsonb) and lone surrogates (not UTF-8)
    become U+FFFD, in keys too; integers beyond 64 bits and nesting are kept exactly."""
    import dataclasses

    engine = await engine_for(store, ["acme-x"])
    account_id = next(iter(engine.accounts))
    payloads: dict[str, dict[str, Any]] = {
        "plain": {"id": "1", "text": "Où est ma commande ? 📦", "entities": {"mentions": [{"username": "acme"}]}},
        "nul": {"text": "a\x00b", "k\x00": ["\x00"]},
        "surrogate": {"text": "lone \ud800", "\udc00": 1},
        "big": {"id": 2**70, "ratio": 0.5, "none": None, "flag": True},
    }
    batch = [
        dataclasses.replace(message(name, f"t:{name}", i), raw=raw) for i, (name, raw) in enumerate(payloads.items())
    ]
    await engine.ingest(account_id, "s", batch, None)
    async with store.pool.acquire() as conn:
        stored = {r["external_id"]: r["raw"] for r in await conn.fetch("SELECT external_id, raw FROM messages")}
    assert stored["plain"] == payloads["plain"]
    assert stored["nul"] == {"text": "a\ufffdb", "k\ufffd": ["\ufffd"]}
    assert stored["surrogate"] == {"text": "lone \ufffd", "\ufffd": 1}
    assert stored["big"] == payloads["big"] and isinstance(stored["big"]["id"], int)


async def test_a_failure_while_a_chunk_is_being_copied_stores_nothing(store: Store) -> None:
    """Big batches are COPY'd a chunk at a time while the next threads are computed: a failure in
    the middle rolls everything back (no message, thread, wait or cursor) and the connection is
    usable again; the same batch then goes in whole, with the waits of the pure domain."""
    engine = await engine_for(store, ["acme-x"])
    account_id = next(iter(engine.accounts))
    ctx = engine.accounts[account_id]
    batch = [
        m
        for i in range(600)
        for m in (message(f"q{i}", f"k:{i}", i), message(f"r{i}", f"k:{i}", i + 5, "outbound", REPLY))
    ]
    computed = 0

    def failing(threads: list[StoredThread]) -> Iterator[ThreadChange]:  # the engine's changes, then a failure
        nonlocal computed
        for stored in threads:
            computed += 1
            if computed == 400:  # some chunks are stored (in the transaction) or on their way by now
                raise RuntimeError("boom")
            yield thread_change(stored, thread_outcome(ctx, stored.info, stored.messages, FIXED_NOW))

    async def write_then_fail() -> None:
        async with store.transaction() as tx:
            threads = await tx.lock_batch(account_id, "x", batch)
            await tx.save_cursor(account_id, "s", "c-1")
            await tx.apply(failing(threads))

    with pytest.raises(RuntimeError, match="boom"):
        await write_then_fail()
    assert computed == 400
    async with store.pool.acquire() as conn:
        counts = [await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("messages", "threads", "waits")]
    assert counts == [0, 0, 0] and await store.load_cursor(account_id, "s") is None

    result = await engine.ingest(account_id, "s", batch, "c-1")
    assert result.messages_new == 1200 and len(result.opened) == len(result.answered) == 600
    waits = await waits_of(store, "acme-x")
    assert len(waits) == 600 and all(
        w[0][3] == f"q{i}" and w[0][6] == f"r{i}" for i, w in ((int(k.split(":")[1]), w) for k, w in waits.items())
    )
    assert await store.load_cursor(account_id, "s") == "c-1"
