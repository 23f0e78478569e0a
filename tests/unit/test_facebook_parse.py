"""Pure parsing of Graph API answers: Messenger threads, Page replies, visitor posts, nested
replies, bad envelopes, items set aside, times from the future; usage headers, error codes,
cursors and secrets."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.domain.items import REJECT_REASONS, Rejected
from monitor.domain.model import Message
from monitor.secrets import EnvSecret
from monitor.sources.base import BadPayload, CredentialsRejected, PermissionMissing, RateLimited, TemporaryFailure
from monitor.sources.facebook.cursor import ActivePost, CommentsCursor, MessengerCursor
from monitor.sources.facebook.payloads import (
    Conversation,
    Post,
    comment_messages,
    is_messenger_id,
    messenger_message,
    parse_conversation,
    parse_post,
    parse_rejected,
)
from monitor.sources.graph.client import appsecret_proof
from monitor.sources.graph.errors import DEFAULT_THROTTLE_SECONDS, GraphError, ObjectGone, graph_error, translate
from monitor.sources.graph.ids import is_graph_id
from monitor.sources.graph.paging import parse_listing
from monitor.sources.graph.usage import Usage, parse_usage, slowdown

PAGE = "5550001"
ANN = {"name": "Ann Martin", "id": "901"}
BOB = {"name": "Bob", "id": "902"}
PAGE_FROM = {"name": "La Boutique", "id": PAGE}
T1, T2, T3, T4 = (f"2026-06-01T09:{m:02d}:00+0000" for m in (0, 7, 12, 30))
RECEIVED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")


def comment(
    cid: str,
    when: str,
    who: dict[str, str] | None,
    text: str,
    parent: str | None = None,
    grandparent: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": cid, "created_time": when, "message": text}
    if who is not None:
        out["from"] = who
    if parent is not None:
        out["parent"] = {"id": parent, **({"parent": {"id": grandparent}} if grandparent else {})}
    return out


def message(item: object, conversation: str = "t_1") -> Message:
    m = messenger_message(item, conversation, PAGE, received_at=RECEIVED)
    assert isinstance(m, Message), m
    return m


def rejected_message(item: object) -> Rejected:
    m = messenger_message(item, "t_1", PAGE, received_at=RECEIVED)
    assert isinstance(m, Rejected), m
    return m


def comments(post_id: str, visitor: bool, items: list[Any]) -> list[Message]:
    parsed = comment_messages(post_id, visitor, items, PAGE, received_at=RECEIVED)
    assert parsed.rejected == []
    return parsed.messages


def conversation(item: object) -> Conversation:
    conv = parse_conversation(item, received_at=RECEIVED)
    assert isinstance(conv, Conversation), conv
    return conv


# -- times, ids and listings ---------------------------------------------------------------------


def test_graph_times_are_parsed_to_aware_utc() -> None:
    assert message({"id": "m_1", "created_time": "2026-06-01T09:07:30+0000"}).created_at == datetime(
        2026, 6, 1, 9, 7, 30, tzinfo=UTC
    )
    assert message({"id": "m_1", "created_time": "2026-06-01T11:07:30+0200"}).created_at == datetime(
        2026, 6, 1, 9, 7, 30, tzinfo=UTC
    )
    for bad, reason in (
        (None, "missing_created_at"),
        (1780000000, "bad_created_at"),
        ("yesterday", "bad_created_at"),
        ("2026-06-01T09:07:30", "bad_created_at"),
    ):
        assert rejected_message({"id": "m_1", "created_time": bad}).reason == reason


def test_ids_as_the_graph_api_documents_them() -> None:
    for good in ("5550001", "5550001_1000012", "9" * 20, "9" * 20 + "_" + "9" * 20):
        assert is_graph_id(good), good
    for bad in ("", "abc", "1_", "_1", "1_2_3", "9" * 21, "1 2", "١٢٣", "1/feed"):
        assert not is_graph_id(bad), bad
    for good in ("t_1000001", "m_mid.$cAAJsujCd2ORj_1qmrFdzhVa-4cvO", "mid.1234567890", "t_10161143521431425"):
        assert is_messenger_id(good), good
    for bad in ("", "t_1/messages", "t_1?fields=x", "t 1", "m_" + "a" * 300, "t_1#x", "t_%2F"):
        assert not is_messenger_id(bad), bad


def test_listing_pages_by_after_cursor_and_stops_without_next() -> None:
    page = parse_listing(
        {
            "data": [{"id": "1"}],
            "paging": {"cursors": {"before": "QVFa", "after": "QVFb"}, "next": "https://graph.facebook.com/..."},
        }
    )
    assert page.items == [{"id": "1"}] and page.after == "QVFb"
    last = parse_listing({"data": [{"id": "2"}], "paging": {"cursors": {"before": "x", "after": "y"}}})
    assert last.after is None
    assert parse_listing({"data": []}).after is None
    assert parse_listing({"data": ["1"]}).items == ["1"]  # an item is its parser's business


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "text",
        {"error": "x"},
        {"data": {"id": "1"}},
        {"data": [], "paging": []},
        {"data": [{"id": "1"}], "paging": {"next": "https://x"}},
        {"data": [{"id": "1"}], "paging": {"next": "https://x", "cursors": {"after": ""}}},
    ],
)
def test_malformed_listings_are_bad_payloads(body: object) -> None:
    with pytest.raises(BadPayload):
        parse_listing(body)


# -- Messenger -----------------------------------------------------------------------------------


def test_messenger_messages_from_the_page_are_outbound_in_the_conversation_thread() -> None:
    conv = conversation(
        {
            "id": "t_77",
            "updated_time": T2,
            "messages": {
                "data": [
                    {
                        "id": "m_2",
                        "created_time": T2,
                        "from": {**PAGE_FROM, "email": f"{PAGE}@facebook.com"},
                        "message": "Bonjour, nous regardons.",
                    },
                    {
                        "id": "m_1",
                        "created_time": T1,
                        "from": {**ANN, "email": "901@facebook.com"},
                        "message": "Ma commande ?",
                    },
                ],
                "paging": {"cursors": {"before": "a", "after": "b"}, "next": "https://graph/next"},
            },
        }
    )
    assert conv.id == "t_77" and conv.updated == at(T2) and conv.messages_after == "b"
    reply, question = (message(m, conv.id) for m in conv.messages)
    assert (question.direction, question.thread_key, question.thread_kind) == ("inbound", "messenger:t_77", "private")
    assert (question.author_id, question.author_handle, question.created_at) == ("901", "Ann Martin", at(T1))
    assert (reply.direction, reply.thread_key, reply.text) == ("outbound", "messenger:t_77", "Bonjour, nous regardons.")


def test_messenger_attachment_without_text_is_an_empty_message() -> None:
    m = message({"id": "m_3", "created_time": T3, "from": ANN})
    assert m.text == "" and m.direction == "inbound"


@pytest.mark.parametrize(
    ("item", "reason", "detail", "item_id"),
    [
        (
            {"created_time": T1, "from": ANN, "message": "x"},
            "bad_id",
            "a message of conversation t_1.id: missing",
            None,
        ),
        (
            {"id": "m_1/x", "created_time": T1, "from": ANN, "message": "x"},
            "bad_id",
            "a message of conversation t_1.id: not a message id (5 characters)",
            None,
        ),
        ({"id": "m_1", "from": ANN, "message": "x"}, "missing_created_at", "message m_1.created_time: missing", "m_1"),
        (
            {"id": "m_1", "created_time": T1, "from": "Ann", "message": "x"},
            "bad_author",
            "message m_1.from: not an object but a string of 3 characters",
            "m_1",
        ),
        (
            {"id": "m_1", "created_time": T1, "from": {"name": "no id"}, "message": "x"},
            "bad_author",
            "message m_1.from.id: missing",
            "m_1",
        ),
        (
            {"id": "m_1", "created_time": T1, "from": ANN, "message": 42},
            "bad_text",
            "message m_1.message: not a string but a number",
            "m_1",
        ),
        (
            {"id": "m_1", "created_time": "9999-12-31T23:59:59+0000", "from": ANN, "message": "x"},
            "implausible_created_at",
            (
                "message m_1.created_time: 9999-12-31T23:59:59+00:00 is more than 1 day "
                "after it was received (2026-06-01T12:00:00+00:00)"
            ),
            "m_1",
        ),
        ("m_1", "bad_item", "a message of conversation t_1: not an object but a string of 3 characters", None),
    ],
)
def test_malformed_messenger_messages_are_set_aside(item: Any, reason: str, detail: str, item_id: str | None) -> None:
    rejected = rejected_message(item)
    assert (rejected.reason, rejected.detail, rejected.external_id) == (reason, detail, item_id)
    assert rejected.raw == item and rejected.kind == "messenger_message"
    assert rejected.context == {"conversation": "t_1"}


@pytest.mark.parametrize("updated", [None, "soon", "9999-12-31T23:59:59+0000", "1999-01-01T00:00:00+0000"])
def test_a_conversation_with_an_unusable_updated_time_is_read_as_updated_now(updated: str | None) -> None:
    """Not set aside: its messages have their own times, and setting it aside would lose them."""
    item: dict[str, Any] = {"id": "t_1", "messages": {"data": [{"id": "m_1"}]}}
    if updated is not None:
        item["updated_time"] = updated
    conv = parse_conversation(item, received_at=RECEIVED)
    assert not isinstance(conv, Rejected) and conv.updated == RECEIVED and len(conv.messages) == 1


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"id": "t_1", "updated_time": T1, "messages": {"data": {}}}, "bad_field"),
        ({"updated_time": T1}, "bad_id"),
    ],
)
def test_a_malformed_conversation_is_set_aside(item: dict[str, Any], reason: str) -> None:
    conv = parse_conversation(item, received_at=RECEIVED)
    assert isinstance(conv, Rejected) and conv.reason == reason and conv.kind == "conversation"


def test_a_conversation_updated_in_the_future_reads_as_updated_now() -> None:
    """Its updated_time becomes the Messenger watermark: a future one would hide later updates."""
    conv = conversation({"id": "t_1", "updated_time": "2026-06-01T15:00:00+0000"})
    assert conv.updated == RECEIVED


def test_a_message_from_the_future_is_clamped_to_its_receive_time_and_flagged() -> None:
    m = message({"id": "m_1", "created_time": "2026-06-01T14:00:00+0000", "from": ANN, "message": "?"})
    assert (m.created_at, m.future_created_at) == (RECEIVED, datetime(2026, 6, 1, 14, tzinfo=UTC))


# -- comments and posts ------------------------------------------------------------------------


def test_a_top_level_comment_is_a_thread_and_the_page_reply_is_outbound_in_it() -> None:
    items = [
        comment("1_11", T2, PAGE_FROM, "On regarde !", parent="1_10"),
        comment("1_10", T1, ANN, "Toujours pas reçu ma commande, vous pouvez vérifier ?"),
    ]
    reply, question = comments("5550001_1", False, items)
    assert (question.thread_key, question.direction, question.thread_kind) == ("comment:1_10", "inbound", "public")
    assert (reply.thread_key, reply.direction) == ("comment:1_10", "outbound")
    assert question.url == "https://www.facebook.com/5550001_1?comment_id=1_10"


def test_a_reply_whose_parent_was_read_earlier_joins_the_parent_thread() -> None:
    [reply] = comments("5550001_1", False, [comment("1_12", T3, PAGE_FROM, "Voilà", "1_10")])
    assert reply.thread_key == "comment:1_10"


def test_a_reply_to_a_reply_belongs_to_the_top_level_thread() -> None:
    # third level, as the API describes it: parent{id,parent{id}}
    [deep] = comments("p_1", False, [comment("1_13", T3, ANN, "Et le retour ?", "1_11", "1_10")])
    assert deep.thread_key == "comment:1_10" and deep.direction == "inbound"
    # or resolved through the comments of the same answer when only the parent is given
    items = [
        comment("1_13", T3, ANN, "Et le retour ?", "1_11"),
        comment("1_11", T2, PAGE_FROM, "C'est parti", "1_10"),
        comment("1_10", T1, ANN, "Où en est ma commande ?"),
    ]
    assert {m.external_id: m.thread_key for m in comments("p_1", False, items)} == {
        "1_13": "comment:1_10",
        "1_11": "comment:1_10",
        "1_10": "comment:1_10",
    }


def test_a_reply_to_the_pages_comment_replies_to_the_brand() -> None:
    """From `parent{from}` when the API gives it, else from the parent read in the same answer;
    a reply to another customer's comment does not reply to the brand."""
    to_page = comment("1_12", T3, ANN, "ok", "1_11")
    to_page["parent"]["from"] = PAGE_FROM
    [alone] = comments("p_1", False, [to_page])
    assert alone.reply_to_brand and alone.thread_key == "comment:1_11"
    items = [
        comment("1_13", T4, ANN, "ok", "1_11"),
        comment("1_11", T2, PAGE_FROM, "C'est parti", "1_10"),
        comment("1_12", T3, BOB, "moi aussi", "1_10"),
        comment("1_10", T1, ANN, "Où en est ma commande ?"),
    ]
    replies = {m.external_id: m.reply_to_brand for m in comments("p_1", False, items)}
    assert replies == {"1_13": True, "1_11": False, "1_12": False, "1_10": False}
    to_customer = comment("1_14", T3, BOB, "pareil", "1_10")
    to_customer["parent"]["from"] = ANN
    assert not comments("p_1", False, [to_customer])[0].reply_to_brand


