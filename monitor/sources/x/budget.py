"""X's rate windows (`x-rate-limit-*`), shared by the streams that spend them, and a stream's
share as the Source contract's `RateBudget` (see docs/sources.md, "X" > "Rate windows")."""

from __future__ import annotations

import hashlib
import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp

from monitor.sources.base import RateBudget

RATE_WAIT_MAX = 15 * 60 + 60.0
"""Seconds a rate-limit reset may park a stream at most: X's windows last 15 minutes, plus a
minute of clock skew. A reset announced further ahead (`x-rate-limit-reset: 99999999999`) is not
believed: the stream asks again after this and reads the next answer's headers."""
RATE_WAIT_MIN = 10.0
"""Seconds a 429 waits at least, when its reset is already past (our clock or its header is
wrong): a 429 that keeps coming costs one request per 10 s, not a tight loop."""


@dataclass
class RateWindow:
    """One endpoint's budget for one credential, as the `x-rate-limit-*` headers tell it."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
    """Epoch seconds when the window ends and `limit` requests are allowed again."""
    users: int = 0
    """Sources of this process that spend this budget (they space their polls together)."""
    spent: dict[int, int] = field(default_factory=dict)
    """Requests each source (by `id`) sent in the current window: at most its `share`."""

    def observe(self, limit: int | None, remaining: int, reset: float, source: object = None) -> None:
        """Take in an answer's headers; `source` sent the request (it counts in a new window)."""
        if self.reset is None or self.remaining is None or reset > self.reset + 1:
            self.limit, self.remaining, self.reset = limit, remaining, reset
            self.spent = {} if source is None else {id(source): 1}
        elif reset >= self.reset - 1:  # same window: requests in flight may answer out of order
            self.remaining = min(self.remaining, remaining)
            self.limit = limit if limit is not None else self.limit
        # else: an answer from an older window, arriving late

    def spend(self, now: float, source: object = None) -> None:
        """Count a request about to be sent by `source` (the headers correct the count after)."""
        if self.remaining is not None and self.reset is not None and now < self.reset:
            self.remaining = max(0, self.remaining - 1)
            if source is not None:
                self.spent[id(source)] = self.spent.get(id(source), 0) + 1

    def exhausted(self, now: float, source: object = None) -> bool:
        """No request left in the window, or none left of `source`'s share."""
        if self.remaining is None or self.reset is None or now >= self.reset:
            return False
        share = self.share
        return self.remaining <= 0 or (
            source is not None and share is not None and self.spent.get(id(source), 0) >= share
        )

    @property
    def share(self) -> int | None:
        """Requests one source may send in a window: an equal part of the limit. A stream whose
        API always has more (or that catches up a backlog) then leaves the others theirs: one
        account never spends the window of the app's other accounts."""
        return None if self.limit is None else math.ceil(self.limit / max(1, self.users))

    def spacing(self, now: float, margin: float = 1.0, source: object = None) -> float | None:
        """Seconds to wait before the next request so that the budget (of `source`, its share)
        lasts until the reset."""
        if self.remaining is None or self.reset is None or now >= self.reset:
            return None
        if self.exhausted(now, source):
            return self.reset - now + margin
        return max(1, self.users) * (self.reset - now) / self.remaining


def rate_reset(value: str, now: float) -> float | None:
    """An `x-rate-limit-reset` header as epoch seconds, at most RATE_WAIT_MAX after `now`; None
    when it is not a finite number."""
    try:
        reset = float(value)
    except ValueError:
        return None
    if not math.isfinite(reset):
        return None
    return min(reset, now + RATE_WAIT_MAX)


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds a 429 asks to wait, between RATE_WAIT_MIN and RATE_WAIT_MAX; None without a
    readable reset (the poller backs off exponentially)."""
    reset = rate_reset(headers.get("x-rate-limit-reset", ""), now)
    return None if reset is None else max(RATE_WAIT_MIN, reset - now)


class RateBudgets:
    """The budgets of one process, keyed by (base url, credential, endpoint): X counts an
    app's bearer token and a user's keys separately, per endpoint."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str, str], RateWindow] = {}

    def window(self, base_url: str, credential: str, endpoint: str) -> RateWindow:
        """The window of `endpoint` for `credential` (kept by a hash of it, never the secret)."""
        key = (base_url, hashlib.sha256(credential.encode()).hexdigest()[:16], endpoint)
        return self._windows.setdefault(key, RateWindow())


_BUDGETS: weakref.WeakKeyDictionary[aiohttp.ClientSession, RateBudgets] = weakref.WeakKeyDictionary()


def budgets_of(session: aiohttp.ClientSession) -> RateBudgets:
    """The budgets shared by every source using `session` (one per process in production)."""
    return _BUDGETS.setdefault(session, RateBudgets())


class StreamBudget:
    """One stream's part of its rate window: it counts, spaces and stops the stream's requests,
    takes in the `x-rate-limit-*` headers of its answers, and reports what is left."""

    def __init__(self, budgets: RateBudgets, *, base_url: str, endpoint: str, credential: str) -> None:
        self._budgets = budgets
        self._base_url = base_url
        self.endpoint = endpoint
        self.credential = credential
        """Which of the stream's secrets X counts its requests against."""
        self.window = budgets.window(base_url, credential, endpoint)
        self.window.users += 1
        self.remaining: dict[str, float] = {}
        """Endpoint -> what the last answer said is left of its window (for the metrics)."""

    def spend_from(self, credential: str) -> None:
        """Move to the window of a new credential: X counts requests per token, so streams that
        shared the old token (or had none at start) no longer space their polls together."""
        if credential == self.credential:
            return
        self.release()
        self.credential = credential
        self.window = self._budgets.window(self._base_url, credential, self.endpoint)
        self.window.users += 1

    def release(self) -> None:
        """Leave the window to the streams still using it."""
        self.window.users = max(0, self.window.users - 1)

    def observe(self, headers: Mapping[str, str], now: float) -> None:
        """Take in an answer's rate-limit headers (an answer without readable ones changes nothing)."""
        try:
            remaining = max(0, int(headers["x-rate-limit-remaining"]))
            reset = rate_reset(headers["x-rate-limit-reset"], now)
        except (KeyError, ValueError):
            return
        if reset is None:
            return
        try:
            limit: int | None = int(headers["x-rate-limit-limit"])
        except (KeyError, ValueError):
            limit = None
        self.window.observe(limit, remaining, reset, self)
        self.remaining[self.endpoint] = float(remaining)

    def spend(self, now: float) -> None:
        """Count a request about to be sent."""
        self.window.spend(now, self)

    def exhausted(self, now: float) -> bool:
        """No request left in the window, or none left of this stream's share."""
        return self.window.exhausted(now, self)

    def spacing(self, now: float) -> float | None:
        """Seconds to wait before the next request so that this stream's share lasts the window."""
        return self.window.spacing(now, source=self)

    def rate_budget(self) -> RateBudget:
        """What the API last said is left, as the Source contract reports it."""
        return RateBudget(remaining=dict(self.remaining))
