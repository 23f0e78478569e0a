"""The Instagram streams of a professional account: `instagram.comments`, `instagram.mentions`,
`instagram.dm` - how each reads its lists (docs/instagram.md). They call the Graph API with the
token of the Page the account is linked to, through one client, as a Page's streams do."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

from monitor.domain.items import Rejected
from monitor.domain.mentions import Mention
from monitor.domain.model import Message
from monitor.runtime import Clock, utcnow
from monitor.sources.base import Source
from monitor.sources.facebook.payloads import created_unix
from monitor.sources.facebook.streams import MessengerSource
from monitor.sources.graph.bounds import CLOCK_SKEW_SECONDS
from monitor.sources.graph.budget import Cut
from monitor.sources.graph.client import GraphClient, graph_client
from monitor.sources.graph.cursor import ActivePost, PostsCursor
from monitor.sources.graph.errors import ObjectGone
from monitor.sources.graph.ids import is_graph_id
from monitor.sources.graph.options import GraphOptions
from monitor.sources.graph.paging import ListPass, unix
from monitor.sources.graph.posts import PostsStream
from monitor.sources.graph.stream import GraphStream
from monitor.sources.instagram.payloads import (
    DIRECT,
    INBOX_URL,
    MEDIA_FIELDS,
    THREAD_FIELDS,
    comment_messages,
    mentioned_comment_messages,
    mentioned_media_messages,
    parse_media,
)

if TYPE_CHECKING:
    from monitor.config import InstagramAccount

COMMENTS, MENTIONS, DM = "instagram.comments", "instagram.mentions", "instagram.dm"

MAX_MENTIONS_PER_FETCH = 200
"""Webhook mentions taken into the active set by one poll (the oldest first; the others at the
next poll, at once: `more`). A burst of deliveries cannot make one poll read thousands of them."""
MAX_COUNTED_MEDIA = 1000
"""Media whose `comments_count` the cursor remembers between sweeps (the newest): 90 days at 11 a
day; a media beyond that is found again by the sweep that sees its count change."""
FORGET_AFTER_DAYS = 1.0
"""Days a webhook mention is kept after it left the active window (a process down that long reads
it still; older rows are deleted)."""


class MentionsInbox(Protocol):
    """The @mentions an account's webhooks named, as the store keeps them (monitor.store.mentions)."""

    async def since(self, at: datetime, *, until: datetime, forget_before: datetime, limit: int) -> list[Mention]:
        """The mentions received from `at` to `until`, the oldest first (at most `limit`); those
        received before `forget_before` are forgotten."""
        ...


