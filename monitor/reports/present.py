"""What every rendering shows of a figure: its text, its change, and whether the change is good."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from monitor.reports.i18n import Words
from monitor.reports.model import AgentFigures, Figures, LongWait, Report, Row

Kind = Literal["count", "share", "duration"]
Tone = Literal["good", "bad", "neutral"]


@dataclass(frozen=True)
class Metric:
    key: str
    """The i18n key of its name, also its name in CSV and JSON."""
    value: Callable[[Figures], float | int | None]
    kind: Kind
    better: Literal["up", "down"] | None
    """Which way is an improvement (None: neither, e.g. volumes)."""


METRICS: tuple[Metric, ...] = (
    Metric("questions", lambda f: f.questions, "count", None),
    Metric("waits", lambda f: f.waits_opened, "count", None),
    Metric("response_rate", lambda f: f.response_rate, "share", "up"),
    Metric("median_first", lambda f: f.median_first_seconds, "duration", "down"),
    Metric("p90_first", lambda f: f.p90_first_seconds, "duration", "down"),
    Metric("within_sla", lambda f: f.within_sla_share, "share", "up"),
    Metric("breaches", lambda f: f.breaches, "count", "down"),
)


@dataclass(frozen=True)
class Cell:
    value: str
    change: str
    tone: Tone


def value_text(metric: Metric, figures: Figures, words: Words) -> str:
    v = metric.value(figures)
    if metric.kind == "count":
        return words.integer(int(v or 0))
    if metric.kind == "share":
        return words.percent(v)
    return words.duration(v)


def cell(metric: Metric, row: Row, words: Words) -> Cell:
    """The figure of `row` for `metric`, with its change against the previous period."""
    now, before = metric.value(row.current), metric.value(row.previous)
    if metric.kind == "share":
        change = words.points_change(now, before)
    else:
        change = words.relative_change(None if now is None else float(now), None if before is None else float(before))
    tone: Tone = "neutral"
    if metric.better is not None and now is not None and before is not None and now != before and change != "–":
        up = now > before
        tone = "good" if up == (metric.better == "up") else "bad"
    return Cell(value_text(metric, row.current, words), change, tone)


def scope_name(row: Row, words: Words) -> str:
    if row.brand is None:
        return words("total")
    if row.account is not None:
        return row.account
    if row.channel is not None:
        return words.channel(row.channel)
    return row.brand


def subtitle(report: Report, words: Words) -> str:
    """`23–29 March 2026 · compared with 16–22 March 2026`."""
    return f"{words.period(report.period)} · {words('compared_with')} {words.period(report.previous_period)}"


def scope_line(report: Report, words: Words) -> str:
    brands = ", ".join(report.brands_filter) if report.brands_filter else words("all_brands")
    hours = words("hours_business") if report.hours == "business" else words("hours_wall")
    return f"{brands} · {hours}"


def outcome(wait: LongWait, words: Words) -> str:
    if wait.closed_at is None:
        return words("unanswered")
    return words("answered_late") if wait.breached else words("answered_in_time")


def summary_lines(report: Report, words: Words) -> list[tuple[str, str]]:
    """(name, "value (change)") of the total's figures: the short summary (Slack, email)."""
    out = []
    for metric in METRICS:
        c = cell(metric, report.total, words)
        out.append((words(metric.key), c.value if c.change == "–" else f"{c.value} ({c.change})"))
    return out


AGENT_ROWS_MAX = 40
"""Agents shown in the PDF and HTML tables (those with the most answers, by team): a page's worth;
the CSV and JSON list every one (a wrong signature rule can make many "agents")."""


@dataclass(frozen=True)
class AgentLine:
    """One line of the per-team and per-agent table: a team (`team`: bold) or one of its agents."""

    name: str
    team: bool
    cells: tuple[str, str, str, str]
    """Answers, median response, P90 response, within SLA."""


def agent_lines(report: Report, words: Words) -> tuple[list[AgentLine], int]:
    """The table's lines (each team, then its agents) and how many agents were left out."""

    def cells(f: AgentFigures) -> tuple[str, str, str, str]:
        return (
            words.integer(f.answers),
            words.duration(f.median_seconds),
            words.duration(f.p90_seconds),
            words.percent(f.within_sla_share),
        )

    shown = report.agents[:AGENT_ROWS_MAX]
    lines: list[AgentLine] = []
    for t in report.teams:
        name = (t.team or words("no_team")) if t.signed else words("unsigned")
        lines.append(AgentLine(name, True, cells(t)))
        lines += [AgentLine(a.agent or "", False, cells(a)) for a in shown if t.signed and a.team == t.team]
    return lines, len(report.agents) - len(shown)


AGENT_COLUMNS = ("answers", "median_response", "p90_response", "within_sla")
"""The i18n keys of the table's columns, after the team or agent's name."""
