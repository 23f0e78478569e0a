"""Domain records: messages as sources produce them, threads, and the waits computed from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Channel = Literal["x", "facebook"]
Direction = Literal["inbound", "outbound"]
ThreadKind = Literal["public", "private"]
WaitKind = Literal["first", "next"]

CHANNELS: tuple[Channel, ...] = ("x", "facebook")


@dataclass(frozen=True, slots=True)
class Message:
    """One ingested message, normalised by its source (no I/O, no clock)."""

    external_id: str
    thread_key: str
    thread_kind: ThreadKind
    direction: Direction
    created_at: datetime
    text: str
    author_id: str | None = None
    author_handle: str | None = None
    url: str | None = None
    is_retweet: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    future_created_at: datetime | None = None
    """The creation time the platform gave when it was ahead of the receive time (by more than
    the allowed skew): `created_at` is then the receive time (monitor.domain.items.believable)."""
    reply_to_brand: bool = False
    """It replies to the account itself (X: `in_reply_to_user_id` is the account's user id;
    Facebook: a reply to one of the Page's comments)."""
    label: bool | None = None
    """A person's correction (True: needs a reply, False: does not); None: the rules decide."""
    app_id: str | None = None
    """The Meta app that sent it (an outbound Messenger message), when a webhook echo said so."""
    text_available: bool = True
    """False for an end-to-end encrypted chat (XChat): `text` is empty, the platform never gives it,
    and no rule reads it (every inbound one needs a reply)."""


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """A stored message as the wait computation sees it."""

    external_id: str
    direction: Direction
    created_at: datetime
    text: str
    author_id: str | None = None
    is_retweet: bool = False
    reply_to_brand: bool = False
    label: bool | None = None
    """A person's correction (True: needs a reply, False: does not); None: the rules decide."""
    app_id: str | None = None
    """The Meta app that sent it, when known (monitor.domain.agents)."""
    text_available: bool = True
    """False for an encrypted chat: no text to classify."""


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    """A stored thread: where a reply is expected, and from whom."""

    id: int
    account_id: int
    kind: str
    customer_id: str | None
    customer_handle: str | None
    url: str | None = None


ThreadMessageLike = ThreadMessage | Message
"""What the wait computation reads of a message (both have these fields): a stored one, or one just
received (not copied into a ThreadMessage: the ingest path handles every message once)."""


@dataclass(frozen=True, slots=True)
class Wait:
    """A question waiting for a reply: open from `opened_at` until `closed_at` (None: still open)."""

    seq: int
    kind: WaitKind
    opened_at: datetime
    opened_by: str
    question_ids: tuple[str, ...]
    closed_at: datetime | None = None
    closed_by: str | None = None

    @property
    def questions(self) -> int:
        return len(self.question_ids)
