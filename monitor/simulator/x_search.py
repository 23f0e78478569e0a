"""Recent search queries for the local X API: the operators a monitor uses, parsed and matched as X
documents them (x-api/posts/search/integrate/build-a-query.mdx and operators.mdx, in the
xdevplatform/docs repository).

Supported: keywords and "exact phrases" (case-insensitive), `@user`, `from:user`, `to:user`,
`conversation_id:ID`, `is:reply`, `is:retweet`, `is:quote`, negation with `-`, `OR`, grouping
with parentheses; a space is AND, which binds tighter than OR. Refused as X refuses them (a
`QueryError` becomes a 400): an empty or unbalanced query, a query longer than 512 characters,
an unknown operator, a negated group, and a query made of conjunction-required operators only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_QUERY_CHARS = 512
"""Recent search's query length for self-serve access (operators.mdx, "Query limitations")."""
CONJUNCTION_REQUIRED = frozenset({"is:reply", "is:retweet", "is:quote"})
"""Operators that cannot make a query alone (operators.mdx)."""
_TOKEN = re.compile(r'\s*(\(|\)|-?"[^"]*"|[^\s()]+)')


class QueryError(ValueError):
    """A query X would refuse, with X's reason."""


@dataclass(frozen=True)
class Post:
    """What a query matches on."""

    text: str
    author: str
    """Username of the author."""
    mentions: frozenset[str]
    """Usernames mentioned (lower case)."""
    reply_to: str | None
    """Username the post replies to, None when it is not a reply."""
    conversation_id: str
    retweet: bool = False
    quote: bool = False


Matcher = Callable[[Post], bool]


@dataclass(frozen=True)
class _Node:
    match: Matcher
    standalone: bool
    """The expression holds a standalone operator (one may stand alone in a query)."""


def _term(token: str) -> _Node:
    word = token.lower()
    if word.startswith('"'):
        phrase = word.strip('"')
        return _Node(lambda p: phrase in p.text.lower(), True)
    if word.startswith("@") and len(word) > 1:
        name = word[1:]
        return _Node(lambda p: name in p.mentions, True)
    if ":" in word and not word.startswith("http"):
        op, _, value = word.partition(":")
        if op == "from":
            return _Node(lambda p: p.author.lower() == value, True)
        if op == "to":
            return _Node(lambda p: p.reply_to is not None and p.reply_to.lower() == value, True)
        if op == "conversation_id":
            return _Node(lambda p: p.conversation_id == value, True)
        if word == "is:reply":
            return _Node(lambda p: p.reply_to is not None, False)
        if word == "is:retweet":
            return _Node(lambda p: p.retweet, False)
        if word == "is:quote":
            return _Node(lambda p: p.quote, False)
        raise QueryError(f"Reference to invalid operator '{op}'. Operator is not available in current product")
    pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")
    return _Node(lambda p: pattern.search(p.text.lower()) is not None, True)


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = [m.group(1) for m in _TOKEN.finditer(query)]
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def either(self) -> _Node:
        """or := and ('OR' and)*"""
        nodes = [self.both()]
        while self.peek() == "OR":
            self.take()
            nodes.append(self.both())
        if len(nodes) == 1:
            return nodes[0]
        matchers = [n.match for n in nodes]
        # Each side of an OR must be able to stand on its own.
        return _Node(lambda p: any(m(p) for m in matchers), all(n.standalone for n in nodes))

    def both(self) -> _Node:
        """and := unit unit*"""
        nodes = [self.unit()]
        while self.peek() not in (None, ")", "OR"):
            nodes.append(self.unit())
        if len(nodes) == 1:
            return nodes[0]
        matchers = [n.match for n in nodes]
        return _Node(lambda p: all(m(p) for m in matchers), any(n.standalone for n in nodes))

    def unit(self) -> _Node:
        token = self.peek()
        if token is None or token in (")", "OR"):
            raise QueryError(f"There were errors processing your request: unexpected {token or 'end of query'!r}")
        self.take()
        if token == "(":
            node = self.either()
            if self.peek() != ")":
                raise QueryError("There were errors processing your request: missing ')'")
            self.take()
            return node
        if token == "-(" or (token == "-" and self.peek() == "("):
            raise QueryError("There were errors processing your request: a group cannot be negated")
        if token.startswith("-") and len(token) > 1:
            inner = _term(token[1:])
            # A negated operator does not stand alone.
            return _Node(lambda p: not inner.match(p), False)
        return _term(token)


def parse_query(query: str) -> Matcher:
    """The matcher of a recent search query; QueryError when X would refuse it."""
    if not query.strip():
        raise QueryError("The `query` query parameter can not be empty")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"The `query` query parameter value is longer than {MAX_QUERY_CHARS} characters")
    parser = _Parser(query)
    node = parser.either()
    if parser.peek() is not None:
        raise QueryError(f"There were errors processing your request: unexpected {parser.peek()!r}")
    if not node.standalone:
        raise QueryError(
            "There were errors processing your request: Rules must contain a non-negation term that is"
            " not a conjunction-required operator"
        )
    return node.match
