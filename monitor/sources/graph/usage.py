"""The Graph API's usage headers and blocks, and the `RateBudget` they give (docs/sources.md)."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.runtime import Clock
from monitor.sources.base import RateBudget
from monitor.sources.graph.bounds import MAX_REGAIN_SECONDS

SLOWDOWN_FROM = 75.0
"""Usage (%) above which the next poll is pushed back: Meta throttles at 100 %."""
MAX_SLOWDOWN = 8.0
"""Poll intervals between two polls at 100 % usage (linear from 1 at `SLOWDOWN_FROM`)."""


def finite(value: object) -> float | None:
    """A JSON number as a finite float; None for anything else (NaN, ±Infinity, text, booleans)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond a float
        return None
    return number if math.isfinite(number) else None


def regain_seconds(minutes: object) -> float:
    """`estimated_time_to_regain_access` (minutes) in seconds, in [0, `MAX_REGAIN_SECONDS`]:
    negative or not a number counts as 0 (not blocked); beyond the maximum, or infinite, as the
    maximum."""
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        return 0.0
    if isinstance(minutes, float) and math.isnan(minutes):
        return 0.0
    if minutes >= MAX_REGAIN_SECONDS / 60.0:
        return MAX_REGAIN_SECONDS
    return max(0.0, float(minutes) * 60.0)


@dataclass(frozen=True)
class Usage:
    """What the usage headers of one answer say (percentages of the limits)."""

    app: float | None = None
    business: float | None = None
    regain_seconds: float = 0.0
    """The longest `estimated_time_to_regain_access`, in seconds (0: not blocked)."""

    @property
    def highest(self) -> float:
        return max((u for u in (self.app, self.business) if u is not None), default=0.0)


def _percent(entry: object) -> float | None:
    if not isinstance(entry, dict):
        return None
    values = [finite(v) for k, v in entry.items() if k in ("call_count", "total_cputime", "total_time")]
    numbers = [v for v in values if v is not None]
    return max(numbers) if numbers else None


def parse_usage(headers: Mapping[str, str]) -> Usage:
    """Read `X-App-Usage` and `X-Business-Use-Case-Usage`; a malformed header counts as absent,
    and `estimated_time_to_regain_access` is believed up to `MAX_REGAIN_SECONDS` only."""
    lower = {k.lower(): v for k, v in headers.items()}
    app: float | None = None
    business: float | None = None
    regain = 0.0
    with contextlib.suppress(ValueError):
        app = _percent(json.loads(lower.get("x-app-usage", "null")))
    try:
        buc = json.loads(lower.get("x-business-use-case-usage", "null"))
    except ValueError:
        buc = None
    if isinstance(buc, dict):
        for entries in buc.values():
            for entry in entries if isinstance(entries, list) else [entries]:
                p = _percent(entry)
                if p is not None:
                    business = p if business is None else max(business, p)
                if isinstance(entry, dict):
                    regain = max(regain, regain_seconds(entry.get("estimated_time_to_regain_access")))
    return Usage(app, business, regain)


def slowdown(usage: float, interval: float) -> float | None:
    """Seconds until the next poll when usage (%) is high; None below `SLOWDOWN_FROM`."""
    if usage <= SLOWDOWN_FROM:
        return None
    share = min(1.0, (usage - SLOWDOWN_FROM) / (100.0 - SLOWDOWN_FROM))
    return interval * (1.0 + share * (MAX_SLOWDOWN - 1.0))


class UsageLimits:
    """What the answers to one token said of its limits: the last usage, and a block (a regain time
    or a throttling error) until which no call is made."""

    def __init__(self, *, interval: float, clock: Clock) -> None:
        self.interval = interval
        """Seconds between two polls when usage is low (what `slowdown` stretches)."""
        self.clock = clock
        self.last = Usage()
        self.remaining: dict[str, float] = {}
        """"app" and "business": 100 minus the highest usage (%) of the last answer."""
        self.blocked_until: datetime | None = None

    def observe(self, headers: Mapping[str, str]) -> Usage:
        """Note the usage headers of an answer (and the block they announce)."""
        usage = parse_usage(headers)
        self.last = usage
        for name, value in (("app", usage.app), ("business", usage.business)):
            if value is not None:
                self.remaining[name] = min(100.0, max(0.0, 100.0 - value))
        if usage.regain_seconds > 0:
            self.block(usage.regain_seconds)
        return usage

    def block(self, seconds: float) -> None:
        """No call for `seconds` from now (a longer block already in place stays)."""
        until = self.clock() + timedelta(seconds=seconds)
        if self.blocked_until is None or until > self.blocked_until:
            self.blocked_until = until

    def blocked_for(self) -> float:
        """Seconds left of the block; 0 when there is none."""
        if self.blocked_until is None:
            return 0.0
        return max(0.0, (self.blocked_until - self.clock()).total_seconds())

    def next_poll_after(self) -> float | None:
        """Seconds the streams should wait before their next poll (high usage, or a block)."""
        wait = slowdown(self.last.highest, self.interval)
        left = self.blocked_for()
        if left > 0:
            wait = max(wait or 0.0, left)
        return wait

    def rate_budget(self) -> RateBudget:
        """The `Source.rate_budget` of every stream calling with this token."""
        return RateBudget(remaining=dict(self.remaining), blocked_until=self.blocked_until)
