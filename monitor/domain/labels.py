"""People's corrections of question decisions: the stored message a correction addresses, and
the correction with the decision before and after it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A stored message as a correction addresses it."""

    id: int
    account_id: int
    account: str
    external_id: str
    thread_id: int
    direction: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Correction:
    """A stored correction: the decision before and after it (is a question, the rule that decided)."""

    message: MessageRef
    label: bool | None
    old: tuple[bool, str | None]
    new: tuple[bool, str | None]
    labelled_at: datetime