def test_a_parent_loop_does_not_hang() -> None:
    items = [comment("1_1", T1, ANN, "?", "1_2"), comment("1_2", T2, ANN, "?", "1_1")]
    assert len(comments("p", False, items)) == 2


def test_a_visitor_post_is_the_question_and_every_comment_under_it_is_its_thread() -> None:
    post = parse_post(
        {"id": "5550001_9", "created_time": T1, "from": ANN, "message": "How do I change my booking?"},
        PAGE,
        received_at=RECEIVED,
    )
    assert isinstance(post, Post) and post.message is not None and post.created == at(T1)
    assert (post.message.external_id, post.message.thread_key, post.message.direction, post.message.url) == (
        "5550001_9",
        "post:5550001_9",
        "inbound",
        "https://www.facebook.com/5550001_9",
    )
    items = [
        comment("9_2", T3, ANN, "Any news?"),
        comment("9_1", T2, PAGE_FROM, "Sent you a DM"),
        comment("9_3", T4, PAGE_FROM, "Done", parent="9_2"),
    ]
    msgs = comments("5550001_9", True, items)
    assert [(m.thread_key, m.direction) for m in msgs] == [
        ("post:5550001_9", "inbound"),
        ("post:5550001_9", "outbound"),
        ("post:5550001_9", "outbound"),
    ]


