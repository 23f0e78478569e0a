"""The streams of an X account (`x.mentions`, `x.replies`, `x.dm`): each fetch reads the pages
after the cursor, within a page cap and the rate budget (see docs/sources.md, "X")."""

from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from tweepy.asynchronous import AsyncClient

from monitor.domain.cost import BillableKind, BillableRead
from monitor.domain.items import Rejected
from monitor.domain.model import Message
from monitor.runtime import UnixClock
from monitor.secrets import EnvSecret
from monitor.sources.base import (
    BadPayload,
    Batch,
    CheckResult,
    CredentialsRejected,
    RateBudget,
    RateLimited,
    Source,
    SourceError,
    check_failure,
)
from monitor.sources.x.budget import RateBudgets, RateWindow, StreamBudget, budgets_of
from monitor.sources.x.check import CHECK_DM_RESULTS, CHECK_END_TIME, CHECK_TIMELINE_RESULTS, missing_user
from monitor.sources.x.client import Answer, XClient, tweepy_client
from monitor.sources.x.cursor import Cursor, is_id, is_token, valid_ids
from monitor.sources.x.payloads import (
    ENDPOINT_DM_EVENTS,
    ENDPOINT_MENTIONS,
    ENDPOINT_TWEETS,
    Page,
    decode_json,
    parse_dm_events,
    parse_tweets,
)

if TYPE_CHECKING:
    from monitor.config import XAccount

log = logging.getLogger(__name__)

TWEET_FIELDS = [
    "created_at",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "author_id",
    "edit_history_tweet_ids",
]
TWEET_EXPANSIONS = ["author_id", "referenced_tweets.id"]
USER_FIELDS = ["username"]
DM_EVENT_FIELDS = ["id", "text", "event_type", "created_at", "dm_conversation_id", "sender_id"]
DM_EXPANSIONS = ["sender_id"]
PAGE_SIZE = 100
"""Items asked per page (`max_results`, the most X allows). A page holding more is refused."""
MAX_PAGES = 20
"""Requests one fetch makes at most. A backlog deeper than this is read by the next fetches (the
cursor keeps a gap), so one transaction of ingest holds a bounded batch; a stream that always has
more is then polled again only after the poller's MORE_POLL_DELAY (20 requests per 5 s at most)."""
MAX_BATCH_MESSAGES = MAX_PAGES * PAGE_SIZE
"""Messages one fetch holds at most (2,000): pages of at most PAGE_SIZE items, MAX_PAGES pages."""


class _Stop(Exception):
    """Internal: a fetch must stop before its next request (page cap or rate budget)."""


@dataclass
class _Chain:
    """One walk down a pagination chain, newest first: the X ids it met in (since, until), and
    the tokens it followed. An honest page holds items older than every page before it."""

    since: int | None = None
    until: int | None = None
    newest: int | None = None
    oldest: int | None = None
    tokens: set[str] = field(default_factory=set)

    def advance(self, ids: Iterable[int]) -> bool:
        """Take in a page's ids: True when one of them is older than any before."""
        fresh = [
            i
            for i in valid_ids(ids)
            if (self.since is None or i > self.since) and (self.until is None or i < self.until)
        ]
        if not fresh:
            return False
        progressed = self.oldest is None or min(fresh) < self.oldest
        self.newest = max(fresh) if self.newest is None else max(self.newest, *fresh)
        self.oldest = min(fresh) if self.oldest is None else min(self.oldest, *fresh)
        return progressed

    def follows(self, token: str) -> str | None:
        """Why `token` cannot be followed (repeated, or not a token), or None after noting it."""
        if not is_token(token):
            return "a pagination token that is not one"
        if token in self.tokens:
            return "a pagination token repeated"
        self.tokens.add(token)
        return None


