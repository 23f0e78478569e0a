"""Pure parsing of Graph API answers: Messenger threads, Page replies, visitor posts, nested
replies, bad payloads; usage headers, error codes, cursors and secrets."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.sources.base import BadPayload, CredentialsRejected, RateLimited, TemporaryFailure
from monitor.sources.facebook import (
    DEFAULT_THROTTLE_SECONDS,
    ActivePost,
    CommentsCursor,
    EnvSecret,
    GraphError,
    MessengerCursor,
    ObjectGone,
    Usage,
    appsecret_proof,
    comment_messages,
    graph_error,
    messenger_message,
    parse_conversation,
    parse_listing,
    parse_time,
    parse_usage,
    post_message,
    slowdown,
    translate,
)

PAGE = "5550001"
ANN = {"name": "Ann Martin", "id": "901"}
BOB = {"name": "Bob", "id": "902"}
PAGE_FROM = {"name": "La Boutique", "id": PAGE}
T1, T2, T3, T4 = (f"2026-06-01T09:{m:02d}:00+0000" for m in (0, 7, 12, 30))


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")


def comment(cid: str, when: str, who: dict[str, str] | None, text: str, parent: str | None = None,
            grandparent: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": cid, "created_time": when, "message": text}
    if who is not None:
        out["from"] = who
    if parent is not None:
        out["parent"] = {"id": parent, **({"parent": {"id": grandparent}} if grandparent else {})}
    return out


# -- times and listings ------------------------------------------------------------------------


def test_graph_times_are_parsed_to_aware_utc() -> None:
    assert parse_time("2026-06-01T09:07:30+0000") == datetime(2026, 6, 1, 9, 7, 30, tzinfo=UTC)
    assert parse_time("2026-06-01T11:07:30+0200") == datetime(2026, 6, 1, 9, 7, 30, tzinfo=UTC)
    for bad in (None, 1780000000, "yesterday", "2026-06-01T09:07:30"):
        with pytest.raises(BadPayload):
            parse_time(bad)


def test_listing_pages_by_after_cursor_and_stops_without_next() -> None:
    page = parse_listing({"data": [{"id": "1"}], "paging": {
        "cursors": {"before": "QVFa", "after": "QVFb"}, "next": "https://graph.facebook.com/..."}})
    assert page.items == [{"id": "1"}] and page.after == "QVFb"
    last = parse_listing({"data": [{"id": "2"}], "paging": {"cursors": {"before": "x", "after": "y"}}})
    assert last.after is None
    assert parse_listing({"data": []}).after is None


@pytest.mark.parametrize("body", [
    None, [], "text", {"error": "x"}, {"data": {"id": "1"}}, {"data": ["1"]},
    {"data": [], "paging": []}, {"data": [{"id": "1"}], "paging": {"next": "https://x"}},
    {"data": [{"id": "1"}], "paging": {"next": "https://x", "cursors": {"after": ""}}},
])
def test_malformed_listings_are_bad_payloads(body: object) -> None:
    with pytest.raises(BadPayload):
        parse_listing(body)


# -- Messenger -----------------------------------------------------------------------------------


def test_messenger_messages_from_the_page_are_outbound_in_the_conversation_thread() -> None:
    conv = parse_conversation({
        "id": "t_77", "updated_time": T2,
        "messages": {"data": [
            {"id": "m_2", "created_time": T2, "from": {**PAGE_FROM, "email": f"{PAGE}@facebook.com"},
             "message": "Bonjour, nous regardons."},
            {"id": "m_1", "created_time": T1, "from": {**ANN, "email": "901@facebook.com"},
             "message": "Ma commande ?"},
        ], "paging": {"cursors": {"before": "a", "after": "b"}, "next": "https://graph/next"}},
    })
    assert conv.id == "t_77" and conv.updated == at(T2) and conv.messages_after == "b"
    reply, question = (messenger_message(m, conv.id, PAGE) for m in conv.messages)
    assert (question.direction, question.thread_key, question.thread_kind) == (
        "inbound", "messenger:t_77", "private")
    assert (question.author_id, question.author_handle, question.created_at) == ("901", "Ann Martin", at(T1))
    assert (reply.direction, reply.thread_key, reply.text) == ("outbound", "messenger:t_77",
                                                                "Bonjour, nous regardons.")


def test_messenger_attachment_without_text_is_an_empty_message() -> None:
    m = messenger_message({"id": "m_3", "created_time": T3, "from": ANN}, "t_1", PAGE)
    assert m.text == "" and m.direction == "inbound"


@pytest.mark.parametrize("item", [
    {"created_time": T1, "from": ANN, "message": "x"},
    {"id": "m_1", "from": ANN, "message": "x"},
    {"id": "m_1", "created_time": T1, "from": "Ann", "message": "x"},
    {"id": "m_1", "created_time": T1, "from": {"name": "no id"}, "message": "x"},
    {"id": "m_1", "created_time": T1, "from": ANN, "message": 42},
])
def test_malformed_messenger_messages_are_bad_payloads(item: dict[str, Any]) -> None:
    with pytest.raises(BadPayload):
        messenger_message(item, "t_1", PAGE)


def test_conversation_without_updated_time_is_a_bad_payload() -> None:
    with pytest.raises(BadPayload):
        parse_conversation({"id": "t_1", "messages": {"data": []}})


# -- comments and posts ------------------------------------------------------------------------


def test_a_top_level_comment_is_a_thread_and_the_page_reply_is_outbound_in_it() -> None:
    items = [comment("1_11", T2, PAGE_FROM, "On regarde !", parent="1_10"),
             comment("1_10", T1, ANN, "Toujours pas reçu ma commande, vous pouvez vérifier ?")]
    reply, question = comment_messages("5550001_1", False, items, PAGE)
    assert (question.thread_key, question.direction, question.thread_kind) == (
        "comment:1_10", "inbound", "public")
    assert (reply.thread_key, reply.direction) == ("comment:1_10", "outbound")
    assert question.url == "https://www.facebook.com/5550001_1?comment_id=1_10"


def test_a_reply_whose_parent_was_read_earlier_joins_the_parent_thread() -> None:
    [reply] = comment_messages("5550001_1", False, [comment("1_12", T3, PAGE_FROM, "Voilà", "1_10")], PAGE)
    assert reply.thread_key == "comment:1_10"


def test_a_reply_to_a_reply_belongs_to_the_top_level_thread() -> None:
    # third level, as the API describes it: parent{id,parent{id}}
    [deep] = comment_messages("p_1", False, [comment("1_13", T3, ANN, "Et le retour ?", "1_11", "1_10")],
                              PAGE)
    assert deep.thread_key == "comment:1_10" and deep.direction == "inbound"
    # or resolved through the comments of the same answer when only the parent is given
    items = [comment("1_13", T3, ANN, "Et le retour ?", "1_11"),
             comment("1_11", T2, PAGE_FROM, "C'est parti", "1_10"),
             comment("1_10", T1, ANN, "Où en est ma commande ?")]
    assert {m.external_id: m.thread_key for m in comment_messages("p_1", False, items, PAGE)} == {
        "1_13": "comment:1_10", "1_11": "comment:1_10", "1_10": "comment:1_10"}


def test_a_reply_to_the_pages_comment_replies_to_the_brand() -> None:
    """From `parent{from}` when the API gives it, else from the parent read in the same answer;
    a reply to another customer's comment does not reply to the brand."""
    to_page = comment("1_12", T3, ANN, "ok", "1_11")
    to_page["parent"]["from"] = PAGE_FROM
    [alone] = comment_messages("p_1", False, [to_page], PAGE)
    assert alone.reply_to_brand and alone.thread_key == "comment:1_11"
    items = [comment("1_13", T4, ANN, "ok", "1_11"), comment("1_11", T2, PAGE_FROM, "C'est parti", "1_10"),
             comment("1_12", T3, BOB, "moi aussi", "1_10"), comment("1_10", T1, ANN, "Où en est ma commande ?")]
    replies = {m.external_id: m.reply_to_brand for m in comment_messages("p_1", False, items, PAGE)}
    assert replies == {"1_13": True, "1_11": False, "1_12": False, "1_10": False}
    to_customer = comment("1_14", T3, BOB, "pareil", "1_10")
    to_customer["parent"]["from"] = ANN
    assert not comment_messages("p_1", False, [to_customer], PAGE)[0].reply_to_brand


