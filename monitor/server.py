"""The HTTP server of `inbox-monitor run`: /metrics, /healthz (alive), /readyz (ready to serve)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest as text_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from monitor.store.db import pending_migrations

if TYPE_CHECKING:
    from monitor.metrics import Metrics
    from monitor.poller import Poller
    from monitor.store.store import Store

log = logging.getLogger(__name__)


class HttpServer:
    def __init__(self, host: str, port: int, *, store: Store, poller: Poller, metrics: Metrics,
                 registry: CollectorRegistry) -> None:
        self.host, self.port = host, port
        self.store, self.poller, self.metrics, self.registry = store, poller, metrics, registry
        self.app = web.Application()
        self.app.router.add_get("/metrics", self.metrics_handler)
        self.app.router.add_get("/healthz", self.healthz)
        self.app.router.add_get("/readyz", self.readyz)
        self.app.router.add_get("/go/oldest", self.go_oldest)
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
