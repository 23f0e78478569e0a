"""X Activity API (XAA) events: the envelope every delivery shares (webhook or stream), read into
a typed event. Pure: no I/O, no clock. What each event means for us is decided by the caller."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from monitor.sources.x.payloads import is_x_id

EVENT_TYPE_MAX = 64
"""Characters of an `event_type` (the longest documented, `profile.update.affiliate_badge`, has 30):
a longer one is no event type and is not echoed into an error text."""
EVENT_UUID_MAX = 40
"""Characters of an `event_uuid`: a signed 64-bit decimal (at most 20); room for a UUID too."""
TAG_MAX = 200
"""Characters kept of a subscription's `tag` (ours are short names; X does not document a limit)."""

POST_MENTION, POST_REPLY, POST_CREATE = "post.mention.create", "post.reply.create", "post.create"
DM_RECEIVED, DM_SENT = "dm.received", "dm.sent"
CHAT_RECEIVED, CHAT_SENT = "chat.received", "chat.sent"
CHAT_EVENTS = frozenset({CHAT_RECEIVED, CHAT_SENT})
"""XChat (end-to-end encrypted): the payload gives sender, conversation and time, never the text."""


class ActivityEventError(ValueError):
    """An envelope that is not of XAA's documented form; the message names the field."""


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    """One XAA event: `user_id` is the filter's (the monitored account the subscription names)."""

    event_uuid: str
    event_type: str
    user_id: str | None
    tag: str | None
    payload: dict[str, Any]
    includes: dict[str, Any] = field(default_factory=dict)


def is_envelope(document: object) -> bool:
    """Whether a decoded JSON document is an XAA envelope (`{"data": {"event_type": …}}`), as
    opposed to an Account Activity API delivery (`{"for_user_id": …, "tweet_create_events": …}`)."""
    return isinstance(document, dict) and isinstance(document.get("data"), dict) and "event_type" in document["data"]


def parse_envelope(document: object) -> ActivityEvent:
    """The event of one decoded envelope `{"data": {event_uuid, filter, event_type, tag, payload,
    includes}}`, or ActivityEventError naming what is wrong where."""
    if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
        raise ActivityEventError("data: expected an object")
    data: dict[str, Any] = document["data"]
    event_type = data.get("event_type")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= EVENT_TYPE_MAX:
        raise ActivityEventError(f"data.event_type: expected a string of 1 to {EVENT_TYPE_MAX} characters")
    uuid = data.get("event_uuid")
    if isinstance(uuid, int) and not isinstance(uuid, bool):
        uuid = str(uuid)
    if not isinstance(uuid, str) or not 0 < len(uuid) <= EVENT_UUID_MAX:
        raise ActivityEventError(f"data.event_uuid: expected a string of 1 to {EVENT_UUID_MAX} characters")
    filt = data.get("filter", {})
    if not isinstance(filt, dict):
        raise ActivityEventError("data.filter: expected an object")
    user_id = filt.get("user_id")
    if user_id is not None and (not isinstance(user_id, str) or not is_x_id(user_id)):
        raise ActivityEventError("data.filter.user_id: expected an X user id (a string of digits)")
    tag = data.get("tag")
    if tag is not None and not isinstance(tag, str):
        raise ActivityEventError("data.tag: expected a string")
    payload = data.get("payload", {})
    if not isinstance(payload, dict):
        raise ActivityEventError("data.payload: expected an object")
    includes = data.get("includes") or {}
    if not isinstance(includes, dict):
        raise ActivityEventError("data.includes: expected an object")
    return ActivityEvent(uuid, event_type, user_id, tag[:TAG_MAX] if tag else None, payload, includes)


def parse_line(line: bytes) -> ActivityEvent:
    """One envelope of JSON text (a webhook body, a stream line)."""
    try:
        document = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ActivityEventError(f"not JSON: {exc}") from None
    except RecursionError:
        raise ActivityEventError("not JSON: nested too deep") from None
    return parse_envelope(document)
