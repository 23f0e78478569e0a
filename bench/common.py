"""What the benchmarks share: a PostgreSQL to run on, and how they print their figures."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


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
