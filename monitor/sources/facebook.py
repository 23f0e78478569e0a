"""Facebook Pages through the Graph API: Messenger conversations and comments on Page posts.

The Graph API is called with aiohttp directly. facebook-sdk (3.1.0, 2018) refuses every Graph API
version above 3.1, is synchronous, hides the response headers (so the rate-limit headers cannot be
read) and has no `appsecret_proof`.

One `GraphClient` per Page holds what the Page's two streams share: the session, the token (read
from the environment at every call), `appsecret_proof`, the rate-limit usage and any block.
Every aiohttp and Graph error is translated into the errors of `monitor.sources.base` in one place,
`GraphClient.get`.

facebook.messenger
    `/{page-id}/conversations?platform=messenger` has no time-based paging: it is read newest-
    updated first, by cursor, down to the stored `updated_time` watermark (minus an overlap);
    a conversation's messages beyond the embedded first page (`messages.limit(n)`) are paged
    (`/{conversation-id}/messages`) down to the same floor. A conversation updated while the list
    is being paged moves to the top and the cursor skips it, so when the list took more than one
    page its head is read again, down to the previous head, until one read fits in one page (one
    answer is consistent); if that does not settle, the watermark stays where it was.
    Thread: the conversation (private); messages `from` the Page are outbound.

facebook.comments
    New posts come from `/{page-id}/feed` since the post watermark (Page posts and visitor posts).
    Comments come from `/{post-id}/comments?filter=stream&order=reverse_chronological`, read down
    to that post's own watermark (its newest comment read).
    **Comments on older posts are not missed**: the cursor keeps the *active posts* - created, or
    commented, in the last `active_days` (default 14) - each with its own watermark, and every
    poll re-reads their new comments (one call per active post, usually one short page); a post
    leaves the set after `active_days` without a comment. A post that wakes up later (or a
    backdated one) is caught by a *sweep*: every `sweep_every` (default 1 h), and at the first
    poll, the feed of the last `sweep_days` (default 90) is read with `updated_time` (a new comment
    bumps it) and every post updated since the previous sweep rejoins the active set, its floor
    being that sweep. A deleted post (error 100/33) leaves the set.
    Threads: a top-level comment with its replies; a reply's thread is its root comment
    (`parent{id,from,parent{id}}` covers three levels, the comments read together resolve deeper
    chains); the Page's comments are outbound, and a reply to one of them replies to the brand. A
    visitor post opens its own thread: the post is the question and every comment under it (the
    Page's answer, the author's follow-ups) belongs to it.

A malformed item (a conversation, a message, a post, a comment: a field missing or of the wrong
type, an id not of the Graph API's form, a time from the future) is set aside (`Batch.rejected`)
and the fetch goes on; a time a little ahead is clamped to the receive time, so that no watermark
runs ahead of the clock. Only a malformed envelope (`data`, `paging`) is a BadPayload.

Cursors are small JSON objects (UNIX seconds), saved by the engine with the messages:
``{"v":1,"watermark":...}`` and ``{"v":1,"posts":...,"swept":...,"active":{"<post-id>":[last,
visitor]}}``. Timestamps from the Graph API have one-second resolution, so floors are inclusive and
overlap by `overlap` (default 2 min) for late-appearing items; what is read twice is deduplicated by
the store.

Tokens: `page_token_env` / `app_secret_env` name environment variables read at **every call**; when
`NAME` is unset or empty, the file named by `NAME_FILE` is read instead (re-read when it changes):
a Kubernetes secret mounted as a file, or a Docker secret, can be rotated without a restart.
A rejected token (190) makes the poller mark the account `credentials_rejected`; it recovers at the
next try after a valid token is in place.

Rate limits: `X-App-Usage` and `X-Business-Use-Case-Usage` are read on every answer.
`rate_limit_remaining` is 100 minus the highest usage (%). Above 75 % the next poll is pushed back,
up to 8 poll intervals at 100 %. A positive `estimated_time_to_regain_access`, or a throttling
error (4, 17, 32, 613, 80001-80099), blocks every call of the Page until that time: the source
raises `RateLimited` without calling.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import aiohttp

from monitor.domain.items import ItemError, Parsed, Rejected, Stamp, believable
from monitor.domain.model import Message
from monitor.logs import excerpt
from monitor.runtime import Clock, utcnow
from monitor.secrets import EnvSecret
from monitor.sources.base import (
    BadPayload,
    Batch,
    CredentialsRejected,
    RateLimited,
    Source,
    SourceError,
    TemporaryFailure,
)
from monitor.sources.fields import Fields

if TYPE_CHECKING:
    from monitor.config import FacebookAccount

log = logging.getLogger(__name__)

GRAPH_URL = "https://graph.facebook.com"
MESSENGER = "facebook.messenger"
COMMENTS = "facebook.comments"
CONVERSATION, MESSENGER_MESSAGE, POST, COMMENT = "conversation", "messenger_message", "post", "comment"
"""Kinds of the items the Graph streams set aside (`Rejected.kind`)."""

GRAPH_ID_MAX_DIGITS = 20
"""Graph ids are 64-bit numbers sent as strings: at most 20 digits (a post id is two of them,
`<page id>_<post id>`). Anything longer is not an id."""
MESSENGER_ID_MAX = 256
"""Messenger conversation and message ids are opaque tokens of a few dozen characters; longer
than this is not an id."""
_GRAPH_ID = re.compile(rf"[0-9]{{1,{GRAPH_ID_MAX_DIGITS}}}(?:_[0-9]{{1,{GRAPH_ID_MAX_DIGITS}}})?")
_MESSENGER_ID = re.compile(rf"[A-Za-z0-9_.$:=+-]{{1,{MESSENGER_ID_MAX}}}")
"""No `/`, `?`, `#`, `%` or space: a conversation id goes in the path of the next request."""

THROTTLING_CODES = frozenset({4, 17, 32, 613})
"""Graph error codes of the app, user, Page and per-hour call limits."""
TOKEN_CODES = frozenset({102, 104, 190})
"""Session expired, no token, invalid or expired token."""
TRANSIENT_CODES = frozenset({1, 2})
SLOWDOWN_FROM = 75.0
MAX_SLOWDOWN = 8.0
DEFAULT_THROTTLE_SECONDS = 300.0
"""How long to stay away after a throttling error that announces no time (calls while
throttled extend the throttling)."""
MAX_VERIFY_ROUNDS = 4

Json = dict[str, Any]


@dataclass(frozen=True)
class FacebookOptions:
    """Tunables of the Facebook sources (production defaults)."""

    backfill: timedelta = timedelta(days=3)
    """How far back the first poll of a new account reads."""
    overlap: timedelta = timedelta(minutes=2)
    """Every floor is moved back by this much (items that appear late); re-reads are deduped."""
    page_limit: int = 100
    """`limit` of the conversation, feed and comment lists."""
    messages_limit: int = 25
    """Messages embedded per conversation (`messages.limit(n)`); older ones are paged."""
    active_days: float = 14.0
    sweep_every: timedelta = timedelta(hours=1)
    sweep_days: float = 90.0
    timeout: float = 30.0
    """Seconds for one HTTP call, connection included."""


# ----------------------------------------------------------------------------------------------
# Secrets
# ----------------------------------------------------------------------------------------------


def appsecret_proof(app_secret: str, access_token: str) -> str:
    """Hex HMAC-SHA256 of the access token keyed with the app secret."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


