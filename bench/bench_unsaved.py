"""Memory of the X Activity stream's events kept while PostgreSQL is away: a full queue
(`MAX_UNSAVED_EVENTS`) of chats, and of post events (their billed id only), each read from its
wire form as the stream reads it. Measured with tracemalloc; writes nothing.

Usage: python bench/bench_unsaved.py
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable

from monitor.simulator.x_activity import chat_envelope, new_chat
from monitor.sources.x.activity import route
from monitor.sources.x.activity_events import parse_line
from monitor.sources.x.activity_unsaved import MAX_UNSAVED_EVENTS, Unsaved, UnsavedEvents

BRAND = "1001"


def chat_line(i: int) -> bytes:
    return json.dumps(chat_envelope(new_chat(str(7000 + i), BRAND, 1.7e9 + i), BRAND)).encode()


def post_line(i: int) -> bytes:
    post = {"id": str(10**18 + i), "text": "@shop hello?", "author_id": "7", "created_at": "2026-12-05T10:00:00.000Z"}
    data = {"event_uuid": str(10**15 + i), "filter": {"user_id": BRAND}, "event_type": "post.mention.create"}
    return json.dumps({"data": {**data, "payload": post}}).encode()


def full_queue(line: Callable[[int], bytes]) -> int:
    """Bytes a full queue of these events holds."""
    lines = [line(i) for i in range(MAX_UNSAVED_EVENTS)]
    tracemalloc.start()
    queue = UnsavedEvents()
    for raw in lines:
        for account_id, (messages, billable) in route([parse_line(raw)], {BRAND: [1]}).ingests().items():
            queue.push(Unsaved(account_id, messages, billable))
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(queue) == MAX_UNSAVED_EVENTS
    return size


def main() -> list[tuple[str, str]]:
    figures = []
    for name, line in (("chats", chat_line), ("post events", post_line)):
        size = full_queue(line)
        figures.append(
            (
                f"{MAX_UNSAVED_EVENTS:,} kept {name}",
                f"{size / 1e6:.0f} MB ({size / MAX_UNSAVED_EVENTS:.0f} bytes an event)",
            )
        )
    for name, value in figures:
        print(f"{name}: {value}")
    return figures


if __name__ == "__main__":
    main()
