"""Pure parsing of X API v2 pages into messages and set-aside items (see docs/sources.md, "X")."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from monitor.domain.items import ItemError, Parsed, Rejected, believable
from monitor.domain.model import Message
from monitor.logs import excerpt
from monitor.sources.base import BadPayload
from monitor.sources.fields import Fields

ENDPOINT_MENTIONS = "GET /2/users/:id/mentions"
ENDPOINT_TWEETS = "GET /2/users/:id/tweets"
ENDPOINT_DM_EVENTS = "GET /2/dm_events"
ENDPOINT_SEARCH = "GET /2/tweets/search/recent"

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
    """The public link of a tweet (by its author's handle when the page gave it)."""
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


class _ItemReader(Protocol):
    """Reads one item of a page (its fields, its id) as a message, None when it is none (the
    brand's own post, a DM join); ItemError naming a malformed field."""

    def __call__(
        self,
        item: Fields,
        item_id: str,
        /,
        *,
        user_id: str,
        handle: str | None,
        users: Mapping[str, str],
        received_at: datetime,
    ) -> Message | None: ...


def _parse_page(
    payload: object,
    read: _ItemReader,
    kind: str,
    user_key: str,
    *,
    endpoint: str,
    user_id: str,
    handle: str | None,
    received_at: datetime,
) -> Page:
    """The items of a page read one by one by `read`: a malformed one is set aside (as `kind`,
    with the username of its `user_key`), the page goes on."""
    data, users, next_token, errors = _Check(endpoint).envelope(payload)
    page = Page([], [], next_token, errors)
    for i, item in enumerate(data):
        item_id: str | None = None
        try:
            fields = Fields(item, f"data[{i}]")
            item_id = fields.identify(is_x_id, "an X id")
            page.ids.append(int(item_id))  # even a rejected item moves the cursor
            message = read(fields, item_id, user_id=user_id, handle=handle, users=users, received_at=received_at)
        except ItemError as exc:
            page.rejected.append(exc.rejected(item, kind, item_id, _usernames(item, users, user_key)))
            continue
        if message is not None:
            page.messages.append(message)
    return page


def parse_tweets(payload: object, *, user_id: str, handle: str | None, endpoint: str, received_at: datetime) -> Page:
    """Messages of one page of `/2/users/:id/mentions` or `/2/users/:id/tweets` for the account
    `user_id`, received at `received_at`. A malformed envelope raises BadPayload (naming the
    endpoint and the field); a malformed tweet is set aside in `Page.rejected`.

    Customers' tweets are inbound, in thread `conversation:customer`; the brand's replies to a
    customer are outbound in the customer's thread; the brand's other tweets are skipped. An
    edited tweet is stored under its original id, at the original's time.
    """
    return _parse_page(
        payload, _tweet, TWEET, "author_id", endpoint=endpoint, user_id=user_id, handle=handle, received_at=received_at
    )


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
    return _parse_page(
        payload, _dm, DM_EVENT, "sender_id", endpoint=endpoint, user_id=user_id, handle=handle, received_at=received_at
    )


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
