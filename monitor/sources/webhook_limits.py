"""Bounds on what webhook deliveries can make us do: a delivery acted on once and while it is
recent, and a bounded rate of nudges per account. Pure: the caller passes the time."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Hashable

DELIVERY_MAX_AGE = 3600.0
"""Seconds: an older delivery (by the newest event time its signed body carries) is not acted on.
X and Meta deliver within seconds; Meta retries a failed delivery for hours and X replays days on
request, but past an hour the poll at the interval (5 minutes to an hour with webhooks on) has read
the news: an older delivery would only spend API calls, and a captured one could be replayed."""
REPLAY_WINDOW = DELIVERY_MAX_AGE
"""Seconds a delivery's body is remembered: as long as it is young enough to be acted on."""
REPLAY_MEMORY_MAX = 50_000
"""Bodies remembered at most (16-byte digests, about 8 MB): an hour of 14 deliveries a second;
past it the oldest are forgotten first (a replay of those is still rate-limited)."""
NUDGE_BURST = 10
"""Deliveries an account may act on at once: a burst of news (a thread going viral)."""
NUDGE_REFILL_SECONDS = 6.0
"""Then one every 6 s (10 a minute): a nudged poll reads everything new, so more would only spend
the API budget (a poll each; replayed or forged deliveries would drive them)."""


class ReplayMemory:
    """The bodies seen in the last `window` seconds (at most `max_size`, the oldest forgotten first)."""

    def __init__(self, *, window: float = REPLAY_WINDOW, max_size: int = REPLAY_MEMORY_MAX) -> None:
        self.window, self.max_size = window, max_size
        self._seen: OrderedDict[bytes, float] = OrderedDict()

    def first_time(self, body: bytes, now: float) -> bool:
        """True the first time `body` comes within the window; remembers it."""
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at < self.window:
                break
            del self._seen[oldest]
        key = hashlib.sha256(body).digest()[:16]
        if key in self._seen:
            return False
        self._seen[key] = now
        if len(self._seen) > self.max_size:
            self._seen.popitem(last=False)
        return True

    def forget(self, body: bytes) -> None:
        """Forget `body` (it was not acted on after all: its sender delivers it again)."""
        self._seen.pop(hashlib.sha256(body).digest()[:16], None)

    def __len__(self) -> int:
        return len(self._seen)


class NudgeLimiter:
    """A token bucket per key (an account: the keys are bounded by the configuration)."""

    def __init__(self, *, burst: int = NUDGE_BURST, refill_seconds: float = NUDGE_REFILL_SECONDS) -> None:
        self.burst, self.refill_seconds = burst, refill_seconds
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, at)

    def allow(self, key: Hashable, now: float) -> bool:
        """Take a token for `key` if one is left."""
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - at) / self.refill_seconds)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        return allowed
