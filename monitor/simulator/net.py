"""Local endpoints for the fakes, the demo, the benchmarks and the tests: a free TCP port, and the
fake servers' start and stop (an aiohttp app served on loopback, as an async context manager)."""

from __future__ import annotations

import random
import socket
from pathlib import Path
from types import TracebackType
from typing import Self

from aiohttp import web

LOOPBACK = "127.0.0.1"
PORTS_BELOW_EPHEMERAL = 12_000
"""How many ports under the kernel's ephemeral range `free_port` picks from. The kernel never hands
those out by itself (outgoing connections, binds to port 0), so a port found free stays free until
the server it is for binds it."""
LINUX_EPHEMERAL_START = 32768
"""Where Linux's ephemeral range starts by default, when /proc does not say."""
SHUTDOWN_SECONDS = 0.5
"""How long a stop waits for answers still being written: a fake may hold an answer on purpose (a
slow-answer fault), and stopping it must not wait for that (aiohttp waits a minute by default)."""

_given: set[int] = set()
"""The ports `free_port` gave in this process: never given twice."""


def ports_below_ephemeral() -> range:
    """The ports just under the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range)."""
    try:
        ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = LINUX_EPHEMERAL_START
    return range(max(1024, ephemeral - PORTS_BELOW_EPHEMERAL), ephemeral)


def free_port(ports: range | None = None) -> int:
    """A TCP port on 127.0.0.1 that nothing holds and that this process has not given before, from
    `ports` (default: `ports_below_ephemeral()`): for a server started in another process. A server
    started in this process binds port 0 instead (`FakeServer`)."""
    ports = ports if ports is not None else ports_below_ephemeral()
    offset = random.randrange(len(ports))  # two runs at once (two checkouts) start at different places
    for i in range(len(ports)):
        port = ports[(offset + i) % len(ports)]
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:  # held by some process, or still in TIME_WAIT
                continue
        _given.add(port)
        return port
    raise RuntimeError(f"no free port left in {ports}")


class FakeServer:
    """What the fake servers share: `await fake.start()` serves `fake.app()` on loopback and gives
    its base URL (also in `url`, and its port in `port`), `await fake.stop()` stops it; or
    `async with fake:` for both."""

    url = ""
    """The base URL once started (http://127.0.0.1:PORT)."""
    port = 0
    """The port served on (0 before `start`)."""
    _runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        """The aiohttp app that answers as the real service does."""
        raise NotImplementedError

    async def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 at `port` (0: a port the kernel picks); return the base URL."""
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        await runner.setup()
        try:
            await web.TCPSite(runner, LOOPBACK, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.url = f"http://{LOOPBACK}:{self.port}"
        return self.url

    async def stop(self) -> None:
        """Stop serving (again: nothing); `url` and `port` still say where it served."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()
