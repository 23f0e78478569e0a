"""The waits a script implies, worked out from the script alone (never from what the monitor stored),
for the tests to compare with what the monitor stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

WaitKind = Literal["first", "next"]


@dataclass(frozen=True)
class ExpectedWait:
    """A wait of thread `thread`: opened by the question `opened_by` (and joined by `questions` - 1
    more), closed by the brand's reply `closed_by` (None: still open)."""

    thread: str
    kind: WaitKind
    opened_by: str
    opened_at: datetime
    questions: int
    closed_by: str | None
    closed_at: datetime | None

    @property
    def wall_seconds(self) -> float | None:
        return None if self.closed_at is None else (self.closed_at - self.opened_at).total_seconds()


class ThreadWaits:
    """The waits of one thread, told its questions and replies in time order: a wait opens at the
    earliest unanswered question, later questions join it, the next reply closes it."""

    def __init__(self, thread: str) -> None:
        self.thread = thread
        self.waits: list[ExpectedWait] = []
        self._opened: tuple[str, datetime] | None = None
        """The question that opened the open wait, and when (None: no wait open)."""
        self._questions = 0
        """How many questions the open wait holds."""

    def question(self, key: str, at: datetime) -> None:
        if self._opened is None:
            self._opened = (key, at)
        self._questions += 1

    def reply(self, key: str, at: datetime) -> None:
        if self._opened is not None:
            self._close(key, at)

    def done(self) -> list[ExpectedWait]:
        """The thread's waits, the last one still open if no reply came after its question."""
        if self._opened is not None:
            self._close(None, None)
        return self.waits

    def _close(self, key: str | None, at: datetime | None) -> None:
        assert self._opened is not None
        opened_by, opened_at = self._opened
        kind: WaitKind = "next" if self.waits else "first"
        self.waits.append(ExpectedWait(self.thread, kind, opened_by, opened_at, self._questions, key, at))
        self._opened, self._questions = None, 0