def test_the_pages_own_posts_are_not_messages() -> None:
    post = parse_post(
        {"id": "5550001_8", "created_time": T1, "from": PAGE_FROM, "message": "Nouvelle collection"},
        PAGE,
        received_at=RECEIVED,
    )
    assert post == Post("5550001_8", at(T1), None)


def test_a_comment_without_from_is_an_inbound_from_an_unknown_author() -> None:
    [m] = comments("p", False, [comment("1_5", T1, None, "Do you ship to Canada?")])
    assert (m.direction, m.author_id, m.author_handle) == ("inbound", None, None)


@pytest.mark.parametrize(
    ("item", "reason", "detail"),
    [
        (
            {"id": "1_1", "created_time": T1, "from": BOB, "parent": "1_0"},
            "bad_thread",
            "comment 1_1.parent: not an object but a string of 3 characters",
        ),
        (
            {"id": "1_1", "created_time": T1, "from": BOB, "parent": {"id": "1_0", "parent": "x"}},
            "bad_thread",
            "comment 1_1.parent.parent: not an object but a string of 1 character",
        ),
        ({"id": "1_1", "created_time": T1, "from": BOB, "parent": {}}, "bad_thread", "comment 1_1.parent.id: missing"),
        (
            {"id": "1_1", "created_time": "soon", "from": BOB},
            "bad_created_at",
            "comment 1_1.created_time: not an ISO 8601 time (4 characters)",
        ),
        ({"created_time": T1, "from": BOB}, "bad_id", "a comment of post p.id: missing"),
        ({"id": True, "created_time": T1, "from": BOB}, "bad_id", "a comment of post p.id: not a string but a boolean"),
        (
            {"id": "a", "created_time": T1, "from": BOB},
            "bad_id",
            "a comment of post p.id: not a Graph id (1 character)",
        ),
        (
            {"id": "1_1", "created_time": T1, "from": BOB, "message": ["x"]},
            "bad_text",
            "comment 1_1.message: not a string but a list",
        ),
    ],
)
def test_malformed_comments_are_set_aside_and_the_others_read(item: dict[str, Any], reason: str, detail: str) -> None:
    good = comment("1_9", T2, ANN, "Do you ship to Canada?")
    parsed = comment_messages("p", False, [item, good], PAGE, received_at=RECEIVED)
    assert [m.external_id for m in parsed.messages] == ["1_9"]
    [rejected] = parsed.rejected
    assert (rejected.reason, rejected.detail, rejected.kind) == (reason, detail, "comment")
    assert rejected.raw == item and rejected.context == {"post": "p", "visitor": False}


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"id": "5550001_9", "from": ANN, "message": "?"}, "missing_created_at"),
        (
            {"id": "5550001_9", "created_time": "2003-01-01T00:00:00+0000", "from": ANN, "message": "?"},
            "implausible_created_at",
        ),
        ({"id": "5550001_9", "created_time": T1, "from": ANN, "message": 3}, "bad_text"),
        ({"id": "5550001", "created_time": T1, "from": {"id": 901}, "message": "?"}, "bad_author"),
    ],
)
def test_a_malformed_post_is_set_aside(item: dict[str, Any], reason: str) -> None:
    post = parse_post(item, PAGE, received_at=RECEIVED)
    assert isinstance(post, Rejected) and post.reason == reason and post.kind == "post"


