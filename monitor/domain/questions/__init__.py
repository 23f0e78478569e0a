"""Question detection: does an inbound message need a reply, by which rule? Is an outbound one
automatic?

Pure domain code (no I/O, no clock), called for every ingested message. The rules, their order
and the reasons they give are described in docs/questions.md; `REASONS` lists every reason.
The package holds the word lists (`words`), how a text is read (`normalise`), the regex
optimiser the rule sets are compiled with (`alternation`), a policy's own patterns (`rules`)
and the decision itself (`decision`).

The names are imported on first use (PEP 562): `decision` compiles its rule sets (hundreds of
regexes, a fifth of a second) when imported, and only the commands that classify text need them —
not `--version`, `report`, `accounts` or `migrate`, which read a policy's `QuestionRules`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.domain.questions.decision import (
        ENCRYPTED,
        MAX_CHARS,
        REASONS,
        Decision,
        automatic_reason,
        decide,
        is_automatic,
        needs_reply,
    )
    from monitor.domain.questions.rules import DEFAULT_RULES, QuestionRules

_MODULE_OF = {
    "DEFAULT_RULES": "rules",
    "QuestionRules": "rules",
    "ENCRYPTED": "decision",
    "MAX_CHARS": "decision",
    "REASONS": "decision",
    "Decision": "decision",
    "automatic_reason": "decision",
    "decide": "decision",
    "is_automatic": "decision",
    "needs_reply": "decision",
}
"""The module of the package each public name comes from."""

__all__ = [
    "DEFAULT_RULES",
    "ENCRYPTED",
    "MAX_CHARS",
    "REASONS",
    "Decision",
    "QuestionRules",
    "automatic_reason",
    "decide",
    "is_automatic",
    "needs_reply",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` (once: the name is then a global of the package)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULE_OF])
