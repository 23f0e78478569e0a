"""SLA policies: which target applies to a wait, and when it is at risk and breached."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

from monitor.domain.calendar import ALWAYS_OPEN, Calendar, business_seconds, deadline
from monitor.domain.model import Channel, ThreadKind, Wait, WaitKind
from monitor.domain.questions import DEFAULT_RULES, QuestionRules


@dataclass(frozen=True, slots=True)
class Targets:
    """Response targets in seconds (business seconds when the policy counts business hours)."""

    first: float
    next: float

    def for_kind(self, kind: WaitKind) -> float:
        return self.first if kind == "first" else self.next


@dataclass(frozen=True)
class PriorityRule:
    """Waits whose questions match a pattern, or whose customer is listed, get these targets."""

    name: str
    targets: Targets
    patterns: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()

    @cached_property
    def _regex(self) -> re.Pattern[str] | None:
        if not self.patterns:
            return None
        return re.compile("|".join(f"(?:{p})" for p in self.patterns), re.IGNORECASE)

    def matches(self, texts: Sequence[str], customer: str | None) -> bool:
        if customer is not None and customer.lower() in {c.lower() for c in self.customers}:
            return True
        regex = self._regex
        return regex is not None and any(regex.search(t) for t in texts)


@dataclass(frozen=True)
class Policy:
    """Targets per kind of thread (and optionally per channel), a calendar, priority rules."""

    name: str
    public: Targets
    private: Targets
    channel_targets: tuple[tuple[Channel, ThreadKind, Targets], ...] = ()
    calendar: Calendar = ALWAYS_OPEN
    business_hours_only: bool = True
    at_risk_share: float = 0.8
    priority_rules: tuple[PriorityRule, ...] = ()
    rules: QuestionRules = field(default=DEFAULT_RULES)
    dm_closes_public: bool = False
    """A brand's private message to a customer also closes that customer's public waits on the
    same account (where a private reply to a comment counts as the answer)."""

    @property
    def sla_calendar(self) -> Calendar:
        """The calendar the SLA clock runs on: business hours, or round the clock."""
        return self.calendar if self.business_hours_only else ALWAYS_OPEN

    def targets_for(
        self,
        channel: Channel,
        thread_kind: ThreadKind,
        texts: Sequence[str] = (),
        customer: str | None = None,
    ) -> Targets:
        for rule in self.priority_rules:
            if rule.matches(texts, customer):
                return rule.targets
        for c, k, targets in self.channel_targets:
            if c == channel and k == thread_kind:
                return targets
        return self.public if thread_kind == "public" else self.private


@dataclass(frozen=True, slots=True)
class Timing:
    """What the policy says of one wait at instant `now`."""

    target_seconds: float
    deadline: datetime
    at_risk_at: datetime
    wall_seconds: float | None
    business_seconds: float | None
    at_risk_reached_at: datetime | None
    breached_at: datetime | None


def evaluate(policy: Policy, wait: Wait, target: float, now: datetime) -> Timing:
    """Deadline, elapsed seconds and the at-risk/breach instants of `wait` (pure).

    A wait is breached at its deadline if it was still open then (answered late or not at all);
    at risk once `at_risk_share` of the target has elapsed. Instants after `now` are not yet
    facts and are None.
    """
    sla_cal = policy.sla_calendar
    opened = wait.opened_at.astimezone(UTC)
    if sla_cal is ALWAYS_OPEN:  # round the clock: plain arithmetic, same result
        due = opened + timedelta(seconds=target)
        risk = opened + timedelta(seconds=target * policy.at_risk_share)
    else:
        due = deadline(sla_cal, opened, target)
        risk = deadline(sla_cal, opened, target * policy.at_risk_share)
    end = wait.closed_at
    wall = business = None
    if end is not None:
        wall = (end.astimezone(UTC) - opened).total_seconds()  # real seconds, DST too
        business = wall if policy.calendar is ALWAYS_OPEN else business_seconds(policy.calendar, opened, end)
    stop = end if end is not None else now + timedelta(days=36500)
    return Timing(
        target_seconds=target,
        deadline=due,
        at_risk_at=risk,
        wall_seconds=wall,
        business_seconds=business,
        at_risk_reached_at=risk if risk <= now and risk < stop else None,
        breached_at=due if due <= now and due < stop else None,
    )
