"""The one place that wires things together: store, engine, sources, poller, HTTP server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp

from monitor.config import Config
from monitor.engine import AccountContext, Engine
from monitor.poller import Poller, PollTarget
from monitor.sources import build_sources
from monitor.store.db import EmbeddedPostgres, create_pool, migrate
from monitor.store.store import AccountRow, Store

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_store(config: Config) -> AsyncIterator[Store]:
    """The configured PostgreSQL, or the embedded one (started here, stopped on exit)."""
    url = config.database.url()
    embedded: EmbeddedPostgres | None = None
    if url is None:
        embedded = EmbeddedPostgres(config.database.embedded_dir())
        url = await asyncio.to_thread(embedded.start)
    try:
        pool = await create_pool(
            url, min_size=config.database.pool_min_size, max_size=config.database.pool_max_size
        )
        try:
            yield Store(pool)
        finally:
            await pool.close()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def prepare(config: Config, store: Store) -> tuple[Engine, dict[str, int]]:
    """Apply migrations, register the configured accounts; the engine and the accounts' ids."""
    await migrate(store.pool)
    accounts = config.accounts()
    ids = await store.sync_accounts(
        AccountRow(a.name, brand, a.channel, a.user_id if a.channel == "x" else a.page_id,
                   a.handle, a.policy)
        for brand, a in accounts
    )
    policies = {name: config.policy(name) for name in config.policies}
    contexts = {
        ids[a.name]: AccountContext(ids[a.name], a.name, brand, a.channel, policies[a.policy])
        for brand, a in accounts
    }
    return Engine(store, contexts), ids


async def run(config: Config, stop: asyncio.Event) -> None:
    """`inbox-monitor run`: poll every account until `stop` is set."""
    from monitor.server import HttpServer

    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(config))
        engine, ids = await prepare(config, store)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        targets = [
            PollTarget(ids[account.name], account.name, brand, account.channel, source,
                       account.poll_interval.total_seconds())
            for brand, account in config.accounts()
            for source in build_sources(account, session)
        ]
        poller = Poller(engine, targets)
        server = HttpServer(config.server.host, config.server.port, store=store, poller=poller)
        await server.start()
        stack.push_async_callback(server.stop)
        await poller.start()
        stack.push_async_callback(poller.stop)
        log.info("running", extra={"accounts": len(engine.accounts), "streams": len(targets),
                                  "listen": config.server.listen})
        await stop.wait()
        log.info("stopping")
