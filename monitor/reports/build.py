"""Building a report from the stored facts: one snapshot of aggregates, shaped into the model."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.domain.cost import Prices, spend
from monitor.domain.figures import DEFAULT_HOURS, Hours
from monitor.reports.model import (
    BUCKET_EDGES,
    AgentFigures,
    Bucket,
    CostRow,
    Day,
    Figures,
    LongWait,
    PolicyNote,
    Report,
    Row,
)
from monitor.reports.peers import compare
from monitor.reports.period import Period
from monitor.store import cost
from monitor.store.reports import ReportQuery, ReportStore

Key = tuple[str | None, str | None, str | None]


class ReportError(ValueError):
    """A report that cannot be made as asked (an unknown brand…), with a message for the user."""


@dataclass(frozen=True)
class ReportRequest:
    period: Period
    hours: Hours = DEFAULT_HOURS
    brands: tuple[str, ...] = ()
    """Only these brands (all when empty)."""
    longest: int = 10


def by_scope(counts: Iterable[Any], percentiles: Iterable[Any]) -> dict[Key, Figures]:
    """Figures by (brand, channel, account), None where a level is rolled up."""
    medians = {(r["brand"], r["channel"], r["account"]): r["first_percentiles"] or (None, None) for r in percentiles}
    out = {}
    for r in counts:
        key = (r["brand"], r["channel"], r["account"])
        median, p90 = medians.get(key, (None, None))
        out[key] = Figures(
            waits_opened=r["waits_opened"],
            questions=r["questions"],
            answered=r["answered"],
            first_waits=r["first_waits"],
            first_answered=r["first_answered"],
            median_first_seconds=median,
            p90_first_seconds=p90,
            within_sla=r["within_sla"],
            breaches=r["breaches"],
        )
    return out


async def scope_figures(
    store: ReportStore,
    account_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    as_of: datetime,
    hours: Hours = DEFAULT_HOURS,
) -> dict[Key, Figures]:
    """A report's figures of these accounts' waits opened in [start, end) as of `as_of`, by
    (brand, channel, account) with None where a level is rolled up: (None, None, None) is the total."""
    rows = await store.figures(account_ids, start, end, as_of=as_of, hours=hours, bucket_edges=BUCKET_EDGES)
    return by_scope(rows.counts, [r for r in rows.first_responses if r["part"] == "scope"])


def _agent_figures(rows: Iterable[Any]) -> tuple[list[AgentFigures], list[AgentFigures]]:
    """(teams, agents) from the per-team and per-agent rows, teams by most answers, unsigned last."""
    teams: list[AgentFigures] = []
    agents: list[AgentFigures] = []
    for r in rows:
        median, p90 = r["percentiles"] or (None, None)
        figures = AgentFigures(r["team"], r["agent"], r["signed"], r["answers"], r["within_sla"], median, p90)
        if r["team_total"]:
            teams.append(figures)
        elif r["signed"]:
            agents.append(figures)
    teams.sort(key=lambda t: (not t.signed, -t.answers, t.team is None, t.team or ""))
    order = {t.team: i for i, t in enumerate(teams) if t.signed}
    agents.sort(key=lambda a: (order.get(a.team, len(order)), -a.answers, a.agent or ""))
    return teams, agents


async def build_report(
    store: ReportStore,
    request: ReportRequest,
    *,
    as_of: datetime,
    policies: Sequence[PolicyNote] = (),
    prices: Prices | None = None,
) -> Report:
    """The report of `request.period` (and the period before it) as of `as_of`; with `prices`,
    what the X accounts' reads cost over the period's days (taken as UTC days: X bills by them)."""
    period = request.period
    previous = period.previous()
    brands = tuple(dict.fromkeys(request.brands))
    if brands:
        known = await store.brands()
        unknown = [b for b in brands if b not in known]
        if unknown:
            raise ReportError(f"unknown brand(s) {', '.join(map(repr, unknown))} (known: {', '.join(known) or 'none'})")
    accounts = await store.accounts(brands or None)
    hour_starts, hour_days, hour_cells = period.hours()
    rows = await store.read(
        ReportQuery(
            account_ids=[a["id"] for a in accounts],
            previous_start=previous.start,
            start=period.start,
            end=period.end,
            as_of=as_of,
            timezone=period.timezone,
            hours=request.hours,
            bucket_edges=BUCKET_EDGES,
            hour_starts=hour_starts,
            hour_days=hour_days,
            hour_cells=hour_cells,
            longest=request.longest,
        )
    )
    parts: dict[str, list[Any]] = {"scope": [], "day": [], "cell": []}
    for r in rows.cohort:
        parts[r["part"]].append(r)
    firsts = [r for r in rows.first_responses if r["part"] == "scope"]
    current = by_scope(parts["scope"], firsts)
    before = by_scope(rows.previous_counts, [r for r in rows.previous_first_responses if r["part"] == "scope"])

    def row(key: Key) -> Row:
        return Row(*key, current=current.get(key, Figures()), previous=before.get(key, Figures()))

    brand_names = list(dict.fromkeys(a["brand"] for a in accounts))
    channel_keys = list(dict.fromkeys((a["brand"], a["channel"]) for a in accounts))

    per_day: dict[int, dict[str, int]] = {}
    day_sla: dict[int, tuple[int, int]] = {}
    for r in parts["day"]:
        per_day.setdefault(r["slot"], {})[r["channel"]] = r["waits_opened"]
        within, breaches = day_sla.get(r["slot"], (0, 0))
        day_sla[r["slot"]] = (within + r["within_sla"], breaches + r["breaches"])
    days = [
        Day(period.first_day + timedelta(days=i), per_day.get(i, {}), *day_sla.get(i, (0, 0)))
        for i in range(period.days)
    ]

    counts = {r["bucket"]: r["waits"] for r in rows.first_responses if r["part"] == "bucket"}
    edges = (0.0, *BUCKET_EDGES)
    distribution = [
        Bucket(lower, edges[i + 1] if i + 1 < len(edges) else None, counts.get(i, 0)) for i, lower in enumerate(edges)
    ]
    heatmap = [[0] * 24 for _ in range(7)]
    for r in parts["cell"]:
        heatmap[r["slot"] // 24][r["slot"] % 24] = r["breaches"]
    longest = [
        LongWait(
            r["brand"],
            r["channel"],
            r["account"],
            r["kind"],
            r["thread_kind"],
            r["customer_handle"],
            r["opened_at"],
            r["closed_at"],
            r["waited_seconds"],
            r["business_seconds"],
            r["target_seconds"],
            r["deadline"],
            r["url"],
            r["reason"],
        )
        for r in rows.longest
    ]
    total = row((None, None, None))
    teams, agents = _agent_figures(rows.agents)
    return Report(
        period=period,
        previous_period=previous,
        as_of=as_of,
        hours=request.hours,
        brands_filter=brands,
        total=total,
        brands=[row((b, None, None)) for b in brand_names],
        channels=[row((b, c, None)) for b, c in channel_keys],
        accounts=[row((a["brand"], a["channel"], a["name"])) for a in accounts],
        days=days,
        distribution=distribution,
        unanswered_first=total.current.first_waits - total.current.first_answered,
        heatmap=heatmap,
        longest=longest,
        policies=list(policies),
        teams=teams,
        agents=agents,
        costs=await _costs(store, prices, period, [a["name"] for a in accounts]) if prices is not None else [],
        encrypted_waits=sum(r["waits"] for r in rows.encrypted),
        peers=await compare(store.pool, brands, period.start, period.end, as_of=as_of, hours=request.hours),
    )


async def _costs(store: ReportStore, prices: Prices, period: Period, accounts: Sequence[str]) -> list[CostRow]:
    """The estimated spend of these accounts over the period (docs/cost.md)."""
    end_day = period.last_day + timedelta(days=1)
    by_account = await cost.billed_by_account(store.pool, period.first_day, end_day, accounts)
    answered = await cost.answered_questions(store.pool, period.start, period.end, accounts)
    return [
        CostRow(brand, name, sum(counts.values()), spend(counts, prices), answered.get(name, 0))
        for (brand, name), counts in sorted(by_account.items())
    ]
