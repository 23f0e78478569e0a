"""`x.peer`: a competitor's public questions and replies, read with X's recent search within a daily
budget of posts read (docs/peers.md). Paging, cursors, rate windows, parsing and errors are the X
streams' own; this module adds the query, the 7-day reach and the read budget."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from tweepy.asynchronous import AsyncClient

from monitor.runtime import UnixClock
from monitor.secrets import EnvSecret
from monitor.sources.base import BadPayload, Batch, CheckResult, SourceError, check_failure
from monitor.sources.x.budget import RateBudgets, budgets_of
from monitor.sources.x.client import Answer, tweepy_client
from monitor.sources.x.lookup import ENDPOINT_USER_BY_USERNAME, lookup_user
from monitor.sources.x.payloads import ENDPOINT_SEARCH, TWITTER_EPOCH_MS, Page, decode_json, parse_tweets
from monitor.sources.x.streams import MAX_PAGES, PAGE_SIZE, TWEET_FIELDS, XTimelineSource, _Stop

if TYPE_CHECKING:
    from monitor.config import Peer

STREAM = "x.peer"
MIN_RESULTS = 10
"""Recent search's smallest `max_results`: a day's budget with fewer posts left reads no more."""
SEARCH_REACH = timedelta(days=7)
"""Recent search finds posts of the last 7 days only; X refuses a `since_id` older than that."""
REACH_MARGIN = timedelta(minutes=10)
"""A cursor this close to the 7-day edge is given up a little early: our clock and X's differ, and
a request refused for a `since_id` just too old would be refused at every poll."""


def snowflake_floor(at: datetime) -> int:
    """The smallest X id made at `at` (ids are snowflakes: their creation time is in them)."""
    return int(at.timestamp() * 1000 - TWITTER_EPOCH_MS) << 22


class ReadLedger(Protocol):
    """Where the posts read for each peer a UTC day are counted (monitor.store.peers.PeerStore)."""

    async def reserve(self, account_id: int, day: date, *, wanted: int, least: int, budget: int) -> int: ...

    async def settle(self, account_id: int, day: date, *, reserved: int, read: int) -> None: ...


class NoReads:
    """A ledger that grants no read: for a source that only checks (`check-config --online`)."""

    async def reserve(self, account_id: int, day: date, *, wanted: int, least: int, budget: int) -> int:
        return 0

    async def settle(self, account_id: int, day: date, *, reserved: int, read: int) -> None:
        return None


def peer_query(handle: str) -> str:
    """Customers' posts to the peer (`@` mentions, replies to its posts) and the peer's replies,
    retweets left out: at most 80 characters (X takes 512)."""
    return f"(@{handle} OR to:{handle} OR (from:{handle} is:reply)) -is:retweet"


def posts_read(payload: Mapping[str, Any]) -> int:
    """Posts an answer holds, as X bills them: its `data`, and any post in `includes`."""
    data = payload.get("data")
    includes = payload.get("includes")
    tweets = includes.get("tweets") if isinstance(includes, dict) else None
    return (len(data) if isinstance(data, list) else 0) + (len(tweets) if isinstance(tweets, list) else 0)


class XPeerSource(XTimelineSource):
    """A peer's stream: one recent-search query, newest first, since the cursor. Each request first
    reserves the posts it may return in the day's budget (`ReadLedger`) and asks no more; what did
    not come is given back. Out of budget, a fetch stops (a gap is kept) until the next UTC day."""

    def __init__(
        self,
        *,
        account_id: int,
        handle: str,
        user_id: str | None,
        daily_reads: int,
        ledger: ReadLedger,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            STREAM, endpoint=ENDPOINT_SEARCH, owned_reads=False, user_id=user_id or "", handle=handle, **kwargs
        )
        self._session: aiohttp.ClientSession = kwargs["session"]
        self._base_url: str | None = kwargs.get("base_url")
        self._timeout: float = kwargs.get("timeout", 30.0)
        self.account_id = account_id
        self.daily_reads = daily_reads
        self.ledger = ledger
        self.query = peer_query(handle)
        self.reads_out = False
        """The last fetch stopped because the day's budget was spent."""
        self._answer: Answer | None = None

    async def fetch(self, cursor: str | None) -> Batch:
        """Everything after `cursor` within the day's budget (docs/peers.md)."""
        self._current_client()
        if not self.user_id:
            self.user_id = await self._look_up()
        self.reads_out = False
        batch = await super().fetch(cursor)
        # Out of budget, more is not news: the next UTC day is, at the poll interval.
        return replace(batch, more=False) if self.reads_out else batch

    async def _look_up(self) -> str:
        """The peer's user id, by its handle (one request, the first time the stream is read)."""
        values = self._values or ("",)
        user = await lookup_user(
            self._session,
            self.handle or "",
            bearer_token=values[0],
            base_url=self._base_url,
            timeout_seconds=self._timeout,
            clock=self.clock,
        )
        return user.user_id

    def _check_request(self, client: AsyncClient) -> Awaitable[object]:
        """The search for posts newer than now: empty, nothing billed."""
        now = snowflake_floor(datetime.fromtimestamp(self.clock(), UTC))
        result: Awaitable[object] = client.search_recent_tweets(
            self.query, since_id=str(now), max_results=MIN_RESULTS, tweet_fields=TWEET_FIELDS
        )
        return result

    async def check(self) -> CheckResult:
        """The search with the stream's token (nothing billed), then, when the configuration does
        not give the peer's user id, the lookup of its handle (one user read)."""
        result = await super().check()
        if not result.ok or self.user_id:
            return result
        try:
            self.user_id = await self._look_up()
        except SourceError as exc:
            return check_failure(exc, ENDPOINT_USER_BY_USERNAME, datetime.fromtimestamp(self.clock(), UTC))
        return result

    def _answered(self, answer: Answer) -> None:
        super()._answered(answer)
        self._answer = answer

    def _reach(self, now: float) -> int:
        """The oldest X id recent search still serves (with REACH_MARGIN), as a snowflake floor."""
        return snowflake_floor(datetime.fromtimestamp(now, UTC) - SEARCH_REACH + REACH_MARGIN)

    async def _page(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        token: str | None = None,
        start_time: datetime | None = None,
    ) -> Page:
        """One page of the search: reserve, ask, count what came. A `since` beyond the 7-day reach
        is dropped (the API would refuse it: what is older is out of reach); a range that ends
        beyond it is empty."""
        now = self.clock()
        reach = self._reach(now)
        if until is not None and int(until) <= reach:
            return Page([], [])
        if since is not None and int(since) < reach:
            since = None
        if self._pages >= self.max_pages or self.budget.exhausted(now):
            raise _Stop
        day = datetime.fromtimestamp(now, UTC).date()
        size = await self.ledger.reserve(
            self.account_id, day, wanted=PAGE_SIZE, least=MIN_RESULTS, budget=self.daily_reads
        )
        if not size:
            self.reads_out = True
            raise _Stop
        params: dict[str, Any] = {
            "since_id": since,
            "until_id": until,
            "next_token": token,
            "start_time": start_time if since is None else None,  # X takes one of them
            "max_results": size,
            "tweet_fields": TWEET_FIELDS,
        }
        asked = {k: v for k, v in params.items() if v is not None}
        query = self.query

        def request(client: AsyncClient) -> Awaitable[object]:
            result: Awaitable[object] = client.search_recent_tweets(query, **asked)
            return result

        self._answer = None
        try:
            payload = await self._call(request)
        except Exception:
            await self._settle_failed(day, size)
            raise
        await self.ledger.settle(self.account_id, day, reserved=size, read=posts_read(payload))
        data = payload.get("data")
        if isinstance(data, list) and len(data) > size:
            raise BadPayload(
                f"{self.endpoint}: {len(data)} posts on one page, more than the max_results={size} asked",
                endpoint=self.endpoint,
            )
        return parse_tweets(
            payload, user_id=self.user_id, handle=self.handle, endpoint=self.endpoint, received_at=self._received()
        )

    async def _settle_failed(self, day: date, reserved: int) -> None:
        """A request that failed: an error status billed nothing; a 2xx body that could not be used
        billed the posts it holds (all reserved when it cannot be read); without an answer (a
        timeout, a reset) it may have been served: the reservation stays."""
        answer = self._answer
        if answer is None:
            return
        read = 0
        if 200 <= answer.status < 300:
            try:
                read = posts_read(decode_json(answer.body, self.endpoint))
            except BadPayload:
                return
        await self.ledger.settle(self.account_id, day, reserved=reserved, read=read)


