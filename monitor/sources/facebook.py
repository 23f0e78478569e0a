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
    page its head is read again, down to the previous head (or the time the read began, if
    earlier), until one read fits in one page (one answer is consistent); if that does not settle,
    the watermark stays where it was.
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

Bounds (docs/bounds.md, figures in `graph_bounds`): every list is read in passes that a poll may
stop - at its calls, its items, a stream's calls a minute, a list's pages a poll - and the next poll
goes on where it stopped (`Batch.more`); a repeated or over-long cursor, or a pass's page cap, ends
a list; answers are bounded in bytes and nesting; watermarks never pass the clock (+ 5 s).

Cursors are small JSON objects (UNIX seconds), saved by the engine with the messages:
``{"v":1,"watermark":...,"pass":{...}}`` and ``{"v":1,"posts":...,"swept":...,"active":{"<post-id>":
[last,visitor(,pass)]},"feed":pass,"sweep":[started,pass]}``, "pass" being where an unfinished
pass is (absent when none). Timestamps from the Graph API have one-second resolution, so floors
are inclusive and overlap by `overlap` (default 2 min) for late-appearing items; what is read twice
is deduplicated by the store.

Tokens: `page_token_env` / `app_secret_env` name environment variables read at **every call**; when
`NAME` is unset or empty, the file named by `NAME_FILE` is read instead (re-read when it changes):
a Kubernetes secret mounted as a file, or a Docker secret, can be rotated without a restart.
A rejected token (190) makes the poller mark the account `credentials_rejected`; it recovers at the
next try after a valid token is in place.

Rate limits: `X-App-Usage` and `X-Business-Use-Case-Usage` are read on every answer.
`rate_limit_remaining` is 100 minus the highest usage (%). Above 75 % the next poll is pushed back,
up to 8 poll intervals at 100 %. A positive `estimated_time_to_regain_access` (believed up to an
hour), or a throttling error (4, 17, 32, 613, 80001-80099), blocks every call of the Page until that
time: the source raises `RateLimited` without calling.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
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
    RateBudget,
    RateLimited,
    Source,
    SourceError,
    TemporaryFailure,
)
from monitor.sources.fields import Fields
from monitor.sources.graph_bounds import (
    CLOCK_SKEW_SECONDS,
    MAX_ACTIVE_POSTS,
    MAX_CALLS_PER_MINUTE,
    MAX_CURSOR_CHARS,
    MAX_MESSAGE_PAGES,
    MAX_PAGES_PER_POLL,
    Cut,
    FetchBudget,
    ListPass,
    Paging,
    decode_json,
    finite,
    read_body,
    regain_seconds,
)

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
    values = [finite(v) for k, v in entry.items() if k in ("call_count", "total_cputime", "total_time")]
    numbers = [v for v in values if v is not None]
    return max(numbers) if numbers else None


def parse_usage(headers: Mapping[str, str]) -> Usage:
    """Read `X-App-Usage` and `X-Business-Use-Case-Usage`; a malformed header counts as absent,
    and `estimated_time_to_regain_access` is believed up to `MAX_REGAIN_SECONDS` only."""
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
                if isinstance(entry, dict):
                    regain = max(regain, regain_seconds(entry.get("estimated_time_to_regain_access")))
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

    return GraphError(
        status,
        number("code"),
        number("error_subcode"),
        excerpt(str(e.get("message", "")), 300),
        str(e.get("type", "")),
        e.get("is_transient") is True,
    )


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
        return RateLimited(what, retry_after=usage.regain_seconds or DEFAULT_THROTTLE_SECONDS, endpoint=endpoint)
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
    return believable(
        item.time("created_time"), received_at=received_at, channel="facebook", where=f"{item.where}.created_time"
    )


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
        try:
            updated = believable(
                conv.time("updated_time", missing="bad_updated_time", bad="bad_updated_time"),
                received_at=received_at,
                channel="facebook",
                where=f"{conv.where}.updated_time",
                reason="bad_updated_time",
            ).at
        except ItemError:
            # `updated_time` only places the conversation against the watermark; its messages
            # carry their own times. Unusable (missing, malformed, in 2999), the conversation is
            # read as updated now -- its messages read and stored -- rather than set aside whole.
            updated = received_at
        embedded = conv.nested("messages", "bad_field")
        try:
            listing = parse_listing(embedded.item) if embedded is not None else Listing([], None)
        except BadPayload as exc:
            raise conv.fail("bad_field", "messages", str(exc)) from None
    except ItemError as exc:
        return exc.rejected(item, CONVERSATION, cid)
    return Conversation(cid, updated, listing.items, listing.after)


