"""X API v2 sources (mentions, the brand's replies, DMs) through tweepy's AsyncClient.

Parsing is pure (`parse_tweets`, `parse_dm_events`): a malformed tweet or event is set aside
(`Page.rejected`, then `Batch.rejected`) and the page goes on; fetching pages, spacing requests on
the `x-rate-limit-*` headers and translating every client error happen in `_XSource`.

Requests go through the process' one aiohttp session. tweepy only ever calls
`session.request(method, url, params=, json=, headers=)`, so each client gets a thin view of the
shared session (`ApiSession`) that adds per-request middlewares (aiohttp >= 3.12): one keeps
every response's status, headers and body before tweepy looks at them (so rate-limit headers are
read on every answer, and errors are translated by status even when tweepy fails to decode an
HTML error body), one (with `api_base_url`) rewrites `https://api.twitter.com` to another
scheme/host/port. Accounts with different base URLs therefore share the one session. The clients
use `return_type=aiohttp.ClientResponse` and `wait_on_rate_limit=False`: we parse the body.

A fetch reads every page back to the cursor. When the rate budget (or the page cap) runs out
first, it stores the pages read and leaves a gap in the cursor, filled by the next fetch (see
`Cursor`): polls never exceed the budget, and a burst larger than a window is never lost.
Everything the API controls is bounded: bytes per answer, items per page and per fetch, pages
per fetch, how long a rate-limit reset can park a stream, which ids and tokens a cursor holds
(docs/bounds.md lists the bounds and their reasons).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

import aiohttp
import tweepy
from aiohttp import hdrs
from tweepy.asynchronous import AsyncClient
from yarl import URL

from monitor.domain.items import ItemError, Parsed, Rejected, believable
from monitor.domain.model import Message
from monitor.logs import excerpt
from monitor.runtime import UnixClock
from monitor.secrets import EnvSecret
from monitor.sources.base import (
    BadPayload,
    Batch,
    CredentialsRejected,
    RateBudget,
    RateLimited,
    Source,
    SourceError,
    TemporaryFailure,
)
from monitor.sources.fields import Fields

if TYPE_CHECKING:
    from aiohttp.client_middlewares import ClientHandlerType, ClientMiddlewareType

    from monitor.config import XAccount

log = logging.getLogger(__name__)

API_HOST = "api.twitter.com"
ENDPOINT_MENTIONS = "GET /2/users/:id/mentions"
ENDPOINT_TWEETS = "GET /2/users/:id/tweets"
ENDPOINT_DM_EVENTS = "GET /2/dm_events"

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
MAX_RESPONSE_BYTES = 4 << 20
"""Bytes of one answer read at most (4 MiB); a larger body is refused, unread. Honest pages are far
below: 100 tweets with their expansions are ~0.3 MB at most (280 characters of up to 4 bytes,
referenced tweets and users included), 100 DM events ~1 MB with 10,000-character messages. The cap
also bounds the memory a hostile body takes once decoded: 4 MiB of `{},` become ~100 MB of Python
objects (measured), 8 MiB would double it."""
MAX_ID = 2**63 - 1
"""X ids are snowflakes: 64-bit signed integers, so at most 19 decimal digits."""
MAX_TOKEN_CHARS = 512
"""Longest pagination token followed or kept in a cursor; X's are a few dozen characters, and a
token goes into the next request's URL (servers refuse request lines over ~8 KB)."""
RATE_WAIT_MAX = 15 * 60 + 60.0
"""Seconds a rate-limit reset may park a stream at most: X's windows last 15 minutes, plus a
minute of clock skew. A reset announced further ahead (`x-rate-limit-reset: 99999999999`) is not
believed: the stream asks again after this and reads the next answer's headers."""
RATE_WAIT_MIN = 10.0
"""Seconds a 429 waits at least, when its reset is already past (our clock or its header is
wrong): a 429 that keeps coming costs one request per 10 s, not a tight loop."""
TWITTER_EPOCH_MS = 1288834974657
"""Snowflake ids carry their creation time: (id >> 22) + this, in milliseconds."""
X_ID_MAX_DIGITS = 19
"""X ids are 64-bit snowflakes sent as decimal strings; the API's own id parameters accept
`^[0-9]{1,19}$`. A longer string is not an id (and would not fit PostgreSQL's bigint)."""
X_ID_LIMIT = 2**63
"""Snowflakes stay below 2**63 (the sign bit is never used)."""
TWEET = "tweet"
DM_EVENT = "dm_event"
"""Kinds of the items the X streams set aside (`Rejected.kind`)."""


# --------------------------------------------------------------------------------------------
# Pure parsing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One response page: its messages (skipped items left out), the items set aside, and its
    paging facts."""

    messages: list[Message]
    ids: list[int]
    """Ids of every item of the page, skipped and rejected ones included (they still move the
    cursor); a rejected item whose id could not be read has none."""
    next_token: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    """Partial errors the API reported next to the data (a referenced tweet not found, ...)."""
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def newest_id(self) -> int | None:
        return max(self.ids) if self.ids else None

    @property
    def oldest_id(self) -> int | None:
        return min(self.ids) if self.ids else None


def decode_json(body: bytes, endpoint: str) -> dict[str, Any]:
    """A response body as a JSON object, or BadPayload saying what it is instead."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        start = excerpt(body[:200].decode("utf-8", "replace"), 40)
        raise BadPayload(
            f"{endpoint}: the body is not JSON ({exc}; {len(body)} bytes starting {start!r})", endpoint=endpoint
        ) from None
    if not isinstance(value, dict):
        raise BadPayload(f"{endpoint}: expected a JSON object, got {type(value).__name__}", endpoint=endpoint)
    return value


