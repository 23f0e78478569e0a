"""The calls and items of one Graph stream: per poll (soft) and per minute (strict)."""

from __future__ import annotations

from collections import deque

from monitor.runtime import Clock
from monitor.sources.graph.bounds import (
    MAX_CALLS_PER_FETCH,
    MAX_CALLS_PER_MINUTE,
    MAX_ITEMS_PER_FETCH,
    MAX_MESSAGE_PAGES,
    WINDOW_SECONDS,
)


class Cut(Exception):
    """A fetch stops here and saves where it is; `more`: poll again at once."""

    def __init__(self, more: bool, wait: float | None = None) -> None:
        super().__init__("fetch cut")
        self.more = more
        self.wait = wait


class FetchBudget:
    """The calls and items of one stream: per poll (soft), and per minute (strict)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls = 0
        self.items = 0
        self._window: deque[float] = deque()

    def start(self) -> None:
        """A new poll."""
        self.calls = self.items = 0

    def spend(self) -> None:
        """Before every call: `Cut` when the stream made `MAX_CALLS_PER_MINUTE` in the last minute."""
        now = self.clock().timestamp()
        while self._window and self._window[0] <= now - WINDOW_SECONDS:
            self._window.popleft()
        if len(self._window) >= MAX_CALLS_PER_MINUTE:
            raise Cut(more=False, wait=self.wait_for_room(now))
        self._window.append(now)
        self.calls += 1

    def check(self) -> None:
        """Where a poll can stop and continue later: `Cut` once it made its calls or read its items."""
        if self.calls >= MAX_CALLS_PER_FETCH or self.items >= MAX_ITEMS_PER_FETCH:
            raise Cut(more=True)

    def wait_for_room(self, now: float) -> float:
        """Seconds until the window has room for a whole poll (and a conversation's pages)."""
        excess = len(self._window) - (MAX_CALLS_PER_MINUTE - MAX_CALLS_PER_FETCH - MAX_MESSAGE_PAGES)
        if excess <= 0:
            return 0.0
        return max(0.0, self._window[excess - 1] + WINDOW_SECONDS - now)
