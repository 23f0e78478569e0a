"""Webhooks make a stream poll now, in whichever process holds the account.

- The poll-now notices go through PostgreSQL (LISTEN/NOTIFY) and survive a broken connection.
- End to end: two `inbox-monitor run` processes share a PostgreSQL and split two X accounts
  polled every minute; a signed Account Activity delivery sent to one process makes the *other*
  process, which holds the account, poll it at once, and the question is counted. Deliveries
  with a wrong signature or a bad body are refused and counted; the CRC check is answered.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from http.client import HTTPConnection
from pathlib import Path

import aiohttp
import pytest

from monitor.config import XAccount
from monitor.poller import Poller, PollTarget
from monitor.runtime import Backoff
from monitor.simulator.x_api import MENTIONS, FakeXApi
from monitor.sources.webhooks import x_signature
from monitor.sources.x import build_x_sources
from monitor.store import nudges
from monitor.store.db import create_pool
from monitor.store.store import Store
from tests.integration.helpers import SHOP_TOML, engine_for
from tests.waiting import Longest, cli_env, eventually, free_port, in_thread, scrape_sum, serving, start_cli

CONSUMER_SECRET = "x-webhook-consumer-secret"
APP_SECRET = "meta-app-secret"


async def test_poll_now_notices_reach_every_listener_and_survive_a_broken_connection(
    store: Store, database_url: str
) -> None:
    received: list[tuple[int, list[str]]] = []
    listener = asyncio.create_task(
        nudges.listener(
            store.pool,
            lambda a, s: received.append((a, list(s))),
            check_every_seconds=0.5,
            backoff=Backoff(base_seconds=0.1, cap_seconds=30),
        ).run()
    )
    other = await create_pool(database_url, min_size=1, max_size=1)  # another process's pool
    try:

        async def listening() -> bool:
            return bool(
                await other.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                )
            )

        await eventually(listening, timeout=10, what="the listener")
        await nudges.publish(other, 7, ["x.mentions", "x.replies"])
        await other.execute("SELECT pg_notify($1, 'not json')", nudges.CHANNEL)  # not ours: ignored
        await other.execute("SELECT pg_notify($1, $2)", nudges.CHANNEL, '{"account": "7", "streams": []}')
        await eventually(lambda: received == [(7, ["x.mentions", "x.replies"])], timeout=10, what="the notice")

        # PostgreSQL drops the listening connection: the listener takes another one.
        terminated = await other.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
        assert terminated == 1

        async def delivered_again() -> bool:
            await nudges.publish(other, 8, ["facebook.messenger"])
            return (8, ["facebook.messenger"]) in received

        await eventually(delivered_again, timeout=20, interval=0.3, what="notices after the reconnection")
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await other.close()


async def test_a_storm_of_nudges_makes_one_poll_a_second_and_a_failure_keeps_its_backoff(store: Store) -> None:
    api = FakeXApi()
    base = await api.start()
    api.add_user("1001", "shop")
    api.add_bearer_token("tok")
    engine = await engine_for(store, ["shop-1"])
    [account_id] = engine.accounts
    account = XAccount(name="shop-1", channel="x", user_id="1001", bearer_token_env="X_TOKEN", api_base_url=base)
    async with aiohttp.ClientSession() as session:
        [mentions, _] = build_x_sources(account, session, environ={"X_TOKEN": "tok"})
        poller = Poller(
            engine,
            [PollTarget(account_id, "shop-1", "brand", "x", mentions, 3600.0)],
            first_poll_spread=0.0,
            backoff=Backoff(base_seconds=2.0, rng=Longest()),
        )

        def polls() -> list[float]:
            return [r.at for r in api.requests_to(MENTIONS)]

        await poller.start()
        try:
            await eventually(lambda: len(polls()) == 1, timeout=10, what="the first poll")
            # Twenty deliveries in half a second: one poll for the first, one more for the rest.
            for _ in range(20):
                assert poller.nudge(account_id, ["x.mentions", "x.dm"]) == 1  # no DM stream here
                await asyncio.sleep(0.025)
            await eventually(lambda: len(polls()) == 3, timeout=10, what="the nudged polls")
            times = polls()
            # A second apart, from the poll's start to the next one's (the first also opened its
            # stream and its connection before its request reached the API): not 25 ms apart.
            assert all(b - a >= 0.5 for a, b in itertools.pairwise(times)), times
            # The API fails: the stream backs off, and a nudge does not cut the backoff short.
            api.inject("http_500", user_id="1001", times=1)
            poller.nudge(account_id, ["x.mentions"])
            await eventually(
                lambda: poller.health[("shop-1", "x.mentions")].status == "failing", timeout=10, what="the failed poll"
            )
            failed = len(polls())
            poller.nudge(account_id, ["x.mentions"])
            await eventually(lambda: len(polls()) > failed, timeout=30, what="the retry after the backoff")
            assert polls()[failed] - polls()[failed - 1] >= 1.9  # the backoff after one failure: 2 s
            assert poller.nudge(account_id + 1, ["x.mentions"]) == 0  # not polled here
        finally:
            await poller.stop()
    await api.stop()


CONFIG = (
    """
