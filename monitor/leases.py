"""Account leases: several processes on one PostgreSQL split the accounts, each polled by one.

Each process heartbeats, renews its leases every third of the lease time, and takes its share
(accounts ÷ live processes) of the free or expired ones, giving back any excess so that a new
process gets work. A process that cannot renew (PostgreSQL away, the process stalled) stops
polling on its own clock before its leases expire in the database's: two processes never poll
the same account at once. A lease renewed late, past its end, is kept if no other process took
it meanwhile (taking it makes the taker its holder): the polls under way go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence

from monitor.runtime import REAL_TIME, Backoff, Health, Monotonic, Supervised, Timer
from monitor.store.db import DATABASE_ERRORS
from monitor.store.leases import LeaseStore

log = logging.getLogger(__name__)

OnChange = Callable[[set[int], set[int]], Awaitable[None]]
"""(accounts gained, accounts lost) -> None."""


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class LeaseManager:
    """Keeps this process's share of the accounts' leases."""

    def __init__(
        self,
        leases: LeaseStore,
        account_ids: Sequence[int],
        *,
        on_change: OnChange,
        ttl: float = 30.0,
        holder: str | None = None,
        monotonic: Monotonic = time.monotonic,
        timer: Timer = REAL_TIME,
    ) -> None:
        self.leases = leases
        self.account_ids = sorted(account_ids)
        self.on_change = on_change
        self.ttl = ttl
        self.holder = holder or holder_id()
        self.monotonic = monotonic
        self.held: dict[int, float] = {}
        """account id -> local instant (`monotonic`) after which it must not be polled."""
        self.ready = asyncio.Event()
        self.supervised = Supervised(
            "leases",
            self.step,
            interval_seconds=ttl / 3,
            expected=DATABASE_ERRORS,
            backoff=Backoff(base_seconds=ttl / 3, cap_seconds=ttl / 3),
            on_failure=self._expire,
            timer=timer,
            health=Health(
                "leases",
                log,
                {"holder": self.holder},
                failing_message="leases cannot be renewed",
                recovered_message="leases renewed again",
            ),
        )
        """Renewed every third of the lease time, without jitter: the margin is computed on it. A
        failure is retried within that third (never later: the leases would end meanwhile)."""

    @property
    def margin(self) -> float:
        """Stop polling this long before the lease's end on our clock (a poll in flight ends first)."""
        return self.ttl / 3

    def holds(self, account_id: int) -> bool:
        deadline = self.held.get(account_id)
        return deadline is not None and self.monotonic() < deadline - self.margin

    async def step(self) -> None:
        """Heartbeat, renew, rebalance."""
        started = self.monotonic()
        alive = await self.leases.heartbeat(self.holder, self.ttl)
        kept = await self.leases.renew(self.holder, sorted(self.held), self.ttl)
        lost = set(self.held) - kept
        share = math.ceil(len(self.account_ids) / max(alive, 1))
        excess = set(sorted(kept)[share:])
        gained: set[int] = set()
        if len(kept) < share:
            free = [a for a in self.account_ids if a not in kept]
            gained = await self.leases.acquire(self.holder, free, share - len(kept), self.ttl)
        if lost:
            log.warning("leases lost", extra={"accounts": len(lost), "holder": self.holder})
        if lost or excess:
            for account_id in lost | excess:
                self.held.pop(account_id, None)
            await self.on_change(set(), lost | excess)  # stop polling before giving leases back
        if excess:
            await self.leases.release(self.holder, sorted(excess))
        for account_id in (kept - excess) | gained:
            self.held[account_id] = started + self.ttl
        if gained:
            await self.on_change(gained, set())
        self.ready.set()

    async def _expire(self, _exc: BaseException) -> None:
        await self.expire()

    async def expire(self) -> None:
        """Stop polling the accounts whose lease may have ended (when renewing failed)."""
        now = self.monotonic()
        gone = {a for a, deadline in self.held.items() if now >= deadline - self.margin}
        if gone:
            for account_id in gone:
                del self.held[account_id]
            await self.on_change(set(), gone)

    async def run(self) -> None:
        """Keep the leases until stopped; when renewing fails, stop polling what may have expired."""
        await self.supervised.run()

    async def leave(self) -> None:
        """Give every lease back (clean shutdown: others take over at once)."""
        self.held.clear()
        with contextlib.suppress(*DATABASE_ERRORS):  # they expire by themselves
            await self.leases.leave(self.holder)
