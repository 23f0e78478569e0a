"""Shared fixtures: a real PostgreSQL (embedded, or TEST_DATABASE_URL), a fresh database per test."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from monitor.store.db import create_pool, migrate
from monitor.store.store import Store

ROOT = Path(__file__).resolve().parent.parent


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server for the whole run (its `postgres` database)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    import pgserver

    # A short path: the server's Unix socket lives in the data directory (108-byte limit).
    data = Path(tempfile.mkdtemp(prefix="imtest-"))
    server = pgserver.get_server(data, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def database_url(pg_server_url: str) -> Iterator[str]:
    """A new, empty database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_server_url, f"CREATE DATABASE {name}"))
    try:
        yield with_database(pg_server_url, name)
    finally:
        asyncio.run(_admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated store on a fresh database."""
    pool = await create_pool(database_url, min_size=1, max_size=5)
    try:
        await migrate(pool)
        yield Store(pool)
    finally:
        await pool.close()


@pytest.fixture
def db(database_url: str) -> Iterator[tuple[asyncio.AbstractEventLoop, Store]]:
    """A loop and a migrated store on a fresh database, for synchronous (hypothesis) tests."""
    loop = asyncio.new_event_loop()
    pool = loop.run_until_complete(create_pool(database_url, min_size=1, max_size=2))
    loop.run_until_complete(migrate(pool))
    try:
        yield loop, Store(pool)
    finally:
        loop.run_until_complete(pool.close())
        loop.close()
