"""Finding an X account's id from its handle (`inbox-monitor accounts lookup @handle`):
`GET /2/users/by/username/:username` with the app's bearer token."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from monitor.runtime import UnixClock
from monitor.sources.base import BadPayload, NotFound
from monitor.sources.x.check import missing_user
from monitor.sources.x.client import Answer, XClient, tweepy_client
from monitor.sources.x.cursor import is_id
from monitor.sources.x.payloads import decode_json

ENDPOINT_USER_BY_USERNAME = "GET /2/users/by/username/:username"
HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")
"""An X username as the API accepts it (`^[A-Za-z0-9_]{1,15}$`)."""
NAME_CHARS = 100
"""Characters of a display name kept (X allows 50; a longer one is cut, not trusted)."""


@dataclass(frozen=True)
class XUser:
    """An X account as the user lookup gives it."""

    user_id: str
    username: str
    name: str
    protected: bool


def parse_user(payload: dict[str, Any], username: str) -> XUser:
    """The user in a lookup's answer; NotFound when X says there is none, BadPayload when the
    answer is not what X documents."""
    missing = missing_user(payload)
    if missing is not None:
        raise NotFound(f"X has no user @{username}: {missing}", endpoint=ENDPOINT_USER_BY_USERNAME)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise BadPayload(
            f"{ENDPOINT_USER_BY_USERNAME}: no `data` object in the answer", endpoint=ENDPOINT_USER_BY_USERNAME
        )
    user_id, found, name = data.get("id"), data.get("username"), data.get("name")
    if not isinstance(user_id, str) or not is_id(user_id):
        raise BadPayload(f"{ENDPOINT_USER_BY_USERNAME}: data.id is not an X id", endpoint=ENDPOINT_USER_BY_USERNAME)
    if not isinstance(found, str) or HANDLE.fullmatch(found) is None:
        raise BadPayload(
            f"{ENDPOINT_USER_BY_USERNAME}: data.username is not an X username", endpoint=ENDPOINT_USER_BY_USERNAME
        )
    protected = data.get("protected", False)
    return XUser(user_id, found, str(name or "")[:NAME_CHARS], protected is True)


async def lookup_user(
    session: aiohttp.ClientSession,
    username: str,
    *,
    bearer_token: str,
    base_url: str | None = None,
    timeout_seconds: float = 30.0,
    clock: UnixClock = time.time,
) -> XUser:
    """The X account @`username`: one request with the app's bearer token. Raises SourceError
    (NotFound for an unknown username, CredentialsRejected, RateLimited, Unreachable, ...)."""
    if HANDLE.fullmatch(username) is None:
        raise ValueError(f"{username!r} is not an X username (1 to 15 letters, digits or _)")

    def ignore(answer: Answer) -> None:
        return None

    api = XClient(
        tweepy_client(bearer_token=bearer_token),
        session,
        endpoint=ENDPOINT_USER_BY_USERNAME,
        on_answer=ignore,
        clock=clock,
        base_url=base_url,
        timeout=timeout_seconds,
    )
    answer = await api.call(lambda client: client.get_user(username=username, user_fields=["protected"]))
    return parse_user(decode_json(answer.body, ENDPOINT_USER_BY_USERNAME), username)
