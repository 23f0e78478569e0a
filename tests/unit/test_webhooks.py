"""Webhook wire formats (monitor/sources/webhooks.py): signatures, URL checks, what a delivery names.

The signatures are checked against fixed vectors computed with `openssl dgst -sha256 -hmac`, so a
change in the encoding (hex for Meta, base64 for X, the `sha256=` prefix) fails.
"""

from __future__ import annotations

import json

import pytest

from monitor.sources.webhooks import (
    Nudge,
    WebhookError,
    meta_challenge,
    meta_nudges,
    verify_meta,
    verify_x,
    x_crc_response,
    x_nudges,
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
    for changed, status, message in ((("hub.verify_token", "other"), 403, "not the configured verify token"),
                                     (("hub.mode", "unsubscribe"), 400, "hub.mode: expected 'subscribe'"),
                                     (("hub.challenge", ""), 400, "hub.challenge: missing")):
        with pytest.raises(WebhookError, match=message) as caught:
            meta_challenge({**params, changed[0]: changed[1]}, "vt")
        assert caught.value.status == status


def test_a_meta_delivery_names_the_pages_and_their_streams() -> None:
    delivery = {"object": "page", "entry": [
        {"id": "111", "time": 1, "messaging": [{"sender": {"id": "9"}, "recipient": {"id": "111"},
                                               "timestamp": 1, "message": {"mid": "m_1", "text": "hi?"}}]},
        {"id": "222", "time": 1, "changes": [{"field": "feed", "value": {"item": "comment", "verb": "add"}}]},
        {"id": "333", "time": 1, "changes": [{"field": "ratings", "value": {}}]},  # not a stream of ours
        {"id": "111", "time": 2, "changes": [{"field": "feed", "value": {"item": "post", "verb": "add"}}]},
        {"id": "444", "time": 1, "standby": [{"sender": {"id": "9"}}]},  # another app has the thread
    ]}
    assert meta_nudges(body(delivery)) == [
        Nudge("facebook", "111", ("facebook.comments", "facebook.messenger")),
        Nudge("facebook", "222", ("facebook.comments",)),
        Nudge("facebook", "444", ("facebook.messenger",)),
    ]
    assert meta_nudges(body({"object": "instagram", "entry": [{"id": "1"}]})) == []


@pytest.mark.parametrize(("payload", "message"), [
    (b"not json", "the body is not JSON"),
    (b"\xff\xfe", "the body is not JSON"),
    (b"[1, 2]", "the body is a JSON list, not an object"),
    (body({"object": "page"}), "entry: expected a list"),
    (body({"object": "page", "entry": ["x"]}), r"entry\[0\]: expected an object"),
    (body({"object": "page", "entry": [{"time": 1}]}), r"entry\[0\].id: expected a numeric id, got None"),
    (body({"object": "page", "entry": [{"id": "12a"}]}), r"entry\[0\].id: expected a numeric id"),
    (body({"object": "page", "entry": [{"id": "1", "messaging": {}}]}), r"entry\[0\].messaging: expected a list"),
    (body({"object": "page", "entry": [{"id": "1", "changes": [{"value": {}}]}]}),
     r"entry\[0\].changes\[0\].field: expected a string"),
])
def test_a_bad_meta_body_is_refused_naming_what_and_where(payload: bytes, message: str) -> None:
    with pytest.raises(WebhookError, match=message) as caught:
        meta_nudges(payload)
    assert (caught.value.status, caught.value.result) == (400, "bad_request")


def test_an_x_delivery_names_the_user_and_its_streams() -> None:
    assert x_nudges(body({"for_user_id": "2244994945", "tweet_create_events": [{"id_str": "1"}]})) == [
        Nudge("x", "2244994945", ("x.mentions", "x.replies"))]
    assert x_nudges(body({"for_user_id": "2244994945", "direct_message_events": [{"type": "message_create"}],
                          "tweet_create_events": [{}]})) == [
        Nudge("x", "2244994945", ("x.dm", "x.mentions", "x.replies"))]
    # Likes, follows, an empty list: nothing to poll.
    assert x_nudges(body({"for_user_id": "2244994945", "favorite_events": [{}], "tweet_create_events": []})) == []
    for payload, message in ((body({"tweet_create_events": []}), "for_user_id: expected a numeric id"),
                             (body({"for_user_id": True}), "for_user_id: expected a numeric id"),
                             (body({"for_user_id": "1", "direct_message_events": "x"}),
                              "direct_message_events: expected a list")):
        with pytest.raises(WebhookError, match=message):
            x_nudges(payload)
