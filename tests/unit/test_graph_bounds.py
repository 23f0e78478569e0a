"""The pure parts of the Facebook sources' bounds: regain times, usage numbers, paging cursors,
JSON nesting, the per-minute call window, and cursors that carry an unfinished pass."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from monitor.sources.base import BadPayload
from monitor.sources.facebook.cursor import ActivePost, CommentsCursor, MessengerCursor, MessengerPass, SweepPass
from monitor.sources.graph import bounds
from monitor.sources.graph.budget import Cut, FetchBudget
from monitor.sources.graph.client import decode_json
from monitor.sources.graph.paging import ListPass, Paging
from monitor.sources.graph.usage import Usage, parse_usage, regain_seconds

PAGE = "5550001"


@pytest.mark.parametrize(
    ("minutes", "seconds"),
    [
        (0, 0.0),
        (12, 720.0),
        (59.5, 3570.0),
        (60, 3600.0),
        (1e9, 3600.0),
        (10**400, 3600.0),
        (float("inf"), 3600.0),
        (-5, 0.0),
        (float("-inf"), 0.0),
        (float("nan"), 0.0),
        ("30", 0.0),
        (None, 0.0),
        (True, 0.0),
        ([5], 0.0),
    ],
)
def test_regain_times_are_believed_up_to_an_hour(minutes: object, seconds: float) -> None:
    assert regain_seconds(minutes) == seconds


def test_absurd_usage_headers_neither_block_for_ever_nor_count() -> None:
    usage = parse_usage(
        {
            "X-App-Usage": '{"call_count": NaN, "total_cputime": Infinity, "total_time": 7}',
            "X-Business-Use-Case-Usage": json.dumps(
                {
                    PAGE: [
                        {"type": "pages", "call_count": 10**400, "estimated_time_to_regain_access": 1e9},
                        {"type": "messenger", "call_count": -3, "estimated_time_to_regain_access": "soon"},
                    ]
                }
            ),
        }
    )
    assert usage == Usage(app=7.0, business=-3.0, regain_seconds=bounds.MAX_REGAIN_SECONDS)


def test_paging_ends_at_a_repeated_or_overlong_cursor_and_at_its_caps() -> None:
    paging = Paging("a", pages=0, max_pages=5, per_poll=3)
    assert paging.step("b") is None
    assert paging.step("a") == "repeat"  # the cursor this poll started from
    paging = Paging(None, pages=0, max_pages=5, per_poll=3)
    assert [paging.step(c) for c in ("a", "b", "c")] == [None, None, "later"]
    assert Paging("c", pages=3, max_pages=5).step("d") is None
    assert Paging("d", pages=4, max_pages=5).step("e") == "capped"
    assert Paging(None, 0).step("x" * (bounds.MAX_CURSOR_CHARS + 1)) == "too_long"
    assert Paging(None, 0).step(None) == "end"


def nested(depth: int) -> bytes:
    return ('{"data": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}").encode()


def test_json_nested_beyond_the_bound_is_a_bad_payload_naming_the_endpoint() -> None:
    assert decode_json(nested(bounds.MAX_JSON_DEPTH), "/1/feed") == json.loads(nested(bounds.MAX_JSON_DEPTH))
    for depth in (bounds.MAX_JSON_DEPTH + 1, 100_000):
        with pytest.raises(BadPayload, match="nested") as caught:
            decode_json(nested(depth), "/1/feed")
        assert caught.value.endpoint == "/1/feed" and "/1/feed" in str(caught.value)
    with pytest.raises(json.JSONDecodeError):
        decode_json(b"<html>", "/1/feed")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_the_call_window_is_strict_and_says_when_a_whole_poll_fits_again() -> None:
    clock = Clock()
    budget = FetchBudget(clock)
    for _ in range(bounds.MAX_CALLS_PER_MINUTE):
        clock.now += timedelta(seconds=0.25)
        budget.spend()
    with pytest.raises(Cut) as caught:
        budget.spend()
    assert not caught.value.more
    # Room for a poll once the calls that leave that much room are a minute old.
    first = datetime(2026, 6, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=0.25)
    excess = bounds.MAX_CALLS_PER_MINUTE - (
        bounds.MAX_CALLS_PER_MINUTE - bounds.MAX_CALLS_PER_FETCH - bounds.MAX_MESSAGE_PAGES
    )
    room_at = first + timedelta(seconds=0.25 * (excess - 1) + bounds.WINDOW_SECONDS)
    assert caught.value.wait == pytest.approx((room_at - clock.now).total_seconds())
    clock.now += timedelta(seconds=bounds.WINDOW_SECONDS)
    budget.spend()


def test_a_poll_stops_where_it_can_once_it_made_its_calls_or_read_its_items() -> None:
    budget = FetchBudget(Clock())
    budget.check()
    budget.items = bounds.MAX_ITEMS_PER_FETCH
    with pytest.raises(Cut) as caught:
        budget.check()
    assert caught.value.more
    budget.start()
    budget.calls = bounds.MAX_CALLS_PER_FETCH
    with pytest.raises(Cut):
        budget.check()


def test_cursors_carry_an_unfinished_pass_and_read_the_older_format() -> None:
    messenger = MessengerCursor(
        1780300000, MessengerPass(1780299880, 1780300100, 1, ListPass("QVFI", 3, 1780300050), {"t_1": 1780300050})
    )
    assert MessengerCursor.loads(messenger.dumps()) == messenger
    assert MessengerCursor.loads('{"v":1,"watermark":5}') == MessengerCursor(5)
    active = {"1_2": ActivePost(30, True, ListPass("abc", 2, 31)), "1_3": ActivePost(7, False)}
    comments = CommentsCursor(10, 20, active, feed=ListPass(None, 0, None), sweep=SweepPass(20, ListPass("x", 1, 19)))
    text = comments.dumps()
    assert CommentsCursor.loads(text) == comments
    assert list(json.loads(text)["active"]) == ["1_2", "1_3"]  # the order they are read in
    assert CommentsCursor.loads('{"v":1,"posts":1,"swept":2,"active":{"1_2":[3,0]}}') == CommentsCursor(
        1, 2, {"1_2": ActivePost(3, False)}
    )
    bad = MessengerCursor.loads('{"v":1,"watermark":5,"pass":{"stop":"x"}}')
    assert bad == MessengerCursor(5)  # an unreadable pass starts over


def test_times_beyond_the_clock_are_brought_back_when_a_cursor_is_read() -> None:
    y2999 = int(datetime(2999, 1, 1, tzinfo=UTC).timestamp())
    messenger = MessengerCursor(y2999, MessengerPass(y2999, 0, 0, ListPass(None, 1, y2999)))
    messenger.clamp(1000)
    assert messenger.watermark == 1000 and messenger.reading is not None
    assert messenger.reading.stop == 1000 and messenger.reading.list.top == 1000
    comments = CommentsCursor(y2999, 5, {"1_2": ActivePost(y2999, False)})
    comments.clamp(1000)
    assert comments.posts == 1000 and comments.active["1_2"].last == 1000
