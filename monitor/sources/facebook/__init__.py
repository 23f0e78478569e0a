"""Facebook Pages through the Graph API: Messenger conversations and comments on Page posts
(docs/sources.md, "Facebook (Graph API)"). The Graph client they share is `monitor.sources.graph`."""

from __future__ import annotations

from monitor.sources.facebook.payloads import (
    comment_thread_key,
    messenger_thread_key,
    parse_rejected,
    post_thread_key,
)
from monitor.sources.facebook.streams import (
    COMMENTS,
    MESSENGER,
    CommentsSource,
    FacebookOptions,
    MessengerSource,
    build_facebook_sources,
)

__all__ = [
    "COMMENTS",
    "MESSENGER",
    "CommentsSource",
    "FacebookOptions",
    "MessengerSource",
    "build_facebook_sources",
    "comment_thread_key",
    "messenger_thread_key",
    "parse_rejected",
    "post_thread_key",
]
