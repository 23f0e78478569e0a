"""A local X API v2 for tests and demos: mentions and user timelines, DM events, auth, rate limits,
faults, edits; every request recorded.

Wire format as in the X API v2 docs: `data` / `includes` / `errors` / `meta` (`result_count`,
`newest_id`, `oldest_id`, `next_token`), only the requested `tweet.fields` / `user.fields` /
`dm_event.fields` and expansions, `max_results` bounds with X-style 400 bodies, 401 on a wrong
bearer token or OAuth 1.0a signature, `x-rate-limit-*` headers on every authenticated answer and
429 once a window's budget is spent. Ids are snowflakes (their creation time is in them). The fake
serves only what exists at its clock's time, so a scripted scenario unfolds as time passes.
`malform` serves one tweet or DM event malformed (a field left out or of the wrong type).

Besides one-off faults (`inject`, `fault_rates`), it can turn hostile until told to behave
(`misbehave`): pagination tokens that repeat or never end, rate-limit resets far in the future,
30-digit ids, bodies of any size, pages larger than asked. Each keeps the wire format.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import random
import time
from bisect import insort
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
from aiohttp import web
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from monitor.runtime import UnixClock
from monitor.simulator.net import FakeServer
from monitor.simulator.x_activity import Chat, WebhookSender, chat_envelope, envelope, new_chat
from monitor.simulator.x_search import Post as SearchPost
from monitor.simulator.x_search import QueryError, parse_query
from monitor.simulator.x_stream import FakeActivity

MENTIONS = "GET /2/users/:id/mentions"
TWEETS = "GET /2/users/:id/tweets"
DM_EVENTS = "GET /2/dm_events"
SEARCH = "GET /2/tweets/search/recent"
USER_BY_USERNAME = "GET /2/users/by/username/:username"
ENDPOINTS = (MENTIONS, TWEETS, DM_EVENTS, SEARCH, USER_BY_USERNAME)

FAULTS = (
    "rate_limited",
    "http_500",
    "http_503_html",
    "malformed_json",
    "non_json",
    "truncated_json",
    "missing_fields",
    "wrong_types",
    "partial_errors",
    "connection_reset",
    "slow",
    "echo_credential",
)
"""What `inject` and `fault_rates` accept."""

MISBEHAVIOURS = (
    "repeat_token",
    "endless_token",
    "endless_history",
    "huge_id",
    "huge_body",
    "oversized_page",
    "rate_reset",
    "rate_limited",
)
"""What `misbehave` accepts (see its docstring)."""
HUGE_ID = "123456789012345678901234567890"
"""A 30-digit tweet id (X ids are snowflakes of at most 19 digits)."""
ENDLESS_AUTHOR = ("4242424242", "endless_customer")
"""Who writes the tweets `endless_history` makes up."""

TWITTER_EPOCH_MS = 1288834974657
TIMELINE_CAP = {MENTIONS: 800, TWEETS: 3200}
"""The API serves only the newest 800 mentions and 3,200 tweets of a user."""
DEFAULT_LIMITS = {MENTIONS: 450, TWEETS: 1500, DM_EVENTS: 300, SEARCH: 450, USER_BY_USERNAME: 300}
"""Requests per 15-minute window (app bearer for timelines, search and user lookups, user keys for DMs)."""
USERNAME_PATTERN = "^[A-Za-z0-9_]{1,15}$"
"""What the user lookup accepts as a username (X's own check, quoted in its 400 answer)."""
SEARCH_REACH_SECONDS = 7 * 86400.0
"""Recent search serves the posts of the last 7 days."""
SEARCH_DEFAULT_LAG_SECONDS = 30.0
"""Without start_time, end_time or since_id, recent search ends 30 s before the request (paginate.mdx)."""
TOKEN_PREFIX = "7140dibdnow9c7btw"

TWEET_FIELDS = {
    "attachments",
    "author_id",
    "context_annotations",
    "conversation_id",
    "created_at",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "geo",
    "id",
    "in_reply_to_user_id",
    "lang",
    "note_tweet",
    "possibly_sensitive",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "source",
    "text",
    "withheld",
}
USER_FIELDS = {
    "created_at",
    "description",
    "entities",
    "id",
    "location",
    "name",
    "pinned_tweet_id",
    "profile_image_url",
    "protected",
    "public_metrics",
    "url",
    "username",
    "verified",
    "withheld",
}
TWEET_EXPANSIONS = {
    "attachments.poll_ids",
    "attachments.media_keys",
    "author_id",
    "edit_history_tweet_ids",
    "entities.mentions.username",
    "geo.place_id",
    "in_reply_to_user_id",
    "referenced_tweets.id",
    "referenced_tweets.id.author_id",
}
DM_EVENT_FIELDS = {
    "id",
    "text",
    "event_type",
    "created_at",
    "dm_conversation_id",
    "sender_id",
    "participant_ids",
    "referenced_tweets",
    "attachments",
}
DM_EXPANSIONS = {"attachments.media_keys", "referenced_tweets.id", "sender_id", "participant_ids"}
DM_EVENT_TYPES = {"MessageCreate", "ParticipantsJoin", "ParticipantsLeave"}
ACTIVITY_BILLED = {
    "post.create": "activity_event",
    "post.mention.create": "activity_event",
    "post.reply.create": "activity_event",
    "dm.received": "activity_dm_event",
    "chat.received": "activity_dm_event",
}
"""X Activity API events X bills per delivery, and as what (pricing.mdx: a post event as a post;
`dm.sent`, `chat.sent` are not billed)."""


@dataclass
class Tweet:
    id: int
    author_id: str
    text: str
    created_at: float
    conversation_id: int
    in_reply_to_user_id: str | None = None
    referenced: list[tuple[str, int]] = field(default_factory=list)
    mentions: frozenset[str] = frozenset()
    edit_history: list[int] = field(default_factory=list)
    superseded_at: float | None = None
    """Set when the tweet was edited: timelines show the new version from then on."""

    def visible(self, now: float) -> bool:
        return self.created_at <= now and (self.superseded_at is None or self.superseded_at > now)


@dataclass
class DmEvent:
    id: int
    conversation_id: str
    sender_id: str
    participants: tuple[str, ...]
    text: str
    created_at: float
    event_type: str = "MessageCreate"


@dataclass(frozen=True)
class UserKeys:
    """OAuth 1.0a user context: the app's consumer keys and a user's access token pair."""

    user_id: str
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str


@dataclass
class RequestRecord:
    """One request as the fake saw it."""

    endpoint: str
    path: str
    params: dict[str, str]
    user_id: str | None
    """The timeline's user (path id) or, for DMs, the authenticated user."""
    credential: str | None
    at: float
    status: int = 0
    ids: list[str] = field(default_factory=list)
    """Ids of the items returned in `data`."""
    fault: str | None = None
    misbehaviours: tuple[str, ...] = ()
    """The `misbehave` modes that shaped the answer."""
    body_bytes: int = 0
    """Bytes of body written (counted for `huge_body`, whose client may hang up early)."""
    body_done: bool = False
    """Set once a `huge_body` answer is over: all written, or the client hung up."""


@dataclass
class _Fault:
    kind: str
    endpoint: str | None
    user_id: str | None
    times: int
    skip: int
    retry_after: float | None = None


@dataclass(frozen=True)
class _Misbehaviour:
    kind: str
    endpoint: str | None
    user_id: str | None
    reset: str
    size: int
    declare_length: bool
    author: str | None


class _Reply(Exception):
    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response


def iso(ts: float) -> str:
    seconds, millis = divmod(round(ts * 1000), 1000)  # 100.9996 -> 101.000, not 100.000
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"


def snowflake_time(tweet_id: int) -> float:
    return ((tweet_id >> 22) + TWITTER_EPOCH_MS) / 1000


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> web.Response:
    body = {"title": title, "detail": detail, "type": kind, "status": status}
    return web.json_response(body, status=status)


def too_many() -> web.Response:
    return problem(429, "Too Many Requests", "Too Many Requests")


def client_forbidden() -> web.Response:
    """X's 403 to an app that is not in a project with the access the endpoint needs."""
    body = {
        "client_id": "27316216",
        "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens "
        "from a Twitter developer App that is attached to a Project. You can create a project via the "
        "developer portal.",
        "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
        "title": "Client Forbidden",
        "required_enrollment": "Appropriate Level of API Access",
        "reason": "client-not-enrolled",
        "type": "https://api.twitter.com/2/problems/client-forbidden",
    }
    return web.json_response(body, status=403)


def invalid(param: str, value: str, message: str) -> web.Response:
    body = {
        "errors": [{"parameters": {param: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    return web.json_response(body, status=400)


class FakeXApi(FakeServer):
    """The local X API: `await start()` gives its base URL (or `async with`); script it with `add_*`
    (or `traffic.load_on_x`), `inject`; read `requests` afterwards."""

    def __init__(
        self,
        *,
        clock: UnixClock = time.time,
        window_seconds: float = 900.0,
        limits: Mapping[str, int] | None = None,
        seed: int = 0,
        fault_rates: Mapping[str, float] | None = None,
        fault_retry_after: float = 15.0,
        timeline_cap: Mapping[str, int] | None = None,
    ) -> None:
        self.clock = clock
        self.window_seconds = window_seconds
        self.limits: dict[str, int] = {**DEFAULT_LIMITS, **(limits or {})}
        self.rng = random.Random(seed)
        self.fault_rates: dict[str, float] = dict(fault_rates or {})
        """Probability of each fault on any request (after auth and rate limiting)."""
        self.fault_endpoints: set[str] | None = None
        """Endpoints the random faults apply to (None: all)."""
        self.fault_retry_after = fault_retry_after
        self.slow_seconds = 5.0
        self.timeline_cap = {**TIMELINE_CAP, **(timeline_cap or {})}
        self.bearer_tokens: set[str] = set()
        self.user_keys: dict[str, UserKeys] = {}
        self.users: dict[str, str] = {}
        self.display_names: dict[str, str] = {}
        self.protected: set[str] = set()
        """Users whose accounts are protected (their `protected` field says true)."""
        self.not_enrolled: set[str] = set()
        """Credentials of apps outside a project with API access: 403 client-not-enrolled everywhere."""
        self.tweets: dict[int, Tweet] = {}
        self.dm_events: dict[int, DmEvent] = {}
        self.chats: list[Chat] = []
        """Encrypted chats (XChat): no endpoint reads them, X Activity API events carry them."""
        self.requests: list[RequestRecord] = []
        self._faults: deque[_Fault] = deque()
        self._malformed: dict[int, tuple[tuple[str, ...], dict[str, Any]]] = {}
        self._mentions: dict[str, list[int]] = {}
        self._authored: dict[str, list[int]] = {}
        self._dms: dict[str, list[int]] = {}
        self._windows: dict[tuple[str, str], list[float]] = {}
        self._seq: dict[int, int] = {}
        self._misbehaviours: list[_Misbehaviour] = []
        self._tokens = 0
        self.activity = FakeActivity(clock, lambda token: token in self.bearer_tokens, iso, billed=self.bill_event)
        """The X Activity API: subscriptions and the persistent stream (its deliveries billed here)."""
        self.owned_reads = True
        """Whether reads of a user's mentions and timeline are "owned reads" (the app is the user's)."""
        self.billed: Counter[tuple[str, str]] = Counter()
        """(user id, kind) -> resources billed, by X's rules (docs/cost.md): once per UTC day each."""
        self._billed_today: tuple[date | None, set[tuple[str, str, str]]] = (None, set())
        self.search_reads: dict[tuple[str, str], int] = {}
        """(query, UTC day) -> posts served in the `data` of recent-search answers: what X bills."""

    # ---------------------------------------------------------------- server

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/2/users/{id}/mentions", self._mentions_handler)
        app.router.add_get("/2/users/{id}/tweets", self._tweets_handler)
        app.router.add_get("/2/dm_events", self._dm_handler)
        app.router.add_get("/2/users/by/username/{username}", self._user_by_username_handler)
        app.router.add_get("/2/tweets/search/recent", self._search_handler)
        self.activity.routes(app)
        return app

    @property
    def base_url(self) -> str:
        """The base URL, as the X API docs name it: `url`."""
        return self.url

    # ---------------------------------------------------------------- scripting

    def add_user(self, user_id: str, username: str, *, name: str | None = None, protected: bool = False) -> None:
        self.users[user_id] = username
        if name is not None:
            self.display_names[user_id] = name
        if protected:
            self.protected.add(user_id)

    def unenroll(self, credential: str) -> None:
        """The app of this bearer token (or user access token) is not in a project with API access:
        every request with it is refused with 403 client-not-enrolled, as X refuses them."""
        self.not_enrolled.add(credential)

    def add_bearer_token(self, token: str) -> None:
        self.bearer_tokens.add(token)

    def add_user_keys(self, keys: UserKeys) -> None:
        self.user_keys[keys.access_token] = keys

    def new_id(self, at: float) -> int:
        """A snowflake for time `at` (epoch seconds), unique."""
        ms = round(at * 1000) - TWITTER_EPOCH_MS
        seq = self._seq.get(ms, 0)
        if seq >= 1 << 12:
            raise ValueError("more than 4096 ids in one millisecond")
        self._seq[ms] = seq + 1
        return (ms << 22) | seq

    def add_tweet(
        self,
        author_id: str,
        text: str,
        at: datetime | float,
        *,
        mentions: Iterable[str] = (),
        reply_to: int | None = None,
        quote_of: int | None = None,
        retweet_of: int | None = None,
    ) -> int:
        """A tweet by `author_id` at `at`; a reply (to tweet `reply_to`) joins its conversation."""
        ts = at.timestamp() if isinstance(at, datetime) else at
        tid = self.new_id(ts)
        conversation, reply_user = tid, None
        referenced: list[tuple[str, int]] = []
        if reply_to is not None:
            parent = self.tweets[reply_to]
            conversation, reply_user = parent.conversation_id, parent.author_id
            referenced.append(("replied_to", reply_to))
        if quote_of is not None:
            referenced.append(("quoted", quote_of))
        if retweet_of is not None:
            referenced.append(("retweeted", retweet_of))
        tweet = Tweet(tid, author_id, text, ts, conversation, reply_user, referenced, frozenset(mentions), [tid])
        self._store(tweet)
        return tid

    def edit_tweet(self, tweet_id: int, text: str, at: datetime | float) -> int:
        """Edit a tweet at `at`: a new version with a new id; timelines show it from then on."""
        ts = at.timestamp() if isinstance(at, datetime) else at
        old = self.tweets[tweet_id]
        new_id = self.new_id(ts)
        old.superseded_at = ts
        new = Tweet(
            new_id,
            old.author_id,
            text,
            ts,
            old.conversation_id,
            old.in_reply_to_user_id,
            list(old.referenced),
            old.mentions,
            [*old.edit_history, new_id],
        )
        self._store(new)
        return new_id

    def add_dm(self, sender_id: str, recipient_id: str, text: str, at: datetime | float) -> int:
        ts = at.timestamp() if isinstance(at, datetime) else at
        eid = self.new_id(ts)
        a, b = sorted((sender_id, recipient_id), key=int)
        event = DmEvent(eid, f"{a}-{b}", sender_id, (a, b), text, ts)
        self.dm_events[eid] = event
        for user in (a, b):
            insort(self._dms.setdefault(user, []), eid)
        self.activity.dm(eid, sender_id, recipient_id, self._dm_json(event, DM_EVENT_FIELDS), ts)
        return eid

    def add_chat(self, sender_id: str, recipient_id: str, at: datetime | float) -> Chat:
        """An encrypted chat message: its events (`chat_envelope`) give sender and time, never text."""
        chat = new_chat(sender_id, recipient_id, at.timestamp() if isinstance(at, datetime) else at)
        self.chats.append(chat)
        for user in (sender_id, recipient_id):
            self.activity.envelope(chat_envelope(chat, user), chat.created_at)
        return chat

    def post_event(self, event_type: str, user_id: str, tweet_id: int) -> dict[str, Any]:
        """A post event of a stored tweet for the subscribed user, in XAA's envelope: the payload is
        the whole post."""
        return envelope(event_type, user_id, self._tweet_json(self.tweets[tweet_id], TWEET_FIELDS))

    def _store(self, tweet: Tweet) -> None:
        self.tweets[tweet.id] = tweet
        insort(self._authored.setdefault(tweet.author_id, []), tweet.id)
        for user in tweet.mentions:
            insort(self._mentions.setdefault(user, []), tweet.id)
        self.activity.post(tweet, self._tweet_json(tweet, TWEET_FIELDS))

    def inject(
        self,
        fault: str,
        *,
        endpoint: str | None = None,
        user_id: str | None = None,
        times: int = 1,
        skip: int = 0,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next `times` matching requests (after `skip` of them) with `fault`; a
        `rate_limited` fault announces its reset `retry_after` seconds ahead (default
        `fault_retry_after`)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        self._faults.append(_Fault(fault, endpoint, user_id, times, skip, retry_after))

    def malform(self, item_id: int, *, drop: Iterable[str] = (), values: Mapping[str, Any] | None = None) -> None:
        """Serve the tweet or DM event `item_id` malformed from now on, wherever it appears: without
        the fields `drop`, with `values` in place of its own (`text=None`, `created_at="9999-12-31T…"`)."""
        self._malformed[item_id] = (tuple(drop), dict(values or {}))

    def _malform(self, item_id: int, out: dict[str, Any]) -> dict[str, Any]:
        if item_id in self._malformed:
            drop, values = self._malformed[item_id]
            for key in drop:
                out.pop(key, None)
            out.update(values)
        return out

    def misbehave(
        self,
        kind: str,
        *,
        endpoint: str | None = None,
        user_id: str | None = None,
        reset: str = "99999999999",
        size: int = 64 << 20,
        declare_length: bool = False,
        author: str | None = None,
    ) -> None:
        """Answer every matching request in a hostile way until `behave()`:

        - `repeat_token`: every page has a `next_token`, the one the request came with (the first
          page's: the honest one, or one below its last item): the chain never ends, it repeats.
        - `endless_token`: the newest page, whatever the pagination_token, since_id or until_id,
          with a new `next_token` every time.
        - `endless_history`: a chain that never ends with new items: below the real ones, made-up
          mentions by `author` (default `ENDLESS_AUTHOR`; the user itself: posts a source
          skips), older and older, a full page each time (mentions).
        - `huge_id`: the newest item of each page has the 30-digit id `HUGE_ID`.
        - `huge_body`: a 200 whose JSON body is `size` bytes, streamed (chunked, or with its
          Content-Length when `declare_length`); `RequestRecord.body_bytes` counts what got out.
        - `oversized_page`: `max_results` is ignored: every matching item on one page.
        - `rate_reset`: every answer's `x-rate-limit-reset` is `reset`, as is (a time far ahead,
          in the past, or not a number).
        - `rate_limited`: every request is a 429 whose `x-rate-limit-reset` is `reset`.
        """
        if kind not in MISBEHAVIOURS:
            raise ValueError(f"unknown misbehaviour {kind!r}; known: {', '.join(MISBEHAVIOURS)}")
        self._misbehaviours.append(_Misbehaviour(kind, endpoint, user_id, reset, size, declare_length, author))

    def behave(self) -> None:
        """Stop every misbehaviour."""
        self._misbehaviours.clear()

    def requests_to(self, endpoint: str, user_id: str | None = None) -> list[RequestRecord]:
        return [r for r in self.requests if r.endpoint == endpoint and (user_id is None or r.user_id == user_id)]

    # ---------------------------------------------------------------- handlers

    async def _mentions_handler(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, MENTIONS)

    async def _tweets_handler(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, TWEETS)

    async def _dm_handler(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, DM_EVENTS)

    async def _user_by_username_handler(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, USER_BY_USERNAME)

    async def _search_handler(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, SEARCH)

    def reads_of(self, query: str) -> dict[str, int]:
        """Posts served to `query` per UTC day (`YYYY-MM-DD`)."""
        return {day: n for (q, day), n in self.search_reads.items() if q == query}

    async def _handle(self, request: web.Request, endpoint: str) -> web.StreamResponse:
        now = self.clock()
        params = dict(request.query)
        record = RequestRecord(endpoint, request.path, params, request.match_info.get("id"), None, now)
        self.requests.append(record)
        headers: dict[str, str] = {}
        try:
            credential, user = self._authenticate(request, endpoint)
            record.credential = credential
            if credential in self.not_enrolled:
                raise _Reply(client_forbidden())
            if endpoint == DM_EVENTS:
                record.user_id = user
            headers = self._spend(credential, endpoint, now)
            hostile = self._hostile(endpoint, record.user_id)
            record.misbehaviours = tuple(hostile)
            if "rate_limited" in hostile:
                headers.update({"x-rate-limit-remaining": "0", "x-rate-limit-reset": hostile["rate_limited"].reset})
                raise _Reply(self._with(too_many(), headers))
            if "huge_body" in hostile:
                return await self._huge_body(request, record, headers, hostile["huge_body"])
            fault, retry_after = self._fault(endpoint, record.user_id)
            record.fault = fault
            if fault == "slow":  # answers, but only after `slow_seconds` (past a client's timeout)
                await asyncio.sleep(self.slow_seconds)
            if fault == "connection_reset":
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError  # aiohttp drops the handler of a lost connection
            if fault == "rate_limited":
                reset = math.ceil(now + retry_after)
                headers.update({"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
                raise _Reply(self._with(too_many(), headers))
            if fault == "http_500":
                raise _Reply(self._with(problem(500, "Internal Server Error", "Internal Server Error"), headers))
            if fault == "echo_credential":  # a careless API: its error body quotes the caller's token
                raise _Reply(
                    self._with(
                        problem(400, "Invalid Request", f"The credential {credential!r} is not valid here."), headers
                    )
                )
            if fault == "http_503_html":
                raise _Reply(
                    self._with(
                        web.Response(
                            status=503,
                            content_type="text/html",
                            text="<html><body><h1>Over capacity</h1></body></html>",
                        ),
                        headers,
                    )
                )
            if endpoint == DM_EVENTS:
                body = self._dm_page(params, str(user), now, hostile)
            elif endpoint == SEARCH:
                body = self._search_page(params, now, hostile)
            elif endpoint == USER_BY_USERNAME:
                body = self._user_by_username(request.match_info["username"], params)
            else:
                body = self._timeline_page(endpoint, params, record.user_id or "", now, hostile)
            data = body.get("data", [])
            record.ids = [str(d.get("id")) for d in (data if isinstance(data, list) else [data])]
            response = self._render(body, fault)
            if fault is not None and fault not in ("partial_errors", "slow"):
                record.ids = []
            self._bill(endpoint, record, now)
            raise _Reply(self._with(response, headers))
        except _Reply as reply:
            for name, value in headers.items():  # every answer after the budget check has them
                reply.response.headers.setdefault(name, value)
            lying = self._hostile(endpoint, record.user_id).get("rate_reset")
            if lying is not None and "x-rate-limit-reset" in reply.response.headers:
                reply.response.headers["x-rate-limit-reset"] = lying.reset
            record.status = reply.response.status
            return reply.response

    def _bill(self, endpoint: str, record: RequestRecord, now: float) -> None:
        """Count the resources a 200 answer returned as X bills them: per resource, once per UTC day."""
        if endpoint == USER_BY_USERNAME or not record.ids:
            return
        owned = self.owned_reads and endpoint != SEARCH  # a search reads others' posts: never owned
        kind = "dm_event_read" if endpoint == DM_EVENTS else "owned_read" if owned else "post_read"
        self._count(record.user_id or "", kind, [i for i in record.ids if i != "None"], now)

    def bill_event(self, envelope: Mapping[str, Any]) -> None:
        """Count an X Activity API event delivered (on the stream, or a webhook delivery answered
        2xx) as X bills it (pricing.mdx, "Webhook events"): a post event as its post, a received DM
        or chat as a DM event, once per UTC day each; other events are not billed."""
        data = envelope.get("data", {})
        kind = ACTIVITY_BILLED.get(data.get("event_type", ""))
        if kind is None:
            return
        payload = data.get("payload", {})
        post = kind == "activity_event" and isinstance(payload.get("id"), str) and payload["id"].isdigit()
        resource = payload["id"] if post else str(data.get("event_uuid"))
        self._count(str(data.get("filter", {}).get("user_id", "")), kind, [resource], self.clock())

    def _count(self, user: str, kind: str, resource_ids: Iterable[str], now: float) -> None:
        """Bill each resource once per (user, kind) and UTC day."""
        day = datetime.fromtimestamp(now, UTC).date()
        if self._billed_today[0] != day:  # X's de-duplication window resets at midnight UTC
            self._billed_today = (day, set())
        seen = self._billed_today[1]
        for item_id in resource_ids:
            if (user, kind, item_id) not in seen:
                seen.add((user, kind, item_id))
                self.billed[(user, kind)] += 1

    def webhook_sender(self, url: str, consumer_secret: str, session: aiohttp.ClientSession) -> WebhookSender:
        """X's side of a webhook registered at `url`: its deliveries answered 2xx are billed here."""
        return WebhookSender(url, consumer_secret, session, billed=self.bill_event)

    def _hostile(self, endpoint: str, user_id: str | None) -> dict[str, _Misbehaviour]:
        """The misbehaviours that apply to this request, by kind."""
        return {
            m.kind: m for m in self._misbehaviours if m.endpoint in (None, endpoint) and m.user_id in (None, user_id)
        }

    async def _huge_body(
        self, request: web.Request, record: RequestRecord, headers: Mapping[str, str], how: _Misbehaviour
    ) -> web.StreamResponse:
        """A 200 with a JSON body of `how.size` bytes, written as the client reads it."""
        head = b'{"meta": {"result_count": 0}, "padding": "'
        tail = b'"}'
        response = web.StreamResponse(status=200, headers={**headers, "content-type": "application/json"})
        if how.declare_length:
            response.content_length = how.size
        record.status = 200
        await response.prepare(request)
        chunk = b"x" * (64 << 10)
        left = how.size - len(head) - len(tail)
        try:
            await response.write(head)
            record.body_bytes += len(head)
            while left > 0:
                part = chunk[:left]
                await response.write(part)
                record.body_bytes += len(part)
                left -= len(part)
            await response.write(tail)
            record.body_bytes += len(tail)
            await response.write_eof()
        except (ConnectionError, RuntimeError):  # the client hung up (what a bounded one does)
            pass
        finally:
            record.body_done = True
        return response

    def _with(self, response: web.StreamResponse, headers: Mapping[str, str]) -> web.StreamResponse:
        response.headers.update(headers)
        return response

    # ---------------------------------------------------------------- auth and limits

    def _authenticate(self, request: web.Request, endpoint: str) -> tuple[str, str | None]:
        """(credential, authenticated user id or None for app-only) or a 401/403 reply."""
        auth = request.headers.get("Authorization", "")
        unauthorized = _Reply(problem(401, "Unauthorized", "Unauthorized"))
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :]
            if token not in self.bearer_tokens:
                raise unauthorized
            if endpoint == DM_EVENTS:
                raise _Reply(
                    problem(
                        403,
                        "Unsupported Authentication",
                        "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint."
                        "  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User"
                        " Context].",
                        "https://api.twitter.com/2/problems/unsupported-authentication",
                    )
                )
            return token, None
        if auth.startswith("OAuth "):
            try:
                oauth = {k: oauth_utils.unescape(v) for k, v in oauth_utils.parse_authorization_header(auth)}
            except ValueError:
                raise unauthorized from None
            keys = self.user_keys.get(oauth.get("oauth_token", ""))
            if keys is None or oauth.get("oauth_consumer_key") != keys.consumer_key:
                raise unauthorized
            collected = oauth_signature.collect_parameters(
                uri_query=request.rel_url.raw_query_string,
                headers={"Authorization": auth},
                exclude_oauth_signature=True,
            )
            base = oauth_signature.signature_base_string(
                request.method,
                oauth_signature.base_string_uri("https://api.twitter.com" + request.path),
                oauth_signature.normalize_parameters(collected),
            )
            key = f"{oauth_utils.escape(keys.consumer_secret)}&{oauth_utils.escape(keys.access_token_secret)}"
            expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
            if not hmac.compare_digest(expected, oauth.get("oauth_signature", "")):
                raise unauthorized
            return keys.access_token, keys.user_id
        raise unauthorized

    def _spend(self, credential: str, endpoint: str, now: float) -> dict[str, str]:
        """Count one request in the credential's window for the endpoint; 429 if none is left."""
        key = (credential, endpoint)
        window = self._windows.get(key)
        if window is None or now >= window[0] + self.window_seconds:
            window = self._windows[key] = [now, 0.0]
        limit = self.limits[endpoint]
        reset = str(math.ceil(window[0] + self.window_seconds))
        if window[1] >= limit:
            headers = {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}
            raise _Reply(self._with(too_many(), headers))
        window[1] += 1
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(int(limit - window[1])),
            "x-rate-limit-reset": reset,
        }

    def _fault(self, endpoint: str, user_id: str | None) -> tuple[str | None, float]:
        """The fault to answer with (None: answer well), and the seconds to a rate limit's reset."""
        for f in self._faults:
            if f.endpoint in (None, endpoint) and f.user_id in (None, user_id):
                if f.skip > 0:
                    f.skip -= 1
                    return None, self.fault_retry_after
                f.times -= 1
                if f.times <= 0:
                    self._faults.remove(f)
                return f.kind, self.fault_retry_after if f.retry_after is None else f.retry_after
        if self.fault_endpoints is None or endpoint in self.fault_endpoints:
            for kind, p in self.fault_rates.items():
                if self.rng.random() < p:
                    return kind, self.fault_retry_after
        return None, self.fault_retry_after

    # ---------------------------------------------------------------- pages

    def _fields(self, params: Mapping[str, str], name: str, known: set[str]) -> set[str]:
        value = params.get(name)
        if value is None:
            return set()
        items = set(value.split(","))
        unknown = sorted(items - known)
        if unknown:
            raise _Reply(
                invalid(
                    name,
                    value,
                    f"The `{name}` query parameter value [{unknown[0]}] is not one of [{','.join(sorted(known))}]",
                )
            )
        return items

    def _max_results(self, params: Mapping[str, str], low: int, high: int, default: int) -> int:
        value = params.get("max_results")
        if value is None:
            return default
        if not value.isdigit() or not low <= int(value) <= high:
            raise _Reply(
                invalid(
                    "max_results",
                    value,
                    f"The `max_results` query parameter value [{value}] is not between {low} and {high}",
                )
            )
        return int(value)

    def _id_param(self, params: Mapping[str, str], name: str) -> int | None:
        value = params.get(name)
        if value is None:
            return None
        if not value.isdigit() or len(value) > 19:
            raise _Reply(
                invalid(name, value, f"The `{name}` query parameter value [{value}] does not match ^[0-9]{{1,19}}$")
            )
        return int(value)

    def _time_param(self, params: Mapping[str, str], name: str) -> float | None:
        value = params.get(name)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError(value)
        except ValueError:
            raise _Reply(
                invalid(name, value, f"Invalid '{name}':'{value}'. '{name}' must be a valid RFC3339 date.")
            ) from None
        return parsed.timestamp()

    def _token(self, params: Mapping[str, str]) -> int | None:
        value = params.get("pagination_token")
        if value is None:
            return None
        bad = _Reply(
            invalid("pagination_token", value, f"The `pagination_token` query parameter value [{value}] is not valid")
        )
        if not value.startswith(TOKEN_PREFIX):
            raise bad
        try:
            return int(value[len(TOKEN_PREFIX) :], 36)
        except ValueError:
            raise bad from None

    @staticmethod
    def _next_token(last_id: int) -> str:
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"
        out = ""
        while last_id:
            last_id, r = divmod(last_id, 36)
            out = digits[r] + out
        return TOKEN_PREFIX + (out or "0")

    def _timeline_page(
        self,
        endpoint: str,
        params: Mapping[str, str],
        user_id: str,
        now: float,
        hostile: Mapping[str, _Misbehaviour] | None = None,
    ) -> dict[str, Any]:
        if user_id not in self.users:
            return {
                "errors": [
                    {
                        "value": user_id,
                        "detail": f"Could not find user with id: [{user_id}].",
                        "title": "Not Found Error",
                        "resource_type": "user",
                        "parameter": "id",
                        "resource_id": user_id,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                ]
            }
        tweet_fields = self._fields(params, "tweet.fields", TWEET_FIELDS)
        user_fields = self._fields(params, "user.fields", USER_FIELDS)
        expansions = self._fields(params, "expansions", TWEET_EXPANSIONS)
        hostile = hostile or {}
        size = self._max_results(params, 5, 100, 10)
        since, until = self._id_param(params, "since_id"), self._id_param(params, "until_id")
        start, end = self._time_param(params, "start_time"), self._time_param(params, "end_time")
        below = self._token(params)
        if "endless_token" in hostile:  # pagination ignored: the newest page, every time
            since = until = below = None
        if "endless_history" in hostile:
            self._make_up_history(
                user_id, endpoint, below if below is not None else until, size, hostile["endless_history"].author
            )
        exclude = set(params["exclude"].split(",")) if params.get("exclude") else set()
        if exclude - {"retweets", "replies"}:
            raise _Reply(
                invalid(
                    "exclude",
                    params["exclude"],
                    f"The `exclude` query parameter value [{params['exclude']}] is not one of [replies,retweets]",
                )
            )
        index = self._mentions if endpoint == MENTIONS else self._authored
        ids = index.get(user_id, [])
        visible = [self.tweets[i] for i in reversed(ids) if self.tweets[i].visible(now)]
        if "endless_history" not in hostile:
            visible = visible[: self.timeline_cap[endpoint]]
        matching = [
            t
            for t in visible
            if (since is None or t.id > since)
            and (until is None or t.id < until)
            and (start is None or t.created_at >= start)
            and (end is None or t.created_at <= end)
            and (below is None or t.id < below)
            and not ("retweets" in exclude and any(k == "retweeted" for k, _ in t.referenced))
            and not ("replies" in exclude and t.in_reply_to_user_id is not None)
        ]
        if "oversized_page" in hostile:
            size = len(matching)
        if "huge_id" in hostile:
            size -= 1  # room for the made-up item, first on the page
        page = matching[:size]
        if not page:
            return self._hostile_meta({"meta": {"result_count": 0}}, params, hostile)
        body: dict[str, Any] = {"data": [self._tweet_json(t, tweet_fields) for t in page]}
        if "huge_id" in hostile:
            fake = {
                **body["data"][0],
                "id": HUGE_ID,
                "edit_history_tweet_ids": [HUGE_ID],
                "text": "@brand an id of 30 digits",
            }
            body["data"].insert(0, fake)
        includes: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        users: dict[str, None] = {}
        if "author_id" in expansions:
            users.update({t.author_id: None for t in page})
        if "in_reply_to_user_id" in expansions:
            users.update({t.in_reply_to_user_id: None for t in page if t.in_reply_to_user_id})
        if "referenced_tweets.id" in expansions:
            refs: dict[int, None] = {i: None for t in page for _, i in t.referenced}
            found = []
            for rid in refs:
                ref = self.tweets.get(rid)
                if ref is None:
                    errors.append(self._not_found(rid))
                    continue
                found.append(self._tweet_json(ref, tweet_fields))
                if "referenced_tweets.id.author_id" in expansions:
                    users[ref.author_id] = None
            if found:
                includes["tweets"] = found
        if users:
            includes["users"] = [self._user_json(u, user_fields) for u in users if u in self.users]
        if includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        meta: dict[str, Any] = {
            "result_count": len(body["data"]),
            "newest_id": str(body["data"][0]["id"]),
            "oldest_id": str(page[-1].id),
        }
        if len(matching) > len(page):
            meta["next_token"] = self._next_token(page[-1].id)
        body["meta"] = meta
        return self._hostile_meta(body, params, hostile, page[-1].id)

    def _hostile_meta(
        self,
        body: dict[str, Any],
        params: Mapping[str, str],
        hostile: Mapping[str, _Misbehaviour],
        last_id: int | None = None,
    ) -> dict[str, Any]:
        """The `next_token` of a page under `repeat_token`, `endless_token`, `endless_history`."""
        meta = body["meta"]
        if "repeat_token" in hostile:
            meta["next_token"] = (
                params.get("pagination_token") or meta.get("next_token") or self._next_token(last_id or 1)
            )
        elif "endless_token" in hostile:
            self._tokens += 1
            meta["next_token"] = self._next_token(10**12 + self._tokens)
        elif "endless_history" in hostile and last_id is not None:
            meta["next_token"] = self._next_token(last_id)
        return body

    def _make_up_history(self, user_id: str, endpoint: str, below: int | None, size: int, author: str | None) -> None:
        """Mentions of `user_id` by `author` older than what is served below `below`, so that a
        full page follows (`endless_history`)."""
        if endpoint != MENTIONS:
            return
        if author is None:
            author, name = ENDLESS_AUTHOR
            self.users.setdefault(author, name)
        ids = self._mentions.setdefault(user_id, [])
        known = [i for i in ids if below is None or i < below]
        if len(known) > size:
            return
        start = min(known) if known else (below if below is not None else self.new_id(self.clock()))
        for k in range(1, size + 2):
            tid = start - k
            if tid in self.tweets:
                continue
            tweet = Tweet(
                tid,
                author,
                f"@{self.users.get(user_id, 'brand')} order {tid}?",
                snowflake_time(tid),
                tid,
                None,
                [],
                frozenset([user_id]),
                [tid],
            )
            self._store(tweet)

    def _dm_page(
        self, params: Mapping[str, str], user_id: str, now: float, hostile: Mapping[str, _Misbehaviour] | None = None
    ) -> dict[str, Any]:
        fields = self._fields(params, "dm_event.fields", DM_EVENT_FIELDS)
        user_fields = self._fields(params, "user.fields", USER_FIELDS)
        expansions = self._fields(params, "expansions", DM_EXPANSIONS)
        self._fields(params, "tweet.fields", TWEET_FIELDS)
        types = self._fields(params, "event_types", DM_EVENT_TYPES) or DM_EVENT_TYPES
        hostile = hostile or {}
        size = self._max_results(params, 1, 100, 100)
        below = self._token(params)
        if "endless_token" in hostile:
            below = None
        matching = [
            e
            for e in (self.dm_events[i] for i in reversed(self._dms.get(user_id, [])))
            if e.created_at <= now and e.event_type in types and (below is None or e.id < below)
        ]
        if "oversized_page" in hostile:
            size = len(matching)
        if "huge_id" in hostile:
            size -= 1
        page = matching[:size]
        if not page:
            return self._hostile_meta({"meta": {"result_count": 0}}, params, hostile)
        body: dict[str, Any] = {"data": [self._malform(e.id, self._dm_json(e, fields)) for e in page]}
        if "huge_id" in hostile:
            body["data"].insert(0, {**body["data"][0], "id": HUGE_ID})
        if "sender_id" in expansions:
            senders = dict.fromkeys(e.sender_id for e in page)
            body["includes"] = {"users": [self._user_json(u, user_fields) for u in senders if u in self.users]}
        meta: dict[str, Any] = {"result_count": len(body["data"])}
        if len(matching) > len(page):
            meta["next_token"] = self._next_token(page[-1].id)
        body["meta"] = meta
        return self._hostile_meta(body, params, hostile, page[-1].id)

    def _search_page(
        self, params: Mapping[str, str], now: float, hostile: Mapping[str, _Misbehaviour] | None = None
    ) -> dict[str, Any]:
        """A page of recent search (GET /2/tweets/search/recent), newest first, as the API docs say:
        the last 7 days, `since_id` or `start_time` (not both), `until_id` or `end_time` (not both),
        `next_token` or `pagination_token`, `max_results` 10 to 100 (default 10); posts served are
        counted in `search_reads`. Under `oversized_page`, every match on one page."""
        for a, b in (("start_time", "since_id"), ("end_time", "until_id"), ("pagination_token", "next_token")):
            if a in params and b in params:
                raise _Reply(invalid(a, params[a], f"At most one of `{a}`, `{b}` may be provided."))
        try:
            matches = parse_query(params.get("query", ""))
        except QueryError as exc:
            raise _Reply(invalid("query", params.get("query", ""), str(exc))) from None
        tweet_fields = self._fields(params, "tweet.fields", TWEET_FIELDS)
        user_fields = self._fields(params, "user.fields", USER_FIELDS)
        expansions = self._fields(params, "expansions", TWEET_EXPANSIONS)
        size = self._max_results(params, 10, 100, 10)
        since, until = self._id_param(params, "since_id"), self._id_param(params, "until_id")
        start, end = self._time_param(params, "start_time"), self._time_param(params, "end_time")
        oldest = now - SEARCH_REACH_SECONDS
        if since is not None and snowflake_time(since) < oldest:
            raise _Reply(
                invalid(
                    "since_id",
                    str(since),
                    f"Invalid 'since_id':'{since}'. 'since_id' must be a tweet id created after {iso(oldest)}.",
                )
            )
        if start is not None and start < oldest:
            raise _Reply(
                invalid(
                    "start_time",
                    params["start_time"],
                    f"Invalid 'start_time':'{params['start_time']}'. 'start_time' must be on or after {iso(oldest)}",
                )
            )
        if start is None and end is None and since is None:
            end = now - SEARCH_DEFAULT_LAG_SECONDS
        token = params.get("next_token") or params.get("pagination_token")
        below = self._token({"pagination_token": token} if token else {})
        usernames = {uid: name.lower() for uid, name in self.users.items()}
        matching = []
        for tid in sorted(self.tweets, reverse=True):
            t = self.tweets[tid]
            if not t.visible(now) or t.created_at < max(oldest, start or oldest):
                continue
            if (end is not None and t.created_at > end) or (since is not None and t.id <= since):
                continue
            if (until is not None and t.id >= until) or (below is not None and t.id >= below):
                continue
            post = SearchPost(
                text=t.text,
                author=usernames.get(t.author_id, ""),
                mentions=frozenset(usernames[u] for u in t.mentions if u in usernames),
                reply_to=usernames.get(t.in_reply_to_user_id or "") if t.in_reply_to_user_id else None,
                conversation_id=str(t.conversation_id),
                retweet=any(k == "retweeted" for k, _ in t.referenced),
                quote=any(k == "quoted" for k, _ in t.referenced),
            )
            if matches(post):
                matching.append(t)
        if "oversized_page" in (hostile or {}):
            size = len(matching)
        page = matching[:size]
        day = datetime.fromtimestamp(now, UTC).date().isoformat()
        key = (params.get("query", ""), day)
        self.search_reads[key] = self.search_reads.get(key, 0) + len(page)
        if not page:
            return {"meta": {"result_count": 0}}
        body: dict[str, Any] = {"data": [self._tweet_json(t, tweet_fields) for t in page]}
        if "author_id" in expansions:
            users = dict.fromkeys(t.author_id for t in page)
            body["includes"] = {"users": [self._user_json(u, user_fields) for u in users if u in self.users]}
        meta: dict[str, Any] = {
            "newest_id": str(page[0].id),
            "oldest_id": str(page[-1].id),
            "result_count": len(page),
        }
        if len(matching) > len(page):
            meta["next_token"] = self._next_token(page[-1].id)
        body["meta"] = meta
        return body

    @staticmethod
    def _not_found(tweet_id: int) -> dict[str, Any]:
        return {
            "value": str(tweet_id),
            "detail": f"Could not find tweet with referenced_tweets.id: [{tweet_id}].",
            "title": "Not Found Error",
            "resource_type": "tweet",
            "parameter": "referenced_tweets.id",
            "resource_id": str(tweet_id),
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }

    def _tweet_json(self, t: Tweet, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(t.id),
            "text": t.text,
            "edit_history_tweet_ids": [str(i) for i in t.edit_history],
        }
        if "created_at" in fields:
            out["created_at"] = iso(t.created_at)
        if "author_id" in fields:
            out["author_id"] = t.author_id
        if "conversation_id" in fields:
            out["conversation_id"] = str(t.conversation_id)
        if "in_reply_to_user_id" in fields and t.in_reply_to_user_id is not None:
            out["in_reply_to_user_id"] = t.in_reply_to_user_id
        if "referenced_tweets" in fields and t.referenced:
            out["referenced_tweets"] = [{"type": k, "id": str(i)} for k, i in t.referenced]
        if "lang" in fields:
            out["lang"] = "en"
        if "edit_controls" in fields:
            first = snowflake_time(t.edit_history[0])
            out["edit_controls"] = {
                "edits_remaining": max(0, 6 - len(t.edit_history)),
                "is_edit_eligible": True,
                "editable_until": iso(first + 3600),
            }
        return self._malform(t.id, out)

    def _user_by_username(self, username: str, params: Mapping[str, str]) -> dict[str, Any]:
        """`GET /2/users/by/username/:username`: the user (usernames match in any case), or a 200
        whose `errors` say there is none; 400 for a username X would not accept."""
        fields = self._fields(params, "user.fields", USER_FIELDS)
        if not (1 <= len(username) <= 15 and all(c.isascii() and (c.isalnum() or c == "_") for c in username)):
            raise _Reply(
                invalid(
                    "username",
                    username,
                    f"The `username` query parameter value [{username}] does not match {USERNAME_PATTERN}",
                )
            )
        for user_id, known in self.users.items():
            if known.lower() == username.lower():
                return {"data": self._user_json(user_id, fields)}
        return {
            "errors": [
                {
                    "value": username,
                    "detail": f"Could not find user with username: [{username}].",
                    "title": "Not Found Error",
                    "resource_type": "user",
                    "parameter": "username",
                    "resource_id": username,
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            ]
        }

    def _user_json(self, user_id: str, fields: set[str]) -> dict[str, Any]:
        username = self.users[user_id]
        name = self.display_names.get(user_id) or username.replace("_", " ").title()
        out: dict[str, Any] = {"id": user_id, "name": name, "username": username}
        if "protected" in fields:
            out["protected"] = user_id in self.protected
        if "verified" in fields:
            out["verified"] = False
        return out

    @staticmethod
    def _dm_json(e: DmEvent, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": str(e.id), "event_type": e.event_type}
        if e.event_type == "MessageCreate":
            out["text"] = e.text
        if "created_at" in fields:
            out["created_at"] = iso(e.created_at)
        if "dm_conversation_id" in fields:
            out["dm_conversation_id"] = e.conversation_id
        if "sender_id" in fields:
            out["sender_id"] = e.sender_id
        if "participant_ids" in fields and e.event_type != "MessageCreate":
            out["participant_ids"] = list(e.participants)
        return out

    # ---------------------------------------------------------------- faults on the body

    def _render(self, body: dict[str, Any], fault: str | None) -> web.Response:
        if fault == "non_json":
            return web.Response(
                status=200, content_type="text/html", text="<html><body>Something went wrong</body></html>"
            )
        if fault == "malformed_json":
            return web.Response(status=200, content_type="application/json", text="{'data': [oops], 'meta': }")
        if fault == "missing_fields":
            if body.get("data"):
                body["data"][0].pop("created_at", None)
                body["data"][0].pop("text", None)
            else:
                body.pop("meta", None)
        elif fault == "wrong_types":
            if body.get("data"):
                body["data"][0]["id"] = int(body["data"][0]["id"])
            else:
                body["meta"] = {"result_count": "0"}
        elif fault == "partial_errors":
            body.setdefault("errors", []).append(self._not_found(1))
        text = json.dumps(body, ensure_ascii=False)
        if fault == "truncated_json":
            text = text[: max(1, len(text) // 2)]
        return web.Response(status=200, content_type="application/json", text=text)
