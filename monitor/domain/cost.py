"""What X bills for the reads and delivered events of an account, and how a monthly budget paces
its polls: pure (docs/cost.md says which X documents this follows, and when they were read)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

BillableKind = Literal["post_read", "owned_read", "dm_event_read", "activity_event", "activity_dm_event"]
"""`post_read`: a post returned by an X endpoint; `owned_read`: a post of the account's own
mentions or timeline read by its own app (cheaper); `dm_event_read`: a DM event returned;
`activity_event`: an X Activity API post event delivered (billed as a post);
`activity_dm_event`: a delivered `dm.received` or `chat.received` (billed as a DM event)."""

BILLABLE_KINDS: tuple[BillableKind, ...] = (
    "post_read",
    "owned_read",
    "dm_event_read",
    "activity_event",
    "activity_dm_event",
)

BILLED_ACTIVITY_EVENTS: Mapping[str, BillableKind] = {
    "post.create": "activity_event",
    "post.mention.create": "activity_event",
    "post.reply.create": "activity_event",
    "dm.received": "activity_dm_event",
    "chat.received": "activity_dm_event",
}
"""X Activity API events X bills (pricing.mdx, "Webhook events"); `dm.sent`, `chat.sent`,
`post.delete`, ... are not billed. Each delivered post event is billed as a post."""


@dataclass(frozen=True)
class BillableRead:
    """One resource X billed for: its kind and its id (a post id, a DM event id, an event uuid)."""

    kind: BillableKind
    resource_id: str


def activity_billable(event_type: str, resource_id: str) -> BillableRead | None:
    """What a delivered X Activity API event bills, named by `resource_id` (the post's id for a
    post event, else the event's `event_uuid`), or None when X does not bill that event type."""
    kind = BILLED_ACTIVITY_EVENTS.get(event_type)
    return None if kind is None else BillableRead(kind, resource_id)


@dataclass(frozen=True)
class Prices:
    """Dollars per billed resource (X's documented defaults; the config may change them)."""

    post_read: float = 0.005
    owned_read: float = 0.001
    dm_event_read: float = 0.010
    activity_post_event: float = 0.005
    activity_dm_event: float = 0.010

    def of(self, kind: BillableKind) -> float:
        """The price of one resource of `kind`."""
        if kind == "activity_event":
            return self.activity_post_event
        price: float = getattr(self, kind)
        return price


def spend(counts: Mapping[BillableKind, int], prices: Prices) -> float:
    """Dollars for these counts of billed resources."""
    return sum(n * prices.of(kind) for kind, n in counts.items())


def billing_day(at: datetime) -> date:
    """The UTC day X de-duplicates within (`at` must be aware)."""
    if at.tzinfo is None:
        raise ValueError("billing_day needs an aware datetime")
    return at.astimezone(UTC).date()


def unique_reads(reads: Iterable[BillableRead]) -> list[BillableRead]:
    """The reads once each (a page may name the same resource twice), in first-seen order."""
    return list(dict.fromkeys(reads))


PACE_START_SHARE = 0.8
"""Share of the month's budget spent at its current rate from which polls slow down: below it the
account polls at its configured interval."""
PACE_MAX_FACTOR = 60.0
"""Slowest pace: a budget never stops polling (silence would be a failure), it spaces polls at
most 60 times their interval (a 1-minute interval becomes an hour)."""


def poll_factor(*, spent: float, budget: float | None, days_elapsed: float, days_in_month: float) -> float:
    """How many times the configured interval to wait between polls so that the month's spend stays
    within `budget`: 1 while the spend projected at the current rate stays under PACE_START_SHARE of
    it, then the ratio of the projection to what is left to spend at that share, up to
    PACE_MAX_FACTOR (also once the budget is spent). No budget: 1."""
    if budget is None:
        return 1.0
    if spent >= budget:
        return PACE_MAX_FACTOR
    elapsed = max(days_elapsed, 1.0 / 24)  # the first hour of the month: no projection from minutes
    left = max(days_in_month - elapsed, 0.0)
    projected = spent + spent / elapsed * left
    allowed = PACE_START_SHARE * budget
    if projected <= allowed:
        return 1.0
    remaining = max(allowed - spent, 0.0)
    if remaining <= 0 or left <= 0:
        return PACE_MAX_FACTOR
    needed = projected - spent  # what the current rate would spend by the end of the month
    return min(PACE_MAX_FACTOR, max(1.0, needed / remaining))


def month_position(now: datetime) -> tuple[float, float]:
    """(days elapsed, days in the month) of the UTC month of `now`."""
    at = now.astimezone(UTC)
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return (at - start).total_seconds() / 86400, (nxt - start).total_seconds() / 86400