@dataclass(frozen=True)
class _Read:
    """How the read of a range of a stream ended."""

    stopped: bool
    """Before the end of the range (page cap, budget, a token it cannot follow): a gap is left."""
    newest: int | None
    """The newest X id read in the range, None when it held nothing."""
    resume: str | None
    """Where the gap left by a stopped read resumes: an `until_id` or a pagination token."""


class _XSource(ABC):
    """What the X streams share: one tweepy client, the rate budget, the gap-filling fetch."""

    stream: str
    endpoint: str
    resume_by_id = False
    """Whether a gap resumes at an `until_id` (timelines) rather than a token (DMs)."""

    def __init__(
        self,
        *,
        user_id: str,
        handle: str | None,
        client: AsyncClient,
        session: aiohttp.ClientSession,
        base_url: str | None = None,
        budgets: RateBudgets | None = None,
        clock: UnixClock = time.time,
        timeout: float = 30.0,
        max_pages: int = MAX_PAGES,
        credentials: Callable[[], tuple[str, ...] | None] | None = None,
        make_client: Callable[[tuple[str, ...]], AsyncClient] | None = None,
        initial: tuple[str, ...] | None = None,
        credential_of: Callable[[tuple[str, ...]], str] = lambda values: values[0],
    ) -> None:
        self.user_id = user_id
        self.handle = handle
        self.credential_of = credential_of
        """Which of the secrets X counts the budget against (the bearer token, the user's access token)."""
        self.credentials = credentials
        """Reads the secrets again at each fetch (None when one is unset)."""
        self.make_client = make_client
        self._values = initial
        """The secrets the client was made with."""
        self.clock = clock
        if not 1 <= max_pages <= MAX_PAGES:
            raise ValueError(f"max_pages must be between 1 and {MAX_PAGES}, not {max_pages}")
        self.max_pages = max_pages
        self.budget = StreamBudget(
            budgets or budgets_of(session),
            base_url=base_url or "",
            endpoint=self.endpoint,
            credential=credential_of(initial) if initial else "",
        )
        self.api = XClient(
            client,
            session,
            endpoint=self.endpoint,
            on_answer=self._answered,
            clock=clock,
            base_url=base_url,
            timeout=timeout,
        )
        self._pages = 0
        self._rejected: list[Rejected] = []
        """Items set aside by the pages of the current fetch."""
        self._billable: list[BillableRead] = []
        """What the pages of the current fetch returned that X bills (bounded by the page cap)."""
        self._anomalies: set[str] = set()
        """What the API did wrong in this fetch's pagination (logged on change)."""
        self._reported: set[str] = set()
        self._dropped: str | None = None
        """The last stored cursor found unusable (logged once)."""

    @property
    def window(self) -> RateWindow:
        """The rate window this stream spends (shared with the streams on the same credential)."""
        return self.budget.window

    def rate_budget(self) -> RateBudget:
        """What X's last answer said is left of this stream's endpoint window."""
        return self.budget.rate_budget()

    async def close(self) -> None:
        """The session is shared and closed by its owner; release our share of the budget."""
        self.budget.release()

    async def fetch(self, cursor: str | None) -> Batch:
        """Everything after `cursor`, all pages; or up to the page cap / budget, with a gap that
        the next fetch fills first (docs/sources.md, "X" > "Cursors")."""
        self._current_client()
        self._start()
        state = self._cursor(cursor)
        messages: dict[str, Message] = {}
        if state.gap:
            read = await self._read(messages, state.since, state.resume)
            if read.stopped:
                return self._batch(messages, Cursor(state.newest, True, state.since, read.resume), stopped=True)
            state = Cursor(state.newest)
        read = await self._read(messages, state.newest, None)
        if read.newest is None:
            return self._batch(messages, state, stopped=read.stopped)
        top = str(max(read.newest, int(state.newest or 0)))
        if read.stopped:
            return self._batch(messages, Cursor(top, True, state.newest, read.resume), stopped=True)
        return self._batch(messages, Cursor(top), stopped=False)

    @abstractmethod
    async def _read(self, into: dict[str, Message], since: str | None, resume: str | None) -> _Read:
        """Read the items after `since` (None: as far back as the API goes), from `resume` (None:
        the newest) down, into `into`."""

    @abstractmethod
    def _check_request(self, client: AsyncClient) -> Awaitable[object]:
        """The cheapest request of the stream's endpoint (`check`): monitor.sources.x.check."""

    async def check(self) -> CheckResult:
        """One request with the stream's current credentials, nothing stored (`check-config
        --online`); its answer still tells the shared rate window what is left."""
        try:
            self._current_client()
            answer = await self.api.call(self._check_request)
            payload = decode_json(answer.body, self.endpoint)
        except SourceError as exc:
            return check_failure(exc, self.endpoint, datetime.fromtimestamp(self.clock(), UTC))
        missing = missing_user(payload)
        if missing is not None:
            return CheckResult("not_found", self.endpoint, f"{missing} (user_id {self.user_id})")
        return CheckResult("ok", self.endpoint)

    def _answered(self, answer: Answer) -> None:
        """Every answer (an error's too) tells the budget what is left."""
        self.budget.observe(answer.headers, self.clock())

    def _current_client(self) -> None:
        """Follow a rotated token ($NAME or $NAME_FILE changed): a new client, same session."""
        if self.credentials is None or self.make_client is None:
            return
        values = self.credentials()
        if values is None:
            raise CredentialsRejected(
                f"{self.handle or self.user_id}: the account's token is not set", endpoint=self.endpoint
            )
        if values != self._values:
            self._values = values
            self.api.use(self.make_client(values))
            self.budget.spend_from(self.credential_of(values))

    def _start(self) -> None:
        self._pages = 0
        self._rejected = []
        self._billable = []
        self._anomalies = set()

    def _received(self) -> datetime:
        """Now, as the receive time of the page just answered."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def _anomaly(self, what: str) -> None:
        """Note that the API broke its pagination rules in this fetch (logged on change)."""
        self._anomalies.add(what)

    def _cursor(self, text: str | None) -> Cursor:
        """The stored cursor; one this stream cannot use (a 30-digit id, a mangled text) is
        dropped, logged once, and the stream reads again from the newest items."""
        try:
            state = Cursor.decode(text)
            if self.resume_by_id and state.resume is not None and not is_id(state.resume):
                raise ValueError(f"not a cursor of an X timeline: its resume is not an X id ({state.resume[:40]!r})")
        except ValueError as exc:
            if text != self._dropped:
                self._dropped = text
                log.warning(
                    "stored cursor dropped", extra={"stream": self.stream, "user_id": self.user_id, "error": str(exc)}
                )
            return Cursor()
        return state

    async def _call(self, request: Callable[[AsyncClient], Awaitable[object]]) -> dict[str, Any]:
        """One API request within the page cap and the budget (else _Stop): its JSON body."""
        if self._pages >= self.max_pages or self.budget.exhausted(self.clock()):
            raise _Stop
        self.budget.spend(self.clock())
        self._pages += 1
        answer = await self.api.call(request)
        payload = decode_json(answer.body, self.endpoint)
        data = payload.get("data")
        if isinstance(data, list) and len(data) > PAGE_SIZE:  # before parsing: a bounded batch
            raise BadPayload(
                f"{self.endpoint}: {len(data)} items on one page, more than the max_results={PAGE_SIZE} asked",
                endpoint=self.endpoint,
            )
        self._bill(data)
        return payload

    @property
    @abstractmethod
    def billable_kind(self) -> BillableKind:
        """What X bills each item returned by this stream's endpoint as."""

    def billed(self) -> list[BillableRead]:
        """What the last fetch or history page returned that X bills (a backfill stores it)."""
        return list(self._billable)

    def _bill(self, data: object) -> None:
        """Note each item of a page's `data` X bills for: every one returned, malformed or not
        (X bills what it sends), named by its id; an item without one cannot be told apart."""
        if not isinstance(data, list):
            return
        for item in data:
            item_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(item_id, str | int) and not isinstance(item_id, bool):
                self._billable.append(BillableRead(self.billable_kind, str(item_id)))

    async def _history(self, page: Callable[[], Awaitable[Page]]) -> Page:
        """One page read on its own (a backfill's); out of budget, RateLimited."""
        self._start()
        try:
            return await page()
        except _Stop:
            raise RateLimited(
                f"{self.endpoint}: no request left in this rate window",
                retry_after=self.budget.spacing(self.clock()),
                endpoint=self.endpoint,
            ) from None

    def _batch(self, messages: dict[str, Message], cursor: Cursor, *, stopped: bool) -> Batch:
        now = self.clock()
        budget_out = self.budget.exhausted(now)
        self._report()
        return Batch(
            list(messages.values()),
            cursor.encode(),
            more=stopped and not budget_out,
            next_poll_after=self.budget.spacing(now),
            calls=self._pages,
            rejected=list(self._rejected),
            billable=list(self._billable),
        )

    def _report(self) -> None:
        """Log the pagination anomalies of this fetch when they change: once when they start,
        once when a fetch goes without them."""
        if self._anomalies == self._reported:
            return
        extra = {"stream": self.stream, "user_id": self.user_id, "endpoint": self.endpoint}
        if self._anomalies:
            log.warning("X pagination broken", extra={**extra, "anomalies": "; ".join(sorted(self._anomalies))})
        else:
            log.info("X pagination recovered", extra=extra)
        self._reported = set(self._anomalies)

    def _keep(self, into: dict[str, Message], page: Page) -> None:
        """Take a page's messages (and its rejected items) into the fetch's batch."""
        self._rejected += page.rejected
        for m in page.messages:  # two versions of an edited tweet: keep the newest text
            known = into.get(m.external_id)
            if known is None or int(m.raw.get("id", 0)) >= int(known.raw.get("id", 0)):
                into[m.external_id] = m