# ----------------------------------------------------------------------------------------------
# Rate-limit headers and errors (pure)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """What the usage headers of one answer say (percentages of the limits)."""

    app: float | None = None
    business: float | None = None
    regain_seconds: float = 0.0
    """The longest `estimated_time_to_regain_access`, in seconds (0: not blocked)."""

    @property
    def highest(self) -> float:
        return max((u for u in (self.app, self.business) if u is not None), default=0.0)


def _percent(entry: object) -> float | None:
    if not isinstance(entry, dict):
        return None
    values = [float(v) for k, v in entry.items()
              if k in ("call_count", "total_cputime", "total_time")
              and isinstance(v, int | float) and not isinstance(v, bool)]
    return max(values) if values else None


def parse_usage(headers: Mapping[str, str]) -> Usage:
    """Read `X-App-Usage` and `X-Business-Use-Case-Usage`; a malformed header counts as absent."""
    lower = {k.lower(): v for k, v in headers.items()}
    app: float | None = None
    business: float | None = None
    regain = 0.0
    try:
        app = _percent(json.loads(lower.get("x-app-usage", "null")))
    except ValueError:
        pass
    try:
        buc = json.loads(lower.get("x-business-use-case-usage", "null"))
    except ValueError:
        buc = None
    if isinstance(buc, dict):
        for entries in buc.values():
            for entry in entries if isinstance(entries, list) else [entries]:
                p = _percent(entry)
                if p is not None:
                    business = p if business is None else max(business, p)
                minutes = (entry.get("estimated_time_to_regain_access")
                           if isinstance(entry, dict) else None)
                if isinstance(minutes, int | float) and not isinstance(minutes, bool):
                    regain = max(regain, float(minutes) * 60.0)
    return Usage(app, business, regain)


