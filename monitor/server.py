"""The HTTP server of `inbox-monitor run`: /metrics, /healthz (alive), /readyz (ready to serve),
/go/oldest (alerts' link to a post), /webhooks/facebook and /webhooks/x (poll-now deliveries),
/api/messages/{id}/label (a person's correction of a decision, behind a bearer token)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest as text_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics import exposition as openmetrics_exposition
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS

from monitor.corrections import BY_MAX, NOTE_MAX, CorrectionError, correction_dict, mark
from monitor.secrets import EnvSecret
from monitor.sources.echoes import Echo, read_echoes
from monitor.sources.webhook_limits import DELIVERY_MAX_AGE, NudgeLimiter, ReplayMemory
from monitor.sources.webhooks import (
    Delivery,
    WebhookError,
    meta_challenge,
    read_meta,
    read_x,
    verify_meta,
    verify_x,
    x_crc_response,
)
from monitor.store.db import DATABASE_ERRORS, pending_migrations

if TYPE_CHECKING:
    from monitor.domain.mentions import Mention
    from monitor.engine import Engine
    from monitor.metrics import Metrics
    from monitor.poller import Poller
    from monitor.sources.x.activity import Ingest
    from monitor.store.store import Store

log = logging.getLogger(__name__)

_openmetrics_latest: Callable[[CollectorRegistry], bytes] = openmetrics_exposition.generate_latest
"""prometheus_client's OpenMetrics rendering, typed here: the library leaves it unannotated."""


