"""What a report says of the configuration: its policies (for the methodology), its time zone."""

from __future__ import annotations

from monitor.config import Config
from monitor.reports.model import PolicyNote


def policy_notes(config: Config) -> list[PolicyNote]:
    """The policies the configured accounts use, as the methodology describes them."""
    used = {a.policy for _, a in config.accounts()}
    notes = []
    for name, p in config.policies.items():
        if name not in used:
            continue
        cal = p.calendar
        notes.append(
            PolicyNote(
                name=name,
                public_first_seconds=p.public.first.total_seconds(),
                public_next_seconds=p.public.next.total_seconds(),
                private_first_seconds=p.private.first.total_seconds(),
                private_next_seconds=p.private.next.total_seconds(),
                business_hours=p.business_hours_only and cal is not None,
                timezone=cal.timezone if cal else None,
                hours={day: list(periods) for day, periods in cal.hours.items()} if cal else {},
                holidays=(
                    cal.holidays.country + (f"-{cal.holidays.subdiv}" if cal.holidays.subdiv else "")
                    if cal and cal.holidays
                    else None
                ),
            )
        )
    return notes


def default_timezone(config: Config) -> str:
    """The calendars' time zone when the policies in use agree on one, else UTC."""
    used = {a.policy for _, a in config.accounts()}
    zones = {p.calendar.timezone for n, p in config.policies.items() if n in used and p.calendar is not None}
    return zones.pop() if len(zones) == 1 else "UTC"
