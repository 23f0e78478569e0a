"""The saved cursors of the Facebook streams: small JSON objects, times in UNIX seconds, with the
pass a poll left unfinished (docs/sources.md, "Cursors")."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from monitor.sources.graph.client import Json
from monitor.sources.graph.paging import ListPass

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
"""The `v` of the cursors written; a cursor of another version is read as none (the backfill)."""
LOGGED_CURSOR_CHARS = 200
"""Characters of an unreadable cursor put in its log line."""


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
    """`{"v":1,"watermark":...,"pass":{...}}` ("pass" absent when none is unfinished)."""

    watermark: int
    """The highest conversation `updated_time` read (UNIX seconds)."""
    reading: MessengerPass | None = None

    def dumps(self) -> str:
        data: Json = {"v": CURSOR_VERSION, "watermark": self.watermark}
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
    """`{"v":1,"posts":...,"swept":...,"active":{"<post-id>":[last,visitor(,pass)]},"feed":pass,
    "sweep":[started,pass]}` ("feed" and "sweep" absent when none is unfinished)."""

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
        data: Json = {"v": CURSOR_VERSION, "posts": self.posts, "swept": self.swept, "active": active}
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
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        log.warning(
            "unreadable cursor, starting from the backfill window", extra={"cursor": text[:LOGGED_CURSOR_CHARS]}
        )
        return None
    return data