class XTimelineSource(_XSource):
    """`x.mentions` (customers' tweets mentioning the account) or `x.replies` (its own tweets); a
    subclass reads another timeline of tweets (`endpoint`, `_page`) the same way."""

    resume_by_id = True

    def __init__(self, stream: str, *, endpoint: str | None = None, owned_reads: bool = True, **kwargs: Any) -> None:
        self.stream = stream
        self.endpoint = endpoint or (ENDPOINT_MENTIONS if stream == "x.mentions" else ENDPOINT_TWEETS)
        self.owned_reads = owned_reads
        """Whether X bills this timeline as "owned reads" (the account owns the developer app)."""
        super().__init__(**kwargs)

    @property
    def billable_kind(self) -> BillableKind:
        return "owned_read" if self.owned_reads else "post_read"

    async def _page(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        token: str | None = None,
        start_time: datetime | None = None,
    ) -> Page:
        params: dict[str, Any] = {
            "since_id": since,
            "until_id": until,
            "pagination_token": token,
            "start_time": start_time,
            "max_results": PAGE_SIZE,
            "tweet_fields": TWEET_FIELDS,
            "expansions": TWEET_EXPANSIONS,
            "user_fields": USER_FIELDS,
        }
        if self.stream == "x.replies":
            params["exclude"] = ["retweets"]
        asked = {k: v for k, v in params.items() if v is not None}
        mentions = self.stream == "x.mentions"

        def request(client: AsyncClient) -> Awaitable[object]:
            method = client.get_users_mentions if mentions else client.get_users_tweets
            result: Awaitable[object] = method(self.user_id, **asked)
            return result

        payload = await self._call(request)
        return parse_tweets(
            payload, user_id=self.user_id, handle=self.handle, endpoint=self.endpoint, received_at=self._received()
        )

    async def _read(self, into: dict[str, Message], since: str | None, resume: str | None) -> _Read:
        """Read (since, resume) newest first, page by page, `resume` being an `until_id`.

        The chain ends at an empty page, a page without a next token, or a first page with
        nothing in (since, until). It stops early at the page cap, the budget, or a token it
        cannot follow: repeated, malformed, or leading to nothing older than the pages before (an
        API that ignores it serves the same page again). The gap left resumes below the oldest
        item by `until_id`, not by the token, so the next fetch goes on where this one stopped and
        never reads the same pages again; an API that ignores `until_id` too ends the gap there.
        """
        until = resume
        chain = _Chain(int(since) if since else None, int(until) if until else None)

        def end(stopped: bool) -> _Read:
            return _Read(stopped, chain.newest, str(chain.oldest) if chain.oldest is not None else until)

        token: str | None = None
        while True:
            try:
                page = await self._page(since=since, until=until, token=token)
            except _Stop:
                return end(True)
            self._keep(into, page)
            if not chain.advance(page.ids):
                if not page.ids:
                    return end(False)
                if token is None:
                    self._anomaly("a page with nothing in the range asked")
                    return end(False)
                self._anomaly("a pagination token leading to nothing older")
                return end(True)
            token = page.next_token
            if not token:
                return end(False)
            if (why := chain.follows(token)) is not None:
                self._anomaly(why)
                return end(True)

    async def history_page(self, start_time: datetime, token: str | None) -> Page:
        """One page of the timeline back to `start_time` (for backfills), newest first."""
        return await self._history(lambda: self._page(token=token, start_time=start_time))

    def _check_request(self, client: AsyncClient) -> Awaitable[object]:
        """The timeline up to CHECK_END_TIME: empty, nothing billed."""
        method = client.get_users_mentions if self.stream == "x.mentions" else client.get_users_tweets
        result: Awaitable[object] = method(self.user_id, max_results=CHECK_TIMELINE_RESULTS, end_time=CHECK_END_TIME)
        return result


