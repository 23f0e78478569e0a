"""Messenger `message_echoes` in a Meta webhook delivery: which app sent each of a Page's messages.

The Graph API's Message node (what the pollers read from `/{conversation-id}/messages`) has no
app field; the echo Meta delivers when a Page sends a message carries `message.app_id`, the app
that sent it (the Page inbox, a social suite, a chatbot). Pure: the HTTP handler verified the
body's signature. See docs/agents.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from monitor.sources.facebook.payloads import is_messenger_id

APP_ID_DIGITS = 20
"""Digits of a Meta app id at most: ids are 64-bit integers (up to 20 digits); a longer value is
not an app id, and is not stored."""
_APP_ID = re.compile(rf"\d{{1,{APP_ID_DIGITS}}}")
ECHOES_MAX = 5000
"""Echoes read from one delivery: Meta batches up to 1,000 events per delivery (a delivery body is
at most `WEBHOOK_BODY_MAX`); more than this is not Meta's."""


@dataclass(frozen=True, slots=True)
class Echo:
    """A Page's message (`mid`, the id the Graph API gives it too) and the app that sent it."""

    page_id: str
    mid: str
    app_id: str


def _app_id(value: object) -> str | None:
    """`app_id` as Meta sends it (a JSON number; a string of digits accepted), else None."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value)
    return text if _APP_ID.fullmatch(text) else None


def _echo(page_id: str, event: Any) -> Echo | None:
    if not isinstance(event, dict):
        return None
    message = event.get("message")
    if not isinstance(message, dict) or message.get("is_echo") is not True:
        return None
    mid, app_id = message.get("mid"), _app_id(message.get("app_id"))
    if not isinstance(mid, str) or not is_messenger_id(mid) or app_id is None:
        return None
    return Echo(page_id, mid, app_id)


def read_echoes(body: bytes) -> list[Echo]:
    """The echoes of a Page delivery (`object` = `page`) that name their app, each once; an echo
    whose parts are not of Meta's form is left out (the delivery's nudge still counts)."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return []  # the delivery's reader refuses it and says why
    if not isinstance(payload, dict) or payload.get("object") != "page":
        return []
    entries = payload.get("entry")
    found: dict[tuple[str, str], Echo] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str | int):
            continue
        page_id = str(entry["id"])
        for part in ("messaging", "standby"):  # standby: another app holds the thread (handover)
            events = entry.get(part)
            for event in events if isinstance(events, list) else []:
                echo = _echo(page_id, event)
                if echo is not None:
                    found.setdefault((echo.page_id, echo.mid), echo)
                    if len(found) >= ECHOES_MAX:
                        return list(found.values())
    return list(found.values())
