"""Items of a page that cannot become messages: why (a fixed set of reasons), and when a time is
believable. Sources set such an item aside as a `Rejected`; the rest of the page goes on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple, get_args

from monitor.domain.model import Message

RejectReason = Literal[
    "bad_item",  # the item is not a JSON object
    "bad_id",  # its id is missing, of the wrong type, or not of the platform's form
    "missing_created_at",  # no creation time
    "bad_created_at",  # a creation time that is not a time with a zone
    "implausible_created_at",  # before the platform existed, or far after it was received
    "bad_text",  # the text is missing, null or not a string
    "bad_author",  # the author (author_id, sender_id, from) is malformed
    "bad_thread",  # what places it in a thread (conversation, parent, references) is malformed
    "bad_updated_time",  # (no longer set: a conversation with an unusable updated_time is read as updated now)
    "bad_field",  # another field the API documents is malformed (event_type, embedded lists)
]
REJECT_REASONS: tuple[RejectReason, ...] = get_args(RejectReason)
"""Every reason, in order: the only values of the metrics' `reason` label."""

DETAIL_MAX = 300
"""Characters kept of a rejection's detail (it names fields and places, never content)."""

FUTURE_SKEW = timedelta(minutes=2)
"""A creation time up to this far after its receive time is kept as is: the platform's clock and
ours drift apart by seconds (NTP), and the Graph API rounds to the second."""
FUTURE_LIMIT = timedelta(days=1)
"""Further ahead than this, a creation time is not a clock off by a little but a wrong value
(year 9999, a unit mix-up): the item is rejected. In between, it is clamped and flagged."""

LAUNCHED: dict[str, datetime] = {
    "x": datetime(2006, 3, 21, tzinfo=UTC),  # the first tweet
    "facebook": datetime(2004, 2, 4, tzinfo=UTC),  # thefacebook.com opened
    "instagram": datetime(2010, 10, 6, tzinfo=UTC),  # Instagram launched on the App Store
}
"""Nothing on a platform was created before it existed."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """An item set aside: its raw payload, why (`reason`), and which field where (`detail`)."""

    reason: RejectReason
    detail: str
    raw: Any
    """The item exactly as received (any JSON value)."""
    kind: str
    """What the item is (`tweet`, `dm_event`, `conversation`, `messenger_message`, `post`,
    `comment`): how to parse it again."""
    external_id: str | None = None
    """Its id, when that could be read."""
    context: dict[str, Any] = field(default_factory=dict)
    """What parsing it again needs besides the item (the conversation or post it came in, the
    usernames the page included)."""


@dataclass(frozen=True, slots=True)
class Settled:
    """A quarantined item parsed again (`inbox-monitor quarantine retry`): resolved when it became
    messages, else still set aside (with the reason this code gives)."""

    quarantine_id: int
    resolved: bool


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a parser made of some items: the messages, and the items set aside."""

    messages: list[Message] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class ItemError(ValueError):
    """Raised while reading one item: the item becomes a `Rejected`, the page goes on."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail[:DETAIL_MAX]

    def rejected(
        self, raw: Any, kind: str, external_id: str | None = None, context: dict[str, Any] | None = None
    ) -> Rejected:
        return Rejected(self.reason, self.detail, raw, kind, external_id, context or {})


class Stamp(NamedTuple):
    """A believable creation time, and the original when it was in the future and clamped (a
    tuple: one per item read)."""

    at: datetime
    clamped_from: datetime | None = None


def believable(
    value: datetime, *, received_at: datetime, channel: str, where: str, reason: RejectReason = "implausible_created_at"
) -> Stamp:
    """`value` (aware) as a creation time on `channel` of something received at `received_at`:
    kept, clamped to `received_at` (ahead by more than FUTURE_SKEW), or ItemError (before the
    platform existed, or ahead by more than FUTURE_LIMIT)."""
    launched = LAUNCHED[channel]
    if value < launched:
        raise ItemError(reason, f"{where}: {_iso(value)} is before {channel} existed ({launched.date().isoformat()})")
    ahead = value - received_at
    if ahead > FUTURE_LIMIT:
        raise ItemError(
            reason,
            f"{where}: {_iso(value)} is more than {_span(FUTURE_LIMIT)} after it was received ({_iso(received_at)})",
        )
    if ahead > FUTURE_SKEW:
        return Stamp(received_at, value)
    return Stamp(value)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")


def _span(d: timedelta) -> str:
    hours = d.total_seconds() / 3600
    value, unit = (hours / 24, "day") if hours >= 24 else (hours, "hour")
    return f"{value:g} {unit}{'' if value == 1 else 's'}"
