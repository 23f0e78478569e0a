"""The figures that bound what a misbehaving Graph API can make a Graph source do (docs/bounds.md)."""

from __future__ import annotations

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
"""The window `MAX_CALLS_PER_MINUTE` counts in."""
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
"""Posts whose comments are read again at every poll (see `facebook.comments` in docs/sources.md): 35 a day over
the default 14 days. Each costs one call per poll, so the least recently commented leave first."""
MAX_REGAIN_SECONDS = 3600.0
"""The longest wait an `estimated_time_to_regain_access` can impose. Meta gives it in minutes and
its blocks last minutes up to an hour; a larger figure is not believed: after an hour one call
is tried, and a block still in place is announced again."""
CLOCK_SKEW_SECONDS = 5
"""How far a watermark may be ahead of our clock. Graph times are whole seconds from NTP-synced
servers; a time further ahead (a conversation `updated_time` in 2999) cannot move the watermark
past now + 5 s, so the next floor (watermark - overlap, 2 min) stays behind the clock."""