class XDmSource(_XSource):
    """`x.dm`: the account's direct messages (OAuth 1.0a user context)."""

    stream = "x.dm"
    endpoint = ENDPOINT_DM_EVENTS

    @property
    def billable_kind(self) -> BillableKind:
        return "dm_event_read"

    async def _page(self, token: str | None) -> Page:
        params: dict[str, Any] = {
            "dm_event_fields": DM_EVENT_FIELDS,
            "event_types": "MessageCreate",
            "expansions": DM_EXPANSIONS,
            "user_fields": USER_FIELDS,
            "max_results": PAGE_SIZE,
        }
        if token:
            params["pagination_token"] = token

        def request(client: AsyncClient) -> Awaitable[object]:
            result: Awaitable[object] = client.get_direct_message_events(user_auth=True, **params)
            return result

        payload = await self._call(request)
        return parse_dm_events(
            payload, user_id=self.user_id, handle=self.handle, endpoint=self.endpoint, received_at=self._received()
        )

    async def _read(self, into: dict[str, Message], since: str | None, resume: str | None) -> _Read:
        """Pages from the token `resume` (None: the newest) down to `since`. dm_events has no
        since_id: read until an event at or before `since` shows up. A page with nothing older
        than the ones before, or a token that cannot be followed (repeated, malformed), ends the
        chain: a token is the only way further down."""
        token = resume
        chain = _Chain()
        floor = int(since) if since else -1
        if token is not None:
            chain.follows(token)
        while True:
            try:
                page = await self._page(token)
            except _Stop:
                return _Read(True, chain.newest, token)
            kept = Page([m for m in page.messages if int(m.external_id) > floor], page.ids, rejected=page.rejected)
            self._keep(into, kept)
            if not chain.advance(page.ids):
                if page.ids:
                    self._anomaly("a pagination token leading to nothing older")
                return _Read(False, chain.newest, None)
            token = page.next_token
            if not token or (chain.oldest or 0) <= floor:
                return _Read(False, chain.newest, None)
            if (why := chain.follows(token)) is not None:
                self._anomaly(why)
                return _Read(False, chain.newest, None)

    def _check_request(self, client: AsyncClient) -> Awaitable[object]:
        """The newest DM event: one read at most."""
        result: Awaitable[object] = client.get_direct_message_events(
            user_auth=True, max_results=CHECK_DM_RESULTS, event_types="MessageCreate"
        )
        return result

    async def history_page(self, start_time: datetime, token: str | None) -> Page:
        """One page of DM events, newest first; the caller stops at `start_time`."""
        page = await self._history(lambda: self._page(token))
        return Page(
            [m for m in page.messages if m.created_at >= start_time],
            page.ids,
            page.next_token,
            page.errors,
            page.rejected,
        )


