"""What the benchmarks share: a PostgreSQL to run on, and how they print their figures."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def database_url() -> Iterator[str]:
    """$BENCH_DATABASE_URL, or a throw-away embedded PostgreSQL."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        yield url
        return
    import pgserver

    server = pgserver.get_server(tempfile.mkdtemp(prefix="imbench-"), cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def report(figures: list[tuple[str, str]]) -> list[tuple[str, str]]:
    for name, value in figures:
        print(f"{name}: {value}")
    return figures


def x_account(name: str, user_id: str, api: str, poll: float, policy: str = "default", *, stream: bool = False) -> str:
    """A `[[brands.accounts]]` table of an X account on the fake X API (token in $X_TOKEN), with
    `stream`: on the X Activity API's persistent stream."""
    activity = '[brands.accounts.x_activity]\nmode = "stream"\n' if stream else ""
    return f"""
[[brands.accounts]]
name = "{name}"
channel = "x"
user_id = "{user_id}"
bearer_token_env = "X_TOKEN"
api_base_url = "{api}"
poll_interval = "{poll:g}s"
policy = "{policy}"
{activity}"""


async def start_monitor(config: Path, database_url: str, log: Path, **environ: str) -> asyncio.subprocess.Process:
    """`inbox-monitor run` with this config and database, its output in `log`, token "tok"
    (and these more environment variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_MONITOR_")}
    env.update(INBOX_MONITOR_DATABASE_URL=database_url, INBOX_MONITOR_CONFIG=str(config), X_TOKEN="tok", **environ)
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor",
            "--log-level",
            "warning",
            "run",
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
