"""`inbox-monitor x-activity subscribe|list|unsubscribe`: the X Activity API subscriptions each
account needs (`POST/GET /2/activity/subscriptions`, `DELETE /2/activity/subscriptions/:id`),
made idempotent by listing first, and reported like `check-config --online`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from monitor.config import Config, XAccount
from monitor.logs import redact
from monitor.secrets import EnvSecret
from monitor.sources.x.activity import DEFAULT_API_BASE
from monitor.sources.x.client import MAX_RESPONSE_BYTES, BodyTooLarge, read_bounded

PATH = "/2/activity/subscriptions"
TAG = "inbox-monitor"
"""The tag of the subscriptions this command makes (X echoes it in each event)."""
POST_EVENTS = ("post.mention.create", "post.reply.create", "post.create")
DM_EVENTS = ("dm.received", "dm.sent", "chat.received", "chat.sent")
REQUEST_SECONDS = 30.0
"""Time allowed to each call: a slow API does not hang the command."""
DETAIL_CHARS = 300
"""Characters of an API's error text shown per line."""

Action = Literal["subscribe", "list", "unsubscribe"]
Outcome = Literal["created", "exists", "updated", "present", "missing", "deleted", "absent", "failed"]
FAILED_OUTCOMES: dict[Action, set[str]] = {
    "subscribe": {"failed"},
    "list": {"failed", "missing"},
    "unsubscribe": {"failed"},
}
"""Outcomes that make the command exit with status 1."""


def wanted(account: XAccount) -> tuple[str, ...]:
    """The event types an account needs: its mentions, replies to it, its own posts; DMs and
    encrypted chats when `dm` is on."""
    return POST_EVENTS + (DM_EVENTS if account.dm else ())


def webhook_of(account: XAccount) -> str | None:
    """The webhook its subscriptions deliver to (`mode = "webhook"`); None: the stream only."""
    activity = account.x_activity
    return activity.webhook_id if activity is not None and activity.mode == "webhook" else None


@dataclass(frozen=True)
class Existing:
    """A subscription as the list call gives it."""

    subscription_id: str
    event_type: str
    user_id: str
    webhook_id: str | None


@dataclass(frozen=True)
class SubscriptionResult:
    brand: str
    account: str
    event_type: str
    outcome: Outcome
    subscription_id: str | None = None
    detail: str = ""


class ApiError(Exception):
    """A call refused or failed: its status and X's words."""


