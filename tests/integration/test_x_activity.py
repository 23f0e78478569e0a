"""The X Activity API's persistent stream, end to end: `inbox-monitor x-activity` makes the
subscriptions (idempotent), two `inbox-monitor run` processes share a PostgreSQL and open one
stream between them, a question posted on the fake X API is counted in seconds although the polls
run every 10 minutes, and a stream killed mid-run loses nothing (the reconnection's poll reads
what was posted meanwhile) and shows in /metrics while it is down."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from monitor.config import parse
from monitor.simulator.x_api import MENTIONS, FakeXApi
from monitor.sources.x.subscriptions import POST_EVENTS, manage
from tests.integration.helpers import POLICY_TOML, SHOP_TOML
from tests.waiting import cli, cli_env, eventually, free_port, in_thread, scrape_sum, serving, start_cli, stop_cli

CONFIG = (
    """
[server]
listen = "127.0.0.1:{port}"
snapshot_interval = "1s"
lease_time = "6s"

"""
    + SHOP_TOML
)
ACCOUNT = """
[[brands.accounts]]
name = "shop"
channel = "x"
user_id = "1001"
handle = "shop"
bearer_token_env = "X_TOKEN"
api_base_url = "{api}"
poll_interval = "10m"
[brands.accounts.x_activity]
mode = "stream"
"""
TOKEN = "app-bearer-token"
OPENED = "social_inbox_waits_opened_total"
UP = "social_inbox_x_activity_stream_up"
CONNECTIONS = "social_inbox_x_activity_stream_connections_total"
BILLABLE = "social_inbox_api_billable_total"
POLLS = "social_inbox_poll_total"


def subscriptions(env: dict[str, str], action: str) -> list[dict[str, object]]:
    done = cli("x-activity", action, "--format", "json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert isinstance(answer, list)
    return answer


async def test_subscriptions_then_one_stream_counts_a_question_at_once_and_survives_a_drop(
    tmp_path: Path, database_url: str
) -> None:
    api = FakeXApi()
    base = await api.start()
    api.add_user("1001", "shop")
    api.add_user("7001", "customer")
    api.add_bearer_token(TOKEN)
    config = tmp_path / "config.toml"
    procs = []
    try:
        ports = [free_port(), free_port()]
        env = cli_env(INBOX_MONITOR_DATABASE_URL=database_url, X_TOKEN=TOKEN, INBOX_MONITOR_CONFIG=str(config))
        config.write_text(CONFIG.format(port=ports[0], accounts=ACCOUNT.format(api=base)))

        # Subscriptions: made once, found the second time, listed.
        wanted = {"post.mention.create", "post.reply.create", "post.create"}
        first = await in_thread(lambda: subscriptions(env, "subscribe"))()
        assert {(r["event_type"], r["result"]) for r in first} == {(k, "created") for k in wanted}
        again = await in_thread(lambda: subscriptions(env, "subscribe"))()
        assert {(r["event_type"], r["result"]) for r in again} == {(k, "exists") for k in wanted}
        assert {s.event_type for s in api.activity.subscriptions.values()} == wanted
        assert len(api.activity.subscriptions) == 3
        listed = await in_thread(lambda: subscriptions(env, "list"))()
        assert {r["result"] for r in listed} == {"present"}

        for n, port in enumerate(ports):
            (tmp_path / f"p{n}.toml").write_text(CONFIG.format(port=port, accounts=ACCOUNT.format(api=base)))
            penv = {**env, "INBOX_MONITOR_CONFIG": str(tmp_path / f"p{n}.toml")}
            procs.append(start_cli("run", env=penv, log=tmp_path / f"p{n}.log"))
        for proc, port in zip(procs, ports, strict=True):
            await eventually(in_thread(serving(proc, port)), timeout=60, interval=0.2, what="the process ready")

        def up() -> float:
            return sum(scrape_sum(port, UP, account="shop") for port in ports)

        await eventually(in_thread(lambda: up() == 1), timeout=30, interval=0.2, what="the stream open")
        assert api.activity.open_streams == 1

        def opened() -> float:
            return sum(scrape_sum(port, OPENED, account="shop") for port in ports)

        # (The first polls are spread over a few seconds: the stream is for what comes after.)
        await eventually(lambda: api.requests_to(MENTIONS, "1001"), timeout=30, what="the first poll")
        # A question: the stream's event makes the holder poll now, not in 10 minutes.
        posted = time.time()
        api.add_tweet("7001", "@shop where is my parcel?", posted, mentions=["1001"])
        await eventually(in_thread(lambda: opened() == 1), timeout=10, interval=0.05, what="the question counted")
        print(f"posted → counted: {time.time() - posted:.2f} s")
        assert any(e["data"]["event_type"] == "post.mention.create" for e in api.activity.delivered)

        # X drops the stream and refuses it for a while: the metrics show it down.
        api.activity.refusing = True
        api.activity.drop()
        await eventually(in_thread(lambda: up() == 0), timeout=30, interval=0.1, what="the stream shown down")
        lost = api.add_tweet("7001", "@shop and my refund, when?", time.time(), mentions=["1001"])
        assert not any(e["data"]["payload"]["id"] == str(lost) for e in api.activity.delivered)  # nobody heard it
        api.activity.refusing = False

        # It reconnects; the reconnection's poll reads the question whose event was lost.
        await eventually(in_thread(lambda: up() == 1), timeout=60, interval=0.2, what="the stream reconnected")
        await eventually(in_thread(lambda: opened() == 2), timeout=10, interval=0.1, what="the lost question counted")
        connections = sum(scrape_sum(port, CONNECTIONS, account="shop") for port in ports)
        assert connections >= 2
        assert api.activity.most_open == 1  # two processes, never two streams

        # Late and duplicate events change nothing: the lost post announced now, twice.
        def polls() -> float:
            return sum(scrape_sum(port, POLLS, account="shop", stream="x.mentions") for port in ports)

        polled = await in_thread(polls)()
        for _ in range(2):
            api.activity.post(api.tweets[lost], {"id": str(lost)})
        await eventually(
            lambda: sum(1 for e in api.activity.delivered if e["data"]["payload"]["id"] == str(lost)) >= 2,
            timeout=5,
            what="the duplicate delivered",
        )
        # The holder polls for them (the events' nudge): once that poll is counted, still two.
        await eventually(in_thread(lambda: polls() > polled), timeout=10, what="the poll the late events brought")
        assert await in_thread(opened)() == 2

        # What X billed for the events it delivered (the repeated one once) is what the holder counted.
        assert api.billed[("1001", "activity_event")] == 2

        def billed() -> float:
            return sum(scrape_sum(port, BILLABLE, account="shop", kind="activity_event") for port in ports)

        await eventually(in_thread(lambda: billed() == 2), timeout=10, interval=0.1, what="the events counted")

        # Unsubscribe removes what subscribe made.
        gone = await in_thread(lambda: subscriptions(env, "unsubscribe"))()
        assert {r["result"] for r in gone} == {"deleted"}
        assert api.activity.subscriptions == {}
    finally:
        for proc in procs:
            await asyncio.to_thread(stop_cli, proc)
        await api.stop()


WEBHOOK_ID = "1976325569252868099"


async def test_a_webhook_delivered_accounts_subscriptions_name_its_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    """`x-activity subscribe` for an account in `mode = "webhook"` sends its `webhook_id` in each
    subscription it makes (else X delivers its events to a stream nobody opens), and points one made
    for the stream at the webhook (`PUT`); `list` then finds them present, and a second run changes
    nothing."""
    api = FakeXApi()
    base = await api.start()
    api.add_bearer_token(TOKEN)
    monkeypatch.setenv("X_TOKEN", TOKEN)
    made_for_stream = api.activity.subscribe("post.create", "1001", "inbox-monitor")
    account = {
        "name": "shop",
        "channel": "x",
        "user_id": "1001",
        "bearer_token_env": "X_TOKEN",
        "api_base_url": base,
        "x_activity": {"mode": "webhook", "webhook_id": WEBHOOK_ID},
    }
    config = parse(
        {"policies": {"default": POLICY_TOML}, "brands": [{"name": "b", "accounts": [account]}]},
        environ={"X_TOKEN": TOKEN},
    )
    try:
        before = {r.event_type: (r.outcome, r.detail) for r in await manage(config, "list")}
        assert before["post.create"] == ("missing", f"delivered to webhook none, not {WEBHOOK_ID}")
        made = await manage(config, "subscribe")
        assert {(r.event_type, r.outcome) for r in made} == {
            ("post.mention.create", "created"),
            ("post.reply.create", "created"),
            ("post.create", "updated"),
        }
        subs = list(api.activity.subscriptions.values())
        assert sorted(s.event_type for s in subs) == sorted(POST_EVENTS)
        assert {s.webhook_id for s in subs} == {WEBHOOK_ID}
        assert made_for_stream.subscription_id in api.activity.subscriptions  # updated, not made twice
        listed = await manage(config, "list")
        assert {r.outcome for r in listed} == {"present"}
        again = await manage(config, "subscribe")
        assert {r.outcome for r in again} == {"exists"}
        assert len(api.activity.subscriptions) == 3
    finally:
        await api.stop()
