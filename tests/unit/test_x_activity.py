"""The X Activity API's stream events: parsing the envelope, routing to accounts, the config key."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config import Config, ConfigError, XAccount, parse
from monitor.domain.cost import BillableRead
from monitor.sources.webhooks import Bill, read_xaa, xaa_billable
from monitor.sources.x.activity import EVENT_KINDS, route
from monitor.sources.x.activity_events import ActivityEvent, parse_line
from monitor.sources.x.subscriptions import DM_EVENTS, POST_EVENTS, wanted, webhook_of
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
    event = parse_line(json.dumps(MENTION).encode())
    assert route([event], {"1111111111111111111": [7]}).polls == {7: {"x.mentions"}}
    assert route([event], {"999": [7]}).polls == {}  # another app's user: nobody


def test_event_types_we_do_not_poll_for_nudge_nothing() -> None:
    events = [ActivityEvent("1", kind, "1", None, {}) for kind in ("like.create", "ProfileBioUpdate")]
    assert route(events, {"1": [1]}) == route([], {})


USERS = ["1", "2", "3"]
events = st.lists(
    st.builds(
        ActivityEvent,
        st.sampled_from(["1", "2", "3"]),
        st.sampled_from([*EVENT_KINDS, "like.create"]),
        st.sampled_from([*USERS, "4"]),
        st.none(),
        st.fixed_dictionaries(
            {
                "id": st.sampled_from(["a1", "b2"]),
                "sender_id": st.sampled_from(USERS),
                "conversation_id": st.just("1:2"),
                "created_at_msec": st.just("1764936000000"),
            }
        ),
    ),
    max_size=30,
)


@given(events, st.data())
def test_routing_ignores_order_and_repeats_and_a_lost_event_only_does_less(
    sent: list[ActivityEvent], data: st.DataObject
) -> None:
    """A nudge makes the account's streams poll now, and the poll reads everything after the stored
    cursor: what a poll finds never depends on which events came, in which order, how often. So the
    nudges of a delivery are a set union: the same whatever the order or the repeats, and a subset
    when events are lost (those streams are then read at their poll interval). Chats are messages
    keyed by their id: the same set whatever the order and the repeats."""
    accounts = {"1": [10], "2": [20, 21], "3": [30]}
    expected = route(sent, accounts)
    shuffled = data.draw(st.permutations(sent))
    repeated = shuffled + data.draw(st.lists(st.sampled_from(sent), max_size=10)) if sent else shuffled
    again = route(repeated, accounts)
    assert again.polls == expected.polls
    assert {(a, m.external_id) for a, m in again.chats} == {(a, m.external_id) for a, m in expected.chats}
    assert set(again.billable) == set(expected.billable)  # what the store counts once a day each
    kept = data.draw(st.lists(st.booleans(), min_size=len(sent), max_size=len(sent)))
    partial = route([e for e, k in zip(sent, kept, strict=True) if k], accounts)
    assert all(streams <= expected.polls[a] for a, streams in partial.polls.items())


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
    for acc in (account(), account(x_activity={}), account(x_activity={"mode": "webhook", "webhook_id": "19"})):
        x = config(acc).accounts()[0][1]
        assert isinstance(x, XAccount)
        modes.append(x.activity_mode())
    assert modes == ["off", "stream", "webhook"]


def test_x_activity_is_refused_where_it_cannot_work() -> None:
    with pytest.raises(ConfigError, match=r"x_activity.*needs an X account read from the API"):
        config(account(source="demo", x_activity={}))
    with pytest.raises(ConfigError, match="x_activity"):
        config(account(x_activity={"mode": "push"}))


def test_a_webhook_delivered_account_names_its_webhook_and_only_it_does() -> None:
    where = "brands[0].accounts[0].x_activity.webhook_id"
    with pytest.raises(ConfigError, match=rf'{re.escape(where)}: required with mode = "webhook"'):
        config(account(x_activity={"mode": "webhook"}))
    with pytest.raises(ConfigError, match=rf'{re.escape(where)}: only with mode = "webhook"'):
        config(account(x_activity={"webhook_id": "1976325569252868099"}))
    with pytest.raises(ConfigError, match=re.escape(where)):
        config(account(x_activity={"mode": "webhook", "webhook_id": "12345678901234567890"}))  # 20 digits
    x = config(account(x_activity={"mode": "webhook", "webhook_id": "1976325569252868099"})).accounts()[0][1]
    assert isinstance(x, XAccount) and webhook_of(x) == "1976325569252868099"


def test_what_x_bills_for_an_event_is_named_so_that_a_day_counts_it_once() -> None:
    """A post event is billed as its post (the mention and the reply events of one post, or the
    same event twice, are one resource); a received DM or chat by its event; a sent one not."""
    mention = parse_line(json.dumps(MENTION).encode())
    post = BillableRead("activity_event", "2080765813578191303")
    reply = ActivityEvent("77", "post.reply.create", "1", None, mention.payload)
    assert xaa_billable(mention) == xaa_billable(reply) == post
    assert read_xaa(mention).billable == [Bill("1111111111111111111", post)]
    odd = ActivityEvent("78", "post.create", "1", None, {"id": "not-an-id"})
    assert xaa_billable(odd) == BillableRead("activity_event", "78")  # bounded: the event's own uuid
    assert xaa_billable(ActivityEvent("79", "dm.received", "1", None, {})) == BillableRead("activity_dm_event", "79")
    assert xaa_billable(ActivityEvent("80", "dm.sent", "1", None, {})) is None
    assert xaa_billable(ActivityEvent("81", "like.create", "1", None, {})) is None
    nobody = ActivityEvent("82", "post.create", None, None, mention.payload)
    assert read_xaa(nobody).billable == []  # no user: no account to count it for


def test_subscriptions_cover_posts_and_dms_only_when_dms_are_on() -> None:
    keys = ("consumer_key_env", "consumer_secret_env", "access_token_env", "access_token_secret_env")
    env = dict.fromkeys(keys, "X_TOKEN")
    got = []
    for acc in (account(x_activity={}), account(x_activity={}, dm=True, **env)):
        x = config(acc).accounts()[0][1]
        assert isinstance(x, XAccount)
        got.append(wanted(x))
    assert got == [POST_EVENTS, POST_EVENTS + DM_EVENTS]
