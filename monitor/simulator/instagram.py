"""The Instagram side of the local Graph API (monitor/simulator/graph_api.py): what the Instagram
streams read, as Meta serves it with the token of the Page an account is linked to.

Serves, on the fake Graph API's server (its tokens, faults, usage headers, paging and `fields`):

* `/{ig-user-id}` (`id,username,name`), with `mentioned_comment.comment_id(<id>){...}` and
  `mentioned_media.media_id(<id>){...}` (error 100/33 when the object does not @mention it);
* `/{ig-user-id}/media` (the account's media, newest first, `since`/`until`), `/{ig-user-id}/tags`
  (other accounts' media that tag it, newest first);
* `/{ig-media-id}` (`id,timestamp,caption,username,permalink,comments_count,media_type,...`) and
  `/{ig-media-id}/comments` (top-level comments, oldest first, as Meta's example shows them);
* `/{ig-comment-id}` (`id,timestamp,text,username,from{id,username},parent_id,media,...`) and
  `/{ig-comment-id}/replies` (oldest first);
* `/{page-id}/conversations?platform=instagram` and their messages, `from {username, id}`.

And the webhook deliveries of object `instagram` (`comments`, `mentions`, `messaging`), unsigned:
the caller signs them with the app secret (`X-Hub-Signature-256`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.simulator.graph_api import (
    FakeComment,
    FakeGraphApi,
    FakeMessage,
    FakePost,
    FieldSpec,
    NodeKind,
    Person,
    _Ctx,
    _missing,
    _no_field,
    _sub,
    _time_param,
    graph_time,
    register,
)

Json = dict[str, Any]

IG_ID_PREFIX = 178414
"""Instagram ids are 17-digit numbers (`17841405309211844`): this prefix and the fake's counter."""


def _ts(t: datetime) -> int:
    return int(t.timestamp())


@dataclass
class FakeIgComment(FakeComment):
    """A comment under a media (`post_id`), read with the token of the Page `page_id`."""

    page_id: str = ""

    @property
    def media_id(self) -> str:
        return self.post_id

    def hidden(self, now: int) -> bool:
        return self.created > now


@dataclass
class FakeMedia(FakePost):
    """A media: its `author` posted it, its `text` is the caption, its comments are `FakeIgComment`s."""

    tags: tuple[str, ...] = ()
    """The Instagram accounts tagged in it."""

    def hidden(self, now: int) -> bool:
        return self.created > now or self.gone(now)


@dataclass
class FakeIgUser:
    id: str
    page_id: str
    username: str
    media: list[FakeMedia] = field(default_factory=list)
    tagged: list[FakeMedia] = field(default_factory=list)

    @property
    def person(self) -> Person:
        return Person(self.id, self.username, self.username)

    def hidden(self, now: int) -> bool:
        return False


def _mentions(text: str, username: str) -> bool:
    return re.search(rf"(?<![\w.])@{re.escape(username)}(?![\w])", text, re.IGNORECASE) is not None


def _from(p: Person, spec: FieldSpec) -> Json:
    return _sub({"id": p.id, "username": p.username or p.name}, spec)


def _found(ctx: _Ctx, object_id: str, kind: str) -> Any:
    """The visible object of `kind` under `object_id`, else the Graph API's error 100/33."""
    found = ctx.api.nodes.get(object_id)
    if found is None or found[0] != kind or found[1].hidden(ctx.now):
        raise _missing(object_id)
    return found[1]


MENTIONED = {
    "mentioned_comment": ("comment_id", "ig_comment", "text"),
    "mentioned_media": ("media_id", "ig_media", "text"),
}
"""An IG user's field of what @mentions it -> (its modifier, the kind found, where the mention is)."""


def _user_field(ctx: _Ctx, user: FakeIgUser, spec: FieldSpec) -> Any:
    if spec.name in ("username", "name"):
        return user.username
    if spec.name not in MENTIONED:
        raise _no_field(spec.name, "ig_user")
    modifier, kind, text = MENTIONED[spec.name]
    wanted = spec.modifiers.get(modifier, "")
    found = _found(ctx, wanted, kind)
    if not _mentions(getattr(found, text), user.username):
        raise _missing(wanted)
    return ctx.render(kind, found, spec.sub or DEFAULTS[kind])


