"""A hostile Graph API never silences monitoring: the Facebook sources against the fake Graph API's
hostile answers (paging that repeats a cursor or never ends, huge and deeply nested bodies, absurd
regain times, a conversation dated 2999), each bound checked where it acts (docs/bounds.md).

The sources run against the fake over HTTP with a clock the test moves; the end-to-end test runs
`inbox-monitor run` on hostile Pages and a healthy one, and watches its memory and its calls.
"""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from monitor.config import FacebookAccount
from monitor.simulator.graph_api import FakeGraphApi, Person, RecordedRequest
from monitor.sources.base import BadPayload, Batch, RateLimited
from monitor.sources.facebook import FacebookOptions, build_facebook_sources
from monitor.sources.graph import bounds
from tests.integration.helpers import SHOP_TOML
from tests.waiting import cli_env, eventually, free_port, start_cli, stop_cli

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PAGE = "2001"
TOKEN = "token-hostile"
ENV = {"FB_TOKEN": TOKEN}
CUSTOMER = Person("777001", "Cliente")
DEADLINE = 30.0
"""Real seconds one fetch may take here: paging without a bound never returns."""


class Clock:
    """The sources' and the fake's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Rig:
    api: FakeGraphApi
    clock: Clock
    messenger: Any
    comments: Any

    def requests(self, edge: str | None = None, since: int = 0) -> list[RecordedRequest]:
        return [r for r in self.api.requests[since:] if edge is None or r.edge == edge]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = Clock(START)
    async with FakeGraphApi(clock=clock) as api, aiohttp.ClientSession() as session:
        api.add_page(PAGE, token=TOKEN, name="Hostile")
        account = FacebookAccount(
            name="hostile",
            channel="facebook",
            page_id=PAGE,
            page_token_env="FB_TOKEN",
            api_base_url=api.url,
            poll_interval=timedelta(seconds=60),
        )
        options = FacebookOptions(backfill=timedelta(days=1), page_limit=5, messages_limit=2, timeout=10.0)
        messenger, comments = build_facebook_sources(account, session, options=options, clock=clock, environ=ENV)
        yield Rig(api, clock, messenger, comments)


async def fetch(source: Any, cursor: str | None) -> Batch:
    batch: Batch = await asyncio.wait_for(source.fetch(cursor), DEADLINE)
    return batch


def ago(minutes: float) -> datetime:
    return START - timedelta(minutes=minutes)


def conversations(api: FakeGraphApi, n: int, messages: int = 3) -> list[str]:
    """`n` conversations of `messages` questions each, the last one `n` minutes ago at most."""
    ids = []
    for i in range(n):
        conv = api.add_conversation(PAGE, Person(f"77{i:04d}", f"Client {i}"))
        for j in range(messages):
            api.add_message(conv, ago(i + 1) + timedelta(seconds=j), f"Question {i}.{j} ?")
        ids.append(conv)
    return ids


def post_with_comments(api: FakeGraphApi, n: int) -> str:
    post = api.add_post(PAGE, ago(120), "Nouvelle collection")
    for i in range(n):
        api.add_comment(
            post,
            ago(60) + timedelta(seconds=2 * i),
            f"Vous livrez en Belgique ? ({i})",
            author=Person(f"88{i:04d}", f"Client {i}"),
        )
    return post


def posts(api: FakeGraphApi, n: int) -> list[str]:
    return [api.add_post(PAGE, ago(100 + i), f"Post {i}") for i in range(n)]


def stream_of(edge: str) -> str:
    return "messenger" if edge in ("conversations", "messages") else "comments"


async def later_questions(r: Rig, stream: str) -> set[str]:
    """Real questions that appear a minute after the hostile answers began, in every list the
    stream reads (a conversation; a visitor post and a comment on the newest Page post): the ids
    it must read."""
    r.clock.advance(60)
    asked = r.clock() - timedelta(seconds=10)
    if stream == "messenger":
        conv = r.api.add_conversation(PAGE, CUSTOMER)
        return {r.api.add_message(conv, asked, "Bonjour, ma commande ?")}
    post = max(r.api.pages[PAGE].posts, key=lambda p: p.created).id
    return {
        r.api.add_post(PAGE, asked, "Où est ma commande ?", author=CUSTOMER),
        r.api.add_comment(post, asked, "Et la livraison ?", author=CUSTOMER),
    }


def hostile_page(r: Rig) -> str:
    """Every list of the Page takes more than one page at `page_limit` 5, `messages_limit` 2;
    the id of the post with comments."""
    conversations(r.api, 12)
    posts(r.api, 12)
    return post_with_comments(r.api, 12)


def is_sweep(q: RecordedRequest) -> bool:
    return q.edge == "feed" and "updated_time" in q.params.get("fields", "")


# -- paging ------------------------------------------------------------------------------------


@pytest.mark.parametrize("edge", ["conversations", "messages", "feed", "comments"])
async def test_a_repeated_cursor_ends_the_list_and_later_questions_are_read(rig: Rig, edge: str) -> None:
    """The Graph API answers the same `after` cursor again and again: the list stops at the
    second page (the cursor seen before), the poll ends, and a later question is read."""
    r = rig
    commented = hostile_page(r)
    r.api.misbehave("repeat_cursor", page_id=PAGE, edge=edge)
    source = getattr(r, stream_of(edge))
    batch = await fetch(source, None)
    assert not batch.more and (batch.messages or edge == "feed")  # feed: 5 of the Page's own posts
    calls = r.requests(edge)
    if edge == "messages":  # each conversation's paging: one call (its answer repeats the cursor)
        per_conversation = [sum(1 for q in calls if q.node == c) for c in {q.node for q in calls}]
        assert len(per_conversation) == 12 and max(per_conversation) == 1, per_conversation
    elif edge == "comments":  # the post with comments: the first page, then the repeat
        assert len([q for q in calls if q.node == commented]) == 2
    elif edge == "feed":  # new posts, then the first sweep: each the first page and the repeat
        assert len([q for q in calls if not is_sweep(q)]) == 2 and len([q for q in calls if is_sweep(q)]) == 2
    else:
        assert len(calls) == 2, [q.params.get("after") for q in calls]

    questions = await later_questions(r, stream_of(edge))
    again = await fetch(source, batch.cursor)
    assert questions <= {m.external_id for m in again.messages}


async def run_polls(
    r: Rig, source: Any, *, minutes: float, cursor: str | None = None, interval: float = 10.0
) -> list[tuple[Batch, list[RecordedRequest]]]:
    """Poll as the poller does for `minutes` of the clock: again at once when `more`, else after
    the interval or the wait asked for. Each poll with the calls it made."""
    polls: list[tuple[Batch, list[RecordedRequest]]] = []
    end = r.clock() + timedelta(minutes=minutes)
    while r.clock() < end:
        mark = len(r.api.requests)
        batch = await fetch(source, cursor)
        polls.append((batch, r.api.requests[mark:]))
        cursor = batch.cursor or cursor
        if not batch.more:
            r.clock.advance(max(interval, batch.next_poll_after or 0.0))
    return polls


def most_in_a_minute(times: list[datetime]) -> int:
    return max((sum(1 for u in times if t <= u < t + timedelta(seconds=60)) for t in times), default=0)


def list_of(q: RecordedRequest) -> tuple[str | None, str | None, bool]:
    """Which list a request pages (the sweep reads the feed as a list of its own)."""
    return q.node, q.edge, is_sweep(q)


def longest_pass(calls: list[RecordedRequest]) -> int:
    """The most pages of one list read one after the other by cursor (a request without a
    cursor starts the list over)."""
    runs: dict[tuple[str | None, str | None, bool], int] = {}
    longest = 0
    for q in calls:
        key = list_of(q)
        runs[key] = runs.get(key, 0) + 1 if "after" in q.params else 1
        longest = max(longest, runs[key])
    return longest


@pytest.mark.parametrize("edge", ["conversations", "messages", "feed", "comments"])
async def test_endless_paging_is_cut_at_a_bounded_rate_and_later_questions_are_read(rig: Rig, edge: str) -> None:
    """Every answer has a new `after` cursor and a `next` URL, for ever: each poll ends after a
    bounded number of calls, a stream makes at most `MAX_CALLS_PER_MINUTE` calls a minute, one
    list is paged at most `MAX_PAGES_PER_PASS` pages in a row (then read from the top again), and
    a later question is read."""
    r = rig
    hostile_page(r)
    r.api.misbehave("endless_cursor", page_id=PAGE, edge=edge)
    source = getattr(r, stream_of(edge))
    questions = await later_questions(r, stream_of(edge))
    polls = await run_polls(r, source, minutes=4)
    calls = r.requests()
    assert max(len(made) for _, made in polls) <= bounds.MAX_CALLS_PER_FETCH + bounds.MAX_MESSAGE_PAGES
    assert most_in_a_minute([q.at for q in calls]) <= bounds.MAX_CALLS_PER_MINUTE
    assert [q for q in calls if q.at >= r.clock() - timedelta(minutes=1)]  # still polling
    per_poll = bounds.MAX_MESSAGE_PAGES if edge == "messages" else bounds.MAX_PAGES_PER_POLL
    for _, made in polls:  # pages of one list in one poll
        lists = [list_of(q) for q in made]
        assert max((lists.count(k) for k in lists), default=0) <= per_poll
    if edge != "messages":  # (a conversation's messages: all by cursor, per poll only)
        assert longest_pass(r.requests(edge)) <= bounds.MAX_PAGES_PER_PASS
    assert questions <= {m.external_id for b, _ in polls for m in b.messages}


async def test_a_backlog_larger_than_a_poll_is_read_over_several_polls(rig: Rig) -> None:
    """600 conversations of 9 messages and a post with 6,000 comments (an honest API): each poll
    holds at most `MAX_ITEMS_PER_FETCH` items and makes at most `MAX_CALLS_PER_FETCH` calls (plus a
    conversation's pages), says `more`, and the next one goes on where it stopped: every message
    is read, and then a poll reads nothing again."""
    r = rig
    expected = set()
    for i in range(600):
        conv = r.api.add_conversation(PAGE, Person(f"66{i:04d}", f"Client {i}"))
        for j in range(9):
            expected.add(r.api.add_message(conv, ago(600 - i) + timedelta(seconds=j), f"Q{i}.{j}"))
    post = r.api.add_post(PAGE, ago(700), "Jeu concours")
    for i in range(6000):
        expected.add(
            r.api.add_comment(
                post, ago(650) + timedelta(seconds=2 * i), f"Moi ! {i}", author=Person(f"55{i:05d}", f"Client {i}")
            )
        )
    r.messenger.options = r.comments.options = FacebookOptions(
        backfill=timedelta(days=1), page_limit=100, messages_limit=25, timeout=10.0
    )
    read: set[str] = set()
    for source in (r.messenger, r.comments):
        cursor: str | None = None
        polls = 0
        while True:
            batch = await fetch(source, cursor)
            polls += 1
            assert batch.calls <= bounds.MAX_CALLS_PER_FETCH + bounds.MAX_MESSAGE_PAGES
            assert len(batch.messages) <= bounds.MAX_ITEMS_PER_FETCH + 100 * 26
            read |= {m.external_id for m in batch.messages}
            cursor = batch.cursor
            if not batch.more:
                break
            assert polls < 50
        assert polls >= 2, source.stream  # the backlog did not fit in one poll
        assert "pass" not in json.loads(cursor or "{}") and '"feed"' not in (cursor or "")
        mark = len(r.api.requests)
        quiet = await fetch(source, cursor)  # what is read again is the overlap (2 min)
        assert {m.external_id for m in quiet.messages} <= read and not quiet.more
        assert len(r.api.requests) - mark <= 2  # the head of the list (and the post): no paging
    assert read == expected


async def test_a_feed_of_thousands_of_posts_keeps_the_most_recently_active(rig: Rig) -> None:
    """A feed of 600 posts in a day: `MAX_ACTIVE_POSTS` of them (the newest) have their comments
    read at every round, and a poll reads a slice of them: a comment on one is read."""
    r = rig
    ids = [r.api.add_post(PAGE, ago(600 - i), f"Post {i}") for i in range(600)]
    r.comments.options = FacebookOptions(backfill=timedelta(days=1), page_limit=100, timeout=10.0)
    first = await fetch(r.comments, None)
    active = list(json.loads(first.cursor or "")["active"])
    assert len(active) == bounds.MAX_ACTIVE_POSTS and set(active) == set(ids[-bounds.MAX_ACTIVE_POSTS :])
    assert first.more and first.calls <= bounds.MAX_CALLS_PER_FETCH
    commented = ids[-bounds.MAX_ACTIVE_POSTS]  # the oldest kept
    question = r.api.add_comment(commented, r.clock(), "Encore en stock ?", author=CUSTOMER)
    polls = await run_polls(r, r.comments, minutes=6, cursor=first.cursor)
    assert question in {m.external_id for b, _ in polls for m in b.messages}


# -- bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_oversized_answer_is_refused_without_reading_it(rig: Rig, chunked: bool) -> None:
    """A 64 MiB answer (announced, or sent in chunks) is a bad payload naming the endpoint and
    the size; at most `MAX_BODY_BYTES` (and a chunk) of it is ever held."""
    r = rig
    conversations(r.api, 2)
    r.api.misbehave("huge_body", page_id=PAGE, edge="conversations", size=64 * 1024 * 1024, chunked=chunked)
    tracemalloc.start()
    try:
        with pytest.raises(BadPayload) as caught:
            await fetch(r.messenger, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert f"/{PAGE}/conversations" in message and "bytes" in message
    assert (str(64 * 1024 * 1024) in message) == (not chunked)
    assert peak < 3 * bounds.MAX_BODY_BYTES, peak
    r.api.behave()
    assert (await fetch(r.messenger, None)).messages  # the next answer is read


@pytest.mark.parametrize("depth", [300, 100_000])
@pytest.mark.parametrize("edge", ["conversations", "comments"])
async def test_deeply_nested_json_is_a_bad_payload(rig: Rig, edge: str, depth: int) -> None:
    """Arrays nested 300 levels (which the store's encoder refuses) or 100,000 (which Python's
    decoder cannot) are a bad payload naming the endpoint, never a RecursionError."""
    r = rig
    hostile_page(r)
    r.api.misbehave("deep_json", page_id=PAGE, edge=edge, depth=depth)
    with pytest.raises(BadPayload) as caught:
        await fetch(getattr(r, stream_of(edge)), None)
    assert "nested" in str(caught.value) and edge in caught.value.endpoint


# -- rate-limit headers --------------------------------------------------------------------------


@pytest.mark.parametrize("regain", [1e9, float("inf"), 10**30])
async def test_an_absurd_regain_time_parks_the_page_for_an_hour_at_most(rig: Rig, regain: object) -> None:
    """`estimated_time_to_regain_access` of 1e9 minutes (or Infinity): the Page waits an hour,
    then calls again; while the fake still says so, it waits another hour - never for ever."""
    r = rig
    conversations(r.api, 1, messages=1)
    r.api.set_regain(PAGE, regain)
    batch = await fetch(r.messenger, None)
    assert batch.next_poll_after is not None and 3000 < batch.next_poll_after <= bounds.MAX_REGAIN_SECONDS
    for _ in range(2):
        r.clock.advance(60)
        mark = len(r.api.requests)
        with pytest.raises(RateLimited) as caught:
            await fetch(r.comments, None)
        assert caught.value.retry_after is not None
        assert 3000 < caught.value.retry_after <= bounds.MAX_REGAIN_SECONDS
        assert len(r.api.requests) == mark  # blocked: no call
        r.clock.advance(bounds.MAX_REGAIN_SECONDS)
        with pytest.raises(RateLimited):  # one call, which says 1e9 minutes again: another hour
            await fetch(r.comments, None)
        assert len(r.api.requests) == mark + 1


@pytest.mark.parametrize("regain", [-5, "soon", float("nan"), None, True])
async def test_a_regain_time_that_is_not_a_positive_number_blocks_nothing(rig: Rig, regain: object) -> None:
    r = rig
    conversations(r.api, 1)
    r.api.set_regain(PAGE, regain)
    batch = await fetch(r.messenger, None)
    assert batch.messages and batch.next_poll_after is None and r.messenger.client.blocked_until is None
    await fetch(r.comments, None)


async def test_a_throttled_page_announcing_1e9_minutes_is_tried_again_after_an_hour(rig: Rig) -> None:
    r = rig
    conversations(r.api, 1, messages=1)
    r.api.throttle(PAGE, minutes=1e9, code=32)
    with pytest.raises(RateLimited) as caught:
        await fetch(r.messenger, None)
    assert caught.value.retry_after == bounds.MAX_REGAIN_SECONDS


# -- watermarks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "updated", [datetime(2999, 1, 1, tzinfo=UTC), START + timedelta(minutes=2)], ids=["2999", "2-minutes-ahead"]
)
async def test_a_conversation_updated_in_2999_does_not_hide_later_questions(rig: Rig, updated: datetime) -> None:
    """A conversation says it was updated in 2999 (its parser reads it as updated now) or 2
    minutes ahead (kept; the watermark's clamp holds it back): the watermark stops at the clock
    (+5 s), the conversation's own message is stored, and a question asked a minute later is read."""
    r = rig
    conv = r.api.add_conversation(PAGE, Person("777002", "Future"))
    r.api.add_message(conv, ago(1), "Bonjour ?")
    r.api.set_updated_time(conv, updated)
    first = await fetch(r.messenger, None)
    watermark = json.loads(first.cursor or "")["watermark"]
    assert watermark <= int(START.timestamp()) + bounds.CLOCK_SKEW_SECONDS
    assert first.rejected == [] and any(m.text == "Bonjour ?" for m in first.messages)
    if updated.year != 2999:  # kept as given: the clamp, not the parser, held the watermark back
        assert watermark == int(START.timestamp()) + bounds.CLOCK_SKEW_SECONDS
    questions = await later_questions(r, "messenger")
    second = await fetch(r.messenger, first.cursor)
    assert questions <= {m.external_id for m in second.messages}


async def test_a_cursor_saved_with_times_in_2999_is_brought_back_to_now(rig: Rig) -> None:
    """Cursors saved before watermarks were bounded: a 2999 watermark is read as now."""
    r = rig
    y2999 = int(datetime(2999, 1, 1, tzinfo=UTC).timestamp())
    post = post_with_comments(r.api, 1)
    messenger_cursor = json.dumps({"v": 1, "watermark": y2999})
    comments_cursor = json.dumps(
        {"v": 1, "posts": y2999, "swept": int(START.timestamp()), "active": {post: [y2999, 0]}}
    )
    asked = await later_questions(r, "messenger")
    commented = await later_questions(r, "comments")
    assert asked <= {m.external_id for m in (await fetch(r.messenger, messenger_cursor)).messages}
    assert commented <= {m.external_id for m in (await fetch(r.comments, comments_cursor)).messages}


# -- malformed items in bounded passes ----------------------------------------------------------


async def test_malformed_items_are_set_aside_and_the_passes_go_on(rig: Rig) -> None:
    """A post with 60 comments takes 12 pages, two polls: the newest comment (page 1) has no
    `created_time` and one on page 11 says 9999. Neither stops the paging: the first poll sets the
    first aside and says `more`, the second sets the other aside and finishes the pass, every other
    comment is read, and the post's watermark is its newest readable comment, not the clock. A
    visitor post with an unreadable time is set aside and the feed goes on."""
    r = rig
    post = r.api.add_post(PAGE, ago(120), "Jeu concours")
    comments = [
        r.api.add_comment(
            post, ago(60) + timedelta(seconds=2 * i), f"Moi ! {i}", author=Person(f"55{i:05d}", f"Client {i}")
        )
        for i in range(60)
    ]
    no_time, far = comments[59], comments[5]
    r.api.malform(no_time, drop=["created_time"])
    r.api.malform(far, values={"created_time": "9999-12-31T23:59:59+0000"})
    unreadable = r.api.add_post(PAGE, ago(30), "Vous êtes ouverts ?", author=CUSTOMER)
    r.api.malform(unreadable, values={"created_time": "demain"})
    visitor = r.api.add_post(PAGE, ago(20), "Où est ma commande ?", author=CUSTOMER)

    first = await fetch(r.comments, None)
    assert first.more
    assert {(x.external_id, x.reason) for x in first.rejected} == {
        (no_time, "missing_created_at"),
        (unreadable, "bad_created_at"),
    }
    assert visitor in {m.external_id for m in first.messages}
    second = await fetch(r.comments, first.cursor)
    assert not second.more
    assert {(x.external_id, x.reason) for x in second.rejected} >= {(far, "implausible_created_at")}
    read = {m.external_id for b in (first, second) for m in b.messages}
    assert set(comments) - {no_time, far} <= read and not {no_time, far} & read
    cursor = json.loads(second.cursor or "")
    newest = int((ago(60) + timedelta(seconds=2 * 58)).timestamp())
    assert cursor["active"][post] == [newest, 0]  # the pass ended: no pending read


# -- end to end: `inbox-monitor run` on hostile Pages and a healthy one --------------------------

RUN_CONFIG = (
    """
[server]
listen = "127.0.0.1:{port}"
snapshot_interval = "1s"

"""
    + SHOP_TOML
)

RUN_ACCOUNT = """
[[brands.accounts]]
name = "{name}"
channel = "facebook"
page_id = "{page}"
page_token_env = "{env}"
api_base_url = "{api}"
poll_interval = "{interval}s"
"""

RUN_PAGES = {"endless": "3001", "future": "3002", "heavy": "3003", "healthy": "3004"}
RUN_INTERVAL = 2
RUN_SECONDS = 40.0
MEMORY_LIMIT = 250 * 1024 * 1024
"""Bytes of resident memory the monitor may reach against every hostile Page at once."""
STREAM_EDGES = {"messenger": ("conversations", "messages"), "comments": ("feed", "comments")}


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in bytes."""
    with Path(f"/proc/{pid}/status").open() as status:
        fields = dict(line.split(":", 1) for line in status if line.startswith("Vm"))
    return {k: int(v.split()[0]) * 1024 for k, v in fields.items() if k in ("VmRSS", "VmHWM")}


async def stored(database_url: str, ids: set[str]) -> set[str]:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT external_id FROM messages WHERE external_id = ANY($1::text[])", list(ids))
    finally:
        await conn.close()
    return {r["external_id"] for r in rows}


@pytest.mark.slow
async def test_the_monitor_keeps_watching_through_a_hostile_graph_api(tmp_path: Path, database_url: str) -> None:
    """`inbox-monitor run` polls four Pages every 2 s on one fake Graph API: one whose
    conversations page for ever and whose comments repeat one cursor, one with a conversation
    updated in 2999, one answering 256 MiB bodies and JSON nested 100,000 deep, and a healthy one.
    For 40 s: memory stays under 250 MB, no stream makes more than `MAX_CALLS_PER_MINUTE` calls,
    the healthy Page is polled all along and its questions stored, and so is the question asked
    after the 2999 conversation."""
    api = FakeGraphApi()
    url = await api.start()
    env = cli_env(INBOX_MONITOR_DATABASE_URL=database_url)
    accounts = ""
    for name, page in RUN_PAGES.items():
        api.add_page(page, token=f"token-{name}", name=name.title())
        env[f"FB_TOKEN_{name.upper()}"] = f"token-{name}"
        accounts += RUN_ACCOUNT.format(
            name=name, page=page, env=f"FB_TOKEN_{name.upper()}", api=url, interval=RUN_INTERVAL
        )
    now = datetime.now(UTC)
    for page in RUN_PAGES.values():
        for i in range(12):
            conv = api.add_conversation(page, Person(f"9{page}{i:03d}", f"Client {i}"))
            for j in range(3):
                api.add_message(conv, now - timedelta(minutes=i + 1, seconds=-j), f"Question {i}.{j} ?")
        post = api.add_post(page, now - timedelta(hours=1), "Nouvelle collection")
        for i in range(12):
            api.add_comment(
                post,
                now - timedelta(minutes=30, seconds=-i),
                f"Vous livrez ? ({i})",
                author=Person(f"8{page}{i:03d}", f"Client {i}"),
            )
    endless, future, heavy = RUN_PAGES["endless"], RUN_PAGES["future"], RUN_PAGES["heavy"]
    api.misbehave("endless_cursor", page_id=endless, edge="conversations")
    api.misbehave("repeat_cursor", page_id=endless, edge="comments")
    api.set_updated_time(api.pages[future].conversations[0].id, datetime(2999, 1, 1, tzinfo=UTC))
    api.misbehave("huge_body", page_id=heavy, edge="conversations", size=256 * 1024 * 1024, chunked=True)
    api.misbehave("deep_json", page_id=heavy, edge="feed", depth=100_000)

    path = tmp_path / "hostile.toml"
    path.write_text(RUN_CONFIG.format(port=free_port(), accounts=accounts))
    env["INBOX_MONITOR_CONFIG"] = str(path)
    proc = start_cli("run", env=env, log=tmp_path / "run.log")
    peak = 0
    try:

        async def watch() -> None:  # the process is stopped before it can take the machine's memory
            nonlocal peak
            while proc.poll() is None:
                peak = max(peak, memory(proc.pid)["VmRSS"])
                if peak > 2 * MEMORY_LIMIT:
                    proc.kill()
                await asyncio.sleep(0.1)

        watcher = asyncio.create_task(watch())
        await eventually(
            lambda: any(q.page_id == RUN_PAGES["healthy"] for q in api.requests), timeout=60, what="the first poll"
        )
        started = datetime.now(UTC)
        # Real questions, asked after the hostile answers began.
        await eventually(
            lambda: all(
                any(q.page_id == p and q.status == 200 and q.edge == e for q in api.requests)
                for p, e in ((endless, "comments"), (future, "conversations"))
            ),
            timeout=30,
            what="the hostile Pages answered",
        )
        asked = datetime.now(UTC) - timedelta(seconds=1)
        later = {
            api.add_message(api.add_conversation(future, CUSTOMER), asked, "Bonjour, et ma commande ?"),
            api.add_message(api.add_conversation(RUN_PAGES["healthy"], CUSTOMER), asked, "Vous êtes ouverts ?"),
        }
        await eventually(
            lambda: _all_stored(database_url, later), timeout=30, interval=0.5, what="the later questions stored"
        )
        end = started + timedelta(seconds=RUN_SECONDS)
        await eventually(
            lambda: proc.poll() is not None or datetime.now(UTC) >= end,
            timeout=RUN_SECONDS + 10,
            interval=0.5,
            what="the end of the run",
        )
        assert proc.poll() is None, "the monitor died"
        hwm = memory(proc.pid)["VmHWM"]
        watcher.cancel()
    finally:
        stop_cli(proc)
        await api.stop()

    print(f"peak resident memory {hwm / 2**20:.0f} MiB")
    assert max(peak, hwm) < MEMORY_LIMIT, (peak, hwm)
    calls: dict[tuple[str, str], list[RecordedRequest]] = {}
    for q in api.requests:
        stream = next((s for s, edges in STREAM_EDGES.items() if q.edge in edges), None)
        if q.page_id is not None and stream is not None:
            calls.setdefault((q.page_id, stream), []).append(q)
    for (page, stream), made in sorted(calls.items()):
        print(f"page {page} {stream}: {len(made)} calls, at most {most_in_a_minute([q.at for q in made])} a minute")
        assert most_in_a_minute([q.at for q in made]) <= bounds.MAX_CALLS_PER_MINUTE, (page, stream)
    assert len(calls[(endless, "messenger")]) >= bounds.MAX_CALLS_PER_MINUTE // 2  # the hostile Page was paging
    # The healthy Page was polled all along: at least once in every 10 s of the run, both streams.
    for stream in STREAM_EDGES:
        times = [q.at for q in calls[(RUN_PAGES["healthy"], stream)]]
        slices = {int((t - started).total_seconds() // 10) for t in times if started <= t < end}
        assert slices == set(range(int(RUN_SECONDS // 10))), (stream, sorted(slices))


async def _all_stored(database_url: str, ids: set[str]) -> bool:
    return await stored(database_url, ids) == ids
