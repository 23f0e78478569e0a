"""The embedded PostgreSQL (pgserver) in a data directory kept across runs: one process at a time,
started without opening the user's directories to all, and never left running by a process that
was killed.

One inbox-monitor process uses a data directory at a time: it holds a lock on `.<name>.lock`
beside the directory (with its pid and command line in it) until it leaves, and a second one is
refused with `DataDirInUse`, naming the first. The lock goes with the process, even killed.

pgserver keeps the pids of the processes using a server in `<data dir>/.handle_pids.json` and
stops the server when the last one leaves. Run as root, it starts PostgreSQL as a `pgserver`
user, and so first makes every parent of the data directory (and of its binaries) readable and
searchable by all (`ensure_prefix_permissions`): `~` would stay 0755. Once the server is up we
take back all but the search permission (g+x, o+x: no listing, no reading), and put the modes
back once the server has stopped: PostgreSQL opens its control file by its absolute path at every
checkpoint (and at shutdown), and without that search permission it panics there, and the next
start pays for a crash recovery.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import stat
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
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
EXIT_POLL_SECONDS = 0.02
"""How often a stopping server is looked at. It is not our child (pg_ctl started it): once it has
exited, only its parent (init, whatever that is in a container) reaps it, maybe seconds later, so
psutil's `wait` alone would wait for that; a server that is a zombie has stopped."""
HOLDER_TEXT_MAX = 4096
"""Bytes of a lock file read to name its holder (a pid and a command line)."""
COMMAND_SHOWN_MAX = 200
"""Characters of the holder's command line in the refusal (a command line has no length limit)."""


class DataDirInUse(Exception):
    """Another process uses the embedded data directory; the message names it."""


class EmbeddedPostgres:
    """A PostgreSQL server from the pgserver wheel, in a data directory kept across runs."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None
        self._lock_fd: int | None = None
        self._modes = contextlib.ExitStack()
        """Puts the parents' modes back (run as root): once the server has stopped."""

    def start(self) -> str:
        """Start the server and return a URL of the project's database; `DataDirInUse` when
        another process uses the data directory."""
        pgserver = _pgserver()
        data_dir = self.data_dir.expanduser()
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir = data_dir.resolve()
        self._lock_fd = hold(data_dir)
        try:
            log.info("starting embedded PostgreSQL data_dir=%s", data_dir)
            modes = self._modes.enter_context(
                _modes_kept(data_dir, _outside_dirs(data_dir) if os.geteuid() == 0 else [])
            )
            with pgserver.PostgresServer._lock:  # noqa: SLF001 - pgserver's own lock on its handle lists
                _forget_dead_handles(data_dir)
            self._server = pgserver.get_server(data_dir, cleanup_mode="stop")
            _searchable_only(modes)
            uri: str = self._server.get_uri()
            databases = {r.strip() for r in self._server.psql("SELECT datname FROM pg_database;").splitlines()}
            if DATABASE_NAME not in databases:
                self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        except BaseException:
            self.stop()
            raise
        return uri.replace("/postgres?", f"/{DATABASE_NAME}?", 1)

    def stop(self) -> None:
        """Stop the server and let go of the data directory."""
        server, self._server = self._server, None
        others: list[int] = []
        try:
            if server is not None:
                with _pgserver().PostgresServer._lock:  # noqa: SLF001 - pgserver has no public one
                    others = [pid for pid in _forget_dead_handles(server.pgdata) if pid != os.getpid()]
                    if not others:
                        # By signal, not pgserver's `pg_ctl stop`: run as root, that runs as the pgserver
                        # user, who can no longer list the data directory's parents.
                        _shut_down(server.get_postmaster_info().process)
                        # Stopped: pgserver would look at it again, and a server not yet reaped
                        # (a zombie) still runs for psutil: a failing `pg_ctl stop`, then 2 s of wait.
                        server._postmaster_info = None  # noqa: SLF001 - pgserver has no public way
                server.cleanup()  # drops our pid; the server is down already
        finally:
            if others:  # the server goes on for them: its modes are put back by the next start's stop
                self._modes.pop_all()
            self._modes.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the lock
                self._lock_fd = None


def discard(data_dir: Path) -> bool:
    """Delete a data directory that no process uses (an old demo's), after stopping the server a
    killed process left running in it; False, and nothing deleted, when a process uses it."""
    data_dir = data_dir.expanduser().resolve()
    try:
        fd = hold(data_dir)
    except DataDirInUse:
        return False
    try:
        postmaster = _postmaster(data_dir)
        if postmaster is not None:
            log.info("embedded PostgreSQL: stopping the server left in %s", data_dir)
            _shut_down(postmaster)
        shutil.rmtree(data_dir, ignore_errors=True)
        _lock_path(data_dir).unlink(missing_ok=True)
    finally:
        os.close(fd)
    return True


