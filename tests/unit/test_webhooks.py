"""Webhook wire formats (monitor/sources/webhooks.py): signatures, URL checks, what a delivery names.

The signatures are checked against fixed vectors computed with `openssl dgst -sha256 -hmac`, so a
change in the encoding (hex for Meta, base64 for X, the `sha256=` prefix) fails.
"""

from __future__ import annotations

import json

import pytest

from monitor.sources.webhook_limits import NudgeLimiter, ReplayMemory
from monitor.sources.webhooks import (
    CHALLENGE_MAX,
    Nudge,
    WebhookError,
    meta_challenge,
    read_meta,
    read_x,
    verify_meta,
    verify_x,
    x_crc_response,
    x_signature,
)

SECRET = "app-secret"
BODY = b'{"object":"page","entry":[]}'
# printf '%s' '{"object":"page","entry":[]}' | openssl dgst -sha256 -hmac app-secret
META_SIGNATURE = "sha256=e6e9d7a842a48e17f43a34d6125d0d933e2aab92ee37f0993a4d493b50e3d438"
# printf '%s' challenge | openssl dgst -sha256 -hmac consumer-secret -binary | base64
X_CRC = "sha256=2RUZDVKjSpEV/C/r9ivMsVZJ4DFPAawjJFQQzY+6ba4="


def body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def test_meta_signature_is_the_hex_hmac_of_the_raw_body() -> None:
    good = META_SIGNATURE
    verify_meta(BODY, good, [SECRET])
    verify_meta(BODY, good, ["another-app", SECRET])  # several apps may serve the Pages
    wrong = (good.replace("sha256=", "sha1="), "sha256=" + "0" * 64)
    for header, reason in ((None, "is missing"), ("", "is missing"), *((w, "does not match") for w in wrong)):
        with pytest.raises(WebhookError, match=f"X-Hub-Signature-256 header {reason}") as caught:
            verify_meta(BODY, header, [SECRET])
        assert (caught.value.status, caught.value.result) == (403, "bad_signature")
    with pytest.raises(WebhookError, match="does not match"):
        verify_meta(BODY + b" ", good, [SECRET])  # one byte more: another body
    with pytest.raises(WebhookError, match="does not match"):
        verify_meta(BODY, good, ["other"])


def test_x_signature_and_crc_are_base64_hmacs() -> None:
    assert x_crc_response("consumer-secret", "challenge") == {"response_token": X_CRC}
    signature = x_signature("consumer-secret", BODY)
    verify_x(BODY, signature, "consumer-secret")
    with pytest.raises(WebhookError, match="x-twitter-webhooks-signature header does not match"):
        verify_x(BODY, signature, "rotated-secret")
    with pytest.raises(WebhookError, match="x-twitter-webhooks-signature header is missing"):
        verify_x(BODY, None, "consumer-secret")


def test_meta_subscription_echoes_the_challenge_only_for_our_verify_token() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "1158201444"}
    assert meta_challenge(params, "vt") == "1158201444"
    for changed, status, message in (
        (("hub.verify_token", "other"), 403, "not the configured verify token"),
        (("hub.mode", "unsubscribe"), 400, "hub.mode: expected 'subscribe'"),
        (("hub.challenge", ""), 400, "hub.challenge: missing"),
    ):
        with pytest.raises(WebhookError, match=message) as caught:
            meta_challenge({**params, changed[0]: changed[1]}, "vt")
        assert caught.value.status == status


def test_a_meta_delivery_names_the_pages_and_their_streams() -> None:
    delivery = {
        "object": "page",
        "entry": [
            {
                "id": "111",
                "time": 1,
                "messaging": [
                    {
                        "sender": {"id": "9"},
                        "recipient": {"id": "111"},
                        "timestamp": 1,
                        "message": {"mid": "m_1", "text": "hi?"},
                    }
                ],
            },
            {"id": "222", "time": 1, "changes": [{"field": "feed", "value": {"item": "comment", "verb": "add"}}]},
            {"id": "333", "time": 1, "changes": [{"field": "ratings", "value": {}}]},  # not a stream of ours
            {"id": "111", "time": 2, "changes": [{"field": "feed", "value": {"item": "post", "verb": "add"}}]},
            {"id": "444", "time": 1, "standby": [{"sender": {"id": "9"}}]},  # another app has the thread
        ],
    }
    assert read_meta(body(delivery)).nudges == [
        Nudge("facebook", "111", ("facebook.comments", "facebook.messenger")),
        Nudge("facebook", "222", ("facebook.comments",)),
        Nudge("facebook", "444", ("facebook.messenger",)),
    ]
    assert read_meta(body({"object": "instagram", "entry": [{"id": "1"}]})).nudges == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "the body is not JSON"),
        (b"\xff\xfe", "the body is not JSON"),
        (b"[1, 2]", "the body is a JSON list, not an object"),
        (body({"object": "page"}), "entry: expected a list"),
        (body({"object": "page", "entry": ["x"]}), r"entry\[0\]: expected an object"),
        (body({"object": "page", "entry": [{"time": 1}]}), r"entry\[0\].id: expected a numeric id, got None"),
        (body({"object": "page", "entry": [{"id": "12a"}]}), r"entry\[0\].id: expected a numeric id"),
        (body({"object": "page", "entry": [{"id": "1", "messaging": {}}]}), r"entry\[0\].messaging: expected a list"),
        (
            body({"object": "page", "entry": [{"id": "1", "changes": [{"value": {}}]}]}),
            r"entry\[0\].changes\[0\].field: expected a string",
        ),
    ],
)
def test_a_bad_meta_body_is_refused_naming_what_and_where(payload: bytes, message: str) -> None:
    with pytest.raises(WebhookError, match=message) as caught:
        read_meta(payload)
    assert (caught.value.status, caught.value.result) == (400, "bad_request")


