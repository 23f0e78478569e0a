"""`inbox-monitor check-config --online`: each configured stream calls its API once with its own
credentials (`Source.check`), and the answers are reported; nothing is stored, no database is
opened."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from monitor.config import Config
from monitor.logs import redact
from monitor.sources import build_sources
from monitor.sources.base import CheckResult, CheckStatus, Source
from monitor.sources.x.peers import NoReads, build_peer_source

CHECK_CONCURRENCY = 8
"""Checks in flight at once: a configuration of many accounts does not open that many
connections to one API at the same instant (an X app's bearer token serves all its accounts)."""
DETAIL_CHARS = 300
"""Characters of an API's error text shown per stream."""

STATUS_WORDS: dict[CheckStatus, str] = {
    "ok": "ok",
    "rejected": "rejected",
    "permission": "missing permission",
    "rate_limited": "rate-limited",
    "unreachable": "unreachable",
    "not_found": "not found",
    "failed": "failed",
}
"""How each result is printed."""


@dataclass(frozen=True)
class StreamCheck:
    """One stream's check, with the account it belongs to."""

    brand: str
    account: str
    channel: str
    stream: str
    result: CheckResult


async def check_streams(config: Config, names: Sequence[str] = ()) -> list[StreamCheck]:
    """Check every stream of the accounts named (all of them when `names` is empty), in the
    configuration's order. An account's streams are checked one after the other: when the API
    throttles the first, the next ones (sharing its client) report it without calling again."""
    limit = asyncio.Semaphore(CHECK_CONCURRENCY)
    async with aiohttp.ClientSession() as session:
        accounts: list[tuple[str, str, str, list[Source]]] = [
            (brand, account.name, account.channel, build_sources(account, session))
            for brand, account in config.accounts()
            if not names or account.name in names
        ]
        for peer in config.peers() if not names else []:  # docs/peers.md: a search, a handle lookup
            searched = build_peer_source(peer, 0, session, NoReads())
            if searched is not None:
                accounts.append((peer.brand, peer.account_name, "x", [searched]))

        async def one(sources: list[Source]) -> list[CheckResult]:
            async with limit:
                return [await source.check() for source in sources]

        try:
            results = await asyncio.gather(*(one(sources) for *_, sources in accounts))
        finally:
            for *_, sources in accounts:
                for source in sources:
                    await source.close()
    return [
        StreamCheck(brand, account, channel, source.stream, result)
        for (brand, account, channel, sources), checked in zip(accounts, results, strict=True)
        for source, result in zip(sources, checked, strict=True)
    ]


def describe(result: CheckResult) -> str:
    """The detail column: the permission missing, when it resets, the API's words."""
    parts: list[str] = []
    if result.permission:  # a Graph permission (pages_messaging), or X's reason (client-not-enrolled)
        parts.append(f"needs {result.permission}" if "_" in result.permission else result.permission)
    if result.retry_at is not None:
        parts.append(f"until {result.retry_at:%Y-%m-%d %H:%M:%S} UTC")
    if result.detail:
        parts.append(redact(result.detail.removeprefix(f"{result.endpoint}: "))[:DETAIL_CHARS])
    return "; ".join(parts)


def render_text(checks: Sequence[StreamCheck]) -> str:
    """A table, one line per stream, and a summary line."""
    header = ("ACCOUNT", "STREAM", "RESULT", "CALL", "DETAIL")
    rows = [header] + [
        (c.account, c.stream, STATUS_WORDS[c.result.status], c.result.endpoint, describe(c.result)) for c in checks
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join([v.ljust(w) for v, w in zip(row, widths, strict=False)] + [row[-1]]).rstrip() for row in rows]
    failed = sum(1 for c in checks if not c.result.ok)
    lines.append(
        f"{len(checks) - failed} of {len(checks)} stream(s) ok"
        + (f", {failed} failing: nothing was stored" if failed else ": nothing was stored")
    )
    return "\n".join(lines) + "\n"


def render_json(checks: Sequence[StreamCheck]) -> str:
    """The same as JSON, for scripts."""
    return (
        json.dumps(
            [
                {
                    "brand": c.brand,
                    "account": c.account,
                    "channel": c.channel,
                    "stream": c.stream,
                    "status": c.result.status,
                    "endpoint": c.result.endpoint,
                    "permission": c.result.permission,
                    "retry_at": c.result.retry_at.isoformat() if c.result.retry_at else None,
                    "detail": redact(c.result.detail)[:DETAIL_CHARS],
                }
                for c in checks
            ],
            ensure_ascii=False,
            indent=2,
        )
        + "\n"
    )
