"""The HTTP server of `inbox-monitor run`: /metrics, /healthz (alive), /readyz (ready to serve),
/go/oldest (alerts' link to a post), /webhooks/facebook and /webhooks/x (poll-now deliveries),
/api/messages/{id}/label (a person's correction of a decision, behind a bearer token)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest as text_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from monitor.corrections import BY_MAX, NOTE_MAX, CorrectionError, correction_dict, mark
from monitor.secrets import EnvSecret
from monitor.sources.webhooks import (
    Nudge,
    WebhookError,
    meta_challenge,
    meta_nudges,
    verify_meta,
    verify_x,
    x_crc_response,
    x_nudges,
)
from monitor.store.db import pending_migrations

if TYPE_CHECKING:
    from monitor.engine import Engine
    from monitor.metrics import Metrics
    from monitor.poller import Poller
    from monitor.store.store import Store

log = logging.getLogger(__name__)


WEBHOOK_BODY_MAX = 1024 * 1024
"""Bytes: Meta batches up to 1,000 changes per delivery, far below this."""
API_BODY_MAX = 16 * 1024
"""Bytes of a labels API request: a decision, a note of `NOTE_MAX` characters and a name fit."""
LABEL_FIELDS = frozenset({"needs_reply", "note", "by", "account"})


@dataclass
class Webhooks:
    """What the webhook endpoints need: the secrets (read at each delivery), which accounts a Page
    or X user id is, and how to tell the pollers (`deliver`: every process, through PostgreSQL)."""

    facebook_verify_token: EnvSecret
    facebook_app_secrets: Sequence[EnvSecret]
    x_consumer_secret: EnvSecret
    accounts: Mapping[tuple[str, str], Sequence[int]]
    """(channel, Page id or X user id) -> account ids."""
    deliver: Callable[[int, Sequence[str]], Awaitable[None]]
    counted: Callable[[str, str], None] = lambda channel, result: None
    """(channel, result) of each delivery, for the metrics."""
    _logged: dict[tuple[str, str], float] = field(default_factory=dict)

    def app_secrets(self) -> list[str]:
        """The Meta app secrets set now (several apps may serve the Pages)."""
        return [v for s in self.facebook_app_secrets if (v := s.get())]

    def refused(self, channel: str, exc: WebhookError) -> web.Response:
        self.counted(channel, exc.result)
        now = time.monotonic()
        if now - self._logged.get((channel, exc.result), -1e9) >= 300:  # the internet knocks often
            self._logged[(channel, exc.result)] = now
            log.warning("webhook delivery refused", extra={"channel": channel, "result": exc.result,
                                                          "error": str(exc)})
        return web.json_response({"error": str(exc)}, status=exc.status)

    async def nudge(self, channel: str, nudges: list[Nudge]) -> web.Response:
        nudged = unknown = 0
        for n in nudges:
            ids = self.accounts.get((n.channel, n.key), ())
            unknown += not ids
            for account_id in ids:
                await self.deliver(account_id, n.streams)
                nudged += 1
        result = "ok" if nudged else ("unknown_account" if unknown else "ignored")
        self.counted(channel, result)
        return web.json_response({"status": result, "accounts": nudged})


class HttpServer:
    def __init__(self, host: str, port: int, *, store: Store, poller: Poller, metrics: Metrics,
                 registry: CollectorRegistry, webhooks: Webhooks | None = None, engine: Engine | None = None,
                 api_token: EnvSecret | None = None) -> None:
        self.host, self.port = host, port
        self.store, self.poller, self.metrics, self.registry = store, poller, metrics, registry
        self.webhooks = webhooks
        self.engine, self.api_token = engine, api_token
        self.app = web.Application(client_max_size=WEBHOOK_BODY_MAX)
        self.app.router.add_get("/metrics", self.metrics_handler)
        self.app.router.add_get("/healthz", self.healthz)
        self.app.router.add_get("/readyz", self.readyz)
        self.app.router.add_get("/go/oldest", self.go_oldest)
        self.app.router.add_get("/webhooks/facebook", self.facebook_subscribe)
        self.app.router.add_post("/webhooks/facebook", self.facebook_delivery)
        self.app.router.add_get("/webhooks/x", self.x_crc)
        self.app.router.add_post("/webhooks/x", self.x_delivery)
        self.app.router.add_post("/api/messages/{id}/label", self.label)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self._runner.addresses:
            self.port = self._runner.addresses[0][1]  # the real port when 0 was asked
        log.info("http server listening", extra={"host": self.host, "port": self.port})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def metrics_handler(self, request: web.Request) -> web.Response:
        """Our metrics (cached rendering) then the process collectors, in the format asked for."""
        if "application/openmetrics-text" in request.headers.get("Accept", ""):
            body = self.metrics.render(openmetrics=True) + openmetrics_latest(self.registry)
            content_type = OPENMETRICS
        else:
            body = self.metrics.render(openmetrics=False) + text_latest(self.registry)
            content_type = CONTENT_TYPE_PLAIN_0_0_4
        response = web.Response(body=body, headers={"Content-Type": content_type})
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response.enable_compression()
        return response

    async def go_oldest(self, request: web.Request) -> web.Response:
        """Redirect to the post of an account's oldest open wait: alerts link here, since metric
        labels never carry a message id. `?account=NAME[&breached=1]`."""
        from datetime import UTC, datetime

        account = request.query.get("account", "")
        if account not in {ctx.name for ctx in self.metrics.accounts.values()}:
            return web.json_response({"error": "unknown account"}, status=404)
        breached = request.query.get("breached", "0") in ("1", "true", "yes")
        url = await self.store.oldest_open_wait_url(account, breached_only=breached, now=datetime.now(UTC))
        if url is None:
            return web.json_response({"status": "no open wait", "account": account}, status=404)
        raise web.HTTPFound(url)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        problems = []
        try:
            pending = await asyncio.wait_for(pending_migrations(self.store.pool), timeout=2)
            if pending:
                problems.append(f"migrations pending: {', '.join(pending)}")
        except Exception as exc:  # any failure to reach the database means not ready
            problems.append(f"database unreachable: {type(exc).__name__}")
        if not self.poller.started.is_set():
            problems.append("pollers not started")
        if problems:
            return web.json_response({"status": "not ready", "problems": problems}, status=503)
        return web.json_response({"status": "ready"})

    # -- webhooks (monitor/sources/webhooks.py: what they say; docs/webhooks.md: how to set up) ---

    def _configured(self, channel: str, secret: Callable[[Webhooks], str | None],
                    setting: str) -> tuple[Webhooks, str]:
        value = secret(self.webhooks) if self.webhooks is not None else None
        if self.webhooks is None or not value:
            raise WebhookError(404, "not_configured", f"{channel} webhooks are not configured: set {setting} "
                                                      "in [server.webhooks] and its environment variable")
        return self.webhooks, value

    async def facebook_subscribe(self, request: web.Request) -> web.Response:
        """Meta's check of the callback URL: echo `hub.challenge` when the verify token is ours."""
        try:
            hooks, token = self._configured("facebook", lambda h: h.facebook_verify_token.get(),
                                            "facebook_verify_token_env")
            challenge = meta_challenge(dict(request.query), token)
        except WebhookError as exc:
            return self._refused("facebook", exc)
        hooks.counted("facebook", "subscribed")
        log.info("facebook webhook subscription verified")
        return web.Response(text=challenge)

    async def facebook_delivery(self, request: web.Request) -> web.Response:
        try:
            hooks, _ = self._configured("facebook", lambda h: next(iter(h.app_secrets()), None),
                                        "facebook_app_secret_env (or the accounts' app_secret_env)")
            body = await request.read()
            verify_meta(body, request.headers.get("X-Hub-Signature-256"), hooks.app_secrets())
            nudges = meta_nudges(body)
        except WebhookError as exc:
            return self._refused("facebook", exc)
        return await hooks.nudge("facebook", nudges)

    async def x_crc(self, request: web.Request) -> web.Response:
        """X's challenge-response check of the webhook URL."""
        try:
            hooks, secret = self._configured("x", lambda h: h.x_consumer_secret.get(), "x_consumer_secret_env")
            token = request.query.get("crc_token", "")
            if not token:
                raise WebhookError(400, "bad_request", "crc_token: missing")
        except WebhookError as exc:
            return self._refused("x", exc)
        hooks.counted("x", "subscribed")
        return web.json_response(x_crc_response(secret, token))

    async def x_delivery(self, request: web.Request) -> web.Response:
        try:
            hooks, secret = self._configured("x", lambda h: h.x_consumer_secret.get(), "x_consumer_secret_env")
            body = await request.read()
            verify_x(body, request.headers.get("x-twitter-webhooks-signature"), secret)
            nudges = x_nudges(body)
        except WebhookError as exc:
            return self._refused("x", exc)
        return await hooks.nudge("x", nudges)

    def _refused(self, channel: str, exc: WebhookError) -> web.Response:
        if self.webhooks is None:
            return web.json_response({"error": str(exc)}, status=exc.status)
        return self.webhooks.refused(channel, exc)


    # -- the labels API (monitor/corrections.py; README "Corrections") -------------------------------

    async def label(self, request: web.Request) -> web.Response:
        """Correct whether an inbound message needs a reply: `{"needs_reply": true|false|null,
        "note": "...", "by": "..."}` (null: back to the rules); `?account=NAME` when the id is in
        several accounts. The thread's waits are recomputed in the same transaction."""
        token = self.api_token.get() if self.api_token is not None else None
        if self.engine is None or not token:
            return web.json_response({"error": "the labels API is not configured: set token_env in [server.api] "
                                               "and its environment variable"}, status=404)
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return web.json_response({"error": "missing or wrong bearer token"}, status=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="inbox-monitor"'})
        try:
            body = await _json_body(request, API_BODY_MAX)
            label, note, by = _label_request(body)
            account = request.query.get("account") or _text_field(body, "account", 200)
            correction = await mark(self.engine, request.match_info["id"], label, by=by or "api", note=note,
                                    account=account)
        except CorrectionError as exc:
            return web.json_response({"error": str(exc)}, status=exc.status)
        return web.json_response(correction_dict(correction))


async def _json_body(request: web.Request, limit: int) -> dict[str, object]:
    """The request's JSON object, read up to `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise CorrectionError(413, f"body: larger than {limit} bytes")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise CorrectionError(413, f"body: larger than {limit} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise CorrectionError(400, "body: not JSON") from None
    if not isinstance(body, dict):
        raise CorrectionError(400, "body: expected a JSON object")
    return body


def _text_field(body: dict[str, object], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise CorrectionError(400, f"{name}: expected a text of at most {limit} characters")
    return value


def _label_request(body: dict[str, object]) -> tuple[bool | None, str | None, str | None]:
    """(label, note, by) of a labels API request; CorrectionError(400) naming the bad field."""
    if unknown := sorted(set(body) - LABEL_FIELDS):
        raise CorrectionError(400, f"{unknown[0]}: unknown field (expected needs_reply, note, by, account)")
    if "needs_reply" not in body:
        raise CorrectionError(400, "needs_reply: required (true, false, or null to give it back to the rules)")
    label = body["needs_reply"]
    if label is not None and not isinstance(label, bool):
        raise CorrectionError(400, "needs_reply: expected true, false or null")
    return label, _text_field(body, "note", NOTE_MAX), _text_field(body, "by", BY_MAX)
