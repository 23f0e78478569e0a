"""The demo's data: a directory of its own for each run, which the commands run after it read.

~/.local/share/inbox-monitor/demo/
  20261205T101606Z-k3j2a8q1/   one run: config.toml (its brands, accounts, policies and
    config.toml                  database) and pgdata/ (its embedded PostgreSQL)
    pgdata/
  latest -> 20261205T101606Z-k3j2a8q1
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.config import data_home
from monitor.store.embedded import discard

log = logging.getLogger(__name__)

LATEST = "latest"
RUN_NAME = re.compile(r"^\d{8}T\d{6}Z-[A-Za-z0-9_]+$")
"""A run's directory: its start (UTC) and a random tail. Only these are ever deleted."""
INLINE_TABLE_MAX = 60
"""Characters of a table written on one line (`public = { first = "30s", next = "60s" }`); longer
ones get a [section] of their own, easier to read."""
ACCOUNT_IDENTITY = ("name", "channel", "user_id", "page_id", "handle", "policy")
"""What the saved configuration keeps of an account: what the stored data and reports refer to."""


@dataclass(frozen=True)
class DemoRun:
    """One demo run's directory."""

    path: Path

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def pgdata(self) -> Path:
        return self.path / "pgdata"


def runs_dir() -> Path:
    return data_home() / "demo"


def new_run(now: datetime) -> DemoRun:
    """A new, empty run directory (mode 0700: it holds customers' messages, even simulated)."""
    runs_dir().mkdir(parents=True, exist_ok=True)
    return DemoRun(Path(tempfile.mkdtemp(prefix=now.strftime("%Y%m%dT%H%M%SZ-"), dir=runs_dir())))


def choose(*, keep: bool, now: datetime) -> tuple[DemoRun, DemoRun | None]:
    """The directory of a run starting `now` (with `keep`, the last run's if there is one; else a
    new one), and the last run's."""
    previous = latest()
    return (previous if keep and previous is not None else new_run(now)), previous


def latest() -> DemoRun | None:
    """The run `latest` points at, if it is still there."""
    link = runs_dir() / LATEST
    try:
        target = runs_dir() / link.readlink()
    except OSError:
        return None
    return DemoRun(target) if target.is_dir() else None


def latest_config() -> Path | None:
    """The configuration of the last demo, for commands given none."""
    run = latest()
    return run.config_path if run is not None and run.config_path.is_file() else None


def make_latest(run: DemoRun) -> None:
    """Point `latest` at `run` (replaced at once: a reader sees the old run or the new)."""
    link = runs_dir() / LATEST
    fresh = link.with_name(f".{LATEST}.{os.getpid()}")
    fresh.unlink(missing_ok=True)
    fresh.symlink_to(run.path.name)
    fresh.replace(link)


def remove_old(keep: Iterable[DemoRun | None]) -> list[Path]:
    """Delete the runs not in `keep` that no process uses (a demo still running keeps its own)."""
    kept = {run.path.resolve() for run in keep if run is not None}
    removed = []
    for path in sorted(runs_dir().iterdir()):
        if path.is_symlink() or not path.is_dir() or not RUN_NAME.match(path.name) or path.resolve() in kept:
            continue
        if discard(path / "pgdata"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        log.info("earlier demo runs removed", extra={"runs": len(removed)})
    return removed


def saved_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """The demo's configuration as the commands after it read it: its fake APIs and their
    credentials are gone, so each account keeps its identity only, as `source = "demo"` (read
    without credentials)."""
    saved = {k: v for k, v in data.items() if k != "brands"}
    saved["brands"] = [
        {
            **{k: v for k, v in brand.items() if k != "accounts"},
            "accounts": [
                {**{k: v for k, v in account.items() if k in ACCOUNT_IDENTITY}, "source": "demo"}
                for account in brand["accounts"]
            ],
        }
        for brand in data["brands"]
    ]
    return saved


def save_config(run: DemoRun, data: Mapping[str, Any], comment: str) -> None:
    """Write `data` as the run's config.toml, `comment` on top (replaced at once)."""
    text = "".join(f"# {line}\n".replace("# \n", "#\n") for line in comment.splitlines()) + to_toml(data)
    fresh = run.config_path.with_suffix(".new")
    fresh.write_text(text, encoding="utf-8")
    fresh.replace(run.config_path)


# A TOML writer for configurations (the standard library only reads TOML).


def to_toml(data: Mapping[str, Any]) -> str:
    """`data` (str, bool, int, float, lists and tables of them) as a TOML document."""
    lines: list[str] = []
    _table(lines, data, (), array=False)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(lines: list[str], table: Mapping[str, Any], path: tuple[str, ...], *, array: bool) -> None:
    simple = [(k, v) for k, v in table.items() if _inline(v)]
    if array or (path and simple):
        name = ".".join(_key(p) for p in path)
        lines += ["", f"[[{name}]]" if array else f"[{name}]"]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in simple]
    for k, v in table.items():
        if isinstance(v, Mapping) and not _inline(v):
            _table(lines, v, (*path, k), array=False)
        elif isinstance(v, list) and not _inline(v):
            for item in v:
                _table(lines, item, (*path, k), array=True)


def _flat(value: object) -> bool:
    return isinstance(value, str | bool | int | float) or (
        isinstance(value, list) and all(isinstance(v, str | bool | int | float) for v in value)
    )


def _inline(value: object) -> bool:
    """Written on one line: a value, a list of values, a short table of those."""
    if isinstance(value, Mapping):
        return all(_flat(v) for v in value.values()) and len(_value(value)) <= INLINE_TABLE_MAX
    return _flat(value)


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # JSON's escapes are TOML's basic-string escapes; TOML also refuses a raw DEL.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {type(value).__name__}")