def messenger_message(item: object, conversation_id: str, page_id: str, *, received_at: datetime) -> Message | Rejected:
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
    return Post(
        post_id,
        stamp.at,
        Message(
            post_id,
            post_thread_key(post_id),
            "public",
            "inbound",
            stamp.at,
            text,
            author_id,
            author_name,
            f"https://www.facebook.com/{post_id}",
            raw=p.item,
            future_created_at=stamp.clamped_from,
        ),
    )


def _parent_ids(comment: Fields) -> tuple[str | None, str | None]:
    """(parent id, grandparent id) of a comment."""
    parent = comment.nested("parent", "bad_thread")
    if parent is None:
        return None, None
    grand = parent.nested("parent", "bad_thread")
    return (
        parent.id("id", "bad_thread", is_graph_id, "a Graph id"),
        grand.id("id", "bad_thread", is_graph_id, "a Graph id") if grand else None,
    )


class _Comment(NamedTuple):
    """A comment read, before its thread is known (a tuple: one per comment of every poll)."""

    id: str
    parent: str | None
    fields: Fields
    stamp: Stamp
    author_id: str | None
    author_name: str | None
    text: str


def comment_messages(
    post_id: str, visitor_post: bool, items: Sequence[Any], page_id: str, *, received_at: datetime
) -> Parsed:
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
        out.append(
            Message(
                external_id=c.id,
                thread_key=key,
                thread_kind="public",
                direction="outbound" if c.author_id == page_id else "inbound",
                created_at=c.stamp.at,
                text=c.text,
                author_id=c.author_id,
                author_handle=c.author_name,
                url=f"https://www.facebook.com/{post_id}?comment_id={c.parent or c.id}",
                raw=c.fields.item,
                future_created_at=c.stamp.clamped_from,
                reply_to_brand=c.parent is not None and authors.get(c.parent) == page_id,
            )
        )
    return Parsed(out, rejected)


def parse_rejected(
    kind: str, raw: object, context: Mapping[str, Any], *, page_id: str, received_at: datetime
) -> Parsed:
    """A set-aside item parsed again by this code (`inbox-monitor quarantine retry`)."""
    if kind == COMMENT:
        return comment_messages(
            str(context.get("post", "")), bool(context.get("visitor")), [raw], page_id, received_at=received_at
        )
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
class MessengerPass:
    """A pass over the conversation list that a poll left unfinished (the next one goes on)."""

    stop: int
    """Conversations updated before this end the pass (UNIX seconds)."""
    started: int
    """When the pass began (our clock): what moved to the top since is read again after it."""
    round: int = 0
    """0: the pass down to the floor; 1, 2, ...: re-reads of the head that moved meanwhile."""
    list: ListPass = field(default_factory=ListPass)
    done: dict[str, int] = field(default_factory=dict)
    """Conversations of the page at `list.after` already read, with their `updated_time`."""

    def dumps(self) -> Json:
        return {
            "stop": self.stop,
            "started": self.started,
            "round": self.round,
            "list": self.list.dumps(),
            "done": self.done,
        }

    @classmethod
    def loads(cls, data: object) -> MessengerPass | None:
        if not isinstance(data, dict):
            return None
        stop, started, rnd, done = (data.get(k) for k in ("stop", "started", "round", "done"))
        listing = ListPass.loads(data.get("list"))
        if (
            not isinstance(stop, int)
            or not isinstance(started, int)
            or not isinstance(rnd, int)
            or listing is None
            or not isinstance(done, dict)
            or not all(isinstance(v, int) for v in done.values())
        ):
            return None
        return cls(stop, started, rnd, listing, done)