[server]
listen = "127.0.0.1:{port}"
snapshot_interval = "1s"
lease_time = "4s"

[server.webhooks]
x_consumer_secret_env = "X_WEBHOOK_SECRET"
facebook_app_secret_env = "FB_APP_SECRET"
facebook_verify_token_env = "FB_VERIFY_TOKEN"

"""
    + SHOP_TOML
)

ACCOUNT = """
[[brands.accounts]]
name = "shop-{n}"
channel = "x"
user_id = "{user}"
handle = "shop{n}"
bearer_token_env = "X_TOKEN"
api_base_url = "{api}"
poll_interval = "60s"
"""

USERS = {"shop-1": "1001", "shop-2": "1002"}


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def held(port: int) -> set[str]:
    """The accounts a process exports (those it holds)."""
    _, text = http("GET", f"http://127.0.0.1:{port}/metrics")
    lines = [line for line in text.decode().splitlines() if line.startswith("social_inbox_account_info{")]
    return {a for a in USERS if any(f'account="{a}"' in line for line in lines)}


def signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(CONSUMER_SECRET.encode(), body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode(),
    }


@pytest.mark.slow
async def test_a_delivery_to_one_process_makes_the_holder_poll_now(tmp_path: Path, database_url: str) -> None:
    api = FakeXApi()
    base = await api.start()
    for name, user in USERS.items():
        api.add_user(user, name.replace("-", ""))
    api.add_user("7001", "customer")
    tokens = {"p1": "token-p1", "p2": "token-p2"}
    for token in tokens.values():
        api.add_bearer_token(token)
    accounts = "".join(ACCOUNT.format(n=n + 1, user=u, api=base) for n, u in enumerate(USERS.values()))
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for name, token in tokens.items():
            port = free_port()
            (tmp_path / f"{name}.toml").write_text(CONFIG.format(port=port, accounts=accounts))
            env = cli_env(
                INBOX_MONITOR_DATABASE_URL=database_url,
                X_TOKEN=token,
                X_WEBHOOK_SECRET=CONSUMER_SECRET,
                FB_APP_SECRET=APP_SECRET,
                INBOX_MONITOR_CONFIG=str(tmp_path / f"{name}.toml"),
            )
            procs[name] = (start_cli("run", env=env, log=tmp_path / f"{name}.log"), port)
        (_, p1), (_, p2) = procs["p1"], procs["p2"]
        for proc, port in procs.values():
            await eventually(in_thread(serving(proc, port)), timeout=60, interval=0.2, what="the process ready")

        # One account each, each polled once by its holder (then not for a minute: an hour would only
        # delay the first poll, spread over a tenth of the interval, up to 10 s).
        def split() -> tuple[str, str] | None:
            mine, theirs = held(p1), held(p2)
            if len(mine) == 1 and len(theirs) == 1 and mine != theirs:
                return next(iter(mine)), next(iter(theirs))
            return None

        pair = await eventually(split, timeout=60, interval=0.5, what="the two accounts split")
        assert isinstance(pair, tuple)  # what split() gave; eventually() types it as an object
        _, target = pair
        user = USERS[target]

        def polled_by_holder() -> list[float]:
            return [
                r.at
                for r in api.requests
                if r.user_id == user and r.credential == tokens["p2"] and r.endpoint.endswith("/mentions")
            ]

        await eventually(polled_by_holder, timeout=30, what="the holder's first poll")
        await eventually(lambda: held(p2) == {target}, timeout=10, what="p2 still holding the account")

        # The URL check, on any process.
        status, answer = http("GET", f"http://127.0.0.1:{p1}/webhooks/x?crc_token=abc")
        assert status == 200
        expected = base64.b64encode(hmac.new(CONSUMER_SECRET.encode(), b"abc", hashlib.sha256).digest()).decode()
        assert json.loads(answer) == {"response_token": f"sha256={expected}"}

        # A customer asks; X delivers the mention to p1's URL; p2 polls at once, not in a minute.
        api.add_tweet("7001", f"@shop{target[-1]} where is my parcel, can you check?", time.time(), mentions=[user])
        delivery = json.dumps({"for_user_id": user, "tweet_create_events": [{"id_str": "1", "text": "…"}]}).encode()
        before = len(polled_by_holder())
        sent = time.time()
        status, answer = http("POST", f"http://127.0.0.1:{p1}/webhooks/x", delivery, signed(delivery))
        assert (status, json.loads(answer)) == (200, {"status": "ok", "accounts": 1})
        # (The next poll was due in a minute: any poll within the deadline is the delivery's.)
        await eventually(lambda: len(polled_by_holder()) > before, timeout=10, what="the holder polling now")
        print(f"delivery → holder's poll: {min(t for t in polled_by_holder() if t >= sent) - sent:.2f} s")
        await eventually(
            lambda: scrape_sum(p2, "social_inbox_waits_opened_total", account=target) == 1,
            timeout=10,
            what="the question counted by the holder",
        )
        assert scrape_sum(p1, "social_inbox_webhook_deliveries_total", channel="x", result="ok") == 1

        # Refused: a wrong signature, a body that is not X's; an unknown user is answered 200.
        status, answer = http(
            "POST",
            f"http://127.0.0.1:{p2}/webhooks/x",
            delivery,
            {"x-twitter-webhooks-signature": "sha256=AAAA", "Content-Type": "application/json"},
        )
        assert status == 403 and "does not match" in json.loads(answer)["error"]
        bad = b'{"tweet_create_events": []}'
        status, answer = http("POST", f"http://127.0.0.1:{p2}/webhooks/x", bad, signed(bad))
        assert status == 400 and json.loads(answer)["error"] == "for_user_id: expected a numeric id, got None"
        unknown = json.dumps({"for_user_id": "999", "tweet_create_events": [{}]}).encode()
        status, answer = http("POST", f"http://127.0.0.1:{p2}/webhooks/x", unknown, signed(unknown))
        assert (status, json.loads(answer)) == (200, {"status": "unknown_account", "accounts": 0})
        for result in ("bad_signature", "bad_request", "unknown_account"):
            assert scrape_sum(p2, "social_inbox_webhook_deliveries_total", channel="x", result=result) == 1, result
        # Meta: deliveries are checked with the app secret; a Page nobody monitors is answered 200
        # (Meta would retry anything else); without a verify token the URL check says what is missing.
        page = json.dumps({"object": "page", "entry": [{"id": "555", "messaging": [{}]}]}).encode()
        meta = "sha256=" + hmac.new(APP_SECRET.encode(), page, hashlib.sha256).hexdigest()
        status, answer = http(
            "POST",
            f"http://127.0.0.1:{p1}/webhooks/facebook",
            page,
            {"X-Hub-Signature-256": meta, "Content-Type": "application/json"},
        )
        assert (status, json.loads(answer)) == (200, {"status": "unknown_account", "accounts": 0})
        status, answer = http(
            "POST",
            f"http://127.0.0.1:{p1}/webhooks/facebook",
            page + b" ",
            {"X-Hub-Signature-256": meta, "Content-Type": "application/json"},
        )
        assert status == 403
        status, answer = http("GET", f"http://127.0.0.1:{p1}/webhooks/facebook?hub.mode=subscribe")
        assert status == 404 and "facebook_verify_token_env" in json.loads(answer)["error"]
        assert scrape_sum(p1, "social_inbox_webhook_deliveries_total", channel="facebook") == 3
        for proc, _ in procs.values():
            proc.send_signal(signal.SIGTERM)
        logs = ""
        for name, (proc, _) in procs.items():
            assert proc.wait(timeout=30) == 0
            logs += (tmp_path / f"{name}.log").read_text()
        assert CONSUMER_SECRET not in logs and APP_SECRET not in logs and "where is my parcel" not in logs
        assert "webhook delivery refused" in logs
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        await api.stop()


DEMO_ACCOUNTS = """
[[brands.accounts]]
name = "shop-x"
channel = "x"
user_id = "1001"
source = "demo"
poll_interval = "1h"

