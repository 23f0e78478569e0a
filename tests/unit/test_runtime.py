"""The runtime of background work: backoff bounds, jitter, failure logged on change, wake, stop,
and the testing switch. Time is fake: no test here sleeps."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from monitor.runtime import (
    CRASHED,
    FAILING,
    NEW,
    OK,
    REAL_TIME,
    Backoff,
    Health,
    SleepTimer,
    Supervised,
    is_testing,
    set_testing,
)
from tests.waiting import Longest

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
log = logging.getLogger("tests.runtime")


class FakeTime:
    """A `Clock` and a `Timer`: each wait is noted and moves the clock at once."""

    def __init__(self) -> None:
        self.now = T0
        self.waits: list[float] = []
        self.settles: list[float] = []
        self.wake_during_next_wait: Supervised | None = None

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.settles.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.waits.append(seconds)
        if self.wake_during_next_wait is not None:  # news arrives halfway through
            supervised, self.wake_during_next_wait = self.wake_during_next_wait, None
            self.now += timedelta(seconds=seconds / 2)
            supervised.wake()
            return True
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)
        return event.is_set()


Outcome = BaseException | float | None


def scripted(outcomes: list[Outcome]) -> tuple[Callable[[], Awaitable[float | None]], list[Supervised]]:
    """A step that raises or returns each outcome in turn, then stops its runner."""
    runner: list[Supervised] = []
    left = list(outcomes)

    async def step() -> float | None:
        outcome = left.pop(0)
        if not left:
            await runner[0].stop()  # from inside the step: `run()` returns after it
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return step, runner


def supervised(outcomes: list[Outcome], time: FakeTime, **options: object) -> Supervised:
    step, runner = scripted(outcomes)
    options = {
        "interval_seconds": 60.0,
        "backoff": Backoff(base_seconds=2.0, cap_seconds=30.0, rng=Longest()),
        "expected": (asyncpg.PostgresConnectionError,),
        "logger": log,
        **options,
    }
    runner.append(Supervised("demo step", step, clock=time.clock, timer=time, **options))  # type: ignore[arg-type]
    return runner[0]


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int]]:
    return [(r.getMessage(), r.levelno) for r in caplog.records if r.name == log.name]


# --- Backoff ------------------------------------------------------------------------------------


def test_backoff_bounds_double_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff(base_seconds=2.0, cap_seconds=30.0, rng=Longest())
    assert [backoff.delay(n) for n in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff.bound(0) == 2.0  # "no failure yet" waits as the first
    assert backoff.bound(10**9) == 30.0  # a very long outage: no overflow


def test_backoff_has_full_jitter_within_its_bounds() -> None:
    backoff = Backoff(base_seconds=1.0, cap_seconds=300.0, rng=random.Random(5))
    for failures in (1, 3, 12):
        draws = [backoff.delay(failures) for _ in range(2000)]
        bound = backoff.bound(failures)
        assert all(0 <= d <= bound for d in draws)
        assert min(draws) < 0.05 * bound and max(draws) > 0.95 * bound  # the whole range, from 0
        assert 0.45 * bound < sum(draws) / len(draws) < 0.55 * bound


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (-1.0, 1.0), (5.0, 1.0)])
def test_a_backoff_that_makes_no_sense_is_refused(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="base_seconds"):
        Backoff(base_seconds=base, cap_seconds=cap)


# --- Health: failure as state, logged on change ---------------------------------------------------


def test_health_logs_when_failing_starts_changes_and_ends(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    health = Health("feed", log, {"account": "acme"})
    assert health.status == NEW and not health.failing
    for _ in range(5):
        health.failed(TimeoutError("the API is slow"))
    health.failed(PermissionError("token revoked"), status="credentials_rejected")
    assert (health.failures, health.last_error) == (6, "PermissionError: token revoked")
    health.succeeded(T0)
    health.succeeded(T0 + timedelta(minutes=1))
    assert lines(caplog) == [
        ("feed failing", logging.ERROR),
        ("feed failing", logging.ERROR),
        ("feed recovered", logging.INFO),
    ]
    first, changed, recovered = (r for r in caplog.records if r.name == log.name)
    assert (first.account, first.status, first.error) == (  # type: ignore[attr-defined]
        "acme",
        FAILING,
        "TimeoutError: the API is slow",
    )
    assert changed.status == "credentials_rejected"  # type: ignore[attr-defined]
    assert recovered.after_failures == 6  # type: ignore[attr-defined]
    assert (health.status, health.failures, health.last_error, health.last_exception) == (OK, 0, None, None)
    assert health.last_success == T0 + timedelta(minutes=1)


def test_health_bounds_the_error_text_and_keeps_no_traceback() -> None:
    health = Health("feed", log)
    try:
        try:
            raise OSError("reset by peer")
        except OSError as cause:
            raise ValueError("x" * 10_000) from cause
    except ValueError as exc:
        health.failed(exc)
    assert health.last_error is not None and len(health.last_error) == 500
    assert isinstance(health.last_exception, ValueError)
    assert health.last_exception.__traceback__ is None  # its frames would keep what the run had read
    assert health.last_exception.__cause__ is not None and health.last_exception.__cause__.__traceback__ is None


# --- Supervised ---------------------------------------------------------------------------------


async def test_a_failing_step_logs_once_backs_off_and_logs_its_recovery(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    time = FakeTime()
    down = asyncpg.PostgresConnectionError("connection refused")
    runner = supervised([None, down, down, down, down, down, None, None], time)
    await runner.run()
    assert lines(caplog) == [("demo step failing", logging.ERROR), ("demo step recovered", logging.INFO)]
    assert time.waits == [60.0, 2.0, 4.0, 8.0, 16.0, 30.0, 60.0]  # interval, backoff to its cap, interval
    assert runner.runs == 8 and runner.health.status == OK and runner.health.failures == 0
    assert runner.health.last_success == time.now
    failing = next(r for r in caplog.records if r.getMessage() == "demo step failing")
    assert failing.exc_info is None  # a foreseen failure: no traceback
    assert failing.error == "PostgresConnectionError: connection refused"  # type: ignore[attr-defined]


async def test_failure_is_state_while_it_lasts() -> None:
    time = FakeTime()
    seen: list[tuple[str, int, str | None]] = []
    runner = supervised([None, asyncpg.PostgresConnectionError("away"), 0.0], time)

    async def on_failure(exc: BaseException) -> None:
        seen.append((runner.health.status, runner.health.failures, runner.health.last_error))
        assert runner.health.last_exception is exc

    runner.on_failure = on_failure
    await runner.run()
    assert seen == [(FAILING, 1, "PostgresConnectionError: away")]


async def test_a_bug_is_logged_with_its_traceback_and_the_step_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    time = FakeTime()
    runner = supervised([KeyError("oops"), KeyError("oops"), asyncpg.PostgresConnectionError("away"), None], time)
    await runner.run()
    assert [m for m, _ in lines(caplog)] == ["demo step failing", "demo step failing", "demo step recovered"]
    crashed, foreseen = (r for r in caplog.records if r.getMessage() == "demo step failing")
    assert crashed.status == CRASHED and crashed.exc_info is not None  # type: ignore[attr-defined]
    assert foreseen.status == FAILING and foreseen.exc_info is None  # type: ignore[attr-defined]
    assert runner.runs == 4


async def test_the_interval_is_jittered_and_a_step_s_own_delay_is_not() -> None:
    time = FakeTime()
    outcomes: list[Outcome] = [*([None] * 400), 7.5, -3.0, None]
    runner = supervised(outcomes, time, jitter=0.1, rng=random.Random(3))
    await runner.run()
    jittered = time.waits[:400]
    assert all(54.0 <= w <= 66.0 for w in jittered)
    assert min(jittered) < 55.0 and max(jittered) > 65.0  # spread over the whole ±10 %
    assert time.waits[400:] == [7.5]  # the delay a step asks for is kept; a past instant runs it at once
    with pytest.raises(ValueError, match="jitter"):
        Supervised("x", runner.step, interval_seconds=1, backoff=runner.backoff, jitter=1.5)


async def test_a_wake_ends_the_wait_and_the_burst_settles_first() -> None:
    time = FakeTime()
    runner = supervised([None, None], time, settle_seconds=0.2)
    time.wake_during_next_wait = runner
    started = time.now
    await runner.run()
    assert time.waits == [60.0] and time.settles == [0.2]
    assert time.now - started == timedelta(seconds=30.2)  # half the interval, then the settling


async def started(step: Callable[[], Awaitable[None]], began: asyncio.Event) -> tuple[Supervised, asyncio.Task[None]]:
    """A runner of `step` (every hour) and its task, once `began` says its first step is under way."""
    runner = Supervised("runner", step, interval_seconds=3600, backoff=Backoff(), logger=log)
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(began.wait(), timeout=5)
    return runner, task


async def test_stop_during_a_wait_returns_cleanly() -> None:
    ran = asyncio.Event()

    async def step() -> None:
        ran.set()

    runner, task = await started(step, ran)
    await asyncio.wait_for(runner.stop(), timeout=5)
    assert task.done() and not task.cancelled() and task.result() is None
    assert runner.runs == 1


async def test_stop_during_a_step_cancels_it_and_returns_cleanly() -> None:
    inside, ended = asyncio.Event(), []

    async def step() -> None:
        inside.set()
        try:
            await asyncio.Event().wait()  # listening, say, until told otherwise
        finally:
            ended.append(True)

    runner, task = await started(step, inside)
    await asyncio.wait_for(runner.stop(), timeout=5)
    assert ended == [True] and task.done() and task.result() is None
    assert runner.health.status == NEW  # a stop is neither a success nor a failure


async def test_stop_asks_again_when_a_step_loses_the_cancellation() -> None:
    """A step that loses the first cancellation and reads on (asyncio.wait_for on Python 3.11,
    when what it wraps ends at that moment) still ends: `stop()` asks again, and returns."""
    inside = asyncio.Event()
    lost: list[bool] = []

    async def step() -> None:
        inside.set()
        while True:  # a stream read line after line
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if lost:
                    raise
                lost.append(True)  # swallowed, as wait_for's race does

    runner, task = await started(step, inside)
    await asyncio.wait_for(runner.stop(), timeout=5)
    assert lost == [True] and task.done() and not task.cancelled() and task.result() is None
    assert task.cancelling() == 0  # both cancellations taken back: run() ended as asked


async def test_a_stopped_runner_does_not_start_and_a_cancelled_one_says_so() -> None:
    async def never() -> None:
        raise AssertionError("must not run")

    stopped = Supervised("stopped", never, interval_seconds=1, backoff=Backoff(), logger=log)
    await stopped.stop()
    await stopped.run()
    assert stopped.runs == 0

    ran = asyncio.Event()

    async def step() -> None:
        ran.set()

    _, task = await started(step, ran)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- Timers and the testing switch ----------------------------------------------------------------


async def test_the_testing_switch_turns_real_waiting_off() -> None:
    assert not is_testing()
    loop = asyncio.get_running_loop()
    with set_testing(True):
        started = loop.time()
        await REAL_TIME.sleep(3600)
        assert await REAL_TIME.wait(asyncio.Event(), 3600) is False
        assert loop.time() - started < 1
    assert not is_testing()


async def test_real_time_waits_for_an_event_without_a_task() -> None:
    event = asyncio.Event()
    tasks = len(asyncio.all_tasks())
    asyncio.get_running_loop().call_soon(event.set)
    assert await REAL_TIME.wait(event, 3600) is True
    assert len(asyncio.all_tasks()) == tasks
    assert await REAL_TIME.wait(asyncio.Event(), 0) is False  # no time left: the limit came first


async def test_a_sleep_timer_races_a_simulated_sleep_against_the_event() -> None:
    forever: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def never(seconds: float) -> None:
        await forever

    async def at_once(seconds: float) -> None:
        pass

    event = asyncio.Event()
    asyncio.get_running_loop().call_soon(event.set)
    assert await SleepTimer(never).wait(event, 60) is True
    assert await SleepTimer(at_once).wait(asyncio.Event(), 60) is False
    forever.cancel()