def build_peer_source(
    peer: Peer,
    account_id: int,
    session: aiohttp.ClientSession,
    ledger: ReadLedger,
    *,
    environ: Mapping[str, str] = os.environ,
    clock: UnixClock = time.time,
    budgets: RateBudgets | None = None,
    timeout: float = 30.0,
    max_pages: int = MAX_PAGES,
) -> XPeerSource | None:
    """The stream of one configured peer; None when there is no token to read it with (the peers
    of a demo brand, whose traffic is generated)."""
    if peer.bearer_token_env is None:
        return None
    secret = EnvSecret(peer.bearer_token_env, environ)

    def credentials() -> tuple[str, ...] | None:
        value = secret.get()
        return None if value is None else (value,)

    initial = credentials()
    return XPeerSource(
        account_id=account_id,
        handle=peer.handle,
        user_id=peer.user_id,
        daily_reads=peer.daily_reads,
        ledger=ledger,
        client=tweepy_client(bearer_token=(initial or ("",))[0]),
        session=session,
        base_url=peer.api_base_url,
        budgets=budgets or budgets_of(session),
        clock=clock,
        timeout=timeout,
        max_pages=max_pages,
        credentials=credentials,
        make_client=lambda values: tweepy_client(bearer_token=values[0]),
        initial=initial,
    )