def _at(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class CommentsSource(PostsStream):
    """instagram.comments: comments on the account's media (and the brand's replies)."""

    stream = COMMENTS

    def __init__(self, client: GraphClient, page_id: str, ig_user_id: str, options: GraphOptions) -> None:
        super().__init__(client, page_id, options)
        self.ig_user_id = ig_user_id
        self.url = INBOX_URL.format(page_id=page_id)

    def _check_call(self) -> tuple[str, dict[str, str]]:
        """One media's id (needs `instagram_basic`, and the account linked to the token's Page)."""
        return f"{self.ig_user_id}/media", {"fields": "id", "limit": "1"}

    async def _new_posts(self, state: PostsCursor, floor: int, ceiling: int, out: dict[str, Message]) -> None:
        """The media posted since the watermark (newest first): each becomes active."""

        def take(item: Any) -> bool:
            media = self._accepted(parse_media(item, received_at=self._received_at))
            if media is not None and unix(media.created) < floor:
                return True  # newest first: the rest is older
            if media is not None:
                self._activate(state, media.id, unix(media.created), ceiling)
            return False

        await self._posts(state, f"{self.ig_user_id}/media", self._since(floor, "id,timestamp"), take, "media")

    async def _sweep(self, state: PostsCursor, floor: int) -> None:
        """Bring back into the active set the media whose `comments_count` changed since the last
        sweep (a media has no `updated_time`). The first sweep only learns the counts."""
        learning = not state.counts
        since = self._sweep_since(state)

        def take(item: Any) -> bool:
            media = parse_media(item, received_at=self._received_at)
            if isinstance(media, Rejected) or media.comments is None:
                return False  # the media read sets a malformed one aside
            created = unix(media.created)
            if created < since:
                return True
            known = state.counts.get(media.id)
            state.counts[media.id] = [media.comments, created]
            if not learning and media.id not in state.active and (known is None or known[0] != media.comments):
                state.active[media.id] = ActivePost(floor, False)
            return False

        fields = "id,timestamp,comments_count"
        await self._swept(state, f"{self.ig_user_id}/media", self._since(since, fields), take, "media")
        newest = sorted(state.counts, key=lambda k: state.counts[k][1])[-MAX_COUNTED_MEDIA:]
        state.counts = {k: state.counts[k] for k in newest if state.sweep is not None or state.counts[k][1] >= since}

    async def _comments(
        self, post_id: str, post: ActivePost, floor: int, ceiling: int, out: dict[str, Message]
    ) -> int | None:
        """Read a media's comments with their replies, all of them (their order is not documented),
        keeping those at or after `floor`; the newest time kept (None: the media is gone)."""
        items: list[Any] = []

        def take(item: Any) -> bool:
            items.append(item)
            return False

        params = {"fields": THREAD_FIELDS, "limit": str(self.options.page_limit)}
        return await self._read_comments(
            post,
            f"{post_id}/comments",
            params,
            take,
            lambda: comment_messages(post_id, items, self.ig_user_id, received_at=self._received_at, url=self.url),
            (ceiling, out, floor),
        )


class MentionsSource(GraphStream):
    """instagram.mentions: the media that tag the account, and the comments and captions that
    @mention it (named by the `mentions` webhook); each read again while the brand may answer.
    Its cursor is a `PostsCursor`: `posts` the newest receive time of the webhook mentions taken,
    `active` the mentions (`c:<comment id>`, `m:<media id>`), `feed` a read of the tagged media
    that a poll left unfinished."""

    stream = MENTIONS

    def __init__(
        self,
        client: GraphClient,
        page_id: str,
        ig_user_id: str,
        options: GraphOptions,
        inbox: MentionsInbox | None = None,
    ) -> None:
        super().__init__(client, page_id, options)
        self.ig_user_id = ig_user_id
        self.inbox = inbox

    def _check_call(self) -> tuple[str, dict[str, str]]:
        """One tagged media's id (needs `instagram_manage_comments`)."""
        return f"{self.ig_user_id}/tags", {"fields": "id", "limit": "1"}

    async def _fetch(self, cursor: str | None) -> tuple[list[Message], str, Cut | None]:
        now = unix(self.client.clock())
        ceiling = now + CLOCK_SKEW_SECONDS
        horizon = now - int(self.options.active_days * 86400)
        since = now - int(self.options.backfill.total_seconds())
        state = PostsCursor.loads(cursor) or PostsCursor(since, since)
        state.clamp(ceiling)
        more = await self._take(state, horizon, ceiling)
        out: dict[str, Message] = {}
        cut: Cut | None = None
        try:
            await self._tags(state, horizon, ceiling, out)
            await self._reread(state.active, lambda key, mention: self._mention(key, mention, ceiling, out))
        except Cut as stopped:
            cut = stopped
        if more and cut is None:
            cut = Cut(more=True)
        state.active = self._retire(state.active, horizon)
        return list(out.values()), state.dumps(), cut

    async def _take(self, state: PostsCursor, horizon: int, ceiling: int) -> bool:
        """Make the mentions the webhooks named since the cursor active; True when more are waiting."""
        if self.inbox is None:
            return False
        overlap = int(self.options.overlap.total_seconds())
        forget = _at(horizon - int(FORGET_AFTER_DAYS * 86400))
        taken = await self.inbox.since(
            _at(state.posts - overlap), until=self.client.clock(), forget_before=forget, limit=MAX_MENTIONS_PER_FETCH
        )
        for mention in taken:
            received = unix(mention.received_at) if mention.received_at else state.posts
            if is_graph_id(mention.object_id) and mention.key not in state.active:
                state.active[mention.key] = ActivePost(min(received, ceiling), False)
            state.posts = max(state.posts, min(received, ceiling))
        return len(taken) >= MAX_MENTIONS_PER_FETCH

    async def _tags(self, state: PostsCursor, horizon: int, ceiling: int, out: dict[str, Message]) -> None:
        """The media that tag the account (newest first) down to `horizon`, with their comments."""
        state.feed = state.feed or ListPass()
        tags = state.feed

        def take(item: Any) -> bool:
            created = created_unix(item, "timestamp")
            if created is not None and created < horizon:
                return True
            self._keep(
                mentioned_media_messages(item, self.ig_user_id, received_at=self._received_at), tags, ceiling, out
            )
            return False

        params = {"fields": MEDIA_FIELDS, "limit": str(self.options.page_limit)}
        if await self._list(tags, f"{self.ig_user_id}/tags", params, take, "tags") != "later":
            state.feed = None

    async def _mention(self, key: str, mention: ActivePost, ceiling: int, out: dict[str, Message]) -> int | None:
        """Read one mention again, with the replies under it; its newest time (None: gone)."""
        comment = key.startswith("c:")
        field, fields = ("mentioned_comment", "comment_id") if comment else ("mentioned_media", "media_id")
        sub = f"{THREAD_FIELDS},media{{id,permalink}}" if comment else MEDIA_FIELDS
        self.budget.check()
        try:
            body = await self._get(self.ig_user_id, {"fields": f"{field}.{fields}({key[2:]}){{{sub}}}"})
        except ObjectGone:
            return None
        node = body.get(field)
        if not isinstance(node, dict):
            return None  # not (or no longer) a mention of the account
        parse = mentioned_comment_messages if comment else mentioned_media_messages
        read = ListPass()
        self._keep(parse(node, self.ig_user_id, received_at=self._received_at), read, ceiling, out)
        return max(mention.last, read.top) if read.top is not None else mention.last


class DirectSource(MessengerSource):
    """instagram.dm: the account's direct messages, a Messenger Platform inbox of its Page."""

    stream = DM
    inbox = DIRECT

    def __init__(self, client: GraphClient, page_id: str, ig_user_id: str, options: GraphOptions) -> None:
        super().__init__(client, page_id, options)
        self.ig_user_id = ig_user_id

    @property
    def brand_id(self) -> str:
        return self.ig_user_id


def build_instagram_sources(
    account: InstagramAccount,
    session: aiohttp.ClientSession,
    *,
    options: GraphOptions | None = None,
    mentions: MentionsInbox | None = None,
    clock: Clock = utcnow,
    environ: Mapping[str, str] = os.environ,
) -> list[Source]:
    """The comments, mentions and direct-message streams of one Instagram account, sharing one
    client (the Page's token, usage and blocks)."""
    options = options or GraphOptions()
    client = graph_client(account, session, timeout=options.timeout, clock=clock, environ=environ)
    ids = (client, account.page_id, account.ig_user_id, options)
    streams: Sequence[Source] = (CommentsSource(*ids), MentionsSource(*ids, mentions), DirectSource(*ids))
    return list(streams)
