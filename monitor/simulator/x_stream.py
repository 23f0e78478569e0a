"""The fake X API's X Activity API: subscriptions (`POST/GET /2/activity/subscriptions`,
`DELETE /2/activity/subscriptions/:id`) and the persistent stream (`GET /2/activity/stream`,
chunked newline-delimited JSON envelopes, a blank line as keep-alive), as
`x-api/activity/` documents them. It can refuse or drop the stream to test reconnection."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from monitor.runtime import UnixClock

STREAM = "GET /2/activity/stream"
SUBSCRIPTIONS = "/2/activity/subscriptions"
WEBHOOK_ID = re.compile(r"[0-9]{1,19}")
"""A `webhook_id` as openapi.json's `WebhookConfigId` pattern says."""
KEEPALIVE_SECONDS = 20.0
"""X's keep-alive period (a blank line at least every 20 s)."""
PENDING_TICK_SECONDS = 0.02
"""How often the stream looks for events whose post was scripted for a later instant."""


class _Post(Protocol):
    id: int
    author_id: str
    created_at: float
    in_reply_to_user_id: str | None
    mentions: frozenset[str]


@dataclass
class Subscription:
    subscription_id: str
    event_type: str
    user_id: str
    tag: str | None
    created_at: str
    webhook_id: str | None = None
    """The webhook its events are delivered to (as well as the open stream)."""
    updated_at: str | None = None

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "subscription_id": self.subscription_id,
            "event_type": self.event_type,
            "filter": {"user_id": self.user_id},
            "created_at": self.created_at,
            "updated_at": self.updated_at or self.created_at,
        }
        if self.tag is not None:
            out["tag"] = self.tag
        if self.webhook_id is not None:
            out["webhook_id"] = self.webhook_id
        return out


