"""The real X sources (and the real poller, and `inbox-monitor run`) against a hostile X API: the
local fake's `misbehave` modes, on the wire. Every bound of docs/bounds.md ("X") has a test here
that fails when the bound is removed."""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from monitor.backfill import backfill
from monitor.config import XAccount
from monitor.engine import Engine
from monitor.poller import MORE_POLL_DELAY, Poller, PollTarget
from monitor.simulator.clock import SimClock
from monitor.simulator.traffic import generate, load_on_x
from monitor.simulator.x_api import DM_EVENTS, HUGE_ID, MENTIONS, FakeXApi, UserKeys
from monitor.sources.base import BadPayload, RateLimited
from monitor.sources.x import (
    MAX_BATCH_MESSAGES,
    MAX_PAGES,
    MAX_RESPONSE_BYTES,
    RATE_WAIT_MAX,
    RATE_WAIT_MIN,
    Cursor,
    RateBudgets,
    XSource,
    build_x_sources,
    is_id,
    x_sources,
)
from monitor.store.store import Store
from tests.integration.helpers import engine_for
from tests.waiting import cli_env, eventually, free_port, in_thread, scrape_sum, serving, start_cli

BEARER = "app-bearer-token"
BRAND = "100"
KEYS = UserKeys(BRAND, "consumer-key", "consumer-secret", "100-access", "access-secret")
ENV = {
    "X_BEARER": BEARER,
    "X_CK": KEYS.consumer_key,
    "X_CS": KEYS.consumer_secret,
    "X_AT": KEYS.access_token,
    "X_ATS": KEYS.access_token_secret,
}


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeXApi]:
    async with FakeXApi() as api:
        api.add_bearer_token(BEARER)
        api.add_user_keys(KEYS)
        yield api


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def streams(fake: FakeXApi, session: aiohttp.ClientSession, *, count: int = 250, dm: bool = False) -> list[XSource]:
    """The brand's X sources (mentions, replies and, with `dm`, DMs), after `count` customers'
    posts of the last hours: mentions, or DMs with `dm`."""
    now = datetime.now(UTC)
    load_on_x(
        fake,
        generate(
            seed=1,
            count=count,
            start=now - timedelta(hours=3),
            span=timedelta(hours=2),
            reply_delays=[None],
            private_share=1.0 if dm else 0.0,
        ),
        brand_id=BRAND,
        brand_handle="brand",
    )
    keys: dict[str, Any] = {
        "dm": True,
        "consumer_key_env": "X_CK",
        "consumer_secret_env": "X_CS",
        "access_token_env": "X_AT",
        "access_token_secret_env": "X_ATS",
    }
    account = XAccount(
        name="brand-x",
        channel="x",
        user_id=BRAND,
        handle="brand",
        bearer_token_env="X_BEARER",
        api_base_url=fake.base_url,
        **(keys if dm else {}),
    )
    return x_sources(account, session, environ=ENV)


def served(fake: FakeXApi, endpoint: str) -> list[str]:
    """Every item id the fake sent on `endpoint`, in order, repeats included."""
    return [i for r in fake.requests_to(endpoint) for i in r.ids]


# --------------------------------------------------------------------------------------------
# Pagination that never ends
# --------------------------------------------------------------------------------------------


async def test_a_repeated_token_is_not_followed_and_the_next_fetch_goes_on_below(
    fake_api: FakeXApi, session: aiohttp.ClientSession
) -> None:
    """Every page repeats the token it was asked with: each fetch stops at the repeat and leaves
    a gap that the next fetch resumes by until_id; every mention is read exactly once."""
    mentions = streams(fake_api, session, count=450)[0]
    fake_api.misbehave("repeat_token", endpoint=MENTIONS)
    cursor: str | None = None
    calls = []
    for _ in range(10):
        batch = await mentions.fetch(cursor)
        cursor = batch.cursor or cursor
        calls.append(batch.calls)
        if not batch.more:
            break
    assert not batch.more, "the chase never ended"
    ids = served(fake_api, MENTIONS)
    assert len(ids) == len(set(ids)) == 450  # every mention once, no page read twice
    assert max(calls) <= 4, calls  # two pages at most in each of a fetch's two reads
    assert cursor == max(ids, key=int)  # no gap left
    untils = [
        int(r.params["until_id"])
        for r in fake_api.requests_to(MENTIONS)
        if "until_id" in r.params and "pagination_token" not in r.params
    ]
    assert untils and untils == sorted(set(untils), reverse=True)  # each fetch goes on below


