"""The Instagram sources against the local Graph API over HTTP, with the real Poller, Engine and
PostgreSQL; a signed `instagram` webhook delivery to a running `inbox-monitor run`.

Time is simulated as in test_facebook_source.py (`VirtualClock`, about a thousand times faster than
the real one): hours of an account's traffic pass in seconds. The expected waits come from the
script (question time, reply delay); the @mentions reach the store at their webhook's time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from monitor.config import InstagramAccount
from monitor.poller import Poller, PollTarget
from monitor.simulator.graph_api import FakeGraphApi, RecordedRequest
from monitor.simulator.instagram import FakeInstagram
from monitor.simulator.traffic import InstagramTraffic, Sizes, script_instagram
from monitor.sources.base import Source
from monitor.sources.instagram import STREAMS, build_instagram_sources, thread_key
from monitor.store import mentions
from monitor.store.mentions import MentionInbox
from monitor.store.store import Store
from tests.integration.helpers import SHOP_TOML, engine_for
from tests.integration.test_facebook_source import (
    APP_SECRET,
    OPTIONS,
    START,
    TAIL_SPEEDUP,
    eventually,
    expected_row,
    faults_met,
    stored_threads,
    stored_waits,
    tail,
    token_env,
)
from tests.integration.test_facebook_source import Rig as PageRig
from tests.integration.test_facebook_source import rig as page_rig
from tests.waiting import cli_env, free_port, in_thread, scrape_sum, serving, start_cli
from tests.waiting import eventually as eventually_real

ACCOUNTS = {  # name -> (Page id, Instagram account id, username)
    "ig-a": ("2001", "17841400000000001", "shop_a"),
    "ig-b": ("2002", "17841400000000002", "shop_b"),
    "ig-c": ("2003", "17841400000000003", "shop_c"),
}
INTERVAL = 600.0  # virtual seconds between polls
OVERLAP = int(OPTIONS.overlap.total_seconds())


@dataclass
class Rig(PageRig):
    """The fake Graph API with the accounts' Pages, the store, and a poller that can be restarted."""

    ig: FakeInstagram = field(default_factory=lambda: FakeInstagram(FakeGraphApi()))
    channel = "instagram"

    def streams(self, name: str, session: aiohttp.ClientSession) -> list[Source]:
        page_id, ig_user_id, _ = ACCOUNTS[name]
        account = InstagramAccount(
            name=name,
            channel="instagram",
            page_id=page_id,
            ig_user_id=ig_user_id,
            page_token_env=token_env(name),
            app_secret_env="FB_APP_SECRET",
            api_base_url=self.api.url,
            poll_interval=timedelta(seconds=INTERVAL),
        )
        inbox = MentionInbox(self.store.pool, self.ids[name])
        return build_instagram_sources(account, session, options=OPTIONS, mentions=inbox, clock=self.clock)

    def requests(self, name: str, since: int = 0) -> list[RecordedRequest]:
        return [q for q in self.api.requests[since:] if q.page_id == ACCOUNTS[name][0]]


@asynccontextmanager
async def rig(
    store: Store, monkeypatch: pytest.MonkeyPatch, *, speed: float, names: tuple[str, ...] = tuple(ACCOUNTS)
) -> AsyncIterator[Rig]:
    pages = {name: page_id for name, (page_id, _, _) in ACCOUNTS.items()}
    async with page_rig(store, monkeypatch, speed=speed, names=names, pages=pages, kind=Rig) as r:
        assert isinstance(r, Rig)
        r.ig = FakeInstagram(r.api)
        for name in names:
            page_id, ig_user_id, username = ACCOUNTS[name]
            r.ig.add_account(page_id, username=username, ig_user_id=ig_user_id)
        yield r


def key(thread: tuple[str, str]) -> str:
    """The thread key of a scripted thread (`igcomment`, "<media>:<customer>"), (`igdm`, conversation)."""
    kind, gid = thread
    return thread_key(*gid.split(":", 1)) if kind == "igcomment" else f"igdm:{gid}"


def expected_waits(traffic: InstagramTraffic) -> dict[str, list[tuple[object, ...]]]:
    return {key(thread): [expected_row(w) for w in waits] for thread, waits in traffic.threads.items() if waits}


async def script(r: Rig, span: timedelta, sizes: Sizes | None = None) -> dict[str, InstagramTraffic]:
    """Every account's traffic, its @mentions delivered (to the store) at their webhook's time."""
    traffic = {}
    for i, name in enumerate(r.ids):
        traffic[name] = script_instagram(
            r.ig, ACCOUNTS[name][1], start=START, span=span, seed=i, sizes=sizes or Sizes()
        )
        await mentions.remember(r.store.pool, r.ids[name], traffic[name].mentions, at=START)
    return traffic