def test_an_x_delivery_names_the_user_and_its_streams() -> None:
    assert read_x(body({"for_user_id": "2244994945", "tweet_create_events": [{"id_str": "1"}]})).nudges == [
        Nudge("x", "2244994945", ("x.mentions", "x.replies"))
    ]
    assert read_x(
        body(
            {
                "for_user_id": "2244994945",
                "direct_message_events": [{"type": "message_create"}],
                "tweet_create_events": [{}],
            }
        )
    ).nudges == [Nudge("x", "2244994945", ("x.dm", "x.mentions", "x.replies"))]
    # Likes, follows, an empty list: nothing to poll.
    assert read_x(body({"for_user_id": "2244994945", "favorite_events": [{}], "tweet_create_events": []})).nudges == []
    for payload, message in (
        (body({"tweet_create_events": []}), "for_user_id: expected a numeric id"),
        (body({"for_user_id": True}), "for_user_id: expected a numeric id"),
        (body({"for_user_id": "1", "direct_message_events": "x"}), "direct_message_events: expected a list"),
    ):
        with pytest.raises(WebhookError, match=message):
            read_x(payload)


def test_the_crc_answer_signs_only_a_token_of_x_form_never_a_delivery() -> None:
    """Else `GET ?crc_token=<a delivery>` would answer that delivery's valid signature."""
    delivery = body({"for_user_id": "2244994945", "tweet_create_events": [{"id_str": "1"}]})
    x_crc_response("consumer-secret", "M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0")  # as X sends it
    for token, message in (
        (delivery.decode(), "expected letters, digits"),
        ("[1]", "expected letters, digits"),
        (" {}", "expected letters, digits"),
        ("a" * (CHALLENGE_MAX + 1), "more than 128"),
        ("", "missing"),
        (None, "missing"),
        ("abc\udcff", "expected letters, digits"),
    ):
        with pytest.raises(WebhookError, match=f"crc_token: .*{message}") as caught:
            x_crc_response("consumer-secret", token)
        assert (caught.value.status, caught.value.result) == (400, "bad_request")
    with pytest.raises(WebhookError, match=r"hub\.challenge: 129 characters"):
        meta_challenge({"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "1" * 129}, "vt")


def test_a_signature_header_that_is_not_ascii_is_a_bad_signature() -> None:
    for header in ("sha256=\udcff\udcfe", "sha256=é"):  # aiohttp keeps undecodable bytes as surrogates
        with pytest.raises(WebhookError, match="header is not ASCII") as caught:
            verify_x(BODY, header, "consumer-secret")
        assert caught.value.status == 403


def test_deeply_nested_json_is_a_bad_request() -> None:
    with pytest.raises(WebhookError, match="nested too deep") as caught:
        read_x(b"[" * 100_000 + b"]" * 100_000)
    assert caught.value.status == 400


def test_a_delivery_tells_its_newest_event_time() -> None:
    """Seconds (Meta feed) or milliseconds (Messenger, X), numbers or strings; None without one."""
    meta = read_meta(
        body(
            {
                "object": "page",
                "entry": [
                    {"id": "1", "time": 1_780_000_000, "changes": [{"field": "feed"}]},
                    {"id": "2", "time": 1_780_000_100_250, "messaging": [{}]},
                ],
            }
        )
    )
    assert meta.event_time == 1_780_000_100.25
    assert meta.age(1_780_000_160.25) == 60.0
    x = read_x(
        body(
            {
                "for_user_id": "1",
                "tweet_create_events": [
                    {"created_at": "Wed Oct 10 20:19:24 +0000 2018"},
                    {"timestamp_ms": "1539202800000"},
                ],
                "direct_message_events": [{"created_timestamp": "1539202700000"}],
            }
        )
    )
    assert x.event_time == 1539202800.0
    assert (
        read_x(
            body({"for_user_id": "1", "tweet_create_events": [{"created_at": "Wed Oct 10 20:19:24 +0000 2018"}]})
        ).event_time
        == 1539202764.0
    )
    for odd in (
        {},
        {"timestamp_ms": "soon"},
        {"timestamp_ms": True},
        {"timestamp_ms": 10**400},
        {"created_at": "yesterday"},
    ):
        delivery = read_x(body({"for_user_id": "1", "tweet_create_events": [odd]}))
        assert delivery.event_time is None and delivery.age(0.0) is None
    assert read_meta(b'{"object": "page", "entry": [{"id": "1", "time": NaN, "messaging": []}]}').event_time is None


def test_a_body_is_acted_on_once_within_the_replay_window() -> None:
    memory = ReplayMemory(window=60, max_size=3)
    assert memory.first_time(b"a", now=0) and not memory.first_time(b"a", now=59)
    assert memory.first_time(b"a", now=120)  # forgotten after the window
    for k in (b"b", b"c", b"d"):
        assert memory.first_time(k, now=121)
    assert len(memory) == 3 and memory.first_time(b"a", now=122)  # the oldest went first


def test_nudges_per_account_are_a_token_bucket() -> None:
    limiter = NudgeLimiter(burst=3, refill_seconds=10)
    assert [limiter.allow(1, now=0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow(2, now=0)  # another account has its own
    assert not limiter.allow(1, now=9) and limiter.allow(1, now=10.5)
    assert [limiter.allow(1, now=1000) for _ in range(4)] == [True, True, True, False]  # never above the burst