def test_set_aside_items_parse_again_with_their_context() -> None:
    """What `quarantine retry` does with each kind of item: the same parser, the same result."""
    item = comment("1_13", T3, ANN, "Et le retour ?", "1_11", "1_10")
    [m] = parse_rejected(
        "comment", item, {"post": "5550001_1", "visitor": False}, page_id=PAGE, received_at=RECEIVED
    ).messages
    assert (m.thread_key, m.url) == ("comment:1_10", "https://www.facebook.com/5550001_1?comment_id=1_11")
    visitor = parse_rejected(
        "post",
        {"id": "5550001_9", "created_time": T1, "from": ANN, "message": "?"},
        {},
        page_id=PAGE,
        received_at=RECEIVED,
    )
    assert [m.thread_key for m in visitor.messages] == ["post:5550001_9"]
    conv = parse_rejected(
        "conversation",
        {
            "id": "t_5",
            "updated_time": T2,
            "messages": {
                "data": [
                    {"id": "m_8", "created_time": T1, "from": ANN, "message": "Bonjour ?"},
                    {"id": "m_9", "created_time": T2, "from": ANN, "message": 7},
                ]
            },
        },
        {},
        page_id=PAGE,
        received_at=RECEIVED,
    )
    assert [m.thread_key for m in conv.messages] == ["messenger:t_5"]
    assert [(r.kind, r.reason, r.context) for r in conv.rejected] == [
        ("messenger_message", "bad_text", {"conversation": "t_5"})
    ]
    still = parse_rejected(
        "messenger_message", {"id": "m_1", "from": ANN}, {"conversation": "t_5"}, page_id=PAGE, received_at=RECEIVED
    )
    assert [r.reason for r in still.rejected] == ["missing_created_at"] and still.messages == []
    with pytest.raises(ValueError, match="not an item kind"):
        parse_rejected("tweet", {}, {}, page_id=PAGE, received_at=RECEIVED)