def _media_field(ctx: _Ctx, media: FakeMedia, spec: FieldSpec) -> Any:
    values = {
        "timestamp": graph_time(media.created),
        "caption": media.text,
        "username": media.author.username,
        "permalink": f"https://www.instagram.com/p/{media.id[-11:]}/",
        "comments_count": len(media.visible(ctx.now)),
        "like_count": 0,
        "media_type": "IMAGE",
        "media_product_type": "FEED",
        "is_comment_enabled": True,
    }
    if spec.name == "owner":
        return _sub({"id": media.author.id}, spec)
    if spec.name not in values:
        raise _no_field(spec.name, "ig_media")
    return values[spec.name]


def _comment_field(ctx: _Ctx, comment: FakeIgComment, spec: FieldSpec) -> Any:
    if spec.name == "from":
        return _from(comment.author, spec)
    if spec.name == "media":
        return ctx.render("ig_media", ctx.api.nodes[comment.media_id][1], spec.sub or [FieldSpec("id")])
    values = {
        "timestamp": graph_time(comment.created),
        "text": comment.text,
        "username": comment.author.username or comment.author.name,
        "parent_id": comment.parent,
        "like_count": 0,
        "hidden": False,
    }
    if spec.name not in values:
        raise _no_field(spec.name, "ig_comment")
    return values[spec.name]


def _own_media(ctx: _Ctx, user: FakeIgUser, args: dict[str, str]) -> tuple[str, list[Any], Any]:
    since, until = _time_param(args.get("since"), "since"), _time_param(args.get("until"), "until")
    items = [
        m
        for m in user.media
        if m.created <= ctx.now and (since is None or m.created >= since) and (until is None or m.created <= until)
    ]
    return "ig_media", items, lambda m: (-m.created, m.id)


def _tags(ctx: _Ctx, user: FakeIgUser, args: dict[str, str]) -> tuple[str, list[Any], Any]:
    return "ig_media", [m for m in user.tagged if m.created <= ctx.now], lambda m: (-m.created, m.id)


def _media_comments(ctx: _Ctx, media: FakeMedia, args: dict[str, str]) -> tuple[str, list[Any], Any]:
    top = [c for c in media.visible(ctx.now) if c.parent is None]
    return "ig_comment", top, lambda c: (c.created, c.id)


def _replies(ctx: _Ctx, comment: FakeIgComment, args: dict[str, str]) -> tuple[str, list[Any], Any]:
    media: FakeMedia = ctx.api.nodes[comment.media_id][1]
    replies = [c for c in media.visible(ctx.now) if c.parent == comment.id]
    return "ig_comment", replies, lambda c: (c.created, c.id)


DEFAULTS = {"ig_comment": [FieldSpec("timestamp"), FieldSpec("text"), FieldSpec("id")], "ig_media": [FieldSpec("id")]}

register(
    "ig_user",
    "IGUser",
    "id",
    NodeKind(_user_field, FakeIgUser.hidden),
    {"media": _own_media, "tags": _tags},
)
register("ig_media", "IGMedia", "id", NodeKind(_media_field, FakeMedia.hidden), {"comments": _media_comments})
register(
    "ig_comment",
    "IGComment",
    "timestamp,text,id",
    NodeKind(_comment_field, FakeIgComment.hidden),
    {"replies": _replies},
)


