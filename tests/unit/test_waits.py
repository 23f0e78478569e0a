"""The wait rule on hand-made threads (pure domain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.domain.model import ThreadMessage, Wait
from monitor.domain.waits import compute_waits

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def msg(ext: str, minutes: float, direction: str = "inbound", text: str = "question?") -> ThreadMessage:
    return ThreadMessage(ext, direction, T0 + timedelta(minutes=minutes), text)  # type: ignore[arg-type]


def waits(messages: list[ThreadMessage]) -> list[Wait]:
    return compute_waits(
        messages,
        needs_reply=lambda m, context: not m.text.startswith("merci"),
        is_automatic=lambda m: m.text.startswith("auto"),
    )


def test_question_then_reply_is_one_first_wait() -> None:
    [w] = waits([msg("q", 0), msg("r", 12, "outbound")])
    assert (w.kind, w.opened_by, w.closed_by, w.questions) == ("first", "q", "r", 1)
    assert w.closed_at is not None and (w.closed_at - w.opened_at).total_seconds() == 720.0


def test_later_questions_join_the_open_wait() -> None:
    [w] = waits([msg("q1", 0), msg("q2", 3), msg("q3", 5), msg("r", 10, "outbound")])
    assert w.opened_by == "q1" and w.question_ids == ("q1", "q2", "q3")


def test_second_question_after_reply_opens_a_next_wait() -> None:
    w1, w2 = waits([msg("q1", 0), msg("r1", 5, "outbound"), msg("q2", 30), msg("r2", 50, "outbound")])
    assert (w1.kind, w2.kind) == ("first", "next")
    assert (w2.opened_by, w2.closed_by) == ("q2", "r2")


def test_reply_before_any_question_closes_nothing() -> None:
    [w] = waits([msg("r0", 0, "outbound"), msg("q", 1)])
    assert w.closed_at is None and w.kind == "first"


def test_automatic_reply_does_not_close() -> None:
    [w] = waits([msg("q", 0), msg("a", 0.1, "outbound", "auto: we are closed"), msg("r", 60, "outbound")])
    assert w.closed_by == "r"


def test_non_questions_open_nothing() -> None:
    assert waits([msg("t", 0, text="merci !")]) == []


def test_out_of_order_and_duplicates_give_same_waits() -> None:
    ordered = [msg("q1", 0), msg("r1", 5, "outbound"), msg("q2", 30), msg("r2", 50, "outbound")]
    shuffled = [ordered[3], ordered[1], ordered[0], ordered[2], ordered[3], ordered[0]]
    assert waits(shuffled) == waits(ordered)


def test_reply_at_the_same_instant_as_question_closes_it() -> None:
    [w] = waits([msg("r", 0, "outbound"), msg("q", 0)])
    assert w.closed_by == "r" and w.closed_at == w.opened_at
