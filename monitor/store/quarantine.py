"""SQL reading the items set aside (written by `Transaction.quarantine`, in the transaction of their page)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

_COLUMNS = """q.id, q.account_id, a.name AS account, q.channel, q.stream, q.kind, q.external_id, q.reason,
              q.detail, q.raw, q.context, q.received_at, q.retried_at, q.resolved_at"""


@dataclass(frozen=True, slots=True)
class QuarantinedItem:
    """One row of `quarantine`."""

    id: int
    account_id: int
    account: str
    channel: str
    stream: str
    kind: str
    external_id: str | None
    reason: str
    detail: str
    raw: Any
    context: dict[str, Any]
    received_at: datetime
    retried_at: datetime | None
    resolved_at: datetime | None


def _item(r: asyncpg.Record) -> QuarantinedItem:
    return QuarantinedItem(**dict(r))


class QuarantineStore:
    """The quarantine table, for `inbox-monitor quarantine` and its retry."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def recent(
        self, account_ids: Sequence[int] | None, *, limit: int, resolved: bool = False
    ) -> list[QuarantinedItem]:
        """The newest items set aside (of these accounts; all when None), unresolved ones only
        unless `resolved`."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"""
                SELECT {_COLUMNS} FROM quarantine q JOIN accounts a ON a.id = q.account_id
                WHERE ($1::integer[] IS NULL OR q.account_id = ANY($1::integer[]))
                  AND ($2::boolean OR q.resolved_at IS NULL)
                ORDER BY q.received_at DESC, q.id DESC LIMIT $3
                """,
                None if account_ids is None else list(account_ids),
                resolved,
                limit,
            )
        return [_item(r) for r in rows]

    async def last_id(self) -> int:
        """The newest row's id (0 when there is none)."""
        async with self.pool.acquire() as conn:
            value: int = await conn.fetchval("SELECT coalesce(max(id), 0) FROM quarantine")
        return value

    async def unresolved(
        self, account_id: int, *, after_id: int = 0, up_to: int | None = None, limit: int = 500
    ) -> list[QuarantinedItem]:
        """The account's items still set aside, oldest first, with ids in (`after_id`, `up_to`]."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"""
                SELECT {_COLUMNS} FROM quarantine q JOIN accounts a ON a.id = q.account_id
                WHERE q.account_id = $1 AND q.resolved_at IS NULL AND q.id > $2
                  AND ($3::bigint IS NULL OR q.id <= $3)
                ORDER BY q.id LIMIT $4
                """,
                account_id,
                after_id,
                up_to,
                limit,
            )
        return [_item(r) for r in rows]
