"""The waits of a thread, as a pure function of its messages.

A wait opens at the earliest unanswered question of a thread; later questions join it; it closes
at the first non-automatic outbound message after it. The first wait of a thread is `first`, the
others `next`. Messages are put in one total order first, so the result does not depend on the
order or the number of times they arrived.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from monitor.domain.model import ThreadMessageLike, Wait


class Context(NamedTuple):
    """What the thread says of an inbound message, from the messages before it in the thread's order."""

    after_brand_reply: bool
    """The message right before it is a (non-automatic) brand reply."""
    brand_spoke: bool
    """A (non-automatic) brand reply comes before it in the thread."""


NeedsReply = Callable[[ThreadMessageLike, Context], bool]
"""(inbound message, its context in the thread) -> does it need a reply."""
IsAutomatic = Callable[[ThreadMessageLike], bool]
"""(outbound message) -> is it an automatic reply that does not close a wait."""


def order_key(message: ThreadMessageLike) -> tuple[object, int, str]:
    """Total order of a thread: time, then inbound before outbound at the same instant, then id."""
    return (message.created_at, 0 if message.direction == "inbound" else 1, message.external_id)


def compute_waits(
    messages: Iterable[ThreadMessageLike],
    *,
    needs_reply: NeedsReply,
    is_automatic: IsAutomatic,
) -> list[Wait]:
    """Return the waits of one thread, in order; duplicates (same external id) count once."""
    unique = {m.external_id: m for m in messages}
    ordered = sorted(unique.values(), key=order_key)
    waits: list[Wait] = []
    opened: ThreadMessageLike | None = None
    questions: list[str] = []
    after_brand_reply = brand_spoke = False
    for message in ordered:
        if message.direction == "inbound":
            if needs_reply(message, Context(after_brand_reply, brand_spoke)):
                if opened is None:
                    opened = message
                questions.append(message.external_id)
            after_brand_reply = False
            continue
        if is_automatic(message):
            continue
        after_brand_reply = brand_spoke = True
        if opened is not None:
            waits.append(_wait(len(waits), opened, questions, message))
            opened, questions = None, []
    if opened is not None:
        waits.append(_wait(len(waits), opened, questions, None))
    return waits


def _wait(seq: int, opened: ThreadMessageLike, questions: list[str], closing: ThreadMessageLike | None) -> Wait:
    return Wait(
        seq=seq,
        kind="first" if seq == 0 else "next",
        opened_at=opened.created_at,
        opened_by=opened.external_id,
        question_ids=tuple(questions),
        closed_at=closing.created_at if closing else None,
        closed_by=closing.external_id if closing else None,
    )
