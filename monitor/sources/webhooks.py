"""Webhook deliveries from Meta (Facebook Pages) and X (Account Activity API): verify, read, nudge.

A delivery does not carry everything a poll reads (a Messenger event names the customer's
page-scoped id, not the conversation; X sends tweets in its v1.1 shape), so the pollers stay the
one way messages come in. A verified delivery only says *which streams have news*: their next
poll starts now instead of at the end of the poll interval. What a delivery names is polled,
stored once (the poll reads after the stored cursor) and nothing is lost when a delivery is
dropped: the poll at the interval reads it anyway.

Pure functions, no I/O: the HTTP handlers (monitor/server.py) read the body and the secrets.

- Meta signs the raw body: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>`,
  and checks the callback URL once with `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`
  (answer the challenge as is when the token is yours).
- X signs the raw body: `x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer
  secret, body)>`, and checks the URL (at registration, then hourly) with `GET ?crc_token=…`,
  answered `{"response_token": "sha256=<base64 HMAC-SHA256(consumer secret, crc_token)>"}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from monitor.sources.facebook import COMMENTS, MESSENGER

X_MENTIONS, X_REPLIES, X_DM = "x.mentions", "x.replies", "x.dm"

# Which streams a delivery's parts concern.
META_FIELDS = {"messaging": (MESSENGER,), "feed": (COMMENTS,)}
"""Entry part (the `messaging` list, or a `changes[].field`) -> streams to poll now."""
X_EVENTS = {"tweet_create_events": (X_MENTIONS, X_REPLIES), "direct_message_events": (X_DM,)}
"""Account Activity event list -> streams to poll now (other events: likes, follows... are not ours)."""


class WebhookError(Exception):
    """A delivery refused: `status` is the HTTP answer, `result` the metric label."""

    def __init__(self, status: int, result: str, message: str) -> None:
        super().__init__(message)
        self.status, self.result = status, result


@dataclass(frozen=True)
class Nudge:
    """The streams of the account(s) behind `key` (a Page id, an X user id) that have news."""

    channel: str
    key: str
    streams: tuple[str, ...]


def _hmac(secret: str, data: bytes) -> bytes:
    return hmac.new(secret.encode(), data, hashlib.sha256).digest()


def _check(header: str | None, name: str, expected: Iterable[str]) -> None:
    if not header:
        raise WebhookError(403, "bad_signature", f"the {name} header is missing")
    if not any(hmac.compare_digest(header.strip().encode(), e.encode()) for e in expected):
        raise WebhookError(403, "bad_signature", f"the {name} header does not match the body "
                                                 "(signed with another secret, or the body was changed)")


def verify_meta(body: bytes, header: str | None, app_secrets: Iterable[str]) -> None:
    """Raise unless `X-Hub-Signature-256` is the body's HMAC under one of the app secrets."""
    _check(header, "X-Hub-Signature-256", (f"sha256={_hmac(s, body).hex()}" for s in app_secrets))


def verify_x(body: bytes, header: str | None, consumer_secret: str) -> None:
    """Raise unless `x-twitter-webhooks-signature` is the body's HMAC under the consumer secret."""
    _check(header, "x-twitter-webhooks-signature", [x_signature(consumer_secret, body)])


def x_signature(consumer_secret: str, data: bytes) -> str:
    return "sha256=" + base64.b64encode(_hmac(consumer_secret, data)).decode()


def x_crc_response(consumer_secret: str, crc_token: str) -> dict[str, str]:
    """The answer to X's challenge-response check."""
    return {"response_token": x_signature(consumer_secret, crc_token.encode())}


def meta_challenge(params: dict[str, str], verify_token: str) -> str:
    """The `hub.challenge` to echo when the subscription request carries our verify token."""
    if params.get("hub.mode") != "subscribe":
        raise WebhookError(400, "bad_request", "hub.mode: expected 'subscribe'")
    challenge = params.get("hub.challenge", "")
    if not challenge:
        raise WebhookError(400, "bad_request", "hub.challenge: missing")
    given = params.get("hub.verify_token", "")
    if not hmac.compare_digest(given.encode(), verify_token.encode()):
        raise WebhookError(403, "bad_signature", "hub.verify_token: not the configured verify token")
    return challenge


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookError(400, "bad_request", f"the body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise WebhookError(400, "bad_request", f"the body is a JSON {type(payload).__name__}, not an object")
    return payload


def _id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).isdigit():
        raise WebhookError(400, "bad_request", f"{where}: expected a numeric id, got {value!r:.40}")
    return str(value)


def meta_nudges(body: bytes) -> list[Nudge]:
    """The Pages and streams a Meta delivery concerns (other objects, such as Instagram, none)."""
    payload = _json_object(body)
    if payload.get("object") != "page":
        return []
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise WebhookError(400, "bad_request", "entry: expected a list")
    found: dict[str, set[str]] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise WebhookError(400, "bad_request", f"entry[{i}]: expected an object")
        page = _id(entry.get("id"), f"entry[{i}].id")
        streams = found.setdefault(page, set())
        for part in ("messaging", "standby"):  # standby: another app has the thread (handover)
            if part in entry:
                if not isinstance(entry[part], list):
                    raise WebhookError(400, "bad_request", f"entry[{i}].{part}: expected a list")
                streams.update(META_FIELDS["messaging"])
        changes = entry.get("changes", [])
        if not isinstance(changes, list):
            raise WebhookError(400, "bad_request", f"entry[{i}].changes: expected a list")
        for j, change in enumerate(changes):
            if not isinstance(change, dict) or not isinstance(change.get("field"), str):
                raise WebhookError(400, "bad_request", f"entry[{i}].changes[{j}].field: expected a string")
            streams.update(META_FIELDS.get(change["field"], ()))
    return [Nudge("facebook", page, tuple(sorted(s))) for page, s in found.items() if s]


def x_nudges(body: bytes) -> list[Nudge]:
    """The account and streams an Account Activity delivery concerns."""
    payload = _json_object(body)
    user = _id(payload.get("for_user_id"), "for_user_id")
    streams: set[str] = set()
    for name, names in X_EVENTS.items():
        if name in payload:
            if not isinstance(payload[name], list):
                raise WebhookError(400, "bad_request", f"{name}: expected a list")
            if payload[name]:
                streams.update(names)
    return [Nudge("x", user, tuple(sorted(streams)))] if streams else []
