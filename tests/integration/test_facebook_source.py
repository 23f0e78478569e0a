"""The Facebook sources against the local Graph API over HTTP, with the real Poller, Engine and
PostgreSQL.

Time is simulated (`VirtualClock`): the fake Graph API, the sources, the poller's sleeps and the
engine share one clock running about a thousand times faster than the real one, so hours of Page
traffic pass in seconds. The expected waits come from the script (question time, reply delay).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from monitor.config import FacebookAccount
from monitor.domain.changes import IngestResult
from monitor.engine import Engine
from monitor.poller import Poller, PollTarget
from monitor.runtime import Backoff, SleepTimer
from monitor.simulator.graph_api import FakeGraphApi, Person, RecordedRequest, graph_time
from monitor.simulator.traffic import ExpectedWait, Traffic, script_page
from monitor.sources.base import Batch, Source
from monitor.sources.facebook import (
    COMMENTS,
    MESSENGER,
    FacebookOptions,
    build_facebook_sources,
    comment_thread_key,
    messenger_thread_key,
    post_thread_key,
)
from monitor.store.store import Store
from tests.integration.helpers import engine_for, waits_of

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
APP_SECRET = "fake-app-secret"
PAGES = {"page-a": "1001", "page-b": "1002", "page-c": "1003"}
INTERVAL = 600.0  # virtual seconds between polls
TAIL_SPEEDUP = 3
"""How much faster the clock runs once a script's span is over (`tail`): only the last replies
are left to come, for hours (a reply's delay is up to several hours), the faults are behind."""
OPTIONS = FacebookOptions(backfill=timedelta(days=1), page_limit=25, messages_limit=2, timeout=1.0)


class VirtualClock:
    """Now = start + real time elapsed × speed; sleeps are scaled down the same way."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.speed = speed
        self._start = start
        self._t0 = time.monotonic()
        self._frozen: datetime | None = None

    def __call__(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def set_speed(self, speed: float) -> None:
        """Go on from now at `speed` (sleeps already begun end at the old one)."""
        if self._frozen is None:
            self._start, self._t0 = self(), time.monotonic()
        self.speed = speed

    def freeze(self, at: datetime | None = None) -> None:
        self._frozen = at or self()

    def resume(self) -> None:
        self._start, self._t0, self._frozen = self(), time.monotonic(), None


async def tail(clock: VirtualClock, span_end: datetime) -> None:
    """Once the script's span is over, the clock `TAIL_SPEEDUP` times faster."""
    await eventually(lambda: clock() > span_end, 30, "the end of the script's span")
    clock.set_speed(clock.speed * TAIL_SPEEDUP)


def faults_met(r: Rig) -> bool:
    """Every kind of poll result and 10 faulty answers served: on a loaded machine fewer polls fit
    in the simulated day, so a test waits for this before it turns the random faults off."""
    results = {p[2] for p in r.observer.polls}
    faulty = [q for q in r.api.requests if q.status != 200]
    return {"ok", "api_error", "bad_payload", "rate_limited"} <= results and len(faulty) >= 10


async def eventually(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    """The first truthy value of `condition()` (sync or async), checked every 20 ms; fail after
    `seconds` of real time."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {seconds}s waiting for {what} (last: {last!r})")


@dataclass
class Observer:
    """Every poll's outcome, as the metrics would see it."""

    polls: list[tuple[str, str, str, Batch | None, IngestResult | None]] = field(default_factory=list)

    def poll_done(
        self, target: PollTarget, result: str, seconds: float, batch: Batch | None, ingest: IngestResult | None
    ) -> None:
        self.polls.append((target.account, target.stream, result, batch, ingest))


@dataclass
class Progress:
    missing: dict[str, int] = field(default_factory=dict)
    extra: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return not any(self.missing.values()) and not any(self.extra.values())


def token_env(name: str) -> str:
    return f"FB_TOKEN_{name.replace('-', '_').upper()}"


@dataclass
class Rig:
    """The fake Graph API with its Pages, the store, and a poller that can be restarted."""

    api: FakeGraphApi
    store: Store
    engine: Engine
    clock: VirtualClock
    ids: dict[str, int]
    observer: Observer = field(default_factory=Observer)
    poller: Poller | None = None
    session: aiohttp.ClientSession | None = None
    sources: dict[tuple[str, str], Any] = field(default_factory=dict)

    channel = "facebook"

    def streams(self, name: str, session: aiohttp.ClientSession) -> list[Source]:
        """The streams of one account."""
        account = FacebookAccount(
            name=name,
            channel="facebook",
            page_id=PAGES[name],
            page_token_env=token_env(name),
            app_secret_env="FB_APP_SECRET",
            api_base_url=self.api.url,
            poll_interval=timedelta(seconds=INTERVAL),
        )
        return build_facebook_sources(account, session, options=OPTIONS, clock=self.clock)

    async def start(self, names: list[str] | None = None) -> Poller:
        self.session = aiohttp.ClientSession()
        targets = []
        for name in names or list(self.ids):
            for source in self.streams(name, self.session):
                self.sources[(name, source.stream)] = source
                targets.append(PollTarget(self.ids[name], name, "brand", self.channel, source, INTERVAL))
        self.poller = Poller(
            self.engine,
            targets,
            observers=[self.observer],
            clock=self.clock,
            timer=SleepTimer(self.clock.sleep),
            backoff=Backoff(base_seconds=10, cap_seconds=120, rng=random.Random(7)),
            credentials_retry=900,
        )
        await self.poller.start()
        return self.poller

    async def stop(self) -> None:
        if self.poller is not None:
            await self.poller.stop()
            self.poller = None
        if self.session is not None:
            await self.session.close()
            self.session = None

    def status(self, name: str, stream: str) -> str:
        assert self.poller is not None
        return self.poller.health[(name, stream)].status

    async def message_ids(self, name: str) -> set[str]:
        async with self.store.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT m.external_id FROM messages m JOIN accounts a ON a.id = m.account_id WHERE a.name = $1", name
            )
        return {r["external_id"] for r in rows}

    async def ingested(self, traffic: Mapping[str, Traffic]) -> Progress:
        """Whether every scripted message is stored, once, and nothing else."""
        progress = Progress()
        for name, t in traffic.items():
            stored = await self.message_ids(name)
            progress.missing[name] = len(t.messages - stored)
            progress.extra[name] = len(stored - t.messages)
        return progress


@asynccontextmanager
async def rig(
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    *,
    speed: float,
    names: tuple[str, ...] = tuple(PAGES),
    pages: Mapping[str, str] = PAGES,
    kind: type[Rig] = Rig,
) -> AsyncIterator[Rig]:
    """A `kind` of rig on the Pages `pages` (account name -> Page id) named `names`."""
    clock = VirtualClock(START - timedelta(minutes=15), speed)
    async with FakeGraphApi(clock=clock, app_secret=APP_SECRET, hang_seconds=2.0) as api:
        monkeypatch.setenv("FB_APP_SECRET", APP_SECRET)
        for name in names:
            api.add_page(pages[name], token=f"token-{name}", name=name.title())
            monkeypatch.setenv(token_env(name), f"token-{name}")
        engine = await engine_for(store, names, channel=kind.channel)
        engine.clock = clock
        ids = {ctx.name: i for i, ctx in engine.accounts.items()}
        r = kind(api, store, engine, clock, ids)
        try:
            yield r
        finally:
            await r.stop()


THREAD_KEYS: dict[str, Callable[[str], str]] = {
    "messenger": messenger_thread_key,
    "comment": comment_thread_key,
    "post": post_thread_key,
}


def expected_row(w: ExpectedWait) -> tuple[object, ...]:
    """A scripted wait as `stored_waits` gives a stored one."""
    seconds = (w.closed_at - w.opened_at).total_seconds() if w.closed_at else None
    return (w.kind, w.opened_at, w.opened_by, w.questions, w.closed_at, w.closed_by, seconds)


def expected_waits(traffic: Traffic) -> dict[str, list[tuple[object, ...]]]:
    return {
        THREAD_KEYS[kind](gid): [expected_row(w) for w in waits]
        for (kind, gid), waits in traffic.threads.items()
        if waits
    }


async def stored_threads(store: Store, name: str) -> dict[str, str]:
    """Message id -> thread key, as stored."""
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT m.external_id, t.thread_key FROM messages m"
            " JOIN threads t ON t.id = m.thread_id JOIN accounts a ON a.id = m.account_id"
            " WHERE a.name = $1",
            name,
        )
    return {r["external_id"]: r["thread_key"] for r in rows}