GRAPH_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=6,
)


@given(key=st.sampled_from(["id", "created_time", "from", "message", "parent"]), value=GRAPH_JSON)
def test_any_wrong_value_in_a_comment_parses_or_is_set_aside(key: str, value: Any) -> None:
    item = {**comment("1_1", T1, ANN, "?", "1_0"), key: value}
    parsed = comment_messages("p", False, [item], PAGE, received_at=RECEIVED)
    assert len(parsed.messages) + len(parsed.rejected) == 1
    for r in parsed.rejected:
        assert r.reason in REJECT_REASONS and len(r.detail) <= 300


# -- usage headers and errors --------------------------------------------------------------------


def test_usage_headers_give_the_highest_percentages_and_the_longest_block() -> None:
    usage = parse_usage(
        {
            "x-app-usage": json.dumps({"call_count": 12, "total_cputime": 30, "total_time": 7}),
            "X-Business-Use-Case-Usage": json.dumps(
                {
                    PAGE: [
                        {
                            "type": "pages",
                            "call_count": 81,
                            "total_cputime": 20,
                            "total_time": 95,
                            "estimated_time_to_regain_access": 0,
                        },
                        {
                            "type": "messenger",
                            "call_count": 10,
                            "total_cputime": 5,
                            "total_time": 5,
                            "estimated_time_to_regain_access": 12,
                        },
                    ],
                }
            ),
        }
    )
    assert usage == Usage(app=30.0, business=95.0, regain_seconds=720.0)
    assert usage.highest == 95.0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-App-Usage": "not json"},
        {"X-App-Usage": "[1, 2]"},
        {"X-Business-Use-Case-Usage": '{"1": "oops"}'},
        {"X-Business-Use-Case-Usage": "{"},
        {"X-App-Usage": json.dumps({"call_count": "high"})},
    ],
)
def test_malformed_usage_headers_count_as_absent(headers: dict[str, str]) -> None:
    assert parse_usage(headers) == Usage()


