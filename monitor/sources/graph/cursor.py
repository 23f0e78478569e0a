"""What the saved cursors of the Graph streams share: the JSON envelope (`{"v":1,...}`), the active
set of posts read again at every poll, and a sweep's pass (docs/sources.md, "Cursors")."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from monitor.sources.graph.bounds import MAX_ACTIVE_POSTS
from monitor.sources.graph.client import Json
from monitor.sources.graph.paging import ListPass

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
"""The `v` of the cursors written; a cursor of another version is read as none (the backfill)."""
LOGGED_CURSOR_CHARS = 200
"""Characters of an unreadable cursor put in its log line."""


def load(text: str | None) -> Json | None:
    """The object of a saved cursor of this version; None (logged) for anything else."""
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


def dump(data: Json) -> str:
    """A cursor's text: the object with its version, compact."""
    return json.dumps({"v": CURSOR_VERSION, **data}, separators=(",", ":"))


@dataclass
class ActivePost:
    """An object read again at every poll (a post, a media, a mention) while it is active."""

    last: int
    """Time of the newest item read under it (its creation before any), UNIX seconds."""
    visitor: bool
    pending: ListPass | None = None
    """A read of its items that a poll left unfinished."""

    def ended(self, end: str) -> int:
        """Its newest time after a read of its items that ended so (`Paging.step`): a "later" read
        goes on at the next poll, one that could not be followed starts again from the top."""
        read, self.pending = self.pending, self.pending if end == "later" else None
        if end in ("later", "repeat", "too_long") or read is None or read.top is None:
            return self.last
        return max(self.last, read.top)


@dataclass
class SweepPass:
    started: int
    """When the sweep began (our clock); it becomes `swept` when the sweep ends."""
    list: ListPass = field(default_factory=ListPass)


def dump_active(active: dict[str, ActivePost]) -> dict[str, list[object]]:
    """`{"<id>": [last, visitor(, pass)]}`."""
    return {k: [v.last, int(v.visitor)] + ([v.pending.dumps()] if v.pending else []) for k, v in active.items()}


def load_active(value: object) -> dict[str, ActivePost] | None:
    """The active set of a saved cursor (malformed entries dropped); None when it is not an object."""
    if not isinstance(value, dict):
        return None
    out: dict[str, ActivePost] = {}
    for k, v in value.items():
        if isinstance(v, list) and len(v) in (2, 3) and all(isinstance(x, int) for x in v[:2]):
            out[k] = ActivePost(v[0], bool(v[1]), ListPass.loads(v[2]) if len(v) == 3 else None)
    return out


def load_sweep(value: object) -> SweepPass | None:
    """`[started, pass]`, or None."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int):
        listing = ListPass.loads(value[1])
        if listing is not None:
            return SweepPass(value[0], listing)
    return None


def retire(active: dict[str, ActivePost], horizon: int) -> tuple[dict[str, ActivePost], bool]:
    """The active set without the objects quiet since before `horizon` (UNIX seconds), and at most
    `MAX_ACTIVE_POSTS` (the least recently active leave first); True when that cap removed some."""
    kept = {k: v for k, v in active.items() if v.last >= horizon or v.pending}
    if len(kept) <= MAX_ACTIVE_POSTS:
        return kept, False
    keep = set(sorted(kept, key=lambda k: kept[k].last)[-MAX_ACTIVE_POSTS:])
    return {k: v for k, v in kept.items() if k in keep}, True


@dataclass
class PostsCursor:
    """A stream of posts and their comments: `{"v":1,"posts":...,"swept":...,"active":{"<post-id>":
    [last,visitor(,pass)]},"feed":pass,"sweep":[started,pass],"counts":{...}}` ("feed" and "sweep"
    absent when none is unfinished, "counts" when empty)."""

    posts: int
    """The newest post `created_time` read."""
    swept: int
    """When the last sweep ran (our clock)."""
    active: dict[str, ActivePost] = field(default_factory=dict)
    """In the order they are read: a poll that stops early leaves the others first."""
    feed: ListPass | None = None
    """A read of new posts that a poll left unfinished."""
    sweep: SweepPass | None = None
    counts: dict[str, list[int]] = field(default_factory=dict)
    """What the last sweeps saw of each post, where the Graph API gives no `updated_time` (an
    Instagram media): `[comments_count, created]`."""

    def dumps(self) -> str:
        data: Json = {"posts": self.posts, "swept": self.swept, "active": dump_active(self.active)}
        if self.feed is not None:
            data["feed"] = self.feed.dumps()
        if self.sweep is not None:
            data["sweep"] = [self.sweep.started, self.sweep.list.dumps()]
        if self.counts:
            data["counts"] = self.counts
        return dump(data)

    @classmethod
    def loads(cls, text: str | None) -> PostsCursor | None:
        data = load(text)
        if data is None:
            return None
        posts, swept, active = data.get("posts"), data.get("swept"), load_active(data.get("active"))
        if not isinstance(posts, int) or not isinstance(swept, int) or active is None:
            return None
        counts = data.get("counts")
        known = {
            k: v
            for k, v in (counts.items() if isinstance(counts, dict) else ())
            if isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v)
        }
        return cls(posts, swept, active, ListPass.loads(data.get("feed")), load_sweep(data.get("sweep")), known)

    def end_feed(self, end: str) -> None:
        """A read of new posts ended so: the post watermark moves to the newest post read (unless
        the read goes on at the next poll, or could not be followed)."""
        if end == "later":
            return
        if end not in ("repeat", "too_long") and self.feed is not None and self.feed.top is not None:
            self.posts = max(self.posts, self.feed.top)
        self.feed = None

    def end_sweep(self, end: str) -> None:
        """A sweep ended so: the next one is due `sweep_every` after this one began."""
        if end == "later":
            return
        if end not in ("repeat", "too_long") and self.sweep is not None:
            self.swept = self.sweep.started
        self.sweep = None

    def clamp(self, ceiling: int) -> None:
        """No time beyond `ceiling` (a cursor saved before watermarks were bounded)."""
        self.posts = min(self.posts, ceiling)
        for post in self.active.values():
            post.last = min(post.last, ceiling)
