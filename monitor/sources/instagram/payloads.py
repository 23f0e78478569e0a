"""Graph API items of an Instagram professional account -> messages, or items set aside: its media,
their comments and replies, the comments and captions that @mention or tag it (pure; threads as
docs/instagram.md describes them). Direct messages are Messenger Platform conversations
(`monitor.sources.facebook.payloads.messenger_message` with `DIRECT`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.domain.items import ItemError, Parsed, Rejected, Stamp
from monitor.domain.model import Message
from monitor.sources.base import BadPayload
from monitor.sources.facebook.payloads import CommentRead, Inbox, author, created, messenger_message
from monitor.sources.fields import Fields, parse_item
from monitor.sources.graph.ids import is_graph_id
from monitor.sources.graph.paging import Listing, parse_listing

MEDIA, COMMENT, MENTIONED_COMMENT, MENTIONED_MEDIA = (
    "ig_media",
    "ig_comment",
    "ig_mentioned_comment",
    "ig_mentioned_media",
)
"""Kinds of the items the Instagram streams set aside (`Rejected.kind`); direct messages are
`messenger_message`s, as on Messenger."""

INBOX_URL = "https://business.facebook.com/latest/inbox/all?asset_id={page_id}"
"""Meta Business Suite's inbox of the Page: Instagram comments and direct messages are answered there."""
DIRECT = Inbox("instagram", "instagram", "igdm", INBOX_URL)
"""Instagram direct messages: `/{page-id}/conversations?platform=instagram`."""

COMMENT_FIELDS = "id,timestamp,text,username,from{id,username}"
"""What a comment is read with (`from` is the Instagram-scoped id and username of its author)."""
REPLY_LIMIT = 50
"""Replies embedded under each comment read (`replies.limit(n)`); more are paged."""
THREAD_FIELDS = f"{COMMENT_FIELDS},replies.limit({REPLY_LIMIT}){{{COMMENT_FIELDS}}}"
"""A comment with its replies (Instagram has one level of replies: a reply to a reply is a reply
to the top-level comment)."""
MEDIA_FIELDS = f"id,timestamp,caption,username,permalink,comments.limit({REPLY_LIMIT}){{{COMMENT_FIELDS}}}"
"""A media that @mentions or tags the account, with its comments (the brand's answers among them)."""


def thread_key(media_id: str, customer: str) -> str:
    """The thread of one customer under one media: their comments and the brand's answers to them."""
    return f"igcomment:{media_id}:{customer}"


def _stamp(item: Fields, received_at: datetime) -> Stamp:
    return created(item, received_at, key="timestamp", channel="instagram")


def _text(item: Fields, key: str = "text") -> str:
    return item.text(key, "bad_text", required=False) or ""


@dataclass(frozen=True)
class Media:
    """An item of `/{ig-user-id}/media`: the account's own media (never a message)."""

    id: str
    created: datetime
    comments: int | None
    """`comments_count`, when asked for."""