@dataclass
class MessengerCursor:
    watermark: int
    """The highest conversation `updated_time` read (UNIX seconds)."""
    reading: MessengerPass | None = None

    def dumps(self) -> str:
        data: Json = {"v": 1, "watermark": self.watermark}
        if self.reading is not None:
            data["pass"] = self.reading.dumps()
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> MessengerCursor | None:
        data = _load(text)
        if data is None or not isinstance(data.get("watermark"), int):
            return None
        return cls(data["watermark"], MessengerPass.loads(data.get("pass")))

    def clamp(self, ceiling: int) -> None:
        """No time beyond `ceiling` (a cursor saved before watermarks were bounded)."""
        self.watermark = min(self.watermark, ceiling)
        if self.reading is not None:
            self.reading.stop = min(self.reading.stop, ceiling)
            if self.reading.list.top is not None:
                self.reading.list.top = min(self.reading.list.top, ceiling)


@dataclass
class ActivePost:
    last: int
    """Time of the newest comment read (the post's creation before any), UNIX seconds."""
    visitor: bool
    pending: ListPass | None = None
    """A read of its comments that a poll left unfinished."""


@dataclass
class SweepPass:
    started: int
    """When the sweep began (our clock); it becomes `swept` when the sweep ends."""
    list: ListPass = field(default_factory=ListPass)


@dataclass
class CommentsCursor:
    posts: int
    """The newest post `created_time` read."""
    swept: int
    """When the last sweep ran (our clock)."""
    active: dict[str, ActivePost] = field(default_factory=dict)
    """In the order they are read: a poll that stops early leaves the others first."""
    feed: ListPass | None = None
    """A read of new posts that a poll left unfinished."""
    sweep: SweepPass | None = None

    def dumps(self) -> str:
        active = {
            k: [v.last, int(v.visitor)] + ([v.pending.dumps()] if v.pending else []) for k, v in self.active.items()
        }
        data: Json = {"v": 1, "posts": self.posts, "swept": self.swept, "active": active}
        if self.feed is not None:
            data["feed"] = self.feed.dumps()
        if self.sweep is not None:
            data["sweep"] = [self.sweep.started, self.sweep.list.dumps()]
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> CommentsCursor | None:
        data = _load(text)
        if data is None:
            return None
        posts, swept, active = data.get("posts"), data.get("swept"), data.get("active")
        if not isinstance(posts, int) or not isinstance(swept, int) or not isinstance(active, dict):
            return None
        out = cls(posts, swept, feed=ListPass.loads(data.get("feed")))
        for k, v in active.items():
            if isinstance(v, list) and len(v) in (2, 3) and all(isinstance(x, int) for x in v[:2]):
                out.active[k] = ActivePost(v[0], bool(v[1]), ListPass.loads(v[2]) if len(v) == 3 else None)
        sweep = data.get("sweep")
        if isinstance(sweep, list) and len(sweep) == 2 and isinstance(sweep[0], int):
            listing = ListPass.loads(sweep[1])
            if listing is not None:
                out.sweep = SweepPass(sweep[0], listing)
        return out

    def clamp(self, ceiling: int) -> None:
        """No time beyond `ceiling` (a cursor saved before watermarks were bounded)."""
        self.posts = min(self.posts, ceiling)
        for post in self.active.values():
            post.last = min(post.last, ceiling)


