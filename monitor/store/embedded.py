"""The embedded PostgreSQL (pgserver) in a data directory kept across runs: started without
opening the user's directories to all, and never left running by a process that was killed.

pgserver keeps the pids of the processes using a server in `<data dir>/.handle_pids.json` and
stops the server when the last one leaves. Run as root, it starts PostgreSQL as a `pgserver`
user, and so first makes every parent of the data directory (and of its binaries) readable and
searchable by all (`ensure_prefix_permissions`): `~` would stay 0755. We put those modes back
once the server is up: PostgreSQL works from its data directory (its cwd) by relative paths.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)

DATABASE_NAME = "inbox_monitor"
HANDLES_FILE = ".handle_pids.json"
"""pgserver's list of the pids using the server of a data directory."""
SHUTDOWN_SECONDS = 30.0
"""For a fast shutdown (clients disconnected, a checkpoint): seconds on a small database."""
IMMEDIATE_SECONDS = 5.0
"""After that, an immediate shutdown (crash recovery at the next start)."""


class EmbeddedPostgres:
    """A PostgreSQL server from the pgserver wheel, in a data directory kept across runs."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the server and return a URL of the project's database."""
        from pgserver.postgres_server import PostgresServer, get_server  # here: only the embedded mode needs it

        data_dir = self.data_dir.expanduser()
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir = data_dir.resolve()
        log.info("starting embedded PostgreSQL data_dir=%s", data_dir)
        with _locked(data_dir), _modes_kept(data_dir, _outside_dirs(data_dir) if os.geteuid() == 0 else []):
            with PostgresServer._lock:  # noqa: SLF001 - pgserver's own lock on its handle lists
                _forget_dead_handles(data_dir)
            self._server = get_server(data_dir, cleanup_mode="stop")
        uri: str = self._server.get_uri()
        if DATABASE_NAME not in {r.strip() for r in self._server.psql("SELECT datname FROM pg_database;").splitlines()}:
            self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        return uri.replace("/postgres?", f"/{DATABASE_NAME}?", 1)

    def stop(self) -> None:
        """Leave the server; stop it when no other live process uses it."""
        from pgserver.postgres_server import PostgresServer

        if self._server is None:
            return
        server, self._server = self._server, None
        with PostgresServer._lock:  # noqa: SLF001 - pgserver has no public one
            others = [pid for pid in _forget_dead_handles(server.pgdata) if pid != os.getpid()]
            if not others:
                # By signal, not pgserver's `pg_ctl stop`: run as root, that runs as the pgserver
                # user, who can no longer reach the data directory through its parents.
                _shut_down(server.get_postmaster_info().process)
        server.cleanup()  # drops our pid; the server is down already when we were the last


def _forget_dead_handles(data_dir: Path) -> list[int]:
    """Drop from pgserver's handle list the processes that are gone (killed: no atexit ran), so
    that the server is stopped when the last live one leaves instead of running for ever."""
    path = data_dir / HANDLES_FILE
    try:
        pids = [p for p in json.loads(path.read_text()) if isinstance(p, int)]
    except (OSError, ValueError):
        return []
    live = [p for p in pids if _alive(p)]
    if live != pids:
        log.warning(
            "embedded PostgreSQL: forgetting processes that died without leaving it",
            extra={"pids": sorted(set(pids) - set(live))},
        )
        path.write_text(json.dumps(live))
    return live


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _shut_down(postmaster: psutil.Process | None) -> None:
    """Fast shutdown of the postmaster, then immediate if it takes too long."""
    for sig, seconds in ((signal.SIGINT, SHUTDOWN_SECONDS), (signal.SIGQUIT, IMMEDIATE_SECONDS)):
        if postmaster is None or not postmaster.is_running():
            return
        with contextlib.suppress(psutil.NoSuchProcess):
            postmaster.send_signal(sig)
        with contextlib.suppress(psutil.TimeoutExpired):
            postmaster.wait(seconds)
    if postmaster is not None and postmaster.is_running():
        log.error("embedded PostgreSQL did not stop", extra={"pid": postmaster.pid})


def _outside_dirs(data_dir: Path) -> list[Path]:
    """The directories pgserver chmods that are not its own: the parents of the data directory,
    of its binaries (up to its package) and of its runtime directory (where a socket goes when
    the data directory's path is too long for one)."""
    import pgserver
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.postgres_server import PostgresServer

    package = Path(pgserver.__file__).resolve().parent
    runtime = Path(PostgresServer.runtime_path)
    found: dict[Path, None] = {}
    for start in (data_dir, POSTGRES_BIN_PATH.resolve(), runtime):
        for parent in start.parents:
            if parent != package and package not in parent.parents:
                found[parent] = None
    return list(found)


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """One process at a time starts the server of a data directory (and so reads the modes
    before anyone opened them)."""
    fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def _modes_kept(data_dir: Path, dirs: Iterable[Path]) -> Iterator[None]:
    """Put back the modes of `dirs` after the block. They are written down first, beside the data
    directory: a process killed within the block leaves them to the next start to put back."""
    record = data_dir.parent / f".{data_dir.name}.modes.json"
    modes = {str(d): stat.S_IMODE(d.stat().st_mode) for d in dirs if d.is_dir()}
    if not modes:
        yield
        return
    with contextlib.suppress(OSError, ValueError):
        left = json.loads(record.read_text())  # a start killed before it put them back
        modes.update({k: v for k, v in left.items() if k in modes and isinstance(v, int)})
    with contextlib.suppress(OSError):  # best effort: without it, only a killed start is not undone
        record.write_text(json.dumps(modes))
    try:
        yield
    finally:
        changed = _restore(modes)
        if changed:
            log.info("embedded PostgreSQL: modes put back", extra={"directories": changed})
        record.unlink(missing_ok=True)


def _restore(modes: dict[str, int]) -> list[str]:
    changed = []
    for path, mode in modes.items():
        with contextlib.suppress(OSError):
            if stat.S_IMODE(Path(path).stat().st_mode) != mode:
                Path(path).chmod(mode)
                changed.append(path)
    return changed
