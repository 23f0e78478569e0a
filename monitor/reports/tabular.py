"""The report as data files: CSV (one row per scope and period) and JSON (everything)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from typing import Any

from monitor.domain.figures import BREACHED, SECONDS_DIGITS, SHARE_DIGITS, rounded
from monitor.reports.model import AgentFigures, Figures, Report, Row
from monitor.reports.present import response_clock, sla_clock

AGENT_CSV_COLUMNS = ("team", "agent", "answers", "median_response_seconds", "p90_response_seconds")
"""The per-team and per-agent figures' own columns (docs/agents.md)."""
PEER_CSV_COLUMNS = ("posts_read", "days_at_budget")
"""The peers' own columns (docs/peers.md)."""

CSV_COLUMNS = (
    "scope",
    "brand",
    "channel",
    "account",
    "period",
    "first_day",
    "last_day",
    "timezone",
    "hours",
    "sla_hours",
    "questions",
    "waits_opened",
    "answered",
    "response_rate",
    "first_waits",
    "first_answered",
    "median_first_response_seconds",
    "p90_first_response_seconds",
    "within_sla",
    "breaches",
    "within_sla_share",
    *AGENT_CSV_COLUMNS,
    *PEER_CSV_COLUMNS,
)
"""Rows `compared_brand` (a brand's public X questions) and `compared_peer` (one of its peers, by
name in `account`) are "You and your peers" (docs/peers.md): current period only, and the peers'
`posts_read` and `days_at_budget`, empty on every other row."""


def _scope(row: Row) -> str:
    if row.brand is None:
        return "total"
    if row.account is not None:
        return "account"
    return "channel" if row.channel is not None else "brand"


FIGURE_COLUMNS = CSV_COLUMNS[CSV_COLUMNS.index("questions") : CSV_COLUMNS.index("team")]


def _share(value: float | None) -> float | None:
    return rounded(value, SHARE_DIGITS)


def _seconds(value: float | None) -> float | None:
    return rounded(value, SECONDS_DIGITS)


def figures_dict(f: Figures) -> dict[str, Any]:
    """The figures as the data files give them: shares (0..1) to SHARE_DIGITS decimals, seconds
    to SECONDS_DIGITS (docs/definitions.md, "Precision")."""
    return {
        "questions": f.questions,
        "waits_opened": f.waits_opened,
        "answered": f.answered,
        "response_rate": _share(f.response_rate),
        "first_waits": f.first_waits,
        "first_answered": f.first_answered,
        "median_first_response_seconds": _seconds(f.median_first_seconds),
        "p90_first_response_seconds": _seconds(f.p90_first_seconds),
        "within_sla": f.within_sla,
        "breaches": f.breaches,
        "within_sla_share": _share(f.within_sla_share),
    }


def agent_dict(f: AgentFigures) -> dict[str, Any]:
    """A team's, an agent's or the unsigned replies' figures (the current period)."""
    return {
        "scope": ("agent" if f.agent is not None else "team") if f.signed else "unsigned",
        "team": f.team,
        "agent": f.agent,
        "answers": f.answers,
        "median_response_seconds": _seconds(f.median_seconds),
        "p90_response_seconds": _seconds(f.p90_seconds),
        "within_sla": f.within_sla,
        "within_sla_share": _share(f.within_sla_share),
    }


def _rows(report: Report) -> list[Row]:
    return [report.total, *report.brands, *report.channels, *report.accounts]


