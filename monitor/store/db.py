"""Connections to PostgreSQL (monitor/store/embedded.py: the embedded one): the pool, migrations."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeAlias

import asyncpg

log = logging.getLogger(__name__)

Connection: TypeAlias = "asyncpg.Connection | asyncpg.pool.PoolConnectionProxy"
"""A connection of its own or one acquired from a pool: both run the same queries."""

DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.TimeoutError)
"""What a PostgreSQL that went away (or never answered) raises."""

_MIGRATE_LOCK = 0x1B0C5_0001  # advisory lock key held while migrations run
_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> asyncpg.Pool:
    """A pool whose connections decode JSON and give timestamps as aware datetimes."""

    async def init(conn: asyncpg.Connection) -> None:
        import json

        from monitor.store.store import encode_json

        # Binary jsonb (a version byte, then the text) so COPY can carry it too.
        await conn.set_type_codec(
            "jsonb",
            schema="pg_catalog",
            format="binary",
            encoder=lambda value: b"\x01" + encode_json(value),
            decoder=lambda data: json.loads(data[1:]),  # exact integers (orjson's are 64-bit)
        )
        await conn.execute("SET TIME ZONE 'UTC'")

    kwargs.setdefault("server_settings", {"application_name": "inbox-monitor"})
    pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=init, **kwargs)
    assert pool is not None
    return pool


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The numbered SQL files shipped in monitor/store/migrations, in order."""
    found = []
    for entry in resources.files("monitor.store").joinpath("migrations").iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {[m.name for m in found]}")
    return found


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Apply pending migrations under an advisory lock; return the names applied."""
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATE_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for m in migrations():
                if m.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name
                    )
                log.info("migration applied name=%s", m.name)
                applied.append(m.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATE_LOCK)
    return applied


async def pending_migrations(pool: asyncpg.Pool) -> list[str]:
    """Names of the migrations not applied yet (all of them on an empty database)."""
    async with pool.acquire() as conn:
        exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        done = set()
        if exists:
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    return [m.name for m in migrations() if m.version not in done]
