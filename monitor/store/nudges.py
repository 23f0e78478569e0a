"""Poll-now and correction notices between the processes sharing a PostgreSQL (LISTEN/NOTIFY).

A webhook delivery reaches whichever process the load balancer picked; the account's streams are
polled by the process holding its lease. The receiving process NOTIFYs; every process LISTENs
and nudges its own pollers (the others ignore accounts they do not hold). A notice lost while
PostgreSQL is away costs nothing but freshness: the poll at the interval reads the same news.

A correction of a decision (`inbox-monitor mark`, the labels API) NOTIFYs on its own channel in
its own transaction, so the notice leaves when it commits: the process holding the account
re-reads that account's gauges and counts the correction.

What X billed for an X Activity event that a process not holding its account received (a
webhook delivery, the stream of an app whose first account it holds) is stored there, then
NOTIFYed on its own channel: the holder adds it to its counter and its budget's spend. A notice
lost meanwhile leaves the stored count right; the holder's spend catches up at its next lease
change or restart (docs/cost.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from monitor.domain.cost import BILLABLE_KINDS
from monitor.runtime import REAL_TIME, Backoff, Health, Supervised, Timer
from monitor.store.db import DATABASE_ERRORS

CHANNEL = "inbox_monitor_poll_now"
CORRECTIONS = "inbox_monitor_corrections"
BILLED = "inbox_monitor_billed"

log = logging.getLogger(__name__)

Nudged = Callable[[int, Sequence[str]], object]
"""(account id, streams) -> anything: called for every notice received."""
Corrected = Callable[[int, str], object]
"""(account id, direction of the correction) -> anything: called for every correction notice."""
Billed = Callable[[int, dict[str, int]], object]
"""(account id, kind -> resources newly billed) -> anything: called for every billed notice."""
BILLED_MAX = 10**6
"""Resources of one kind in one notice: an ingest counts one event's (one) or a page's (at most a
few hundred); a larger number is no notice of ours."""


async def publish(pool: asyncpg.Pool, account_id: int, streams: Sequence[str]) -> None:
    """Tell every process (this one too) that these streams of the account have news."""
    payload = json.dumps({"account": account_id, "streams": list(streams)}, separators=(",", ":"))
    await pool.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)


def correction_notice(account_id: int, direction: str) -> str:
    """The payload of a correction notice (sent by the store in the correction's transaction)."""
    return json.dumps({"account": account_id, "direction": direction}, separators=(",", ":"))


async def publish_billed(pool: asyncpg.Pool, account_id: int, billed: dict[str, int]) -> None:
    """Tell every process (this one too) what X newly billed for the account."""
    payload = json.dumps({"account": account_id, "billed": billed}, separators=(",", ":"))
    await pool.execute("SELECT pg_notify($1, $2)", BILLED, payload)


def _read_billed(payload: str) -> tuple[int, dict[str, int]] | None:
    try:
        notice = json.loads(payload)
        account, billed = notice["account"], notice["billed"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(account, int) or not isinstance(billed, dict):
        return None
    if not all(k in BILLABLE_KINDS and type(n) is int and 0 < n <= BILLED_MAX for k, n in billed.items()):
        return None
    return account, billed


def _read_correction(payload: str) -> tuple[int, str] | None:
    try:
        notice = json.loads(payload)
        account, direction = notice["account"], notice["direction"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(account, int) or not isinstance(direction, str):
        return None
    return account, direction


def _read(payload: str) -> tuple[int, list[str]] | None:
    try:
        notice = json.loads(payload)
        account, streams = notice["account"], notice["streams"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(account, int) or not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
        return None
    return account, streams


LISTEN_BACKOFF = Backoff(base_seconds=1.0, cap_seconds=30.0)
"""After a broken listening connection: another within a second, up to 30 s apart while
PostgreSQL stays away (a notice lost meanwhile costs only freshness)."""


def listener(
    pool: asyncpg.Pool,
    nudged: Nudged,
    *,
    corrected: Corrected | None = None,
    billed: Billed | None = None,
    check_every_seconds: float = 30.0,
    backoff: Backoff = LISTEN_BACKOFF,
    timer: Timer = REAL_TIME,
) -> Supervised:
    """Calls `nudged` for each poll-now notice (`corrected` for each correction notice, `billed`
    for each billed notice) once run: one pooled connection LISTENs; when it breaks (or stops answering the check every
    `check_every_seconds`) another is taken, after `backoff`."""

    def handler(
        read: Callable[[str], tuple[Any, ...] | None], ignored: str, call: Callable[..., object] | None
    ) -> Callable[[object, int, str, object], None]:
        """A listener of one channel: its payload read and handed to `call`, or a notice not of ours
        logged (as `ignored`) and skipped."""

        def handle(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            text = str(payload)  # asyncpg hands a NOTIFY payload over as a str
            notice = read(text)
            if notice is None:
                log.warning(ignored, extra={"bytes": len(text)})
            elif call is not None:
                call(*notice)

        return handle

    received = handler(_read, "poll-now notice ignored: not ours", nudged)
    correction = handler(_read_correction, "correction notice ignored: not ours", corrected)
    bill = handler(_read_billed, "billed notice ignored: not ours", billed)

    async def step() -> None:
        """Listen on one connection until it closes (a step that lasts while all is well)."""
        async with pool.acquire() as conn:
            closed = asyncio.Event()

            def on_close(_conn: object) -> None:
                closed.set()

            conn.add_termination_listener(on_close)
            try:
                await conn.add_listener(CHANNEL, received)
                if corrected is not None:
                    await conn.add_listener(CORRECTIONS, correction)
                if billed is not None:
                    await conn.add_listener(BILLED, bill)
                supervised.health.succeeded(supervised.clock())  # listening: recovered, if it had failed
                while not closed.is_set():
                    if not await timer.wait(closed, check_every_seconds):
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=10)
            finally:
                conn.remove_termination_listener(on_close)
                if not conn.is_closed():
                    await conn.remove_listener(CHANNEL, received)
                    if corrected is not None:
                        await conn.remove_listener(CORRECTIONS, correction)
                    if billed is not None:
                        await conn.remove_listener(BILLED, bill)

    supervised = Supervised(
        "poll-now notices",
        step,
        interval_seconds=backoff.base_seconds,
        expected=(*DATABASE_ERRORS, TimeoutError),
        backoff=backoff,
        timer=timer,
        health=Health(
            "poll-now notices",
            log,
            level=logging.WARNING,
            failing_message="poll-now notices: not listening (webhooks only speed polls up; "
            "corrections show at the next snapshot)",
            recovered_message="poll-now notices: listening again",
        ),
    )
    """A connection that closed cleanly is replaced after `backoff`'s first wait, with no log."""
    return supervised
