"""Secrets from the environment: `$NAME`, or the file named by `$NAME_FILE` (a mounted secret),
read at each use so that a rotated token is picked up without a restart."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from monitor.logs import register_secret


class EnvSecret:
    """A secret read at each use: `$NAME`, or else the file named by `$NAME_FILE`."""

    def __init__(self, name: str | None, environ: Mapping[str, str] = os.environ) -> None:
        self.name = name
        self.environ = environ
        self._file: tuple[str, int, str] | None = None  # path, mtime_ns, value

    def get(self) -> str | None:
        if not self.name:
            return None
        value = self.environ.get(self.name, "").strip()
        if not value:
            value = self._from_file(self.environ.get(f"{self.name}_FILE", "").strip())
        if value:
            register_secret(value)
        return value or None

    def _from_file(self, path: str) -> str:
        if not path:
            return ""
        try:
            mtime = Path(path).stat().st_mtime_ns
            if self._file is None or self._file[:2] != (path, mtime):
                self._file = (path, mtime, Path(path).read_text(encoding="utf-8").strip())
        except OSError:
            return ""
        return self._file[2]
