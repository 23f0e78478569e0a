"""The X Activity API's stream events: parsing the envelope, routing to accounts, the config key."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config import Config, ConfigError, XAccount, parse
from monitor.sources.x.activity import EVENT_STREAMS, Event, EventError, nudges, parse_event
from monitor.sources.x.subscriptions import DM_EVENTS, POST_EVENTS, wanted
from tests.integration.helpers import POLICY_TOML

# From x-api/activity/event-payloads.mdx (payload shortened).
MENTION = {
    "data": {
        "event_uuid": "2080765813578191303",
        "filter": {"user_id": "1111111111111111111"},
        "event_type": "post.mention.create",
        "tag": "mentions",
        "payload": {"id": "2080765813578191303", "text": "hey @ExampleUser", "author_id": "2222222222222222222"},
        "includes": {},
    }
}


def test_the_documented_envelope_is_routed_by_its_filter_user_id() -> None:
    event = parse_event(json.dumps(MENTION).encode())
    assert event == Event("1111111111111111111", "post.mention.create", "2080765813578191303")
    assert nudges([event], {"1111111111111111111": [7]}) == {7: {"x.mentions"}}
    assert nudges([event], {"999": [7]}) == {}  # another app's user: nobody


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b"{not json", "not JSON"),
        (b"[1]", "no `data` object"),
        (b'{"data": {"event_type": "post.create"}}', "data.filter.user_id"),
        (b'{"data": {"filter": {"user_id": "12a"}, "event_type": "post.create"}}', "data.filter.user_id"),
        (b'{"data": {"filter": {"user_id": "12"}, "event_type": 5}}', "data.event_type"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_a_line_that_is_no_envelope_is_refused_saying_what(line: bytes, says: str) -> None:
    with pytest.raises(EventError, match=says):
        parse_event(line)


def test_event_types_we_do_not_poll_for_nudge_nothing() -> None:
    assert nudges([Event("1", "like.create", None), Event("1", "ProfileBioUpdate", None)], {"1": [1]}) == {}


USERS = ["1", "2", "3"]
events = st.lists(
    st.builds(Event, st.sampled_from([*USERS, "4"]), st.sampled_from([*EVENT_STREAMS, "like.create"]), st.none()),
    max_size=30,
)


@given(events, st.data())
def test_routing_ignores_order_and_repeats_and_a_lost_event_only_nudges_less(
    sent: list[Event], data: st.DataObject
) -> None:
    """A nudge makes the account's streams poll now, and the poll reads everything after the stored
    cursor: what a poll finds never depends on which events came, in which order, how often. So the
    nudges of a delivery are a set union: the same whatever the order or the repeats, and a subset
    when events are lost (those streams are then read at their poll interval)."""
    accounts = {"1": [10], "2": [20, 21], "3": [30]}
    expected = nudges(sent, accounts)
    shuffled = data.draw(st.permutations(sent))
    repeated = shuffled + data.draw(st.lists(st.sampled_from(sent), max_size=10)) if sent else shuffled
    assert nudges(repeated, accounts) == expected
    kept = data.draw(st.lists(st.booleans(), min_size=len(sent), max_size=len(sent)))
    partial = nudges([e for e, k in zip(sent, kept, strict=True) if k], accounts)
    assert all(streams <= expected[a] for a, streams in partial.items())


def account(**extra: object) -> dict[str, object]:
    return {"name": "shop", "channel": "x", "user_id": "1", "bearer_token_env": "X_TOKEN", **extra}


def config(acc: dict[str, object]) -> Config:
    return parse(
        {
            "policies": {"default": POLICY_TOML},
            "brands": [{"name": "b", "accounts": [acc]}],
        },
        environ={"X_TOKEN": "t"},
    )


def test_x_activity_is_off_unless_set_and_stream_when_set_alone() -> None:
    modes = []
    for acc in (account(), account(x_activity={}), account(x_activity={"mode": "webhook"})):
        x = config(acc).accounts()[0][1]
        assert isinstance(x, XAccount)
        modes.append(x.activity_mode())
    assert modes == ["off", "stream", "webhook"]


def test_x_activity_is_refused_where_it_cannot_work() -> None:
    with pytest.raises(ConfigError, match=r"x_activity.*needs an X account read from the API"):
        config(account(source="demo", x_activity={}))
    with pytest.raises(ConfigError, match="x_activity"):
        config(account(x_activity={"mode": "push"}))


def test_subscriptions_cover_posts_and_dms_only_when_dms_are_on() -> None:
    keys = ("consumer_key_env", "consumer_secret_env", "access_token_env", "access_token_secret_env")
    env = dict.fromkeys(keys, "X_TOKEN")
    got = []
    for acc in (account(x_activity={}), account(x_activity={}, dm=True, **env)):
        x = config(acc).accounts()[0][1]
        assert isinstance(x, XAccount)
        got.append(wanted(x))
    assert got == [POST_EVENTS, POST_EVENTS + DM_EVENTS]
