"""What each X account's reads cost so far this UTC month, and the poll pace its budget asks for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from monitor.domain.changes import IngestResult
from monitor.domain.cost import BILLABLE_KINDS, BillableKind, Prices, month_position, poll_factor, spend
from monitor.poller import PollTarget
from monitor.runtime import Clock, utcnow
from monitor.sources.base import Batch
from monitor.store.cost import answered_questions, billed_by_account, month_billed


class Spending:
    """Month-to-date billed resources per account: loaded from PostgreSQL (`load`), then added to
    by every poll's ingest (a PollObserver). Only the process polling an account adds to it."""

    def __init__(self, prices: Prices, budgets: Mapping[int, float | None], *, clock: Clock = utcnow) -> None:
        self.prices = prices
        self.budgets = dict(budgets)
        self.clock = clock
        self._month: date | None = None
        self._counts: dict[int, dict[BillableKind, int]] = {}

    async def load(self, pool: asyncpg.Pool) -> None:
        """Read this month's counts from PostgreSQL (at start, and at each new month)."""
        month = self._month_start()
        stored = await month_billed(pool, month)
        self._counts = {
            account_id: {k: kinds[k] for k in BILLABLE_KINDS if k in kinds} for account_id, kinds in stored.items()
        }
        self._month = month

    def _month_start(self) -> date:
        return self.clock().date().replace(day=1)

    def add(self, account_id: int, billed: Mapping[str, int]) -> None:
        """Add newly billed resources (kind -> count) of an account."""
        if self._month != self._month_start():  # a new month: its spend starts at zero
            self._month, self._counts = self._month_start(), {}
        counts = self._counts.setdefault(account_id, {})
        for kind in BILLABLE_KINDS:
            if kind in billed:
                counts[kind] = counts.get(kind, 0) + billed[kind]

    def spent(self, account_id: int) -> float:
        """Dollars this month so far."""
        if self._month != self._month_start():
            return 0.0
        return spend(self._counts.get(account_id, {}), self.prices)

    def factor(self, account_id: int) -> float:
        """How many times its interval the account's streams wait between polls (the poller's pace)."""
        elapsed, days = month_position(self.clock())
        return poll_factor(
            spent=self.spent(account_id), budget=self.budgets.get(account_id), days_elapsed=elapsed, days_in_month=days
        )

    def poll_done(
        self, target: PollTarget, result: str, seconds: float, batch: Batch | None, ingest: IngestResult | None
    ) -> None:
        """PollObserver: count what the poll's ingest billed."""
        if ingest is not None and ingest.billable:
            self.add(target.account_id, ingest.billable)


@dataclass(frozen=True)
class AccountCost:
    """One account's billed resources and estimated spend over a period (`inbox-monitor cost`)."""

    account: str
    brand: str
    counts: dict[BillableKind, int]
    dollars: float
    answered: int
    """Questions answered in the period."""

    @property
    def per_answered(self) -> float | None:
        """Dollars per answered question (None when none was answered)."""
        return self.dollars / self.answered if self.answered else None


async def account_costs(
    pool: asyncpg.Pool, prices: Prices, first_day: date, last_day: date, accounts: Sequence[str] | None = None
) -> list[AccountCost]:
    """The spend per account over the UTC days [first_day, last_day] (accounts with billed reads)."""
    by_account = await billed_by_account(pool, first_day, last_day + timedelta(days=1), accounts)
    start = datetime.combine(first_day, time(0), tzinfo=UTC)
    answered = await answered_questions(pool, start, start + timedelta(days=(last_day - first_day).days + 1), accounts)
    return [
        AccountCost(name, brand, dict(counts), spend(counts, prices), answered.get(name, 0))
        for (brand, name), counts in sorted(by_account.items())
    ]


def cost_text(costs: Sequence[AccountCost], first_day: date, last_day: date) -> str:
    """The `cost` command's table."""
    lines = [f"Estimated X API spend, UTC days {first_day} to {last_day} (docs/cost.md)"]
    lines.append(f"{'brand':<12} {'account':<20} {'kind':<15} {'resources':>10} {'dollars':>10}")
    for c in costs:
        for kind, n in sorted(c.counts.items()):
            lines.append(f"{c.brand:<12} {c.account:<20} {kind:<15} {n:>10} {'':>10}")
        per = f"{c.per_answered:.4f} per answered question" if c.per_answered is not None else "no answered question"
        lines.append(f"{c.brand:<12} {c.account:<20} {'total':<15} {sum(c.counts.values()):>10} {c.dollars:>10.4f}")
        lines.append(f"{'':<12} {'':<20} {c.answered} answered question(s): {per}")
    if not costs:
        lines.append("nothing billed in this period")
    return "\n".join(lines) + "\n"
