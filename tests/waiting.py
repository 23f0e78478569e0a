"""Waiting on a condition with a deadline (never a bare sleep), free ports, backoffs at their
longest, and running the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from monitor.simulator import net

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


class GaveUp(Exception):
    """Raised by a condition to stop the wait at once: what it waits for cannot come any more."""


def wait_for(condition: Callable[[], T], timeout: float = 30.0, interval: float = 0.05, what: str = "condition") -> T:
    """Return the first truthy value of `condition()`; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except GaveUp:
            raise
        except Exception as exc:  # noqa: BLE001 - the thing waited for may not exist yet: any error, retried
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error!r})")


class Longest(random.Random):
    """A backoff's jitter at its longest, so that a wait cut short shows."""

    def uniform(self, a: float, b: float) -> float:
        return b


def _port_slice() -> range:
    """This process's slice of the ports just under the ephemeral range (one slice per xdist worker)."""
    ports = net.ports_below_ephemeral()
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    size = len(ports) // max(1, workers)
    return range(ports.start + worker * size, ports.start + (worker + 1) * size)


def free_port() -> int:
    """A TCP port for a server a test starts in another process, that no other test of this run
    is given (each xdist worker has its own slice): `monitor.simulator.net.free_port`. Servers the
    tests run in-process bind port 0 instead."""
    return net.free_port(_port_slice())


def healthz_pid(port: int) -> int | None:
    """The pid that the inbox-monitor on 127.0.0.1:PORT says it runs as (its /healthz)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
        pid = json.loads(r.read()).get("pid")
    return int(pid) if pid is not None else None


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return e.code


def serving(proc: subprocess.Popen[bytes], port: int, *, ready: bool = True) -> Callable[[], bool]:
    """A condition for `wait_for`/`eventually`: the inbox-monitor process `proc` serves on PORT
    (its own pid in /healthz, not another process's on that port) and, with `ready`, /readyz is 200.
    Gives up at once when `proc` exits or another process answers."""

    def check() -> bool:
        if proc.poll() is not None:
            raise GaveUp(f"the process exited ({proc.returncode}) before serving on port {port}")
        pid = healthz_pid(port)  # not listening yet: OSError, the wait goes on
        if pid != proc.pid:
            raise GaveUp(f"port {port} is served by pid {pid}, not by the process the test started ({proc.pid})")
        return not ready or http_status(f"http://127.0.0.1:{port}/readyz") == 200

    return check


def in_thread(condition: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """A blocking condition (HTTP with urllib, say) for `eventually`, run in a thread: the test's
    event loop, and the fake APIs on it, go on meanwhile."""
    return lambda: asyncio.to_thread(condition)


KEPT_OUT_OF_CLI = ("PYTHONDONTWRITEBYTECODE",)
"""Left out of the commands' environment: with it (set on some machines, CI's among them maybe),
every `python -m monitor` the suite starts (about 130) compiled the project's modules again,
a quarter of a second of CPU each."""


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_MONITOR_") and k not in KEPT_OUT_OF_CLI}
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else cli_env(),
        timeout=timeout,
        cwd=ROOT,
    )


def start_cli(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )


def stop_cli(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process `start_cli` started: SIGTERM, then SIGKILL after 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


async def eventually(
    condition: Callable[[], object],
    timeout: float = 30.0,  # noqa: ASYNC109
    interval: float = 0.05,
    what: str = "condition",
) -> object:
    """`wait_for` for async tests: the condition may be a coroutine function; the loop keeps running."""
    import inspect

    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
        except GaveUp:
            raise
        except Exception as exc:  # noqa: BLE001 - the thing waited for may not exist yet: any error, retried
            last_error = exc
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error!r})")


def scrape_sum(port: int, name: str, **labels: str) -> float:
    """The sum of the samples of `name` on http://127.0.0.1:PORT/metrics that carry these labels."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items())
    )
