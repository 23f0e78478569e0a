"""How loops wait: `REAL_TIME` in production, a simulated timer in tests; `set_testing` turns
real waiting off, the one switch tests use (as stamina's `set_testing`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

Sleep = Callable[[float], Awaitable[None]]
"""Sleep this many seconds (`asyncio.sleep`, or a simulated clock's)."""

_testing = False


class set_testing:  # noqa: N801 - a function to its callers, a context manager too (as stamina's)
    """Turn waiting off (`on`) or back on, for every `RealTime` wait in this process: a sleep or
    a wait then only lets the other tasks run, and returns. In a `with` block, only for the block."""

    def __init__(self, on: bool) -> None:
        global _testing
        self._before = _testing
        _testing = on

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_exc: object) -> None:
        global _testing
        _testing = self._before


def is_testing() -> bool:
    return _testing


class Timer(Protocol):
    """How a loop waits: a number of seconds, or an event with a time limit."""

    async def sleep(self, seconds: float) -> None: ...

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        """Until `event` is set or `seconds` have passed: True when the event came first."""
        ...


class RealTime:
    """The event loop's time. A wait costs a timer, not a task (thousands of streams wait at once)."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0 if _testing else max(0.0, seconds))

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        if _testing:
            await asyncio.sleep(0)
            return event.is_set()
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await event.wait()
        except TimeoutError:
            return False
        return True


REAL_TIME = RealTime()


class SleepTimer:
    """A `Timer` over a simulated clock's `sleep`: a wait races that sleep against the event (a
    task per wait: for tests and simulations, not thousands of streams)."""

    def __init__(self, sleep: Sleep) -> None:
        self._sleep = sleep

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        waiting = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait((sleeping, waiting), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeping, waiting):
                task.cancel()
            await asyncio.gather(sleeping, waiting, return_exceptions=True)
        return sleeping.cancelled()  # the event came first