async def test_an_api_that_ignores_pagination_costs_a_request_or_two_a_poll(
    fake_api: FakeXApi, session: aiohttp.ClientSession
) -> None:
    """The newest page again and again, with a new next_token each time: the chain is cut at the
    first page that brings nothing older, tried once more by until_id, then polls cost one
    request each."""
    mentions = streams(fake_api, session)[0]
    fake_api.misbehave("endless_token", endpoint=MENTIONS)
    first = await mentions.fetch(None)
    assert first.calls == 2 and first.more  # the token led nowhere: try below by until_id
    second = await mentions.fetch(first.cursor)
    assert second.calls == 2 and not second.more
    newest = max(served(fake_api, MENTIONS), key=int)
    assert second.cursor == newest
    third = await mentions.fetch(second.cursor)
    assert third.calls == 1 and not third.more and third.cursor == newest
    assert len(fake_api.requests_to(MENTIONS)) == 5


@pytest.mark.parametrize("mode", ["repeat_token", "endless_token"])
async def test_dm_pagination_that_loops_ends_the_chain(
    fake_api: FakeXApi, session: aiohttp.ClientSession, mode: str
) -> None:
    """dm_events pages only by token: a repeated token, or one that leads to nothing older, ends
    the read (nothing else reaches further down); the next poll starts from the newest."""
    dms = streams(fake_api, session, dm=True)[2]
    fake_api.misbehave(mode, endpoint=DM_EVENTS)
    batch = await dms.fetch(None)
    assert batch.calls == 2 and not batch.more
    ids = served(fake_api, DM_EVENTS)
    assert batch.cursor == max(ids, key=int)
    again = await dms.fetch(batch.cursor)
    assert again.calls <= 2 and not again.more and again.cursor == batch.cursor
    assert len(fake_api.requests_to(DM_EVENTS)) <= 4


async def test_a_never_ending_chain_is_read_page_cap_by_page_cap_without_rereading(
    fake_api: FakeXApi, session: aiohttp.ClientSession
) -> None:
    """Older and older made-up mentions for ever: each fetch makes at most MAX_PAGES requests and
    holds at most MAX_BATCH_MESSAGES; the cursor's gap goes on below, no page is read twice."""
    mentions = streams(fake_api, session, count=50)[0]
    fake_api.misbehave("endless_history", endpoint=MENTIONS)
    cursor: str | None = None
    resumes = []
    for _ in range(4):
        batch = await mentions.fetch(cursor)
        assert batch.more and batch.calls == MAX_PAGES
        assert len(batch.messages) <= MAX_BATCH_MESSAGES
        cursor = batch.cursor
        state = Cursor.decode(cursor)
        assert state.gap and state.resume is not None and is_id(state.resume)
        resumes.append(int(state.resume))
    assert resumes == sorted(set(resumes), reverse=True)
    ids = served(fake_api, MENTIONS)
    assert len(ids) == len(set(ids)) == 4 * MAX_PAGES * 100


@pytest.mark.parametrize("mode", ["repeat_token", "endless_token"])
async def test_a_backfill_ends_when_the_pagination_loops(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession, mode: str
) -> None:
    """`inbox-monitor backfill` pages by token only: a repeated token, or a page with nothing
    older, ends the stream's history instead of reading it until the rate window runs out."""
    mentions = streams(fake_api, session, count=450)[0]
    fake_api.misbehave(mode, endpoint=MENTIONS)
    base = await engine_for(store, ["brand-x"])
    engine = Engine(store, base.accounts)
    result = await asyncio.wait_for(
        backfill(engine, next(iter(engine.accounts)), [mentions], datetime.now(UTC) - timedelta(days=7)), timeout=30
    )
    assert result.pages == len(fake_api.requests_to(MENTIONS)) == 2


