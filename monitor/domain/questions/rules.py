"""A policy's own question rules (`QuestionRules`), checked and compiled.

Every pattern is a case-insensitive regex matched against the raw text and, accent-folded,
against the case/accent-folded text (so ``reponse`` matches "Réponse"); @mentions and URLs are
kept there, so a rule may target them. `ignore_patterns` win over everything; `extra_patterns`
make any message need a reply (on private channels, even a courtesy after a brand reply)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import NamedTuple

from monitor.domain.questions.normalise import fold


@dataclass(frozen=True, slots=True)
class QuestionRules:
    """Per-policy additions to the built-in rules. Every pattern is a case-insensitive regex.

    Invalid regexes raise `ValueError` when the rules are built, not at the first message.
    Lists are accepted and stored as tuples (the rules stay hashable).
    """

    extra_patterns: tuple[str, ...] = ()  # a match => needs reply (public channels)
    ignore_patterns: tuple[str, ...] = ()  # a match => never needs reply (wins over everything)
    automatic_patterns: tuple[str, ...] = ()  # outbound matches are automatic replies

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                raise TypeError(f"{f.name} must be a sequence of regexes, not a string")
            if not isinstance(value, tuple):
                object.__setattr__(self, f.name, tuple(value))
        _compile_rules(self)  # fail fast on an invalid regex


class _Patterns(NamedTuple):
    raw: tuple[re.Pattern[str], ...]  # against the raw text
    folded: tuple[re.Pattern[str], ...]  # accent-folded patterns against the folded text

    def search(self, raw: str, folded: str) -> bool:
        return any(p.search(raw) for p in self.raw) or any(p.search(folded) for p in self.folded)


class _Compiled(NamedTuple):
    extra: _Patterns
    ignore: _Patterns
    automatic: _Patterns


def _compile_patterns(name: str, patterns: tuple[str, ...]) -> _Patterns:
    raw: list[re.Pattern[str]] = []
    folded: list[re.Pattern[str]] = []
    for source in patterns:
        if not isinstance(source, str):
            raise TypeError(f"{name}: a pattern must be a string, got {source!r}")
        try:
            raw.append(re.compile(source, re.IGNORECASE))
            folded.append(re.compile(fold(source), re.IGNORECASE))
        except re.error as exc:
            raise ValueError(f"{name}: invalid regex {source!r}: {exc}") from exc
    return _Patterns(tuple(raw), tuple(folded))


@lru_cache(maxsize=256)
def _compile_rules(rules: QuestionRules) -> _Compiled:
    return _Compiled(
        _compile_patterns("extra_patterns", rules.extra_patterns),
        _compile_patterns("ignore_patterns", rules.ignore_patterns),
        _compile_patterns("automatic_patterns", rules.automatic_patterns),
    )


DEFAULT_RULES = QuestionRules()
_DEFAULT_COMPILED = _compile_rules(DEFAULT_RULES)


_last_compiled: tuple[QuestionRules, _Compiled] = (DEFAULT_RULES, _DEFAULT_COMPILED)


def compiled_rules(rules: QuestionRules) -> _Compiled:
    """The rules' patterns, compiled once."""
    # A policy's rules are one object classifying many messages in a row: compare identity first
    # (hashing the rules for the cache costs more than classifying a short message).
    global _last_compiled
    last_rules, compiled = _last_compiled
    if rules is not last_rules:
        compiled = _compile_rules(rules)
        _last_compiled = (rules, compiled)
    return compiled