XSource = XTimelineSource | XDmSource


def build_x_sources(
    account: XAccount,
    session: aiohttp.ClientSession,
    *,
    environ: Mapping[str, str] = os.environ,
    clock: UnixClock = time.time,
    budgets: RateBudgets | None = None,
    timeout: float = 30.0,
    max_pages: int = MAX_PAGES,
) -> list[Source]:
    """The streams of one X account: mentions, replies and, with `dm = true`, DMs."""
    return list(
        x_sources(account, session, environ=environ, clock=clock, budgets=budgets, timeout=timeout, max_pages=max_pages)
    )


def x_sources(
    account: XAccount,
    session: aiohttp.ClientSession,
    *,
    environ: Mapping[str, str] = os.environ,
    clock: UnixClock = time.time,
    budgets: RateBudgets | None = None,
    timeout: float = 30.0,
    max_pages: int = MAX_PAGES,
) -> list[XSource]:
    """Like `build_x_sources`, typed as the X sources (the backfill reads their history)."""

    def reader(*names: str | None) -> Callable[[], tuple[str, ...] | None]:
        """Read at each fetch: $NAME, or the file named by $NAME_FILE (rotation without restart)."""
        secrets = [EnvSecret(n, environ) for n in names]

        def read() -> tuple[str, ...] | None:
            values = [s.get() for s in secrets]
            return None if any(v is None for v in values) else tuple(v for v in values if v is not None)

        return read

    common: dict[str, Any] = {
        "user_id": account.user_id,
        "handle": account.handle,
        "session": session,
        "base_url": account.api_base_url,
        "budgets": budgets or budgets_of(session),
        "clock": clock,
        "timeout": timeout,
        "max_pages": max_pages,
    }
    bearer_of = reader(account.bearer_token_env)
    initial = bearer_of()  # None (unset): the first fetch says so with CredentialsRejected
    bearer = (initial or ("",))[0]
    sources: list[XSource] = [
        XTimelineSource(
            stream,
            client=tweepy_client(bearer_token=bearer),
            credentials=bearer_of,
            make_client=lambda values: tweepy_client(bearer_token=values[0]),
            initial=initial,
            owned_reads=account.owned_reads,
            **common,
        )
        for stream in ("x.mentions", "x.replies")
    ]
    if account.dm:
        keys_of = reader(
            account.consumer_key_env,
            account.consumer_secret_env,
            account.access_token_env,
            account.access_token_secret_env,
        )
        initial_keys = keys_of()
        keys = initial_keys or ("", "", "", "")
        sources.append(
            XDmSource(
                client=tweepy_client(*keys),
                credentials=keys_of,
                make_client=lambda values: tweepy_client(*values),
                initial=initial_keys,
                credential_of=lambda values: values[2],
                **common,
            )
        )
    return sources


def billable_kinds(account: XAccount) -> tuple[BillableKind, ...]:
    """What X can bill this account's reads as, by kind (the streams `build_x_sources` makes, and
    the X Activity API's events when it is on): the kinds whose counters start at zero."""
    kinds: list[BillableKind] = ["owned_read" if account.owned_reads else "post_read"]
    if account.dm:
        kinds.append("dm_event_read")
    if account.activity_mode() != "off":
        kinds += ["activity_event", "activity_dm_event"]
    return tuple(kinds)