WEBHOOK_BODY_MAX = 1024 * 1024
"""Bytes: Meta batches up to 1,000 changes per delivery, far below this."""
API_BODY_MAX = 16 * 1024
"""Bytes of a labels API request: a decision, a note of `NOTE_MAX` characters and a name fit."""
LABEL_FIELDS = frozenset({"needs_reply", "note", "by", "account"})
WEBHOOK_READ_SECONDS = 10.0
"""To receive a body: X gives up on an answer after 10 s, Meta after 20 s; a slower sender is not them."""
WEBHOOK_LOG_EVERY = 300.0
"""Seconds between two log lines of one (channel, result) not acted on: an exposed URL is knocked on often."""
WEBHOOK_CONTENT_TYPE = "application/json"
"""What X and Meta send their deliveries as."""
APPS_RECORD_SECONDS = 5.0
"""To store a delivery's echoes (the app of each reply): Meta gives up on an answer after 20 s."""


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
    remember: Callable[[int, Sequence[Mention]], Awaitable[None]] | None = None
    """Keep the Instagram @mentions a delivery names for the account's mentions stream (in every
    process's PostgreSQL); None: they are not kept."""
    record_apps: Callable[[int, Mapping[str, str]], Awaitable[int]] | None = None
    """Store which app sent an account's messages (external id -> app id, from Messenger echoes)
    and recompute the threads it changes; None: echoes are not read."""
    ingest: Ingest | None = None
    """Store messages a delivery carries for an account (X's encrypted chats: no poll reads them)
    and count what X bills for delivering it (docs/cost.md); None: neither (chats counted as
    `ignored`)."""
    counted: Callable[[str, str], None] = lambda channel, result: None
    """(channel, result) of each delivery, for the metrics."""
    clock: Callable[[], float] = time.time
    """Wall clock, to tell a delivery's age from the event times it carries."""
    max_age: float = DELIVERY_MAX_AGE
    replays: ReplayMemory = field(default_factory=ReplayMemory)
    limiter: NudgeLimiter = field(default_factory=NudgeLimiter)
    _logged: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def app_secrets(self) -> list[str]:
        """The Meta app secrets set now (several apps may serve the Pages)."""
        return [v for s in self.facebook_app_secrets if (v := s.get())]

    async def _remember(self, delivery: Delivery) -> None:
        """Keep the Instagram @mentions of known accounts before their streams are nudged, whatever
        the delivery's age (no list has them). Meta keeps no copy: when PostgreSQL cannot take them
        the delivery is refused (503), and Meta retries."""
        if self.remember is None or not delivery.mentions:
            return
        by_account: dict[int, list[Mention]] = {}
        for n, mention in delivery.mentions:
            for account_id in self.accounts.get((n.channel, n.key), ()):
                by_account.setdefault(account_id, []).append(mention)
        try:
            for account_id, found in by_account.items():
                await self.remember(account_id, found)
        except (*DATABASE_ERRORS, TimeoutError) as exc:
            raise WebhookError(503, "unavailable", f"the mentions could not be kept ({type(exc).__name__})") from None

    async def _record_apps(self, echoes: Sequence[Echo]) -> None:
        """Store the app of each echoed reply of a known Page, before its stream is nudged (the poll
        then finds it). Idempotent, so neither replays nor the nudge limit apply. Meta keeps no list
        of them: when PostgreSQL cannot take them the delivery is refused (503), and Meta retries it."""
        if self.record_apps is None or not echoes:
            return
        by_account: dict[int, dict[str, str]] = {}
        for e in echoes:
            for account_id in self.accounts.get(("facebook", e.page_id), ()):
                by_account.setdefault(account_id, {})[e.mid] = e.app_id
        try:
            for account_id, apps in by_account.items():
                await asyncio.wait_for(self.record_apps(account_id, apps), timeout=APPS_RECORD_SECONDS)
        except (*DATABASE_ERRORS, TimeoutError) as exc:
            raise WebhookError(
                503, "unavailable", f"the replies' apps could not be stored ({type(exc).__name__})"
            ) from None

    def refused(self, channel: str, exc: WebhookError) -> web.Response:
        self.counted(channel, exc.result)
        what = "webhook request failed" if exc.__cause__ else "webhook delivery refused"  # a bug's own line
        self.note(channel, exc.result, what, str(exc), exc_info=exc.__cause__)
        return web.json_response({"error": str(exc)}, status=exc.status)

    def note(self, channel: str, result: str, what: str, error: str, exc_info: BaseException | None = None) -> None:
        """Log a request not acted on, once per (channel, result, what) every WEBHOOK_LOG_EVERY."""
        now = time.monotonic()
        if now - self._logged.get((channel, result, what), -1e9) >= WEBHOOK_LOG_EVERY:
            self._logged[(channel, result, what)] = now
            log.warning(what, extra={"channel": channel, "result": result, "error": error}, exc_info=exc_info)

    def _ignored(self, channel: str, result: str, error: str) -> web.Response:
        """A delivery answered 200 but not acted on: X and Meta retry anything else (Meta, for
        hours, then unsubscribes the app), and the poll at the interval reads the news anyway."""
        self.counted(channel, result)
        self.note(channel, result, "webhook delivery not acted on", error)
        return web.json_response({"status": result, "accounts": 0})

    async def act(self, channel: str, body: bytes, delivery: Delivery, echoes: Sequence[Echo] = ()) -> web.Response:
        """Store the chats a verified delivery carries and count what X bills for it (always: both
        are idempotent), store the apps its `echoes` name, and nudge the streams it names, unless
        it is old, a replay, or its accounts were nudged too often lately."""
        age = delivery.age(self.clock())
        stale = age is not None and age > self.max_age
        replayed = not stale and not self.replays.first_time(body, time.monotonic())
        try:
            # A replay too: X bills a repeat delivered on another UTC day again, and the store
            # counts a resource once a day (the same rule), so counting it again is exact.
            stored, unknown = await self._store(delivery)
            if replayed:
                return self._ignored(channel, "replayed", "the same body came within the replay window")
            await self._remember(delivery)
            await self._record_apps(echoes)  # before the nudge: the poll then finds each reply's app
        except WebhookError:
            self.replays.forget(body)  # not stored: X and Meta deliver it again, and that one must count
            raise
        if stale:  # chats and apps are stored whatever their age (Meta's retries after an outage too)
            if stored:
                self.counted(channel, "ok")
                return web.json_response({"status": "ok", "accounts": stored})
            return self._ignored(
                channel, "stale", f"its newest event is {age:.0f} s old (more than {self.max_age:.0f} s)"
            )
        nudged = limited = 0
        for n in delivery.nudges:
            ids = self.accounts.get((n.channel, n.key), ())
            unknown += not ids
            for account_id in ids:
                if not self.limiter.allow(account_id, time.monotonic()):
                    limited += 1
                    continue
                await self.deliver(account_id, n.streams)
                nudged += 1
        if limited and not nudged and not stored:
            return self._ignored(channel, "rate_limited", f"{limited} account(s) nudged too often lately")
        done = nudged + stored
        result = "ok" if done else ("unknown_account" if unknown else "ignored")
        self.counted(channel, result)
        return web.json_response({"status": result, "accounts": done})

    async def _store(self, delivery: Delivery) -> tuple[int, int]:
        """Ingest the chats a delivery carries into their accounts, and count what X bills for it:
        (accounts whose chats were stored, unknown keys of chats). Idempotent (a message is stored
        once, a billed resource counted once a UTC day), so neither replays, age nor the nudge
        limit apply; a database failure is a 503, and X delivers again. An event of a user no
        account has is neither stored nor counted (no account to count it for)."""
        stored = unknown = 0
        for key, carried in delivery.carried().items():
            ids = self.accounts.get(("x", key), ())
            unknown += bool(carried.messages) and not ids
            if self.ingest is None:
                continue
            for account_id in ids:
                try:
                    await self.ingest(account_id, carried.messages, carried.billable)
                except DATABASE_ERRORS as exc:
                    what = "the chat could not be stored" if carried.messages else "the event could not be counted"
                    raise WebhookError(503, "unavailable", f"{what} ({type(exc).__name__})") from None
                stored += bool(carried.messages)
        return stored, unknown


class HttpServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        store: Store,
        poller: Poller,
        metrics: Metrics,
        registry: CollectorRegistry,
        webhooks: Webhooks | None = None,
        engine: Engine | None = None,
        api_token: EnvSecret | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.store, self.poller, self.metrics, self.registry = store, poller, metrics, registry
        self.webhooks = webhooks
        self.engine, self.api_token = engine, api_token
        self.app = web.Application(client_max_size=WEBHOOK_BODY_MAX)
        self.app.router.add_get("/metrics", self.metrics_handler)
        self.app.router.add_get("/healthz", self.healthz)
        self.app.router.add_get("/readyz", self.readyz)
        self.app.router.add_get("/go/oldest", self.go_oldest)
        for meta in ("/webhooks/facebook", "/webhooks/meta"):  # one Meta app: Pages and Instagram accounts
            self.app.router.add_get(meta, self.facebook_subscribe)
            self.app.router.add_post(meta, self.facebook_delivery)
            self.app.router.add_route("*", meta, self.webhook_method)
        self.app.router.add_get("/webhooks/x", self.x_crc)
        self.app.router.add_post("/webhooks/x", self.x_delivery)
        self.app.router.add_post("/api/messages/{id}/label", self.label)
        self.app.router.add_route("*", "/webhooks/x", self.webhook_method)
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
            body = self.metrics.render(openmetrics=True, tail=_openmetrics_latest(self.registry))
            content_type = OPENMETRICS
        else:
            body = self.metrics.render(openmetrics=False, tail=text_latest(self.registry))
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
        """Alive; the pid tells a caller (a test, an operator) which process holds the port."""
        return web.json_response({"status": "ok", "pid": os.getpid()})

    async def readyz(self, request: web.Request) -> web.Response:
        problems = []
        try:
            pending = await asyncio.wait_for(pending_migrations(self.store.pool), timeout=2)
            if pending:
                problems.append(f"migrations pending: {', '.join(pending)}")
        except Exception as exc:  # noqa: BLE001 - any failure to reach the database means not ready
            problems.append(f"database unreachable: {type(exc).__name__}")
        if not self.poller.started.is_set():
            problems.append("pollers not started")
        if problems:
            return web.json_response({"status": "not ready", "problems": problems}, status=503)
        return web.json_response({"status": "ready"})

    # -- webhooks (monitor/sources/webhooks.py: what they say; docs/webhooks.md: how to set up) ---

    def _configured(self, channel: str, secret: Callable[[Webhooks], str | None], setting: str) -> tuple[Webhooks, str]:
        value = secret(self.webhooks) if self.webhooks is not None else None
        if self.webhooks is None or not value:
            raise WebhookError(
                404,
                "not_configured",
                f"{channel} webhooks are not configured: set {setting} "
                "in [server.webhooks] and its environment variable",
            )
        return self.webhooks, value

    async def facebook_subscribe(self, request: web.Request) -> web.Response:
        """Meta's check of the callback URL: echo `hub.challenge` when the verify token is ours."""

        async def check() -> web.Response:
            hooks, token = self._configured(
                "facebook", lambda h: h.facebook_verify_token.get(), "facebook_verify_token_env"
            )
            challenge = meta_challenge(dict(request.query), token)
            hooks.counted("facebook", "subscribed")
            log.info("facebook webhook subscription verified")
            return web.Response(text=challenge)

        return await self._guarded("facebook", check)

    async def facebook_delivery(self, request: web.Request) -> web.Response:
        async def deliver() -> web.Response:
            hooks, _ = self._configured(
                "facebook",
                lambda h: next(iter(h.app_secrets()), None),
                "facebook_app_secret_env (or the accounts' app_secret_env)",
            )
            body = await _body(request)
            verify_meta(body, request.headers.get("X-Hub-Signature-256"), hooks.app_secrets())
            delivery = read_meta(body)
            echoes = read_echoes(body) if hooks.record_apps is not None else []
            return await hooks.act(delivery.channel or "facebook", body, delivery, echoes)

        return await self._guarded("facebook", deliver)

    async def x_crc(self, request: web.Request) -> web.Response:
        """X's challenge-response check of the webhook URL."""

        async def check() -> web.Response:
            hooks, secret = self._configured("x", lambda h: h.x_consumer_secret.get(), "x_consumer_secret_env")
            answer = x_crc_response(secret, request.query.get("crc_token"))
            hooks.counted("x", "subscribed")
            return web.json_response(answer)

        return await self._guarded("x", check)

    async def x_delivery(self, request: web.Request) -> web.Response:
        async def deliver() -> web.Response:
            hooks, secret = self._configured("x", lambda h: h.x_consumer_secret.get(), "x_consumer_secret_env")
            body = await _body(request)
            verify_x(body, request.headers.get("x-twitter-webhooks-signature"), secret)
            return await hooks.act("x", body, read_x(body, datetime.fromtimestamp(hooks.clock(), UTC)))

        return await self._guarded("x", deliver)

    async def webhook_method(self, request: web.Request) -> web.Response:
        """Any other method on a webhook URL."""
        channel = "x" if request.path.rstrip("/").endswith("/x") else "facebook"

        async def refuse() -> web.Response:
            raise WebhookError(
                405, "bad_request", f"{request.method[:20]}: expected GET (URL check) or POST (a delivery)"
            )

        return await self._guarded(channel, refuse)

    async def _guarded(self, channel: str, handle: Callable[[], Awaitable[web.Response]]) -> web.Response:
        """Run a webhook handler: every refusal is a 4xx, counted and logged (at most every
        WEBHOOK_LOG_EVERY); whatever a sender does, the answer is never a 500."""
        try:
            return await handle()
        except WebhookError as exc:
            return self._refused(channel, exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - not foreseen (a bug of ours?): logged with its traceback
            error = WebhookError(400, "bad_request", f"the request could not be read ({type(exc).__name__})")
            error.__cause__ = exc
            return self._refused(channel, error)

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
            return web.json_response(
                {
                    "error": "the labels API is not configured: set token_env in [server.api] "
                    "and its environment variable"
                },
                status=404,
            )
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return web.json_response(
                {"error": "missing or wrong bearer token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="inbox-monitor"'},
            )
        try:
            body = await _json_body(request, API_BODY_MAX)
            label, note, by = _label_request(body)
            account = request.query.get("account") or _text_field(body, "account", 200)
            correction = await mark(
                self.engine, request.match_info["id"], label, by=by or "api", note=note, account=account
            )
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
    except RecursionError:  # arrays nested thousands deep fit in the size bound
        raise CorrectionError(400, "body: JSON nested too deep") from None
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


async def _body(request: web.Request) -> bytes:
    """A delivery's body: JSON, at most WEBHOOK_BODY_MAX bytes, received within WEBHOOK_READ_SECONDS."""
    if request.content_type != WEBHOOK_CONTENT_TYPE:
        raise WebhookError(
            415, "bad_request", f"Content-Type: expected {WEBHOOK_CONTENT_TYPE}, got {request.content_type[:60]!r}"
        )
    if request.content_length is not None and request.content_length > WEBHOOK_BODY_MAX:
        raise WebhookError(
            413, "bad_request", f"the body is {request.content_length} bytes, more than {WEBHOOK_BODY_MAX}"
        )
    try:
        return await asyncio.wait_for(request.read(), timeout=WEBHOOK_READ_SECONDS)
    except web.HTTPRequestEntityTooLarge:
        raise WebhookError(413, "bad_request", f"the body is more than {WEBHOOK_BODY_MAX} bytes") from None
    except TimeoutError:
        raise WebhookError(
            408, "bad_request", f"the body took more than {WEBHOOK_READ_SECONDS:.0f} s to arrive"
        ) from None
