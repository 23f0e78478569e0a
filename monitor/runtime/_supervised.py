"""`Supervised`: run an async step again and again, failure kept as state, backing off."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from monitor.runtime._backoff import Backoff
from monitor.runtime._clock import Clock, utcnow
from monitor.runtime._health import CRASHED, FAILING, Health
from monitor.runtime._timer import REAL_TIME, Timer

Step = Callable[[], Awaitable[float | None]]
"""One run: returns the seconds until the next one, or None for the interval (jittered)."""
OnFailure = Callable[[BaseException], Awaitable[None]]

STOP_RECANCEL_SECONDS = 1.0
"""How long `stop()` waits for the step to end before it cancels it again. On Python 3.11,
`asyncio.wait_for` loses a cancellation that comes as the awaitable it wraps finishes
(python/cpython#86296, fixed in 3.12): a step reading a stream for ever (X Activity) would
then never end, and shutdown would hang."""


class Supervised:
    """Runs `step` every `interval_seconds` (± `jitter` of it) until stopped.

    - A step may say when it wants to run next (a deadline, a cron occurrence): that delay is kept
      as it is, not jittered.
    - Failure is state (`health`): a step that raises is logged once when it starts failing and
      once when it recovers, then retried after `backoff`. An exception in `expected` is a
      foreseen failure (the database away); any other is a bug, logged with its traceback,
      retried all the same: a background task never dies of one.
    - `on_failure` runs after each failure (leases stop the polls they can no longer vouch for).
    - `wake()` (or setting the `wake` event given) ends the current wait, an interval or a
      backoff alike: whoever wakes it has news the step must see (a new deadline, an ingest).
      `settle_seconds` then lets a burst of news land before the step runs.
    - `stop()` ends `run()` cleanly: the wait or the step under way is cancelled and `run()`
      returns.
    """

    def __init__(
        self,
        name: str,
        step: Step,
        *,
        interval_seconds: float,
        backoff: Backoff,
        jitter: float = 0.0,
        expected: tuple[type[BaseException], ...] = (),
        on_failure: OnFailure | None = None,
        wake: asyncio.Event | None = None,
        settle_seconds: float = 0.0,
        health: Health | None = None,
        logger: logging.Logger | None = None,
        clock: Clock = utcnow,
        timer: Timer = REAL_TIME,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter is a share of the interval in [0, 1), not {jitter}")
        self.name = name
        self.step = step
        self.interval_seconds = interval_seconds
        self.backoff = backoff
        self.jitter = jitter
        self.expected = expected
        self.on_failure = on_failure
        self.woken = wake if wake is not None else asyncio.Event()
        self.settle_seconds = settle_seconds
        self.health = health or Health(name, logger or logging.getLogger("monitor.runtime"))
        self.clock = clock
        self.timer = timer
        self.rng = rng or backoff.rng
        self.runs = 0
        """Steps run so far, failed or not."""
        self._task: asyncio.Task[object] | None = None
        self._stopping = False
        self._stopped = asyncio.Event()
        self._cancels = 0
        """Cancellations `stop()` has asked for (taken back once `run()` has ended on one)."""

    def wake(self) -> None:
        """Run the step now (after `settle_seconds`), whatever the wait under way."""
        self.woken.set()

    async def run(self) -> None:
        """Run the step until `stop()` (returns) or a cancellation (raised)."""
        if self._task is not None:
            raise RuntimeError(f"{self.name}: already running")
        self._task = asyncio.current_task()
        self._stopped.clear()
        self._cancels = 0
        try:
            while not self._stopping:
                delay = await self.once()
                if self._stopping:  # the step itself asked to stop
                    break
                if delay > 0 and await self.timer.wait(self.woken, delay) and self.settle_seconds > 0:
                    await self.timer.sleep(self.settle_seconds)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            task = asyncio.current_task()
            if task is not None:  # stopped as asked: not a cancellation for whoever awaits run()
                for _ in range(min(self._cancels, task.cancelling())):
                    task.uncancel()
        finally:
            self._task = None
            self._stopped.set()

    async def once(self) -> float:
        """Run the step once, note how it went; the seconds to wait before the next run."""
        self.woken.clear()  # news from now on is for the next run
        self.runs += 1
        try:
            delay = await self.step()
        except Exception as exc:  # noqa: BLE001 - whatever a step raises is its state, not the loop's end
            foreseen = isinstance(exc, self.expected)
            self.health.failed(exc, status=FAILING if foreseen else CRASHED, traceback=not foreseen)
            if self.on_failure is not None:
                try:
                    await self.on_failure(exc)
                except Exception:
                    self.health.logger.exception("%s: handling a failure failed", self.name)
            return self.backoff.delay(self.health.failures)
        self.health.succeeded(self.clock())
        if delay is None:
            return self.interval_seconds * (1 + self.rng.uniform(-self.jitter, self.jitter))
        return max(0.0, delay)

    async def stop(self) -> None:
        """End `run()`: the wait or the step under way is cancelled; returns once `run()` has."""
        self._stopping = True
        task = self._task
        if task is None or task is asyncio.current_task():
            return
        while not self._stopped.is_set():
            task.cancel()
            self._cancels += 1
            try:
                await asyncio.wait_for(self._stopped.wait(), STOP_RECANCEL_SECONDS)
            except TimeoutError:
                continue  # the cancellation was lost: ask again
