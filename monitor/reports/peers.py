"""The report's "You and your peers" section (docs/peers.md): each brand's public X threads and its
peers', over the report's period, as of its instant, with its definitions and its hours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from monitor.reports.model import Figures
from monitor.sources.x.peers import MIN_RESULTS, SEARCH_REACH
from monitor.store.peers import PeerComparison, peer_name
from monitor.store.reports import Hours

RESPONSE_COLUMN: dict[Hours, str] = {"business": "business_seconds", "wall": "wall_seconds"}


@dataclass(frozen=True)
class Compared:
    """One line of the comparison: a brand (its public X threads) or one of its peers."""

    brand: str
    name: str
    """The brand's name, or the peer's."""
    handle: str | None
    """The peer's X handle (None: the brand's own line)."""
    figures: Figures
    reads: int | None = None
    """Posts read of the peer on the UTC days the period touches (billed by X)."""
    days_at_budget: int | None = None
    """Of those days, the ones on which its daily budget ran out."""
    read_from: datetime | None = None
    """How far back the peer's posts could be read: 7 days before its stream was first polled
    (None: never polled yet)."""

    @property
    def peer(self) -> bool:
        return self.handle is not None

    def partial(self, start: datetime) -> bool:
        """The peer's posts could be read from after the period's start only (or not at all)."""
        return self.peer and (self.read_from is None or self.read_from > start)


def _figures(r: asyncpg.Record | None) -> Figures:
    if r is None:
        return Figures()
    return Figures(
        waits_opened=r["waits_opened"],
        questions=r["questions"],
        answered=r["answered"],
        first_waits=r["first_waits"],
        first_answered=r["first_answered"],
        median_first_seconds=r["median_first_seconds"],
        p90_first_seconds=r["p90_first_seconds"],
        within_sla=r["within_sla"],
        breaches=r["breaches"],
    )


async def compare(
    pool: asyncpg.Pool,
    brands: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    as_of: datetime,
    hours: Hours,
) -> list[Compared]:
    """Each brand (of `brands`; all when empty) that has peers, then its peers, over the waits opened
    in [start, end) as of `as_of`; nothing when no brand has peers."""
    store = PeerComparison(pool)
    peers = await store.peers(brands or None, start, end, least=MIN_RESULTS)
    if not peers:
        return []
    end = min(end, as_of)
    rows = await store.figures(
        sorted({p.brand for p in peers}), min(start, end), end, as_of=as_of, column=RESPONSE_COLUMN[hours]
    )
    by = {(r["brand"], r["peer_id"]): r for r in rows}
    out: list[Compared] = []
    for brand in dict.fromkeys(p.brand for p in peers):
        out.append(Compared(brand, brand, None, _figures(by.get((brand, None)))))
        out += [
            Compared(
                brand,
                peer_name(p.name, brand),
                p.handle,
                _figures(by.get((brand, p.id))),
                p.reads,
                p.days_at_budget,
                None if p.monitored_since is None else p.monitored_since - SEARCH_REACH,
            )
            for p in peers
            if p.brand == brand
        ]
    return out