@dataclass
class FakeActivity:
    """Subscriptions and open streams of the fake X API."""

    clock: UnixClock
    authorized: Callable[[str], bool]
    """Is this bearer token the app's?"""
    iso: Callable[[float], str]
    keepalive_seconds: float = KEEPALIVE_SECONDS
    billed: Callable[[dict[str, Any]], None] = lambda envelope: None
    """Called with each envelope written to the open streams (X bills it once, however many)."""
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    refusing: bool = False
    """While set, a stream connection is answered 503 (an outage)."""
    connections: int = 0
    """Streams opened so far."""
    most_open: int = 0
    """The most streams open at once (X allows an app 2; we mean to open 1)."""
    delivered: list[dict[str, Any]] = field(default_factory=list)
    """Every envelope written to an open stream."""
    _queues: set[asyncio.Queue[bytes | None]] = field(default_factory=set)
    _pending: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    _next_id: int = 1976325569252868096

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/2/activity/stream", self._stream)
        app.router.add_post(SUBSCRIPTIONS, self._create)
        app.router.add_get(SUBSCRIPTIONS, self._list)
        app.router.add_delete(SUBSCRIPTIONS + "/{id}", self._delete)
        app.router.add_put(SUBSCRIPTIONS + "/{id}", self._update)

    @property
    def open_streams(self) -> int:
        return len(self._queues)

    @property
    def pending(self) -> int:
        """Events announced for a later instant, not yet written."""
        return len(self._pending)

    def drop(self) -> None:
        """Close every open stream (as a server restart on X's side does)."""
        for queue in self._queues:
            queue.put_nowait(None)

    def send_raw(self, line: bytes) -> None:
        """Write these bytes to every open stream as they are (a hostile or broken line)."""
        for queue in self._queues:
            queue.put_nowait(line)

    def subscribe(
        self, event_type: str, user_id: str, tag: str | None = None, webhook_id: str | None = None
    ) -> Subscription:
        """A subscription, as `POST /2/activity/subscriptions` makes it."""
        self._next_id += 1
        sub = Subscription(str(self._next_id), event_type, user_id, tag, self.iso(self.clock()), webhook_id)
        self.subscriptions[sub.subscription_id] = sub
        return sub

    def post(self, post: _Post, payload: dict[str, Any]) -> None:
        """Announce a post to the subscriptions it matches, when it exists (now or later)."""
        kinds: list[tuple[str, str]] = [("post.create", post.author_id)]
        kinds += [("post.mention.create", u) for u in post.mentions if u != post.author_id]
        if post.in_reply_to_user_id and post.in_reply_to_user_id != post.author_id:
            kinds.append(("post.reply.create", post.in_reply_to_user_id))
        for kind, user in kinds:
            self._announce(kind, user, payload, post.created_at, str(post.id))

    def envelope(self, envelope: dict[str, Any], at: float) -> None:
        """Announce an event already in its envelope (an encrypted chat's) to the subscriptions it
        matches, with the subscription's tag."""
        data = envelope["data"]
        payload = data.get("payload", {})
        self._announce(data["event_type"], data["filter"]["user_id"], payload, at, data["event_uuid"])

    def dm(self, event_id: int, sender: str, recipient: str, payload: dict[str, Any], at: float) -> None:
        self._announce("dm.sent", sender, payload, at, f"{event_id}1")
        self._announce("dm.received", recipient, payload, at, f"{event_id}2")

    def _announce(self, kind: str, user: str, payload: dict[str, Any], at: float, uuid: str) -> None:
        for sub in self.subscriptions.values():
            if sub.event_type == kind and sub.user_id == user:
                data: dict[str, Any] = {"event_uuid": uuid, "filter": {"user_id": user}, "event_type": kind}
                if sub.tag is not None:
                    data["tag"] = sub.tag
                envelope = {"data": {**data, "payload": payload, "includes": {}}}
                if at <= self.clock():
                    self._send(envelope)
                else:
                    self._pending.append((at, envelope))
                    for queue in self._queues:
                        queue.put_nowait(b"")  # wake the streams: they now look for due events often

    def _send(self, envelope: dict[str, Any]) -> None:
        if not self._queues:
            return  # nobody connected: the event is lost, as on X
        self.delivered.append(envelope)
        self.billed(envelope)
        line = json.dumps(envelope).encode() + b"\r\n"
        for queue in self._queues:
            queue.put_nowait(line)

    def _flush(self) -> None:
        now = self.clock()
        due = [e for at, e in self._pending if at <= now]
        if due:
            self._pending = [(at, e) for at, e in self._pending if at > now]
            for envelope in due:
                self._send(envelope)

    def _auth(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not self.authorized(auth[len("Bearer ") :]):
            raise web.HTTPUnauthorized(
                text=json.dumps(
                    {"title": "Unauthorized", "detail": "Unauthorized", "type": "about:blank", "status": 401}
                ),
                content_type="application/json",
            )

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        self._auth(request)
        if self.refusing:
            return web.json_response(
                {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503},
                status=503,
            )
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._queues.add(queue)
        self.connections += 1
        self.most_open = max(self.most_open, len(self._queues))
        loop = asyncio.get_running_loop()
        written = loop.time()
        try:
            while True:
                keepalive_in = max(0.0, written + self.keepalive_seconds - loop.time())
                wait = min(PENDING_TICK_SECONDS, keepalive_in) if self._pending else keepalive_in
                try:
                    line = await asyncio.wait_for(queue.get(), wait)
                except TimeoutError:
                    line = b""
                if line is None:
                    break
                if self._pending:
                    self._flush()  # due events go to the queues, written next
                if not line and loop.time() - written >= self.keepalive_seconds:
                    line = b"\r\n"  # keep-alive
                if line:
                    await response.write(line)
                    written = loop.time()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._queues.discard(queue)
        if request.transport is not None:
            request.transport.close()  # dropped, not ended: no terminating chunk
        return response

    async def _create(self, request: web.Request) -> web.Response:
        self._auth(request)
        try:
            body = await request.json()
            kind, user = body["event_type"], body["filter"]["user_id"]
            if not isinstance(kind, str) or not isinstance(user, str) or not user.isdigit():
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return web.json_response(
                {"title": "Invalid Request", "detail": "event_type and filter.user_id are required", "status": 400},
                status=400,
            )
        webhook = body.get("webhook_id")
        if not _valid_webhook(webhook):
            return _invalid("webhook_id must match ^[0-9]{1,19}$")
        tag = body.get("tag")
        sub = self.subscribe(kind, user, tag if isinstance(tag, str) else None, webhook)
        return web.json_response({"data": sub.json(), "meta": {"total_subscriptions": len(self.subscriptions)}})

    async def _update(self, request: web.Request) -> web.Response:
        """`PUT /2/activity/subscriptions/:id` with `{tag?, webhook_id?}` (nothing else can change)."""
        self._auth(request)
        sub = self.subscriptions.get(request.match_info["id"])
        if sub is None:
            return web.json_response(
                {"title": "Not Found Error", "detail": "subscription not found", "status": 404}, status=404
            )
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or set(body) - {"tag", "webhook_id"}:
            return _invalid("only tag and webhook_id can be updated")
        webhook, tag = body.get("webhook_id", sub.webhook_id), body.get("tag", sub.tag)
        if not _valid_webhook(webhook):
            return _invalid("webhook_id must match ^[0-9]{1,19}$")
        sub.webhook_id, sub.tag, sub.updated_at = webhook, tag, self.iso(self.clock())
        return web.json_response({"data": sub.json(), "meta": {"total_subscriptions": len(self.subscriptions)}})

    async def _list(self, request: web.Request) -> web.Response:
        self._auth(request)
        data = [s.json() for s in self.subscriptions.values()]
        return web.json_response({"data": data, "meta": {"total_subscriptions": len(data)}})

    async def _delete(self, request: web.Request) -> web.Response:
        self._auth(request)
        if self.subscriptions.pop(request.match_info["id"], None) is None:
            return web.json_response(
                {"title": "Not Found Error", "detail": "subscription not found", "status": 404}, status=404
            )
        return web.json_response({"data": {"deleted": True}, "meta": {"total_subscriptions": len(self.subscriptions)}})


def _invalid(detail: str) -> web.Response:
    return web.json_response({"title": "Invalid Request", "detail": detail, "status": 400}, status=400)


def _valid_webhook(webhook: object) -> bool:
    """No `webhook_id`, or one of X's form."""
    return webhook is None or (isinstance(webhook, str) and WEBHOOK_ID.fullmatch(webhook) is not None)