def slowdown(usage: float, interval: float) -> float | None:
    """Seconds until the next poll when usage (%) is high; None below 75 %."""
    if usage <= SLOWDOWN_FROM:
        return None
    share = min(1.0, (usage - SLOWDOWN_FROM) / (100.0 - SLOWDOWN_FROM))
    return interval * (1.0 + share * (MAX_SLOWDOWN - 1.0))


@dataclass(frozen=True)
class GraphError:
    """The `error` object of a Graph API answer."""

    status: int
    code: int | None
    subcode: int | None
    message: str
    type: str = ""
    transient: bool = False


def graph_error(status: int, body: object) -> GraphError | None:
    """The Graph error in a body, if it is one."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    e = body["error"]

    def number(key: str) -> int | None:
        v = e.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    return GraphError(status, number("code"), number("error_subcode"),
                      excerpt(str(e.get("message", "")), 300), str(e.get("type", "")),
                      e.get("is_transient") is True)


class ObjectGone(TemporaryFailure):
    """The object no longer exists or cannot be read (a deleted post or conversation)."""


def translate(error: GraphError, usage: Usage, endpoint: str) -> SourceError:
    """The source error for a Graph error (the one mapping of error codes)."""
    code, what = error.code, f"Graph error {error.code}/{error.subcode}: {error.message}"
    if code in THROTTLING_CODES or (code is not None and 80001 <= code <= 80099):
        retry = usage.regain_seconds or DEFAULT_THROTTLE_SECONDS
        return RateLimited(what, retry_after=retry, endpoint=endpoint)
    if code in TOKEN_CODES or (code == 100 and "appsecret_proof" in error.message):
        return CredentialsRejected(what, endpoint=endpoint)
    if code == 10 or (code is not None and 200 <= code <= 299):
        return CredentialsRejected(f"permission missing: {what}", endpoint=endpoint)
    if error.status == 429:
        return RateLimited(what, retry_after=usage.regain_seconds or DEFAULT_THROTTLE_SECONDS,
                           endpoint=endpoint)
    if code == 100 and error.subcode == 33:
        return ObjectGone(what, endpoint=endpoint)
    return TemporaryFailure(what, endpoint=endpoint)


# ----------------------------------------------------------------------------------------------
# Parsing (pure): Graph JSON -> messages
# ----------------------------------------------------------------------------------------------


def is_graph_id(value: str) -> bool:
    """A Graph object id: a number (a Page, a person) or `<number>_<number>` (a post, a comment)."""
    return _GRAPH_ID.fullmatch(value) is not None


def is_messenger_id(value: str) -> bool:
    """A Messenger conversation or message id (`t_…`, `m_…`, `mid.$…`): an opaque token."""
    return _MESSENGER_ID.fullmatch(value) is not None


def _ts(t: datetime) -> int:
    return int(t.timestamp())


def _created_ts(item: object) -> int | None:
    """An item's `created_time` in UNIX seconds; None when it cannot be read (its parser says why)."""
    try:
        return _ts(Fields(item, "item").time("created_time"))
    except ItemError:
        return None


def _author(item: Fields) -> tuple[str | None, str | None]:
    """(id, name) of `from`; (None, None) when the API leaves it out."""
    who = item.nested("from", "bad_author")
    if who is None:
        return None, None
    name = who.item.get("name")
    return who.id("id", "bad_author", is_graph_id, "a Graph id"), name if isinstance(name, str) else None


def _text(item: Fields) -> str:
    """`message`: absent or null is an empty text (an attachment, a sticker)."""
    return item.text("message", "bad_text", required=False) or ""


def _created(item: Fields, received_at: datetime) -> Stamp:
    return believable(item.time("created_time"), received_at=received_at, channel="facebook",
                      where=f"{item.where}.created_time")


@dataclass(frozen=True)
class Listing:
    """One page of a Graph list: its items and the `after` cursor when there is a next page."""

    items: list[Any]
    """The items as received: each is checked by its parser (a malformed one is set aside)."""
    after: str | None