def test_polls_slow_down_above_75_percent() -> None:
    assert slowdown(75.0, 60.0) is None and slowdown(20.0, 60.0) is None
    assert slowdown(90.0, 60.0) == pytest.approx(60.0 * 5.2)
    assert slowdown(100.0, 60.0) == slowdown(140.0, 60.0) == pytest.approx(480.0)


def err(status: int, code: int, subcode: int | None = None, message: str = "boom") -> GraphError:
    body = {
        "error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}
        | ({"error_subcode": subcode} if subcode else {})
    }
    e = graph_error(status, body)
    assert e is not None
    return e


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001, 80006])
def test_throttling_codes_are_rate_limits_until_the_announced_time(code: int) -> None:
    announced = translate(err(400, code), Usage(business=100.0, regain_seconds=1200.0), "/x")
    assert isinstance(announced, RateLimited) and announced.retry_after == 1200.0
    unannounced = translate(err(400, code), Usage(), "/x")
    assert isinstance(unannounced, RateLimited)
    assert unannounced.retry_after == DEFAULT_THROTTLE_SECONDS


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (err(400, 190, 463), CredentialsRejected),
        (err(401, 190), CredentialsRejected),
        (err(400, 104), CredentialsRejected),
        (err(400, 100, message="Invalid appsecret_proof provided in the API argument"), CredentialsRejected),
        (err(403, 10, message="(#10) This endpoint requires the 'pages_messaging' permission"), PermissionMissing),
        (err(400, 230), PermissionMissing),
        (err(400, 803, message="(#803) Some of the aliases you requested do not exist: acme.shop"), ObjectGone),
        (err(500, 2), TemporaryFailure),
        (err(400, 1), TemporaryFailure),
        (err(400, 100, 33), ObjectGone),
        (err(429, 9999), RateLimited),
    ],
)
def test_graph_errors_map_to_source_errors(error: GraphError, kind: type) -> None:
    exc = translate(error, Usage(), "/v23.0/5550001/feed")
    assert type(exc) is kind and exc.endpoint == "/v23.0/5550001/feed"


