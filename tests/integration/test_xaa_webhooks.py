"""X Activity API deliveries on /webhooks/x, end to end: `inbox-monitor run` (its X account user
1001) receives what the fake X API's webhook sender posts (monitor/simulator/x_activity.py).

- The CRC answer is the documented `{"response_token": "sha256=<base64 HMAC>"}` (X's check passes).
- Good signature: 200 and acted on; bad signature: 403; a body not of XAA's form: 400; every one
  counted in `social_inbox_webhook_deliveries_total`. The Account Activity format still works.
- An encrypted chat (`chat.received`, then `chat.sent`) opens and closes a private wait at the
  chats' own times, stored without text, its decision `encrypted` (no rule read it).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor.app import BilledCounter, activity_ingester
from monitor.domain.cost import BillableRead, Prices
from monitor.domain.model import Message
from monitor.explain import NO_TEXT, explain_dict, explain_text
from monitor.metrics import Metrics
from monitor.reports.build import ReportRequest, build_report
from monitor.reports.i18n import Words
from monitor.reports.period import period_between
from monitor.reports.present import methodology
from monitor.secrets import EnvSecret
from monitor.server import Webhooks
from monitor.simulator.x_activity import WebhookSender, chat_envelope, envelope, new_chat
from monitor.simulator.x_api import FakeXApi
from monitor.sources.webhooks import WebhookError, read_x
from monitor.sources.x.chats import CHAT_STREAM
from monitor.spending import Spending
from monitor.store import labels, nudges
from monitor.store.db import create_pool, migrate
from monitor.store.reports import ReportStore
from monitor.store.store import Store
from tests.integration.helpers import engine_for
from tests.integration.test_webhooks import CONSUMER_SECRET, start_hooked
from tests.waiting import eventually, in_thread, scrape_sum, serving

BRAND, CUSTOMER = "1001", "7001"


async def test_xaa_deliveries_are_verified_counted_and_encrypted_chats_open_and_close_a_wait(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    proc, port = start_hooked(tmp_path, database_url)

    def counted(result: str) -> float:
        return scrape_sum(port, "social_inbox_webhook_deliveries_total", channel="x", result=result)

    try:
        await eventually(in_thread(serving(proc, port)), timeout=60, interval=0.2, what="the process ready")
        async with aiohttp.ClientSession() as session:
            api = FakeXApi()  # what X holds (the post a mention event carries whole), and what it bills
            api.add_user(BRAND, "shop")
            x = api.webhook_sender(f"http://127.0.0.1:{port}/webhooks/x", CONSUMER_SECRET, session)
            assert await x.crc()  # the answer X computes itself
            assert not await WebhookSender(x.url, "another-secret", session).crc()

            now = time.time()
            posted = api.add_tweet(CUSTOMER, "@shop where is my parcel?", now, mentions=[BRAND])
            mention = api.post_event("post.mention.create", BRAND, posted)
            assert await x.deliver(mention) == (200, {"status": "ok", "accounts": 1})
            status, answer = await x.deliver(mention, secret="another-secret")
            assert status == 403 and "does not match" in answer["error"]
            broken = {"data": {**mention["data"], "filter": {"user_id": "@shop"}}}
            status, answer = await x.deliver(broken)
            assert status == 400
            assert answer == {"error": "data.filter.user_id: expected an X user id (a string of digits)"}
            tweet = {"id_str": "1", "timestamp_ms": str(int(now * 1000))}
            legacy = {"for_user_id": BRAND, "tweet_create_events": [tweet]}
            assert await x.deliver(legacy) == (200, {"status": "ok", "accounts": 1})  # still served
            assert await x.deliver(envelope("like.create", BRAND, {})) == (200, {"status": "ignored", "accounts": 0})

            # A customer writes in XChat 10 minutes ago; the brand answers 2 minutes ago.
            asked = new_chat(CUSTOMER, BRAND, now - 600)
            answered = new_chat(BRAND, CUSTOMER, now - 120)
            received = chat_envelope(asked, BRAND)
            assert await x.deliver(received) == (200, {"status": "ok", "accounts": 1})
            assert await x.deliver(received) == (200, {"status": "replayed", "accounts": 0})
            assert await x.deliver(chat_envelope(answered, BRAND)) == (200, {"status": "ok", "accounts": 1})
            # Chats are stored whatever their age (no poll reads them; a replay job brings old ones),
            # while an old post event is not acted on (the poll has read it).
            old_chat = new_chat("7002", BRAND, now - 2 * 3600)
            assert await x.deliver(chat_envelope(old_chat, BRAND)) == (200, {"status": "ok", "accounts": 1})
            old_mention = envelope("post.mention.create", BRAND, {"created_at": "2026-01-01T00:00:00.000Z"})
            assert await x.deliver(old_mention) == (200, {"status": "stale", "accounts": 0})
            assert await x.deliver(mention) == (200, {"status": "replayed", "accounts": 0})
            stranger = api.post_event("post.mention.create", "4242", posted)  # a subscription of no account
            assert await x.deliver(stranger) == (200, {"status": "unknown_account", "accounts": 0})

        # What X bills for the deliveries it made (a replay once, a stale one too: delivered is
        # billed) is what the store counted for the account, by kind, and the holder's counter.
        billed = {kind: n for (user, kind), n in api.billed.items() if user == BRAND}
        assert billed == {"activity_event": 2, "activity_dm_event": 2}
        assert api.billed[("4242", "activity_event")] == 1  # X bills the app; no account counts it
        stored = await store.pool.fetch(
            "SELECT d.kind, d.count FROM billable_daily d JOIN accounts a ON a.id = d.account_id"
            " WHERE a.name = 'shop-x'"
        )
        assert {r["kind"]: r["count"] for r in stored} == billed
        for kind, n in billed.items():
            assert scrape_sum(port, "social_inbox_api_billable_total", account="shop-x", kind=kind) == n

        for result, count in (("subscribed", 2), ("ok", 5), ("bad_signature", 1), ("bad_request", 1), ("stale", 1)):
            assert counted(result) == count, result
        assert counted("ignored") == 1 and counted("replayed") == 2 and counted("unknown_account") == 1

        messages = await store.pool.fetch(
            "SELECT external_id, direction, body, text_available, is_question, reason, created_at"
            " FROM messages WHERE channel = 'x' AND NOT text_available ORDER BY created_at"
        )
        assert [(m["external_id"], m["direction"], m["body"], m["is_question"], m["reason"]) for m in messages] == [
            (old_chat.id, "inbound", "", True, "encrypted"),
            (asked.id, "inbound", "", True, "encrypted"),
            (answered.id, "outbound", "", False, None),
        ]
        [wait] = await store.pool.fetch(
            "SELECT w.kind, w.opened_at, w.closed_at, w.wall_seconds, t.kind AS thread_kind"
            " FROM waits w JOIN threads t ON t.id = w.thread_id WHERE t.thread_key = $1",
            asked.conversation_id,
        )
        assert (wait["kind"], wait["thread_kind"]) == ("first", "private")
        assert wait["opened_at"].timestamp() == round(asked.created_at * 1000) / 1000
        assert wait["closed_at"].timestamp() == round(answered.created_at * 1000) / 1000
        assert abs(wait["wall_seconds"] - 480.0) < 0.01
        # `explain` says why there is no text, and the JSON gives none.
        thread_id = await store.pool.fetchval("SELECT id FROM threads WHERE thread_key = $1", asked.conversation_id)
        view = await labels.thread_view(store.pool, thread_id)
        shown = explain_text(view, asked.id)
        assert NO_TEXT in shown and "encrypted" in shown
        as_json = explain_dict(view, asked.id)["messages"]
        assert [(m["text"], m["text_available"]) for m in as_json] == [(None, False)] * 2
        # The report counts the waits encrypted chats opened, and says why they have no text.
        today = datetime.fromtimestamp(now, UTC).date()
        period = period_between(today - timedelta(days=1), today, timezone="UTC")
        report = await build_report(ReportStore(store.pool), ReportRequest(period), as_of=datetime.now(UTC))
        assert report.encrypted_waits == 2
        assert any("2 waits were opened by encrypted chats" in p for p in methodology(report, Words("en")))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (tmp_path / "run.log").read_text()
    assert "Traceback" not in log and CONSUMER_SECRET not in log, log[-3000:]


async def test_a_chat_the_database_cannot_store_is_a_503_and_its_redelivery_is_stored(database_url: str) -> None:
    """Nothing stored is lost: X delivers again what was not answered 200 (PostgreSQL away here)."""
    pool = await create_pool(database_url, min_size=1, max_size=2)
    await migrate(pool)
    engine = await engine_for(Store(pool), ["shop-x"])
    [account_id] = engine.accounts

    async def nudge(account_id: int, streams: Sequence[str]) -> None:
        raise AssertionError("a chat is stored, no stream is nudged")

    async def ingest(account_id: int, messages: Sequence[Message], billable: Sequence[BillableRead]) -> None:
        await engine.ingest(account_id, CHAT_STREAM, messages, None, billable=billable)

    hooks = Webhooks(
        facebook_verify_token=EnvSecret("XHOOK_UNSET"),
        facebook_app_secrets=[],
        x_consumer_secret=EnvSecret("XHOOK_UNSET"),
        accounts={("x", BRAND): [account_id]},
        deliver=nudge,
        ingest=ingest,
    )
    body = json.dumps(chat_envelope(new_chat(CUSTOMER, BRAND, time.time() - 60), BRAND)).encode()
    broken = await create_pool(database_url, min_size=1, max_size=1)
    await broken.close()
    engine.store = Store(broken)  # the database is away
    with pytest.raises(WebhookError) as caught:
        await hooks.act("x", body, read_x(body))
    assert (caught.value.status, caught.value.result) == (503, "unavailable")
    engine.store = Store(pool)  # back: X's redelivery of the same body is stored, not "replayed"
    answer = await hooks.act("x", body, read_x(body))
    assert (answer.status, json.loads(answer.text or "")) == (200, {"status": "ok", "accounts": 1})
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE NOT text_available") == 1
    await pool.close()


async def test_what_a_process_not_holding_the_account_counts_reaches_the_holder(store: Store) -> None:
    """A delivery received by a process that does not hold its account is counted in PostgreSQL
    there, and NOTIFYed: the holder adds it to its counter and its budget's spend, once; a notice
    not of ours is ignored."""
    engine = await engine_for(store, ["shop-x"])
    [account_id] = engine.accounts

    def process(holds: bool) -> tuple[BilledCounter, Spending, CollectorRegistry]:
        spending = Spending(Prices(), {account_id: 10.0})
        metrics = Metrics(engine.accounts, registry=(registry := CollectorRegistry()))
        metrics.spending = spending
        return BilledCounter(lambda _: holds, spending, metrics, store), spending, registry

    (holder, holder_spent, holder_registry), (away, away_spent, away_registry) = process(True), process(False)
    listening = asyncio.create_task(nudges.listener(store.pool, lambda a, s: None, billed=holder.here).run())

    async def nudge(account_id: int, streams: Sequence[str]) -> None:
        pass

    hooks = Webhooks(
        facebook_verify_token=EnvSecret("XHOOK_UNSET"),
        facebook_app_secrets=[],
        x_consumer_secret=EnvSecret("XHOOK_UNSET"),
        accounts={("x", BRAND): [account_id]},
        deliver=nudge,
        ingest=activity_ingester(engine, away.metrics, lambda: None, away.anywhere),
    )
    api = FakeXApi()
    api.add_user(BRAND, "shop")
    posted = api.add_tweet(CUSTOMER, "@shop where is my parcel?", time.time(), mentions=[BRAND])
    labels = {"brand": "brand", "channel": "x", "account": "shop-x", "kind": "activity_event"}
    try:

        async def listening_now() -> bool:
            query = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN \"inbox_monitor_billed\"%'"
            return bool(await store.pool.fetchval(query))

        await eventually(listening_now, timeout=10, what="the holder listening")
        await store.pool.execute("SELECT pg_notify($1, $2)", nudges.BILLED, '{"account": 1, "billed": {"x": -1}}')
        for _ in range(2):  # the same event twice: counted once
            body = json.dumps(api.post_event("post.mention.create", BRAND, posted)).encode()
            answer = await hooks.act("x", body, read_x(body))
            assert answer.status == 200
        await eventually(
            lambda: holder_registry.get_sample_value("social_inbox_api_billable_total", labels) == 1,
            timeout=10,
            what="the holder counting it",
        )
        assert abs(holder_spent.spent(account_id) - 0.005) < 1e-12
        assert away_registry.get_sample_value("social_inbox_api_billable_total", labels) == 0
        assert away_spent.spent(account_id) == 0
        assert await store.pool.fetchval("SELECT count FROM billable_daily WHERE account_id = $1", account_id) == 1
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