def snowflake_time(tweet_id: str) -> datetime:
    """When a snowflake id was made."""
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + TWITTER_EPOCH_MS) / 1000, UTC)


def tweet_url(username: str | None, tweet_id: str) -> str:
    return f"https://x.com/{username}/status/{tweet_id}" if username else f"https://x.com/i/web/status/{tweet_id}"


class _Check:
    """Reads the envelope of a page (not its items), raising BadPayload naming the endpoint and
    the place."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def fail(self, where: str, what: str) -> BadPayload:
        return BadPayload(f"{self.endpoint}: {where} {what}", endpoint=self.endpoint)

    def mapping(self, value: object, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"is not an object ({type(value).__name__})")
        return value

    def items(self, value: object, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, f"is not a list ({type(value).__name__})")
        return value

    def text(
        self, item: Mapping[str, Any], key: str, where: str, *, required: bool = True, digits: bool = False
    ) -> str | None:
        if key not in item or item[key] is None:
            if required:
                raise self.fail(where, f"has no {key}")
            return None
        value = item[key]
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}", f"is not a string ({type(value).__name__})")
        if digits and not (value.isascii() and value.isdigit()):
            raise self.fail(f"{where}.{key}", f"is not an id ({value[:40]!r})")
        return value

    def envelope(self, payload: object) -> tuple[list[Any], dict[str, str], str | None, list[dict[str, Any]]]:
        """data, usernames by user id, next_token, partial errors of a v2 response."""
        body = self.mapping(payload, "the response")
        errors = body.get("errors")
        if errors is not None:
            errors = [e if isinstance(e, dict) else {"detail": str(e)} for e in self.items(errors, "errors")]
        meta = self.mapping(body["meta"], "meta") if "meta" in body else None
        if "data" not in body:
            if meta is None:
                detail = "; ".join(str(e.get("detail") or e.get("title") or e) for e in errors or [])
                raise self.fail("the response", f"has neither data nor meta{': ' + detail if detail else ''}")
            count = meta.get("result_count", 0)
            if not isinstance(count, int) or isinstance(count, bool):
                raise self.fail("meta.result_count", "is not an integer")
            if count != 0:
                raise self.fail("the response", f"has no data but meta.result_count is {count}")
        data = self.items(body.get("data", []), "data")
        users: dict[str, str] = {}
        if "includes" in body:
            includes = self.mapping(body["includes"], "includes")
            for i, user in enumerate(self.items(includes.get("users", []), "includes.users")):
                u = self.mapping(user, f"includes.users[{i}]")
                uid = self.text(u, "id", f"includes.users[{i}]", digits=True)
                name = self.text(u, "username", f"includes.users[{i}]", required=False)
                if uid is not None and name is not None:
                    users[uid] = name
        next_token = self.text(meta, "next_token", "meta", required=False) if meta else None
        return data, users, next_token, errors or []


def is_x_id(value: str) -> bool:
    """An id as X documents them: a decimal snowflake of at most 19 digits, below 2**63."""
    return 0 < len(value) <= X_ID_MAX_DIGITS and value.isascii() and value.isdigit() and int(value) < X_ID_LIMIT


def is_dm_conversation_id(value: str) -> bool:
    """`<user id>-<user id>` (one-to-one) or a snowflake (a group conversation)."""
    parts = value.split("-")
    return len(parts) <= 2 and all(is_x_id(p) for p in parts)


def _usernames(item: object, users: Mapping[str, str], *keys: str) -> dict[str, Any]:
    """What parsing a rejected item again needs of the page: the usernames of its users."""
    if not isinstance(item, dict):
        return {}
    known = {item[k]: users[item[k]] for k in keys if isinstance(item.get(k), str) and item[k] in users}
    return {"usernames": known} if known else {}


def one_item_page(raw: object, context: Mapping[str, Any]) -> dict[str, Any]:
    """A rejected item as the one-item page it came in (to parse it again)."""
    usernames = context.get("usernames") or {}
    return {
        "data": [raw],
        "includes": {"users": [{"id": k, "username": v} for k, v in usernames.items()]},
        "meta": {"result_count": 1},
    }


def parse_tweets(payload: object, *, user_id: str, handle: str | None, endpoint: str, received_at: datetime) -> Page:
    """Messages of one page of `/2/users/:id/mentions` or `/2/users/:id/tweets` for the account
    `user_id`, received at `received_at`. A malformed envelope raises BadPayload (naming the
    endpoint and the field); a malformed tweet is set aside in `Page.rejected`.

    Customers' tweets are inbound, in thread `conversation:customer`; the brand's replies to a
    customer are outbound in the customer's thread; the brand's other tweets are skipped. An
    edited tweet is stored under its original id, at the original's time.
    """
    data, users, next_token, errors = _Check(endpoint).envelope(payload)
    page = Page([], [], next_token, errors)
    for i, item in enumerate(data):
        tid: str | None = None
        try:
            tweet = Fields(item, f"data[{i}]")
            tid = tweet.identify(is_x_id, "an X id")
            page.ids.append(int(tid))  # even a rejected tweet moves the cursor
            message = _tweet(tweet, tid, user_id=user_id, handle=handle, users=users, received_at=received_at)
        except ItemError as exc:
            page.rejected.append(exc.rejected(item, TWEET, tid, _usernames(item, users, "author_id")))
            continue
        if message is not None:
            page.messages.append(message)
    return page


def _tweet(
    tweet: Fields, tid: str, *, user_id: str, handle: str | None, users: Mapping[str, str], received_at: datetime
) -> Message | None:
    """One tweet as a message (None: the brand's own post); ItemError naming a malformed field."""
    text = tweet.text("text", "bad_text")
    stamp = believable(
        tweet.time("created_at"), received_at=received_at, channel="x", where=f"{tweet.where}.created_at"
    )
    author = tweet.id("author_id", "bad_author", is_x_id, "an X id")
    conversation = tweet.id("conversation_id", "bad_thread", is_x_id, "an X id")
    reply_to = tweet.id("in_reply_to_user_id", "bad_thread", is_x_id, "an X id", required=False)
    kinds: list[str] = []
    replied_to: str | None = None
    for j, ref in enumerate(tweet.items("referenced_tweets", "bad_thread")):
        r = Fields(ref, f"{tweet.where}.referenced_tweets[{j}]")
        try:
            kinds.append(str(r.text("type", "bad_thread")))
            ref_id = r.id("id", "bad_thread", is_x_id, "an X id")
        except ItemError as exc:
            raise ItemError("bad_thread", exc.detail) from None
        if kinds[-1] == "replied_to":
            replied_to = ref_id
    history = tweet.items("edit_history_tweet_ids", "bad_thread") or [tid]
    if not all(isinstance(h, str) and is_x_id(h) for h in history):
        raise tweet.fail("bad_thread", "edit_history_tweet_ids", "holds something else than X ids")
    assert text is not None and author is not None and conversation is not None
    created_at, future = stamp.at, stamp.clamped_from
    original = min(history, key=int)
    if original != tid:  # an edit: the question was asked when the first version was posted
        first = snowflake_time(original)
        if datetime(2010, 11, 4, tzinfo=UTC) < first <= created_at:
            created_at, future = first, None
    if author == user_id:
        if reply_to is None or reply_to == user_id or "retweeted" in kinds:
            return None  # the brand's own posts (and replies to itself) open and close nothing
        name = users.get(author, handle)
        return Message(
            original,
            f"{conversation}:{reply_to}",
            "public",
            "outbound",
            created_at,
            text,
            author,
            name,
            tweet_url(name, tid),
            False,
            tweet.item,
            future,
        )
    username = users.get(author)
    return Message(
        original,
        f"{conversation}:{author}",
        "public",
        "inbound",
        created_at,
        text,
        author,
        username,
        tweet_url(username, tid),
        "retweeted" in kinds,
        tweet.item,
        future,
        # An answer to the brand's words: a reply to one of the brand's *replies*. A reply to
        # the brand's own post (the conversation's root: a campaign tweet) is judged on its text.
        reply_to_brand=reply_to == user_id and replied_to is not None and replied_to != conversation,
    )


def parse_dm_events(payload: object, *, user_id: str, handle: str | None, endpoint: str, received_at: datetime) -> Page:
    """Messages of one page of `/2/dm_events` for the account `user_id`: thread = the DM
    conversation, private; the account's own events are outbound; joins and leaves skipped.
    A malformed event is set aside in `Page.rejected`."""
    data, users, next_token, errors = _Check(endpoint).envelope(payload)
    page = Page([], [], next_token, errors)
    for i, item in enumerate(data):
        eid: str | None = None
        try:
            event = Fields(item, f"data[{i}]")
            eid = event.identify(is_x_id, "an X id")
            page.ids.append(int(eid))
            message = _dm(event, eid, user_id=user_id, handle=handle, users=users, received_at=received_at)
        except ItemError as exc:
            page.rejected.append(exc.rejected(item, DM_EVENT, eid, _usernames(item, users, "sender_id")))
            continue
        if message is not None:
            page.messages.append(message)
    return page


def _dm(
    event: Fields, eid: str, *, user_id: str, handle: str | None, users: Mapping[str, str], received_at: datetime
) -> Message | None:
    """One DM event as a message (None: not a message, a join or a leave)."""
    if event.text("event_type", "bad_field") != "MessageCreate":
        return None
    text = event.text("text", "bad_text")
    stamp = believable(
        event.time("created_at"), received_at=received_at, channel="x", where=f"{event.where}.created_at"
    )
    sender = event.id("sender_id", "bad_author", is_x_id, "an X id")
    conversation = event.id("dm_conversation_id", "bad_thread", is_dm_conversation_id, "a DM conversation id")
    assert text is not None and sender is not None and conversation is not None
    outbound = sender == user_id
    return Message(
        eid,
        conversation,
        "private",
        "outbound" if outbound else "inbound",
        stamp.at,
        text,
        sender,
        users.get(sender, handle if outbound else None),
        f"https://x.com/messages/{conversation}",
        False,
        event.item,
        stamp.clamped_from,
    )


def parse_rejected(
    stream: str,
    kind: str,
    raw: object,
    context: Mapping[str, Any],
    *,
    user_id: str,
    handle: str | None,
    received_at: datetime,
) -> Parsed:
    """A set-aside item parsed again by this code (`inbox-monitor quarantine retry`), as the
    one-item page of its stream's endpoint."""
    payload = one_item_page(raw, context)
    if kind == DM_EVENT:
        page = parse_dm_events(
            payload, user_id=user_id, handle=handle, endpoint=ENDPOINT_DM_EVENTS, received_at=received_at
        )
    elif kind == TWEET:
        page = parse_tweets(
            payload,
            user_id=user_id,
            handle=handle,
            received_at=received_at,
            endpoint=ENDPOINT_MENTIONS if stream == "x.mentions" else ENDPOINT_TWEETS,
        )
    else:
        raise ValueError(f"not an item kind of the X streams: {kind!r}")
    return Parsed(page.messages, page.rejected)


# --------------------------------------------------------------------------------------------
# Cursors
# --------------------------------------------------------------------------------------------


def is_id(text: str) -> bool:
    """An X id: a decimal snowflake of 1 to 19 digits, at most 2^63 - 1."""
    return 0 < len(text) <= 19 and text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID


def is_token(text: str) -> bool:
    """A pagination token fit to follow and to keep: 1 to MAX_TOKEN_CHARS printable ASCII
    characters without a space."""
    return 0 < len(text) <= MAX_TOKEN_CHARS and text.isascii() and text.isprintable() and " " not in text


def valid_ids(ids: Iterable[int]) -> list[int]:
    """The ids that are X ids (a hostile page may hold a 30-digit one): only these move a cursor."""
    return [i for i in ids if 0 < i <= MAX_ID]


@dataclass(frozen=True)
class Cursor:
    """Where a stream stands: every item up to `newest` is stored, except maybe one gap.

    A fetch that had to stop early (its page cap, or the rate budget) stores what it read and
    leaves a gap: the items after `since` (exclusive, None: as far back as the API goes) and
    before `resume` (an `until_id`, or a DM pagination token). The next fetch fills the gap
    first. Without a gap the cursor is just the newest id, as a plain string. `newest` and
    `since` are X ids, `resume` an X id or a token (`is_id`, `is_token`): anything else raises
    ValueError, so a cursor never sends the API an id it would refuse.
    """

    newest: str | None = None
    gap: bool = False
    since: str | None = None
    resume: str | None = None

    def __post_init__(self) -> None:
        for name, value in (("newest", self.newest), ("since", self.since)):
            if value is not None and not is_id(value):
                raise ValueError(f"not a cursor of an X stream: its {name} is not an X id ({value[:40]!r})")
        if self.resume is not None and not is_token(self.resume):
            raise ValueError(f"not a cursor of an X stream: its resume is not a token ({self.resume[:40]!r})")

    def encode(self) -> str | None:
        if not self.gap:
            return self.newest
        return urlencode({"newest": self.newest or "", "since": self.since or "", "resume": self.resume or ""})

    @classmethod
    def decode(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        if text.isascii() and text.isdigit():
            return cls(text)
        fields = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
        if set(fields) != {"newest", "since", "resume"}:
            raise ValueError(f"not a cursor of an X stream: {text[:80]!r}")
        return cls(fields["newest"] or None, True, fields["since"] or None, fields["resume"] or None)


# --------------------------------------------------------------------------------------------
# Rate budgets
# --------------------------------------------------------------------------------------------


@dataclass
class RateWindow:
    """One endpoint's budget for one credential, as the `x-rate-limit-*` headers tell it."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
    """Epoch seconds when the window ends and `limit` requests are allowed again."""
    users: int = 0
    """Sources of this process that spend this budget (they space their polls together)."""
    spent: dict[int, int] = field(default_factory=dict)
    """Requests each source (by `id`) sent in the current window: at most its `share`."""

    def observe(self, limit: int | None, remaining: int, reset: float, source: object = None) -> None:
        """Take in an answer's headers; `source` sent the request (it counts in a new window)."""
        if self.reset is None or self.remaining is None or reset > self.reset + 1:
            self.limit, self.remaining, self.reset = limit, remaining, reset
            self.spent = {} if source is None else {id(source): 1}
        elif reset >= self.reset - 1:  # same window: requests in flight may answer out of order
            self.remaining = min(self.remaining, remaining)
            self.limit = limit if limit is not None else self.limit
        # else: an answer from an older window, arriving late

    def spend(self, now: float, source: object = None) -> None:
        """Count a request about to be sent by `source` (the headers correct the count after)."""
        if self.remaining is not None and self.reset is not None and now < self.reset:
            self.remaining = max(0, self.remaining - 1)
            if source is not None:
                self.spent[id(source)] = self.spent.get(id(source), 0) + 1

    def exhausted(self, now: float, source: object = None) -> bool:
        """No request left in the window, or none left of `source`'s share."""
        if self.remaining is None or self.reset is None or now >= self.reset:
            return False
        share = self.share
        return self.remaining <= 0 or (
            source is not None and share is not None and self.spent.get(id(source), 0) >= share
        )

    @property
    def share(self) -> int | None:
        """Requests one source may send in a window: an equal part of the limit. A stream whose
        API always has more (or that catches up a backlog) then leaves the others theirs: one
        account never spends the window of the app's other accounts."""
        return None if self.limit is None else math.ceil(self.limit / max(1, self.users))

    def spacing(self, now: float, margin: float = 1.0, source: object = None) -> float | None:
        """Seconds to wait before the next request so that the budget (of `source`, its share)
        lasts until the reset."""
        if self.remaining is None or self.reset is None or now >= self.reset:
            return None
        if self.exhausted(now, source):
            return self.reset - now + margin
        return max(1, self.users) * (self.reset - now) / self.remaining


def rate_reset(value: str, now: float) -> float | None:
    """An `x-rate-limit-reset` header as epoch seconds, at most RATE_WAIT_MAX after `now`; None
    when it is not a finite number."""
    try:
        reset = float(value)
    except ValueError:
        return None
    if not math.isfinite(reset):
        return None
    return min(reset, now + RATE_WAIT_MAX)


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds a 429 asks to wait, between RATE_WAIT_MIN and RATE_WAIT_MAX; None without a
    readable reset (the poller backs off exponentially)."""
    reset = rate_reset(headers.get("x-rate-limit-reset", ""), now)
    return None if reset is None else max(RATE_WAIT_MIN, reset - now)


class RateBudgets:
    """The budgets of one process, keyed by (base url, credential, endpoint): X counts an
    app's bearer token and a user's keys separately, per endpoint."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str, str], RateWindow] = {}

    def window(self, base_url: str, credential: str, endpoint: str) -> RateWindow:
        import hashlib

        key = (base_url, hashlib.sha256(credential.encode()).hexdigest()[:16], endpoint)
        return self._windows.setdefault(key, RateWindow())


_BUDGETS: weakref.WeakKeyDictionary[aiohttp.ClientSession, RateBudgets] = weakref.WeakKeyDictionary()


def budgets_of(session: aiohttp.ClientSession) -> RateBudgets:
    """The budgets shared by every source using `session` (one per process in production)."""
    return _BUDGETS.setdefault(session, RateBudgets())


# --------------------------------------------------------------------------------------------
# The session tweepy sees
# --------------------------------------------------------------------------------------------


def rewrite_middleware(base_url: str) -> ClientMiddlewareType:
    """An aiohttp client middleware sending requests for api.twitter.com to `base_url`."""
    base = URL(base_url)

    async def rewrite(request: aiohttp.ClientRequest, handler: ClientHandlerType) -> aiohttp.ClientResponse:
        if request.url.host == API_HOST:
            request.url = request.url.with_scheme(base.scheme).with_host(base.host or "").with_port(base.explicit_port)
            host = request.url.host_port_subcomponent
            if host is not None:
                request.headers[hdrs.HOST] = host
        return await handler(request)

    return rewrite


class ApiSession:
    """What a tweepy client takes for its session: the shared session, with this source's
    middlewares and timeout added to every request. tweepy does not close it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        middlewares: Sequence[ClientMiddlewareType],
        timeout: aiohttp.ClientTimeout,
    ) -> None:
        self.session = session
        self.middlewares = tuple(middlewares)
        self.timeout = timeout

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:
        # Per-request middlewares replace the session's own (the project's session has none).
        return self.session.request(method, url, middlewares=self.middlewares, timeout=self.timeout, **kwargs)


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


@dataclass
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _Stop(Exception):
    """Internal: a fetch must stop before its next request (page cap or rate budget)."""


class BodyTooLarge(Exception):
    """A response body larger than the bound (raised before it is all read)."""


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """A response's body read as it arrives, refused with BodyTooLarge once it passes `limit`
    bytes (or at once when its Content-Length says it will): never more than `limit` plus one
    chunk in memory. Decompressed bytes are counted."""
    length = response.content_length
    if length is not None and length > limit:
        raise BodyTooLarge(f"announces {length} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"passed {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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


class _XSource:
    """What the three X streams share: one tweepy client, requests, budgets, error translation."""

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
        self.client = client
        self.credential_of = credential_of
        """Which of the secrets X counts the budget against (the bearer token, the user's access token)."""
        self.credential = credential_of(initial) if initial else ""
        self.credentials = credentials
        """Reads the secrets again at each fetch (None when one is unset)."""
        self.make_client = make_client
        self._values = initial
        """The secrets `client` was made with."""
        self.clock = clock
        if not 1 <= max_pages <= MAX_PAGES:
            raise ValueError(f"max_pages must be between 1 and {MAX_PAGES}, not {max_pages}")
        self.max_pages = max_pages
        self.rate_limit_remaining: dict[str, float] = {}
        """Endpoint -> what the last response said remained of its budget (for the metrics)."""
        self._budgets = budgets or budgets_of(session)
        self._base_url = base_url or ""
        self.window = self._budgets.window(self._base_url, self.credential, self.endpoint)
        self.window.users += 1
        self._last: _Response | None = None
        self._pages = 0
        self._rejected: list[Rejected] = []
        """Items set aside by the pages of the current fetch."""
        self._anomalies: set[str] = set()
        """What the API did wrong in this fetch's pagination (logged on change)."""
        self._reported: set[str] = set()
        self._dropped: str | None = None
        """The last stored cursor found unusable (logged once)."""
        middlewares: list[ClientMiddlewareType] = [self._observe]
        if base_url:
            middlewares.append(rewrite_middleware(base_url))
        self._api_session = ApiSession(session, middlewares, aiohttp.ClientTimeout(total=timeout))
        client.session = self._api_session

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
            self._values, self.client = values, self.make_client(values)
            self.client.session = self._api_session
            if (credential := self.credential_of(values)) != self.credential:
                self._spend_from(credential)

    def _spend_from(self, credential: str) -> None:
        """Move to the budget window of a new credential: X counts requests per token, so sources
        that shared the old token (or had none at start) no longer space their polls together."""
        self.window.users = max(0, self.window.users - 1)
        self.credential = credential
        self.window = self._budgets.window(self._base_url, credential, self.endpoint)
        self.window.users += 1

    def rate_budget(self) -> RateBudget:
        return RateBudget(remaining=dict(self.rate_limit_remaining))

    async def close(self) -> None:
        """The session is shared and closed by its owner; release our share of the budget."""
        self.window.users = max(0, self.window.users - 1)

    async def _observe(self, request: aiohttp.ClientRequest, handler: ClientHandlerType) -> aiohttp.ClientResponse:
        """Middleware: keep every response's status, headers and body (at most
        MAX_RESPONSE_BYTES of it) before tweepy reads it, and note its rate-limit headers."""
        response = await handler(request)
        try:
            body = await read_bounded(response, MAX_RESPONSE_BYTES)
        except BodyTooLarge as exc:
            response.close()  # the rest is never read: the connection is dropped, not reused
            raise BadPayload(
                f"{self.endpoint}: the response body {exc}, more than the {MAX_RESPONSE_BYTES} read at most; refused",
                endpoint=self.endpoint,
            ) from None
        response._body = body  # aiohttp's cache of a read body: tweepy's read() returns it
        self._last = _Response(response.status, response.headers, body)
        try:
            remaining = max(0, int(response.headers["x-rate-limit-remaining"]))
            reset = rate_reset(response.headers["x-rate-limit-reset"], self.clock())
        except (KeyError, ValueError):
            return response
        if reset is None:
            return response
        try:
            limit: int | None = int(response.headers["x-rate-limit-limit"])
        except (KeyError, ValueError):
            limit = None
        self.window.observe(limit, remaining, reset, self)
        self.rate_limit_remaining[self.endpoint] = float(remaining)
        return response

    def _start(self) -> None:
        self._pages = 0
        self._rejected = []
        self._anomalies = set()

    def _received(self) -> datetime:
        """Now, as the receive time of the page just answered."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def _check_budget(self) -> None:
        if self._pages >= self.max_pages or self.window.exhausted(self.clock(), self):
            raise _Stop()

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

    async def _call(self, method: Callable[..., Awaitable[Any]], *args: Any, **params: Any) -> dict[str, Any]:
        """One API request; every client-library error is translated here, and only here."""
        self._check_budget()
        self.window.spend(self.clock(), self)
        self._pages += 1
        self._last = None
        try:
            await method(*args, **params)
        except Exception as exc:
            error = self._translate(exc)
            if error is None:
                raise
            raise error from exc
        assert self._last is not None, "a response came without passing our middleware"
        payload = decode_json(self._last.body, self.endpoint)
        data = payload.get("data")
        if isinstance(data, list) and len(data) > PAGE_SIZE:  # before parsing: a bounded batch
            raise BadPayload(
                f"{self.endpoint}: {len(data)} items on one page, more than the max_results={PAGE_SIZE} asked",
                endpoint=self.endpoint,
            )
        return payload

    def _translate(self, exc: Exception) -> SourceError | None:
        if isinstance(exc, SourceError):  # raised by our middleware (a body too large)
            return exc
        endpoint = self.endpoint
        last = self._last
        if last is not None and not 200 <= last.status < 300:
            status = last.status
            detail = "; ".join(str(m) for m in getattr(exc, "api_messages", []) or []) or excerpt(
                " ".join(last.body[:2000].decode("utf-8", "replace").split()), 120
            )
            if status == 429:
                return RateLimited(
                    f"{endpoint}: 429 rate limited",
                    retry_after=retry_after(last.headers, self.clock()),
                    endpoint=endpoint,
                )
            if status in (401, 403):
                return CredentialsRejected(f"{endpoint}: {status} {detail}", endpoint=endpoint)
            if status >= 500 or status in (408, 425):
                return TemporaryFailure(f"{endpoint}: {status} {detail}", endpoint=endpoint)
            return BadPayload(f"{endpoint}: the API refused the request: {status} {detail}", endpoint=endpoint)
        if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError | tweepy.TweepyException):
            return TemporaryFailure(excerpt(f"{endpoint}: {type(exc).__name__}: {exc}", 300), endpoint=endpoint)
        return None

    def _out_of_budget(self) -> RateLimited:
        return RateLimited(
            f"{self.endpoint}: no request left in this rate window",
            retry_after=self.window.spacing(self.clock(), source=self),
            endpoint=self.endpoint,
        )

    def _batch(self, messages: dict[str, Message], cursor: Cursor, *, stopped: bool) -> Batch:
        now = self.clock()
        budget_out = self.window.exhausted(now, self)
        self._report()
        return Batch(
            list(messages.values()),
            cursor.encode(),
            more=stopped and not budget_out,
            next_poll_after=self.window.spacing(now, source=self),
            calls=self._pages,
            rejected=list(self._rejected),
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
            log.warning("X pagination recovered", extra=extra)
        self._reported = set(self._anomalies)

    @staticmethod
    def _keep(into: dict[str, Message], page: Page) -> None:
        for m in page.messages:  # two versions of an edited tweet: keep the newest text
            known = into.get(m.external_id)
            if known is None or int(m.raw.get("id", 0)) >= int(known.raw.get("id", 0)):
                into[m.external_id] = m


class XTimelineSource(_XSource):
    """`x.mentions` (customers' tweets mentioning the account) or `x.replies` (its own tweets)."""

    resume_by_id = True

    def __init__(self, stream: str, **kwargs: Any) -> None:
        self.stream = stream
        self.endpoint = ENDPOINT_MENTIONS if stream == "x.mentions" else ENDPOINT_TWEETS
        super().__init__(**kwargs)

    def _method(self) -> Callable[..., Awaitable[Any]]:
        method: Callable[..., Awaitable[Any]] = (
            self.client.get_users_mentions if self.stream == "x.mentions" else self.client.get_users_tweets
        )
        return method

    async def _page(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        token: str | None = None,
        start_time: datetime | None = None,
    ) -> Page:
        params: dict[str, Any] = dict(
            since_id=since,
            until_id=until,
            pagination_token=token,
            start_time=start_time,
            max_results=PAGE_SIZE,
            tweet_fields=TWEET_FIELDS,
            expansions=TWEET_EXPANSIONS,
            user_fields=USER_FIELDS,
        )
        if self.stream == "x.replies":
            params["exclude"] = ["retweets"]
        payload = await self._call(self._method(), self.user_id, **{k: v for k, v in params.items() if v is not None})
        page = parse_tweets(
            payload, user_id=self.user_id, handle=self.handle, endpoint=self.endpoint, received_at=self._received()
        )
        self._rejected += page.rejected
        return page

    async def _read(
        self, into: dict[str, Message], since: str | None, until: str | None
    ) -> tuple[bool, int | None, int | None]:
        """Read (since, until) newest first, page by page: (stopped early, newest, oldest id).

        The chain ends at an empty page, a page without a next token, or a first page with
        nothing in (since, until). It stops early at the page cap, the budget, or a token it
        cannot follow: repeated, malformed, or leading to nothing older than the pages before (an
        API that ignores it serves the same page again). The gap left resumes below the oldest
        item by `until_id`, not by the token, so the next fetch goes on where this one stopped and
        never reads the same pages again; an API that ignores `until_id` too ends the gap there.
        """
        chain = _Chain(int(since) if since else None, int(until) if until else None)
        token: str | None = None
        while True:
            try:
                page = await self._page(since=since, until=until, token=token)
            except _Stop:
                return True, chain.newest, chain.oldest
            self._keep(into, page)
            if not chain.advance(page.ids):
                if not page.ids:
                    return False, chain.newest, chain.oldest
                if token is None:
                    self._anomaly("a page with nothing in the range asked")
                    return False, chain.newest, chain.oldest
                self._anomaly("a pagination token leading to nothing older")
                return True, chain.newest, chain.oldest
            token = page.next_token
            if not token:
                return False, chain.newest, chain.oldest
            if (why := chain.follows(token)) is not None:
                self._anomaly(why)
                return True, chain.newest, chain.oldest

    async def fetch(self, cursor: str | None) -> Batch:
        """Everything after `cursor`, all pages; or up to the page cap / budget, with a gap."""
        self._current_client()
        self._start()
        state = self._cursor(cursor)
        messages: dict[str, Message] = {}
        if state.gap:
            stopped, _, oldest = await self._read(messages, state.since, state.resume)
            if stopped:
                resume = str(oldest) if oldest is not None else state.resume
                return self._batch(messages, Cursor(state.newest, True, state.since, resume), stopped=True)
            state = Cursor(state.newest)
        stopped, newest, oldest = await self._read(messages, state.newest, None)
        if newest is None:
            return self._batch(messages, state, stopped=stopped)
        top = str(max(newest, int(state.newest or 0)))
        if stopped:
            return self._batch(messages, Cursor(top, True, state.newest, str(oldest)), stopped=True)
        return self._batch(messages, Cursor(top), stopped=False)

    async def history_page(self, start_time: datetime, token: str | None) -> Page:
        """One page of the timeline back to `start_time` (for backfills), newest first."""
        self._start()
        try:
            return await self._page(token=token, start_time=start_time)
        except _Stop:
            raise self._out_of_budget() from None


class XDmSource(_XSource):
    """`x.dm`: the account's direct messages (OAuth 1.0a user context)."""

    stream = "x.dm"
    endpoint = ENDPOINT_DM_EVENTS

    async def _page(self, token: str | None) -> Page:
        params: dict[str, Any] = dict(
            dm_event_fields=DM_EVENT_FIELDS,
            event_types="MessageCreate",
            expansions=DM_EXPANSIONS,
            user_fields=USER_FIELDS,
            max_results=PAGE_SIZE,
        )
        if token:
            params["pagination_token"] = token
        payload = await self._call(self.client.get_direct_message_events, user_auth=True, **params)
        page = parse_dm_events(
            payload, user_id=self.user_id, handle=self.handle, endpoint=self.endpoint, received_at=self._received()
        )
        self._rejected += page.rejected
        return page

    async def _read(
        self, into: dict[str, Message], since: str | None, token: str | None
    ) -> tuple[bool, int | None, str | None]:
        """Pages from `token` (None: the newest) down to `since`: (stopped, newest, resume token).
        dm_events has no since_id: read until an event at or before `since` shows up. A page
        with nothing older than the ones before, or a token that cannot be followed (repeated,
        malformed), ends the chain: a token is the only way further down."""
        chain = _Chain()
        floor = int(since) if since else -1
        if token is not None:
            chain.follows(token)
        while True:
            try:
                page = await self._page(token)
            except _Stop:
                return True, chain.newest, token
            kept = Page([m for m in page.messages if int(m.external_id) > floor], page.ids)
            self._keep(into, kept)
            if not chain.advance(page.ids):
                if page.ids:
                    self._anomaly("a pagination token leading to nothing older")
                return False, chain.newest, None
            token = page.next_token
            if not token or (chain.oldest or 0) <= floor:
                return False, chain.newest, None
            if (why := chain.follows(token)) is not None:
                self._anomaly(why)
                return False, chain.newest, None

    async def fetch(self, cursor: str | None) -> Batch:
        self._current_client()
        self._start()
        state = self._cursor(cursor)
        messages: dict[str, Message] = {}
        if state.gap:
            stopped, _, resume = await self._read(messages, state.since, state.resume)
            if stopped:
                return self._batch(messages, Cursor(state.newest, True, state.since, resume), stopped=True)
            state = Cursor(state.newest)
        stopped, newest, resume = await self._read(messages, state.newest, None)
        if newest is None:
            return self._batch(messages, state, stopped=stopped)
        top = str(max(newest, int(state.newest or 0)))
        if stopped:
            return self._batch(messages, Cursor(top, True, state.newest, resume), stopped=True)
        return self._batch(messages, Cursor(top), stopped=False)

    async def history_page(self, start_time: datetime, token: str | None) -> Page:
        """One page of DM events, newest first; the caller stops at `start_time`."""
        self._start()
        try:
            page = await self._page(token)
        except _Stop:
            raise self._out_of_budget() from None
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
    max_pages: int = 20,
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
    max_pages: int = 20,
) -> list[XSource]:
    """Like `build_x_sources`, typed as the X sources (the backfill reads their history)."""

    def reader(*names: str | None) -> Callable[[], tuple[str, ...] | None]:
        """Read at each fetch: $NAME, or the file named by $NAME_FILE (rotation without restart)."""
        secrets = [EnvSecret(n, environ) for n in names]

        def read() -> tuple[str, ...] | None:
            values = [s.get() for s in secrets]
            return None if any(v is None for v in values) else tuple(v for v in values if v is not None)

        return read

    common: dict[str, Any] = dict(
        user_id=account.user_id,
        handle=account.handle,
        session=session,
        base_url=account.api_base_url,
        budgets=budgets or budgets_of(session),
        clock=clock,
        timeout=timeout,
        max_pages=max_pages,
    )
    bearer_of = reader(account.bearer_token_env)
    initial = bearer_of()  # None (unset): the first fetch says so with CredentialsRejected
    bearer = (initial or ("",))[0]
    sources: list[XSource] = [
        XTimelineSource(
            stream,
            client=_client(bearer_token=bearer),
            credentials=bearer_of,
            make_client=lambda values: _client(bearer_token=values[0]),
            initial=initial,
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
                client=_client(*keys),
                credentials=keys_of,
                make_client=lambda values: _client(*values),
                initial=initial_keys,
                credential_of=lambda values: values[2],
                **common,
            )
        )
    return sources


def _client(
    consumer_key: str | None = None,
    consumer_secret: str | None = None,
    access_token: str | None = None,
    access_token_secret: str | None = None,
    *,
    bearer_token: str | None = None,
) -> AsyncClient:
    """A tweepy client returning the raw aiohttp response (we read headers and body ourselves)."""
    return AsyncClient(
        bearer_token=bearer_token,
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        access_token=access_token,
        access_token_secret=access_token_secret,
        return_type=aiohttp.ClientResponse,
        wait_on_rate_limit=False,
    )