# --------------------------------------------------------------------------------------------
# Rate-limit resets
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reset", ["99999999999", "1e400", "inf", "nan", "-1", "soon"])
async def test_a_lying_reset_never_parks_a_stream_beyond_one_window(
    fake_api: FakeXApi, session: aiohttp.ClientSession, reset: str
) -> None:
    """A budget of 1 request a window whose reset is far ahead, past, or not a number: polls ask
    to wait at most RATE_WAIT_MAX (plus the one-second margin), so do the 429s that follow."""
    mentions = streams(fake_api, session, count=50)[0]
    fake_api.limits[MENTIONS] = 1
    fake_api.misbehave("rate_reset", reset=reset)
    waits: list[float | None] = []
    for _ in range(3):
        try:
            waits.append((await mentions.fetch(None)).next_poll_after)
        except RateLimited as exc:  # the reset could not be read: the budget is not known
            waits.append(exc.retry_after)
    assert all(w is None or w <= RATE_WAIT_MAX + 1.0 for w in waits), waits
    assert len(fake_api.requests_to(MENTIONS)) >= 1
    window = mentions.window
    assert window.reset is None or window.reset <= time.time() + RATE_WAIT_MAX


@pytest.mark.parametrize(
    ("reset", "wait"),
    [
        ("99999999999", RATE_WAIT_MAX),
        (str(int(time.time()) - 3600), RATE_WAIT_MIN),  # already past
        ("-1", RATE_WAIT_MIN),
        ("inf", None),  # not a finite number: the poller backs off exponentially
        ("nan", None),
        ("in a while", None),
        ("1.5e3", RATE_WAIT_MIN),  # a number all the same (1970)
    ],
    ids=["far-future", "an-hour-ago", "negative", "inf", "nan", "text", "exponent"],
)  # xdist: ids without a clock
async def test_a_429_waits_between_the_bounds_whatever_its_reset(
    fake_api: FakeXApi, session: aiohttp.ClientSession, reset: str, wait: float | None
) -> None:
    mentions = streams(fake_api, session)[0]
    fake_api.misbehave("rate_limited", endpoint=MENTIONS, reset=reset)
    with pytest.raises(RateLimited, match=MENTIONS) as caught:
        await mentions.fetch(None)
    if wait is None:
        assert caught.value.retry_after is None
    else:
        assert caught.value.retry_after == pytest.approx(wait, abs=2.0)
    assert mentions.window.reset is None or mentions.window.reset <= time.time() + RATE_WAIT_MAX


# --------------------------------------------------------------------------------------------
# Ids of the cursor
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "index"), [(MENTIONS, 0), (DM_EVENTS, 2)])
async def test_a_30_digit_id_never_becomes_the_since_id(
    fake_api: FakeXApi, session: aiohttp.ClientSession, endpoint: str, index: int
) -> None:
    """The newest item of every page has a 30-digit id: the cursor keeps the newest X id, and the
    next poll's request is one the API accepts."""
    source = streams(fake_api, session, dm=index == 2)[index]
    fake_api.misbehave("huge_id", endpoint=endpoint)
    batch = await source.fetch(None)
    assert HUGE_ID in served(fake_api, endpoint)
    state = Cursor.decode(batch.cursor)
    assert state.newest is not None and is_id(state.newest) and not state.gap
    assert state.newest == max((i for i in served(fake_api, endpoint) if i != HUGE_ID), key=int)
    again = await source.fetch(batch.cursor)
    assert again.cursor == batch.cursor
    last = fake_api.requests_to(endpoint)[-1]
    assert last.status == 200 and HUGE_ID not in last.params.values()


@pytest.mark.parametrize(
    "stored",
    [
        HUGE_ID,  # what a source without the bound saved
        f"newest={HUGE_ID}&since=&resume=",
        "newest=1900000000000000000&since=&resume=" + "t" * 600,
        "newest=1900000000000000000&since=&resume=not-an-id",  # a timeline resumes by until_id
        "2026-06-01T00:00:00",
    ],
)
async def test_a_stored_bad_cursor_is_dropped_with_one_log_line(
    fake_api: FakeXApi, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, stored: str
) -> None:
    """The stream reads again from the newest items rather than failing for ever."""
    mentions = streams(fake_api, session)[0]
    caplog.set_level(logging.WARNING, logger="monitor.sources.x")
    batch = await mentions.fetch(stored)
    assert len(batch.messages) == 250
    assert batch.cursor == max(served(fake_api, MENTIONS), key=int)
    await mentions.fetch(stored)  # the poller still holds it when nothing new came: no new line
    dropped = [r for r in caplog.records if r.getMessage() == "stored cursor dropped"]
    assert len(dropped) == 1
    assert dropped[0].stream == "x.mentions"  # type: ignore[attr-defined]
    assert "not a cursor of an X" in dropped[0].error  # type: ignore[attr-defined]
    assert all(r.status == 200 for r in fake_api.requests_to(MENTIONS))


