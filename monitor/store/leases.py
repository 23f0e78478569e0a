"""SQL of the account leases that let several processes share one PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg


class LeaseStore:
    """Leases on accounts, with expiry in the database's clock."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def heartbeat(self, holder: str, ttl: float) -> int:
        """Say this process is alive; forget long-dead ones; return how many processes are alive."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                """
                INSERT INTO monitor_processes (holder, heartbeat_at) VALUES ($1, now())
                ON CONFLICT (holder) DO UPDATE SET heartbeat_at = now()
                """,
                holder,
            )
            await conn.execute(
                "DELETE FROM monitor_processes WHERE heartbeat_at < now() - $1 * interval '3 seconds'", ttl
            )
            alive: int = await conn.fetchval(
                "SELECT count(*) FROM monitor_processes WHERE heartbeat_at >= now() - $1 * interval '1 second'", ttl
            )
        return alive

    async def renew(self, holder: str, account_ids: Sequence[int], ttl: float) -> set[int]:
        """Extend the leases still held; return the accounts still held.

        A lease past its end that no other process has taken is still ours: taking it would have
        made the taker its holder. Refusing it would stop the polls under way, take the lease
        straight back and start them again: on a slow machine, a first poll longer than the lease
        would never end."""
        if not account_ids:
            return set()
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """
                UPDATE account_leases SET expires_at = now() + $3 * interval '1 second'
                WHERE holder = $1 AND account_id = ANY($2::integer[])
                RETURNING account_id
                """,
                holder,
                list(account_ids),
                ttl,
            )
        return {r["account_id"] for r in rows}

    async def acquire(self, holder: str, candidates: Sequence[int], limit: int, ttl: float) -> set[int]:
        """Take up to `limit` of the candidates whose lease is free or expired."""
        if limit <= 0 or not candidates:
            return set()
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """
                WITH free AS (
                    SELECT a.id FROM accounts a LEFT JOIN account_leases l ON l.account_id = a.id
                    WHERE a.id = ANY($2::integer[]) AND (l.account_id IS NULL OR l.expires_at <= now())
                    ORDER BY a.id LIMIT $3
                    FOR UPDATE OF a SKIP LOCKED
                )
                INSERT INTO account_leases (account_id, holder, acquired_at, expires_at)
                SELECT id, $1, now(), now() + $4 * interval '1 second' FROM free
                ON CONFLICT (account_id) DO UPDATE SET holder = EXCLUDED.holder,
                    acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
                WHERE account_leases.expires_at <= now()
                RETURNING account_id
                """,
                holder,
                list(candidates),
                limit,
                ttl,
            )
        return {r["account_id"] for r in rows}

    async def release(self, holder: str, account_ids: Sequence[int]) -> None:
        if not account_ids:
            return
        async with self.pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM account_leases WHERE holder = $1 AND account_id = ANY($2::integer[])",
                holder,
                list(account_ids),
            )

    async def leave(self, holder: str) -> None:
        """A clean exit: give every lease back at once."""
        async with self.pool.acquire() as conn:
            await conn.execute("DELETE FROM account_leases WHERE holder = $1", holder)
            await conn.execute("DELETE FROM monitor_processes WHERE holder = $1", holder)
