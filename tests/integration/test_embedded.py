"""The embedded PostgreSQL (pgserver) as users meet it: run as root in a private home without
XDG_RUNTIME_DIR, it leaves the home's modes alone and warns of nothing; one process at a time
uses a data directory; killed with SIGKILL, the next start leaves one server, and a stop none."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
from pathlib import Path

import asyncpg

from tests.conftest import postmasters
from tests.integration.test_cli import DEMO_CONFIG
from tests.waiting import cli, cli_env, free_port, serving, start_cli, wait_for

CONFIG = (
    DEMO_CONFIG
    + """
[database]
data_dir = "{data_dir}"
"""
)


def modes(paths: list[Path]) -> dict[str, str]:
    return {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in paths}


def checkpoint(data_dir: Path) -> None:
    """A checkpoint on the embedded server running in `data_dir`: PostgreSQL writes its control
    file there by its absolute path (as every 5 minutes of activity, and at shutdown)."""

    async def go() -> None:
        conn = await asyncpg.connect(f"postgresql://postgres@/inbox_monitor?host={data_dir}")
        try:
            await conn.execute("CHECKPOINT")
        finally:
            await conn.close()

    asyncio.run(go())


def clean_shutdowns(data_dir: Path) -> None:
    """The server's log shows no panic and no start after an unclean stop (a crash recovery)."""
    log = (data_dir / "log").read_text()
    assert "PANIC" not in log and "not properly shut down" not in log, log[-3000:]


def test_migrate_as_root_leaves_the_modes_of_the_data_directorys_parents_alone(short_tmp: Path) -> None:
    home = short_tmp / "home"
    share = home / ".local" / "share"
    share.mkdir(parents=True)
    for d in (home, home / ".local", share):
        d.chmod(0o700)
    parents = [short_tmp, *short_tmp.parents, home, home / ".local", share]
    before = modes(parents)
    env = {k: v for k, v in cli_env(HOME=str(home)).items() if not k.startswith("XDG_")}  # no XDG_RUNTIME_DIR
    for _ in range(2):  # a new data directory (initdb), then an existing one
        done = cli("migrate", env=env)
        assert done.returncode == 0, done.stderr
        assert "warning" not in done.stderr.lower(), done.stderr  # pgserver's platformdirs warned here
        assert modes(parents) == before, (os.geteuid(), done.stderr[-2000:])
    assert (share / "inbox-monitor" / "pgdata" / "PG_VERSION").exists()
    clean_shutdowns(share / "inbox-monitor" / "pgdata")  # run as root, with a private home
    assert not postmasters(short_tmp)
    assert not list(share.glob(".*.modes.json"))  # the record of the modes is gone once they are back


def test_after_a_sigkill_the_next_run_leaves_one_server_and_stopping_leaves_none(short_tmp: Path) -> None:
    data_dir = short_tmp / "pgdata"
    port = free_port()
    (short_tmp / "config.toml").write_text(CONFIG.format(port=port, data_dir=data_dir))
    env = cli_env(INBOX_MONITOR_CONFIG=str(short_tmp / "config.toml"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        first = start_cli("run", env=env, log=short_tmp / "first.log")
        procs.append(first)
        wait_for(serving(first, port), timeout=60, what="the first run ready")
        assert len(postmasters(data_dir)) == 1
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        assert len(postmasters(data_dir)) == 1  # pgserver's server outlives its killed user

        second = start_cli("run", env=env, log=short_tmp / "second.log")
        procs.append(second)
        wait_for(serving(second, port), timeout=60, what="the second run ready")
        assert len(postmasters(data_dir)) == 1
        checkpoint(data_dir)  # run as root in a private directory, the server still reaches its files
        assert len(postmasters(data_dir)) == 1 and serving(second, port)()
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
        assert postmasters(data_dir) == [], (short_tmp / "second.log").read_text()[-3000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert "forgetting processes that died" in (short_tmp / "second.log").read_text()


def test_a_second_process_on_the_same_data_directory_is_refused_naming_the_first(short_tmp: Path) -> None:
    data_dir = short_tmp / "pgdata"
    port = free_port()
    (short_tmp / "config.toml").write_text(CONFIG.format(port=port, data_dir=data_dir))
    env = cli_env(INBOX_MONITOR_CONFIG=str(short_tmp / "config.toml"))
    first = start_cli("run", env=env, log=short_tmp / "first.log")
    try:
        wait_for(serving(first, port), timeout=60, what="the first run ready")
        second = cli("run", "--listen", f"127.0.0.1:{free_port()}", "--duration", "30", env=env)
        report = cli("accounts", env=env)
        for refused in (second, report):
            assert refused.returncode == 1, refused.stderr
            assert f"{data_dir} is in use by process {first.pid} (" in refused.stderr, refused.stderr
            assert " -m monitor run)" in refused.stderr and "Traceback" not in refused.stderr
        assert len(postmasters(data_dir)) == 1
        assert serving(first, port)()  # the first one goes on
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    listed = cli("accounts", env=env)  # once it has stopped
    assert listed.returncode == 0, listed.stderr
