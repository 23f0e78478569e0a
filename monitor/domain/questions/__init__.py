"""Question detection: does an inbound message need a reply, by which rule? Is an outbound one
automatic?

Pure domain code (no I/O, no clock), called for every ingested message. The rules, their order
and the reasons they give are described in docs/questions.md; `REASONS` lists every reason.
The package holds the word lists (`words`), how a text is read (`normalise`), the regex
optimiser the rule sets are compiled with (`alternation`), a policy's own patterns (`rules`)
and the decision itself (`decision`).
"""

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
