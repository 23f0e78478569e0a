"""What every rendering shows of a figure: its text, its change, and whether the change is good."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from xml.sax.saxutils import escape

from monitor.domain.figures import BREACHED
from monitor.reports.i18n import Words
from monitor.reports.model import AgentFigures, Figures, LongWait, Report, Row
from monitor.reports.period import zone

Kind = Literal["count", "share", "duration"]
Tone = Literal["good", "bad", "neutral"]
Clock = Literal["wall", "business", "mixed", "policy"]
"""Which hours a set of figures is counted in: wall time, business hours, business hours where a
policy has a calendar and wall time elsewhere, or each policy's own (when the policies are unknown)."""


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


PEER_METRICS: tuple[Metric, ...] = (
    Metric("questions", lambda f: f.questions, "count", None),
    Metric("response_rate", lambda f: f.response_rate, "share", "up"),
    Metric("median_first", lambda f: f.median_first_seconds, "duration", "down"),
    Metric("within_target", lambda f: f.within_sla_share, "share", "up"),
)
"""The figures of "You and your peers": within target is the share within the brand's targets."""


@dataclass(frozen=True)
class Cell:
    value: str
    change: str
    """Against the previous period; "" when there is nothing to compare with (nothing is said)."""
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
    if metric.better is not None and now is not None and before is not None and now != before and change:
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
    """`23–29 March 2026 · compared with 16–22 March 2026` (just the period when the previous
    one has no data)."""
    if not has_previous(report):
        return words.period(report.period)
    return f"{words.period(report.period)} · {words('compared_with')} {words.period(report.previous_period)}"


def has_previous(report: Report) -> bool:
    """Whether the previous period has any wait to compare with (else no change is shown)."""
    return report.total.previous.waits_opened > 0


def _clock(flags: list[bool]) -> Clock:
    if not flags or all(flags):
        return "business"
    return "wall" if not any(flags) else "mixed"


def response_clock(report: Report) -> Clock:
    """The hours the response times (median, P90) are in: wall time when asked, or when no policy
    has a calendar (business time is wall time then); business hours when every one has one."""
    if report.hours == "wall":
        return "wall"
    return _clock([p.timezone is not None for p in report.policies])


def sla_clock(report: Report) -> Clock:
    """The hours the SLA figures (within SLA, breaches) count: each policy's SLA clock."""
    return _clock([p.business_hours for p in report.policies]) if report.policies else "policy"


def has_business_time(report: Report) -> bool:
    """Whether a business time differs from the wall time anywhere (some policy has a calendar)."""
    return not report.policies or any(p.timezone is not None for p in report.policies)


def scope_line(report: Report, words: Words) -> str:
    """`all brands · response times in wall time · SLA in business hours`."""
    brands = ", ".join(report.brands_filter) if report.brands_filter else words("all_brands")
    return f"{brands} · {words(f'response_clock_{response_clock(report)}')} · {words(f'sla_clock_{sla_clock(report)}')}"


def hours_note(report: Report, words: Words) -> str:
    """The methodology's paragraph saying which hours every figure uses."""
    return words("hours_note").format(
        response=words(f"clock_{response_clock(report)}"),
        sla=words(f"clock_{sla_clock(report)}"),
        timezone=report.period.timezone,
    )


def outcome(wait: LongWait, words: Words, as_of: datetime) -> tuple[str, Tone]:
    """What became of a long wait as of the report's instant, in words, and its tone."""
    result = wait.outcome(as_of)
    return words(result), "bad" if result in BREACHED else "neutral" if result == "waiting" else "good"


@dataclass(frozen=True)
class PeerLine:
    """One line of "You and your peers", as every rendering shows it."""

    name: str
    sub: str
    """Under the name: the peer's @handle, or what the brand's line counts."""
    own: bool
    """The brand's own line (the peers follow it)."""
    values: list[str]
    """The PEER_METRICS, in order."""
    reads: str
    """Posts read of the peer ("" on the brand's line)."""
    note: str
    """From when the peer could be read, and the days its budget ran out ("" when nothing to say)."""