async def _call(
    session: aiohttp.ClientSession, method: str, url: str, token: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    try:
        async with session.request(
            method,
            url,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientTimeout(total=REQUEST_SECONDS),
        ) as response:
            raw = await read_bounded(response, MAX_RESPONSE_BYTES)
            status = response.status
    except (aiohttp.ClientError, TimeoutError, BodyTooLarge) as exc:
        raise ApiError(f"{method} {PATH}: unreachable: {type(exc).__name__}: {exc}") from None
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if status >= 400 or not isinstance(answer, dict):
        words = answer.get("detail") or answer.get("title") if isinstance(answer, dict) else None
        raise ApiError(f"{method} {PATH}: HTTP {status}: {words or raw[:DETAIL_CHARS].decode(errors='replace')}")
    return answer


def _existing(answer: dict[str, Any]) -> list[Existing]:
    """The subscriptions of a list answer; entries of another shape skipped."""
    out = []
    data = answer.get("data")
    for sub in data if isinstance(data, list) else []:
        if not isinstance(sub, dict) or not isinstance(sub.get("filter"), dict):
            continue
        sid, kind, user = sub.get("subscription_id"), sub.get("event_type"), sub["filter"].get("user_id")
        webhook = sub.get("webhook_id")
        if isinstance(sid, str) and isinstance(kind, str) and isinstance(user, str):
            out.append(Existing(sid, kind, user, webhook if isinstance(webhook, str) else None))
    return out


async def manage(config: Config, action: Action, names: Sequence[str] = ()) -> list[SubscriptionResult]:
    """Do `action` for every X account with `x_activity` on (those named, when names are given):
    one list call per app (bearer token and API host), then a call per subscription to make or remove."""
    accounts = [
        (brand, a)
        for brand, a in config.accounts()
        if isinstance(a, XAccount) and a.activity_mode() != "off" and (not names or a.name in names)
    ]
    apps: dict[tuple[str, str | None], list[tuple[str, XAccount]]] = {}
    for brand, a in accounts:
        apps.setdefault((a.api_base_url or DEFAULT_API_BASE, a.bearer_token_env), []).append((brand, a))
    results: list[SubscriptionResult] = []
    async with aiohttp.ClientSession() as session:
        for (base, token_env), members in apps.items():
            url = base.rstrip("/") + PATH
            token = EnvSecret(token_env).get() or ""
            try:
                present = _existing(await _call(session, "GET", url, token))
            except ApiError as exc:
                results += [
                    SubscriptionResult(b, a.name, kind, "failed", detail=str(exc))
                    for b, a in members
                    for kind in wanted(a)
                ]
                continue
            for brand, a in members:
                for kind in wanted(a):
                    found = [e for e in present if e.event_type == kind and e.user_id == a.user_id]
                    results.append(await _one(session, url, token, action, brand, a, kind, found))
    return results


async def _one(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    action: Action,
    brand: str,
    account: XAccount,
    kind: str,
    found: list[Existing],
) -> SubscriptionResult:
    """One account's subscription to one event type: listed, made (naming the account's webhook),
    pointed at that webhook when it names another or none (`PUT`), or deleted."""

    def result(outcome: Outcome, sid: str | None = None, detail: str = "") -> SubscriptionResult:
        return SubscriptionResult(brand, account.name, kind, outcome, sid, detail)

    ids = [e.subscription_id for e in found]
    webhook = webhook_of(account)
    elsewhere = [e for e in found if webhook is not None and e.webhook_id != webhook]
    try:
        if action == "list":
            if elsewhere and len(elsewhere) == len(found):
                named = elsewhere[0].webhook_id or "none"
                return result("missing", ids[0], f"delivered to webhook {named}, not {webhook}")
            return result("present", ids[0]) if ids else result("missing")
        if action == "subscribe":
            if found and len(elsewhere) < len(found):
                return result("exists", next(e.subscription_id for e in found if e not in elsewhere))
            if elsewhere:  # made for the stream, or for another webhook: X lets it be pointed here
                sid = elsewhere[0].subscription_id
                await _call(session, "PUT", f"{url}/{sid}", token, {"webhook_id": webhook})
                return result("updated", sid)
            body: dict[str, Any] = {"event_type": kind, "filter": {"user_id": account.user_id}, "tag": TAG}
            if webhook is not None:
                body["webhook_id"] = webhook
            answer = await _call(session, "POST", url, token, body)
            data = answer.get("data")
            return result("created", data.get("subscription_id") if isinstance(data, dict) else None)
        if not ids:
            return result("absent")
        for sid in ids:
            await _call(session, "DELETE", f"{url}/{sid}", token)
        return result("deleted", ",".join(ids))
    except ApiError as exc:
        return result("failed", detail=str(exc))


def failed(action: Action, results: Sequence[SubscriptionResult]) -> bool:
    return any(r.outcome in FAILED_OUTCOMES[action] for r in results)


def render_text(action: Action, results: Sequence[SubscriptionResult]) -> str:
    """A table, one line per account and event type, and a summary line."""
    header = ("ACCOUNT", "EVENT", "RESULT", "SUBSCRIPTION", "DETAIL")
    rows = [header] + [
        (r.account, r.event_type, r.outcome, r.subscription_id or "-", redact(r.detail)[:DETAIL_CHARS]) for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join([v.ljust(w) for v, w in zip(row, widths, strict=False)] + [row[-1]]).rstrip() for row in rows]
    bad = sum(1 for r in results if r.outcome in FAILED_OUTCOMES[action])
    if not results:
        lines.append("no X account has x_activity on")
    else:
        lines.append(
            f"{action}: {len(results) - bad} of {len(results)} subscription(s) ok" + (f", {bad} not" if bad else "")
        )
    return "\n".join(lines) + "\n"


def render_json(results: Sequence[SubscriptionResult]) -> str:
    return (
        json.dumps(
            [
                {
                    "brand": r.brand,
                    "account": r.account,
                    "event_type": r.event_type,
                    "result": r.outcome,
                    "subscription_id": r.subscription_id,
                    "detail": redact(r.detail)[:DETAIL_CHARS],
                }
                for r in results
            ],
            indent=2,
        )
        + "\n"
    )
