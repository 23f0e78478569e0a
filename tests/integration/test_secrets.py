"""No token in stored error texts nor in what `inbox-monitor accounts` prints, even when an API's
error body quotes it back."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import asyncpg

from monitor.simulator.x_api import MENTIONS, FakeXApi
from tests.waiting import cli, cli_env, eventually, free_port, start_cli

TOKEN = "AAAA-bearer-0123456789-secret"

CONFIG = """
[server]
listen = "127.0.0.1:{port}"

[policies.default]
public = {{ first = "30m", next = "1h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false

[[brands]]
name = "shop"

[[brands.accounts]]
name = "shop-1"
channel = "x"
user_id = "1001"
handle = "shop"
bearer_token_env = "X_TOKEN"
api_base_url = "{api}"
poll_interval = "30s"
"""


async def last_error(url: str) -> str | None:
    conn = await asyncpg.connect(url)
    try:
        value: str | None = await conn.fetchval("SELECT last_error FROM poll_state WHERE stream = 'x.mentions'")
        return value
    finally:
        await conn.close()


async def test_an_error_body_echoing_the_token_is_stored_and_printed_redacted(
    tmp_path: Path, database_url: str
) -> None:
    api = FakeXApi()
    base = await api.start()
    api.add_user("1001", "shop")
    api.add_bearer_token(TOKEN)
    api.inject("echo_credential", endpoint=MENTIONS, times=1000)  # every poll of the mentions fails so
    (tmp_path / "config.toml").write_text(CONFIG.format(port=free_port(), api=base))
    env = cli_env(
        INBOX_MONITOR_DATABASE_URL=database_url, X_TOKEN=TOKEN, INBOX_MONITOR_CONFIG=str(tmp_path / "config.toml")
    )
    proc: subprocess.Popen[bytes] = start_cli("run", env=env, log=tmp_path / "run.log")
    try:
        stored = await eventually(lambda: last_error(database_url), timeout=60, what="the failed poll stored")
        assert api.requests_to(MENTIONS)[0].status == 400  # the API did quote the token back
        assert TOKEN not in str(stored) and "[REDACTED]" in str(stored), stored
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await api.stop()
    assert TOKEN not in (tmp_path / "run.log").read_text()

    listed = cli("accounts", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "shop-1/x.mentions: BadPayload" in listed.stdout and TOKEN not in listed.stdout, listed.stdout

    # A row stored in clear (by an older version) is redacted when printed.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE poll_state SET last_error = $1 WHERE stream = 'x.mentions'", f"HTTPException: 400 bad token {TOKEN}"
        )
    finally:
        await conn.close()
    listed = cli("accounts", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "bad token [REDACTED]" in listed.stdout and TOKEN not in listed.stdout, listed.stdout
