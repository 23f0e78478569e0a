"""What each reported number means (docs/definitions.md), in SQL over stored waits (`w`).

The reports (monitor/store/reports.py) and the dashboards (grafana/generate.py) build their queries
from these fragments, so a figure means the same wherever it shows. `as_of` is the SQL expression
of the instant the figures are "as of": a parameter in the reports, `now()` in the dashboards. A
reply after `as_of` has not happened yet. Every condition is true or false, never NULL, so it can be
averaged as well as counted.
"""

from __future__ import annotations

from monitor.domain.figures import Hours

RESPONSE_COLUMN: dict[Hours, str] = {"business": "business_seconds", "wall": "wall_seconds"}
"""The stored response time of an answered wait, by clock."""


def answered(as_of: str) -> str:
    """The wait got a reply by `as_of`."""
    return f"(w.closed_at IS NOT NULL AND w.closed_at <= {as_of})"


def within_sla(as_of: str) -> str:
    """Answered by its deadline (the deadline is stored as an instant: calendars are honoured)."""
    return f"(w.closed_at IS NOT NULL AND w.closed_at <= w.deadline AND w.closed_at <= {as_of})"


def breached(as_of: str) -> str:
    """Its deadline passed without a reply: answered late, or still unanswered past it."""
    return f"(w.deadline <= {as_of} AND (w.closed_at IS NULL OR w.closed_at > w.deadline))"


def decided(as_of: str) -> str:
    """Its SLA outcome is known: answered in time, or breached (not still before its deadline).
    Written as the equivalent "answered, or past its deadline"."""
    return f"({answered(as_of)} OR w.deadline <= {as_of})"


def _and(condition: str, where: str | None) -> str:
    return condition if where is None else f"{condition} AND {where}"


def within_sla_share(as_of: str, where: str | None = None) -> str:
    """Aggregate: answered in time ÷ decided (NULL when nothing is decided), over the waits that
    also meet `where`."""
    return f"avg({within_sla(as_of)}::int) FILTER (WHERE {_and(decided(as_of), where)})"


def response_rate(as_of: str, where: str | None = None) -> str:
    """Aggregate: answered ÷ opened, first and next waits alike (NULL when nothing was opened)."""
    return f"avg({answered(as_of)}::int)" + ("" if where is None else f" FILTER (WHERE {where})")


def first_response(q: float, as_of: str, hours: Hours = "wall", where: str | None = None) -> str:
    """Aggregate: the `q` quantile (percentile_cont: interpolated) of the answered first waits'
    response times, on the `hours` clock."""
    first_answered = f"w.kind = 'first' AND {answered(as_of)}"
    return (
        f"percentile_cont({q:g}) WITHIN GROUP (ORDER BY w.{RESPONSE_COLUMN[hours]})"
        f" FILTER (WHERE {_and(first_answered, where)})"
    )
