"""What recomputing a thread gives: its waits as stored (with their SLA figures) and each message's flags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple


class WaitRow(NamedTuple):
    """A wait as stored: the domain's wait plus what the policy says of it (a tuple: built for
    every wait of every touched thread, and written as is)."""

    seq: int
    kind: str
    opened_at: datetime
    opened_message: str
    questions: int
    closed_at: datetime | None
    closed_message: str | None
    target_seconds: float
    deadline: datetime
    at_risk_at: datetime
    wall_seconds: float | None
    business_seconds: float | None
    at_risk_reached_at: datetime | None
    breached_at: datetime | None


WAIT_FIELDS: tuple[str, ...] = WaitRow._fields[1:]
"""A stored wait's columns after its thread and `seq`, in the order of `WaitRow`."""


class Flags(NamedTuple):
    """What the rules (or a person) decided of a message, and who sent a brand's reply, stored
    with it (the fields in the order of their columns)."""

    is_question: bool
    is_automatic: bool
    reason: str | None
    """The rule that decided (one of `monitor.domain.questions.REASONS`), None: none did."""
    agent: str | None = None
    """The agent who signed a brand's reply (monitor.domain.agents), None: unknown."""
    team: str | None = None
    """The agent's team, from the roster."""
    app: str | None = None
    """The configured name of the app that sent a brand's reply."""


FLAG_FIELDS: tuple[str, ...] = Flags._fields
"""The stored columns of the flags, in order."""

NO_FLAGS = Flags(False, False, None)
"""A message no rule has looked at (yet)."""


@dataclass(frozen=True, slots=True)
class ThreadOutcome:
    """A thread's waits in order, and the flags of each of its messages by external id."""

    waits: list[WaitRow]
    flags: Mapping[str, Flags]
