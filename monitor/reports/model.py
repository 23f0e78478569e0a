"""The report as data: every figure, chart series and table row, before any rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from monitor.domain import figures
from monitor.domain.figures import Hours, Outcome
from monitor.reports.period import Period

Language = Literal["fr", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "en")
FORMATS = ("pdf", "html", "csv", "json")

# Edges of the first-response distribution: the usual promises (15 min, 30 min, 1 h) and the
# steps a director reads at a glance (the same day, the next day).
BUCKET_EDGES: tuple[float, ...] = (300, 900, 1800, 3600, 7200, 14400, 28800, 86400)


@dataclass(frozen=True)
class Figures:
    """What happened to the waits opened in a period, as of the report's instant."""

    waits_opened: int = 0
    questions: int = 0
    """Inbound questions of these waits (a wait gathers every question asked before the reply)."""
    answered: int = 0
    first_waits: int = 0
    first_answered: int = 0
    median_first_seconds: float | None = None
    p90_first_seconds: float | None = None
    within_sla: int = 0
    breaches: int = 0

    @property
    def response_rate(self) -> float | None:
        """Share of waits answered (docs/definitions.md)."""
        return figures.response_rate(self.answered, self.waits_opened)

    @property
    def decided(self) -> int:
        """Waits whose SLA outcome is known: answered in time, or breached."""
        return self.within_sla + self.breaches

    @property
    def within_sla_share(self) -> float | None:
        """Share of decided waits answered within their target (docs/definitions.md)."""
        return figures.within_sla_share(self.within_sla, self.breaches)


@dataclass(frozen=True)
class Row:
    """Figures of one scope (everything, a brand, a brand's channel, an account), both periods."""

    brand: str | None
    channel: str | None
    account: str | None
    current: Figures
    previous: Figures


@dataclass(frozen=True)
class Day:
    """Waits opened on one local day, per channel, and how many were answered within SLA."""

    day: date
    waits_by_channel: dict[str, int]
    within_sla: int
    breaches: int

    @property
    def waits_opened(self) -> int:
        return sum(self.waits_by_channel.values())

    @property
    def within_sla_share(self) -> float | None:
        return figures.within_sla_share(self.within_sla, self.breaches)


@dataclass(frozen=True)
class Bucket:
    """First responses that took [lower, upper) seconds (upper None: no limit)."""

    lower: float
    upper: float | None
    waits: int


@dataclass(frozen=True)
class LongWait:
    brand: str
    channel: str
    account: str
    kind: str
    thread_kind: str
    customer_handle: str | None
    opened_at: datetime
    closed_at: datetime | None
    """None when not answered as of the report's instant."""
    waited_seconds: float
    """Wall-clock seconds the customer waited (until the reply, or until the report's instant)."""
    business_seconds: float | None
    target_seconds: float
    deadline: datetime
    url: str | None
    reason: str | None = None
    """Why the question that opened the wait needs a reply: the rule (`question_mark`,
    `reply_to_brand`, ...) or `corrected` by a person."""

    def outcome(self, as_of: datetime) -> Outcome:
        """What became of it as of the report's instant (`closed_at` is None when answered after it)."""
        return figures.outcome(closed_at=self.closed_at, deadline=self.deadline, as_of=as_of)


@dataclass(frozen=True)
class AgentFigures:
    """The waits of the period that an agent's (or a team's) replies answered (docs/agents.md)."""

    team: str | None
    """The roster's team; None: no team (or, on the unsigned row, none known)."""
    agent: str | None
    """The agent; None on a team's row."""
    signed: bool
    """False: the replies without a signature."""
    answers: int
    within_sla: int
    """Answered by the wait's deadline."""
    median_seconds: float | None
    p90_seconds: float | None

    @property
    def within_sla_share(self) -> float | None:
        """Share of the answers given by the deadline (every answer's outcome is known)."""
        return figures.share(self.within_sla, self.answers)


@dataclass(frozen=True)
class PolicyNote:
    """What the methodology says of one SLA policy."""

    name: str
    public_first_seconds: float
    public_next_seconds: float
    private_first_seconds: float
    private_next_seconds: float
    business_hours: bool
    """The SLA clock runs in the calendar's opening hours (targets, deadlines, breaches)."""
    timezone: str | None
    """The calendar's time zone; None: the policy has no calendar (business time is wall time)."""
    hours: dict[str, list[str]]
    holidays: str | None


@dataclass(frozen=True)
class Compared:
    """One line of "You and your peers" (docs/peers.md): a brand's public X threads, or one of its
    peers, over the report's period."""

    brand: str
    name: str
    """The brand's name, or the peer's."""
    handle: str | None
    """The peer's X handle (None: the brand's own line)."""
    figures: Figures
    reads: int | None = None
    """Posts read of the peer on the UTC days the period touches (billed by X)."""
    days_at_budget: int | None = None
    """Of those days, the ones on which its daily read budget ran out."""
    read_from: datetime | None = None
    """How far back the peer's posts could be read: 7 days before its stream was first polled
    (None: never polled yet)."""

    @property
    def peer(self) -> bool:
        return self.handle is not None

    def partial(self, start: datetime) -> bool:
        """The peer's posts could be read from after the period's start only (or not at all)."""
        return self.peer and (self.read_from is None or self.read_from > start)


@dataclass(frozen=True)
class CostRow:
    """What one X account's API reads cost over the report's period (docs/cost.md)."""

    brand: str
    account: str
    resources: int
    """Resources X billed (each once per UTC day)."""
    dollars: float
    answered: int
    """Questions answered in the period."""

    @property
    def per_answered(self) -> float | None:
        return self.dollars / self.answered if self.answered else None


@dataclass(frozen=True)
class Report:
    """One SLA report: figures per scope for a period and the one before, charts' data, tables."""

    period: Period
    previous_period: Period
    as_of: datetime
    hours: Hours
    brands_filter: tuple[str, ...]
    total: Row
    brands: list[Row]
    channels: list[Row]
    """Per brand and channel."""
    accounts: list[Row]
    days: list[Day]
    distribution: list[Bucket]
    """First responses (answered ones) by duration."""
    unanswered_first: int
    heatmap: list[list[int]]
    """Breached waits by the weekday (0 = Monday) and local hour they were opened at: [7][24]."""
    longest: list[LongWait]
    policies: list[PolicyNote] = field(default_factory=list)
    teams: list[AgentFigures] = field(default_factory=list)
    """Per team, most answers first; the unsigned replies last."""
    agents: list[AgentFigures] = field(default_factory=list)
    """Per agent, by team (as `teams`), most answers first."""
    costs: list[CostRow] = field(default_factory=list)
    """The X accounts' estimated API spend (accounts with billed reads only)."""
    encrypted_waits: int = 0
    """Waits of the period opened by an encrypted chat (XChat): counted like any, with no text."""
    peers: list[Compared] = field(default_factory=list)
    """Each brand that has peers, then its peers ("You and your peers"); empty: no peers."""

    @property
    def channel_names(self) -> list[str]:
        return sorted({r.channel for r in self.channels if r.channel})