def peer_lines(report: Report, words: Words) -> list[PeerLine]:
    """The lines of "You and your peers" (none when no brand of the report has peers)."""
    out = []
    for c in report.peers:
        notes = []
        if c.peer and c.partial(report.period.start):
            when = c.read_from
            notes.append(
                words("peer_not_read")
                if when is None
                else words("peer_read_from").format(
                    date=words.day(when.astimezone(zone(report.period.timezone)).date())
                )
            )
        if c.days_at_budget == 1:
            notes.append(words("peer_budget_day"))
        elif c.days_at_budget:
            notes.append(words("peer_budget_days").format(days=words.integer(c.days_at_budget)))
        out.append(
            PeerLine(
                name=c.name,
                sub=f"@{c.handle}" if c.handle else words("peers_own"),
                own=not c.peer,
                values=[value_text(m, c.figures, words) for m in PEER_METRICS],
                reads=words.integer(c.reads or 0) if c.peer else "",
                note=" · ".join(notes),
            )
        )
    return out


def summary_lines(report: Report, words: Words) -> list[tuple[str, str]]:
    """(name, "value (change)") of the total's figures: the short summary (Slack, email)."""
    out = []
    for metric in METRICS:
        c = cell(metric, report.total, words)
        out.append((words(metric.key), f"{c.value} ({c.change})" if c.change else c.value))
    return out


def policy_lines(report: Report, words: Words) -> list[str]:
    """One line per policy for the methodology, with <b> markup (values escaped)."""
    out = []
    for p in report.policies:
        d = words.round_duration
        parts = [
            words("policy_targets").format(
                public_first=d(p.public_first_seconds),
                public_next=d(p.public_next_seconds),
                private_first=d(p.private_first_seconds),
                private_next=d(p.private_next_seconds),
            )
        ]
        if p.timezone is None:
            parts.append(words("always_open"))
        else:
            parts.append(words("policy_calendar").format(timezone=p.timezone, hours=words.weekly_hours(p.hours)))
            if p.holidays:
                parts.append(words("policy_holidays").format(holidays=p.holidays))
            if not p.business_hours:
                parts.append(words("policy_sla_all_hours"))
        text = words.typeset(" ; ".join(parts) if words.language == "fr" else "; ".join(parts))
        out.append(f"<b>{escape(words('policy'))} {escape(p.name)}</b> — {escape(text)}.")
    return out


def methodology(report: Report, words: Words) -> list[str]:
    """The methodology's paragraphs (<b>/<i> markup): the definitions, the hours every figure uses,
    the policies."""
    fixed = words.methodology()
    peers = [words.peer_methodology()] if report.peers else []
    encrypted = [words("encrypted_note").format(waits=report.encrypted_waits)] if report.encrypted_waits else []
    return [*fixed[:-1], hours_note(report, words), fixed[-1], *encrypted, *peers, *policy_lines(report, words)]


def changes_line(report: Report, words: Words) -> str:
    """What the changes are against, or that there is nothing to compare with."""
    previous = words.period(report.previous_period)
    if not has_previous(report):
        return words("no_previous").format(period=previous)
    return f"{words('changes_against')} {previous}."


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


def cost_table(report: Report, words: Words) -> tuple[list[str], list[list[str]]]:
    """The X API spend section: its header and one row per account (empty without billed reads)."""
    header = [words("account"), words("billed_resources"), words("spend_dollars"), words("answered_questions")]
    header.append(words("spend_per_answered"))
    rows = [
        [
            f"{c.account} ({c.brand})",
            words.integer(c.resources),
            words.decimal(c.dollars, 2),
            words.integer(c.answered),
            words.decimal(c.per_answered, 3) if c.per_answered is not None else "–",
        ]
        for c in report.costs
    ]
    return header, rows