def test_a_parent_loop_does_not_hang() -> None:
    items = [comment("a", T1, ANN, "?", "b"), comment("b", T2, ANN, "?", "a")]
    assert len(comment_messages("p", False, items, PAGE)) == 2


def test_a_visitor_post_is_the_question_and_every_comment_under_it_is_its_thread() -> None:
    post = post_message({"id": "5550001_9", "created_time": T1, "from": ANN,
                         "message": "How do I change my booking?"}, PAGE)
    assert post is not None
    assert (post.external_id, post.thread_key, post.direction, post.url) == (
        "5550001_9", "post:5550001_9", "inbound", "https://www.facebook.com/5550001_9")
    items = [comment("9_2", T3, ANN, "Any news?"), comment("9_1", T2, PAGE_FROM, "Sent you a DM"),
             comment("9_3", T4, PAGE_FROM, "Done", parent="9_2")]
    msgs = comment_messages("5550001_9", True, items, PAGE)
    assert [(m.thread_key, m.direction) for m in msgs] == [
        ("post:5550001_9", "inbound"), ("post:5550001_9", "outbound"), ("post:5550001_9", "outbound")]


def test_the_pages_own_posts_are_not_messages() -> None:
    assert post_message({"id": "5550001_8", "created_time": T1, "from": PAGE_FROM,
                         "message": "Nouvelle collection"}, PAGE) is None


def test_a_comment_without_from_is_an_inbound_from_an_unknown_author() -> None:
    [m] = comment_messages("p", False, [comment("1_5", T1, None, "Do you ship to Canada?")], PAGE)
    assert (m.direction, m.author_id, m.author_handle) == ("inbound", None, None)