def _load(text: str | None) -> Json | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("v") != 1:
        log.warning("unreadable cursor, starting from the backfill window", extra={"cursor": text[:200]})
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

    def _observe(self, headers: Mapping[str, str]) -> Usage:
        """Note the usage headers of an answer (and the block they announce)."""
        usage = parse_usage(headers)
        self.usage = usage
        for name, value in (("app", usage.app), ("business", usage.business)):
            if value is not None:
                self.rate_limit_remaining[name] = min(100.0, max(0.0, 100.0 - value))
        if usage.regain_seconds > 0:
            self._block(usage.regain_seconds)
        return usage

    async def get(self, path: str, params: Mapping[str, str]) -> Json:
        """GET `path` (relative to the versioned base) and return the JSON object answered."""
        endpoint = f"/{path.lstrip('/')}"
        if self.blocked_until is not None:
            left = (self.blocked_until - self.clock()).total_seconds()
            if left > 0:
                raise RateLimited(f"blocked by the Graph API for {left:.0f}s more", retry_after=left, endpoint=endpoint)
        token = self.token.get()
        if token is None:
            raise CredentialsRejected(f"no Page access token: ${self.token.name} is not set", endpoint=endpoint)
        query = dict(params)
        secret = self.app_secret.get() if self.app_secret is not None else None
        if secret:
            query["appsecret_proof"] = appsecret_proof(secret, token)
        try:
            async with self.session.get(
                self.base_url + endpoint,
                params=query,
                timeout=self.timeout,
                headers={"Authorization": f"Bearer {token}"},
                allow_redirects=False,
            ) as resp:
                status = resp.status
                usage = self._observe(resp.headers)
                raw = await read_body(resp, endpoint)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise TemporaryFailure("timed out", endpoint=endpoint) from None
        except aiohttp.ClientError as exc:
            what = excerpt(f"{type(exc).__name__}: {exc}", 300)
            raise TemporaryFailure(what, endpoint=endpoint) from None
        try:
            body = decode_json(raw, endpoint)
        except ValueError:
            body = None
            if status < 500:
                raise BadPayload(f"HTTP {status}: not JSON ({len(raw)} bytes)", endpoint=endpoint) from None
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


PASS_ENDS = {
    "repeat": "the Graph API gave a paging cursor it had given before",
    "too_long": f"a paging cursor is longer than {MAX_CURSOR_CHARS} characters",
    "capped": "a list went on past its page limit",
    "rate": f"the stream made {MAX_CALLS_PER_MINUTE} calls in a minute",
    "active": f"more than {MAX_ACTIVE_POSTS} active posts",
}
"""Why a poll did not read a list to its end (logged when it starts happening)."""


class _GraphSource:
    """What both streams share: the client, the options, a per-poll budget of calls and items,
    the items a fetch set aside and the receive time of its last answer."""

    stream = ""

    def __init__(self, client: GraphClient, options: FacebookOptions) -> None:
        self.client = client
        self.options = options
        self.page_id = client.page_id
        self.budget = FetchBudget(client.clock)
        self._unfinished = False
        """A list was left for the next poll (`MAX_PAGES_PER_POLL`): poll again at once."""
        self._ends: set[tuple[str, str]] = set()
        self._ends_logged: set[tuple[str, str]] = set()
        self._rejected: list[Rejected] = []
        self._received_at = client.clock()

    @property
    def rate_limit_remaining(self) -> dict[str, float]:
        return self.client.rate_limit_remaining

    @property
    def blocked_until(self) -> datetime | None:
        """Until when the Graph API blocks the app or Page (the poller calls that wait `blocked`)."""
        return self.client.blocked_until

    def rate_budget(self) -> RateBudget:
        return RateBudget(remaining=dict(self.client.rate_limit_remaining), blocked_until=self.client.blocked_until)

    async def _get(self, path: str, params: Mapping[str, str]) -> Json:
        self.budget.spend()
        body = await self.client.get(path, params)
        self._received_at = self.client.clock()
        return body

    async def _page(self, path: str, params: Mapping[str, str], *, check: bool = True) -> Listing:
        """One page of a list; with `check`, the poll may stop here (`Cut`) and go on later."""
        if check:
            self.budget.check()
        listing = parse_listing(await self._get(path, params))
        self.budget.items += len(listing.items)
        return listing

    def _ended(self, reason: str, what: str) -> None:
        """Note why a list stopped before its end ("later": it goes on at the next poll)."""
        if reason == "later":
            self._unfinished = True
        elif reason != "end":
            self._ends.add((reason, what))

    async def _fetch(self, cursor: str | None) -> tuple[list[Message], str, Cut | None]:
        """The messages read and the cursor to save; the `Cut` that stopped the poll, if one did."""
        raise NotImplementedError

    async def fetch(self, cursor: str | None) -> Batch:
        self.budget.start()
        self._unfinished = False
        self._ends = set()
        self._rejected = []
        try:
            messages, new_cursor, cut = await self._fetch(cursor)
        except BadPayload as exc:
            raise BadPayload(str(exc), endpoint=exc.endpoint or self.stream) from None
        if cut is not None and not cut.more:
            self._ended("rate", "calls")
        for reason, what in sorted(self._ends - self._ends_logged):
            log.warning(
                "Graph list not read to its end",
                extra={"page_id": self.page_id, "stream": self.stream, "list": what, "reason": PASS_ENDS[reason]},
            )
        self._ends_logged = self._ends
        wait = self.client.next_poll_after()
        more = (cut.more if cut is not None else self._unfinished) and not wait
        if cut is not None and cut.wait:
            wait = max(wait or 0.0, cut.wait)
        return Batch(
            messages,
            new_cursor,
            more=more,
            next_poll_after=wait,
            calls=self.budget.calls,
            rejected=list(self._rejected),
        )

    async def close(self) -> None:
        return None  # the session is shared and closed by its owner


