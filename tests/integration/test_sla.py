"""SLA policies applied to stored waits: business hours, priorities, breaches on time, recompute."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from prometheus_client import CollectorRegistry

from monitor.config import parse
from monitor.deadlines import DeadlineScheduler
from monitor.domain.model import Message
from monitor.engine import AccountContext, Engine
from monitor.metrics import Metrics
from monitor.runtime import Clock, utcnow
from monitor.store.store import AccountRow, Store
from tests.waiting import cli, cli_env

PARIS = ZoneInfo("Europe/Paris")
QUESTION = "Bonjour, ma commande n'est toujours pas arrivée, vous pouvez vérifier ?"

POLICY = {
    "public": {"first": "30m", "next": "1h"},
    "private": {"first": "1h", "next": "2h"},
    "calendar": {
        "timezone": "Europe/Paris",
        "holidays": {"country": "FR"},
        "hours": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    },
    "priority": [
        {"name": "urgent", "patterns": ["urgent", "rembours"], "customers": ["vip_anna"], "first": "5m", "next": "10m"}
    ],
}


async def engine_with(store: Store, policy: dict[str, object], clock: Clock = utcnow) -> Engine:
    config = parse(
        {
            "policies": {"default": policy},
            "brands": [{"name": "b", "accounts": [{"name": "acc", "channel": "x", "user_id": "1", "source": "demo"}]}],
        },
        environ={},
    )
    ids = await store.sync_accounts([AccountRow("acc", "b", "x", "1", None, "default")])
    ctx = AccountContext(ids["acc"], "acc", "b", "x", config.policy("default"))
    return Engine(store, {ctx.id: ctx}, clock=clock)


def q(ext: str, at: datetime, text: str = QUESTION, customer: str = "c1", handle: str = "someone") -> Message:
    return Message(ext, f"conv-{ext}:{customer}", "public", "inbound", at, text, customer, handle)


async def stored(store: Store, ext: str) -> asyncpg.Record:
    async with store.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM waits WHERE opened_message = $1", ext)
    assert row is not None
    return row


async def test_friday_evening_question_is_due_monday_or_tuesday_after_a_holiday(store: Store) -> None:
    engine = await engine_with(store, POLICY, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    account = next(iter(engine.accounts))
    friday = datetime(2026, 3, 27, 17, 45, tzinfo=PARIS)  # Monday 30 March is a working day
    before_easter = datetime(2026, 4, 3, 17, 45, tzinfo=PARIS)  # Monday 6 April is Easter Monday
    reply = Message(
        "r1",
        "conv-f1:c1",
        "public",
        "outbound",
        datetime(2026, 3, 30, 9, 10, tzinfo=PARIS),
        "Bonjour, nous regardons.",
        "brand",
    )
    await engine.ingest(account, "s", [q("f1", friday), reply, q("f2", before_easter)], None)
    w1, w2 = await stored(store, "f1"), await stored(store, "f2")
    assert w1["deadline"] == datetime(2026, 3, 30, 9, 15, tzinfo=PARIS)
    assert w1["at_risk_at"] == datetime(2026, 3, 30, 9, 9, tzinfo=PARIS)  # 80 % of 30 min
    assert w1["wall_seconds"] == (60 * 60 * 24 * 2 + 15 * 60 + 60 * 60 * 15 + 10 * 60) - 3600  # DST on the 29th
    assert w1["business_seconds"] == 15 * 60 + 10 * 60
    assert w1["breached_at"] is None
    assert w2["deadline"] == datetime(2026, 4, 7, 9, 15, tzinfo=PARIS)


async def test_priority_rules_and_vip_customers_get_their_own_targets(store: Store) -> None:
    engine = await engine_with(store, {**POLICY, "business_hours_only": False})
    account = next(iter(engine.accounts))
    t = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)
    await engine.ingest(
        account,
        "s",
        [
            q("p1", t, "URGENT: my card was charged twice, can you help?"),
            q("p2", t, "Je veux être remboursé, la commande est arrivée cassée"),
            q("p3", t, "Do you ship to Canada?", customer="c9", handle="vip_anna"),
            q("p4", t),
        ],
        None,
    )
    assert [(await stored(store, e))["target_seconds"] for e in ("p1", "p2", "p3", "p4")] == [300, 300, 300, 1800]


async def test_breach_is_stored_and_counted_within_two_seconds_of_the_deadline(store: Store) -> None:
    policy = {
        "public": {"first": "3s", "next": "3s"},
        "private": {"first": "3s", "next": "3s"},
        "business_hours_only": False,
    }
    engine = await engine_with(store, policy)
    account = next(iter(engine.accounts))
    registry = CollectorRegistry()
    metrics = Metrics(engine.accounts, registry=registry)
    counted_at: list[datetime] = []
    counted = asyncio.Event()

    def on_breach(rows: list[asyncpg.Record]) -> None:
        metrics.breaches(rows)
        counted_at.append(utcnow())
        counted.set()

    scheduler = DeadlineScheduler(store, [account], on_breach=on_breach)
    task = asyncio.create_task(scheduler.run())
    try:
        asked = utcnow()
        result = await engine.ingest(account, "s", [q("b1", asked)], None)
        scheduler.poll_done(None, "ok", 0.0, None, result)  # type: ignore[arg-type]
        labels = {"brand": "b", "channel": "x", "account": "acc", "kind": "first"}
        await asyncio.wait_for(counted.wait(), timeout=10)
        row = await stored(store, "b1")
        deadline = row["deadline"]
        assert deadline == asked + timedelta(seconds=3)
        assert row["breached_at"] == deadline
        assert timedelta(0) <= row["breach_counted_at"] - deadline < timedelta(seconds=2)
        assert timedelta(0) <= counted_at[0] - deadline < timedelta(seconds=2)
        assert row["at_risk_reached_at"] == asked + timedelta(seconds=2.4)
        assert registry.get_sample_value("social_inbox_waits_breached_total", labels) == 1
        # Counted once: another pass over the schedule does not count it again.
        await scheduler.step()
        assert registry.get_sample_value("social_inbox_waits_breached_total", labels) == 1
    finally:
        task.cancel()


CONFIG = """
[policies.default]
public = {{ first = "{first}", next = "1h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false

[[brands]]
name = "b"

[[brands.accounts]]
name = "acc"
channel = "x"
user_id = "1"
source = "demo"
"""


async def test_recompute_applies_a_changed_policy_to_the_stored_history(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    engine = await engine_with(store, {**POLICY, "business_hours_only": False})
    account = next(iter(engine.accounts))
    asked = datetime(2026, 2, 2, 10, 0, tzinfo=UTC)
    reply = Message("r", "conv-old:c1", "public", "outbound", asked + timedelta(minutes=20), "Bonjour !", "brand")
    await engine.ingest(account, "s", [q("old", asked), reply], None)
    assert (await stored(store, "old"))["target_seconds"] == 1800

    path = tmp_path / "changed.toml"
    path.write_text(CONFIG.format(first="10m"))
    result = cli(
        "--config",
        str(path),
        "recompute",
        "--since",
        "2026-02-01",
        env=cli_env(INBOX_MONITOR_DATABASE_URL=database_url),
    )
    assert result.returncode == 0, result.stderr
    assert "recomputed 1 thread(s)" in result.stdout
    row = await stored(store, "old")
    assert row["target_seconds"] == 600
    assert row["deadline"] == asked + timedelta(minutes=10)
    assert row["breached_at"] == asked + timedelta(minutes=10)  # answered after 20 min: now a breach


async def test_recompute_since_takes_an_age_as_the_runbook_writes_it(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    engine = await engine_with(store, {**POLICY, "business_hours_only": False})
    account = next(iter(engine.accounts))
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=3), now - timedelta(days=1)
    await engine.ingest(account, "s", [q("three-days", old, customer="c1"), q("one-day", recent, customer="c2")], None)
    path = tmp_path / "changed.toml"
    path.write_text(CONFIG.format(first="10m"))
    env = cli_env(INBOX_MONITOR_DATABASE_URL=database_url)

    result = cli("--config", str(path), "recompute", "--since", "2d", env=env)
    assert result.returncode == 0, result.stderr
    assert "recomputed 1 thread(s)" in result.stdout  # the one-day-old thread only
    assert (await stored(store, "one-day"))["target_seconds"] == 600
    assert (await stored(store, "three-days"))["target_seconds"] == 1800

    result = cli("--config", str(path), "recompute", "--since", "yesterday", env=env)
    assert result.returncode == 2
    assert "'yesterday' is neither a date (2026-01-01, 2026-01-01T08:00:00) nor an age (2d, 12h)" in result.stderr