async def test_three_accounts_waits_exact_under_faults_and_a_restart(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3 accounts × about 500 comments, 500 mentions and 500 direct messages, answers at known
    delays; 5xx, HTML, bad JSON, timeouts, throttling errors and usage headers at 95 % and a
    Business Use Case block; a restart in the middle: every wait is the scripted one to the second,
    every message is stored once."""
    async with rig(store, monkeypatch, speed=1500) as r:
        traffic = await script(r, timedelta(hours=3))
        end = max(t.end for t in traffic.values() if t.end)
        assert sum(len(t.messages) for t in traffic.values()) > 4000
        assert all(len(t.mentions) > 100 for t in traffic.values())
        r.api.random_faults(0.01, ["500", "503_html", "malformed", "html", "transient", "rate_limit"], seed=3)
        r.api.inject("timeout", count=2)
        await r.start()
        await eventually(lambda: r.clock() > START + timedelta(hours=1), 30, "an hour of traffic")
        r.api.set_usage(ACCOUNTS["ig-b"][0], call_count=95, total_time=40)
        r.api.throttle(ACCOUNTS["ig-c"][0], minutes=20, code=80002)
        await eventually(lambda: r.clock() > START + timedelta(hours=1, minutes=40), 30, "the middle")
        await r.stop()  # a restart in the middle of the traffic
        r.api.set_usage(ACCOUNTS["ig-b"][0], call_count=10, total_time=5)
        await r.start()
        await tail(r.clock, START + timedelta(hours=3))

        await eventually(lambda: r.clock() > end and faults_met(r), 60, "the end of the traffic, faults met")
        r.api.random_faults(0, [])
        await eventually(lambda: r.ingested(traffic), 60, "every scripted message stored")
        r.clock.set_speed(r.clock.speed / TAIL_SPEEDUP)  # the restart below at the speed it was written for

        for name, t in traffic.items():
            assert await stored_threads(store, name) == {m: key(th) for m, th in t.thread_of.items()}, name
            assert await stored_waits(store, name) == expected_waits(t), name
        assert any(q.code == 80002 for q in r.requests("ig-c"))
        async with store.pool.acquire() as conn:
            oldest = await conn.fetchval("SELECT min(created_at) FROM messages")
        assert oldest >= START

        # Restarted with nothing new: the streams go on from their cursors. No list is paged from
        # its top (the media, the tags, the conversations), no conversation's messages are paged,
        # only the active media's comments are read, and nothing is stored twice.
        await r.stop()
        async with store.pool.acquire() as conn:
            cursors = {
                (row["account_id"], row["stream"]): row["cursor"]
                for row in await conn.fetch("SELECT account_id, stream, cursor FROM poll_state")
            }
        assert all(len(c) < 64_000 for c in cursors.values())
        mark = len(r.api.requests)
        r.observer.polls.clear()
        await r.start()
        await eventually(lambda: len(r.observer.polls) >= 3 * len(STREAMS) * 3, 30, "three polls of every stream")
        await r.stop()
        after = r.api.requests[mark:]
        # Only a conversation updated within the overlap of its stream's watermark (2 minutes, read
        # again at every poll) may have its messages paged: nothing older is read again.
        watermarks = {
            ACCOUNTS[name][0]: json.loads(cursors[(r.ids[name], "instagram.dm")])["watermark"] for name in ACCOUNTS
        }
        paged_conversations = {(q.page_id, q.node) for q in after if q.edge == "messages"}
        assert all(
            page is not None
            and node is not None
            and r.api.nodes[node][1].updated(int(r.clock().timestamp())) >= watermarks[page] - OVERLAP
            for page, node in paged_conversations
        ), paged_conversations
        # The tagged media are read down to the active window at every poll, and the hourly sweep
        # pages the media with their `comments_count`: neither starts over because of the restart.
        paged = [(q.edge, q.params.get("fields", "")) for q in after if "after" in q.params and q.edge != "messages"]
        assert not [p for p in paged if p[0] not in ("tags", "comments") and "comments_count" not in p[1]], paged
        for name in ACCOUNTS:
            active = set(json.loads(cursors[(r.ids[name], "instagram.comments")])["active"])
            assert {q.node for q in r.requests(name, mark) if q.edge == "comments"} <= active
        assert {p[2] for p in r.observer.polls} <= {"ok", "cancelled"}
        assert all(p[4].messages_new == 0 for p in r.observer.polls if p[4] is not None)


async def test_an_expired_token_rejects_the_account_until_it_is_replaced(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Code 190 marks the three streams of that account `credentials_rejected` (one log line each),
    the other accounts go on, and it recovers without a restart once a new token is in place."""
    async with rig(store, monkeypatch, speed=3000) as r:
        traffic = await script(r, timedelta(hours=2), Sizes(comments=80, mentions=80, dms=80))
        end = max(t.end for t in traffic.values() if t.end)
        await r.start()
        await eventually(lambda: all(r.status(n, s) == "ok" for n in ACCOUNTS for s in STREAMS), 20, "all ok")
        caplog.set_level(logging.ERROR, logger="monitor.poller")
        r.api.expire_token(ACCOUNTS["ig-b"][0])
        await eventually(
            lambda: all(r.status("ig-b", s) == "credentials_rejected" for s in STREAMS), 20, "ig-b rejected"
        )
        mark = len(r.api.requests)
        await eventually(
            lambda: (
                len([q for q in r.requests("ig-b", mark) if q.code == 190]) >= 6
                and all(len([q for q in r.requests(o, mark) if q.status == 200]) >= 10 for o in ("ig-a", "ig-c"))
            ),
            20,
            "ig-b retried, the others polled",
        )
        assert all(r.status(o, s) == "ok" for o in ("ig-a", "ig-c") for s in STREAMS)
        failing = [rec for rec in caplog.records if getattr(rec, "account", None) == "ig-b"]
        assert sorted(getattr(rec, "stream", "") for rec in failing) == sorted(STREAMS)
        assert all(re.search(r"Graph error 190/463", getattr(rec, "error", "")) for rec in failing)

        r.api.set_token(ACCOUNTS["ig-b"][0], "token-b-renewed")
        monkeypatch.setenv(token_env("ig-b"), "token-b-renewed")
        await eventually(lambda: all(r.status("ig-b", s) == "ok" for s in STREAMS), 20, "ig-b recovered")
        await tail(r.clock, START + timedelta(hours=2))
        await eventually(lambda: r.clock() > end, 30, "the end of the traffic")
        await eventually(lambda: r.ingested(traffic), 30, "every scripted message stored")
        for name, t in traffic.items():
            assert await stored_waits(store, name) == expected_waits(t), name


CONFIG = (
    """
[server]
listen = "127.0.0.1:{port}"
snapshot_interval = "1s"

[server.webhooks]
facebook_app_secret_env = "FB_APP_SECRET"
facebook_verify_token_env = "FB_VERIFY_TOKEN"

"""
    + SHOP_TOML
)

ACCOUNT = """
[[brands.accounts]]
name = "{name}"
channel = "instagram"
page_id = "{page}"
ig_user_id = "{ig}"
page_token_env = "IG_TOKEN"
app_secret_env = "FB_APP_SECRET"
api_base_url = "{api}"
poll_interval = "1h"
"""


def post(url: str, body: bytes, secret: str = APP_SECRET) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_a_signed_instagram_delivery_makes_the_right_stream_poll(tmp_path: Path, database_url: str) -> None:
    """`inbox-monitor run` polls an Instagram account every hour; a signed `mentions` delivery to
    /webhooks/meta makes its mentions stream (only) read the comment it names, and the question
    counts; a `messaging` delivery makes the direct messages poll; a forged one changes nothing."""
    now = datetime.now(UTC).replace(microsecond=0)
    api = FakeGraphApi(app_secret=APP_SECRET)
    ig = FakeInstagram(api)
    base = await api.start()
    page, ig_user_id, username = ACCOUNTS["ig-a"]
    api.add_page(page, token="tok", name="Shop")
    ig.add_account(page, username=username, ig_user_id=ig_user_id)
    port = free_port()
    config = tmp_path / "config.toml"
    account = ACCOUNT.format(name="ig-a", page=page, ig=ig_user_id, api=base)
    config.write_text(CONFIG.format(port=port, accounts=account))
    env = cli_env(
        INBOX_MONITOR_CONFIG=str(config),
        INBOX_MONITOR_DATABASE_URL=database_url,
        IG_TOKEN="tok",
        FB_APP_SECRET=APP_SECRET,
        FB_VERIFY_TOKEN="verify",
    )
    proc = start_cli("run", env=env, log=tmp_path / "run.log")
    url = f"http://127.0.0.1:{port}/webhooks/meta"
    try:
        await eventually_real(in_thread(serving(proc, port)), timeout=60, what="the monitor serving")
        await eventually_real(
            lambda: {q.edge for q in api.requests} >= {"media", "tags", "conversations"},
            timeout=30,
            what="the first polls",
        )
        first = len(api.requests)
        other = ig.add_foreign_media(ig_user_id, ig.person("lea"), now - timedelta(minutes=5), "Ma tenue", tag=False)
        who = ig.person("camille")
        comment = ig.add_comment(
            other, now - timedelta(minutes=1), f"@{username} vous livrez en Belgique ?", author=who
        )

        forged = FakeInstagram.delivery(ig_user_id, now, changes=[ig.mention_change(comment)])
        status, answer = await in_thread(lambda: post(url, forged, secret="not-the-secret"))()
        assert status == 403 and "X-Hub-Signature-256" in answer["error"]
        status, answer = await in_thread(lambda: post(url, forged))()
        assert (status, answer) == (200, {"status": "ok", "accounts": 1})

        def mention_read() -> list[RecordedRequest]:
            return [q for q in api.requests[first:] if q.node == ig_user_id and q.edge is None]

        await eventually_real(mention_read, timeout=20, what="the mentions stream reading the comment")
        assert f"comment_id({comment})" in mention_read()[0].params["fields"]
        assert {q.edge for q in api.requests[first:]} <= {None, "tags"}  # the other streams did not poll

        def counted() -> float:
            return scrape_sum(port, "social_inbox_waits_opened_total", channel="instagram", account="ig-a")

        await eventually_real(in_thread(counted), timeout=20, what="the question counted")
        assert scrape_sum(port, "social_inbox_webhook_deliveries_total", channel="instagram", result="ok") == 1
        assert (
            scrape_sum(port, "social_inbox_webhook_deliveries_total", channel="facebook", result="bad_signature") == 1
        )

        mark = len(api.requests)
        status, _ = await in_thread(lambda: post(url, FakeInstagram.delivery(ig_user_id, now, messaging=True)))()
        assert status == 200
        await eventually_real(
            lambda: [q for q in api.requests[mark:] if q.edge == "conversations"], timeout=20, what="the DM poll"
        )
        assert all(q.params.get("platform") == "instagram" for q in api.requests[mark:] if q.edge == "conversations")
        assert {q.edge for q in api.requests[mark:]} <= {"conversations"}
    finally:
        proc.send_signal(2)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        await api.stop()


@pytest.mark.parametrize("dm_first", [False, True])
async def test_a_direct_message_closes_the_public_wait_where_the_policy_says_so(
    store: Store, monkeypatch: pytest.MonkeyPatch, dm_first: bool
) -> None:
    """A customer asks under a media; the brand answers by a direct message it starts (not under
    the comment). With `dm_closes_public` the public wait closes at the message, whichever stream
    is read first; without, it stays open. The Facebook and Instagram policies alike."""
    now = START + timedelta(hours=2)
    monkeypatch.setenv("FB_APP_SECRET", APP_SECRET)
    async with FakeGraphApi(clock=lambda: now, app_secret=APP_SECRET) as api:
        ig = FakeInstagram(api)
        engine = await engine_for(store, ["ig-a", "ig-b"], channel="instagram", now=now)
        for i, context in engine.accounts.items():  # ig-a's policy lets a direct message answer
            policy = dataclasses.replace(context.policy, dm_closes_public=context.name == "ig-a")
            engine.accounts[i] = dataclasses.replace(context, policy=policy)
        asked, answered = {}, {}
        async with aiohttp.ClientSession() as session:
            for account_id, context in engine.accounts.items():
                page_id, ig_user_id, username = ACCOUNTS[context.name]
                api.add_page(page_id, token=f"token-{context.name}")
                monkeypatch.setenv(token_env(context.name), f"token-{context.name}")
                ig.add_account(page_id, username=username, ig_user_id=ig_user_id)
                who = ig.person("camille")
                media = ig.add_media(ig_user_id, now - timedelta(hours=1), "Nouvelle collection")
                asked[context.name] = ig.add_comment(
                    media, now - timedelta(minutes=30), "Vous livrez en Belgique ?", author=who
                )
                conversation = ig.add_conversation(ig_user_id, who)
                answered[context.name] = ig.add_message(
                    conversation, now - timedelta(minutes=10), "Bonjour, oui : on vous écrit ici.", from_brand=True
                )
                account = InstagramAccount(
                    name=context.name,
                    channel="instagram",
                    page_id=page_id,
                    ig_user_id=ig_user_id,
                    page_token_env=token_env(context.name),
                    app_secret_env="FB_APP_SECRET",
                    api_base_url=api.url,
                )
                sources = {
                    s.stream: s for s in build_instagram_sources(account, session, options=OPTIONS, clock=lambda: now)
                }
                poller = Poller(engine, [], clock=lambda: now)
                order = ["instagram.dm", "instagram.comments"] if dm_first else ["instagram.comments", "instagram.dm"]
                for stream in order:
                    target = PollTarget(account_id, context.name, "brand", "instagram", sources[stream], INTERVAL)
                    await poller.poll_once(target, None)
    waits = {name: next(iter(w.values())) for name, w in [(n, await stored_waits(store, n)) for n in ("ig-a", "ig-b")]}
    assert waits["ig-a"] == [
        ("first", now - timedelta(minutes=30), asked["ig-a"], 1, now - timedelta(minutes=10), answered["ig-a"], 1200.0)
    ]
    assert waits["ig-b"] == [("first", now - timedelta(minutes=30), asked["ig-b"], 1, None, None, None)]
