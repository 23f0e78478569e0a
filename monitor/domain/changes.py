"""What a thread's recomputation changes against what is stored, and the tally of a transaction's
changes (the waits it opened and answered, for the metrics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from monitor.domain.model import Message, ThreadInfo, ThreadMessageLike
from monitor.domain.outcomes import Flags, ThreadOutcome, WaitRow


@dataclass(slots=True)
class StoredThread:
    """A locked thread as its transaction read it: the messages to compute its waits on (the
    stored ones, then the batch's new ones), and the waits and flags stored so far."""

    info: ThreadInfo
    messages: list[ThreadMessageLike] = field(default_factory=list)
    waits: list[WaitRow] = field(default_factory=list)
    flags: dict[str, Flags] = field(default_factory=dict)
    """Flags of the stored messages, by external id."""
    new: list[Message] = field(default_factory=list)
    """The batch's messages not stored yet (also in `messages`)."""


class WaitDiff(NamedTuple):
    """How a thread's waits change: rows to insert, rows to update, sequence numbers to delete,
    and the waits that this change answers (closed now, open or absent before)."""

    new: list[WaitRow]
    changed: list[WaitRow]
    gone: list[int]
    answered: list[WaitRow]

    @property
    def opened(self) -> list[WaitRow]:
        """The waits that open with this change: the new ones."""
        return self.new


def diff_waits(old: Sequence[WaitRow], new: Sequence[WaitRow]) -> WaitDiff:
    """What turns a thread's stored waits `old` (any order) into its computed waits `new`: a wait
    is the same wait when it has the same sequence number."""
    if not old:  # the usual case: a thread seen for the first time
        return WaitDiff(list(new), [], [], [w for w in new if w.closed_at is not None])
    before = {w.seq: w for w in old}
    added: list[WaitRow] = []
    changed: list[WaitRow] = []
    answered: list[WaitRow] = []
    for w in new:
        was = before.pop(w.seq, None)
        if was is None:
            added.append(w)
        elif was != w:
            changed.append(w)
        if w.closed_at is not None and (was is None or was.closed_at is None):
            answered.append(w)
    return WaitDiff(added, changed, sorted(before), answered)


@dataclass(frozen=True, slots=True)
class ThreadChange:
    """What to write for one recomputed thread."""

    thread: ThreadInfo
    new: Sequence[Message]
    """Messages to store, each with its flags from `flags`."""
    flags: Mapping[str, Flags]
    """The flags of every message of the thread, by external id."""
    reflagged: dict[str, Flags]
    """Stored messages whose flags change, by external id."""
    waits: WaitDiff


def thread_change(stored: StoredThread, outcome: ThreadOutcome) -> ThreadChange:
    """The change from a thread as stored to its recomputed outcome (pure)."""
    was = stored.flags
    reflagged = {ext: f for ext, f in outcome.flags.items() if ext in was and was[ext] != f} if was else {}
    return ThreadChange(stored.info, stored.new, outcome.flags, reflagged, diff_waits(stored.waits, outcome.waits))


@dataclass(slots=True)
class WaitEvent:
    """A wait opened or answered by a transaction, for the metrics."""

    account_id: int
    thread_id: int
    seq: int
    kind: str
    thread_kind: str
    wall_seconds: float | None = None
    business_seconds: float | None = None
    message: str | None = None
    """External id of the question that opened the wait."""
    url: str | None = None


@dataclass
class IngestResult:
    """What one transaction changed."""

    messages_new: int = 0
    new_created_at: list[datetime] = field(default_factory=list)
    """Customer time of each new message (for the ingest lag)."""
    threads_touched: int = 0
    opened: list[WaitEvent] = field(default_factory=list)
    answered: list[WaitEvent] = field(default_factory=list)
    quarantined: dict[str, int] = field(default_factory=dict)
    """Reason -> items set aside for the first time by this transaction (read again: not counted)."""
    billable: dict[str, int] = field(default_factory=dict)
    """Kind -> resources X bills for the first time today, counted by this transaction."""

    def add(self, change: ThreadChange) -> None:
        """Count one thread's change: its new messages, the waits it opens and answers."""
        t = change.thread
        self.threads_touched += 1
        if change.new:
            self.messages_new += len(change.new)
            self.new_created_at += [m.created_at for m in change.new]
        for w in change.waits.opened:
            self.opened.append(
                WaitEvent(t.account_id, t.id, w.seq, w.kind, t.kind, message=w.opened_message, url=t.url)
            )
        for w in change.waits.answered:
            self.answered.append(
                WaitEvent(
                    t.account_id,
                    t.id,
                    w.seq,
                    w.kind,
                    t.kind,
                    w.wall_seconds,
                    w.business_seconds,
                    w.opened_message,
                    t.url,
                )
            )
