"""The clocks: wall time as aware UTC datetimes, monotonic seconds for durations, Unix seconds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Wall time, an aware UTC datetime: when things happen (`utcnow` in production)."""

Monotonic = Callable[[], float]
"""Seconds on a clock that never goes back (`time.monotonic`): how long things take."""

UnixClock = Callable[[], float]
"""Wall time in seconds since the Unix epoch (`time.time`): the unit of the X API's rate windows
and `x-rate-limit-reset` headers."""


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)