def parse_media(item: object, *, received_at: datetime) -> Media | Rejected:
    """A media of the account, or the item set aside."""

    def read(media_id: str, m: Fields) -> Media:
        count = m.item.get("comments_count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise m.fail("bad_field", "comments_count", "not a count")
        return Media(media_id, _stamp(m, received_at).at, count)

    return parse_item(item, MEDIA, is_graph_id, "a Graph id", read)


def customer_of(c: CommentRead) -> str:
    """Who a comment is from, as a thread names them: the Instagram-scoped id, else `@username`."""
    return c.author_id or f"@{c.author_name or ''}"


def replies_of(item: object) -> Listing | None:
    """The `replies` embedded in a comment (None when absent, or when the comment is malformed:
    its parser says why)."""
    if not isinstance(item, dict) or item.get("replies") is None:
        return None
    try:
        return parse_listing(item["replies"])
    except BadPayload:
        return None


def _comment(item: object, where: str, parent: str | None, received_at: datetime) -> CommentRead:
    c = Fields(item, where)
    cid = c.identify(is_graph_id, "a Graph id", named="comment")
    author_id, author_name = author(c)
    if author_name is None:
        author_name = c.text("username", "bad_author", required=False)
    if c.item.get("replies") is not None and replies_of(c.item) is None:
        raise c.fail("bad_field", "replies", "not a list of comments")
    return CommentRead(cid, parent, c, _stamp(c, received_at), author_id, author_name, _text(c))


def _flatten(
    items: Sequence[Any], where: str, context: Mapping[str, Any], received_at: datetime
) -> tuple[list[CommentRead], list[Rejected]]:
    """Comments and their embedded replies, in the order read; the malformed ones set aside."""
    out: list[CommentRead] = []
    rejected: list[Rejected] = []

    def read(item: object, parent: str | None) -> CommentRead | None:
        try:
            return _comment(item, where, parent, received_at)
        except ItemError as exc:
            cid = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else None
            rejected.append(exc.rejected(item, COMMENT, cid, {**context, "parent": parent}))
            return None

    for item in items:
        top = read(item, context.get("parent"))
        if top is None:
            continue
        replies = replies_of(item)
        read_replies = [read(reply, top.id) for reply in (replies.items if replies is not None else [])]
        out += [top, *(r for r in read_replies if r is not None)]
    return out, rejected


def _addressed(text: str, customers: Mapping[str, str]) -> str | None:
    """The customer a brand comment starts by addressing (`@username ...`), if one of `customers`
    (username -> customer)."""
    if not text.startswith("@"):
        return None
    name = text[1:].split(maxsplit=1)[0].rstrip(",.:;!?") if len(text) > 1 else ""
    return customers.get(name)


def comment_messages(
    media_id: str,
    items: Sequence[Any],
    brand_id: str,
    *,
    received_at: datetime,
    url: str | None,
    owner: tuple[str, str | None] | None = None,
    context: Mapping[str, Any] | None = None,
) -> Parsed:
    """Comments (with their embedded replies) under one media as messages, each in the thread of
    its customer: a customer's own comments, and the brand's answers to them - a reply under the
    customer's comment, or a brand comment that starts with `@their username`.

    With `owner` (customer, username: the author of a caption or a comment that @mentions or tags
    the brand), only the owner's comments and the brand's are read, in the owner's thread."""
    context = {"media": media_id, **(context or {})}
    comments, rejected = _flatten(items, f"a comment of media {media_id}", context, received_at)
    by_id = {c.id: c for c in comments}
    names = {c.author_name: customer_of(c) for c in comments if c.author_id != brand_id and c.author_name}
    out: list[Message] = []
    for c in comments:
        parent = by_id.get(c.parent) if c.parent else None
        brand = c.author_id == brand_id
        if owner is not None:
            mine = customer_of(c) == owner[0] or (c.author_name is not None and c.author_name == owner[1])
            customer: str | None = owner[0] if brand or mine else None
        elif brand:
            customer = _addressed(c.text, names) or (
                customer_of(parent) if parent and parent.author_id != brand_id else None
            )
        else:
            customer = customer_of(c)
        if customer is None:
            if not brand:
                continue  # another user's comment under a media that mentions the brand: not ours
            customer = customer_of(c)  # a brand comment addressed to no one: a thread of its own
        out.append(
            Message(
                external_id=c.id,
                thread_key=thread_key(media_id, customer),
                thread_kind="public",
                direction="outbound" if brand else "inbound",
                created_at=c.stamp.at,
                text=c.text,
                author_id=c.author_id,
                author_handle=c.author_name,
                url=url,
                raw=c.fields.item,
                future_created_at=c.stamp.clamped_from,
                reply_to_brand=not brand and parent is not None and parent.author_id == brand_id,
            )
        )
    return Parsed(out, rejected)


def mentioned_media_messages(item: object, brand_id: str, *, received_at: datetime) -> Parsed:
    """A media of another account whose caption @mentions or tags the brand (`mentioned_media`, or
    an item of `/{ig-user-id}/tags`): the caption is the owner's message, and the owner's comments
    and the brand's under it follow it in one thread."""

    def read(media_id: str, m: Fields) -> Parsed:
        stamp = _stamp(m, received_at)
        owner = m.text("username", "bad_author") or ""
        permalink = m.text("permalink", "bad_field", required=False)
        comments = m.nested("comments", "bad_field")
        try:
            listing = parse_listing(comments.item) if comments is not None else Listing([], None)
        except BadPayload as exc:
            raise m.fail("bad_field", "comments", str(exc)) from None
        customer = f"@{owner}"
        parsed = comment_messages(
            media_id, listing.items, brand_id, received_at=received_at, url=permalink, owner=(customer, owner)
        )
        head = Message(
            external_id=media_id,
            thread_key=thread_key(media_id, customer),
            thread_kind="public",
            direction="inbound",
            created_at=stamp.at,
            text=_text(m, "caption"),
            author_handle=owner,
            url=permalink,
            raw={k: v for k, v in m.item.items() if k != "comments"},
            future_created_at=stamp.clamped_from,
        )
        return Parsed([head, *parsed.messages], parsed.rejected)

    read_or = parse_item(item, MENTIONED_MEDIA, is_graph_id, "a Graph id", read)
    return Parsed([], [read_or]) if isinstance(read_or, Rejected) else read_or


def mentioned_comment_messages(item: object, brand_id: str, *, received_at: datetime) -> Parsed:
    """A comment (under another account's media) that @mentions the brand: the commenter's message,
    followed in one thread by the replies under it of the commenter and the brand."""
    try:
        c = _comment(item, "mentioned comment", None, received_at)
        media = c.fields.nested("media", "bad_field")
        media_id = media.id("id", "bad_field", is_graph_id, "a Graph id") if media is not None else None
        permalink = media.text("permalink", "bad_field", required=False) if media is not None else None
    except ItemError as exc:
        cid = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else None
        return Parsed([], [exc.rejected(item, MENTIONED_COMMENT, cid)])
    replies = replies_of(item)
    head = {k: v for k, v in c.fields.item.items() if k != "replies"}
    thread = media_id or c.id
    return comment_messages(
        thread,
        [{**head, "replies": {"data": replies.items if replies else []}}],
        brand_id,
        received_at=received_at,
        url=permalink,
        owner=(customer_of(c), c.author_name),
    )


def dm_message(
    item: object, conversation_id: str, page_id: str, ig_user_id: str, *, received_at: datetime
) -> Message | Rejected:
    """A direct message (outbound when `from` is the Instagram account), or the item set aside."""
    return messenger_message(item, conversation_id, page_id, received_at=received_at, inbox=DIRECT, brand_id=ig_user_id)


def parse_rejected(
    kind: str, raw: object, context: Mapping[str, Any], *, page_id: str, ig_user_id: str, received_at: datetime
) -> Parsed:
    """A set-aside item parsed again by this code (`inbox-monitor quarantine retry`)."""
    if kind == COMMENT:
        parent = context.get("parent")
        return comment_messages(
            str(context.get("media", "")),
            [raw],
            ig_user_id,
            received_at=received_at,
            url=None,
            context={"parent": str(parent)} if parent else None,
        )
    if kind == MEDIA:
        media = parse_media(raw, received_at=received_at)
        return Parsed([], [media] if isinstance(media, Rejected) else [])
    if kind == MENTIONED_MEDIA:
        return mentioned_media_messages(raw, ig_user_id, received_at=received_at)
    if kind == MENTIONED_COMMENT:
        return mentioned_comment_messages(raw, ig_user_id, received_at=received_at)
    if kind == "messenger_message":
        m = dm_message(raw, str(context.get("conversation", "")), page_id, ig_user_id, received_at=received_at)
        return Parsed([], [m]) if isinstance(m, Rejected) else Parsed([m], [])
    raise ValueError(f"not an item kind of the Instagram streams: {kind!r}")
