"""`inbox-monitor explain`: a message's thread, each message's decision and the rule behind it,
and the waits the thread gave, as terminal text or JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from monitor.corrections import decision_words
from monitor.store.labels import ThreadView

TEXT_CHARS = 70
"""Characters of a message's text shown on its line (the whole text is in the JSON, up to the
store's `BODY_MAX`)."""


def _time(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S") if at is not None else "-"


def duration(seconds: float | None) -> str:
    """`45s`, `12m 05s`, `3h 02m`, `2d 04h`."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


NO_TEXT = "(encrypted chat: no text)"
"""What stands for the text of an encrypted chat (XChat): the platform never gives it."""


def _text(m: Any) -> str:
    return m["body"] if m["text_available"] else NO_TEXT


def _short(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= TEXT_CHARS else one[: TEXT_CHARS - 1] + "…"


def _decision(m: Any) -> tuple[str, str]:
    """(decision, reason) of a message as the table shows them."""
    if m["direction"] == "outbound":
        return ("automatic", m["reason"] or "-") if m["is_automatic"] else ("reply", "-")
    return ("needs reply" if m["is_question"] else "no reply"), m["reason"] or "-"


def sender(m: Any) -> str:
    """Who sent a brand's reply, as the table shows it: "Jane Doe (care)", "JD via chatbot", "-"."""
    if m["direction"] != "outbound":
        return "-"
    who = m["agent"] or ""
    if who and m["team"]:
        who += f" ({m['team']})"
    app = m["app"] or (f"app {m['app_id']}" if m["app_id"] else "")
    if app:
        who = f"{who} via {app}" if who else f"via {app}"
    return who or "unknown"


def explain_dict(view: ThreadView, asked: str) -> dict[str, Any]:
    """Everything `explain` shows, as JSON-ready data (`asked`: the external id looked up)."""
    t = view.thread
    return {
        "account": t["account"],
        "brand": t["brand"],
        "channel": t["channel"],
        "thread": {
            "id": t["id"],
            "key": t["thread_key"],
            "kind": t["kind"],
            "customer": t["customer_handle"],
            "url": t["url"],
        },
        "asked": asked,
        "messages": [
            {
                "id": m["external_id"],
                "created_at": m["created_at"],
                "direction": m["direction"],
                "author": m["author_handle"] or m["author_id"],
                "text": m["body"] if m["text_available"] else None,
                "text_available": m["text_available"],
                "url": m["url"],
                "needs_reply": m["is_question"],
                "automatic": m["is_automatic"],
                "reason": m["reason"],
                "reply_to_brand": m["reply_to_brand"],
                "agent": m["agent"],
                "team": m["team"],
                "app": m["app"],
                "app_id": m["app_id"],
                "correction": None
                if m["labelled_at"] is None
                else {
                    "label": m["label"],
                    "by": m["labelled_by"],
                    "at": m["labelled_at"],
                    "note": m["note"],
                    "before": {"needs_reply": m["old_is_question"], "reason": m["old_reason"]},
                },
            }
            for m in view.messages
        ],
        "waits": [dict(w) for w in view.waits],
    }


def explain_json(view: ThreadView, asked: str) -> str:
    return json.dumps(
        explain_dict(view, asked),
        indent=2,
        ensure_ascii=False,
        default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v),
    )


def explain_text(view: ThreadView, asked: str) -> str:
    """The thread as a terminal reads it (times in UTC; `>` marks the message looked up)."""
    t = view.thread
    customer = f", customer {t['customer_handle']}" if t["customer_handle"] else ""
    lines = [f"{t['account']} ({t['brand']}, {t['channel']}): {t['kind']} thread {t['thread_key']}{customer}"]
    if t["url"]:
        lines.append(t["url"])
    rows = [("", "TIME (UTC)", "DIR", "ID", "AUTHOR", "SENT BY", "DECISION", "REASON", "TEXT")]
    notes: dict[int, str] = {}
    for m in view.messages:
        decision, reason = _decision(m)
        rows.append(
            (
                ">" if m["external_id"] == asked else "",
                _time(m["created_at"]),
                "in" if m["direction"] == "inbound" else "out",
                m["external_id"],
                m["author_handle"] or m["author_id"] or "-",
                sender(m),
                decision,
                reason,
                _short(_text(m)),
            )
        )
        if m["labelled_at"] is not None:
            label = {True: "needs a reply", False: "no reply", None: "back to the rules"}[m["label"]]
            note = f'; note: "{_short(m["note"])}"' if m["note"] else ""
            notes[len(rows) - 1] = (
                f"corrected by {m['labelled_by']} at {_time(m['labelled_at'])}: {label} "
                f"(before: {decision_words(m['old_is_question'], m['old_reason'])})"
                f"{note}"
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines.append("")
    for i, r in enumerate(rows):
        lines.append("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)) + "  " + r[-1])
        if i in notes:
            lines.append(" " * (widths[0] + 2) + "  " + notes[i])
    lines.append("")
    if not view.waits:
        lines.append("No wait: no message of this thread needs a reply.")
    for w in view.waits:
        n = w["questions"]
        closed = (
            f"closed {_time(w['closed_at'])} by {w['closed_message']}" if w["closed_at"] is not None else "still open"
        )
        lines.append(
            f"wait #{w['seq']} ({w['kind']}): opened {_time(w['opened_at'])} by {w['opened_message']} "
            f"({n} question{'s' if n != 1 else ''}), {closed}"
        )
        waited = (
            f"waited {duration(w['wall_seconds'])} ({duration(w['business_seconds'])} in business hours)"
            if w["closed_at"] is not None
            else ""
        )
        outcome = "BREACHED" if w["breached"] else ("within target" if w["closed_at"] is not None else "on time")
        parts = [
            f"target {duration(w['target_seconds'])}",
            f"deadline {_time(w['deadline'])}",
            f"at risk from {_time(w['at_risk_at'])}",
            *([waited] if waited else []),
            outcome,
        ]
        lines.append("    " + ", ".join(parts))
    return "\n".join(lines) + "\n"
