"""`inbox-monitor backfill`: read an X account's history back to a given age into the store.

Pages go through the engine like live polls (messages stored, waits recomputed, one transaction
per page) but with no cursor, so the live cursor never moves, backwards or forwards. The X API
bounds what can be read: the newest 800 mentions, 3,200 tweets, 30 days of DMs.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.config import Config
from monitor.engine import Engine
from monitor.runtime import REAL_TIME, Backoff, Timer, UnixClock
from monitor.sources.base import RateLimited, TemporaryFailure
from monitor.sources.x import XDmSource, XSource, snowflake_time, valid_ids

log = logging.getLogger(__name__)

RATE_LIMIT_WAIT_SECONDS = 60.0
"""Seconds to wait after a 429 that gives no reset time."""

Progress = Callable[[str, float], None]
"""(stream, share of the period read so far in [0, 1])."""


@dataclass
class BackfillResult:
    pages: int = 0
    messages: int = 0
    new_messages: int = 0


async def backfill(
    engine: Engine,
    account_id: int,
    sources: Sequence[XSource],
    start: datetime,
    *,
    progress: Progress | None = None,
    clock: UnixClock = time.time,
    timer: Timer = REAL_TIME,
    retries: int = 8,
    backoff: Backoff | None = None,
) -> BackfillResult:
    """Read every source back to `start`, newest first, storing page by page; a failed page is
    retried `retries` times, after `backoff` (within 2 s, then up to a minute)."""
    result = BackfillResult()
    backoff = backoff or Backoff(base_seconds=2.0, cap_seconds=60.0)
    for source in sources:
        token: str | None = None
        followed: set[str] = set()
        deepest: int | None = None
        """The oldest id read so far: a repeated token, or a page with nothing older, ends the
        stream's history (an API whose pagination loops would be read for ever)."""
        failures = 0
        while True:
            try:
                page = await source.history_page(start, token)
            except RateLimited as exc:
                await timer.sleep(exc.retry_after if exc.retry_after is not None else RATE_LIMIT_WAIT_SECONDS)
                continue
            except TemporaryFailure as exc:
                failures += 1
                if failures > retries:
                    raise
                log.warning("backfill retrying", extra={"stream": source.stream, "error": str(exc)})
                await timer.sleep(backoff.delay(failures))
                continue
            failures = 0
            ingest = await engine.ingest(
                account_id, source.stream, page.messages, None, rejected=page.rejected, billable=source.billed()
            )
            result.pages += 1
            result.messages += len(page.messages)
            result.new_messages += ingest.messages_new
            ids = valid_ids(page.ids)
            oldest = snowflake_time(str(min(ids))) if ids else None
            loops = page.next_token in followed or (bool(ids) and deepest is not None and min(ids) >= deepest)
            if loops:
                log.warning("backfill stopped: the API's pagination loops", extra={"stream": source.stream})
            if ids and (deepest is None or min(ids) < deepest):
                deepest = min(ids)
            done = (
                page.next_token is None or oldest is None or loops or (isinstance(source, XDmSource) and oldest < start)
            )
            if progress is not None:
                span = (datetime.fromtimestamp(clock(), UTC) - start).total_seconds()
                covered = (
                    1.0
                    if done or oldest is None
                    else (datetime.fromtimestamp(clock(), UTC) - oldest).total_seconds() / span
                )
                progress(source.stream, min(1.0, max(0.0, covered)))
            if done or page.next_token is None:
                break
            token = page.next_token
            followed.add(token)
    return result


async def run_backfill(
    config: Config,
    account_name: str,
    age: timedelta,
    *,
    progress: Progress | None = None,
    environ: Mapping[str, str] = os.environ,
    clock: UnixClock = time.time,
) -> BackfillResult:
    """Open the store, register the accounts, backfill one X account back `age` from now."""
    import aiohttp

    from monitor.app import open_store, prepare
    from monitor.sources.x import x_sources

    accounts = {a.name: a for _, a in config.accounts()}
    account = accounts.get(account_name)
    if account is None or account.channel != "x":
        raise ValueError(f"no X account named {account_name!r} in the configuration")
    start = datetime.fromtimestamp(clock(), UTC) - age
    async with open_store(config) as store:
        engine, ids = await prepare(config, store)
        async with aiohttp.ClientSession() as session:
            sources = x_sources(account, session, environ=environ, clock=clock)
            try:
                return await backfill(engine, ids[account_name], sources, start, progress=progress, clock=clock)
            finally:
                for source in sources:
                    await source.close()
