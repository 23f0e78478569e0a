"""X Activity API events (monitor/sources/x/activity_events.py, chats.py) and what a webhook
delivery in that format says (monitor/sources/webhooks.py); encrypted chats in a thread's waits.

The envelopes are X's documented samples (`x-api/activity/event-payloads.mdx`, fetched 2026-12-05),
their encoded crypto fields shortened as in the docs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.domain.model import Direction, ThreadInfo, ThreadMessage
from monitor.domain.questions import REASONS
from monitor.domain.sla import Policy, Targets
from monitor.engine import AccountContext, thread_outcome
from monitor.simulator.x_activity import chat_envelope, new_chat
from monitor.sources.webhooks import Nudge, WebhookError, read_x
from monitor.sources.x.activity_events import ActivityEventError, is_envelope, parse_envelope, parse_line
from monitor.sources.x.chats import chat_message

CHAT_RECEIVED: dict[str, Any] = {
    "data": {
        "event_uuid": "8511582263942905822",
        "filter": {"user_id": "1111111111111111111"},
        "event_type": "chat.received",
        "tag": "chat-inbound",
        "payload": {
            "conversation_token": "eyJhbGciOiJIUzI1NiJ9.eyJyZXF1ZXN0aW5nVXN…(truncated)",
            "id": "e4f4d3fc-8bbf-4928-92eb-e5058d6bb6f6",
            "created_at_msec": "1784841183370",
            "sender_id": "2222222222222222222",
            "conversation_id": "2222222222222222222:1111111111111111111",
            "conversation_key_version": "1768236281331",
            "encoded_event": "CwABAAAAEzIwODA0MDA4MjUyMjcxMDAxNjALAAIA…(truncated)",
            "message_event_signature": {"public_key_version": "1765382634817", "signature_version": "7"},
        },
    }
}
MENTION: dict[str, Any] = {
    "data": {
        "event_uuid": "2080765813578191303",
        "filter": {"user_id": "1111111111111111111"},
        "event_type": "post.mention.create",
        "tag": "mentions",
        "payload": {
            "created_at": "2026-07-24T21:23:23.000Z",
            "conversation_id": "2080765813578191303",
            "id": "2080765813578191303",
            "text": "hey @ExampleUser",
            "author_id": "2222222222222222222",
        },
    }
}
RECEIVED_AT = datetime(2026, 7, 24, 21, 30, tzinfo=UTC)


def body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def test_the_envelope_of_the_docs_reads_into_a_typed_event() -> None:
    event = parse_line(body(CHAT_RECEIVED))
    assert (event.event_uuid, event.event_type, event.user_id, event.tag) == (
        "8511582263942905822",
        "chat.received",
        "1111111111111111111",
        "chat-inbound",
    )
    assert event.payload["sender_id"] == "2222222222222222222" and event.includes == {}
    assert is_envelope(MENTION) and not is_envelope({"for_user_id": "1", "tweet_create_events": []})


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"event_type": None}, "data.event_type"),
        ({"event_type": "x" * 65}, "data.event_type"),
        ({"event_uuid": ["1"]}, "data.event_uuid"),
        ({"filter": {"user_id": "@brand"}}, "data.filter.user_id"),
        ({"filter": "1111"}, "data.filter"),
        ({"payload": []}, "data.payload"),
        ({"tag": 7}, "data.tag"),
    ],
)
def test_an_envelope_not_of_the_documented_form_names_the_field(change: dict[str, Any], where: str) -> None:
    with pytest.raises(ActivityEventError, match=f"^{where}:"):
        parse_envelope({"data": {**CHAT_RECEIVED["data"], **change}})
    with pytest.raises(ActivityEventError, match="not JSON"):
        parse_line(b"{")


def test_a_chat_is_a_private_message_with_sender_and_time_and_no_text() -> None:
    m = chat_message(parse_envelope(CHAT_RECEIVED), received_at=RECEIVED_AT)
    assert (m.external_id, m.thread_key, m.thread_kind, m.direction, m.author_id) == (
        "e4f4d3fc-8bbf-4928-92eb-e5058d6bb6f6",
        "2222222222222222222:1111111111111111111",
        "private",
        "inbound",
        "2222222222222222222",
    )
    assert m.created_at == datetime(2026, 7, 23, 21, 13, 3, 370000, tzinfo=UTC)
    assert (m.text, m.text_available) == ("", False)
    assert "encoded_event" not in m.raw and "conversation_token" not in m.raw  # ciphertext is not kept
    sent = {"data": {**CHAT_RECEIVED["data"], "event_type": "chat.sent"}}
    assert chat_message(parse_envelope(sent), received_at=RECEIVED_AT).direction == "outbound"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "a b"),
        ("sender_id", "ExampleUser"),
        ("conversation_id", "1:2:3"),
        ("created_at_msec", "yesterday"),
        ("created_at_msec", "9" * 16),
        ("created_at_msec", "1000"),  # 1970: before X existed
    ],
)
def test_a_chat_field_not_of_x_form_is_refused_by_name(field: str, value: str) -> None:
    data = {**CHAT_RECEIVED["data"], "payload": {**CHAT_RECEIVED["data"]["payload"], field: value}}
    with pytest.raises(ActivityEventError, match=rf"data\.payload\.{field}"):
        chat_message(parse_envelope({"data": data}), received_at=RECEIVED_AT)


def test_an_xaa_delivery_nudges_the_filtered_account_or_carries_its_chat() -> None:
    mention = read_x(body(MENTION), RECEIVED_AT)
    assert mention.nudges == [Nudge("x", "1111111111111111111", ("x.mentions",))]
    assert mention.event_time == datetime(2026, 7, 24, 21, 23, 23, tzinfo=UTC).timestamp()
    chat = read_x(body(CHAT_RECEIVED), RECEIVED_AT)
    assert chat.nudges == [] and chat.event_time == 1784841183.37
    assert [(c.key, c.message.text_available) for c in chat.chats] == [("1111111111111111111", False)]
    like = {"data": {**MENTION["data"], "event_type": "like.create"}}
    assert read_x(body(like), RECEIVED_AT).nudges == []  # not a stream of ours
    bad = {"data": {**CHAT_RECEIVED["data"], "payload": {"id": "1"}}}
    with pytest.raises(WebhookError, match=r"data\.payload\.sender_id") as caught:
        read_x(body(bad), RECEIVED_AT)
    assert (caught.value.status, caught.value.result) == (400, "bad_request")


def test_the_fake_api_sends_chats_in_the_documented_shape() -> None:
    at = RECEIVED_AT.timestamp() - 60
    chat = new_chat("2222222222222222222", "1111111111111111111", at)
    received = parse_envelope(chat_envelope(chat, "1111111111111111111"))
    sent = parse_envelope(chat_envelope(chat, "2222222222222222222"))
    assert (received.event_type, sent.event_type) == ("chat.received", "chat.sent")
    assert set(received.payload) == set(CHAT_RECEIVED["data"]["payload"]) | {"conversation_key_change_event"}
    assert chat_message(received, received_at=RECEIVED_AT).created_at.timestamp() == pytest.approx(at, abs=0.001)


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = Policy("test", public=Targets(3600.0, 7200.0), private=Targets(3600.0, 7200.0))
X = AccountContext(1, "acme_x", "acme", "x", POLICY)
PRIVATE = ThreadInfo(2, 1, "private", "42", None)


def chat(ext: str, minutes: float, *, outbound: bool = False) -> ThreadMessage:
    direction: Direction = "outbound" if outbound else "inbound"
    return ThreadMessage(ext, direction, T0 + timedelta(minutes=minutes), "", text_available=False)


def test_an_encrypted_chat_opens_a_wait_its_reply_closes_and_no_rule_reads_it() -> None:
    # "" after a brand reply would be judged by the courtesy rule; an encrypted chat never is.
    result = thread_outcome(X, PRIVATE, [chat("c1", 0), chat("c2", 25, outbound=True), chat("c3", 30)], T0)
    first, nxt = result.waits
    assert (first.opened_at, first.closed_at, first.wall_seconds) == (T0, T0 + timedelta(minutes=25), 1500.0)
    assert (nxt.kind, nxt.opened_message, nxt.closed_at) == ("next", "c3", None)
    assert {ext: (f.is_question, f.reason) for ext, f in result.flags.items()} == {
        "c1": (True, "encrypted"),
        "c2": (False, None),
        "c3": (True, "encrypted"),
    }
    assert "encrypted" in REASONS