def parse_listing(body: object) -> Listing:
    """`{"data": [...], "paging": {"cursors": {"after"}, "next"}}`; no `next` is the last page."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise BadPayload("expected {data: [...]}")
    items = body["data"]
    paging = body.get("paging")
    if paging is None:
        paging = {}
    if not isinstance(paging, dict):
        raise BadPayload("paging is not an object")
    after: str | None = None
    if paging.get("next"):
        cursors = paging.get("cursors")
        after = cursors.get("after") if isinstance(cursors, dict) else None
        if not isinstance(after, str) or not after:
            raise BadPayload("paging.next without an after cursor")
    return Listing(items, after)


def messenger_thread_key(conversation_id: str) -> str:
    return f"messenger:{conversation_id}"


def comment_thread_key(comment_id: str) -> str:
    return f"comment:{comment_id}"


def post_thread_key(post_id: str) -> str:
    return f"post:{post_id}"


@dataclass(frozen=True)
class Conversation:
    id: str
    updated: datetime
    messages: list[Any]
    messages_after: str | None


def parse_conversation(item: object, *, received_at: datetime) -> Conversation | Rejected:
    """An item of `/{page-id}/conversations` (its messages still to parse), or the item set aside."""
    cid: str | None = None
    try:
        conv = Fields(item, "conversation")
        cid = conv.identify(is_messenger_id, "a conversation id", named="conversation")
        updated = believable(conv.time("updated_time", missing="bad_updated_time", bad="bad_updated_time"),
                             received_at=received_at, channel="facebook",
                             where=f"{conv.where}.updated_time", reason="bad_updated_time")
        embedded = conv.nested("messages", "bad_field")
        try:
            listing = parse_listing(embedded.item) if embedded is not None else Listing([], None)
        except BadPayload as exc:
            raise conv.fail("bad_field", "messages", str(exc)) from None
    except ItemError as exc:
        return exc.rejected(item, CONVERSATION, cid)
    return Conversation(cid, updated.at, listing.items, listing.after)


def messenger_message(item: object, conversation_id: str, page_id: str, *,
                      received_at: datetime) -> Message | Rejected:
    """A Messenger message (outbound when `from` is the Page), or the item set aside."""
    mid: str | None = None
    try:
        m = Fields(item, f"a message of conversation {conversation_id}")
        mid = m.identify(is_messenger_id, "a message id", named="message")
        stamp = _created(m, received_at)
        author_id, author_name = _author(m)
        text = _text(m)
    except ItemError as exc:
        return exc.rejected(item, MESSENGER_MESSAGE, mid, {"conversation": conversation_id})
    return Message(
        external_id=mid,
        thread_key=messenger_thread_key(conversation_id),
        thread_kind="private",
        direction="outbound" if author_id == page_id else "inbound",
        created_at=stamp.at,
        text=text,
        author_id=author_id,
        author_handle=author_name,
        url=f"https://business.facebook.com/latest/inbox/all?asset_id={page_id}",
        raw=m.item,
        future_created_at=stamp.clamped_from,
    )


@dataclass(frozen=True)
class Post:
    """An item of `/{page-id}/feed`: a visitor post is a message (the question of its own thread),
    the Page's own posts are not."""

    id: str
    created: datetime
    message: Message | None


def parse_post(item: object, page_id: str, *, received_at: datetime) -> Post | Rejected:
    """A post of the Page's feed, or the item set aside."""
    post_id: str | None = None
    try:
        p = Fields(item, "post")
        post_id = p.identify(is_graph_id, "a Graph id", named="post")
        stamp = _created(p, received_at)
        author_id, author_name = _author(p)
        if author_id == page_id:
            return Post(post_id, stamp.at, None)
        text = _text(p)
    except ItemError as exc:
        return exc.rejected(item, POST, post_id)
    return Post(post_id, stamp.at, Message(
        post_id, post_thread_key(post_id), "public", "inbound", stamp.at, text, author_id, author_name,
        f"https://www.facebook.com/{post_id}", raw=p.item, future_created_at=stamp.clamped_from))


def _parent_ids(comment: Fields) -> tuple[str | None, str | None]:
    """(parent id, grandparent id) of a comment."""
    parent = comment.nested("parent", "bad_thread")
    if parent is None:
        return None, None
    grand = parent.nested("parent", "bad_thread")
    return (parent.id("id", "bad_thread", is_graph_id, "a Graph id"),
            grand.id("id", "bad_thread", is_graph_id, "a Graph id") if grand else None)


class _Comment(NamedTuple):
    """A comment read, before its thread is known (a tuple: one per comment of every poll)."""

    id: str
    parent: str | None
    fields: Fields
    stamp: Stamp
    author_id: str | None
    author_name: str | None
    text: str


