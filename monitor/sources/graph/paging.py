"""Graph lists: the `data`/`paging` envelope, and the bounded passes that follow `paging.next`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.sources.base import BadPayload
from monitor.sources.graph.bounds import MAX_CURSOR_CHARS, MAX_PAGES_PER_PASS, MAX_PAGES_PER_POLL


def unix(t: datetime) -> int:
    """A Graph time in UNIX seconds (the Graph API's resolution), as passes and cursors keep it."""
    return int(t.timestamp())


@dataclass(frozen=True)
class Listing:
    """One page of a Graph list: its items and the `after` cursor when there is a next page."""

    items: list[Any]
    """The items as received: each is checked by its parser (a malformed one is set aside)."""
    after: str | None


def parse_listing(body: object) -> Listing:
    """`{"data": [...], "paging": {"cursors": {"after"}, "next"}}`; no `next` is the last page."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise BadPayload("expected {data: [...]}")
    items = body["data"]
    paging = body.get("paging")
    if paging is None:
        paging = {}
    if not isinstance(paging, dict):
        raise BadPayload("paging is not an object")
    after: str | None = None
    if paging.get("next"):
        cursors = paging.get("cursors")
        after = cursors.get("after") if isinstance(cursors, dict) else None
        if not isinstance(after, str) or not after:
            raise BadPayload("paging.next without an after cursor")
    return Listing(items, after)


@dataclass
class ListPass:
    """Where one pass over a Graph list is: the cursor of the next page (None: the top), the pages
    read, and the newest time read (UNIX seconds, clamped by the caller)."""

    after: str | None = None
    pages: int = 0
    top: int | None = None

    def dumps(self) -> list[object]:
        return [self.after, self.pages, self.top]

    @classmethod
    def loads(cls, value: object) -> ListPass | None:
        if not (isinstance(value, list) and len(value) == 3):
            return None
        after, pages, top = value
        if (
            (after is not None and not (isinstance(after, str) and len(after) <= MAX_CURSOR_CHARS))
            or not isinstance(pages, int)
            or (top is not None and not isinstance(top, int))
        ):
            return None
        return cls(after, pages, top)

    def raise_top(self, t: int) -> None:
        self.top = t if self.top is None else max(self.top, t)


class Paging:
    """The cursors one pass follows in one poll: a cursor seen before, or too long, ends the pass,
    and so does `max_pages` in all; `per_poll` pages leave the rest to the next poll."""

    def __init__(
        self, start: str | None, pages: int, max_pages: int = MAX_PAGES_PER_PASS, per_poll: int = MAX_PAGES_PER_POLL
    ) -> None:
        self.seen = {start} if start else set()
        self.pages = pages
        self.max_pages = max_pages
        self.per_poll = per_poll
        self.read = 0

    def step(self, after: str | None) -> str | None:
        """After a page: why the pass ends - "end" (no next page), "repeat", "too_long",
        "capped" - or "later" (the next poll goes on at `after`), or None: go on."""
        self.pages += 1
        self.read += 1
        if after is None:
            return "end"
        if len(after) > MAX_CURSOR_CHARS:
            return "too_long"
        if after in self.seen:
            return "repeat"
        if self.pages >= self.max_pages:
            return "capped"
        self.seen.add(after)
        return "later" if self.read >= self.per_poll else None