def render_csv(report: Report) -> bytes:
    """UTF-8 CSV with a header; numbers unformatted (seconds, shares between 0 and 1), rounded.

    `hours`: the clock of the response times (wall, business, or mixed: business hours where the
    policy has a calendar); `sla_hours`: the clock of within SLA and breaches."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in _rows(report):
        for name, period, figures in (
            ("current", report.period, row.current),
            ("previous", report.previous_period, row.previous),
        ):
            values = figures_dict(figures)
            writer.writerow(
                [
                    _scope(row),
                    row.brand or "",
                    row.channel or "",
                    row.account or "",
                    name,
                    period.first_day.isoformat(),
                    period.last_day.isoformat(),
                    period.timezone,
                    response_clock(report),
                    sla_clock(report),
                    *("" if values[c] is None else values[c] for c in FIGURE_COLUMNS),
                    *[""] * len(AGENT_CSV_COLUMNS),
                    *[""] * len(PEER_CSV_COLUMNS),
                ]
            )
    period = report.period
    for f in [*report.teams, *report.agents]:
        values = agent_dict(f)
        line = dict.fromkeys(CSV_COLUMNS, "")
        line.update(
            scope=values["scope"],
            period="current",
            first_day=period.first_day.isoformat(),
            last_day=period.last_day.isoformat(),
            timezone=period.timezone,
            hours=response_clock(report),
            sla_hours=sla_clock(report),
        )
        line.update({k: "" if v is None else v for k, v in values.items() if k != "scope"})
        writer.writerow([line[c] for c in CSV_COLUMNS])
    for c in report.peers:
        peer_line: dict[str, object] = dict.fromkeys(CSV_COLUMNS, "")
        peer_line.update(
            scope="compared_peer" if c.peer else "compared_brand",
            brand=c.brand,
            channel="x",
            account=c.name if c.peer else "",
            period="current",
            first_day=period.first_day.isoformat(),
            last_day=period.last_day.isoformat(),
            timezone=period.timezone,
            hours=response_clock(report),
            sla_hours=sla_clock(report),
            posts_read="" if c.reads is None else c.reads,
            days_at_budget="" if c.days_at_budget is None else c.days_at_budget,
        )
        peer_line.update({k: "" if v is None else v for k, v in figures_dict(c.figures).items()})
        writer.writerow([peer_line[col] for col in CSV_COLUMNS])
    return out.getvalue().encode("utf-8")


def report_dict(report: Report) -> dict[str, Any]:
    """Everything in the report, as JSON-ready data."""

    def period(p: Any) -> dict[str, Any]:
        return {
            "kind": p.kind,
            "first_day": p.first_day,
            "last_day": p.last_day,
            "timezone": p.timezone,
            "start": p.start,
            "end": p.end,
            "label": p.label,
        }

    def row(r: Row) -> dict[str, Any]:
        return {
            "scope": _scope(r),
            "brand": r.brand,
            "channel": r.channel,
            "account": r.account,
            "current": figures_dict(r.current),
            "previous": figures_dict(r.previous),
        }

    return {
        "period": period(report.period),
        "previous_period": period(report.previous_period),
        "as_of": report.as_of,
        "hours": response_clock(report),
        "sla_hours": sla_clock(report),
        "brands_filter": list(report.brands_filter),
        "total": row(report.total),
        "brands": [row(r) for r in report.brands],
        "channels": [row(r) for r in report.channels],
        "accounts": [row(r) for r in report.accounts],
        "days": [
            {
                "day": d.day,
                "waits_opened": d.waits_opened,
                "waits_by_channel": d.waits_by_channel,
                "within_sla": d.within_sla,
                "breaches": d.breaches,
                "within_sla_share": _share(d.within_sla_share),
            }
            for d in report.days
        ],
        "first_response_distribution": [
            {"lower_seconds": b.lower, "upper_seconds": b.upper, "waits": b.waits} for b in report.distribution
        ],
        "unanswered_first_waits": report.unanswered_first,
        "breach_heatmap": {"rows": "weekday (0 = Monday)", "columns": "local hour", "values": report.heatmap},
        "longest_waits": [
            {
                "brand": w.brand,
                "channel": w.channel,
                "account": w.account,
                "kind": w.kind,
                "thread_kind": w.thread_kind,
                "customer_handle": w.customer_handle,
                "opened_at": w.opened_at,
                "closed_at": w.closed_at,
                "waited_seconds": _seconds(w.waited_seconds),
                "business_seconds": _seconds(w.business_seconds),
                "target_seconds": w.target_seconds,
                "deadline": w.deadline,
                "outcome": w.outcome(report.as_of),
                "breached": w.outcome(report.as_of) in BREACHED,
                "url": w.url,
                "reason": w.reason,
            }
            for w in report.longest
        ],
        "policies": [vars(p) for p in report.policies],
        "teams": [agent_dict(t) for t in report.teams],
        "agents": [agent_dict(a) for a in report.agents],
        "costs": [{**vars(c), "per_answered": c.per_answered} for c in report.costs],
        "peers": [
            {
                "brand": c.brand,
                "name": c.name,
                "handle": c.handle,
                "peer": c.peer,
                "current": figures_dict(c.figures),
                "posts_read": c.reads,
                "days_at_budget": c.days_at_budget,
                "read_from": c.read_from,
            }
            for c in report.peers
        ],
    }


def _default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def render_json(report: Report) -> bytes:
    return json.dumps(report_dict(report), default=_default, ensure_ascii=False, indent=2).encode("utf-8")