@pytest.mark.parametrize("item", [
    {"id": "1", "created_time": T1, "from": BOB, "parent": "1_0"},
    {"id": "1", "created_time": T1, "from": BOB, "parent": {"id": "1_0", "parent": "x"}},
    {"id": "1", "created_time": T1, "from": BOB, "parent": {}},
    {"id": "1", "created_time": T1, "from": BOB, "parent": {"id": "1_0", "from": "the page"}},
    {"id": "1", "created_time": "soon", "from": BOB},
    {"created_time": T1, "from": BOB},
    {"id": True, "created_time": T1, "from": BOB},
])
def test_malformed_comments_are_bad_payloads(item: dict[str, Any]) -> None:
    with pytest.raises(BadPayload):
        comment_messages("p", False, [item], PAGE)


# -- usage headers and errors --------------------------------------------------------------------


def test_usage_headers_give_the_highest_percentages_and_the_longest_block() -> None:
    usage = parse_usage({
        "x-app-usage": json.dumps({"call_count": 12, "total_cputime": 30, "total_time": 7}),
        "X-Business-Use-Case-Usage": json.dumps({
            PAGE: [{"type": "pages", "call_count": 81, "total_cputime": 20, "total_time": 95,
                    "estimated_time_to_regain_access": 0},
                   {"type": "messenger", "call_count": 10, "total_cputime": 5, "total_time": 5,
                    "estimated_time_to_regain_access": 12}],
        }),
    })
    assert usage == Usage(app=30.0, business=95.0, regain_seconds=720.0)
    assert usage.highest == 95.0


@pytest.mark.parametrize("headers", [
    {}, {"X-App-Usage": "not json"}, {"X-App-Usage": "[1, 2]"},
    {"X-Business-Use-Case-Usage": "{\"1\": \"oops\"}"}, {"X-Business-Use-Case-Usage": "{"},
    {"X-App-Usage": json.dumps({"call_count": "high"})},
])
def test_malformed_usage_headers_count_as_absent(headers: dict[str, str]) -> None:
    assert parse_usage(headers) == Usage()


def test_polls_slow_down_above_75_percent() -> None:
    assert slowdown(75.0, 60.0) is None and slowdown(20.0, 60.0) is None
    assert slowdown(90.0, 60.0) == pytest.approx(60.0 * 5.2)
    assert slowdown(100.0, 60.0) == slowdown(140.0, 60.0) == pytest.approx(480.0)


def err(status: int, code: int, subcode: int | None = None, message: str = "boom") -> GraphError:
    body = {"error": {"message": message, "type": "OAuthException", "code": code,
                      "fbtrace_id": "AbC"} | ({"error_subcode": subcode} if subcode else {})}
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


@pytest.mark.parametrize(("error", "kind"), [
    (err(400, 190, 463), CredentialsRejected),
    (err(401, 190), CredentialsRejected),
    (err(400, 104), CredentialsRejected),
    (err(400, 100, message="Invalid appsecret_proof provided in the API argument"), CredentialsRejected),
    (err(403, 10, message="(#10) This endpoint requires the 'pages_messaging' permission"), CredentialsRejected),
    (err(400, 230), CredentialsRejected),
    (err(500, 2), TemporaryFailure),
    (err(400, 1), TemporaryFailure),
    (err(400, 100, 33), ObjectGone),
    (err(429, 9999), RateLimited),
])
def test_graph_errors_map_to_source_errors(error: GraphError, kind: type) -> None:
    exc = translate(error, Usage(), "/v23.0/5550001/feed")
    assert type(exc) is kind and exc.endpoint == "/v23.0/5550001/feed"


def test_only_error_bodies_are_graph_errors() -> None:
    assert graph_error(200, {"data": []}) is None
    assert graph_error(500, None) is None
    assert graph_error(400, {"error": "text"}) is None
    e = graph_error(400, {"error": {"code": "190", "message": 5}})
    assert e is not None and e.code is None and e.message == "5"


# -- secrets and cursors -----------------------------------------------------------------------


def test_appsecret_proof_is_the_hex_hmac_sha256_of_the_token() -> None:
    assert appsecret_proof("app-secret", "EAAB-token") == (
        "294c307ff2427ed2140908ec13f483ef7f7d7819a8fc32fb535cf6ada2327ab2")


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


@given(st.integers(0, 2**40), st.integers(0, 2**40),
       st.dictionaries(st.from_regex(r"\d{1,15}_\d{1,15}", fullmatch=True),
                       st.tuples(st.integers(0, 2**40), st.booleans()), max_size=30))
def test_comments_cursor_round_trips(posts: int, swept: int, active: dict[str, tuple[int, bool]]) -> None:
    cursor = CommentsCursor(posts, swept, {k: ActivePost(*v) for k, v in active.items()})
    text = cursor.dumps()
    assert CommentsCursor.loads(text) == cursor
    assert json.loads(text)["v"] == 1
