"""The pure parts of the X source's bounds: ids and tokens a cursor may hold, rate-limit resets,
each source's share of a rate window."""

from __future__ import annotations

import pytest

from monitor.sources.x import (
    MAX_TOKEN_CHARS,
    RATE_WAIT_MAX,
    RATE_WAIT_MIN,
    Cursor,
    RateWindow,
    is_id,
    is_token,
    rate_reset,
    retry_after,
    valid_ids,
)

HUGE = "123456789012345678901234567890"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("1", True),
        ("1790000000000000000", True),
        ("9223372036854775807", True),
        ("9223372036854775808", False),  # 2^63: past a signed 64-bit snowflake
        ("99999999999999999999", False),
        (HUGE, False),
        ("0", False),
        ("", False),
        ("-5", False),
        ("12a", False),
        ("١٢٣", False),  # Arabic-Indic digits are digits, not ids
    ],
)
def test_x_ids_are_snowflakes_of_at_most_19_digits(text: str, ok: bool) -> None:
    assert is_id(text) is ok


def test_only_x_ids_move_a_cursor() -> None:
    assert valid_ids([int(HUGE), 5, 0, -1, 2**63]) == [5]


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("7140dibdnow9c7btw423x6sx6hh6aquwd49frvrs4dpab", True),
        ("1BLC45UP1LMOCO3ATI72", True),
        ("t" * MAX_TOKEN_CHARS, True),
        ("t" * (MAX_TOKEN_CHARS + 1), False),
        ("", False),
        ("a b", False),
        ("a\nb", False),
        ("é", False),
    ],
)
def test_tokens_a_cursor_may_keep(text: str, ok: bool) -> None:
    assert is_token(text) is ok


def test_a_cursor_never_holds_what_the_api_would_refuse() -> None:
    assert Cursor.decode("1790000000000000000") == Cursor("1790000000000000000")
    gap = Cursor("900", True, "100", "7140dibdnow9c7btw4")
    assert Cursor.decode(gap.encode()) == gap
    for bad in (
        HUGE,
        f"newest={HUGE}&since=&resume=",
        f"newest=1&since={HUGE}&resume=",
        "newest=1&since=&resume=" + "t" * 600,
        "newest=&since=&resume=a%20b",
    ):
        with pytest.raises(ValueError, match="not a cursor of an X stream"):
            Cursor.decode(bad)
    with pytest.raises(ValueError, match="its newest is not an X id"):
        Cursor(HUGE)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1000900", 1000900.0),  # within a window: as is
        ("99999999999", 1000000 + RATE_WAIT_MAX),  # far ahead: one window and a minute at most
        ("1e400", None),
        ("inf", None),
        ("-inf", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        ("5", 5.0),  # past: a past reset (the window is over)
    ],
)
def test_a_reset_header_is_read_and_clamped(header: str, expected: float | None) -> None:
    assert rate_reset(header, 1000000.0) == expected


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("1000100", 100.0),
        ("99999999999", RATE_WAIT_MAX),
        ("5", RATE_WAIT_MIN),
        ("1000000", RATE_WAIT_MIN),
        ("nan", None),
    ],
)
def test_a_429_waits_between_the_bounds(header: str, wait: float | None) -> None:
    assert retry_after({"x-rate-limit-reset": header}, 1000000.0) == wait
    assert retry_after({}, 1000000.0) is None


def test_each_source_spends_at_most_its_share_of_a_window() -> None:
    w = RateWindow(users=2)
    hungry, quiet = object(), object()
    w.observe(10, 9, 900.0, hungry)  # the answer that opened the window counts for its sender
    assert w.share == 5 and not w.exhausted(0.0, hungry)
    for _ in range(4):
        w.spend(1.0, hungry)
    assert w.exhausted(1.0, hungry) and not w.exhausted(1.0, quiet) and not w.exhausted(1.0)
    assert w.spacing(100.0, source=hungry) == 801.0  # until the reset
    assert w.spacing(100.0, source=quiet) == pytest.approx(2 * 800 / 5)
    w.observe(10, 9, 1800.0, quiet)  # a new window: shares start again
    assert not w.exhausted(901.0, hungry) and w.spent == {id(quiet): 1}
    assert not RateWindow().exhausted(0.0, hungry)  # no headers yet: no share known
