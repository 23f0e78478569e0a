"""The pure cost rules: prices by kind, and the poll pace a monthly budget asks for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.config import ConfigError, parse
from monitor.domain.cost import (
    PACE_MAX_FACTOR,
    BillableRead,
    Prices,
    activity_billable,
    month_position,
    poll_factor,
    spend,
    unique_reads,
)


def test_spend_prices_each_kind() -> None:
    counts = {"post_read": 10, "owned_read": 100, "dm_event_read": 3, "activity_event": 2}
    assert abs(spend(counts, Prices()) - (0.05 + 0.1 + 0.03 + 0.01)) < 1e-12  # type: ignore[arg-type]


def test_a_page_naming_a_resource_twice_bills_it_once() -> None:
    reads = [BillableRead("owned_read", "1"), BillableRead("owned_read", "1"), BillableRead("dm_event_read", "1")]
    assert unique_reads(reads) == [BillableRead("owned_read", "1"), BillableRead("dm_event_read", "1")]


def test_no_budget_or_a_spend_within_it_keeps_the_interval() -> None:
    assert poll_factor(spent=1000.0, budget=None, days_elapsed=10, days_in_month=30) == 1.0
    assert poll_factor(spent=10.0, budget=100.0, days_elapsed=10, days_in_month=30) == 1.0  # 30 projected < 80


def test_a_budget_below_the_need_slows_polls_in_proportion() -> None:
    # 1 dollar a day on day 1 of 30: 30 projected for a budget of 10 (8 allowed): 29 more needed, 7 left.
    factor = poll_factor(spent=1.0, budget=10.0, days_elapsed=1, days_in_month=30)
    assert abs(factor - 29 / 7) < 1e-9
    assert poll_factor(spent=7.99, budget=10.0, days_elapsed=1, days_in_month=30) == PACE_MAX_FACTOR
    assert poll_factor(spent=10.0, budget=10.0, days_elapsed=29, days_in_month=30) == PACE_MAX_FACTOR


def test_month_position_is_utc() -> None:
    assert month_position(datetime(2026, 2, 15, 12, tzinfo=UTC)) == (14.5, 28.0)


def test_prices_and_budgets_are_validated_where_they_are_written() -> None:
    data = {
        "policies": {"default": {"public": {"first": "30m", "next": "1h"}, "private": {"first": "1h", "next": "2h"}}},
        "brands": [
            {
                "name": "b",
                "accounts": [{"name": "b-x", "channel": "x", "user_id": "1", "source": "demo", "monthly_budget": -5}],
            }
        ],
        "x": {"pricing": {"post_read": 50}},
    }
    with pytest.raises(ConfigError) as caught:
        parse(data, environ={})
    where = {p.location for p in caught.value.problems}
    assert {"x.pricing.post_read", "brands[0].accounts[0].monthly_budget"} <= where
    fine = {
        **data,
        "x": {},
        "brands": [{"name": "b", "accounts": [{"name": "b-x", "channel": "x", "user_id": "1", "source": "demo"}]}],
    }
    assert parse(fine, environ={}).x.pricing.prices() == Prices()  # X's published prices by default


def test_delivered_activity_events_bill_as_x_says() -> None:
    assert activity_billable("post.mention.create", "123") == BillableRead("activity_event", "123")
    assert activity_billable("chat.received", "uuid-1") == BillableRead("activity_dm_event", "uuid-1")
    assert activity_billable("chat.sent", "uuid-2") is None and activity_billable("dm.sent", "uuid-3") is None
    assert Prices().of("activity_event") == 0.005 and Prices().of("activity_dm_event") == 0.010