# --------------------------------------------------------------------------------------------
# Bytes and items
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("declare_length", [False, True])
async def test_a_huge_body_is_refused_without_being_read(
    fake_api: FakeXApi, session: aiohttp.ClientSession, declare_length: bool
) -> None:
    """64 MiB, chunked or with its Content-Length: a BadPayload naming the endpoint and the
    size; the client hangs up after MAX_RESPONSE_BYTES at most, and the session goes on."""
    mentions = streams(fake_api, session)[0]
    size = 64 << 20
    fake_api.misbehave("huge_body", endpoint=MENTIONS, size=size, declare_length=declare_length)
    with pytest.raises(BadPayload) as caught:
        await mentions.fetch(None)
    text = str(caught.value)
    assert text.startswith(MENTIONS + ": the response body") and str(MAX_RESPONSE_BYTES) in text
    assert (str(size) in text) == declare_length
    [record] = fake_api.requests_to(MENTIONS)
    await eventually(lambda: record.body_done, timeout=10, what="the fake's answer to end")
    assert record.body_bytes < MAX_RESPONSE_BYTES + (8 << 20), record.body_bytes  # + buffers
    fake_api.behave()
    assert len((await mentions.fetch(None)).messages) == 250


async def test_a_page_larger_than_asked_is_refused(fake_api: FakeXApi, session: aiohttp.ClientSession) -> None:
    """max_results ignored, 2,500 mentions on one page: more than a fetch may hold."""
    fake_api.timeline_cap[MENTIONS] = 3200
    mentions = streams(fake_api, session, count=2500)[0]
    fake_api.misbehave("oversized_page", endpoint=MENTIONS)
    with pytest.raises(BadPayload, match=f"^{MENTIONS}: 2500 items on one page, more than the max_results=100 asked"):
        await mentions.fetch(None)
    assert MAX_BATCH_MESSAGES < 2500


# --------------------------------------------------------------------------------------------
# The real poller: a stream that always has more, a reset far away
# --------------------------------------------------------------------------------------------

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


async def poller_for(
    store: Store,
    fake: FakeXApi,
    session: aiohttp.ClientSession,
    users: dict[str, str],
    *,
    clock: SimClock | None = None,
    interval: float = 60.0,
) -> Poller:
    """The real Poller and Engine (on the simulated clock, or the real one) polling the mentions
    of `users` (account name -> X user id), all on the app's one bearer token."""
    base = await engine_for(store, list(users))
    engine = Engine(store, base.accounts, clock.now) if clock else Engine(store, base.accounts)
    ids = {ctx.name: i for i, ctx in engine.accounts.items()}
    budgets = RateBudgets()
    targets = []
    for name, user_id in users.items():
        fake.add_user(user_id, name)
        account = XAccount(
            name=name,
            channel="x",
            user_id=user_id,
            handle=name,
            bearer_token_env="X_BEARER",
            api_base_url=fake.base_url,
        )
        [mentions, _] = build_x_sources(
            account, session, environ=ENV, budgets=budgets, clock=clock.time if clock is not None else time.time
        )
        targets.append(PollTarget(ids[name], name, "brand", "x", mentions, interval))
    if clock is None:
        return Poller(engine, targets)
    return Poller(engine, targets, clock=clock.now, timer=clock)


def lags(fake: FakeXApi, user_id: str, posted: dict[int, float]) -> dict[int, float]:
    """Seconds from each posted mention of `user_id` to the first answer that served it."""
    first: dict[int, float] = {}
    for r in fake.requests_to(MENTIONS, user_id):
        for i in r.ids:
            first.setdefault(int(i), r.at)
    return {i: first[i] - at for i, at in posted.items() if i in first}