def expected_threads(traffic: Traffic) -> dict[str, str]:
    return {mid: THREAD_KEYS[kind](gid) for mid, (kind, gid) in traffic.thread_of.items()}


async def stored_waits(store: Store, name: str) -> dict[str, list[tuple[object, ...]]]:
    # waits_of: seq, kind, opened_at, opened_message, questions, closed_at, closed_message, ...
    return {
        k: [(w[1], w[2], w[3], w[4], w[5], w[6], w[9]) for w in v] for k, v in (await waits_of(store, name)).items()
    }


def requests_of(api: FakeGraphApi, page: str, since: int = 0) -> list[RecordedRequest]:
    return [r for r in api.requests[since:] if r.page_id == page]


def is_sweep(r: RecordedRequest) -> bool:
    """A read of the feed by the hourly sweep (it asks for `updated_time`)."""
    return r.edge == "feed" and "updated_time" in r.params.get("fields", "")


def is_poll_of_comments(r: RecordedRequest) -> bool:
    """The feed read that starts every comments poll (not the sweep)."""
    return r.edge == "feed" and not is_sweep(r)


# ----------------------------------------------------------------------------------------------


async def test_three_pages_waits_exact_under_faults(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """3 Pages × (300 conversations + 50 posts with 1,000 comments), replies at known delays,
    history that must not be read, a post deleted mid-run, 5xx/HTML/bad JSON/timeouts/throttling:
    every wait is the scripted one to the second, every message is stored once."""
    async with rig(store, monkeypatch, speed=1500) as r:
        traffic = {
            name: script_page(r.api, page, start=START, span=timedelta(hours=3), seed=i)
            for i, (name, page) in enumerate(PAGES.items())
        }
        end = max(t.end for t in traffic.values() if t.end)
        assert sum(len(t.messages) for t in traffic.values()) > 5000
        r.api.random_faults(0.01, ["500", "503_html", "malformed", "html", "transient", "rate_limit"], seed=3)
        r.api.inject("timeout", count=2)
        await r.start()
        await eventually(lambda: r.clock() > START + timedelta(hours=2), 30, "two hours of traffic")
        r.api.throttle(PAGES["page-b"], minutes=20, code=80001)
        await tail(r.clock, START + timedelta(hours=3))

        await eventually(lambda: r.clock() > end and faults_met(r), 60, "the end of the traffic, faults met")
        # Frozen past the traffic and page-b's block (applied late on a loaded machine, it can end
        # after the traffic): a stream blocked past a frozen clock would never poll again.
        blocked_until = r.api.pages[PAGES["page-b"]].blocked_until
        assert blocked_until is not None
        block_end = datetime.fromtimestamp(blocked_until, UTC) + timedelta(minutes=1)  # whole minutes
        r.clock.freeze(max(end, block_end, r.clock()) + timedelta(minutes=10))
        r.api.random_faults(0, [])
        await eventually(lambda: r.ingested(traffic), 40, "every scripted message stored")

        for name, t in traffic.items():
            assert await stored_threads(store, name) == expected_threads(t), name
            assert await stored_waits(store, name) == expected_waits(t), name
        # History older than the backfill window was never read, nor its conversations paged.
        async with store.pool.acquire() as conn:
            oldest = await conn.fetchval("SELECT min(created_at) FROM messages")
        assert oldest >= START


async def test_high_usage_slows_down_and_a_block_stops_every_call(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Usage at 90 % spaces the polls out (×5.2); during a block announced for 30 minutes the
    Page gets no call at all (counted by the fake), from either stream, until the time has passed."""
    page = PAGES["page-a"]
    async with rig(store, monkeypatch, speed=2500, names=("page-a",)) as r:
        script_page(
            r.api, page, start=START, span=timedelta(hours=6), conversations=30, posts=5, comments=60, history=False
        )
        r.api.set_usage(page, call_count=10, total_time=5)
        await r.start()

        def feed() -> list[RecordedRequest]:
            return [q for q in requests_of(r.api, page) if is_poll_of_comments(q)]

        await eventually(lambda: len(feed()) >= 5, 20, "five polls at low usage")
        source = r.sources[("page-a", COMMENTS)]
        assert source.rate_budget().remaining == {"app": 100.0, "business": 90.0}

        r.api.set_usage(page, call_count=90, total_time=40)
        switched = r.clock()
        await eventually(lambda: len([q for q in feed() if q.at > switched]) >= 4, 20, "four polls at 90 %")
        low = [b.at - a.at for a, b in zip(feed(), feed()[1:], strict=False) if b.at <= switched]
        high = [b.at - a.at for a, b in zip(feed(), feed()[1:], strict=False) if a.at > switched]
        # (3 intervals: 0.5 s real at this speed for each poll's own work; at 90 % it is 5.2)
        assert sorted(low)[len(low) // 2] < timedelta(seconds=INTERVAL * 3)
        assert min(high) >= timedelta(seconds=INTERVAL * 5.2)
        assert source.rate_budget().remaining["business"] == 10.0

        r.api.set_usage(page, call_count=10, total_time=5)
        await eventually(
            lambda: (
                feed()[-1].at > switched
                and r.api.requests[-1].status == 200
                and source.rate_budget().remaining["business"] == 90.0
            ),
            20,
            "usage back to 10 %",
        )
        r.api.throttle(page, minutes=30, code=32)
        blocked_at = r.clock()
        block_end = blocked_at + timedelta(minutes=30)
        await eventually(lambda: r.clock() > block_end + timedelta(seconds=3 * INTERVAL), 20, "the end of the block")
        during = [q for q in requests_of(r.api, page) if blocked_at <= q.at < block_end]
        assert len(during) >= 1 and all(q.code == 32 for q in during)
        # One refused call per stream at most (one may have been on its way when the other
        # stream's refusal came back); none after it.
        assert len([q for q in during if q.edge in ("conversations", "messages")]) <= 1
        assert len([q for q in during if q.edge in ("feed", "comments")]) <= 1
        after = [q for q in requests_of(r.api, page) if q.at >= block_end]
        assert after and all(q.status == 200 for q in after)
        assert {"rate_limited"} <= {p[2] for p in r.observer.polls}


async def test_expired_token_rejects_one_account_until_it_is_replaced(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Code 190 marks that account's streams `credentials_rejected` (one log line each), the other
    Pages go on, and the account recovers once a new token is in its environment variable."""
    async with rig(store, monkeypatch, speed=3000) as r:
        traffic = {
            name: script_page(
                r.api,
                page,
                start=START,
                span=timedelta(hours=2),
                seed=i,
                conversations=40,
                posts=6,
                comments=80,
                history=False,
            )
            for i, (name, page) in enumerate(PAGES.items())
        }
        end = max(t.end for t in traffic.values() if t.end)
        await r.start()
        await eventually(
            lambda: all(r.status(n, s) == "ok" for n in PAGES for s in (MESSENGER, COMMENTS)), 20, "every stream ok"
        )
        caplog.set_level(logging.ERROR, logger="monitor.poller")
        r.api.expire_token(PAGES["page-b"])
        await eventually(
            lambda: all(r.status("page-b", s) == "credentials_rejected" for s in (MESSENGER, COMMENTS)),
            20,
            "page-b rejected",
        )
        mark = len(r.api.requests)

        def retried_while_others_go_on() -> bool:
            rejected = [q.edge for q in requests_of(r.api, PAGES["page-b"], mark) if q.code == 190]
            return (
                rejected.count("conversations") >= 2
                and rejected.count("feed") >= 2
                and all(
                    len([q for q in requests_of(r.api, PAGES[other], mark) if q.status == 200]) >= 10
                    for other in ("page-a", "page-c")
                )
            )

        await eventually(retried_while_others_go_on, 20, "page-b retried twice, the others polled")
        for other in ("page-a", "page-c"):
            assert all(r.status(other, s) == "ok" for s in (MESSENGER, COMMENTS))
        failing = [rec for rec in caplog.records if getattr(rec, "account", None) == "page-b"]
        assert sorted(getattr(rec, "stream", "") for rec in failing) == [COMMENTS, MESSENGER]
        for rec in failing:  # the Graph API's own words, its times in Pacific time (June: daylight time)
            error = getattr(rec, "error", "")
            assert re.search(
                r"Graph error 190/463: Error validating access token: Session has expired on "
                r"\w+day, \d\d-Jun-26 \d\d:\d\d:\d\d PDT\.",
                error,
            ), error

        r.api.set_token(PAGES["page-b"], "token-b-renewed")
        monkeypatch.setenv(token_env("page-b"), "token-b-renewed")
        await eventually(
            lambda: all(r.status("page-b", s) == "ok" for s in (MESSENGER, COMMENTS)), 20, "page-b recovered"
        )
        await tail(r.clock, START + timedelta(hours=2))
        await eventually(lambda: r.clock() > end, 30, "the end of the traffic")
        r.clock.freeze(end + timedelta(minutes=10))
        await eventually(lambda: r.ingested(traffic), 20, "every scripted message stored")
        for name, t in traffic.items():
            assert await stored_waits(store, name) == expected_waits(t), name


async def test_restart_resumes_from_the_watermarks(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a restart the sources read from their saved cursors: no conversation list paged, no
    conversation's messages paged, no comment list paged, nothing stored twice; new traffic is read."""
    page = PAGES["page-a"]
    async with rig(store, monkeypatch, speed=3000, names=("page-a",)) as r:
        traffic = script_page(
            r.api, page, start=START, span=timedelta(hours=2), conversations=120, posts=20, comments=300
        )
        await r.start()
        await tail(r.clock, START + timedelta(hours=2))
        await eventually(lambda: r.clock() > (traffic.end or START), 30, "the end of the traffic")
        r.clock.freeze(traffic.end + timedelta(minutes=10) if traffic.end else None)
        await eventually(lambda: r.ingested({"page-a": traffic}), 20, "every scripted message stored")
        first_run = requests_of(r.api, page)
        assert any("after" in q.params for q in first_run if q.edge == "conversations")
        assert any(q.edge == "messages" for q in first_run)
        await r.stop()
        async with store.pool.acquire() as conn:
            cursors = {r["stream"]: r["cursor"] for r in await conn.fetch("SELECT stream, cursor FROM poll_state")}
        assert all(len(c) < 8000 for c in cursors.values())

        mark = len(r.api.requests)
        r.observer.polls.clear()
        await r.start()
        await eventually(
            lambda: len([q for q in requests_of(r.api, page, mark) if is_poll_of_comments(q)]) >= 3,
            20,
            "three polls after the restart",
        )
        await r.stop()
        second_run = requests_of(r.api, page, mark)
        assert {q.edge for q in second_run} <= {"conversations", "feed", "comments"}
        assert not [q for q in second_run if "after" in q.params and not is_sweep(q)]
        active = set(json.loads(cursors[COMMENTS])["active"])
        assert {q.node for q in second_run if q.edge == "comments"} <= active
        assert {p[2] for p in r.observer.polls} <= {"ok", "cancelled"}
        assert [p[4].messages_new for p in r.observer.polls if p[4] is not None] == [0] * len(
            [p for p in r.observer.polls if p[2] == "ok"]
        ), [(p[1], p[2], p[4]) for p in r.observer.polls]

        # New traffic after the restart is read, and its waits are right.
        now = r.clock()
        who = Person("777000111", "Nouvelle Cliente")
        conv = r.api.add_conversation(page, who)
        q = r.api.add_message(conv, now + timedelta(minutes=5), "Bonjour, vous êtes ouverts dimanche ?")
        a = r.api.add_message(conv, now + timedelta(minutes=47), "Oui, de 10h à 18h !", from_page=True)
        traffic.messages |= {q, a}
        r.clock.resume()
        await r.start()
        await eventually(lambda: r.ingested({"page-a": traffic}), 20, "the new conversation stored")
        waits = (await stored_waits(store, "page-a"))[messenger_thread_key(conv)]
        assert waits == [
            (
                "first",
                (now + timedelta(minutes=5)).replace(microsecond=0),
                q,
                1,
                (now + timedelta(minutes=47)).replace(microsecond=0),
                a,
                2520.0,
            )
        ]


async def test_malformed_graph_items_are_quarantined_and_the_rest_stored(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Messenger message whose text is a number, a comment without created_time and one from
    year 9999 are set aside with their reasons; the conversation's and the post's other items are
    stored, both cursors are saved; a message stamped three hours ahead is stored at its receive
    time and flagged. The overlap re-read of the next polls sets nothing aside twice."""
    now = START + timedelta(hours=2)
    api = FakeGraphApi(clock=lambda: now, app_secret=APP_SECRET)
    await api.start()
    monkeypatch.setenv("FB_APP_SECRET", APP_SECRET)
    monkeypatch.setenv(token_env("page-a"), "token-page-a")
    page = PAGES["page-a"]
    api.add_page(page, token="token-page-a", name="Page A")
    ann, bob = Person("100001", "Ann Martin"), Person("100002", "Bob")
    conv = api.add_conversation(page, ann)
    question = api.add_message(conv, now - timedelta(minutes=30), "Bonjour, ma commande n'est pas arrivée ?")
    bad_text = api.add_message(conv, now - timedelta(minutes=20), "Et le suivi ?")
    ahead = api.add_message(conv, now - timedelta(minutes=10), "Vous êtes là ?")
    api.malform(bad_text, values={"message": 42})
    api.malform(ahead, values={"created_time": graph_time(int((now + timedelta(hours=3)).timestamp()))})
    post = api.add_post(page, now - timedelta(hours=1), "Nouvelle collection")
    good = api.add_comment(post, now - timedelta(minutes=50), "Vous livrez en Belgique ?", author=bob)
    no_time = api.add_comment(post, now - timedelta(minutes=40), "Et en Suisse ?", author=ann)
    far = api.add_comment(post, now - timedelta(minutes=35), "Toujours rien ?", author=ann)
    api.malform(no_time, drop=["created_time"])
    api.malform(far, values={"created_time": "9999-12-31T23:59:59+0000"})
    engine = await engine_for(store, ["page-a"], channel="facebook", now=now)
    account_id = next(iter(engine.accounts))
    account = FacebookAccount(
        name="page-a",
        channel="facebook",
        page_id=page,
        page_token_env=token_env("page-a"),
        app_secret_env="FB_APP_SECRET",
        api_base_url=api.url,
    )
    try:
        async with aiohttp.ClientSession() as session:
            sources = build_facebook_sources(account, session, options=OPTIONS, clock=lambda: now)
            targets = [PollTarget(account_id, "page-a", "brand", "facebook", s, INTERVAL) for s in sources]
            poller = Poller(engine, targets, clock=lambda: now)
            first = {t.stream: (await poller.poll_once(t, None))[1] for t in targets}
            cursors = {t.stream: await store.load_cursor(account_id, t.stream) for t in targets}
            again = [(await poller.poll_once(t, cursors[t.stream]))[1] for t in targets for _ in range(2)]
    finally:
        await api.stop()
    assert first[MESSENGER].quarantined == {"bad_text": 1}
    assert first[COMMENTS].quarantined == {"missing_created_at": 1, "implausible_created_at": 1}
    assert all(r.quarantined == {} for r in again)
    assert all(cursors.values())
    assert json.loads(cursors[MESSENGER] or "")["watermark"] == int((now - timedelta(minutes=10)).timestamp())
    async with store.pool.acquire() as conn:
        rows = {
            r["external_id"]: (r["stream"], r["reason"], r["detail"], r["raw"])
            for r in await conn.fetch("SELECT external_id, stream, reason, detail, raw FROM quarantine")
        }
        stored = {
            r["external_id"]: (r["created_at"], r["future_created_at"])
            for r in await conn.fetch("SELECT external_id, created_at, future_created_at FROM messages")
        }
        latest = await conn.fetchval("SELECT max(deadline) FROM waits")
    assert set(stored) == {question, ahead, good}
    assert stored[ahead] == (now, now + timedelta(hours=3))
    assert stored[question] == (now - timedelta(minutes=30), None)
    assert set(rows) == {bad_text, no_time, far}
    assert rows[bad_text][:3] == (MESSENGER, "bad_text", f"message {bad_text}.message: not a string but a number")
    assert rows[bad_text][3]["message"] == 42 and rows[bad_text][3]["from"]["id"] == ann.id
    assert rows[no_time][:3] == (COMMENTS, "missing_created_at", f"comment {no_time}.created_time: missing")
    assert rows[far][:2] == (COMMENTS, "implausible_created_at")
    assert latest is not None and latest.year < 2100  # year 9999 never reached a deadline


async def test_the_fake_speaks_the_graph_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nested fields with modifiers, opaque cursors and absolute `next` URLs, since/until,
    appsecret_proof and error bodies, as the Graph API has them."""
    now = START + timedelta(hours=1)
    api = FakeGraphApi(clock=lambda: now, app_secret="s3cret")
    url = await api.start()
    try:
        api.add_page("42", token="tok", name="Shop")
        who = Person("9", "Ann")
        conv = api.add_conversation("42", who)
        for minute in range(5):
            api.add_message(conv, START + timedelta(minutes=minute), f"m{minute}")
        api.add_message(conv, now + timedelta(minutes=1), "not yet")
        post = api.add_post("42", START, "Hello")
        top = api.add_comment(post, START + timedelta(minutes=1), "Do you ship to Canada?", author=who)
        reply = api.add_comment(post, START + timedelta(minutes=2), "Yes!", parent=top)
        deep = api.add_comment(post, START + timedelta(minutes=3), "How long?", author=who, parent=reply)
        from monitor.sources.graph.client import appsecret_proof

        proof = appsecret_proof("s3cret", "tok")
        async with aiohttp.ClientSession() as s:

            async def get(path: str, **params: str) -> tuple[int, dict[str, Any]]:
                async with s.get(f"{url}/v23.0/{path}", params=params) as resp:
                    return resp.status, await resp.json()

            status, body = await get(
                "42/conversations",
                access_token="tok",
                appsecret_proof=proof,
                fields="updated_time,messages.limit(2){message,from}",
            )
            assert status == 200
            c = body["data"][0]
            assert c["updated_time"] == "2026-06-01T08:04:00+0000" and c["id"] == conv
            assert [m["message"] for m in c["messages"]["data"]] == ["m4", "m3"]
            assert c["messages"]["data"][0]["from"] == {"name": "Ann", "email": "9@facebook.com", "id": "9"}
            nxt = c["messages"]["paging"]["next"]
            assert nxt.startswith(f"{url}/v23.0/{conv}/messages?") and "limit=2" in nxt
            async with s.get(nxt) as resp:
                page2 = await resp.json()
            assert [m["message"] for m in page2["data"]] == ["m2", "m1"]

            status, body = await get(
                f"{post}/comments",
                access_token="tok",
                appsecret_proof=proof,
                filter="stream",
                order="reverse_chronological",
                fields="id,message,parent{id,parent{id}}",
            )
            assert [(d["id"], d.get("parent")) for d in body["data"]] == [
                (deep, {"id": reply, "parent": {"id": top}}),
                (reply, {"id": top}),
                (top, None),
            ]
            status, body = await get(f"{post}/comments", access_token="tok", appsecret_proof=proof)
            assert [d["id"] for d in body["data"]] == [top]  # toplevel by default
            status, body = await get(
                "42/feed",
                access_token="tok",
                appsecret_proof=proof,
                since=str(int((START + timedelta(seconds=1)).timestamp())),
            )
            assert body == {"data": []}

            status, body = await get("42/conversations", access_token="tok")
            assert status == 400 and body["error"]["code"] == 100 and "appsecret_proof" in body["error"]["message"]
            status, body = await get("42/conversations", access_token="nope", appsecret_proof="x")
            assert status == 400 and body["error"]["code"] == 190
            assert set(body["error"]) >= {"message", "type", "code", "fbtrace_id"}
            status, body = await get("42/conversations", access_token="tok", appsecret_proof=proof, after="garbage")
            assert status == 400 and body["error"]["code"] == 100
            status, body = await get(
                "42/conversations", access_token="tok", appsecret_proof=proof, fields="messages{id"
            )
            assert status == 400 and body["error"]["code"] == 100
            api.throttle("42", minutes=7, code=32)
            async with s.get(f"{url}/v23.0/42/feed", params={"access_token": "tok", "appsecret_proof": proof}) as resp:
                assert resp.status == 400 and (await resp.json())["error"]["code"] == 32
                usage = resp.headers["X-Business-Use-Case-Usage"]
            assert '"estimated_time_to_regain_access": 7' in usage and '"call_count": 100' in usage
        assert [q.edge for q in api.requests][:2] == ["conversations", "messages"]
        assert all("access_token" not in q.params for q in api.requests)
    finally:
        await api.stop()
