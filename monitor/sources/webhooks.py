"""Webhook deliveries from Meta (Facebook Pages, Instagram accounts) and X (X Activity API, and the
Account Activity API until X turns it off): verify, read, nudge; X's encrypted chats are a thing a
delivery brings that no poll can read, so they come back as messages to ingest (`Delivery.chats`),
and what X bills for an X Activity API event comes back as a billable read (`Delivery.billable`).

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

Neither signs a delivery time: both sign the body only. The body's event times are covered by
the signature, so they say how old a delivery is (`Delivery.event_time`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.domain.cost import BillableRead, activity_billable
from monitor.domain.mentions import Mention
from monitor.domain.model import Message
from monitor.sources import instagram
from monitor.sources.facebook import COMMENTS, MESSENGER
from monitor.sources.x.activity_events import (
    CHAT_EVENTS,
    DM_RECEIVED,
    DM_SENT,
    POST_CREATE,
    POST_MENTION,
    POST_REPLY,
    ActivityEvent,
    ActivityEventError,
    is_envelope,
    parse_envelope,
)
from monitor.sources.x.chats import chat_message
from monitor.sources.x.payloads import is_x_id

X_MENTIONS, X_REPLIES, X_DM = "x.mentions", "x.replies", "x.dm"

# Which streams a delivery's parts concern.
META_FIELDS = {"messaging": (MESSENGER,), "feed": (COMMENTS,)}
"""Entry part (the `messaging` list, or a `changes[].field`) -> streams to poll now."""
INSTAGRAM_FIELDS = {
    "messaging": (instagram.DM,),
    "comments": (instagram.COMMENTS,),
    "live_comments": (instagram.COMMENTS,),
    "mentions": (instagram.MENTIONS,),
}
"""The same for the Instagram accounts' deliveries (object `instagram`, `entry[].id` the account's id)."""
META_OBJECTS = {"page": ("facebook", META_FIELDS), "instagram": ("instagram", INSTAGRAM_FIELDS)}
"""A delivery's `object` -> the channel of its accounts, and what its parts concern."""
X_EVENTS = {"tweet_create_events": (X_MENTIONS, X_REPLIES), "direct_message_events": (X_DM,)}
"""Account Activity event list -> streams to poll now (other events: likes, follows... are not ours)."""
XAA_EVENTS = {
    POST_MENTION: (X_MENTIONS,),
    POST_REPLY: (X_MENTIONS,),  # a reply to the brand's post is read with the mentions
    POST_CREATE: (X_REPLIES,),  # the brand's own posts and replies
    DM_RECEIVED: (X_DM,),
    DM_SENT: (X_DM,),
}
"""X Activity API event type -> streams to poll now. Chat events are ingested (no poll reads them);
other types (likes, follows, profile updates) are not ours."""

CHALLENGE_MAX = 128
"""Characters of X's `crc_token` and Meta's `hub.challenge`. X's tokens are 48 characters (base64 of
a UUID), Meta's challenge is an integer: a token is short, so that a JSON delivery body, signed as
a challenge, can never be one (the CRC answer would otherwise sign any body we are sent)."""
_CHALLENGE = re.compile(r"[A-Za-z0-9+/=._~-]+")
"""Base64 (standard or URL-safe) and URL-unreserved characters: never `{`, `[` nor a space, so no
challenge is a JSON object, and no CRC answer is the signature of a delivery we would accept."""
_MS_AFTER = 10**11
"""An event time above this is in milliseconds (10^11 seconds is the year 5138)."""
X_EVENTS_READ_MAX = 100
"""DM events of one delivery read for their time (X sends one): the rest are not needed for it."""
_TIME_MAX = 10**16
"""Larger numbers are no time of ours (milliseconds in the year 318857), and would not fit a float."""


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


@dataclass(frozen=True)
class Chat:
    """An encrypted chat message of the account(s) behind X user id `key`."""

    key: str
    message: Message