async def test_a_stream_that_always_has_more_leaves_the_other_accounts_their_share(
    store: Store, session: aiohttp.ClientSession
) -> None:
    """Two accounts on one app token, 40 mentions requests per 16-second window between them, one
    API's chain never ends. That stream sends at most its share (20) a window, its fetches start
    MORE_POLL_DELAY apart at least; the healthy account, polled every second, reads each new
    mention within 5 s (not after the window's reset, 16 s), and no request meets a 429. (On a
    clock twice as fast as the real one: the 32 simulated seconds take 16.)"""
    clock = SimClock(datetime.now(UTC), speed=2)
    api = FakeXApi(window_seconds=16, limits={MENTIONS: 40}, clock=clock.time)
    await api.start()
    api.add_bearer_token(BEARER)
    # Made up by the account itself: posts the source skips (nothing to store, fetches are quick).
    api.misbehave("endless_history", endpoint=MENTIONS, user_id="201", author="201")
    try:
        poller = await poller_for(store, api, session, {"healthy": "200", "endless": "201"}, clock=clock, interval=1.0)
        api.add_user("7000", "customer")
        start = clock.time()
        posted = {
            api.add_tweet("7000", f"@healthy parcel {k} lost", start + k / 2, mentions=["200"]): start + k / 2
            for k in range(60)
        }
        await poller.start()
        try:
            await eventually(lambda: clock.time() > start + 30, timeout=20, interval=0.1, what="two rate windows")
        finally:
            await poller.stop()
        end = clock.time()
    finally:
        await api.stop()
    windows: list[list[str | None]] = []  # who sent each request, window by window (as the fake)
    opened = -1.0
    for r in api.requests_to(MENTIONS):
        if r.at >= opened + 16:
            opened = r.at
            windows.append([])
        windows[-1].append(r.user_id)
    assert all(w.count("201") <= 20 for w in windows), [w.count("201") for w in windows]
    endless = api.requests_to(MENTIONS, "201")
    starts = [r.at for r in endless if "pagination_token" not in r.params]  # one per fetch
    assert all(b - a >= MORE_POLL_DELAY - 0.1 for a, b in itertools.pairwise(starts))
    assert [r for r in api.requests if r.status == 429] == []
    waited = lags(api, "200", {i: at for i, at in posted.items() if at <= end - 5})
    assert len(waited) == len([at for at in posted.values() if at <= end - 5])
    assert max(waited.values()) <= 5.0, sorted(waited.values())


async def test_a_stream_told_to_wait_for_ever_polls_again_within_a_window(
    store: Store, fake_api: FakeXApi, session: aiohttp.ClientSession
) -> None:
    """Every answer a 429 with `x-rate-limit-reset: 99999999999`: the stream asks again after
    RATE_WAIT_MAX, not in 3,000 years."""
    clock = SimClock(T0, speed=400)
    fake_api.clock = clock.time
    fake_api.misbehave("rate_limited", endpoint=MENTIONS, reset="99999999999")
    poller = await poller_for(store, fake_api, session, {"told": "200"}, clock=clock)
    await poller.start()
    try:
        await eventually(lambda: len(fake_api.requests_to(MENTIONS)) >= 3, timeout=30, what="three polls")
    finally:
        await poller.stop()
    at = [r.at for r in fake_api.requests_to(MENTIONS)]
    # Four minutes of slack: each real millisecond of the loop is 0.4 simulated seconds, and the
    # suite's load can hold a worker's loop for a few hundred milliseconds.
    assert all(RATE_WAIT_MAX - 5 <= b - a <= RATE_WAIT_MAX + 240 for a, b in itertools.pairwise(at)), at
    assert poller.health[("told", "x.mentions")].status == "rate_limited"


# --------------------------------------------------------------------------------------------
# `inbox-monitor run`: hostile accounts next to a healthy one
# --------------------------------------------------------------------------------------------

HOSTILE = {
    "looping": ("201", "endless_token"),
    "repeating": ("202", "repeat_token"),
    "endless": ("203", "endless_history"),
    "bloated": ("204", "huge_body"),
}
"""Account -> (X user id, how the API answers its mentions)."""
HEALTHY = ("healthy", "200")
RUN = 10.0
"""Seconds the process is watched."""
MEMORY_MB = 250


