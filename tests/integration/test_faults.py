"""PostgreSQL restarted mid-run, with API resets, 5xx and truncated bodies: nothing fetched is lost,
nothing is stored twice, and the waits are the scripted ones."""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
import time
import urllib.request
from pathlib import Path

import asyncpg
import pytest

from monitor.simulator.x_api import MENTIONS, TWEETS, FakeXApi
from tests.waiting import cli_env, eventually, free_port, start_cli

ACCOUNTS = 4
QUESTIONS = 30
SPACING = 2  # seconds between two questions of an account
REPLY_AFTER = 5


def config(port: int, api: str) -> str:
    head = f"""
[server]
listen = "127.0.0.1:{port}"
snapshot_interval = "1s"
lease_time = "6s"

[policies.default]
public = {{ first = "30m", next = "1h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false

[[brands]]
name = "faults"
"""
    return head + "".join(f"""
[[brands.accounts]]
name = "acc-{i}"
channel = "x"
user_id = "{100 + i}"
handle = "brand{i}"
bearer_token_env = "X_TOKEN"
api_base_url = "{api}"
poll_interval = "1s"
""" for i in range(ACCOUNTS))


def readyz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


@pytest.mark.slow
async def test_postgresql_restart_and_api_faults_lose_nothing(tmp_path: Path) -> None:
    import pgserver

    data = Path(tempfile.mkdtemp(prefix="imfault-"))
    server = pgserver.get_server(data, cleanup_mode="stop")
    url = server.get_uri()
    api = FakeXApi(limits={MENTIONS: 10**9, TWEETS: 10**9}, seed=5,
                   fault_rates={"connection_reset": 0.03, "http_500": 0.03, "truncated_json": 0.03})
    base = await api.start()
    api.add_bearer_token("tok")
    start = float(int(time.time()))
    expected: dict[tuple[int, int], tuple[float, float | None]] = {}
    for a in range(ACCOUNTS):
        brand = str(100 + a)
        api.add_user(brand, f"brand{a}")
        for q in range(QUESTIONS):
            customer = str(1000 + a * 100 + q)
            api.add_user(customer, f"customer{customer}")
            asked = start - 10 + q * SPACING  # most questions appear while the monitor runs
            tid = api.add_tweet(customer, f"@brand{a} my order {q} never arrived, can you check?", asked,
                                mentions=[brand])
            replied = None
            if q % 3 != 2:  # a third never answered
                replied = asked + REPLY_AFTER
                api.add_tweet(brand, f"@customer{customer} sorry, we are on it", replied, reply_to=tid)
            expected[(a, q)] = (asked, replied)
    total_messages = sum(2 if r else 1 for _, r in expected.values())
    port = free_port()
    (tmp_path / "faults.toml").write_text(config(port, base))
    env = cli_env(INBOX_MONITOR_DATABASE_URL=url, X_TOKEN="tok", INBOX_MONITOR_CONFIG=str(tmp_path / "faults.toml"))
    proc = start_cli("run", env=env, log=tmp_path / "run.log")

    async def stored() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM messages"))
        finally:
            await conn.close()

    try:
        await eventually(stored, timeout=60, what="the first messages stored")
        # PostgreSQL goes away while questions keep coming.
        await asyncio.to_thread(server.cleanup)
        down = time.time()
        await eventually(lambda: readyz(port) == 503, timeout=20, what="/readyz failing while PostgreSQL is down")
        await eventually(lambda: time.time() > down + 8, timeout=20, interval=0.5, what="8 s of outage")
        assert proc.poll() is None  # the process rides it out
        server = await asyncio.to_thread(pgserver.get_server, data, cleanup_mode="stop")
        await eventually(lambda: readyz(port) == 200, timeout=60, what="/readyz after PostgreSQL came back")
        last = start - 10 + (QUESTIONS - 1) * SPACING + REPLY_AFTER
        await eventually(lambda: time.time() > last, timeout=120, interval=0.5, what="the end of the script")
        await eventually(lambda: stored(), timeout=60, what="stored messages")
        count = 0

        async def all_stored() -> bool:
            nonlocal count
            count = await stored()
            return count >= total_messages

        await eventually(all_stored, timeout=90, interval=0.5, what=f"all {total_messages} messages stored")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            await api.stop()

    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM messages") == total_messages  # none twice
        rows = await conn.fetch("""
            SELECT a.name, w.kind, w.opened_at, w.closed_at, w.questions FROM waits w
            JOIN accounts a ON a.id = w.account_id ORDER BY a.name, w.opened_at""")
    finally:
        await conn.close()
        await asyncio.to_thread(server.cleanup)
        shutil.rmtree(data, ignore_errors=True)
    got = sorted((r["name"], r["kind"], r["opened_at"].timestamp(), r["closed_at"].timestamp()
                  if r["closed_at"] else None, r["questions"]) for r in rows)
    want = sorted((f"acc-{a}", "first", asked, replied, 1) for (a, _), (asked, replied) in expected.items())
    assert got == want
    log = (tmp_path / "run.log").read_text()
    assert log.count("polls failing") <= ACCOUNTS * 2 * 4, "failures are logged on change, not per retry"
