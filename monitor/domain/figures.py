"""What each reported number means (docs/definitions.md), for the figures computed in Python.

The same definitions in SQL are in `monitor.store.figures`; the report, the demo's summary and the
dashboards take them from there or from here, never from a copy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

Hours = Literal["business", "wall"]
"""Which clock a response time is counted on: the policy calendar's opening hours, or elapsed time."""

DEFAULT_HOURS: Hours = "wall"
"""Response times are what the customer waited unless asked otherwise: the same clock for every
account whatever its calendar, the one public benchmarks use ("answer on X within 30 minutes")."""

Outcome = Literal["answered_in_time", "answered_late", "unanswered_past_target", "waiting"]
"""What became of a wait as of an instant: answered by its deadline, answered after it, still
unanswered past it (both breached), or still unanswered before it (outcome not known yet)."""

BREACHED: frozenset[Outcome] = frozenset({"answered_late", "unanswered_past_target"})

SHARE_DIGITS = 4
"""Decimals of a share (0..1) in CSV and JSON: 0.01 percentage point, ten times finer than the PDF
and HTML show, so a file never disagrees with the page at the page's precision."""
SECONDS_DIGITS = 1
"""Decimals of a duration in seconds in CSV and JSON: a tenth of a second, far below what any SLA
target distinguishes, and free of binary noise such as 74.50000000000001."""


def outcome(*, closed_at: datetime | None, deadline: datetime, as_of: datetime) -> Outcome:
    """The outcome of a wait as of `as_of`: a reply after `as_of` has not happened yet."""
    if closed_at is not None and closed_at <= as_of:
        return "answered_in_time" if closed_at <= deadline else "answered_late"
    return "unanswered_past_target" if deadline <= as_of else "waiting"


def share(part: int, whole: int) -> float | None:
    """part / whole; None when there is nothing to divide (no data, not 0 %)."""
    return part / whole if whole else None


def within_sla_share(within: int, breached: int) -> float | None:
    """Waits answered in time ÷ waits whose outcome is known (answered in time, or breached).

    Still-unanswered waits past their target count as breached; waits still before their
    deadline are left out until their outcome is known."""
    return share(within, within + breached)


def response_rate(answered: int, opened: int) -> float | None:
    """Waits answered ÷ waits opened (first and next waits alike)."""
    return share(answered, opened)


def rounded(value: float | None, digits: int) -> float | None:
    """`value` to `digits` decimals for the data files (None stays None)."""
    return None if value is None else round(value, digits)