@dataclass(frozen=True)
class Bill:
    """What X bills the account(s) behind X user id `key` for delivering one event."""

    key: str
    read: BillableRead


@dataclass(frozen=True)
class Carried:
    """What a delivery brings the account(s) of X user id `key` through the engine: encrypted chats
    to store and what X billed for the delivery (docs/cost.md)."""

    messages: list[Message] = field(default_factory=list)
    billable: list[BillableRead] = field(default_factory=list)


@dataclass(frozen=True)
class Delivery:
    """What a verified delivery says: the streams with news, and the newest event time it carries
    (Unix seconds, covered by the signature; None when it carries none)."""

    nudges: list[Nudge]
    event_time: float | None = None
    mentions: list[tuple[Nudge, Mention]] = field(default_factory=list)
    """The Instagram @mentions it names, with the account's nudge (to keep them for its stream)."""
    channel: str = ""
    """The channel of its accounts, when the body says (Meta: `object`)."""
    chats: list[Chat] = field(default_factory=list)
    """Encrypted chat events, as messages of the account they name: ingested, not polled."""
    billable: list[Bill] = field(default_factory=list)
    """What X bills for the X Activity API events it carries (whatever their age: delivered is billed)."""

    def carried(self) -> dict[str, Carried]:
        """X user id -> the chats and billable reads to ingest for its account(s)."""
        out: dict[str, Carried] = {}
        for chat in self.chats:
            out.setdefault(chat.key, Carried()).messages.append(chat.message)
        for bill in self.billable:
            out.setdefault(bill.key, Carried()).billable.append(bill.read)
        return out

    def age(self, now: float) -> float | None:
        return None if self.event_time is None else now - self.event_time


def _hmac(secret: str, data: bytes) -> bytes:
    return hmac.new(secret.encode(), data, hashlib.sha256).digest()


def _check(header: str | None, name: str, expected: Iterable[str]) -> None:
    if not header:
        raise WebhookError(403, "bad_signature", f"the {name} header is missing")
    try:
        given = header.strip().encode("ascii")
    except UnicodeEncodeError:  # aiohttp keeps a header's non-UTF-8 bytes as lone surrogates
        raise WebhookError(403, "bad_signature", f"the {name} header is not ASCII") from None
    if not any(hmac.compare_digest(given, e.encode()) for e in expected):
        raise WebhookError(
            403,
            "bad_signature",
            f"the {name} header does not match the body (signed with another secret, or the body was changed)",
        )


def verify_meta(body: bytes, header: str | None, app_secrets: Iterable[str]) -> None:
    """Raise unless `X-Hub-Signature-256` is the body's HMAC under one of the app secrets."""
    _check(header, "X-Hub-Signature-256", (f"sha256={_hmac(s, body).hex()}" for s in app_secrets))


def verify_x(body: bytes, header: str | None, consumer_secret: str) -> None:
    """Raise unless `x-twitter-webhooks-signature` is the body's HMAC under the consumer secret."""
    _check(header, "x-twitter-webhooks-signature", [x_signature(consumer_secret, body)])


def x_signature(consumer_secret: str, data: bytes) -> str:
    return "sha256=" + base64.b64encode(_hmac(consumer_secret, data)).decode()


def challenge(value: str | None, name: str) -> str:
    """A platform's URL-check challenge, or the 400 saying why it is not one."""
    if not value:
        raise WebhookError(400, "bad_request", f"{name}: missing")
    if len(value) > CHALLENGE_MAX:
        raise WebhookError(400, "bad_request", f"{name}: {len(value)} characters, more than {CHALLENGE_MAX}")
    if not _CHALLENGE.fullmatch(value):
        raise WebhookError(400, "bad_request", f"{name}: expected letters, digits and + / = . _ ~ -")
    return value


def x_crc_response(consumer_secret: str, crc_token: str | None) -> dict[str, str]:
    """The answer to X's challenge-response check (a token of X's form only: see CHALLENGE_MAX)."""
    return {"response_token": x_signature(consumer_secret, challenge(crc_token, "crc_token").encode())}