class MessengerSource(_GraphSource):
    """facebook.messenger: the Page's Messenger conversations."""

    stream = MESSENGER

    def _fields(self) -> str:
        limit = self.options.messages_limit
        return f"id,updated_time,messages.limit({limit}){{id,created_time,from,message}}"

    async def _fetch(self, cursor: str | None) -> tuple[list[Message], str, Cut | None]:
        now = self.client.clock()
        ceiling = _ts(now) + CLOCK_SKEW_SECONDS
        state = MessengerCursor.loads(cursor) or MessengerCursor(_ts(now - self.options.backfill))
        state.clamp(ceiling)
        out: dict[str, Message] = {}
        cut: Cut | None = None
        try:
            await self._passes(state, _ts(now), ceiling, out)
        except Cut as stopped:
            cut = stopped
        return list(out.values()), state.dumps(), cut

    async def _passes(self, state: MessengerCursor, now: int, ceiling: int, out: dict[str, Message]) -> None:
        """Read the list (going on with the pass a poll left) until the watermark can move."""
        floor = state.watermark - int(self.options.overlap.total_seconds())
        p = state.reading or MessengerPass(stop=floor, started=now)
        state.reading = p
        processed: dict[str, int] = {}
        listed = 0  # pages of the list read by this poll, in all its rounds
        while True:
            if listed >= MAX_PAGES_PER_POLL:
                raise Cut(more=True)
            paging = Paging(p.list.after, p.list.pages, per_poll=MAX_PAGES_PER_POLL - listed)
            end = await self._round(p, paging, floor, ceiling, processed, out)
            listed += paging.read
            if end in ("repeat", "too_long"):  # the list cannot be followed: from the top next time
                state.reading = None
                return
            if p.list.pages <= 1:  # one page: nothing moved while it was read
                if p.list.top is not None:
                    state.watermark = max(state.watermark, p.list.top)
                state.reading = None
                return
            if p.round >= MAX_VERIFY_ROUNDS:  # the list keeps moving: the watermark stays
                state.reading = None
                return
            # The list moved while it was paged: read its head again, down to the old head.
            top = p.list.top if p.list.top is not None else p.stop
            p = MessengerPass(stop=min(top, p.started), started=now, round=p.round + 1)
            state.reading = p

    async def _round(
        self,
        p: MessengerPass,
        paging: Paging,
        floor: int,
        ceiling: int,
        processed: dict[str, int],
        out: dict[str, Message],
    ) -> str:
        """Read the conversations updated at or after `p.stop`, newest first, from where `p`
        is; their messages at or after `floor`. Returns why the round ended."""
        while True:
            params = {"platform": "messenger", "fields": self._fields(), "limit": str(self.options.page_limit)}
            if p.list.after:
                params["after"] = p.list.after
            listing = await self._page(f"{self.page_id}/conversations", params)
            ended = False
            for item in listing.items:
                conv = parse_conversation(item, received_at=self._received_at)
                if isinstance(conv, Rejected):
                    self._rejected.append(conv)
                    continue
                updated = _ts(conv.updated)
                if p.done.get(conv.id) == updated:
                    continue
                p.list.raise_top(min(updated, ceiling))
                if updated < p.stop:
                    ended = True
                    break
                if processed.get(conv.id) != updated:
                    await self._messages(conv, floor, out)
                    processed[conv.id] = updated
                p.done[conv.id] = updated
            end = paging.step(None if ended else listing.after)
            p.list.pages = paging.pages
            self._ended(end or "end", "conversations")
            if end in (None, "later"):
                p.list.after, p.done = listing.after, {}
            if end == "later":
                raise Cut(more=True)
            if end is not None:
                return end

    async def _messages(self, conv: Conversation, floor: int, out: dict[str, Message]) -> None:
        """A conversation's messages at or after `floor`: the embedded page, then up to
        `MAX_MESSAGE_PAGES` more (a poll may stop before the first one, not after)."""
        self.budget.items += len(conv.messages)
        items, after = conv.messages, conv.messages_after
        if after is not None and len(after) > MAX_CURSOR_CHARS:
            self._ended("too_long", "messages")
            after = None
        paging = Paging(after, 0, MAX_MESSAGE_PAGES, MAX_MESSAGE_PAGES)
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
            params = {
                "fields": "id,created_time,from,message",
                "limit": str(self.options.messages_limit),
                "after": after,
            }
            try:
                listing = await self._page(f"{conv.id}/messages", params, check=paging.pages == 0)
            except ObjectGone:
                return  # deleted while we read it
            end = paging.step(listing.after)
            self._ended(end or "end", "messages")
            items, after = listing.items, listing.after if end is None else None


