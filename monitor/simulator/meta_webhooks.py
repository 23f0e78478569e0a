"""Meta's webhook deliveries for a local Graph API's Pages, in Meta's wire format, signed as Meta
signs them (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>`).

* `echoes`: the `message_echoes` Meta sends when a Page sends a message, with `message.app_id`,
  the app that sent it (`FakeGraphApi.add_message(..., app_id=...)`; a Page message without one
  was sent from Meta's own inbox, `INBOX_APP_ID` here);
* `messages`: the event of a customer's message (what makes a Messenger stream poll now).

Each entry holds one messaging event, as Meta's deliveries do; several entries share a delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import Any

import aiohttp

from monitor.simulator.graph_api import FakeGraphApi, FakeMessage

INBOX_APP_ID = "100000000000001"
"""The app id this fake gives Meta's own Page inbox (a made-up id: Meta's is its own)."""
ENTRIES_PER_DELIVERY = 10
"""Entries batched in one delivery (Meta batches up to 1,000)."""


class MetaWebhooks:
    """Sends the deliveries of `api`'s Pages to `url`, signed with `app_secret`; `sent` keeps the
    HTTP status of each."""

    def __init__(self, api: FakeGraphApi, url: str, app_secret: str) -> None:
        self.api, self.url, self.app_secret = api, url, app_secret
        self.sent: list[int] = []
        self._echoed: set[str] = set()

    def page_messages(self) -> list[FakeMessage]:
        """Every message the Pages sent that exists at the fake's clock, in time order."""
        now = self.api.clock().timestamp()
        out = [
            m
            for page in self.api.pages.values()
            for conv in page.conversations
            for m in conv.visible(int(now))
            if m.author.id == page.id
        ]
        return sorted(out, key=lambda m: (m.created, m.id))

    async def echoes(self, mids: Iterable[str] | None = None) -> int:
        """Deliver the echo of each Page message named (default: each not echoed yet); how many."""
        wanted = set(mids) if mids is not None else None
        due = [m for m in self.page_messages() if (m.id in wanted if wanted is not None else m.id not in self._echoed)]
        await self._deliver([(self._page_of(m), _echo(m)) for m in due])
        self._echoed.update(m.id for m in due)
        return len(due)

    async def messages(self, mids: Iterable[str]) -> None:
        """Deliver the events of these customers' messages."""
        found = {m.id: m for page in self.api.pages.values() for c in page.conversations for m in c.messages}
        await self._deliver([(self._page_of(found[mid]), _message(found[mid])) for mid in mids])

    def _page_of(self, message: FakeMessage) -> str:
        return next(
            page.id for page in self.api.pages.values() for c in page.conversations if c.id == message.conversation_id
        )

    async def _deliver(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        async with aiohttp.ClientSession() as session:
            for i in range(0, len(events), ENTRIES_PER_DELIVERY):
                chunk = events[i : i + ENTRIES_PER_DELIVERY]
                body = json.dumps(
                    {
                        "object": "page",
                        "entry": [
                            {"id": page, "time": event["timestamp"], "messaging": [event]} for page, event in chunk
                        ],
                    }
                ).encode()
                signature = hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
                headers = {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"}
                async with session.post(self.url, data=body, headers=headers) as response:
                    await response.read()
                    self.sent.append(response.status)


def _echo(m: FakeMessage) -> dict[str, Any]:
    """The `message_echoes` event of a Page's message: `app_id` a JSON number, as Meta sends it."""
    return {
        "sender": {"id": m.author.id},
        "recipient": {"id": m.to.id},
        "timestamp": m.created * 1000,
        "message": {"is_echo": True, "app_id": int(m.app_id or INBOX_APP_ID), "mid": m.id, "text": m.text},
    }


def _message(m: FakeMessage) -> dict[str, Any]:
    """The `messages` event of a customer's message."""
    return {
        "sender": {"id": m.author.id},
        "recipient": {"id": m.to.id},
        "timestamp": m.created * 1000,
        "message": {"mid": m.id, "text": m.text},
    }
