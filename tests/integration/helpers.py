"""Helpers for tests that run the engine against a real PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from monitor.config import Config, parse
from monitor.domain.model import Message
from monitor.engine import AccountContext, Engine
from monitor.store.store import AccountRow, Store

FIXED_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

SHOP_TOML = """
[policies.default]
public = {{ first = "30m", next = "1h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false

[[brands]]
name = "shop"
{accounts}
"""
"""The default policy and one brand "shop" holding `{accounts}`, as TOML: the tail of the
configuration files that tests write for `inbox-monitor run` (a `str.format` template)."""

POLICY_TOML = {
    "public": {"first": "30m", "next": "1h"},
    "private": {"first": "1h", "next": "2h"},
    "business_hours_only": False,
}


def config_with(accounts: Iterable[dict[str, object]], **policy: object) -> Config:
    """A valid configuration with these demo-sourced accounts in one brand."""
    return parse(
        {
            "policies": {"default": {**POLICY_TOML, **policy}},
            "brands": [{"name": "brand", "accounts": [{"source": "demo", **a} for a in accounts]}],
        },
        environ={},
    )


async def engine_for(store: Store, names: Iterable[str], *, now: datetime = FIXED_NOW, channel: str = "x") -> Engine:
    """Register X accounts with the default policy and return an engine with a fixed clock."""
    config = config_with([{"name": n, "channel": "x", "user_id": "1"} for n in names])
    ids = await store.sync_accounts(AccountRow(n, "brand", channel, "1", None, "default") for n in names)
    policy = config.policy("default")
    contexts = {i: AccountContext(i, n, "brand", channel, policy) for n, i in ids.items()}  # type: ignore[arg-type]
    return Engine(store, contexts, clock=lambda: now)


WAIT_FIELDS = (
    "seq",
    "kind",
    "opened_at",
    "opened_message",
    "questions",
    "closed_at",
    "closed_message",
    "target_seconds",
    "deadline",
    "wall_seconds",
    "breached_at",
)


async def waits_of(store: Store, account: str) -> dict[str, list[tuple[object, ...]]]:
    """Stored waits of an account by thread key, in a comparable form."""
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT t.thread_key, {", ".join("w." + f for f in WAIT_FIELDS)}
                FROM waits w JOIN threads t ON t.id = w.thread_id JOIN accounts a ON a.id = w.account_id
                WHERE a.name = $1 ORDER BY t.thread_key, w.seq""",
            account,
        )
    out: dict[str, list[tuple[object, ...]]] = {}
    for r in rows:
        out.setdefault(r["thread_key"], []).append(tuple(r[f] for f in WAIT_FIELDS))
    return out


def shuffled_batches(messages: Sequence[Message], rng: random.Random, batches: int) -> list[list[Message]]:
    """The messages as a poller may bring them: shuffled, some twice, in `batches` batches, then
    half of them again (a batch re-read after a restart)."""
    noisy = [*messages, *rng.sample(list(messages), k=rng.randint(0, len(messages)))]  # duplicates
    rng.shuffle(noisy)
    cuts = sorted(rng.randint(0, len(noisy)) for _ in range(batches - 1))
    chunks = [noisy[a:b] for a, b in zip([0, *cuts], [*cuts, len(noisy)], strict=True)]
    return [*chunks, rng.sample(list(messages), k=len(messages) // 2)]
