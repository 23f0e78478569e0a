"""An Instagram professional account through the Graph API: comments on its media, the media and
comments that tag or @mention it, and its direct messages (docs/instagram.md). The Graph client
it shares with Facebook is `monitor.sources.graph`."""

from __future__ import annotations

from monitor.sources.instagram.payloads import parse_rejected, thread_key
from monitor.sources.instagram.streams import (
    COMMENTS,
    DM,
    MENTIONS,
    CommentsSource,
    DirectSource,
    MentionsInbox,
    MentionsSource,
    build_instagram_sources,
)

STREAMS = (COMMENTS, MENTIONS, DM)
"""Every stream of an Instagram account."""

__all__ = [
    "COMMENTS",
    "DM",
    "MENTIONS",
    "STREAMS",
    "CommentsSource",
    "DirectSource",
    "MentionsInbox",
    "MentionsSource",
    "build_instagram_sources",
    "parse_rejected",
    "thread_key",
]
