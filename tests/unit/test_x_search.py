"""The local X API's recent search queries: the operators, their precedence, and what X refuses."""

from __future__ import annotations

import re

import pytest

from monitor.simulator.x_search import Post, QueryError, parse_query
from monitor.sources.x.peers import peer_query

QUESTION = Post("@Rival where is my order?", "cust", frozenset({"rival"}), None, "1")
REPLY_TO_POST = Post("is this still on?", "cust", frozenset(), "rival", "2")
PEER_REPLY = Post("@cust we're on it", "rival", frozenset({"cust"}), "cust", "1")
PEER_POST = Post("Summer sale!", "rival", frozenset(), None, "3")
RETWEET = Post("RT @rival: Summer sale!", "fan", frozenset({"rival"}), None, "4", retweet=True)
OTHER = Post("@other hello?", "cust", frozenset({"other"}), None, "5")


def test_the_peer_query_takes_questions_and_replies_and_leaves_out_posts_and_retweets() -> None:
    matches = parse_query(peer_query("Rival"))
    assert [matches(p) for p in (QUESTION, REPLY_TO_POST, PEER_REPLY, PEER_POST, RETWEET, OTHER)] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("query", "post", "matched"),
    [
        ("order where", QUESTION, True),  # a space is AND
        ('"my order"', QUESTION, True),
        ('"order my"', QUESTION, False),
        ("refund OR order", QUESTION, True),
        ("sale OR order -@rival", QUESTION, False),  # AND binds tighter: sale OR (order -@rival)
        ("(sale OR order) -@rival", QUESTION, False),
        ("sale OR order -@rival", PEER_POST, True),
        ("conversation_id:1 from:rival", PEER_REPLY, True),
        ("to:rival is:reply", REPLY_TO_POST, True),
        ("ORDER", QUESTION, True),  # case-insensitive
        ("ord", QUESTION, False),  # tokens, not substrings
    ],
)
def test_operators(query: str, post: Post, matched: bool) -> None:
    assert parse_query(query)(post) is matched


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("", "can not be empty"),
        ("is:reply", "non-negation term"),
        ("-@rival", "non-negation term"),
        ("@rival OR is:reply", "non-negation term"),
        ("(@rival", "missing ')'"),
        ("@rival)", "unexpected ')'"),
        ("skiing -(snow OR day)", "cannot be negated"),
        ("min_faves:10 cat", "invalid operator 'min_faves'"),
        ("a" * 513, "longer than 512"),
    ],
)
def test_queries_x_refuses(query: str, why: str) -> None:
    with pytest.raises(QueryError, match=re.escape(why)):
        parse_query(query)
