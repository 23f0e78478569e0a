"""The streams of posts and their comments (a Page's feed, an Instagram account's media): new posts,
the active posts read again at every poll, and sweeps (docs/sources.md, `facebook.comments`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.domain.items import Parsed
from monitor.domain.model import Message
from monitor.sources.graph.bounds import CLOCK_SKEW_SECONDS
from monitor.sources.graph.budget import Cut
from monitor.sources.graph.cursor import ActivePost, PostsCursor, SweepPass
from monitor.sources.graph.errors import ObjectGone
from monitor.sources.graph.paging import ListPass, unix
from monitor.sources.graph.stream import GraphStream

Take = Callable[[Any], bool]
"""Given each item of a list: True ends the list there."""


class PostsStream(GraphStream):
    """A stream of posts and their comments. Every poll reads the posts since the post watermark
    (each becomes active), sweeps the older posts every `sweep_every` for those commented again,
    and reads the comments of every active post; a post leaves the active set `active_days` after
    its last comment. Subclasses say how: `_new_posts`, `_sweep`, `_comments`."""

    async def _fetch(self, cursor: str | None) -> tuple[list[Message], str, Cut | None]:
        now = unix(self.client.clock())
        ceiling = now + CLOCK_SKEW_SECONDS
        overlap = int(self.options.overlap.total_seconds())
        state = PostsCursor.loads(cursor)
        if state is None:  # the first sweep brings in the older posts commented since `backfill`
            since = now - int(self.options.backfill.total_seconds())
            state = PostsCursor(since, since)
        state.clamp(ceiling)
        out: dict[str, Message] = {}
        cut: Cut | None = None
        try:
            await self._new_posts(state, state.posts - overlap, ceiling, out)
            if state.sweep is not None or now - state.swept >= self.options.sweep_every.total_seconds():
                state.sweep = state.sweep or SweepPass(now)
                await self._sweep(state, state.swept - overlap)
            await self._reread(
                state.active, lambda post_id, post: self._comments(post_id, post, post.last - overlap, ceiling, out)
            )
        except Cut as stopped:
            cut = stopped
        state.active = self._retire(state.active, now - int(self.options.active_days * 86400))
        return list(out.values()), state.dumps(), cut

    async def _new_posts(self, state: PostsCursor, floor: int, ceiling: int, out: dict[str, Message]) -> None:
        """Read the posts created at or after `floor` (`_posts`) and make them active."""
        raise NotImplementedError

    async def _sweep(self, state: PostsCursor, floor: int) -> None:
        """Bring back into the active set the posts commented since `floor` (`_swept`)."""
        raise NotImplementedError

    async def _comments(
        self, post_id: str, post: ActivePost, floor: int, ceiling: int, out: dict[str, Message]
    ) -> int | None:
        """Read a post's new comments (`_read_comments`); the newest time read (None: it is gone)."""
        raise NotImplementedError

    def _activate(self, state: PostsCursor, post_id: str, created: int, ceiling: int, visitor: bool = False) -> None:
        """A new post read (created at `created`): active from then on, the watermark to move."""
        assert state.feed is not None
        state.feed.raise_top(min(created, ceiling))
        state.active.setdefault(post_id, ActivePost(min(created, ceiling), visitor))

    async def _posts(self, state: PostsCursor, path: str, params: dict[str, str], take: Take, what: str) -> None:
        """A read of new posts from where a poll left it; the post watermark moves at its end."""
        state.feed = state.feed or ListPass()
        state.end_feed(await self._list(state.feed, path, params, take, what))

    async def _swept(self, state: PostsCursor, path: str, params: dict[str, str], take: Take, what: str) -> None:
        """A sweep's read of the posts from where a poll left it."""
        assert state.sweep is not None
        state.end_sweep(await self._list(state.sweep.list, path, params, take, what))

    def _since(self, since: int, fields: str) -> dict[str, str]:
        """The parameters of a read of the posts since `since` (UNIX seconds), with `fields`."""
        return {"fields": fields, "since": str(since), "limit": str(self.options.page_limit)}

    def _sweep_since(self, state: PostsCursor) -> int:
        """How far back the sweep under way reads (UNIX seconds)."""
        assert state.sweep is not None
        return state.sweep.started - int(self.options.sweep_days * 86400)

    async def _read_comments(
        self,
        post: ActivePost,
        path: str,
        params: dict[str, str],
        take: Take,
        parse: Callable[[], Parsed],
        keep: tuple[int, dict[str, Message], int | None],
    ) -> int | None:
        """Read a post's comments (going on with a read a poll left), `take` collecting them and
        `parse` making them messages; `keep` is (ceiling, out, floor) for `_keep`. What was read is
        kept, also when the poll stops in the middle. None when the post is gone."""
        lp = post.pending or ListPass()
        post.pending = lp
        ceiling, out, floor = keep
        try:
            end = await self._list(lp, path, params, take, "comments")
        except ObjectGone:
            return None
        finally:
            self._keep(parse(), lp, ceiling, out, floor)
        return post.ended(end)
