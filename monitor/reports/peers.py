"""The report's "You and your peers" section (docs/peers.md): each brand's public X threads and its
peers', over the report's period, as of its instant, with its definitions and its hours."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from monitor.domain.figures import Hours
from monitor.reports.model import Compared, Figures
from monitor.store.peers import PeerComparison, peer_name


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
    # Imported here: the X source brings aiohttp, tweepy and the simulator, which a report never uses
    # (`inbox-monitor report` starts about 0.3 s sooner without them).
    from monitor.sources.x.peers import MIN_RESULTS, SEARCH_REACH

    store = PeerComparison(pool)
    peers = await store.peers(brands or None, start, end, least=MIN_RESULTS)
    if not peers:
        return []
    end = min(end, as_of)
    rows = await store.figures(sorted({p.brand for p in peers}), min(start, end), end, as_of=as_of, hours=hours)
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
