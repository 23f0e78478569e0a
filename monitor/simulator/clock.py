"""Simulated time for the fakes and the code under test alike: a 15-minute rate window or a day of
scripted traffic passes in seconds of a test."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from monitor.runtime import REAL_TIME


class SimClock:
    """Simulated time running `speed` times faster than the real one, from `start`.

    `now()` (aware datetime) and `time()` (epoch seconds) for clocks; `sleep(seconds)` and
    `wait(event, seconds)` for waiting simulated seconds (a `runtime.Timer`); concurrent sleepers
    share one timeline.
    """

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._origin = time.monotonic()

    def time(self) -> float:
        return self.start.timestamp() + (time.monotonic() - self._origin) * self.speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        """Until `event` is set or `seconds` of simulated time have passed (a `runtime.Timer`)."""
        return await REAL_TIME.wait(event, max(0.0, seconds) / self.speed)

    async def until(self, when: datetime) -> None:
        """Sleep until the simulated time reaches `when`."""
        await self.sleep((when - self.now()).total_seconds())
