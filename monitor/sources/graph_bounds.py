"""What a misbehaving Graph API can make the Facebook sources do, bounded (docs/bounds.md)."""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass

import aiohttp

from monitor.runtime import Clock
from monitor.sources.base import BadPayload

MAX_BODY_BYTES = 4 * 1024 * 1024
"""Bytes of one answer. A full page at our limits (100 conversations × 25 messages) is about 1 MB
with Meta's long ids and average texts; 4 MiB leaves room for long texts, and the worst decoding of
4 MiB (arrays of empty objects: 25 bytes of Python objects per byte, measured) stays near 100 MB,
inside the 250 MB the process may use. A bigger answer is refused unread."""
BODY_CHUNK = 64 * 1024
"""Bytes read at a time: an oversized answer is refused after at most this much more."""
MAX_JSON_DEPTH = 64
"""Nesting of an answer. What we ask for nests 7 levels (data, conversation, messages, data,
message, from); our store's encoder (orjson) refuses more than 254 levels and its fallback recurses
in Python, so a deeper item would fail every poll that stores it."""
MAX_CALLS_PER_FETCH = 50
"""Calls in one poll before it stops and stores what it read (checked before each list page and
each conversation that needs paging: one conversation may run past it, by `MAX_MESSAGE_PAGES`)."""
MAX_ITEMS_PER_FETCH = 5000
"""Items (conversations, messages, posts, comments) one poll holds before it stops: two full
conversation pages (100 × (1 + 25)); a poll holds a few MB, and one transaction stores them."""
MAX_CALLS_PER_MINUTE = 120
"""Calls of one stream in any 60 s, strict. Meta allows the Conversations API 2 calls a second per
Page; the feed and comments count against the Page's daily budget. A poll that reaches it stops
and the next one waits until the window has room for a whole poll."""
WINDOW_SECONDS = 60.0
MAX_PAGES_PER_PASS = 100
"""Pages of one list in one pass (over as many polls as it takes): 10,000 conversations, posts or
comments at 100 a page. A list still going on after that is treated as ended: paging that never
ends costs 100 calls, then the stream reads the newest items again."""
MAX_PAGES_PER_POLL = 10
"""Pages of one list in one poll; the list goes on at the next poll (`more`), and this one reads
the other lists first: a feed or a post's comments that never end cannot starve the others."""
MAX_MESSAGE_PAGES = 20
"""Pages of one conversation's messages per poll (500 messages at 25 a page): a conversation with
more new messages than that since the last poll is a loop or a bot; its newest are read."""
MAX_CURSOR_CHARS = 2048
"""Length of a paging cursor we follow. Meta's are a few hundred characters; a cursor goes back
in the URL (servers refuse URLs beyond about 8 KB) and into the saved cursor."""
MAX_ACTIVE_POSTS = 500
"""Posts whose comments are read again at every poll (see `facebook.comments`): 35 a day over
the default 14 days. Each costs one call per poll, so the least recently commented leave first."""
MAX_REGAIN_SECONDS = 3600.0
"""The longest wait an `estimated_time_to_regain_access` can impose. Meta gives it in minutes and
its blocks last minutes up to an hour; a larger figure is not believed: after an hour one call
is tried, and a block still in place is announced again."""
CLOCK_SKEW_SECONDS = 5
"""How far a watermark may be ahead of our clock. Graph times are whole seconds from NTP-synced
servers; a time further ahead (a conversation `updated_time` in 2999) cannot move the watermark
past now + 5 s, so the next floor (watermark - overlap, 2 min) stays behind the clock."""


class Cut(Exception):  # noqa: N818 - control flow inside a fetch, not an error
    """A fetch stops here and saves where it is; `more`: poll again at once."""

    def __init__(self, more: bool, wait: float | None = None) -> None:
        super().__init__("fetch cut")
        self.more = more
        self.wait = wait


class FetchBudget:
    """The calls and items of one stream: per poll (soft), and per minute (strict)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls = 0
        self.items = 0
        self._window: deque[float] = deque()

    def start(self) -> None:
        """A new poll."""
        self.calls = self.items = 0

    def spend(self) -> None:
        """Before every call: `Cut` when the stream made `MAX_CALLS_PER_MINUTE` in the last minute."""
        now = self.clock().timestamp()
        while self._window and self._window[0] <= now - WINDOW_SECONDS:
            self._window.popleft()
        if len(self._window) >= MAX_CALLS_PER_MINUTE:
            raise Cut(more=False, wait=self.wait_for_room(now))
        self._window.append(now)
        self.calls += 1

    def check(self) -> None:
        """Where a poll can stop and continue later: `Cut` once it made its calls or read its items."""
        if self.calls >= MAX_CALLS_PER_FETCH or self.items >= MAX_ITEMS_PER_FETCH:
            raise Cut(more=True)

    def wait_for_room(self, now: float) -> float:
        """Seconds until the window has room for a whole poll (and a conversation's pages)."""
        excess = len(self._window) - (MAX_CALLS_PER_MINUTE - MAX_CALLS_PER_FETCH - MAX_MESSAGE_PAGES)
        if excess <= 0:
            return 0.0
        return max(0.0, self._window[excess - 1] + WINDOW_SECONDS - now)


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
            after is not None
            and not (isinstance(after, str) and len(after) <= MAX_CURSOR_CHARS)
            or not isinstance(pages, int)
            or top is not None
            and not isinstance(top, int)
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


async def read_body(resp: aiohttp.ClientResponse, endpoint: str) -> bytes:
    """The answer's body, refused (`BadPayload`) beyond `MAX_BODY_BYTES` without reading it all."""
    declared = resp.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise BadPayload(
            f"{endpoint}: answer of {declared} bytes refused (at most {MAX_BODY_BYTES})", endpoint=endpoint
        )
    body = bytearray()
    async for chunk in resp.content.iter_chunked(BODY_CHUNK):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BadPayload(
                f"{endpoint}: answer of more than {MAX_BODY_BYTES} bytes refused ({len(body)} read)", endpoint=endpoint
            )
    return bytes(body)


def decode_json(raw: bytes, endpoint: str) -> object:
    """`json.loads`; ValueError when it is not JSON, `BadPayload` when nested too deep."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadPayload(f"{endpoint}: JSON nested too deep to decode", endpoint=endpoint) from None
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise BadPayload(f"{endpoint}: JSON nested more than {MAX_JSON_DEPTH} levels", endpoint=endpoint)
    return value


def _deeper_than(value: object, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def finite(value: object) -> float | None:
    """A JSON number as a finite float; None for anything else (NaN, ±Infinity, text, booleans)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond a float
        return None
    return number if math.isfinite(number) else None


def regain_seconds(minutes: object) -> float:
    """`estimated_time_to_regain_access` (minutes) in seconds, in [0, `MAX_REGAIN_SECONDS`]:
    negative or not a number counts as 0 (not blocked); beyond the maximum, or infinite, as the
    maximum."""
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        return 0.0
    if isinstance(minutes, float) and math.isnan(minutes):
        return 0.0
    if minutes >= MAX_REGAIN_SECONDS / 60.0:
        return MAX_REGAIN_SECONDS
    return max(0.0, float(minutes) * 60.0)
