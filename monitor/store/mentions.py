"""The @mentions Instagram webhooks name, kept until the account's mentions stream has read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from monitor.domain.mentions import Mention


async def remember(pool: asyncpg.Pool, account_id: int, mentions: Sequence[Mention], *, at: datetime) -> None:
    """Keep the mentions a delivery received `at` named (each at its own `received_at` when it has
    one); one named again keeps its first receive time."""
    async with pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO instagram_mentions (account_id, kind, object_id, media_id, received_at)
            SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[])
            ON CONFLICT (account_id, kind, object_id) DO NOTHING
            """,
            account_id,
            [m.kind for m in mentions],
            [m.object_id for m in mentions],
            [m.media_id for m in mentions],
            [m.received_at or at for m in mentions],
        )


class MentionInbox:
    """One account's mentions, as its `instagram.mentions` stream reads them."""

    def __init__(self, pool: asyncpg.Pool, account_id: int) -> None:
        self.pool = pool
        self.account_id = account_id

    async def since(self, at: datetime, *, until: datetime, forget_before: datetime, limit: int) -> list[Mention]:
        """The mentions received from `at` to `until` (the oldest first, at most `limit`); those
        received before `forget_before` are deleted (the stream no longer reads them)."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM instagram_mentions WHERE account_id = $1 AND received_at < $2",
                self.account_id,
                forget_before,
            )
            rows = await conn.fetch(
                """
                SELECT kind, object_id, media_id, received_at FROM instagram_mentions
                WHERE account_id = $1 AND received_at >= $2 AND received_at <= $3
                ORDER BY received_at, kind, object_id LIMIT $4
                """,
                self.account_id,
                at,
                until,
                limit,
            )
        return [Mention(r["kind"], r["object_id"], r["media_id"], r["received_at"]) for r in rows]
