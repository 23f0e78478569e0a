"""Capped exponential backoff with full jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

MAX_DOUBLINGS = 30
"""Doublings counted at most: 2**30 times the base passes any cap, and a larger power would only
risk an overflow after a very long outage."""


@dataclass
class Backoff:
    """How long to wait after `failures` failures in a row: a uniform draw in
    [0, min(cap_seconds, base_seconds × 2^(failures - 1))] ("full jitter": retries spread out
    instead of hitting a recovering service together)."""

    base_seconds: float = 1.0
    """The longest wait after the first failure."""
    cap_seconds: float = 300.0
    """The longest wait ever."""
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if not 0 < self.base_seconds <= self.cap_seconds:
            raise ValueError(
                f"backoff needs 0 < base_seconds <= cap_seconds, not {self.base_seconds} and {self.cap_seconds}"
            )

    def bound(self, failures: int) -> float:
        """The longest wait after `failures` failures in a row (at least one)."""
        return min(self.cap_seconds, self.base_seconds * 2.0 ** min(max(failures, 1) - 1, MAX_DOUBLINGS))

    def delay(self, failures: int) -> float:
        """The wait after `failures` failures in a row (at least one)."""
        return self.rng.uniform(0, self.bound(failures))
