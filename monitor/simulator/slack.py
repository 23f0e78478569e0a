"""A local Slack incoming-webhook server that records what it receives.

It answers like Slack does: 200 with the body `ok` for a valid payload; 400 `invalid_payload`
when the body is not JSON or has neither `text` nor `blocks` nor `attachments`; 404 `no_service`
for an unknown hook path; and, when told to, 429 with `Retry-After` or 500.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from monitor.simulator.net import FakeServer


@dataclass
class SlackMessage:
    path: str
    payload: dict[str, Any]

    @property
    def text(self) -> str:
        """Everything a reader sees: text, blocks and attachments flattened to one string."""
        return json.dumps(self.payload, ensure_ascii=False)

    def field(self, name: str) -> str:
        """A field (title, text, footer, color...) of the first attachment, or ""."""
        attachments = self.payload.get("attachments") or [{}]
        value = attachments[0].get(name, "") if isinstance(attachments[0], dict) else ""
        return value if isinstance(value, str) else ""


@dataclass
class FakeSlack(FakeServer):
    """`await start()` gives the base URL (or `async with`); hooks are `{base}/services/T000/B000/XXXX`
    style paths."""

    hooks: set[str] = field(default_factory=lambda: {"/services/T0000/B0000/test"})
    messages: list[SlackMessage] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    """Statuses to answer (429, 500) before accepting again."""
    received: asyncio.Event = field(default_factory=asyncio.Event)

    def hook_url(self, path: str = "/services/T0000/B0000/test") -> str:
        return self.url + path

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        if request.path not in self.hooks:
            return web.Response(status=404, text="no_service")
        if self.fail_next:
            status = self.fail_next.pop(0)
            headers = {"Retry-After": "1"} if status == 429 else {}
            return web.Response(status=status, text="rate_limited" if status == 429 else "error", headers=headers)
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(payload, dict) or not any(k in payload for k in ("text", "blocks", "attachments")):
            return web.Response(status=400, text="invalid_payload")
        self.messages.append(SlackMessage(request.path, payload))
        self.received.set()
        return web.Response(text="ok")


async def _main(port: int) -> None:  # pragma: no cover - `python -m monitor.simulator.slack` for manual use
    slack = FakeSlack()
    print(await slack.start(port), flush=True)
    while True:
        slack.received.clear()
        await slack.received.wait()
        print(slack.messages[-1].text, flush=True)


if __name__ == "__main__":  # pragma: no cover
    import sys

    asyncio.run(_main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
