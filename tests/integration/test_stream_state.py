"""Why a stream is not polled, and until when: the poller's `StreamWait` as the metrics export it,
with the real sources against the local X API and Graph API, and a real PostgreSQL.

The X tests step the poller by hand (`Stepper`) on a manual clock; the Graph API test runs on the
virtual clock of tests/integration/test_facebook_source.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import XAccount
from monitor.domain.changes import IngestResult
from monitor.engine import Engine
from monitor.metrics import Metrics
from monitor.poller import Poller, PollTarget
from monitor.runtime import SleepTimer
from monitor.simulator.x_api import MENTIONS, FakeXApi
from monitor.sources.base import Batch
from monitor.sources.facebook import COMMENTS, MESSENGER
from monitor.sources.x import build_x_sources
from monitor.store.store import Store
from tests.integration.helpers import engine_for
from tests.integration.test_facebook_source import PAGES, eventually, rig
from tests.integration.test_x_source import T0, ManualClock, Stepper

BEARER = "app-bearer-token"
INTERVAL = 60.0
LABELS = {"brand": "brand", "channel": "x", "account": "acme-x", "stream": "x.mentions"}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def exported(metrics: Metrics) -> Samples:
    """Every sample of /metrics (Prometheus text), by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
    }


def stream_samples(samples: Samples, name: str, **labels: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of `name` whose labels include these."""
    return {lab: v for (n, lab), v in samples.items() if n == name and set(labels.items()) <= set(lab)}


def one(samples: Samples, name: str, **labels: str) -> float | None:
    found = stream_samples(samples, name, **labels)
    assert len(found) <= 1, found
    return next(iter(found.values()), None)


def reasons(samples: Samples, **labels: str) -> dict[str, float]:
    """The stream's `social_inbox_stream_waiting` series, by reason."""
    found = stream_samples(samples, "social_inbox_stream_waiting", **labels)
    return {dict(lab)["reason"]: v for lab, v in found.items()}


@dataclass
class DuringPoll:
    """A PollObserver that notes what the stream's wait said while its poll ran."""

    poller: Poller | None = None
    seen: list[tuple[str, float]] = field(default_factory=list)

    def poll_done(
        self, target: PollTarget, result: str, seconds: float, batch: Batch | None, ingest: IngestResult | None
    ) -> None:
        assert self.poller is not None
        wait = self.poller.health[(target.account, target.stream)].wait
        assert wait is not None
        self.seen.append((wait.reason, wait.until.timestamp()))


@dataclass
class XRig:
    fake: FakeXApi
    clock: ManualClock
    session: aiohttp.ClientSession
    store: Store

    async def run(self) -> tuple[Poller, Metrics, Stepper, DuringPoll]:
        """A new process' poller and metrics on the stream `x.mentions` of acme-x."""
        base = await engine_for(self.store, ["acme-x"])
        engine = Engine(self.store, base.accounts, clock=self.clock.now)
        account_id = next(iter(engine.accounts))
        account = XAccount(
            name="acme-x",
            channel="x",
            user_id="101",
            handle="acme",
            bearer_token_env="X_BEARER",
            api_base_url=self.fake.base_url,
        )
        targets = [
            PollTarget(account_id, "acme-x", "brand", "x", source, INTERVAL)
            for source in build_x_sources(account, self.session, environ={"X_BEARER": BEARER}, clock=self.clock.time)
            if source.stream == "x.mentions"
        ]
        metrics = Metrics(engine.accounts, registry=None)
        metrics.watch(targets)
        stepper = Stepper()
        during = DuringPoll()
        poller = Poller(
            engine,
            targets,
            observers=[metrics, during],
            stream_observers=[metrics],
            clock=self.clock.now,
            timer=SleepTimer(stepper.sleep),
        )
        during.poller = poller
        return poller, metrics, stepper, during

    def advance(self, seconds: float) -> float:
        self.clock.at += seconds
        return self.clock.at


@pytest.fixture
async def x(store: Store) -> AsyncIterator[XRig]:
    clock = ManualClock(T0)
    fake = FakeXApi(clock=clock.time)
    await fake.start()
    fake.add_bearer_token(BEARER)
    fake.add_user("101", "acme")
    try:
        async with aiohttp.ClientSession() as session:
            yield XRig(fake, clock, session, store)
    finally:
        await fake.stop()


async def test_an_x_stream_says_why_it_waits_and_until_when(x: XRig) -> None:
    """waiting (its interval), polling (while a poll runs), rate_limited until the 429's reset,
    backing_off after a 500, credentials_rejected after a 401: one series at a time, value 1,
    with the time of the next poll; the interval and the start of monitoring are exported."""
    poller, metrics, stepper, during = await x.run()
    await poller.start()
    try:
        await stepper.step()  # the first poll: fine
        now = x.clock.time()
        got = exported(metrics)
        assert reasons(got, **LABELS) == {"waiting": 1.0}
        assert one(got, "social_inbox_poll_interval_seconds", **LABELS) == INTERVAL
        assert one(got, "social_inbox_stream_monitored_since_timestamp_seconds", **LABELS) == T0.timestamp()
        next_poll = one(got, "social_inbox_stream_next_poll_timestamp_seconds", **LABELS)
        assert next_poll is not None and now + 0.9 * INTERVAL <= next_poll <= now + 1.1 * INTERVAL  # jitter 10 %
        assert one(got, "social_inbox_last_successful_poll_timestamp_seconds", **LABELS) is not None
        assert during.seen == [("polling", now)]  # while the poll ran: polling, since it started

        # A 429 whose reset is ten minutes away: no failure to count, a rate-limit wait until then.
        now = x.advance(INTERVAL)
        x.fake.inject("rate_limited", endpoint=MENTIONS, retry_after=600)
        await stepper.step()
        got = exported(metrics)
        assert reasons(got, **LABELS) == {"rate_limited": 1.0}
        assert one(got, "social_inbox_stream_next_poll_timestamp_seconds", **LABELS) == now + 600

        now = x.advance(600)
        x.fake.inject("http_500", endpoint=MENTIONS)
        await stepper.step()
        got = exported(metrics)
        assert reasons(got, **LABELS) == {"backing_off": 1.0}
        next_poll = one(got, "social_inbox_stream_next_poll_timestamp_seconds", **LABELS)
        assert next_poll is not None and now <= next_poll <= now + poller.backoff.cap_seconds

        x.advance(poller.backoff.cap_seconds)
        x.fake.bearer_tokens.clear()  # the token is revoked: 401
        await stepper.step()
        got = exported(metrics)
        assert reasons(got, **LABELS) == {"credentials_rejected": 1.0}
        assert (
            one(got, "social_inbox_stream_next_poll_timestamp_seconds", **LABELS)
            == x.clock.time() + poller.credentials_retry
        )
        assert [r for r, _ in during.seen] == ["polling"] * 4
    finally:
        await poller.stop()


async def test_a_restart_exports_the_stored_last_success_and_start_of_monitoring(x: XRig) -> None:
    """A new process does not reset the stale clock: it exports the last success PostgreSQL
    remembers and the time polling began, even when its own polls fail."""
    poller, metrics, stepper, _ = await x.run()
    await poller.start()
    try:
        await stepper.step()
        first_success = x.clock.time()
    finally:
        await poller.stop()

    x.advance(7200)  # two hours later, another process; the API fails from its first poll on
    x.fake.inject("http_500", endpoint=MENTIONS, times=5)
    poller, metrics, stepper, _ = await x.run()
    await poller.start()
    try:
        got = exported(metrics)  # not polled yet, PostgreSQL not read yet: counted from now
        assert one(got, "social_inbox_last_successful_poll_timestamp_seconds", **LABELS) is None
        assert one(got, "social_inbox_stream_monitored_since_timestamp_seconds", **LABELS) == x.clock.time()
        await stepper.step()
        got = exported(metrics)
        assert reasons(got, **LABELS) == {"backing_off": 1.0}
        assert one(got, "social_inbox_last_successful_poll_timestamp_seconds", **LABELS) == first_success
        assert one(got, "social_inbox_stream_monitored_since_timestamp_seconds", **LABELS) == T0.timestamp()
    finally:
        await poller.stop()


async def test_a_page_blocked_by_the_graph_api_is_blocked_until_its_regain_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Page throttled (regain in 30 minutes) from its first poll: both streams say `blocked`,
    until the regain time; no success yet, so only the start of monitoring is their base. Once
    the block ends, they poll, succeed and wait out their interval."""
    page = PAGES["page-a"]
    async with rig(store, monkeypatch, speed=1500, names=("page-a",)) as r:
        r.api.throttle(page, minutes=30, code=32)
        blocked_at = r.clock()
        poller = await r.start()
        metrics = Metrics(r.engine.accounts, registry=None)
        metrics.watch(poller.targets)
        poller.stream_observers.append(metrics)  # before the poll tasks first run
        streams = {"brand": "brand", "channel": "facebook", "account": "page-a"}

        def blocked() -> Samples | None:
            got = exported(metrics)
            return (
                got
                if all(reasons(got, stream=s, **streams) == {"blocked": 1.0} for s in (MESSENGER, COMMENTS))
                else None
            )

        got = await eventually(blocked, 20, "both streams blocked")
        seen_at = r.clock()
        regain = r.api.pages[page].blocked_until
        assert regain is not None
        # The API gives the regain time in whole minutes from its answer, and the source counts
        # them from when it read the answer: never before the block ends, and at most a minute
        # plus the answer's time on the wire (at most seen_at - blocked_at) after it.
        latest = regain + 60 + (seen_at - blocked_at).total_seconds()
        for stream in (MESSENGER, COMMENTS):
            next_poll = one(got, "social_inbox_stream_next_poll_timestamp_seconds", stream=stream, **streams)
            assert next_poll is not None and regain - 0.001 <= next_poll <= latest, (stream, next_poll, regain, latest)
            assert one(got, "social_inbox_last_successful_poll_timestamp_seconds", stream=stream, **streams) is None
            since = one(got, "social_inbox_stream_monitored_since_timestamp_seconds", stream=stream, **streams)
            assert since is not None and blocked_at.timestamp() - 1 <= since <= seen_at.timestamp(), (since, blocked_at)

        def polled_again() -> Samples | None:
            got = exported(metrics)
            return (
                got
                if all(
                    reasons(got, stream=s, **streams) == {"waiting": 1.0}
                    and one(got, "social_inbox_last_successful_poll_timestamp_seconds", stream=s, **streams) is not None
                    for s in (MESSENGER, COMMENTS)
                )
                else None
            )

        await eventually(polled_again, 20, "both streams polled again after the block")
        assert r.clock().timestamp() >= regain
