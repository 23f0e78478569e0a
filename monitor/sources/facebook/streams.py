"""The Facebook Page streams, `facebook.messenger` and `facebook.comments`: how each reads its
lists down to its watermarks (docs/sources.md, "Facebook (Graph API)")."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from monitor.domain.items import ItemError, Rejected
from monitor.domain.model import Message
from monitor.runtime import Clock, utcnow
from monitor.sources.base import Source
from monitor.sources.facebook.cursor import ActivePost, CommentsCursor, MessengerCursor, MessengerPass
from monitor.sources.facebook.payloads import MESSENGER as MESSENGER_INBOX
from monitor.sources.facebook.payloads import (
    Conversation,
    author,
    comment_messages,
    created_unix,
    messenger_message,
    parse_conversation,
    parse_post,
)
from monitor.sources.fields import Fields
from monitor.sources.graph.bounds import (
    CLOCK_SKEW_SECONDS,
    MAX_CURSOR_CHARS,
    MAX_MESSAGE_PAGES,
    MAX_PAGES_PER_POLL,
)
from monitor.sources.graph.budget import Cut
from monitor.sources.graph.client import graph_client
from monitor.sources.graph.errors import ObjectGone
from monitor.sources.graph.ids import is_graph_id
from monitor.sources.graph.options import GraphOptions
from monitor.sources.graph.paging import Paging, unix
from monitor.sources.graph.posts import PostsStream
from monitor.sources.graph.stream import GraphStream

if TYPE_CHECKING:
    from monitor.config import FacebookAccount

MESSENGER = "facebook.messenger"
COMMENTS = "facebook.comments"
MESSAGE_FIELDS = "id,created_time,from,to,message"
"""What a Messenger Platform message is read with (`to`: whom the brand writes to)."""
MAX_VERIFY_ROUNDS = 4
"""Re-reads of the conversation list's head in one pass (the list moved while it was paged);
after as many, the list keeps moving and the watermark stays where it was."""


FacebookOptions = GraphOptions
"""The Facebook streams' tunables (those of every Graph stream)."""


class MessengerSource(GraphStream):
    """facebook.messenger: the Page's Messenger conversations (and, with another `inbox` and
    `brand_id`, any inbox of the Messenger Platform: Instagram's direct messages)."""

    stream = MESSENGER
    inbox = MESSENGER_INBOX

    @property
    def brand_id(self) -> str:
        """Who the brand is in the conversations: their messages `from` it are outbound."""
        return self.page_id

    def _check_call(self) -> tuple[str, dict[str, str]]:
        """One conversation's id (needs `pages_messaging`; on Instagram, `instagram_manage_messages`)."""
        return f"{self.page_id}/conversations", {"platform": self.inbox.platform, "fields": "id", "limit": "1"}

    def _fields(self) -> str:
        limit = self.options.messages_limit
        return f"id,updated_time,messages.limit({limit}){{{MESSAGE_FIELDS}}}"

    async def _fetch(self, cursor: str | None) -> tuple[list[Message], str, Cut | None]:
        now = self.client.clock()
        ceiling = unix(now) + CLOCK_SKEW_SECONDS
        state = MessengerCursor.loads(cursor) or MessengerCursor(unix(now - self.options.backfill))
        state.clamp(ceiling)
        out: dict[str, Message] = {}
        cut: Cut | None = None
        try:
            await self._passes(state, unix(now), ceiling, out)
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
            params = {"platform": self.inbox.platform, "fields": self._fields(), "limit": str(self.options.page_limit)}
            if p.list.after:
                params["after"] = p.list.after
            listing = await self._page(f"{self.page_id}/conversations", params)
            ended = False
            for item in listing.items:
                conv = parse_conversation(item, received_at=self._received_at)
                if isinstance(conv, Rejected):
                    self._rejected.append(conv)
                    continue
                updated = unix(conv.updated)
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
                m = messenger_message(
                    item,
                    conv.id,
                    self.page_id,
                    received_at=self._received_at,
                    inbox=self.inbox,
                    brand_id=self.brand_id,
                )
                if isinstance(m, Rejected):
                    self._rejected.append(m)
                    continue
                t = unix(m.created_at)
                oldest = t if oldest is None else min(oldest, t)
                if t >= floor:
                    out[m.external_id] = m
            if after is None or (oldest is not None and oldest < floor):
                return
            params = {
                "fields": MESSAGE_FIELDS,
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


class CommentsSource(PostsStream):
    """facebook.comments: comments on the Page's posts, and visitor posts."""

    stream = COMMENTS
    COMMENT_FIELDS = "id,from,message,created_time,parent{id,from,parent{id}}"

    def _check_call(self) -> tuple[str, dict[str, str]]:
        """One post's id from the feed (needs `pages_read_engagement`)."""
        return f"{self.page_id}/feed", {"fields": "id", "limit": "1"}

    async def _new_posts(self, state: CommentsCursor, floor: int, ceiling: int, out: dict[str, Message]) -> None:
        """The feed since the post watermark: visitor posts are messages, every post is active."""

        def take(item: Any) -> bool:
            read = self._accepted(parse_post(item, self.page_id, received_at=self._received_at))
            if read is None or unix(read.created) < floor:
                return False
            if read.message is not None:
                out[read.id] = read.message
            self._activate(state, read.id, unix(read.created), ceiling, visitor=read.message is not None)
            return False

        await self._posts(
            state, f"{self.page_id}/feed", self._since(floor, "id,created_time,from,message"), take, "feed"
        )

    async def _sweep(self, state: CommentsCursor, floor: int) -> None:
        """Bring back into the active set the posts commented (`updated_time`) since the last sweep."""

        def take(item: Any) -> bool:
            try:  # the feed read sets a malformed post aside; here it only stays out of the set
                fields = Fields(item, "post")
                post_id = fields.id("id", "bad_id", is_graph_id, "a Graph id")
                if post_id is None or post_id in state.active or "updated_time" not in fields.item:
                    return False
                if unix(fields.time("updated_time")) >= floor:
                    author_id, _ = author(fields)
                    state.active[post_id] = ActivePost(floor, author_id != self.page_id)
            except ItemError:
                pass
            return False

        fields = "id,created_time,updated_time,from"
        await self._swept(state, f"{self.page_id}/feed", self._since(self._sweep_since(state), fields), take, "feed")

    async def _comments(
        self, post_id: str, post: ActivePost, floor: int, ceiling: int, out: dict[str, Message]
    ) -> int | None:
        """Read a post's comments at or after `floor` (newest first); the newest time read (None:
        the post is gone). A comment whose `created_time` cannot be read neither ends the read nor
        moves the post's watermark: its parser sets it aside."""
        items: list[Any] = []

        def take(item: Any) -> bool:
            created = created_unix(item)  # unreadable: kept, for its parser to set it aside
            if created is not None and created < floor:
                return True
            items.append(item)
            return False

        params = {
            "filter": "stream",
            "order": "reverse_chronological",
            "fields": self.COMMENT_FIELDS,
            "limit": str(self.options.page_limit),
        }
        return await self._read_comments(
            post,
            f"{post_id}/comments",
            params,
            take,
            lambda: comment_messages(post_id, post.visitor, items, self.page_id, received_at=self._received_at),
            (ceiling, out, None),
        )


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
    client = graph_client(account, session, timeout=options.timeout, clock=clock, environ=environ)
    return [MessengerSource(client, account.page_id, options), CommentsSource(client, account.page_id, options)]