def _pgserver() -> ModuleType:
    """The pgserver module, imported here: only the embedded mode needs it.

    pgserver asks platformdirs for its runtime directory when it is imported (for its lock file
    and, when the data directory's path is too long, its socket), and platformdirs warns
    "XDG_RUNTIME_DIR is not set" on every machine without a login session (containers, cron,
    su). Its fallback (`/run/user/<uid>`, else `/tmp/runtime-<uid>`, created 0700 for the user)
    is the right directory there, so that one warning says nothing to our users: it is dropped,
    and any other warning of the import still shows."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver
    return pgserver


def _lock_path(data_dir: Path) -> Path:
    return data_dir.parent / f".{data_dir.name}.lock"


def hold(data_dir: Path) -> int:
    """Lock the data directory for this process; the lock file's descriptor (closing it lets go,
    and so does the process's end). `DataDirInUse`, naming the holder, when another one has it."""
    path = _lock_path(data_dir)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise DataDirInUse(
            f"the embedded PostgreSQL data directory {data_dir} is in use by {holder}: one process at a "
            "time uses it. Stop that process first, or give this command another data directory "
            "(database.data_dir) or a PostgreSQL server several processes can share "
            "($INBOX_MONITOR_DATABASE_URL)."
        ) from None
    except BaseException:
        os.close(fd)
        raise
    record = json.dumps({"pid": os.getpid(), "command": _command(psutil.Process())}).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, record, 0)
    return fd


def _holder(fd: int) -> str:
    """The process that holds a lock file, as the refusal names it: "process 123 (command)"."""
    try:
        record = json.loads(os.pread(fd, HOLDER_TEXT_MAX, 0))
        pid = int(record["pid"])
    except (OSError, ValueError, TypeError, KeyError):
        return "another process (it is starting: its pid is not written yet)"
    try:
        command = _command(psutil.Process(pid))  # the live one, when it can be read
    except psutil.Error:
        command = str(record.get("command", ""))[:COMMAND_SHOWN_MAX]
    return f"process {pid} ({command})" if command else f"process {pid}"


def _command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())[:COMMAND_SHOWN_MAX]
    except psutil.Error:
        return ""


def _postmaster(data_dir: Path) -> psutil.Process | None:
    """The running server of a data directory (the pid in `postmaster.pid`, if a postgres of it)."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        process = psutil.Process(pid)
        cmdline = process.cmdline()
    except (OSError, ValueError, psutil.Error):
        return None
    return process if process.name() == "postgres" and str(data_dir) in cmdline else None


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
        deadline = time.monotonic() + seconds
        while not _exited(postmaster) and time.monotonic() < deadline:
            with contextlib.suppress(psutil.TimeoutExpired):
                postmaster.wait(EXIT_POLL_SECONDS)
    if postmaster is not None and not _exited(postmaster):
        log.error("embedded PostgreSQL did not stop", extra={"pid": postmaster.pid})


def _exited(process: psutil.Process) -> bool:
    """The process has exited (gone, or a zombie its parent has not reaped yet)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _outside_dirs(data_dir: Path) -> list[Path]:
    """The directories pgserver chmods that are not its own: the parents of the data directory,
    of its binaries (up to its package) and of its runtime directory (where a socket goes when
    the data directory's path is too long for one)."""
    pgserver = _pgserver()
    from pgserver._commands import POSTGRES_BIN_PATH

    package = Path(str(pgserver.__file__)).resolve().parent
    runtime = Path(pgserver.PostgresServer.runtime_path)
    found: dict[Path, None] = {}
    for start in (data_dir, POSTGRES_BIN_PATH.resolve(), runtime):
        for parent in start.parents:
            if parent != package and package not in parent.parents:
                found[parent] = None
    return list(found)


@contextlib.contextmanager
def _modes_kept(data_dir: Path, dirs: Iterable[Path]) -> Iterator[dict[str, int]]:
    """Put back the modes of `dirs` after the block (it is given them). They are written down
    first, beside the data directory: a process killed within the block leaves them to the next
    start to put back."""
    record = data_dir.parent / f".{data_dir.name}.modes.json"
    modes = {str(d): stat.S_IMODE(d.stat().st_mode) for d in dirs if d.is_dir()}
    if not modes:
        yield modes
        return
    with contextlib.suppress(OSError, ValueError):
        left = json.loads(record.read_text())  # a start killed before it put them back
        modes.update({k: v for k, v in left.items() if k in modes and isinstance(v, int)})
    with contextlib.suppress(OSError):  # best effort: without it, only a killed start is not undone
        record.write_text(json.dumps(modes))
    try:
        yield modes
    finally:
        changed = _restore(modes)
        if changed:
            log.info("embedded PostgreSQL: modes put back", extra={"directories": changed})
        record.unlink(missing_ok=True)


def _searchable_only(modes: dict[str, int]) -> None:
    """While the server runs: of what pgserver opened to all, keep only the search permission of
    the group and others on the directories of `modes` (their modes before). The server runs as
    the `pgserver` user, but in root's group (pgserver sets only the user)."""
    _restore({path: mode | stat.S_IXGRP | stat.S_IXOTH for path, mode in modes.items()})


def _restore(modes: dict[str, int]) -> list[str]:
    changed = []
    for path, mode in modes.items():
        with contextlib.suppress(OSError):
            if stat.S_IMODE(Path(path).stat().st_mode) != mode:
                Path(path).chmod(mode)
                changed.append(path)
    return changed
