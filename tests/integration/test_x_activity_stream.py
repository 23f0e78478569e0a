"""The X Activity stream client against the fake X API: routing, keep-alive timeout, bounded lines,
reconnection (no database: the nudges are collected)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence

import aiohttp
import pytest

from monitor.domain.cost import BillableRead
from monitor.domain.model import Message
from monitor.runtime import Backoff
from monitor.secrets import EnvSecret
from monitor.simulator.x_api import FakeXApi
from monitor.sources.x.activity import MAX_LINE_BYTES, ActivityCollector, ActivityStream, StreamAccount
from tests.waiting import eventually

TOKEN = "app-token"


@contextlib.asynccontextmanager
async def streaming(
    api: FakeXApi,
    nudged: list[tuple[int, list[str]]],
    *,
    keepalive: float = 5.0,
    stored: list[tuple[int, Message]] | None = None,
    billed: list[tuple[int, BillableRead]] | None = None,
) -> AsyncIterator[ActivityStream]:
    async def deliver(account_id: int, streams: Sequence[str]) -> None:
        nudged.append((account_id, list(streams)))

    async def ingest(account_id: int, messages: Sequence[Message], billable: Sequence[BillableRead]) -> None:
        if stored is not None:
            stored.extend((account_id, m) for m in messages)
        if billed is not None:
            billed.extend((account_id, b) for b in billable)

    async with aiohttp.ClientSession() as session:
        stream = ActivityStream(
            session,
            [
                StreamAccount(1, "shop", "b", "1001", ("x.mentions", "x.replies")),
                StreamAccount(2, "other", "b", "1002", ("x.mentions",)),
            ],
            bearer_token=EnvSecret("X_ACTIVITY_TEST_TOKEN", {"X_ACTIVITY_TEST_TOKEN": TOKEN}),
            deliver=deliver,
            ingest=ingest,
            holds=lambda: True,
            api_base_url=api.base_url,
            keepalive_seconds=keepalive,
            backoff=Backoff(base_seconds=0.05, cap_seconds=0.1),
        )
        task = asyncio.create_task(stream.supervised.run())
        try:
            yield stream
        finally:
            await stream.supervised.stop()
            await task


@pytest.fixture
async def api() -> AsyncIterator[FakeXApi]:
    fake = FakeXApi()
    await fake.start()
    fake.add_bearer_token(TOKEN)
    fake.activity.subscribe("post.mention.create", "1001")
    yield fake
    await fake.stop()


async def test_an_event_nudges_its_account_and_a_connection_nudges_them_all(api: FakeXApi) -> None:
    nudged: list[tuple[int, list[str]]] = []
    billed: list[tuple[int, BillableRead]] = []
    async with streaming(api, nudged, billed=billed) as stream:
        await eventually(lambda: stream.state.connected, timeout=10, what="connected")
        assert sorted(nudged) == [(1, ["x.mentions", "x.replies"]), (2, ["x.mentions"])]  # the reconnection's poll
        nudged.clear()
        posted = api.add_tweet("7001", "@shop hello?", api.clock(), mentions=["1001"])
        await eventually(lambda: nudged and billed, timeout=5, what="the nudge and the count")
        assert nudged == [(1, ["x.mentions"])]
        assert billed == [(1, BillableRead("activity_event", str(posted)))]  # billed as the post
        assert api.billed[("1001", "activity_event")] == 1
        families = {m.name: m for m in ActivityCollector([stream]).collect()}
        assert [s.value for s in families["social_inbox_x_activity_stream_up"].samples] == [1.0, 1.0]
        events = families["social_inbox_x_activity_events"].samples
        assert [(s.labels["account"], s.labels["kind"], s.value) for s in events] == [
            ("shop", "post.mention.create", 1.0)
        ]


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The errors of the "x activity stream disconnected" log lines."""
    return [str(getattr(r, "error", "")) for r in caplog.records if r.getMessage() == "x activity stream disconnected"]


async def test_a_line_past_the_bound_ends_the_connection_which_comes_back(
    api: FakeXApi, caplog: pytest.LogCaptureFixture
) -> None:
    nudged: list[tuple[int, list[str]]] = []
    async with streaming(api, nudged) as stream:
        await eventually(lambda: stream.state.connected, timeout=10, what="connected")
        api.activity.send_raw(b'{"data": "' + b"x" * (2 * MAX_LINE_BYTES + 10) + b'"}\r\n')
        await eventually(lambda: stream.state.connections >= 2, timeout=10, what="the reconnection")
        assert any("longer than" in e for e in errors(caplog)), errors(caplog)
        api.activity.send_raw(
            b"not json\r\n"
            + json.dumps(
                {"data": {"event_uuid": "9", "filter": {"user_id": "1001"}, "event_type": "post.create"}}
            ).encode()
            + b"\r\n"
        )
        await eventually(lambda: (1, ["x.replies"]) in nudged, timeout=5, what="the next event routed")


async def test_silence_past_the_keepalive_timeout_reconnects_and_shows(
    api: FakeXApi, caplog: pytest.LogCaptureFixture
) -> None:
    api.activity.keepalive_seconds = 60  # the fake stops sending its heartbeat in time
    nudged: list[tuple[int, list[str]]] = []
    async with streaming(api, nudged, keepalive=0.3) as stream:
        await eventually(lambda: stream.state.connections >= 2, timeout=10, what="a reconnection after silence")
        assert any("Timeout" in e for e in errors(caplog))


async def test_a_drop_reconnects_and_a_refusal_shows_down_until_it_ends(api: FakeXApi) -> None:
    nudged: list[tuple[int, list[str]]] = []
    async with streaming(api, nudged) as stream:
        await eventually(lambda: stream.state.connected, timeout=10, what="connected")
        api.activity.refusing = True
        api.activity.drop()
        await eventually(lambda: stream.supervised.health.failing, timeout=10, what="failing while refused")
        assert not stream.state.connected
        families = {m.name: m for m in ActivityCollector([stream]).collect()}
        assert [s.value for s in families["social_inbox_x_activity_stream_up"].samples] == [0.0, 0.0]
        api.activity.refusing = False
        await eventually(lambda: stream.state.connected, timeout=10, what="connected again")
        assert stream.state.connections == 2
        assert api.activity.most_open == 1


async def test_an_encrypted_chat_on_the_stream_is_stored_without_text_and_polls_nothing(api: FakeXApi) -> None:
    api.activity.subscribe("chat.received", "1001")
    nudged: list[tuple[int, list[str]]] = []
    stored: list[tuple[int, Message]] = []
    async with streaming(api, nudged, stored=stored) as stream:
        await eventually(lambda: stream.state.connected, timeout=10, what="connected")
        nudged.clear()
        chat = api.add_chat("7001", "1001", api.clock())
        await eventually(lambda: stored, timeout=5, what="the chat stored")
        [(account_id, message)] = stored
        assert (account_id, message.external_id, message.direction) == (1, chat.id, "inbound")
        assert not message.text_available
        assert nudged == []