def test_a_permission_error_names_the_permission_the_api_names() -> None:
    named = translate(
        err(400, 230, message="(#230) Requires pages_messaging permission to manage the object"), Usage(), "/x"
    )
    assert isinstance(named, PermissionMissing) and named.permission == "pages_messaging"
    assert isinstance(named, CredentialsRejected)  # the poller treats it as a refused token
    unnamed = translate(err(400, 200, message="(#200) Permissions error"), Usage(), "/x")
    assert isinstance(unnamed, PermissionMissing) and unnamed.permission is None


def test_only_error_bodies_are_graph_errors() -> None:
    assert graph_error(200, {"data": []}) is None
    assert graph_error(500, None) is None
    assert graph_error(400, {"error": "text"}) is None
    e = graph_error(400, {"error": {"code": "190", "message": 5}})
    assert e is not None and e.code is None and e.message == "5"


# -- secrets and cursors -----------------------------------------------------------------------


def test_appsecret_proof_is_the_hex_hmac_sha256_of_the_token() -> None:
    assert appsecret_proof("app-secret", "EAAB-token") == (
        "294c307ff2427ed2140908ec13f483ef7f7d7819a8fc32fb535cf6ada2327ab2"
    )


def test_tokens_are_read_at_each_use_from_the_variable_or_its_file(tmp_path: Path) -> None:
    env: dict[str, str] = {"FB_TOKEN": "first"}
    secret = EnvSecret("FB_TOKEN", env)
    assert secret.get() == "first"
    env["FB_TOKEN"] = "second"
    assert secret.get() == "second"
    path = tmp_path / "token"
    path.write_text("from-file\n")
    env.update(FB_TOKEN="", FB_TOKEN_FILE=str(path))
    assert secret.get() == "from-file"
    path.write_text("rotated")
    os.utime(path, ns=(1, 10**18))  # a new modification time, as a secret update gives it
    assert secret.get() == "rotated"
    path.unlink()
    assert secret.get() is None
    assert EnvSecret(None, env).get() is None


def test_cursors_round_trip_and_garbage_starts_over() -> None:
    assert MessengerCursor.loads(MessengerCursor(1780300000).dumps()) == MessengerCursor(1780300000)
    for bad in (None, "", "not json", "[]", '{"v": 2, "watermark": 1}', '{"v": 1, "watermark": "x"}'):
        assert MessengerCursor.loads(bad) is None
        assert CommentsCursor.loads(bad) is None


@given(
    st.integers(0, 2**40),
    st.integers(0, 2**40),
    st.dictionaries(
        st.from_regex(r"\d{1,15}_\d{1,15}", fullmatch=True),
        st.tuples(st.integers(0, 2**40), st.booleans()),
        max_size=30,
    ),
)
def test_comments_cursor_round_trips(posts: int, swept: int, active: dict[str, tuple[int, bool]]) -> None:
    cursor = CommentsCursor(posts, swept, {k: ActivePost(*v) for k, v in active.items()})
    text = cursor.dumps()
    assert CommentsCursor.loads(text) == cursor
    assert json.loads(text)["v"] == 1