class FakeInstagram:
    """The Instagram accounts linked to the Pages of a fake Graph API, and their traffic. Objects
    exist from their time on (the fake's clock), as the Page's do."""

    def __init__(self, api: FakeGraphApi) -> None:
        self.api = api
        self.accounts: dict[str, FakeIgUser] = {}

    def _ig_id(self) -> str:
        return f"{IG_ID_PREFIX}{self.api.new_id():011d}"

    def add_account(self, page_id: str, *, username: str, ig_user_id: str | None = None) -> str:
        """An Instagram professional account linked to the Page (read with the Page's token)."""
        user = FakeIgUser(ig_user_id or self._ig_id(), page_id, username)
        self.accounts[user.id] = user
        self.api.nodes[user.id] = ("ig_user", user)
        return user.id

    def person(self, username: str) -> Person:
        """A customer: an Instagram-scoped id and a username."""
        return Person(f"{self.api.new_id() + 10**15}", username, username)

    def add_media(self, ig_user_id: str, at: datetime, caption: str) -> str:
        """A media the account posts."""
        user = self.accounts[ig_user_id]
        media = FakeMedia(self._ig_id(), user.page_id, _ts(at), user.person, caption)
        user.media.append(media)
        self.api.nodes[media.id] = ("ig_media", media)
        return media.id

    def add_foreign_media(self, ig_user_id: str, owner: Person, at: datetime, caption: str, *, tag: bool) -> str:
        """Another account's media that concerns this one: its caption may @mention it (`@name`),
        and with `tag` it tags it (listed in `/tags`)."""
        user = self.accounts[ig_user_id]
        media = FakeMedia(self._ig_id(), user.page_id, _ts(at), owner, caption, tags=(ig_user_id,) if tag else ())
        if tag:
            user.tagged.append(media)
        self.api.nodes[media.id] = ("ig_media", media)
        return media.id

    def add_comment(
        self, media_id: str, at: datetime, text: str, *, author: Person | None = None, parent: str | None = None
    ) -> str:
        """A comment (a reply under `parent`, a top-level comment: Instagram has one level); by the
        media's Page's account when `author` is None (the brand)."""
        media: FakeMedia = self.api.nodes[media_id][1]
        if author is None:
            author = next(u.person for u in self.accounts.values() if u.page_id == media.page_id)
        if parent is not None:  # a reply to a reply is a reply to its top-level comment
            parent = self.api.nodes[parent][1].parent or parent
        comment = FakeIgComment(self._ig_id(), media_id, _ts(at), author, text, parent, page_id=media.page_id)
        media.add(comment)
        self.api.nodes[comment.id] = ("ig_comment", comment)
        return comment.id

    def add_conversation(self, ig_user_id: str, customer: Person) -> str:
        """A direct-message conversation with a customer, in the Page's `instagram` inbox."""
        return self.api.add_conversation(self.accounts[ig_user_id].page_id, customer, platform="instagram")

    def add_message(self, conversation_id: str, at: datetime, text: str, *, from_brand: bool = False) -> str:
        """A direct message, from the customer (or the brand's account)."""
        conv = self.api.nodes[conversation_id][1]
        brand = next(u.person for u in self.accounts.values() if u.page_id == conv.page_id)
        author, to = (brand, conv.customer) if from_brand else (conv.customer, brand)
        message = FakeMessage(f"aWdf{self.api.new_id()}", conv.id, _ts(at), author, to, text)
        conv.add(message)
        self.api.nodes[message.id] = ("message", message)
        return message.id

    # -- webhooks (object `instagram`) -----------------------------------------------------------

    @staticmethod
    def delivery(ig_user_id: str, at: datetime, *, changes: list[Json] | None = None, messaging: bool = False) -> bytes:
        """A webhook delivery's body for the account: `changes` (`{"field", "value"}`), and a
        `messaging` event when asked."""
        entry: Json = {"id": ig_user_id, "time": _ts(at)}
        if changes:
            entry["changes"] = changes
        if messaging:
            entry["messaging"] = [
                {
                    "sender": {"id": "1"},
                    "recipient": {"id": ig_user_id},
                    "timestamp": _ts(at) * 1000,
                    "message": {"mid": "aWdf", "text": ""},
                }
            ]
        return json.dumps({"object": "instagram", "entry": [entry]}).encode()

    def mention_change(self, comment_id: str | None = None, media_id: str | None = None) -> Json:
        """The `mentions` change that names a comment (or a caption) mentioning the account."""
        if comment_id is not None:
            media_id = media_id or self.api.nodes[comment_id][1].media_id
            return {"field": "mentions", "value": {"media_id": media_id, "comment_id": comment_id}}
        return {"field": "mentions", "value": {"media_id": media_id}}

    def comment_change(self, comment_id: str) -> Json:
        """The `comments` change of a new comment on one of the account's media."""
        c: FakeIgComment = self.api.nodes[comment_id][1]
        value: Json = {
            "id": c.id,
            "from": {"id": c.author.id, "username": c.author.username},
            "text": c.text,
            "media": {"id": c.media_id, "media_product_type": "FEED"},
        }
        if c.parent:
            value["parent_id"] = c.parent
        return {"field": "comments", "value": value}