[[brands.accounts]]
name = "shop-fb"
channel = "facebook"
page_id = "555"
source = "demo"
poll_interval = "1h"
"""
VERIFY_TOKEN = "meta-verify-token"


def start_hooked(tmp_path: Path, database_url: str) -> tuple[subprocess.Popen[bytes], int]:
    """`inbox-monitor run` with both webhook endpoints on, its demo accounts X user 1001 and Page 555."""
    port = free_port()
    (tmp_path / "config.toml").write_text(CONFIG.format(port=port, accounts=DEMO_ACCOUNTS))
    env = cli_env(
        INBOX_MONITOR_DATABASE_URL=database_url,
        X_WEBHOOK_SECRET=CONSUMER_SECRET,
        FB_APP_SECRET=APP_SECRET,
        FB_VERIFY_TOKEN=VERIFY_TOKEN,
        INBOX_MONITOR_CONFIG=str(tmp_path / "config.toml"),
    )
    return start_cli("run", env=env, log=tmp_path / "run.log"), port


def send(
    port: int,
    method: str,
    path: str,
    body: bytes | Iterator[bytes] | None = None,
    headers: Mapping[str, str | bytes] | None = None,
) -> int:
    """One raw request (header values may be bytes, the body chunked); the status answered."""
    conn = HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        chunked = body is not None and not isinstance(body, bytes)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if isinstance(body, bytes):
            conn.putheader("Content-Length", str(len(body)))
        elif chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        try:
            if isinstance(body, bytes):
                conn.send(body)
            elif body is not None:
                for chunk in body:
                    conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):  # answered before the whole body was read
            pass
        return conn.getresponse().status
    finally:
        conn.close()


def x_signed(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "x-twitter-webhooks-signature": x_signature(CONSUMER_SECRET, body)}


def meta_signed(body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest(),
    }


def webhook_counts(port: int, channel: str) -> float:
    return scrape_sum(port, "social_inbox_webhook_deliveries_total", channel=channel)


async def test_hostile_requests_are_refused_with_a_4xx_and_counted_never_a_500(
    tmp_path: Path, database_url: str
) -> None:
    delivery = json.dumps({"for_user_id": "1001", "tweet_create_events": [{"id_str": "1"}]}).encode()
    huge = b'{"for_user_id": "1001", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    nested = b"[" * 50_000 + b"]" * 50_000
    page = json.dumps({"object": "page", "entry": [{"id": "555", "messaging": [{}]}]}).encode()
    json_type = {"Content-Type": "application/json"}
    hostile: dict[str, list[tuple[int, str, str, bytes | Iterator[bytes] | None, Mapping[str, str | bytes]]]] = {
        "x": [
            (400, "GET", "/webhooks/x", None, {}),
            # The signing oracle: the CRC answer for a delivery's body would be its valid signature.
            (400, "GET", "/webhooks/x?" + urllib.parse.urlencode({"crc_token": delivery}), None, {}),
            (400, "GET", "/webhooks/x?crc_token=" + "a" * 129, None, {}),
            (400, "GET", "/webhooks/x?crc_token=%FF%FE", None, {}),
            (403, "POST", "/webhooks/x", delivery, json_type),
            (403, "POST", "/webhooks/x", delivery, {**json_type, "x-twitter-webhooks-signature": b"sha256=\xff\xfe"}),
            (
                403,
                "POST",
                "/webhooks/x",
                delivery,
                {**json_type, "x-twitter-webhooks-signature": "sha256=" + "A" * 8000},
            ),
            (415, "POST", "/webhooks/x", delivery, {**x_signed(delivery), "Content-Type": "text/plain"}),
            (
                415,
                "POST",
                "/webhooks/x",
                delivery,
                {"x-twitter-webhooks-signature": x_signed(delivery)["x-twitter-webhooks-signature"]},
            ),
            (413, "POST", "/webhooks/x", huge, x_signed(huge)),
            (
                413,
                "POST",
                "/webhooks/x",
                iter([huge[i : i + 65536] for i in range(0, len(huge), 65536)]),
                x_signed(huge),
            ),
            (400, "POST", "/webhooks/x", nested, x_signed(nested)),
            (400, "POST", "/webhooks/x", b"[1]", x_signed(b"[1]")),
            (400, "POST", "/webhooks/x", b"\xff\xfe{}", x_signed(b"\xff\xfe{}")),
            (400, "POST", "/webhooks/x", b'{"for_user_id": 1e999}', x_signed(b'{"for_user_id": 1e999}')),
            (405, "PUT", "/webhooks/x", delivery, x_signed(delivery)),
            (405, "DELETE", "/webhooks/x", None, {}),
        ],
        "facebook": [
            (400, "GET", "/webhooks/facebook", None, {}),
            (403, "GET", "/webhooks/facebook?hub.mode=subscribe&hub.challenge=1&hub.verify_token=%FF", None, {}),
            (
                400,
                "GET",
                f"/webhooks/facebook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=" + "1" * 129,
                None,
                {},
            ),
            (
                400,
                "GET",
                f"/webhooks/facebook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge="
                + urllib.parse.quote('{"a":1}'),
                None,
                {},
            ),
            (403, "POST", "/webhooks/facebook", page, json_type),
            (403, "POST", "/webhooks/facebook", page, {**json_type, "X-Hub-Signature-256": b"sha256=\xc3\x28"}),
            (
                415,
                "POST",
                "/webhooks/facebook",
                page,
                {**meta_signed(page), "Content-Type": "application/x-www-form-urlencoded"},
            ),
            (413, "POST", "/webhooks/facebook", huge, meta_signed(huge)),
            (400, "POST", "/webhooks/facebook", nested, meta_signed(nested)),
            (
                400,
                "POST",
                "/webhooks/facebook",
                b'{"object": "page", "entry": {}}',
                meta_signed(b'{"object": "page", "entry": {}}'),
            ),
            (405, "PATCH", "/webhooks/facebook", page, meta_signed(page)),
        ],
    }
    proc, port = start_hooked(tmp_path, database_url)
    try:
        await eventually(in_thread(serving(proc, port)), timeout=60, interval=0.2, what="the process ready")
        for channel, requests in hostile.items():
            before = webhook_counts(port, channel)
            answered = [
                (send(port, method, path, body, headers), path[:60]) for _, method, path, body, headers in requests
            ]
            assert [status for status, _ in answered] == [r[0] for r in requests], answered
            assert webhook_counts(port, channel) - before == len(requests)  # every one counted
        # Still serving, and what X and Meta do send still works.
        assert send(port, "GET", "/webhooks/x?crc_token=M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0") == 200
        assert send(port, "POST", "/webhooks/x", delivery, x_signed(delivery)) == 200
        assert (
            send(
                port,
                "GET",
                f"/webhooks/facebook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444",
            )
            == 200
        )
        assert send(port, "POST", "/webhooks/facebook", page, meta_signed(page)) == 200
        assert scrape_sum(port, "social_inbox_webhook_deliveries_total", result="ok") == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (tmp_path / "run.log").read_text()
    assert "Traceback" not in log and "level=error" not in log, log[-3000:]


async def test_old_replayed_and_too_frequent_deliveries_are_answered_200_and_not_acted_on(
    tmp_path: Path, database_url: str
) -> None:
    """Neither X nor Meta signs a delivery time; their bodies' event times are signed."""
    now = time.time()

    def mention(n: int, at: float) -> bytes:
        return json.dumps(
            {"for_user_id": "1001", "tweet_create_events": [{"id_str": str(n), "timestamp_ms": str(int(at * 1000))}]}
        ).encode()

    old_page = json.dumps(
        {"object": "page", "entry": [{"id": "555", "time": int(now - 2 * 3600), "changes": [{"field": "feed"}]}]}
    ).encode()
    proc, port = start_hooked(tmp_path, database_url)

    def post_x(body: bytes) -> tuple[int, object]:
        status, answer = http("POST", f"http://127.0.0.1:{port}/webhooks/x", body, x_signed(body))
        return status, json.loads(answer)

    try:
        await eventually(in_thread(serving(proc, port)), timeout=60, interval=0.2, what="the process ready")
        assert post_x(mention(1, now - 2 * 3600)) == (200, {"status": "stale", "accounts": 0})
        status, answer = http("POST", f"http://127.0.0.1:{port}/webhooks/facebook", old_page, meta_signed(old_page))
        assert (status, json.loads(answer)) == (200, {"status": "stale", "accounts": 0})
        fresh = mention(2, now)
        assert post_x(fresh) == (200, {"status": "ok", "accounts": 1})
        assert post_x(fresh) == (200, {"status": "replayed", "accounts": 0})  # a captured delivery, sent again
        # A burst: NUDGE_BURST deliveries act at once (one was spent above), the rest wait for the refill.
        answers = [post_x(mention(100 + n, time.time()))[1] for n in range(12)]
        assert [a["status"] for a in answers] == ["ok"] * 9 + ["rate_limited"] * 3, answers  # type: ignore[index]
        for result, count in (("stale", 1), ("ok", 10), ("replayed", 1), ("rate_limited", 3)):
            assert scrape_sum(port, "social_inbox_webhook_deliveries_total", channel="x", result=result) == count
        assert scrape_sum(port, "social_inbox_webhook_deliveries_total", channel="facebook", result="stale") == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "webhook delivery not acted on" in (tmp_path / "run.log").read_text()
