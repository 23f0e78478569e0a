"""Graph API errors, and the one mapping of their codes to the errors of `monitor.sources.base`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.logs import excerpt
from monitor.sources.base import CredentialsRejected, PermissionMissing, RateLimited, SourceError, TemporaryFailure
from monitor.sources.graph.usage import Usage

THROTTLING_CODES = frozenset({4, 17, 32, 613})
"""Graph error codes of the app, user, Page and per-hour call limits."""
THROTTLING_RANGE = range(80001, 80100)
"""Business use case limits (80001-80099: Pages, Messenger, Instagram, ...)."""
TOKEN_CODES = frozenset({102, 104, 190})
"""Session expired, no token, invalid or expired token."""
PERMISSION_RANGE = range(200, 300)
"""Permission errors (code 10 too): the token lacks a permission the call needs."""
MISSING_ALIAS_CODE = 803
"""`(#803) Some of the aliases you requested do not exist`: no object has that username."""
_PERMISSION = re.compile(r"\b((?:pages|instagram|business|read|ads)_[a-z_]+)\b")
"""A permission's name in an error message (`pages_messaging`, `instagram_basic`, ...)."""
DEFAULT_THROTTLE_SECONDS = 300.0
"""How long to stay away after a throttling error that announces no time (calls while
throttled extend the throttling)."""
MESSAGE_CHARS = 300
"""Characters of the error's `message` kept in the error raised (it is logged and stored)."""


@dataclass(frozen=True)
class GraphError:
    """The `error` object of a Graph API answer."""

    status: int
    code: int | None
    subcode: int | None
    message: str
    type: str = ""
    transient: bool = False


def graph_error(status: int, body: object) -> GraphError | None:
    """The Graph error in a body, if it is one."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    e = body["error"]

    def number(key: str) -> int | None:
        v = e.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    return GraphError(
        status,
        number("code"),
        number("error_subcode"),
        excerpt(str(e.get("message", "")), MESSAGE_CHARS),
        str(e.get("type", "")),
        e.get("is_transient") is True,
    )


class ObjectGone(TemporaryFailure):
    """The object no longer exists or cannot be read (a deleted post or conversation)."""


def translate(error: GraphError, usage: Usage, endpoint: str) -> SourceError:
    """The source error for a Graph error (the one mapping of error codes)."""
    code, what = error.code, f"Graph error {error.code}/{error.subcode}: {error.message}"
    if code in THROTTLING_CODES or code in THROTTLING_RANGE:
        retry = usage.regain_seconds or DEFAULT_THROTTLE_SECONDS
        return RateLimited(what, retry_after=retry, endpoint=endpoint)
    if code in TOKEN_CODES or (code == 100 and "appsecret_proof" in error.message):
        return CredentialsRejected(what, endpoint=endpoint)
    if code == 10 or code in PERMISSION_RANGE:
        named = _PERMISSION.search(error.message)
        return PermissionMissing(
            f"permission missing: {what}", permission=named.group(1) if named else None, endpoint=endpoint
        )
    if error.status == 429:
        return RateLimited(what, retry_after=usage.regain_seconds or DEFAULT_THROTTLE_SECONDS, endpoint=endpoint)
    if (code == 100 and error.subcode == 33) or code == MISSING_ALIAS_CODE:
        return ObjectGone(what, endpoint=endpoint)
    return TemporaryFailure(what, endpoint=endpoint)