def meta_challenge(params: dict[str, str], verify_token: str) -> str:
    """The `hub.challenge` to echo when the subscription request carries our verify token."""
    if params.get("hub.mode") != "subscribe":
        raise WebhookError(400, "bad_request", "hub.mode: expected 'subscribe'")
    echo = challenge(params.get("hub.challenge"), "hub.challenge")
    given = params.get("hub.verify_token", "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, verify_token.encode()):
        raise WebhookError(403, "bad_signature", "hub.verify_token: not the configured verify token")
    return echo


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookError(400, "bad_request", f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise WebhookError(400, "bad_request", "the body is not JSON: nested too deep") from None
    if not isinstance(payload, dict):
        raise WebhookError(400, "bad_request", f"the body is a JSON {type(payload).__name__}, not an object")
    return payload


def _id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).isdigit():
        raise WebhookError(400, "bad_request", f"{where}: expected a numeric id, got {value!r:.40}")
    return str(value)


def _unix(value: Any) -> float | None:
    """An event time (seconds or milliseconds, a number or a string of digits) in seconds."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < _TIME_MAX:
        return None  # also NaN and infinities, which compare false
    return value / 1000 if value > _MS_AFTER else float(value)


def _newest(times: Iterable[float | None]) -> float | None:
    return max((t for t in times if t is not None), default=None)


def read_meta(body: bytes) -> Delivery:
    """The Pages or Instagram accounts and streams a Meta delivery concerns (other objects: none),
    the @mentions it names, and its newest `entry[].time` (seconds for changes, milliseconds for
    messaging)."""
    payload = _json_object(body)
    channel, fields = META_OBJECTS.get(str(payload.get("object")), ("", {}))
    if not fields:
        return Delivery([])  # another object (a user, a permission): not ours
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise WebhookError(400, "bad_request", "entry: expected a list")
    found: dict[str, set[str]] = {}
    named: list[tuple[str, Mention]] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise WebhookError(400, "bad_request", f"entry[{i}]: expected an object")
        account = _id(entry.get("id"), f"entry[{i}].id")
        streams = found.setdefault(account, set())
        for part in ("messaging", "standby"):  # standby: another app has the thread (handover)
            if part in entry:
                if not isinstance(entry[part], list):
                    raise WebhookError(400, "bad_request", f"entry[{i}].{part}: expected a list")
                streams.update(fields["messaging"])
        changes = entry.get("changes", [])
        if not isinstance(changes, list):
            raise WebhookError(400, "bad_request", f"entry[{i}].changes: expected a list")
        for j, change in enumerate(changes):
            if not isinstance(change, dict) or not isinstance(change.get("field"), str):
                raise WebhookError(400, "bad_request", f"entry[{i}].changes[{j}].field: expected a string")
            streams.update(fields.get(change["field"], ()))
            if channel == "instagram" and change["field"] == "mentions":
                named.append((account, _mention(change.get("value"), f"entry[{i}].changes[{j}].value")))
    nudges = {page: Nudge(channel, page, tuple(sorted(s))) for page, s in found.items() if s}
    return Delivery(
        list(nudges.values()),
        _newest(_unix(e.get("time")) for e in entries),
        [(nudges[account], mention) for account, mention in named],
        channel,
    )


def _mention(value: Any, where: str) -> Mention:
    """The comment (`comment_id`) or the caption (`media_id` alone) a `mentions` change names."""
    if not isinstance(value, dict):
        raise WebhookError(400, "bad_request", f"{where}: expected an object")
    media = _id(value["media_id"], f"{where}.media_id") if value.get("media_id") is not None else None
    if value.get("comment_id") is not None:
        return Mention("comment", _id(value["comment_id"], f"{where}.comment_id"), media)
    if media is None:
        raise WebhookError(400, "bad_request", f"{where}: expected a comment_id or a media_id")
    return Mention("media", media, media)


def _x_time(event: Any) -> float | None:
    """When an Account Activity event happened: `timestamp_ms` (tweets), `created_timestamp` (DMs),
    else a tweet's `created_at` ("Wed Oct 10 20:19:24 +0000 2018")."""
    if not isinstance(event, dict):
        return None
    for key in ("timestamp_ms", "created_timestamp"):
        if (t := _unix(event.get(key))) is not None:
            return t
    text = event.get("created_at")
    if isinstance(text, str) and len(text) <= 40:
        try:
            return datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y").timestamp()
        except ValueError:
            return None
    return None


def read_x(body: bytes, received_at: datetime | None = None) -> Delivery:
    """The account and streams an X delivery concerns, its newest event time, and the encrypted
    chats it carries (a chat time past `received_at` is clamped; None: not checked): an X
    Activity API envelope or an Account Activity API delivery."""
    payload = _json_object(body)
    if is_envelope(payload):
        try:
            return read_xaa(parse_envelope(payload), received_at)
        except ActivityEventError as exc:
            raise WebhookError(400, "bad_request", str(exc)) from None
    user = _id(payload.get("for_user_id"), "for_user_id")
    streams: set[str] = set()
    times: list[float | None] = []
    for name, names in X_EVENTS.items():
        if name in payload:
            if not isinstance(payload[name], list):
                raise WebhookError(400, "bad_request", f"{name}: expected a list")
            if payload[name]:
                streams.update(names)
                times.extend(_x_time(e) for e in payload[name])
    return Delivery([Nudge("x", user, tuple(sorted(streams)))] if streams else [], _newest(times))


def _xaa_time(event: ActivityEvent) -> float | None:
    """When an X Activity API event happened: a chat's `created_at_msec`, a legacy DM's
    `created_timestamp`, or a post's `created_at` (ISO 8601)."""
    p = event.payload
    if (t := _unix(p.get("created_at_msec"))) is not None:
        return t
    dms = p.get("direct_message_events")
    if isinstance(dms, list) and dms:
        return _newest(_x_time(e) for e in dms[:X_EVENTS_READ_MAX])
    text = p.get("created_at")  # a post event's payload is the post
    if isinstance(text, str) and len(text) <= 40:
        try:
            return datetime.fromisoformat(text).timestamp()
        except ValueError:
            return None
    return None


POST_EVENTS = frozenset({POST_MENTION, POST_REPLY, POST_CREATE})
"""Events whose payload is a post: X bills them as that post (a resource named by the post's id)."""


def xaa_billable(event: ActivityEvent) -> BillableRead | None:
    """What X bills for delivering `event` (None: not billed), named so that the store counts it
    once per UTC day: a post event by its post's id (a redelivery, or the mention and the reply
    events of one post, are one post), any other by its `event_uuid` (bounded by the envelope's
    reader). A post id not of X's form falls back to the `event_uuid`."""
    resource = event.event_uuid
    if event.event_type in POST_EVENTS:
        post_id = event.payload.get("id")
        if isinstance(post_id, str) and is_x_id(post_id):
            resource = post_id
    return activity_billable(event.event_type, resource)


def read_xaa(event: ActivityEvent, received_at: datetime | None = None) -> Delivery:
    """What one X Activity API event says: a chat to ingest, or the streams of the filter's user
    to poll now (an event type of no stream of ours: nothing), and what X bills for it."""
    if event.user_id is None:
        return Delivery([])
    when = _xaa_time(event)
    read = xaa_billable(event)
    billable = [Bill(event.user_id, read)] if read is not None else []
    if event.event_type in CHAT_EVENTS:
        chat = Chat(event.user_id, chat_message(event, received_at=received_at))
        return Delivery([], when, chats=[chat], billable=billable)
    streams = XAA_EVENTS.get(event.event_type, ())
    return Delivery([Nudge("x", event.user_id, streams)] if streams else [], when, billable=billable)
