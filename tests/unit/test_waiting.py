"""The tests' own helpers: free ports, and the check that a port is served by the process started."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests import waiting
from tests.waiting import GaveUp, free_port, serving, wait_for


def test_free_ports_are_distinct_unheld_and_outside_the_kernels_ephemeral_range() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert all(1024 <= p < ephemeral for p in ports)
    for port in ports:  # nothing holds them
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_each_xdist_worker_has_its_own_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    slices = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
        slices.append(set(waiting._port_slice()))  # noqa: SLF001 - the helper's own test
    assert all(len(s) > 1000 for s in slices)
    assert not (slices[0] & slices[1]) and not (slices[1] & slices[2]) and not (slices[0] & slices[2])


@pytest.fixture
def impostor() -> Iterator[int]:
    """An HTTP server in this process answering /healthz as an inbox-monitor would, with its own pid."""

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ok", "pid": 1}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_serving_gives_up_at_once_when_another_process_holds_the_port(impostor: int) -> None:
    started = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(GaveUp, match=f"served by pid 1, not by the process the test started \\({started.pid}\\)"):
            wait_for(serving(started, impostor), timeout=30)
    finally:
        started.kill()
        started.wait()


def test_serving_gives_up_at_once_when_the_process_exits() -> None:
    exited = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    exited.wait()
    with pytest.raises(GaveUp, match="exited \\(3\\) before serving"):
        wait_for(serving(exited, free_port()), timeout=30)
