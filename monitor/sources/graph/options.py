"""The tunables of the Graph streams (docs/sources.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class GraphOptions:
    """Tunables of the Graph streams, Facebook's and Instagram's (production defaults)."""

    backfill: timedelta = timedelta(days=3)
    """How far back the first poll of a new account reads."""
    overlap: timedelta = timedelta(minutes=2)
    """Every floor is moved back by this much (items that appear late); re-reads are deduped."""
    page_limit: int = 100
    """`limit` of the conversation, feed, media and comment lists."""
    messages_limit: int = 25
    """Messages embedded per conversation (`messages.limit(n)`); older ones are paged."""
    active_days: float = 14.0
    """A post leaves the active set after this many days without a comment."""
    sweep_every: timedelta = timedelta(hours=1)
    """How often the feed (the media) is swept for older posts commented again."""
    sweep_days: float = 90.0
    """How far back a sweep reads the feed."""
    timeout: float = 30.0
    """Seconds for one HTTP call, connection included."""