def run_config(port: int, api: str) -> str:
    accounts = [HEALTHY, *((name, uid) for name, (uid, _) in HOSTILE.items())]
    return f"""
[server]
listen = "127.0.0.1:{port}"
snapshot_interval = "1s"

[policies.default]
public = {{ first = "30m", next = "1h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false

[[brands]]
name = "hostile"
""" + "".join(
        f"""
[[brands.accounts]]
name = "{name}"
channel = "x"
user_id = "{uid}"
handle = "{name}"
bearer_token_env = "X_BEARER"
api_base_url = "{api}"
poll_interval = "1s"
"""
        for name, uid in accounts
    )


def peak_memory_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


@pytest.mark.slow
async def test_hostile_accounts_neither_flood_the_api_nor_silence_a_healthy_one(
    tmp_path: Path, database_url: str
) -> None:
    """One process, five accounts on one app token: one API ignores pagination, one repeats its
    tokens, one has a never-ending history, one answers 256 MiB bodies. Each hostile stream keeps
    to its request rate, the process stays under 250 MB, and the healthy account's new mentions
    are stored within 5 s."""
    api = FakeXApi(limits={MENTIONS: 10**5})  # the budget does not bind: the bounds do
    base = await api.start()
    api.add_bearer_token(BEARER)
    api.add_user("7000", "customer")
    now = time.time()
    for name, (uid, mode) in HOSTILE.items():
        api.add_user(uid, name)
        for k in range(150):
            api.add_tweet("7000", f"@{name} order {k} is late", now - 3600 + 10 * k, mentions=[uid])
        api.misbehave(mode, endpoint=MENTIONS, user_id=uid, size=256 << 20)
    api.add_user(HEALTHY[1], HEALTHY[0])
    port = free_port()
    (tmp_path / "hostile.toml").write_text(run_config(port, base))
    env = cli_env(
        INBOX_MONITOR_DATABASE_URL=database_url, X_BEARER=BEARER, INBOX_MONITOR_CONFIG=str(tmp_path / "hostile.toml")
    )
    proc = start_cli("run", env=env, log=tmp_path / "run.log")
    try:
        await eventually(in_thread(serving(proc, port)), timeout=60, what="the process ready")
        await eventually(
            lambda: api.requests_to(MENTIONS, HEALTHY[1]), timeout=60, what="the healthy account's first poll"
        )
        start = time.time()
        posted = {
            api.add_tweet("7000", f"@healthy parcel {k} lost", start + k / 2, mentions=[HEALTHY[1]]): start + k / 2
            for k in range(int(RUN * 2))
        }
        await eventually(
            lambda: time.time() > start + RUN, timeout=RUN + 5, interval=0.2, what=f"{RUN:.0f} s of polling"
        )
        end = time.time()
        memory = peak_memory_mb(proc.pid)
        stored = await stored_ids(database_url, HEALTHY[0])
        calls = {
            name: len([r for r in api.requests_to(MENTIONS, uid) if start <= r.at <= end])
            for name, (uid, _) in HOSTILE.items()
        }
        bad_bodies = scrape_sum(port, "social_inbox_poll_total", account="bloated", result="bad_payload")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            await api.stop()
    polls = RUN / 1.0 + 1  # 1 s poll interval
    assert calls["looping"] <= 4 * polls and calls["repeating"] <= 4 * polls, calls
    assert calls["endless"] <= MAX_PAGES * (RUN / MORE_POLL_DELAY + 1), calls
    assert calls["bloated"] <= polls and bad_bodies >= 1, (calls, bad_bodies)
    assert memory < MEMORY_MB, f"peak resident memory {memory:.0f} MB"
    late = {str(i) for i, at in posted.items() if at <= end - 5} - stored
    assert not late, f"{len(late)} of the healthy account's mentions not stored within 5 s"


async def stored_ids(database_url: str, account: str) -> set[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT m.external_id FROM messages m JOIN accounts a ON a.id = m.account_id WHERE a.name = $1", account
        )
    finally:
        await conn.close()
    return {r["external_id"] for r in rows}
