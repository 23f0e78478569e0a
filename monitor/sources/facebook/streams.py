"""The Facebook Page streams, `facebook.messenger` and `facebook.comments`: how each reads its
lists down to its watermarks (docs/sources.md, "Facebook (Graph API)")."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import aiohttp

from monitor.domain.items import ItemError, Rejected
from monitor.domain.model import Message
from monitor.runtime import Clock, utcnow
from monitor.sources.base import Source
from monitor.sources.facebook.cursor import ActivePost, CommentsCursor, MessengerCursor, MessengerPass, SweepPass
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
    MAX_ACTIVE_POSTS,
    MAX_CURSOR_CHARS,
    MAX_MESSAGE_PAGES,
    MAX_PAGES_PER_POLL,
)
from monitor.sources.graph.budget import Cut
from monitor.sources.graph.client import GraphClient, graph_client
from monitor.sources.graph.errors import ObjectGone
from monitor.sources.graph.ids import is_graph_id
from monitor.sources.graph.paging import ListPass, Paging, unix
from monitor.sources.graph.stream import GraphStream

if TYPE_CHECKING:
    from monitor.config import FacebookAccount

MESSENGER = "facebook.messenger"
COMMENTS = "facebook.comments"
MAX_VERIFY_ROUNDS = 4
"""Re-reads of the conversation list's head in one pass (the list moved while it was paged);
after as many, the list keeps moving and the watermark stays where it was."""


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
    """A post leaves the active set after this many days without a comment."""
    sweep_every: timedelta = timedelta(hours=1)
    """How often the feed is swept for older posts commented again."""
    sweep_days: float = 90.0
    """How far back a sweep reads the feed."""
    timeout: float = 30.0
    """Seconds for one HTTP call, connection included."""


class _PageStream(GraphStream):
    """A stream of a Facebook Page: the Graph stream with the Facebook tunables."""

    def __init__(self, client: GraphClient, page_id: str, options: FacebookOptions) -> None:
        super().__init__(client, page_id)
        self.options = options


class MessengerSource(_PageStream):
    """facebook.messenger: the Page's Messenger conversations."""

    stream = MESSENGER

    def _check_call(self) -> tuple[str, dict[str, str]]:
        """One conversation's id (needs `pages_messaging`)."""
        return f"{self.page_id}/conversations", {"platform": "messenger", "fields": "id", "limit": "1"}

    def _fields(self) -> str:
        limit = self.options.messages_limit
        return f"id,updated_time,messages.limit({limit}){{id,created_time,from,message}}"

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
                m = messenger_message(item, conv.id, self.page_id, received_at=self._received_at)
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


class CommentsSource(_PageStream):
    """facebook.comments: comments on the Page's posts, and visitor posts."""

    stream = COMMENTS
    COMMENT_FIELDS = "id,from,message,created_time,parent{id,from,parent{id}}"

    def _check_call(self) -> tuple[str, dict[str, str]]:
        """One post's id from the feed (needs `pages_read_engagement`)."""
        return f"{self.page_id}/feed", {"fields": "id", "limit": "1"}

    async def _fetch(self, cursor: str | None) -> tuple[list[Message], str, Cut | None]:
        now = unix(self.client.clock())
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
            created = unix(read.created)
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
                if unix(fields.time("updated_time")) >= floor:
                    author_id, _ = author(fields)
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
                    created = created_unix(item)  # unreadable: kept, for its parser to set it aside
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
                lp.raise_top(min(unix(m.created_at), ceiling))
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
    client = graph_client(account, session, timeout=options.timeout, clock=clock, environ=environ)
    return [MessengerSource(client, account.page_id, options), CommentsSource(client, account.page_id, options)]
