"""The one small interface every source implements, and the only errors it may raise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from monitor.domain.cost import BillableRead
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


class PermissionMissing(CredentialsRejected):
    """The credentials are valid but not allowed this call (X 403, Graph #10 and #200-#299):
    `permission` names what is missing when the API says it (`pages_messaging`,
    `client-not-enrolled`), else None."""

    def __init__(
        self, message: str, *, permission: str | None = None, retry_after: float | None = None, endpoint: str = ""
    ) -> None:
        super().__init__(message, retry_after=retry_after, endpoint=endpoint)
        self.permission = permission


class TemporaryFailure(SourceError):
    """5xx, timeout, connection reset: try again later."""


class Unreachable(TemporaryFailure):
    """No answer at all: the connection was refused or reset, the name did not resolve, or the
    call timed out."""


class NotFound(SourceError):
    """The API knows no such account: an unknown X username or user id, a Page that does not
    exist or that the token cannot see."""


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
    billable: Sequence[BillableRead] = ()
    """Every resource the API returned that it bills (docs/cost.md), read again or not: the store
    counts each once per UTC day, in the transaction of the messages. Bounded by the fetch's page
    cap (a source's MAX_PAGES × PAGE_SIZE)."""


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

CheckStatus = Literal["ok", "rejected", "permission", "rate_limited", "unreachable", "not_found", "failed"]
"""What one call with a stream's credentials said: the token works; is refused (401, Graph 190);
lacks a permission (X 403, Graph #10/#200); is rate-limited; the API did not answer; the account
is unknown to the API; anything else (5xx, an answer that is not what the API documents)."""


@dataclass(frozen=True)
class CheckResult:
    """The answer to one `Source.check` call: what the API said of the stream's credentials."""

    status: CheckStatus
    endpoint: str
    """The call made (X: "GET /2/users/:id/mentions"; Graph: the path, "/v23.0/{page}/feed")."""
    detail: str = ""
    """The API's own words (an error's text), or what an ok answer showed."""
    permission: str | None = None
    """With "permission": what is missing, when the API names it."""
    retry_at: datetime | None = None
    """With "rate_limited": when the API accepts calls again, when it says."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def check_failure(exc: SourceError, endpoint: str, now: datetime) -> CheckResult:
    """The `CheckResult` of a check whose one call, to `endpoint`, raised `exc` (at `now`)."""
    where = endpoint
    detail = str(exc)
    if isinstance(exc, RateLimited):
        at = now + timedelta(seconds=exc.retry_after) if exc.retry_after is not None else None
        return CheckResult("rate_limited", where, detail, retry_at=at)
    if isinstance(exc, PermissionMissing):
        return CheckResult("permission", where, detail, permission=exc.permission)
    if isinstance(exc, CredentialsRejected):
        return CheckResult("rejected", where, detail)
    if isinstance(exc, Unreachable):
        return CheckResult("unreachable", where, detail)
    if isinstance(exc, NotFound):
        return CheckResult("not_found", where, detail)
    return CheckResult("failed", where, detail)


class Source(Protocol):
    """A stream of one account: X mentions, X DMs, Messenger, Page comments, ..."""

    stream: str

    async def fetch(self, cursor: str | None) -> Batch:
        """Read everything after `cursor`; raise only SourceError subclasses."""
        ...

    def rate_budget(self) -> RateBudget:
        """The rate-limit budget as the API's last answer gave it; no I/O."""
        ...

    async def check(self) -> CheckResult:
        """Call the API once, as cheaply as it allows, with the stream's credentials, and say
        what it answered (`check-config --online`); nothing is stored and the cursor is not
        needed. Never raises a SourceError: a failure is a result."""
        ...

    async def close(self) -> None:
        """Release what the source holds (sessions are usually shared and closed elsewhere)."""
        ...
