"""The store as every command opens it: the configured PostgreSQL (or the embedded one), its schema
brought up to date and the configured accounts registered. Light on purpose: `inbox-monitor report`
needs this and none of the running monitor's modules (`monitor.app`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from monitor.config import Config, DatabaseConfig
from monitor.store.db import create_pool, migrate
from monitor.store.embedded import EmbeddedPostgres
from monitor.store.peers import PeerRow, PeerStore
from monitor.store.store import AccountRow, Store


@asynccontextmanager
async def open_store(config: Config | DatabaseConfig) -> AsyncIterator[Store]:
    """The configured PostgreSQL, or the embedded one (started here, stopped on exit)."""
    database = config if isinstance(config, DatabaseConfig) else config.database
    url = database.url()
    embedded: EmbeddedPostgres | None = None
    if url is None:
        embedded = EmbeddedPostgres(database.embedded_dir())
        url = await asyncio.to_thread(embedded.start)
    try:
        pool = await create_pool(url, min_size=database.pool_min_size, max_size=database.pool_max_size)
        try:
            yield Store(pool)
        finally:
            await pool.close()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


@dataclass(frozen=True)
class Registered:
    """The ids of the configured accounts and of the brands' peers, by name."""

    accounts: dict[str, int]
    peers: dict[str, int]


async def register(config: Config, store: Store) -> Registered:
    """Apply migrations, register the configured accounts and peers."""
    await migrate(store.pool)
    accounts = await store.sync_accounts(
        AccountRow(a.name, brand, a.channel, a.external_id, a.handle, a.policy) for brand, a in config.accounts()
    )
    peers = await PeerStore(store.pool).sync_peers(
        PeerRow(p.account_name, p.brand, p.handle, p.user_id, p.policy) for p in config.peers()
    )
    return Registered(accounts, peers)
