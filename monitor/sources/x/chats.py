"""XChat events (`chat.received`, `chat.sent`) as messages: sender, conversation and time, no text
(the chats are end-to-end encrypted). Pure: the webhook endpoint and the activity stream call it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from monitor.domain.items import ItemError, believable
from monitor.domain.model import Message
from monitor.sources.x.activity_events import CHAT_RECEIVED, CHAT_SENT, ActivityEvent, ActivityEventError
from monitor.sources.x.payloads import is_x_id

CHAT_STREAM = "x.chat"
"""The stream name chats are ingested under (no poll: no cursor, nothing set aside)."""
CHAT_ID_MAX = 64
"""Characters of a chat message id (X sends a UUID, 36 characters)."""
_CHAT_ID = re.compile(r"[A-Za-z0-9-]+")
"""A UUID or a snowflake: nothing that could be mistaken for another kind of external id."""
_MSEC_DIGITS = 16
"""`created_at_msec` digits at most (milliseconds in the year 318857: no time of ours)."""
KEPT = ("id", "sender_id", "conversation_id", "created_at_msec")
"""Payload fields stored in `raw`: the encoded (encrypted) event and key material are useless
without the client's keys and large, so they are not kept."""


def is_chat_conversation_id(value: str) -> bool:
    """`<user id>:<user id>` (one-to-one, as X documents it) or a snowflake (a group)."""
    parts = value.split(":")
    return len(parts) <= 2 and all(is_x_id(p) for p in parts)


def chat_message(event: ActivityEvent, *, received_at: datetime | None = None) -> Message:
    """The message a chat event is: private, inbound (`chat.received`) or outbound (`chat.sent`),
    `text_available = False`; a time past `received_at` is clamped to it (None: not checked).
    ActivityEventError names a field that is not of X's form."""
    if event.event_type not in (CHAT_RECEIVED, CHAT_SENT):
        raise ActivityEventError(f"data.event_type: {event.event_type!r} is not a chat event")
    p = event.payload
    mid, sender, conversation, msec = (p.get(k) for k in KEPT)
    if not isinstance(mid, str) or not 0 < len(mid) <= CHAT_ID_MAX or not _CHAT_ID.fullmatch(mid):
        raise ActivityEventError(f"data.payload.id: expected a chat message id (at most {CHAT_ID_MAX} characters)")
    if not isinstance(sender, str) or not is_x_id(sender):
        raise ActivityEventError("data.payload.sender_id: expected an X user id")
    if not isinstance(conversation, str) or not is_chat_conversation_id(conversation):
        raise ActivityEventError("data.payload.conversation_id: expected '<user id>:<user id>' or an id")
    if not isinstance(msec, str | int) or isinstance(msec, bool) or not str(msec).isdigit():
        raise ActivityEventError("data.payload.created_at_msec: expected milliseconds since 1970")
    if len(str(msec)) > _MSEC_DIGITS:
        raise ActivityEventError(f"data.payload.created_at_msec: more than {_MSEC_DIGITS} digits")
    try:
        created = datetime.fromtimestamp(int(msec) / 1000, UTC)
    except (ValueError, OverflowError, OSError):  # past the year 9999
        raise ActivityEventError("data.payload.created_at_msec: not a time (after the year 9999)") from None
    try:
        stamp = believable(
            created,
            received_at=received_at or created,
            channel="x",
            where="data.payload.created_at_msec",
        )
    except ItemError as exc:
        raise ActivityEventError(str(exc)) from None
    outbound = event.event_type == CHAT_SENT
    return Message(
        mid,
        conversation,
        "private",
        "outbound" if outbound else "inbound",
        stamp.at,
        "",
        sender,
        None,
        None,
        False,
        {"event_type": event.event_type, "event_uuid": event.event_uuid, **{k: p[k] for k in KEPT}},
        stamp.clamped_from,
        text_available=False,
    )
