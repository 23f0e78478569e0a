"""Structured logs (logfmt or JSON) that never show a registered secret."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

SECRET_MIN_LENGTH = 4
"""Shorter values are not secrets worth the name, and redacting them would garble every text."""

_REGISTERED: set[str] = set()
_SECRETS: dict[str, None] = {}
"""Every spelling of the registered values, longest first (a secret inside a longer one must not
leave a tail); replaced whole at each registration, so a reader in another thread sees one or the other."""
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _spellings(value: str) -> set[str]:
    """The value as is, and as escaping writes it: in a JSON or Python string, in a URL. An error
    text may carry a token escaped (an API's JSON error body echoing it, a repr, a query string)."""
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
        quote(value, safe=""),
    }


def register_secret(value: str | None) -> None:
    """Never print this value (a token read from the environment), whatever logs or stores it."""
    global _SECRETS
    if not value or len(value) < SECRET_MIN_LENGTH or value in _REGISTERED:
        return
    _REGISTERED.add(value)
    known = set(_SECRETS) | {s for s in _spellings(value) if len(s) >= SECRET_MIN_LENGTH}
    _SECRETS = dict.fromkeys(sorted(known, key=len, reverse=True))


def redact(text: str) -> str:
    """`text` with every registered secret, in any of its spellings, replaced by [REDACTED]."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "[REDACTED]")
    return text


def excerpt(text: str, limit: int) -> str:
    """At most `limit` characters of an outside party's text, redacted first: a cut through a
    token would leave a piece that no longer matches the secret."""
    return redact(text)[:limit]


def _redacted(value: Any) -> Any:
    """A log field with the secrets redacted *before* it is escaped (JSON escapes `"`, `\\`, tabs:
    a secret holding one would no longer be found in the escaped text)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    out.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
    if record.exc_info and record.exc_info[0] is not None:
        out["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
    return out


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = []
        for key, value in _fields(record).items():
            text = redact(str(value))
            if not text or any(c in text for c in ' "=\n\t'):
                text = json.dumps(text, ensure_ascii=False)
            parts.append(f"{key}={text}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({k: _redacted(v) for k, v in _fields(record).items()}, ensure_ascii=False)


def setup(level: str = "info", fmt: str = "logfmt") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("asyncio", "aiohttp.access", "pgserver"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
