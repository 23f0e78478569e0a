"""Graph API items of a Page -> messages, or items set aside: Messenger conversations and their
messages, feed posts, comments (pure; threads as docs/sources.md describes them)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from monitor.domain.items import ItemError, Parsed, Rejected, Stamp, believable
from monitor.domain.model import Channel, Message
from monitor.sources.base import BadPayload
from monitor.sources.fields import Fields
from monitor.sources.graph.ids import is_graph_id
from monitor.sources.graph.paging import Listing, parse_listing, unix

CONVERSATION, MESSENGER_MESSAGE, POST, COMMENT = "conversation", "messenger_message", "post", "comment"
"""Kinds of the items the Graph streams set aside (`Rejected.kind`)."""

MESSENGER_ID_MAX = 256
"""Messenger conversation and message ids are opaque tokens of a few dozen characters; longer
than this is not an id."""
_MESSENGER_ID = re.compile(rf"[A-Za-z0-9_.$:=+-]{{1,{MESSENGER_ID_MAX}}}")
"""No `/`, `?`, `#`, `%` or space: a conversation id goes in the path of the next request."""


def is_messenger_id(value: str) -> bool:
    """A Messenger conversation or message id (`t_…`, `m_…`, `mid.$…`): an opaque token."""
    return _MESSENGER_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class Inbox:
    """A Messenger Platform inbox of a Page (`/{page-id}/conversations?platform=...`)."""

    platform: str
    """The `platform` of the conversation list."""
    channel: Channel
    thread_prefix: str
    """Its conversations' thread keys: `<prefix>:<conversation id>`."""
    url: str
    """Where the brand answers (`{page_id}` is the Page's id)."""


MESSENGER = Inbox(
    "messenger", "facebook", "messenger", "https://business.facebook.com/latest/inbox/all?asset_id={page_id}"
)
"""The Page's own Messenger inbox."""


def messenger_thread_key(conversation_id: str) -> str:
    return f"{MESSENGER.thread_prefix}:{conversation_id}"


def comment_thread_key(comment_id: str) -> str:
    return f"comment:{comment_id}"


def post_thread_key(post_id: str) -> str:
    return f"post:{post_id}"


def created_unix(item: object, key: str = "created_time") -> int | None:
    """An item's creation time (`key`) in UNIX seconds; None when it cannot be read (its parser
    says why)."""
    try:
        return unix(Fields(item, "item").time(key))
    except ItemError:
        return None


def author(item: Fields) -> tuple[str | None, str | None]:
    """(id, name) of `from` (its `username` on Instagram); (None, None) when the API leaves it out."""
    who = item.nested("from", "bad_author")
    if who is None:
        return None, None
    name = who.item.get("name", who.item.get("username"))
    return who.id("id", "bad_author", is_graph_id, "a Graph id"), name if isinstance(name, str) else None


def _text(item: Fields) -> str:
    """`message`: absent or null is an empty text (an attachment, a sticker)."""
    return item.text("message", "bad_text", required=False) or ""


def created(item: Fields, received_at: datetime, *, key: str = "created_time", channel: Channel = "facebook") -> Stamp:
    """An item's creation time (`key`), clamped when a little ahead of `received_at`."""
    return believable(item.time(key), received_at=received_at, channel=channel, where=f"{item.where}.{key}")


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


def messenger_message(
    item: object,
    conversation_id: str,
    page_id: str,
    *,
    received_at: datetime,
    inbox: Inbox = MESSENGER,
    brand_id: str | None = None,
) -> Message | Rejected:
    """A message of a conversation of `inbox` (outbound when `from` is `brand_id`, by default the
    Page), or the item set aside."""
    mid: str | None = None
    try:
        m = Fields(item, f"a message of conversation {conversation_id}")
        mid = m.identify(is_messenger_id, "a message id", named="message")
        stamp = created(m, received_at, channel=inbox.channel)
        author_id, author_name = author(m)
        text = _text(m)
    except ItemError as exc:
        return exc.rejected(item, MESSENGER_MESSAGE, mid, {"conversation": conversation_id})
    outbound = author_id == (brand_id or page_id)
    return Message(
        external_id=mid,
        thread_key=f"{inbox.thread_prefix}:{conversation_id}",
        thread_kind="private",
        direction="outbound" if outbound else "inbound",
        created_at=stamp.at,
        text=text,
        author_id=author_id,
        author_handle=author_name,
        url=inbox.url.format(page_id=page_id),
        raw=m.item,
        future_created_at=stamp.clamped_from,
        customer_id=_recipient(m.item) if outbound else None,
    )


def _recipient(message: dict[str, Any]) -> str | None:
    """The first id of a message's `to` (`{"data": [{"id": ...}]}`), when it is a Graph id: whom
    the brand writes to. Anything else is no recipient (`to` only names a conversation's customer)."""
    to = message.get("to")
    people = to.get("data") if isinstance(to, dict) else None
    first = people[0] if isinstance(people, list) and people and isinstance(people[0], dict) else {}
    value = first.get("id")
    return value if isinstance(value, str) and is_graph_id(value) else None


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
        stamp = created(p, received_at)
        author_id, author_name = author(p)
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


class CommentRead(NamedTuple):
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
    """The comments of one post as messages, each in its thread (docs/sources.md,
    `facebook.comments`), and the comments set aside."""
    parents: dict[str, str | None] = {}
    parsed: list[CommentRead] = []
    rejected: list[Rejected] = []
    authors: dict[str, str | None] = {}  # comment id -> author id, from the comments and their parents
    for item in items:
        cid: str | None = None
        try:
            fields = Fields(item, f"a comment of post {post_id}")
            cid = fields.identify(is_graph_id, "a Graph id", named="comment")
            parent, grand = _parent_ids(fields)
            stamp = created(fields, received_at)
            author_id, author_name = author(fields)
            comment = CommentRead(cid, parent, fields, stamp, author_id, author_name, _text(fields))
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