def comment_messages(post_id: str, visitor_post: bool, items: Sequence[Any], page_id: str, *,
                     received_at: datetime) -> Parsed:
    """The comments of one post as messages, each in its thread (see the module docstring), and
    the comments set aside."""
    parents: dict[str, str | None] = {}
    parsed: list[_Comment] = []
    rejected: list[Rejected] = []
    authors: dict[str, str | None] = {}  # comment id -> author id, from the comments and their parents
    for item in items:
        cid: str | None = None
        try:
            fields = Fields(item, f"a comment of post {post_id}")
            cid = fields.identify(is_graph_id, "a Graph id", named="comment")
            parent, grand = _parent_ids(fields)
            stamp = _created(fields, received_at)
            author_id, author_name = _author(fields)
            comment = _Comment(cid, parent, fields, stamp, author_id, author_name, _text(fields))
        except ItemError as exc:
            rejected.append(exc.rejected(item, COMMENT, cid, {"post": post_id, "visitor": visitor_post}))
            continue
        parents[cid] = parent
        authors[cid] = author_id
        parent_from = item["parent"].get("from") if parent is not None else None
        if parent is not None and isinstance(parent_from, dict) and isinstance(parent_from.get("id"), str):
            authors.setdefault(parent, parent_from["id"])
        if parent is not None and grand is not None:
            parents.setdefault(parent, grand)
        parsed.append(comment)
    out = []
    for c in parsed:
        if visitor_post:
            key = post_thread_key(post_id)
        else:
            root, seen = c.id, set()
            while (up := parents.get(root)) is not None and root not in seen:
                seen.add(root)
                root = up
            key = comment_thread_key(root)
        out.append(Message(
            external_id=c.id, thread_key=key, thread_kind="public",
            direction="outbound" if c.author_id == page_id else "inbound",
            created_at=c.stamp.at, text=c.text, author_id=c.author_id, author_handle=c.author_name,
            url=f"https://www.facebook.com/{post_id}?comment_id={c.parent or c.id}", raw=c.fields.item,
            future_created_at=c.stamp.clamped_from,
            reply_to_brand=c.parent is not None and authors.get(c.parent) == page_id,
        ))
    return Parsed(out, rejected)


def parse_rejected(kind: str, raw: object, context: Mapping[str, Any], *, page_id: str,
                   received_at: datetime) -> Parsed:
    """A set-aside item parsed again by this code (`inbox-monitor quarantine retry`)."""
    if kind == COMMENT:
        return comment_messages(str(context.get("post", "")), bool(context.get("visitor")), [raw],
                                page_id, received_at=received_at)
    if kind == POST:
        post = parse_post(raw, page_id, received_at=received_at)
        if isinstance(post, Rejected):
            return Parsed([], [post])
        return Parsed([post.message] if post.message else [], [])
    conversation = str(context.get("conversation", ""))
    if kind == CONVERSATION:
        conv = parse_conversation(raw, received_at=received_at)
        if isinstance(conv, Rejected):
            return Parsed([], [conv])
        items, conversation = conv.messages, conv.id
    elif kind == MESSENGER_MESSAGE:
        items = [raw]
    else:
        raise ValueError(f"not an item kind of the Graph API streams: {kind!r}")
    out = Parsed([], [])
    for item in items:
        m = messenger_message(item, conversation, page_id, received_at=received_at)
        if isinstance(m, Rejected):
            out.rejected.append(m)
        else:
            out.messages.append(m)
    return out


# ----------------------------------------------------------------------------------------------
# Cursors
# ----------------------------------------------------------------------------------------------