class CommentsSource(_GraphSource):
    """facebook.comments: comments on the Page's posts, and visitor posts."""

    stream = COMMENTS
    COMMENT_FIELDS = "id,from,message,created_time,parent{id,from,parent{id}}"

    async def _fetch(self, cursor: str | None) -> tuple[list[Message], str, Cut | None]:
        now = _ts(self.client.clock())
        ceiling = now + CLOCK_SKEW_SECONDS
        overlap = int(self.options.overlap.total_seconds())
        state = CommentsCursor.loads(cursor)
        if state is None:  # the first sweep brings in the older posts commented since `backfill`
            since = now - int(self.options.backfill.total_seconds())
            state = CommentsCursor(since, since)
        state.clamp(ceiling)
        out: dict[str, Message] = {}
        cut: Cut | None = None
        try:
            await self._new_posts(state, overlap, ceiling, out)
            if state.sweep is not None or now - state.swept >= self.options.sweep_every.total_seconds():
                await self._sweep(state, now, overlap)
            for post_id in list(state.active):
                post = state.active[post_id]
                newest = await self._comments(post_id, post, post.last - overlap, ceiling, out)
                del state.active[post_id]
                if newest is not None:  # else deleted; read, it goes last in the order
                    post.last = newest
                    state.active[post_id] = post
        except Cut as stopped:
            cut = stopped
        horizon = now - int(self.options.active_days * 86400)
        state.active = {k: v for k, v in state.active.items() if v.last >= horizon or v.pending}
        if len(state.active) > MAX_ACTIVE_POSTS:  # the least recently commented leave
            self._ended("active", "posts")
            keep = set(sorted(state.active, key=lambda k: state.active[k].last)[-MAX_ACTIVE_POSTS:])
            state.active = {k: v for k, v in state.active.items() if k in keep}
        return list(out.values()), state.dumps(), cut

    async def _new_posts(self, state: CommentsCursor, overlap: int, ceiling: int, out: dict[str, Message]) -> None:
        """The feed since the post watermark: visitor posts are messages, every post is active."""
        posts_floor = state.posts - overlap
        feed = state.feed or ListPass()
        state.feed = feed

        def take(item: Any) -> None:
            read = parse_post(item, self.page_id, received_at=self._received_at)
            if isinstance(read, Rejected):
                self._rejected.append(read)
                return
            created = _ts(read.created)
            if created < posts_floor:
                return
            if read.message is not None:
                out[read.id] = read.message
            created = min(created, ceiling)
            feed.raise_top(created)
            state.active.setdefault(read.id, ActivePost(created, read.message is not None))

        end = await self._feed(feed, posts_floor, "id,created_time,from,message", take)
        if end == "later":
            return
        if end not in ("repeat", "too_long") and feed.top is not None:
            state.posts = max(state.posts, feed.top)
        state.feed = None

    async def _feed(self, lp: ListPass, since: int, fields: str, take: Callable[[Any], None]) -> str:
        """Page the feed since `since` from where `lp` is; returns why it ended."""
        paging = Paging(lp.after, lp.pages)
        while True:
            params = {"fields": fields, "since": str(since), "limit": str(self.options.page_limit)}
            if lp.after:
                params["after"] = lp.after
            listing = await self._page(f"{self.page_id}/feed", params)
            for item in listing.items:
                take(item)
            end = paging.step(listing.after)
            lp.pages = paging.pages
            self._ended(end or "end", "feed")
            if end in (None, "later"):
                lp.after = listing.after
            if end is not None:
                return end

    async def _sweep(self, state: CommentsCursor, now: int, overlap: int) -> None:
        """Bring back into the active set the posts commented since the last sweep."""
        sweep = state.sweep or SweepPass(now)
        state.sweep = sweep
        floor = state.swept - overlap

        def take(item: Any) -> None:
            try:  # the feed read sets a malformed post aside; here it only stays out of the set
                fields = Fields(item, "post")
                post_id = fields.id("id", "bad_id", is_graph_id, "a Graph id")
                if post_id is None or post_id in state.active or "updated_time" not in fields.item:
                    return
                if _ts(fields.time("updated_time")) >= floor:
                    author_id, _ = _author(fields)
                    state.active[post_id] = ActivePost(floor, author_id != self.page_id)
            except ItemError:
                return

        since = sweep.started - int(self.options.sweep_days * 86400)
        end = await self._feed(sweep.list, since, "id,created_time,updated_time,from", take)
        if end == "later":
            return
        if end not in ("repeat", "too_long"):
            state.swept = sweep.started
        state.sweep = None

    async def _comments(
        self, post_id: str, post: ActivePost, floor: int, ceiling: int, out: dict[str, Message]
    ) -> int | None:
        """Read a post's comments at or after `floor` (going on with a read a poll left); the
        newest time read (None: the post is gone). A comment whose `created_time` cannot be read
        neither ends the read nor moves the post's watermark: its parser sets it aside."""
        lp = post.pending or ListPass()
        post.pending = lp
        paging = Paging(lp.after, lp.pages)
        items: list[Any] = []
        try:
            while True:
                params = {
                    "filter": "stream",
                    "order": "reverse_chronological",
                    "fields": self.COMMENT_FIELDS,
                    "limit": str(self.options.page_limit),
                }
                if lp.after:
                    params["after"] = lp.after
                try:
                    listing = await self._page(f"{post_id}/comments", params)
                except ObjectGone:
                    return None
                ended = False
                for item in listing.items:
                    created = _created_ts(item)  # unreadable: kept, for its parser to set it aside
                    if created is not None and created < floor:
                        ended = True
                        break
                    items.append(item)
                end = paging.step(None if ended else listing.after)
                lp.pages = paging.pages
                if end in (None, "later"):
                    lp.after = listing.after
                if end is not None:
                    break
        finally:  # what was read is kept, also when the poll stops here
            parsed = comment_messages(post_id, post.visitor, items, self.page_id, received_at=self._received_at)
            self._rejected += parsed.rejected
            for m in parsed.messages:  # believable times only (clamped, future ones set aside)
                out[m.external_id] = m
                lp.raise_top(min(_ts(m.created_at), ceiling))
        self._ended(end, "comments")
        if end == "later":  # goes on at the next poll
            return post.last
        post.pending = None
        if end in ("repeat", "too_long"):  # read again from the top next time
            return post.last
        return max(post.last, lp.top) if lp.top is not None else post.last


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
