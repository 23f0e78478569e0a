"""Log lines never show a registered secret, whatever characters it holds and however it is spelt."""

from __future__ import annotations

import json
import logging

from monitor import logs

# A quote, a backslash and a tab: JSON escapes all three.
AWKWARD = 'pa"ss\\wo\trd-0123'


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    r = logging.LogRecord("monitor.test", logging.ERROR, "", 0, message, args, None)
    r.__dict__.update(extra)
    return r


def test_json_logs_redact_a_secret_before_escaping_it() -> None:
    logs.register_secret(AWKWARD)
    line = logs.JsonFormatter().format(
        record("failed with %s", AWKWARD, error=f"401 for {AWKWARD}", detail={"echo": [AWKWARD]})
    )
    fields = json.loads(line)
    assert fields["msg"] == "failed with [REDACTED]"
    assert fields["error"] == "401 for [REDACTED]"
    assert fields["detail"] == {"echo": ["[REDACTED]"]}
    assert AWKWARD not in line and json.dumps(AWKWARD)[1:-1] not in line
    text = logs.LogfmtFormatter().format(record("failed with %s", AWKWARD, error=AWKWARD))
    assert "pa" not in text.replace("[REDACTED]", ""), text


def test_escaped_spellings_of_a_secret_are_redacted_too() -> None:
    """An API error body (JSON) or a repr may carry the token escaped; a cut must not leave a piece."""
    logs.register_secret(AWKWARD)
    for spelling in (json.dumps(AWKWARD), repr(AWKWARD), "access_token=pa%22ss%5Cwo%09rd-0123"):
        assert "pa" not in logs.redact(f"error: {spelling} refused").replace("[REDACTED]", ""), spelling
    assert logs.excerpt(f"{'x' * 10} {AWKWARD}", 14) == "x" * 10 + " [RE"
