"""Pure parsing of X API v2 pages: threads, edits, retweets, quotes, DMs, bad envelopes, items set
aside, times from the future; cursors and rate budgets."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.domain.items import FUTURE_SKEW, REJECT_REASONS
from monitor.sources.base import BadPayload
from monitor.sources.x import (
    ENDPOINT_DM_EVENTS,
    ENDPOINT_MENTIONS,
    TWITTER_EPOCH_MS,
    Cursor,
    Page,
    RateWindow,
    decode_json,
    parse_dm_events,
    parse_rejected,
    parse_tweets,
    snowflake_time,
)

BRAND = "100"
ALICE, BOB = "201", "202"


def snowflake(at: datetime, seq: int = 0) -> str:
    return str(((int(at.timestamp() * 1000) - TWITTER_EPOCH_MS) << 22) | seq)


T1 = datetime(2026, 6, 1, 9, 0, 0, tzinfo=UTC)
T2 = datetime(2026, 6, 1, 9, 7, 30, tzinfo=UTC)
T3 = datetime(2026, 6, 1, 9, 12, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
DATA = Path(__file__).resolve().parent.parent / "data"
Q1, Q2, R1, R2 = snowflake(T1), snowflake(T1, 1), snowflake(T2), snowflake(T3)


def tweet(
    tid: str,
    author: str,
    text: str,
    at: datetime,
    *,
    conversation: str | None = None,
    reply_to: str | None = None,
    refs: list[tuple[str, str]] | None = None,
    history: list[str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": tid,
        "text": text,
        "edit_history_tweet_ids": history or [tid],
        "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "author_id": author,
        "conversation_id": conversation or tid,
    }
    if reply_to:
        out["in_reply_to_user_id"] = reply_to
    if refs:
        out["referenced_tweets"] = [{"type": k, "id": i} for k, i in refs]
    return out


def page(*tweets: dict[str, Any], next_token: str | None = None, **extra: Any) -> dict[str, Any]:
    users = [
        {"id": BRAND, "name": "Acme", "username": "acme"},
        {"id": ALICE, "name": "Alice", "username": "alice"},
        {"id": BOB, "name": "Bob", "username": "bob"},
    ]
    meta: dict[str, Any] = {"result_count": len(tweets)}
    if tweets:
        ids = sorted((t["id"] for t in tweets), key=int)
        meta.update(newest_id=ids[-1], oldest_id=ids[0])
    if next_token:
        meta["next_token"] = next_token
    body: dict[str, Any] = {"data": list(tweets), "includes": {"users": users}, "meta": meta, **extra}
    if not tweets:
        del body["data"], body["includes"]
    return body


def parse_page(payload: object, received_at: datetime = RECEIVED) -> Page:
    return parse_tweets(payload, user_id=BRAND, handle="acme", endpoint=ENDPOINT_MENTIONS, received_at=received_at)


def parse(payload: object) -> list[Any]:
    return parse_page(payload).messages


def test_a_mention_is_inbound_in_its_conversation_and_customer_thread() -> None:
    [m] = parse(page(tweet(Q1, ALICE, "@acme my order never arrived, can you check?", T1)))
    assert (m.external_id, m.thread_key, m.thread_kind, m.direction) == (Q1, f"{Q1}:{ALICE}", "public", "inbound")
    assert m.created_at == T1 and m.author_id == ALICE and m.author_handle == "alice"
    assert m.url == f"https://x.com/alice/status/{Q1}" and not m.is_retweet
    assert m.raw["id"] == Q1


def test_a_brand_reply_answers_only_the_customer_it_replies_to() -> None:
    # Alice opens a conversation, Bob joins it; the brand answers Alice only.
    msgs = parse(
        page(
            tweet(Q1, ALICE, "@acme where is my parcel?", T1),
            tweet(
                Q2,
                BOB,
                "@acme @alice same here, any news?",
                T1,
                conversation=Q1,
                reply_to=ALICE,
                refs=[("replied_to", Q1)],
            ),
            tweet(R1, BRAND, "@alice we're on it", T2, conversation=Q1, reply_to=ALICE, refs=[("replied_to", Q1)]),
        )
    )
    by_id = {m.external_id: m for m in msgs}
    assert by_id[Q1].thread_key == f"{Q1}:{ALICE}"
    assert by_id[Q2].thread_key == f"{Q1}:{BOB}"
    reply = by_id[R1]
    assert (reply.thread_key, reply.direction, reply.author_handle) == (f"{Q1}:{ALICE}", "outbound", "acme")
    assert reply.url == f"https://x.com/acme/status/{R1}"


def test_a_reply_to_a_brand_reply_answers_the_brand_a_reply_to_its_own_post_does_not() -> None:
    # The brand's campaign post P is a conversation's root; it answers Alice's reply with a
    # question; Bob answers that question (a reply to the brand's reply), Alice replies to P itself.
    post, ask = snowflake(T1, 7), snowflake(T2, 7)
    msgs = {
        m.external_id: m
        for m in parse(
            page(
                tweet(
                    Q1,
                    ALICE,
                    "@acme which colour is it?",
                    T1,
                    conversation=post,
                    reply_to=BRAND,
                    refs=[("replied_to", post)],
                ),
                tweet(R2, BOB, "@acme PS4", T3, conversation=post, reply_to=BRAND, refs=[("replied_to", ask)]),
            )
        )
    }
    assert not msgs[Q1].reply_to_brand  # judged on its words, like any first message
    assert msgs[R2].reply_to_brand  # an answer to the brand's question, whoever gives it


def test_the_brands_own_posts_retweets_and_self_replies_are_skipped_but_move_the_cursor() -> None:
    result = parse_page(
        page(
            tweet(Q1, BRAND, "New collection out today!", T1),
            tweet(Q2, BRAND, "(thread 2/2)", T1, conversation=Q1, reply_to=BRAND),
            tweet(R1, BRAND, "RT @alice: love it", T2, refs=[("retweeted", R2)]),
        )
    )
    assert result.messages == []
    assert result.newest_id == int(R1) and result.oldest_id == int(Q1)


def test_retweets_are_flagged_quotes_are_judged_like_mentions() -> None:
    msgs = parse(
        page(
            tweet(Q1, ALICE, "RT @bob: @acme still no answer?", T1, refs=[("retweeted", R2)]),
            tweet(Q2, BOB, "@acme can you explain this?", T1, refs=[("quoted", R2)]),
        )
    )
    by_id = {m.external_id: m for m in msgs}
    assert by_id[Q1].is_retweet and by_id[Q1].direction == "inbound"
    assert not by_id[Q2].is_retweet and by_id[Q2].direction == "inbound"


def test_an_edit_is_stored_under_the_original_id_at_the_original_time() -> None:
    edited = snowflake(T2)
    msgs = parse(
        page(
            tweet(
                edited,
                ALICE,
                "@acme my order never arrived (n°123), can you check?",
                T2,
                conversation=Q1,
                history=[Q1, edited],
            )
        )
    )
    [m] = msgs
    assert m.external_id == Q1 and m.created_at == T1  # the question was asked at T1, not T2
    assert m.thread_key == f"{Q1}:{ALICE}" and "n°123" in m.text
    assert m.url == f"https://x.com/alice/status/{edited}"


def test_both_versions_of_an_edit_in_one_page_are_one_message() -> None:
    edited = snowflake(T2)
    result = parse_page(
        page(
            tweet(edited, ALICE, "v2", T2, conversation=Q1, history=[Q1, edited]),
            tweet(Q1, ALICE, "v1", T1, history=[Q1]),
        )
    )
    assert {m.external_id for m in result.messages} == {Q1}
    assert {m.created_at for m in result.messages} == {T1}


def test_snowflake_time() -> None:
    assert snowflake_time(snowflake(T3)) == T3
    # The tweet of the X API docs' examples, created_at "2019-12-31T19:26:16.000Z".
    real = snowflake_time("1212092628029698048")
    assert real.replace(microsecond=0) == datetime(2019, 12, 31, 19, 26, 16, tzinfo=UTC)


def test_unknown_author_falls_back_to_a_handle_free_link_and_partial_errors_pass() -> None:
    body = page(
        tweet(Q1, "999", "@acme hello?", T1, refs=[("quoted", "5")]),
        errors=[
            {
                "value": "5",
                "title": "Not Found Error",
                "resource_type": "tweet",
                "detail": "Could not find tweet with referenced_tweets.id: [5].",
            }
        ],
    )
    result = parse_page(body)
    [m] = result.messages
    assert m.author_handle is None and m.url == f"https://x.com/i/web/status/{Q1}"
    assert result.errors[0]["resource_type"] == "tweet"


def test_paging_facts() -> None:
    result = parse_tweets(
        page(tweet(Q1, ALICE, "a?", T1), tweet(R2, ALICE, "b?", T3), next_token="abc"),
        user_id=BRAND,
        handle="acme",
        endpoint=ENDPOINT_MENTIONS,
        received_at=RECEIVED,
    )
    assert (result.newest_id, result.oldest_id, result.next_token) == (int(R2), int(Q1), "abc")
    empty = parse_tweets(
        {"meta": {"result_count": 0}}, user_id=BRAND, handle=None, endpoint=ENDPOINT_MENTIONS, received_at=RECEIVED
    )
    assert empty.messages == [] and empty.newest_id is None and empty.next_token is None


def dm_page(*events: dict[str, Any]) -> dict[str, Any]:
    users = [{"id": ALICE, "username": "alice", "name": "A"}, {"id": BRAND, "username": "acme", "name": "B"}]
    return {"data": list(events), "includes": {"users": users}, "meta": {"result_count": len(events)}}


def dm(eid: str, sender: str, text: str, at: datetime) -> dict[str, Any]:
    return {
        "id": eid,
        "event_type": "MessageCreate",
        "text": text,
        "sender_id": sender,
        "dm_conversation_id": f"{BRAND}-{ALICE}",
        "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }


def test_dms_are_private_threads_by_conversation_and_the_brands_events_are_outbound() -> None:
    result = parse_dm_events(
        dm_page(
            dm(R1, BRAND, "Bonjour, on regarde", T2),
            dm(Q1, ALICE, "Bonjour, toujours pas de réponse à ma réclamation ?", T1),
            {
                "id": Q2,
                "event_type": "ParticipantsJoin",
                "dm_conversation_id": "123",
                "created_at": "2026-06-01T09:00:00.000Z",
                "participant_ids": [ALICE],
            },
        ),
        user_id=BRAND,
        handle="acme",
        endpoint=ENDPOINT_DM_EVENTS,
        received_at=RECEIVED,
    )
    by_id = {m.external_id: m for m in result.messages}
    assert set(by_id) == {Q1, R1}
    assert {m.thread_key for m in result.messages} == {f"{BRAND}-{ALICE}"}
    assert {m.thread_kind for m in result.messages} == {"private"}
    assert by_id[Q1].direction == "inbound" and by_id[Q1].author_handle == "alice"
    assert by_id[R1].direction == "outbound" and by_id[R1].author_handle == "acme"
    assert by_id[Q1].url == f"https://x.com/messages/{BRAND}-{ALICE}"
    assert result.oldest_id == int(Q1)  # the join event counts for paging


GOOD = page(tweet(Q1, ALICE, "@acme help?", T1))


def mutate(
    path: list[Any], value: Any = ..., delete: bool = False, *, base: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = copy.deepcopy(GOOD if base is None else base)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ([], "the response is not an object"),
        ({"data": {}, "meta": {}}, "data is not a list"),
        (mutate(["includes", "users"], {}), "includes.users is not a list"),
        (mutate(["includes", "users", 0, "id"], 100), "includes.users[0].id is not a string"),
        (mutate(["meta", "next_token"], 7), "meta.next_token is not a string"),
        (
            {"errors": [{"detail": "Could not find user with id: [100]."}]},
            "neither data nor meta: Could not find user with id: [100].",
        ),
        ({"meta": {"result_count": "0"}}, "meta.result_count is not an integer"),
        ({"meta": {"result_count": 3}}, "no data but meta.result_count is 3"),
    ],
)
def test_bad_envelopes_name_the_endpoint_and_what_is_wrong(payload: object, says: str) -> None:
    with pytest.raises(BadPayload) as caught:
        parse(payload)
    assert caught.value.endpoint == ENDPOINT_MENTIONS
    assert str(caught.value).startswith(ENDPOINT_MENTIONS + ": ")
    assert says in str(caught.value)


TWO = page(tweet(Q1, ALICE, "@acme help?", T1), tweet(Q2, BOB, "@acme me too, any news?", T1))


def second(value: Any = ..., *, key: str | None = None, delete: bool = False) -> dict[str, Any]:
    """TWO with its second tweet (or one of its fields) replaced or deleted."""
    return mutate(["data", 1] + ([key] if key else []), value, delete, base=TWO)


@pytest.mark.parametrize(
    ("body", "reason", "detail", "item_id"),
    [
        (second(key="id", delete=True), "bad_id", "data[1].id: missing", None),
        (second(1234, key="id"), "bad_id", "data[1].id: not a string but a number", None),
        (second("12ab", key="id"), "bad_id", "data[1].id: not an X id (4 characters)", None),
        (second("1" * 20, key="id"), "bad_id", "data[1].id: not an X id (20 characters)", None),
        (second(str(2**63), key="id"), "bad_id", "data[1].id: not an X id (19 characters)", None),
        (second(key="created_at", delete=True), "missing_created_at", "data[1].created_at: missing", Q2),
        (second(None, key="created_at"), "missing_created_at", "data[1].created_at: null", Q2),
        (
            second("yesterday", key="created_at"),
            "bad_created_at",
            "data[1].created_at: not an ISO 8601 time (9 characters)",
            Q2,
        ),
        (
            second("2026-06-01T09:00:00", key="created_at"),
            "bad_created_at",
            "data[1].created_at: a time without a zone",
            Q2,
        ),
        (
            second("0001-01-01T00:00:00+01:00", key="created_at"),
            "bad_created_at",
            "data[1].created_at: a time out of range",
            Q2,
        ),
        (
            second("9999-12-31T23:59:59.000Z", key="created_at"),
            "implausible_created_at",
            (
                "data[1].created_at: 9999-12-31T23:59:59+00:00 is more than 1 day after it was received "
                "(2026-06-01T12:00:00+00:00)"
            ),
            Q2,
        ),
        (
            second("2005-06-01T09:00:00.000Z", key="created_at"),
            "implausible_created_at",
            "data[1].created_at: 2005-06-01T09:00:00+00:00 is before x existed (2006-03-21)",
            Q2,
        ),
        (second(None, key="text"), "bad_text", "data[1].text: null", Q2),
        (second(42, key="text"), "bad_text", "data[1].text: not a string but a number", Q2),
        (second(202, key="author_id"), "bad_author", "data[1].author_id: not a string but a number", Q2),
        (second(key="conversation_id", delete=True), "bad_thread", "data[1].conversation_id: missing", Q2),
        (
            second("quoted", key="referenced_tweets"),
            "bad_thread",
            "data[1].referenced_tweets: not a list but a string of 6 characters",
            Q2,
        ),
        (
            second([{"type": "quoted"}], key="referenced_tweets"),
            "bad_thread",
            "data[1].referenced_tweets[0].id: missing",
            Q2,
        ),
        (
            second([1], key="edit_history_tweet_ids"),
            "bad_thread",
            "data[1].edit_history_tweet_ids: holds something else than X ids",
            Q2,
        ),
        (second("a tweet"), "bad_item", "data[1]: not an object but a string of 7 characters", None),
    ],
)
def test_a_malformed_tweet_is_set_aside_and_the_rest_of_the_page_parses(
    body: dict[str, Any], reason: str, detail: str, item_id: str | None
) -> None:
    result = parse_page(body)
    assert [m.external_id for m in result.messages] == [Q1]
    [rejected] = result.rejected
    assert (rejected.reason, rejected.detail, rejected.external_id) == (reason, detail, item_id)
    assert rejected.raw == body["data"][1] and rejected.kind == "tweet"
    assert reason in REJECT_REASONS
    assert "me too" not in rejected.detail  # a detail names the field, never the content
    # a tweet whose id could be read still moves the cursor past it
    assert result.ids == [int(Q1)] + ([int(item_id)] if item_id else [])


def test_a_recorded_page_with_a_tweet_without_created_at() -> None:
    """A mentions page as X serves it (includes, meta, a reply lacking created_at): the two other
    tweets are messages, the third is set aside with what parsing it again needs."""
    body = json.loads((DATA / "x_mentions_missing_created_at.json").read_text())
    received = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
    result = parse_tweets(
        body, user_id="1366662474757046272", handle="acme_support", endpoint=ENDPOINT_MENTIONS, received_at=received
    )
    assert {m.external_id: m.author_handle for m in result.messages} == {
        "2123783826988146688": "sophie_lmb",
        "2123779194005712899": "camille_dbs",
    }
    [rejected] = result.rejected
    assert (rejected.reason, rejected.detail) == ("missing_created_at", "data[1].created_at: missing")
    assert rejected.external_id == "2123779850350415873" and rejected.raw == body["data"][1]
    assert rejected.context == {"usernames": {"1580337916208902145": "jmartin_75"}}
    assert result.newest_id == 2123783826988146688 and result.oldest_id == 2123779194005712899
    assert result.next_token == body["meta"]["next_token"]
    # once a version reads it (here: the payload fixed), the same item parses from the quarantine
    fixed = {**rejected.raw, "created_at": "2026-11-20T14:05:48.000Z"}
    again = parse_rejected(
        "x.mentions",
        rejected.kind,
        fixed,
        rejected.context,
        user_id="1366662474757046272",
        handle="acme_support",
        received_at=received,
    )
    [m] = again.messages
    assert (m.external_id, m.author_handle, m.thread_key) == (
        "2123779850350415873",
        "jmartin_75",
        "2123779194005712899:1580337916208902145",
    )


def test_a_tweet_from_the_future_is_clamped_to_its_receive_time_and_flagged() -> None:
    ahead = RECEIVED + timedelta(hours=3)
    within = RECEIVED + FUTURE_SKEW - timedelta(seconds=1)
    result = parse_page(page(tweet(Q1, ALICE, "@acme help?", ahead), tweet(Q2, BOB, "@acme hello?", within)))
    by_id = {m.external_id: m for m in result.messages}
    assert (by_id[Q1].created_at, by_id[Q1].future_created_at) == (RECEIVED, ahead)
    assert (by_id[Q2].created_at, by_id[Q2].future_created_at) == (within, None)  # clocks drift a little
    assert result.rejected == []


@pytest.mark.parametrize(
    ("event", "reason", "detail"),
    [
        (
            {"id": Q1, "event_type": "MessageCreate", "created_at": "2026-06-01T09:00:00.000Z"},
            "bad_text",
            "data[0].text: missing",
        ),
        (
            {
                "id": Q1,
                "event_type": "MessageCreate",
                "text": "hi",
                "sender_id": ALICE,
                "created_at": "2026-06-01T09:00:00.000Z",
            },
            "bad_thread",
            "data[0].dm_conversation_id: missing",
        ),
        (
            {
                "id": Q1,
                "event_type": "MessageCreate",
                "text": "hi",
                "sender_id": ALICE,
                "dm_conversation_id": "1-x",
                "created_at": "2026-06-01T09:00:00.000Z",
            },
            "bad_thread",
            "data[0].dm_conversation_id: not a DM conversation id (3 characters)",
        ),
        (
            {"id": Q1, "text": "hi", "created_at": "2026-06-01T09:00:00.000Z"},
            "bad_field",
            "data[0].event_type: missing",
        ),
        (
            {
                "id": Q1,
                "event_type": "MessageCreate",
                "text": "hi",
                "sender_id": ALICE,
                "dm_conversation_id": f"{BRAND}-{ALICE}",
            },
            "missing_created_at",
            "data[0].created_at: missing",
        ),
    ],
)
def test_bad_dm_events_are_set_aside(event: dict[str, Any], reason: str, detail: str) -> None:
    good = dm(R1, BRAND, "Bonjour, on regarde", T2)
    result = parse_dm_events(
        dm_page(event, good), user_id=BRAND, handle=None, endpoint=ENDPOINT_DM_EVENTS, received_at=RECEIVED
    )
    assert [m.external_id for m in result.messages] == [R1]
    [rejected] = result.rejected
    assert (rejected.reason, rejected.detail, rejected.kind, rejected.external_id) == (reason, detail, "dm_event", Q1)
    assert sorted(result.ids) == sorted([int(Q1), int(R1)])


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<html><body>Over capacity</body></html>", "not JSON"),
        (json.dumps(GOOD).encode()[:50], "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
    ],
)
def test_bodies_that_are_not_json_objects(body: bytes, says: str) -> None:
    with pytest.raises(BadPayload, match=says) as caught:
        decode_json(body, ENDPOINT_MENTIONS)
    assert caught.value.endpoint == ENDPOINT_MENTIONS


SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3), max_leaves=6
)
PATHS = [
    ["data"],
    ["data", 0],
    ["includes"],
    ["includes", "users"],
    ["includes", "users", 0],
    ["meta"],
    ["meta", "next_token"],
    ["meta", "result_count"],
    ["errors"],
] + [
    ["data", 0, key]
    for key in (
        "id",
        "text",
        "created_at",
        "author_id",
        "conversation_id",
        "in_reply_to_user_id",
        "referenced_tweets",
        "edit_history_tweet_ids",
    )
]


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(PATHS), value=JSON)
def test_any_wrong_value_anywhere_is_a_bad_envelope_a_rejected_item_or_parses(path: list[Any], value: Any) -> None:
    try:
        result = parse_page(mutate(path, value))
    except BadPayload:
        assert path[:2] != ["data", 0]  # an item, whatever is in it, never fails its page
        return
    for m in result.messages:  # what parses is complete
        assert m.external_id.isdigit() and m.created_at.tzinfo is not None
        assert isinstance(m.text, str)
    for r in result.rejected:  # what does not is set aside with a known reason and a short detail
        assert r.reason in REJECT_REASONS and r.detail.startswith("data[") and len(r.detail) <= 300


def test_cursor_round_trip() -> None:
    assert Cursor.decode(None) == Cursor()
    assert Cursor.decode("123") == Cursor("123") and Cursor("123").encode() == "123"
    gap = Cursor("900", True, "100", "450")
    assert Cursor.decode(gap.encode()) == gap
    no_floor = Cursor("900", True, None, "abc_token")
    assert Cursor.decode(no_floor.encode()) == no_floor
    with pytest.raises(ValueError, match="not a cursor of an X stream"):
        Cursor.decode("2026-06-01T00:00:00")


def test_rate_window_spaces_requests_until_the_reset() -> None:
    w = RateWindow()
    assert w.spacing(0.0) is None and not w.exhausted(0.0)
    w.observe(10, 9, 900.0)
    assert w.spacing(0.0) == 100.0  # 9 requests left for 900 s
    w.users = 3
    assert w.spacing(0.0) == 300.0  # three sources share them
    w.spend(10.0)
    assert w.remaining == 8
    w.observe(10, 9, 900.0)  # an answer that was in flight: the lower count wins
    assert w.remaining == 8
    w.observe(10, 0, 900.0)
    assert w.exhausted(100.0) and w.spacing(100.0) == 801.0
    assert not w.exhausted(900.0)
    w.observe(10, 9, 1800.0)  # a new window
    assert w.remaining == 9 and w.reset == 1800.0
