"""Shared fixtures: a real PostgreSQL (embedded, or TEST_DATABASE_URL), a fresh database per test;
the outside programs tests need; the order tests start in.

Under pytest-xdist (`-n 2`) each worker is its own pytest session, so `pg_server_url` starts one
embedded server per worker, each in its own data directory and Unix socket: no port, nothing shared.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil
import pytest

from monitor.store.db import create_pool, migrate
from monitor.store.store import Store

ROOT = Path(__file__).resolve().parent.parent

INSTALL = {
    "prometheus": "apt-get install prometheus",
    "promtool": "apt-get install prometheus",
    "prometheus-alertmanager": "apt-get install prometheus-alertmanager",
    "amtool": "apt-get install prometheus-alertmanager",
    "pdftoppm": "apt-get install poppler-utils",
}
"""The programs that tests run, and how to install them (.ci/run does)."""


def tool(name: str) -> str:
    """The path of the program `name`; a failure naming its install command when it is missing
    (never a skip: CI installs it, so a missing tool is a broken machine)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: {INSTALL.get(name, 'install it')} (as .ci/run does)", pytrace=False)
    return path


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`@pytest.mark.tools("prometheus", ...)`: fail the test at once when one of them is missing."""
    for mark in item.iter_markers("tools"):
        for name in mark.args:
            tool(name)


SHARED_STACK_MODULES = frozenset(
    {"tests/integration/test_alerting.py", "tests/integration/test_grafana.py", "tests/integration/test_figures.py"}
)
"""Modules whose tests share servers started once for the module: under xdist, all on one worker."""


WORKERS_PER_CPU = 2
"""`-n auto` starts this many xdist workers per CPU: most of the suite's time is end-to-end tests
waiting on real clocks (SLA deadlines, alerts' `for:`, leases, poll intervals) with the CPU idle, so
two workers a core overlap those waits (2 cores: about 3 minutes with 4 workers, over 4 with 2)."""
MAX_WORKERS = 8
"""More would start more embedded PostgreSQL servers than the suite has long tests to share out."""


@pytest.hookimpl(optionalhook=True)  # xdist's hooks: only called with it
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(MAX_WORKERS, WORKERS_PER_CPU * cpus)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With `-n`: tests go to the workers one by one as they free up (longest first, see below),
    except that a SHARED_STACK_MODULES module goes to one worker whole. (xdist's `--dist loadgroup`
    would do this with `xdist_group` marks, but ignores them on pytest 9.2: pytest-xdist#1386.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in SHARED_STACK_MODULES else nodeid

    return Scheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long end-to-end tests (`slow`) first, so that under xdist the workers share them out and
    fill in with the short ones, instead of one worker starting a 90-second test last."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: otherwise in file order


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server for the whole run (its `postgres` database)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from pgserver.postgres_server import get_server

    # A short path: the server's Unix socket lives in the data directory (108-byte limit).
    data = Path(tempfile.mkdtemp(prefix="imtest-"))
    server = get_server(data, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)


def postmasters(under: Path) -> list[psutil.Process]:
    """The running PostgreSQL servers (postmasters: `postgres -D DIR`) of a data directory under `under`."""
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        cmdline = p.info["cmdline"] or []
        if p.info["name"] == "postgres" and "-D" in cmdline:
            data = cmdline[cmdline.index("-D") + 1] if cmdline.index("-D") + 1 < len(cmdline) else ""
            if data == str(under) or data.startswith(f"{under}/"):
                found.append(p)
    return found


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A new directory with a short path (mode 0700, as mkdtemp makes it), removed after the test:
    an embedded PostgreSQL's Unix socket lives in its data directory, and a socket path must stay
    under 108 bytes (pytest's `tmp_path` is longer, more so under xdist)."""
    path = Path(tempfile.mkdtemp(prefix="imk-"))
    try:
        yield path
    finally:
        for postmaster in postmasters(path):  # left by a failing test
            postmaster.send_signal(signal.SIGINT)
            postmaster.wait(30)
        shutil.rmtree(path, ignore_errors=True)


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def new_database(pg_server_url: str, template: str = "template1") -> Iterator[str]:
    """A new database copied from `template` (empty by default): its URL, then dropped."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_server_url, f"CREATE DATABASE {name} TEMPLATE {template}"))
    try:
        yield with_database(pg_server_url, name)
    finally:
        asyncio.run(_admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def database_url(pg_server_url: str) -> Iterator[str]:
    """A new, empty database, dropped after the test."""
    yield from new_database(pg_server_url)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated store on a fresh database."""
    pool = await create_pool(database_url, min_size=1, max_size=5)
    try:
        await migrate(pool)
        yield Store(pool)
    finally:
        await pool.close()


@pytest.fixture
def db(database_url: str) -> Iterator[tuple[asyncio.AbstractEventLoop, Store]]:
    """A loop and a migrated store on a fresh database, for synchronous (hypothesis) tests."""
    loop = asyncio.new_event_loop()
    pool = loop.run_until_complete(create_pool(database_url, min_size=1, max_size=2))
    loop.run_until_complete(migrate(pool))
    try:
        yield loop, Store(pool)
    finally:
        loop.run_until_complete(pool.close())
        loop.close()
