"""What a thread's recomputation changes against what is stored (`diff_waits`, `thread_change`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from monitor.domain.changes import IngestResult, StoredThread, WaitDiff, diff_waits, thread_change
from monitor.domain.model import ThreadInfo
from monitor.domain.outcomes import Flags, ThreadOutcome, WaitRow

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def wait(seq: int, closed: int | None = None, target: float = 1800.0) -> WaitRow:
    """Wait `seq`, opened at minute 10*seq, closed `closed` minutes after it opened (None: open)."""
    opened = T0 + timedelta(minutes=10 * seq)
    closed_at = None if closed is None else opened + timedelta(minutes=closed)
    seconds = None if closed is None else closed * 60.0
    return WaitRow(
        seq,
        "first" if seq == 0 else "next",
        opened,
        f"q{seq}",
        1,
        closed_at,
        None if closed is None else f"r{seq}",
        target,
        opened + timedelta(seconds=target),
        opened + timedelta(seconds=0.8 * target),
        seconds,
        seconds,
        None,
        None,
    )


def test_a_new_thread_opens_all_its_waits_and_answers_the_closed_ones() -> None:
    d = diff_waits([], [wait(0, closed=5), wait(1)])
    assert d.new == d.opened == [wait(0, closed=5), wait(1)]
    assert d.answered == [wait(0, closed=5)] and d.changed == [] and d.gone == []


def test_the_same_waits_change_nothing() -> None:
    d = diff_waits([wait(1), wait(0, closed=5)], [wait(0, closed=5), wait(1)])  # stored in any order
    assert d == WaitDiff([], [], [], []) and d.opened == []


def test_a_reply_answers_an_open_wait_and_the_next_question_opens_one() -> None:
    d = diff_waits([wait(0)], [wait(0, closed=12), wait(1)])
    assert d.changed == [wait(0, closed=12)] and d.answered == [wait(0, closed=12)]
    assert d.opened == [wait(1)] and d.gone == []


def test_a_wait_answered_again_or_reopened_is_changed_but_not_answered() -> None:
    later = diff_waits([wait(0, closed=5)], [wait(0, closed=9)])  # an earlier reply became automatic
    reopened = diff_waits([wait(0, closed=5)], [wait(0)])  # the only reply became automatic
    assert later.changed == [wait(0, closed=9)] and later.answered == []
    assert reopened.changed == [wait(0)] and reopened.answered == [] and reopened.opened == []


def test_waits_no_longer_computed_are_gone() -> None:
    d = diff_waits([wait(2), wait(0, closed=5), wait(1)], [wait(0, closed=5)])  # a question corrected away
    assert d.gone == [1, 2] and d.new == d.changed == d.answered == []


def test_a_changed_target_is_a_change() -> None:
    d = diff_waits([wait(0)], [wait(0, target=3600.0)])
    assert d.changed == [wait(0, target=3600.0)] and d.opened == d.answered == []


_waits = st.lists(st.one_of(st.none(), st.integers(1, 30)), max_size=5).map(
    lambda closed: [wait(seq, c) for seq, c in enumerate(closed)]
)


@given(old=_waits, new=_waits)
def test_applying_the_diff_to_the_stored_waits_gives_the_computed_ones(old: list[WaitRow], new: list[WaitRow]) -> None:
    d = diff_waits(old, new)
    stored = {w.seq: w for w in old}
    for seq in d.gone:
        del stored[seq]
    for w in (*d.changed, *d.new):
        assert (w.seq in stored) == (w in d.changed)  # an update changes a stored wait, an insert adds one
        stored[w.seq] = w
    assert sorted(stored.values()) == sorted(new)
    was_closed = {w.seq for w in old if w.closed_at is not None}
    assert d.answered == [w for w in new if w.closed_at is not None and w.seq not in was_closed]


def test_a_thread_change_reflags_stored_messages_whose_decision_changed_and_counts_its_events() -> None:
    thread = ThreadInfo(7, 3, "public", "42", "sam", "https://x.com/i/status/1")
    stored = StoredThread(
        thread, waits=[wait(0)], flags={"q0": Flags(True, False, "question_mark"), "t0": Flags(False, False, "praise")}
    )
    outcome = ThreadOutcome(
        [wait(0, closed=4)],
        {
            "q0": Flags(True, False, "question_mark"),
            "t0": Flags(True, False, "corrected"),
            "r0": Flags(False, False, None),
        },
    )
    change = thread_change(stored, outcome)
    assert change.reflagged == {"t0": Flags(True, False, "corrected")}  # "r0" is new: stored with its flags
    result = IngestResult()
    result.add(change)
    assert result.threads_touched == 1 and result.opened == []
    assert [(e.thread_id, e.seq, e.wall_seconds, e.message, e.url) for e in result.answered] == [
        (7, 0, 240.0, "q0", "https://x.com/i/status/1")
    ]
