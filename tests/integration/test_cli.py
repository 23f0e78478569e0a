"""The command line as users run it: check-config, run (embedded and with a URL), migrate, accounts."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request
from pathlib import Path

import asyncpg
import pytest

from tests.unit.test_config import BROKEN, EXPECTED
from tests.waiting import cli, cli_env, free_port, serving, start_cli, wait_for

DEMO_CONFIG = """
[server]
listen = "127.0.0.1:{port}"

[policies.default]
public = {{ first = "30m", next = "1h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false

[[brands]]
name = "demo"

[[brands.accounts]]
name = "demo-x"
channel = "x"
user_id = "1"
source = "demo"
poll_interval = "1s"
demo_per_minute = 30

[[brands.accounts]]
name = "demo-fb"
channel = "facebook"
page_id = "2"
source = "demo"
poll_interval = "1s"
demo_per_minute = 30
"""


def http_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def fetchval(url: str, sql: str) -> object:
    async def go() -> object:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return asyncio.run(go())


DB_POLL = 0.25
"""Seconds between two looks at the database while waiting: each is a new event loop and connection
(~17 ms of CPU), taken from the monitor the test waits on."""


def count(url: str, sql: str) -> int:
    """What a `SELECT count(*) ...` query gives."""
    n = fetchval(url, sql)
    assert isinstance(n, int), n
    return n


def test_check_config_lists_every_problem_and_run_refuses(tmp_path: Path, database_url: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    env = cli_env(FB_TOKEN="x", INBOX_MONITOR_DATABASE_URL=database_url)
    checked = cli("--config", str(path), "check-config", env=env)
    assert checked.returncode == 2
    for expected in EXPECTED:
        assert expected in checked.stderr
    ran = cli("--config", str(path), "run", "--duration", "5", env=env)
    assert ran.returncode == 2
    assert ran.stderr == checked.stderr
    assert fetchval(database_url, "SELECT to_regclass('messages') IS NULL")  # nothing started


def test_check_config_ok(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(DEMO_CONFIG.format(port=1))
    result = cli("--config", str(path), "check-config")
    assert result.returncode == 0, result.stderr
    assert "2 account(s)" in result.stdout


def test_version() -> None:
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("inbox-monitor, version ")


def test_run_with_a_url_polls_serves_health_and_stops_on_sigterm(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    path = tmp_path / "demo.toml"
    path.write_text(DEMO_CONFIG.format(port=port))
    env = cli_env(INBOX_MONITOR_DATABASE_URL=database_url, INBOX_MONITOR_CONFIG=str(path))
    proc = start_cli("run", env=env, log=tmp_path / "run.log")
    try:
        wait_for(serving(proc, port), what="/readyz 200 from the process started")
        assert http_json(f"http://127.0.0.1:{port}/healthz") == (200, {"status": "ok", "pid": proc.pid})
        wait_for(lambda: count(database_url, "SELECT count(*) FROM waits") > 0, interval=DB_POLL, what="waits stored")
        wait_for(
            lambda: count(database_url, "SELECT count(*) FROM poll_state WHERE status='ok'") == 2,
            interval=DB_POLL,
            what="both streams polled",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "run.log").read_text()
    assert "level=error" not in log, log
    listed = cli("accounts", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "demo-x" in listed.stdout and "demo-fb" in listed.stdout and " ok " in listed.stdout


def test_run_on_embedded_defaults(short_tmp: Path) -> None:
    """No database in the configuration and no database URL: pgserver in the user's data directory.
    (`--listen` a free port: a demo or another monitor may hold the default 9464.)"""
    config = short_tmp / "config.toml"
    config.write_text(DEMO_CONFIG.format(port=1))
    env = cli_env(XDG_DATA_HOME=str(short_tmp / "data"), INBOX_MONITOR_CONFIG=str(config))
    port = free_port()
    proc = start_cli("run", "--listen", f"127.0.0.1:{port}", env=env, log=short_tmp / "run.log")
    try:
        wait_for(serving(proc, port), timeout=60, what="/readyz on the embedded defaults")
        pgdata = short_tmp / "data" / "inbox-monitor" / "pgdata"
        url = f"postgresql://postgres@/inbox_monitor?host={pgdata}"
        wait_for(
            lambda: count(url, "SELECT count(*) FROM poll_state WHERE status = 'ok'") == 2,
            interval=DB_POLL,
            what="both accounts polled",
        )
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (short_tmp / "data" / "inbox-monitor" / "pgdata" / "PG_VERSION").exists()
    listed = cli("accounts", env=env)  # the data is kept across runs
    assert listed.returncode == 0, listed.stderr + (short_tmp / "run.log").read_text()
    assert "demo-x" in listed.stdout and "never polled" not in listed.stdout


def test_run_without_a_configuration_refuses_to_start(short_tmp: Path) -> None:
    """No invented accounts and no healthy-looking service: exit 2, saying how to give a
    configuration or see it work with the demo; a misspelt $INBOX_MONITOR_CONFIG is named."""
    env = cli_env(XDG_DATA_HOME=str(short_tmp / "data"))
    result = cli("run", "--listen", f"127.0.0.1:{free_port()}", "--duration", "5", env=env)
    assert result.returncode == 2, result.stderr
    assert "no configuration" in result.stderr
    for hint in ("--config FILE", "$INBOX_MONITOR_CONFIG", "inbox-monitor demo"):
        assert hint in result.stderr, result.stderr
    assert not (short_tmp / "data").exists()  # nothing started: no database, no data directory

    missing = short_tmp / "inbox-monitr.toml"
    result = cli("run", env={**env, "INBOX_MONITOR_CONFIG": str(missing)})
    assert result.returncode == 2
    assert f"{missing} (named by $INBOX_MONITOR_CONFIG)" in result.stderr
    assert "cannot read the file: No such file or directory" in result.stderr

    checked = cli("check-config", env=env)
    assert checked.returncode == 2 and "no configuration" in checked.stderr, checked.stderr


def test_commands_reading_stored_data_without_a_configuration_name_the_demo(short_tmp: Path) -> None:
    """Given no configuration, they read the last demo's; with no demo yet, exit 2 saying so."""
    env = cli_env(XDG_DATA_HOME=str(short_tmp / "data"))
    for command in (["accounts"], ["report", "--out", "-", "--format", "json"]):
        result = cli(*command, env=env)
        assert result.returncode == 2, result.stderr
        assert "no configuration" in result.stderr and "run `inbox-monitor demo` first" in result.stderr
    assert not (short_tmp / "data").exists()


def test_run_refuses_a_listen_address_that_is_not_host_port() -> None:
    env = cli_env(INBOX_MONITOR_DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing")  # never the user's data
    result = cli("run", "--listen", "9464", "--duration", "5", env=env)
    assert result.returncode == 2 and "'9464' is not HOST:PORT" in result.stderr, result.stderr


def test_migrate_is_idempotent(database_url: str) -> None:
    env = cli_env(INBOX_MONITOR_DATABASE_URL=database_url)
    first = cli("migrate", env=env)
    assert first.returncode == 0 and "applied: 0001_initial.sql" in first.stdout, first.stderr
    second = cli("migrate", env=env)
    assert second.returncode == 0 and "up to date" in second.stdout


@pytest.mark.parametrize("command", ["run", "migrate", "accounts"])
def test_unreachable_database_is_a_clear_error(command: str, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(DEMO_CONFIG.format(port=free_port()))
    env = cli_env(
        INBOX_MONITOR_DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing",
        INBOX_MONITOR_CONFIG=str(tmp_path / "config.toml"),
    )
    result = cli(command, env=env, timeout=60)
    assert result.returncode == 1
    assert "cannot connect to PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr


def test_logs_never_show_a_token() -> None:
    """The registered secrets are redacted from every log line."""
    import logging

    from monitor import logs

    logs.register_secret("s3cr3t-token-value")
    formatter = logs.LogfmtFormatter()
    record = logging.LogRecord("x", logging.ERROR, "", 0, "failed with %s", ("s3cr3t-token-value",), None)
    assert "s3cr3t" not in formatter.format(record)
    assert "s3cr3t" not in logs.JsonFormatter().format(record)
