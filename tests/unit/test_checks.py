"""What a check's failure becomes (`check_failure`), and what X's 403 bodies name as missing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from monitor.sources.base import (
    BadPayload,
    CredentialsRejected,
    NotFound,
    PermissionMissing,
    RateLimited,
    SourceError,
    TemporaryFailure,
    Unreachable,
    check_failure,
)
from monitor.sources.x.client import forbidden

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (CredentialsRejected("401"), "rejected"),
        (PermissionMissing("403", permission="pages_messaging"), "permission"),
        (RateLimited("429", retry_after=90), "rate_limited"),
        (Unreachable("refused"), "unreachable"),
        (TemporaryFailure("503"), "failed"),
        (BadPayload("not JSON"), "failed"),
        (NotFound("no such user"), "not_found"),
    ],
)
def test_each_failure_is_one_status(error: SourceError, status: str) -> None:
    result = check_failure(error, "GET /2/users/:id/mentions", NOW)
    assert result.status == status and result.endpoint == "GET /2/users/:id/mentions" and not result.ok
    assert result.detail == str(error)


def test_a_rate_limit_says_when_it_resets_and_a_permission_what_is_missing() -> None:
    limited = check_failure(RateLimited("429", retry_after=90), "GET /2/dm_events", NOW)
    assert limited.retry_at == datetime(2026, 12, 5, 10, 1, 30, tzinfo=UTC)
    unknown = check_failure(RateLimited("429"), "GET /2/dm_events", NOW)
    assert unknown.retry_at is None
    missing = check_failure(PermissionMissing("403", permission="pages_messaging"), "GET /1/conversations", NOW)
    assert missing.permission == "pages_messaging"


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        (
            {
                "title": "Client Forbidden",
                "reason": "client-not-enrolled",
                "required_enrollment": "Appropriate Level of API Access",
                "type": "https://api.twitter.com/2/problems/client-forbidden",
            },
            "client-not-enrolled",
        ),
        (
            {
                "title": "Unsupported Authentication",
                "type": "https://api.twitter.com/2/problems/unsupported-authentication",
                "status": 403,
            },
            "unsupported-authentication",
        ),
        ({"title": "Forbidden", "type": "about:blank", "status": 403}, None),
        ("<html>Forbidden</html>", None),
        ([1, 2], None),
    ],
)
def test_x_403_bodies_name_what_is_missing(body: object, missing: str | None) -> None:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    assert forbidden(raw) == missing
