"""The one small interface every source implements, and the only errors it may raise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from monitor.domain.items import Rejected
from monitor.domain.model import Message


class SourceError(Exception):
    """Base of the errors a source raises; client libraries' errors are translated into these."""

    retry_after: float | None = None

    def __init__(self, message: str, *, retry_after: float | None = None, endpoint: str = "") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.endpoint = endpoint


class RateLimited(SourceError):
    """The API refused for rate limiting; `retry_after` seconds until it accepts again."""


class CredentialsRejected(SourceError):
    """The API rejected the account's token or keys (401/403, Graph error 190)."""


class TemporaryFailure(SourceError):
    """5xx, timeout, connection reset: try again later."""


class BadPayload(SourceError):
    """The API answered something we cannot parse: not JSON, or an envelope (the page around the
    items: `data`, `meta`, `paging`, `includes`) that is not what the API documents. A malformed
    *item* is not a BadPayload: it is set aside (`Batch.rejected`) and the page goes on."""


@dataclass(frozen=True)
class Batch:
    """What one fetch read: messages (all of them or none), the items set aside, and the cursor
    to save with them (it moves past the rejected items too)."""

    messages: Sequence[Message]
    cursor: str | None
    more: bool = False
    """True when the source stopped early (a page cap) and should be polled again soon (after the
    poller's MORE_POLL_DELAY, or `next_poll_after` when longer)."""
    next_poll_after: float | None = None
    """Seconds the source asks to wait before the next poll (rate-limit budget spacing)."""
    calls: int = field(default=1)
    rejected: Sequence[Rejected] = ()
    """Items that could not become messages: quarantined in the transaction of the messages."""


@dataclass(frozen=True)
class RateBudget:
    """What the API last said is left of a stream's rate-limit budget (for the metrics and the
    poller's wait reason). A source that has not called its API yet, or has no limits, has none."""

    remaining: Mapping[str, float] = field(default_factory=dict)
    """Endpoint (X: "GET /2/users/:id/mentions") or usage type (Graph API: "app", "business",
    "page") -> what is left: calls on X, percent (100 minus the highest usage) on the Graph API."""
    blocked_until: datetime | None = None
    """Until when the API refuses the stream outright (the Graph API's regain time), else None."""


NO_BUDGET = RateBudget()
"""The budget of a stream with no limits to report (the demo's)."""


class Source(Protocol):
    """A stream of one account: X mentions, X DMs, Messenger, Page comments, ..."""

    stream: str

    async def fetch(self, cursor: str | None) -> Batch:
        """Read everything after `cursor`; raise only SourceError subclasses."""
        ...

    def rate_budget(self) -> RateBudget:
        """The rate-limit budget as the API's last answer gave it; no I/O."""
        ...

    async def close(self) -> None:
        """Release what the source holds (sessions are usually shared and closed elsewhere)."""
        ...