@dataclass
class MessengerCursor:
    watermark: int
    """The highest conversation `updated_time` read (UNIX seconds)."""

    def dumps(self) -> str:
        return json.dumps({"v": 1, "watermark": self.watermark}, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> MessengerCursor | None:
        data = _load(text)
        if data is None or not isinstance(data.get("watermark"), int):
            return None
        return cls(data["watermark"])


@dataclass
class ActivePost:
    last: int
    """Time of the newest comment read (the post's creation before any), UNIX seconds."""
    visitor: bool


@dataclass
class CommentsCursor:
    posts: int
    """The newest post `created_time` read."""
    swept: int
    """When the last sweep ran (our clock)."""
    active: dict[str, ActivePost] = field(default_factory=dict)

    def dumps(self) -> str:
        active = {k: [v.last, int(v.visitor)] for k, v in sorted(self.active.items())}
        return json.dumps({"v": 1, "posts": self.posts, "swept": self.swept, "active": active},
                          separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> CommentsCursor | None:
        data = _load(text)
        if data is None:
            return None
        posts, swept, active = data.get("posts"), data.get("swept"), data.get("active")
        if not isinstance(posts, int) or not isinstance(swept, int) or not isinstance(active, dict):
            return None
        out = cls(posts, swept)
        for k, v in active.items():
            if isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v):
                out.active[k] = ActivePost(v[0], bool(v[1]))
        return out


def _load(text: str | None) -> Json | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("v") != 1:
        log.warning("unreadable cursor, starting from the backfill window",
                    extra={"cursor": text[:200]})
        return None
    return data


# ----------------------------------------------------------------------------------------------
# The client: one Page, its token, its limits, every error translated here
# ----------------------------------------------------------------------------------------------


class GraphClient:
    """Graph API calls for one Page; shared by the Page's streams (they share its limits)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        page_id: str,
        base_url: str,
        token: EnvSecret,
        app_secret: EnvSecret | None = None,
        interval: float = 60.0,
        timeout: float = 30.0,
        clock: Clock = utcnow,
    ) -> None:
        self.session = session
        self.page_id = page_id
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.app_secret = app_secret
        self.interval = interval
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.clock = clock
        self.usage = Usage()
        self.rate_limit_remaining: dict[str, float] = {}
        """"app" and "business": 100 minus the highest usage (%) of the last answer."""
        self.blocked_until: datetime | None = None

    def next_poll_after(self) -> float | None:
        """Seconds the streams should wait before their next poll (usage, or a block)."""
        wait = slowdown(self.usage.highest, self.interval)
        if self.blocked_until is not None:
            left = (self.blocked_until - self.clock()).total_seconds()
            if left > 0:
                wait = max(wait or 0.0, left)
        return wait

    def _block(self, seconds: float) -> None:
        until = self.clock() + timedelta(seconds=seconds)
        if self.blocked_until is None or until > self.blocked_until:
            self.blocked_until = until

    async def get(self, path: str, params: Mapping[str, str]) -> Json:
        """GET `path` (relative to the versioned base) and return the JSON object answered."""
        endpoint = f"/{path.lstrip('/')}"
        if self.blocked_until is not None:
            left = (self.blocked_until - self.clock()).total_seconds()
            if left > 0:
                raise RateLimited(f"blocked by the Graph API for {left:.0f}s more",
                                  retry_after=left, endpoint=endpoint)
        token = self.token.get()
        if token is None:
            raise CredentialsRejected(f"no Page access token: ${self.token.name} is not set",
                                      endpoint=endpoint)
        query = dict(params)
        secret = self.app_secret.get() if self.app_secret is not None else None
        if secret:
            query["appsecret_proof"] = appsecret_proof(secret, token)
        try:
            async with self.session.get(
                self.base_url + endpoint, params=query, timeout=self.timeout,
                headers={"Authorization": f"Bearer {token}"}, allow_redirects=False,
            ) as resp:
                raw = await resp.read()
                status, headers = resp.status, resp.headers
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise TemporaryFailure("timed out", endpoint=endpoint) from None
        except aiohttp.ClientError as exc:
            what = excerpt(f"{type(exc).__name__}: {exc}", 300)
            raise TemporaryFailure(what, endpoint=endpoint) from None
        usage = parse_usage(headers)
        self.usage = usage
        if usage.app is not None:
            self.rate_limit_remaining["app"] = max(0.0, 100.0 - usage.app)
        if usage.business is not None:
            self.rate_limit_remaining["business"] = max(0.0, 100.0 - usage.business)
        if usage.regain_seconds > 0:
            self._block(usage.regain_seconds)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
            if status < 500:
                raise BadPayload(f"HTTP {status}: not JSON ({len(raw)} bytes)",
                                 endpoint=endpoint) from None
        error = graph_error(status, body)
        if error is not None:
            failure = translate(error, usage, endpoint)
            if isinstance(failure, RateLimited) and failure.retry_after:
                self._block(failure.retry_after)
            raise failure
        if status >= 500:
            raise TemporaryFailure(f"HTTP {status}", endpoint=endpoint)
        if status == 429:
            retry = usage.regain_seconds or DEFAULT_THROTTLE_SECONDS
            self._block(retry)
            raise RateLimited("HTTP 429", retry_after=retry, endpoint=endpoint)
        if status != 200 or not isinstance(body, dict):
            raise BadPayload(f"HTTP {status}: unexpected answer", endpoint=endpoint)
        return body


class _GraphSource:
    """What both streams share: the client, the options, a per-fetch call count, the items a
    fetch set aside and the receive time of its last answer."""

    stream = ""

    def __init__(self, client: GraphClient, options: FacebookOptions) -> None:
        self.client = client
        self.options = options
        self.page_id = client.page_id
        self._calls = 0
        self._rejected: list[Rejected] = []
        self._received_at = client.clock()

    @property
    def rate_limit_remaining(self) -> dict[str, float]:
        return self.client.rate_limit_remaining

    @property
    def blocked_until(self) -> datetime | None:
        """Until when the Graph API blocks the app or Page (the poller calls that wait `blocked`)."""
        return self.client.blocked_until

    async def _get(self, path: str, params: Mapping[str, str]) -> Json:
        self._calls += 1
        body = await self.client.get(path, params)
        self._received_at = self.client.clock()
        return body

    async def _fetch(self, cursor: str | None) -> tuple[list[Message], str]:
        raise NotImplementedError

    async def fetch(self, cursor: str | None) -> Batch:
        self._calls = 0
        self._rejected = []
        try:
            messages, new_cursor = await self._fetch(cursor)
        except BadPayload as exc:
            raise BadPayload(str(exc), endpoint=exc.endpoint or self.stream) from None
        return Batch(messages, new_cursor, next_poll_after=self.client.next_poll_after(),
                     calls=self._calls, rejected=list(self._rejected))

    async def close(self) -> None:
        return None  # the session is shared and closed by its owner


class MessengerSource(_GraphSource):
    """facebook.messenger: the Page's Messenger conversations."""

    stream = MESSENGER

    def _fields(self) -> str:
        limit = self.options.messages_limit
        return f"id,updated_time,messages.limit({limit}){{id,created_time,from,message}}"

    async def _fetch(self, cursor: str | None) -> tuple[list[Message], str]:
        state = MessengerCursor.loads(cursor)
        if state is None:
            state = MessengerCursor(_ts(self.client.clock() - self.options.backfill))
        floor = state.watermark - int(self.options.overlap.total_seconds())
        out: dict[str, Message] = {}
        processed: dict[str, int] = {}
        top, pages = await self._list(floor, floor, processed, out)
        rounds = 0
        while pages > 1 and top is not None and rounds < MAX_VERIFY_ROUNDS:
            # The list moved while it was paged: read its head again, down to the old head.
            top, pages = await self._list(floor, top, processed, out)
            rounds += 1
        watermark = state.watermark
        if pages <= 1:
            watermark = max([watermark, *processed.values()])
        return list(out.values()), MessengerCursor(watermark).dumps()

    async def _list(self, floor: int, stop_below: int, processed: dict[str, int],
                    out: dict[str, Message]) -> tuple[int | None, int]:
        """Read the conversations updated at or after `stop_below`, newest first; their messages
        at or after `floor`. Returns the newest `updated_time` seen and the pages read."""
        after: str | None = None
        top: int | None = None
        pages = 0
        while True:
            params = {"platform": "messenger", "fields": self._fields(),
                      "limit": str(self.options.page_limit)}
            if after:
                params["after"] = after
            listing = parse_listing(await self._get(f"{self.page_id}/conversations", params))
            pages += 1
            for item in listing.items:
                conv = parse_conversation(item, received_at=self._received_at)
                if isinstance(conv, Rejected):
                    self._rejected.append(conv)
                    continue
                updated = _ts(conv.updated)
                top = updated if top is None else max(top, updated)
                if updated < stop_below:
                    return top, pages
                if processed.get(conv.id) == updated:
                    continue
                await self._messages(conv, floor, out)
                processed[conv.id] = updated
            if listing.after is None:
                return top, pages
            after = listing.after

    async def _messages(self, conv: Conversation, floor: int, out: dict[str, Message]) -> None:
        items, after = conv.messages, conv.messages_after
        while True:
            oldest: int | None = None
            for item in items:
                m = messenger_message(item, conv.id, self.page_id, received_at=self._received_at)
                if isinstance(m, Rejected):
                    self._rejected.append(m)
                    continue
                t = _ts(m.created_at)
                oldest = t if oldest is None else min(oldest, t)
                if t >= floor:
                    out[m.external_id] = m
            if after is None or (oldest is not None and oldest < floor):
                return
            params = {"fields": "id,created_time,from,message",
                      "limit": str(self.options.messages_limit), "after": after}
            try:
                listing = parse_listing(await self._get(f"{conv.id}/messages", params))
            except ObjectGone:
                return  # deleted while we read it
            items, after = listing.items, listing.after


class CommentsSource(_GraphSource):
    """facebook.comments: comments on the Page's posts, and visitor posts."""

    stream = COMMENTS
    COMMENT_FIELDS = "id,from,message,created_time,parent{id,from,parent{id}}"

    async def _fetch(self, cursor: str | None) -> tuple[list[Message], str]:
        now = _ts(self.client.clock())
        overlap = int(self.options.overlap.total_seconds())
        state = CommentsCursor.loads(cursor)
        if state is None:  # the first sweep brings in the older posts commented since `backfill`
            since = now - int(self.options.backfill.total_seconds())
            state = CommentsCursor(since, since)
        out: dict[str, Message] = {}
        posts_floor = state.posts - overlap
        async for item in self._feed(posts_floor, "id,created_time,from,message"):
            read = parse_post(item, self.page_id, received_at=self._received_at)
            if isinstance(read, Rejected):
                self._rejected.append(read)
                continue
            created = _ts(read.created)
            if created < posts_floor:
                continue
            if read.message is not None:
                out[read.id] = read.message
            state.posts = max(state.posts, created)
            state.active.setdefault(read.id, ActivePost(created, read.message is not None))
        if now - state.swept >= self.options.sweep_every.total_seconds():
            await self._sweep(state, now, overlap)
        for post_id, post in list(state.active.items()):
            newest = await self._comments(post_id, post, post.last - overlap, out)
            if newest is None:
                del state.active[post_id]  # deleted
            else:
                post.last = max(post.last, newest)
        horizon = now - int(self.options.active_days * 86400)
        state.active = {k: v for k, v in state.active.items() if v.last >= horizon}
        return list(out.values()), state.dumps()

    async def _feed(self, since: int, fields: str) -> AsyncIterator[Any]:
        after: str | None = None
        while True:
            params = {"fields": fields, "since": str(since), "limit": str(self.options.page_limit)}
            if after:
                params["after"] = after
            listing = parse_listing(await self._get(f"{self.page_id}/feed", params))
            for item in listing.items:
                yield item
            if listing.after is None:
                return
            after = listing.after

    async def _sweep(self, state: CommentsCursor, now: int, overlap: int) -> None:
        """Bring back into the active set the posts commented since the last sweep."""
        since = now - int(self.options.sweep_days * 86400)
        async for item in self._feed(since, "id,created_time,updated_time,from"):
            try:  # the feed read sets a malformed post aside; here it only stays out of the set
                fields = Fields(item, "post")
                post_id = fields.id("id", "bad_id", is_graph_id, "a Graph id")
                if post_id is None or post_id in state.active or "updated_time" not in fields.item:
                    continue
                if _ts(fields.time("updated_time")) >= state.swept - overlap:
                    author_id, _ = _author(fields)
                    state.active[post_id] = ActivePost(state.swept - overlap, author_id != self.page_id)
            except ItemError:
                continue
        state.swept = now

    async def _comments(self, post_id: str, post: ActivePost, floor: int,
                        out: dict[str, Message]) -> int | None:
        """Read a post's comments at or after `floor`; the newest time seen (None: post gone)."""
        after: str | None = None
        items: list[Any] = []
        while True:
            params = {"filter": "stream", "order": "reverse_chronological",
                      "fields": self.COMMENT_FIELDS, "limit": str(self.options.page_limit)}
            if after:
                params["after"] = after
            try:
                listing = parse_listing(await self._get(f"{post_id}/comments", params))
            except ObjectGone:
                return None
            done = False
            for item in listing.items:
                created = _created_ts(item)  # unreadable: kept, for its parser to set it aside
                if created is not None and created < floor:
                    done = True
                    break
                items.append(item)
            if done or listing.after is None:
                break
            after = listing.after
        newest = post.last
        parsed = comment_messages(post_id, post.visitor, items, self.page_id,
                                  received_at=self._received_at)
        self._rejected += parsed.rejected
        for m in parsed.messages:
            out[m.external_id] = m
            newest = max(newest, _ts(m.created_at))
        return newest


def build_facebook_sources(
    account: FacebookAccount,
    session: aiohttp.ClientSession,
    *,
    options: FacebookOptions | None = None,
    clock: Clock = utcnow,
    environ: Mapping[str, str] = os.environ,
) -> list[Source]:
    """The Messenger and comments streams of one Page, sharing one client."""
    options = options or FacebookOptions()
    base = account.api_base_url.rstrip("/") if account.api_base_url else GRAPH_URL
    client = GraphClient(
        session,
        page_id=account.page_id,
        base_url=f"{base}/{account.graph_api_version}",
        token=EnvSecret(account.page_token_env, environ),
        app_secret=EnvSecret(account.app_secret_env, environ) if account.app_secret_env else None,
        interval=account.poll_interval.total_seconds(),
        timeout=options.timeout,
        clock=clock,
    )
    return [MessengerSource(client, options), CommentsSource(client, options)]

