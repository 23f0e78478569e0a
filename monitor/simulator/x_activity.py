"""The X Activity API's wire format on the fake X API's side: event envelopes (post, legacy DM and
encrypted chat events, as `x-api/activity/event-payloads.mdx` shows them) and their webhook
delivery (signed `x-twitter-webhooks-signature`, the CRC check). The stream serves the same
envelopes, one a line."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

CHAT_CRYPTO_FIELDS = {
    "conversation_token": "eyJhbGciOiJIUzI1NiJ9.eyJyZXF1ZXN0aW5nVXN",
    "conversation_key_version": "1768236281331",
    "encoded_event": "CwABAAAAEzIwODA0MDA4MjUyMjcxMDAxNjALAAIA",
    "conversation_key_change_event": "CwABAAAAEzIwMTA3NTQ4MTkxMTY0NDk5MDULAAIA",
    "message_event_signature": {
        "public_key_version": "1765382634817",
        "signature": "6IK9SZIMXBe5SFcB7vGZJd5A5Eb5MLvnwrhUFfBGv4S5GsSX3WWPGuInXVNfSla36EjXQQ",
        "signature_version": "7",
        "signing_public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJ2c",
    },
}
"""The opaque (encrypted) parts of a chat payload, as truncated in X's docs: no text anywhere."""
DELIVERY_TIMEOUT_SECONDS = 10.0
"""X gives up on a webhook's answer after 10 s (`x-api/webhooks/introduction.mdx`)."""

_uuids = itertools.count(2080761390344937796)


def envelope(event_type: str, user_id: str, payload: dict[str, Any], *, tag: str | None = None) -> dict[str, Any]:
    """One event in XAA's envelope `{"data": {event_uuid, filter, event_type, tag, payload, includes}}`."""
    data: dict[str, Any] = {
        "event_uuid": str(next(_uuids)),
        "filter": {"user_id": user_id},
        "event_type": event_type,
        "payload": payload,
        "includes": {},
    }
    if tag is not None:
        data["tag"] = tag
    return {"data": data}


@dataclass(frozen=True)
class Chat:
    """One encrypted chat message between the brand and a customer."""

    id: str
    sender_id: str
    recipient_id: str
    created_at: float

    @property
    def conversation_id(self) -> str:
        """`<customer id>:<brand id>` as in X's samples (the other party first, then the filtered user)."""
        a, b = sorted((self.sender_id, self.recipient_id), key=int)
        return f"{a}:{b}"


def new_chat(sender_id: str, recipient_id: str, at: float) -> Chat:
    return Chat(str(uuid.uuid4()), sender_id, recipient_id, at)


def chat_envelope(chat: Chat, user_id: str) -> dict[str, Any]:
    """The `chat.received` or `chat.sent` event of `chat` for the subscribed user `user_id`."""
    sent = chat.sender_id == user_id
    payload = {
        "id": chat.id,
        "created_at_msec": str(round(chat.created_at * 1000)),
        "sender_id": chat.sender_id,
        "conversation_id": chat.conversation_id,
        **CHAT_CRYPTO_FIELDS,
    }
    return envelope(
        "chat.sent" if sent else "chat.received", user_id, payload, tag="chat-outbound" if sent else "chat-inbound"
    )


def signature(consumer_secret: str, body: bytes) -> str:
    """`sha256=<base64 HMAC-SHA256(consumer secret, body)>`: the header X signs deliveries with."""
    return "sha256=" + base64.b64encode(hmac.new(consumer_secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class WebhookSender:
    """X's side of a registered webhook: checks the URL (CRC) and POSTs signed deliveries."""

    url: str
    consumer_secret: str
    session: aiohttp.ClientSession
    billed: Callable[[dict[str, Any]], None] | None = None
    """Called with each event delivered (answered 2xx) under X's own signature: what X bills."""

    async def crc(self, token: str = "M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0") -> bool:
        """X's challenge-response check: valid when the answer is a 200 whose `response_token` is
        `sha256=<base64 HMAC-SHA256(consumer secret, crc_token)>`."""
        timeout = aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_SECONDS)
        async with self.session.get(self.url, params={"crc_token": token}, timeout=timeout) as r:
            if r.status != 200:
                return False
            answer = await r.json()
        return isinstance(answer, dict) and answer.get("response_token") == signature(
            self.consumer_secret, token.encode()
        )

    async def deliver(self, event: dict[str, Any], *, secret: str | None = None) -> tuple[int, Any]:
        """POST one event (signed with `secret`, default the consumer secret): (status, JSON answer)."""
        body = json.dumps(event).encode()
        headers = {
            "Content-Type": "application/json",
            "x-twitter-webhooks-signature": signature(secret or self.consumer_secret, body),
        }
        timeout = aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_SECONDS)
        async with self.session.post(self.url, data=body, headers=headers, timeout=timeout) as r:
            answer = r.status, await r.json(content_type=None)
        if self.billed is not None and secret is None and 200 <= answer[0] < 300:
            self.billed(event)
        return answer
