"""The X Activity stream's events not stored yet (PostgreSQL away): kept in order, bounded, the
oldest dropped first (why and how they are retried: docs/webhooks.md, "X Activity API")."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.domain.cost import BillableRead
from monitor.domain.model import Message

MAX_UNSAVED_EVENTS = 60_000
"""Events one stream keeps while PostgreSQL is away. X delivers a stream at up to 250 posts/s
(x-api/fundamentals/rate-limits.mdx): 60,000 is a 4-minute outage (a restart, a failover, a
timeout) at that rate, and hours at a brand's usual few events a minute. A kept chat holds 1.2 KB, a
post event's billed id 0.4 KB (bench/bench_unsaved.py), so a full queue is 75 MB at most; past
it the oldest goes first (counted and logged): what an outside party sends must stay bounded."""


@dataclass(frozen=True)
class Unsaved:
    """What one event brought to one account and could not store yet."""

    account_id: int
    messages: Sequence[Message]
    billable: Sequence[BillableRead]


class UnsavedEvents:
    """A bounded first-in, first-out queue of `Unsaved` events, counting per account what it
    holds and what it dropped."""

    def __init__(self, limit: int = MAX_UNSAVED_EVENTS) -> None:
        self.limit = limit
        self._queue: deque[Unsaved] = deque()
        self.held: dict[int, int] = {}
        """Account id -> its events in the queue."""
        self.dropped: dict[int, int] = {}
        """Account id -> its events dropped (the queue was full), since the process started."""

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, event: Unsaved) -> Unsaved | None:
        """Keep `event` last; the oldest event dropped to make room, if the queue was full."""
        dropped = None
        if len(self._queue) >= self.limit:
            dropped = self._queue.popleft()
            self._count(dropped, -1)
            self.dropped[dropped.account_id] = self.dropped.get(dropped.account_id, 0) + 1
        self._queue.append(event)
        self._count(event, 1)
        return dropped

    def first(self) -> Unsaved | None:
        """The oldest event, left in the queue."""
        return self._queue[0] if self._queue else None

    def done(self, event: Unsaved) -> None:
        """`event`, the oldest, is out of the queue (stored, or failed for good)."""
        if self._queue and self._queue[0] is event:
            self._count(self._queue.popleft(), -1)

    def _count(self, event: Unsaved, n: int) -> None:
        self.held[event.account_id] = self.held.get(event.account_id, 0) + n
