"""What `check-config --online` asks of X for a stream: the cheapest request its endpoint allows
(docs/operations.md, "Going live"), and what an answer that is not a failure can still say."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

CHECK_END_TIME = datetime(2010, 11, 6, tzinfo=UTC)
"""`end_time` of a timeline check: the earliest the API accepts ("on or after 2010-11-06"). X
bills pay-per-use reads per post returned; no timeline it serves reaches that far back, so the
answer is empty and costs nothing, whatever the account's traffic."""
CHECK_TIMELINE_RESULTS = 5
"""`max_results` of a timeline check: the least the mentions and tweets timelines accept."""
CHECK_DM_RESULTS = 1
"""`max_results` of a DM check: the least dm_events accepts (at most one DM event read)."""
NOT_FOUND_TYPE = "resource-not-found"
"""The end of the problem `type` X gives to an unknown user (in a 200 answer's `errors`)."""


def missing_user(payload: dict[str, Any]) -> str | None:
    """The API's words when a 200 answer says the user does not exist (no `data`, an `errors`
    item of type resource-not-found about a user), else None."""
    if payload.get("data"):
        return None
    errors = payload.get("errors")
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        kind = str(error.get("type", ""))
        if kind.endswith(NOT_FOUND_TYPE) and error.get("resource_type") == "user":
            return str(error.get("detail") or error.get("title") or "user not found")
    return None
