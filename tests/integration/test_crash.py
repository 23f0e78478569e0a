"""SIGKILL in the middle of ingesting a batch: after a restart nothing is lost or duplicated."""

from __future__ import annotations

import asyncio
import functools
import signal
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import asyncpg

from monitor.config import load
from monitor.domain.model import ThreadInfo, ThreadMessage
from monitor.engine import AccountContext, thread_outcome
from monitor.sources.demo import FIRST_WINDOW, demo_messages
from tests.waiting import cli_env, eventually, free_port, start_cli

# One batch per process: the next poll is due in 30 s, long after the test stops the process (a
# longer interval only delays the first poll, spread over a tenth of it, up to 10 s).
CONFIG = """
[server]
listen = "127.0.0.1:{port}"
lease_time = "4s"

[policies.default]
public = {{ first = "30m", next = "1h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false

[[brands]]
name = "crash"

[[brands.accounts]]
name = "big"
channel = "facebook"
page_id = "7"
source = "demo"
poll_interval = "30s"
demo_per_minute = 600
demo_seed = 7
"""


def query(url: str, sql: str) -> list[asyncpg.Record]:
    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetch(sql)
        finally:
            await conn.close()

    return asyncio.run(go())


INGESTING = """
    SELECT 1 FROM pg_stat_activity
    WHERE application_name = 'inbox-monitor' AND backend_xid IS NOT NULL
      AND query ~ '(INTO|FROM|UPDATE) (messages|waits)' AND query !~ 'CREATE TABLE'
"""
"""The monitor has a transaction open that has already written rows."""


def wait_for_rows(url: str, sql: str, *, then: Callable[[], None], timeout: float, interval: float, what: str) -> None:
    """Until `sql` gives a row, then `then()` at once. On one connection: a connection a poll (an
    event loop, a handshake) cost the test 17 ms of CPU each, seconds in all, taken from the monitor
    it waits on."""

    async def go() -> None:
        conn = await asyncpg.connect(url)
        try:
            await eventually(lambda: conn.fetch(sql), timeout=timeout, interval=interval, what=what)
            then()
        finally:
            await conn.close()

    asyncio.run(go())


def test_sigkill_mid_batch_then_restart(tmp_path: Path, database_url: str) -> None:
    path = tmp_path / "crash.toml"
    path.write_text(CONFIG.format(port=free_port()))
    env = cli_env(INBOX_MONITOR_DATABASE_URL=database_url, INBOX_MONITOR_CONFIG=str(path))

    first = start_cli("run", env=env, log=tmp_path / "first.log")
    try:
        kill = functools.partial(first.send_signal, signal.SIGKILL)
        wait_for_rows(database_url, INGESTING, then=kill, timeout=60, interval=0.01, what="a batch being ingested")
        assert first.wait(timeout=10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    # The killed transaction left nothing behind: no message without its cursor.
    assert query(database_url, "SELECT count(*) AS n FROM messages")[0]["n"] == 0
    assert query(database_url, "SELECT count(*) AS n FROM poll_state WHERE cursor IS NOT NULL")[0]["n"] == 0

    second = start_cli("run", env=env, log=tmp_path / "second.log")
    try:
        wait_for_rows(
            database_url,
            "SELECT cursor FROM poll_state WHERE cursor IS NOT NULL",
            then=functools.partial(second.send_signal, signal.SIGTERM),
            timeout=120,
            interval=0.05,
            what="the first batch after the restart",
        )
        assert second.wait(timeout=30) == 0
    finally:
        if second.poll() is None:
            second.kill()

    # Exactly the demo traffic of the window the cursor covers, each message once.
    cursor = datetime.fromisoformat(query(database_url, "SELECT cursor FROM poll_state")[0]["cursor"])
    expected = demo_messages("big", "facebook", 7, cursor - FIRST_WINDOW, cursor, 600)
    stored = query(database_url, "SELECT external_id, thread_id FROM messages")
    assert len(expected) > 10_000
    assert sorted(r["external_id"] for r in stored) == sorted(m.external_id for m in expected)

    # The stored waits are those of the messages.
    config = load(path, environ={})
    account = AccountContext(1, "big", "crash", "facebook", config.policy("default"))
    threads = {r["thread_key"]: r for r in query(database_url, "SELECT * FROM threads")}
    got: dict[str, list[tuple[object, ...]]] = {}
    for r in query(
        database_url,
        """SELECT t.thread_key, w.seq, w.kind, w.opened_message, w.closed_message
                                     FROM waits w JOIN threads t ON t.id = w.thread_id ORDER BY 1, 2""",
    ):
        got.setdefault(r["thread_key"], []).append((r["seq"], r["kind"], r["opened_message"], r["closed_message"]))
    want: dict[str, list[tuple[object, ...]]] = {}
    by_thread: dict[str, list[ThreadMessage]] = {}
    for m in expected:
        by_thread.setdefault(m.thread_key, []).append(
            ThreadMessage(m.external_id, m.direction, m.created_at, m.text, m.author_id)
        )
    for key, messages in by_thread.items():
        t = threads[key]
        info = ThreadInfo(t["id"], t["account_id"], t["kind"], t["customer_id"], t["customer_handle"])
        outcome = thread_outcome(account, info, messages, cursor)
        if outcome.waits:
            want[key] = [(w.seq, w.kind, w.opened_message, w.closed_message) for w in outcome.waits]
    assert got == want
    assert sum(len(v) for v in want.values()) > 5_000
