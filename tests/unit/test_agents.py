"""Who sent a reply: signature rules (defaults and a policy's own), the roster, the apps, and the
configuration's errors naming the bad rule and where."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config import ConfigError, parse
from monitor.domain.agents import (
    DEFAULT_SIGNATURES,
    NO_ATTRIBUTION,
    SIGNATURE_TAIL,
    App,
    Attribution,
    Member,
    Sender,
    SignatureError,
    compile_signature,
)
from monitor.domain.model import ThreadInfo, ThreadMessage
from monitor.domain.questions import is_automatic
from monitor.engine import AccountContext, thread_outcome
from monitor.simulator.traffic.texts import REPLIES, SIGNATURES, mixed, signed
from monitor.sources.echoes import ECHOES_MAX, Echo, read_echoes

SIGNED = [
    ("Sorry about that, a new card is on its way ^JD", "JD"),
    ("On it, check your DMs ^Jen", "Jen"),
    ("Refund sent, sorry for the wait -Bettina", "Bettina"),
    ("C'est réglé, bonne journée –Jeh", "Jeh"),
    ("We have escalated this — JD", "JD"),
    ("Merci, c'est noté /AB", "AB"),
    ("Bonne journée -Hélène", "Hélène"),
    ("Done! - Marie-Claire  ", "Marie-Claire"),
    ("^JD", "JD"),
    ("@cust Thanks for waiting, fixed now ^ABC\n", "ABC"),
]
UNSIGNED = [
    "Yeah, totally our fault /s",
    "It's fast-ish -ish",
    "Glad it works ^^",
    "See https://help.example.com/AB",
    "Our FAQ: https://x.co/Jen",
    "Sorry about that :-D",
    "Ugh -_-",
    "Love it ^_^",
    "Yay ^o^",
    "Please DM us - Thanks",
    "Details in our /FAQ",
    "Write to us in DM - DM",
    "A follow-Up is coming",
    "Thanks!",
    "Sorry :/",
    "We are on it XD",
    "Check the pinned post -> Pinned",  # an arrow: no space before the dash's word
    "",
]


@pytest.mark.parametrize(("text", "agent"), SIGNED)
def test_the_common_signatures_are_found(text: str, agent: str) -> None:
    assert NO_ATTRIBUTION.signature(text) == agent


@pytest.mark.parametrize("text", UNSIGNED)
def test_endings_that_are_no_signature(text: str) -> None:
    assert NO_ATTRIBUTION.signature(text) is None


def test_a_signature_is_looked_for_at_the_end_only() -> None:
    assert NO_ATTRIBUTION.signature("^JD said we would call you back, and we did.") is None
    assert NO_ATTRIBUTION.signature("x" * 10_000 + " ^JD") == "JD"
    # Only the tail is read: a long reply costs no more than a short one.
    assert NO_ATTRIBUTION.signature("^JD" + " " * SIGNATURE_TAIL + "ok") is None


def test_the_policy_rules_come_first_and_the_defaults_can_be_left_out() -> None:
    own = Attribution(signatures=(r"\[(?P<agent>[a-z]{2})\]$",))
    assert own.signature("Fixed [jd]") == "jd"
    assert own.signature("Fixed ^JD") == "JD"  # the defaults still apply
    only = Attribution(signatures=(r"\[(?P<agent>[a-z]{2})\]$",), default_signatures=False)
    assert only.signature("Fixed ^JD") is None


def test_roster_names_teams_and_unknown_signatures() -> None:
    roster = (
        Member("Jane Doe", ("jd", "Jane"), "care-fr"),
        Member("Bettina Roy", ("Bettina",), None),
    )
    apps = {"111": App("111", "native inbox"), "222": App("222", "chatbot", automatic=True)}
    a = Attribution(roster=roster, apps=apps)
    assert a.sender("Done ^JD") == Sender("Jane Doe", "care-fr", None, False)  # the roster ignores case
    assert a.sender("Done -Bettina", "111") == Sender("Bettina Roy", None, "native inbox", False)
    assert a.sender("Done ^Kim") == Sender("Kim", None, None, False)  # not in the roster: as written
    assert a.sender("Hello, how can I help?", "222") == Sender(None, None, "chatbot", True)
    assert a.sender("Hello", "999") == Sender()  # an app nobody named
    assert Attribution(roster=roster, roster_only=True).sender("Done ^Kim") == Sender()
    with pytest.raises(ValueError, match="'jd' is both 'A''s and 'B''s"):
        Attribution(roster=(Member("A", ("JD",)), Member("B", ("jd",))))


def test_a_rule_without_the_named_group_or_not_a_regex_is_refused() -> None:
    with pytest.raises(SignatureError, match=r"no named group \(\?P<agent>"):
        compile_signature(r"\^([A-Z]{2})$")
    with pytest.raises(SignatureError, match="bad regular expression"):
        compile_signature(r"\^(?P<agent>[A-Z]{2}$")
    for pattern in DEFAULT_SIGNATURES:
        compile_signature(pattern)


def _config(extra: dict[str, Any], agents: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "policies": {
            "default": {
                "public": {"first": "30m", "next": "1h"},
                "private": {"first": "1h", "next": "2h"},
                **({"agents": agents} if agents is not None else {}),
            }
        },
        "brands": [
            {"name": "acme", "accounts": [{"name": "acme-x", "channel": "x", "user_id": "1", "source": "demo"}]},
            {"name": "other", "accounts": [{"name": "other-x", "channel": "x", "user_id": "2", "source": "demo"}]},
        ],
        **extra,
    }


def test_configuration_errors_name_the_rule_and_where() -> None:
    data = _config(
        {
            "agents": [
                {"name": "Jane Doe", "signatures": ["JD"], "team": "care", "brands": ["acme", "nope"]},
                {"name": "John Dee", "signatures": ["jd"], "brands": ["acme"]},
                {"name": "Other JD", "signatures": ["JD"], "brands": ["other"]},  # another brand: fine
                {"name": "", "signatures": []},
            ],
            "apps": [
                {"app_id": "263902037430900", "name": "native inbox"},
                {"app_id": "263902037430900", "name": "again"},
                {"app_id": "12ab", "name": "bad", "automatic": True},
            ],
        },
        agents={"signatures": [r"\^([A-Z]{2})$", r"(?P<agent>[A-Z]{2}", r"~(?P<agent>[A-Z]{2})$"]},
    )
    with pytest.raises(ConfigError) as info:
        parse(data, environ={})
    problems = [str(p) for p in info.value.problems]
    assert problems == [
        "agents[3].name: string should have at least 1 character",
        "agents[3].signatures: list should have at least 1 item after validation, not 0",
        "apps[2].app_id: string should match pattern '^\\d{1,20}$'",
        (
            "policies.default.agents.signatures[0]: '\\\\^([A-Z]{2})$': "
            "no named group (?P<agent>...) that captures the signature"
        ),
        (
            "policies.default.agents.signatures[1]: '(?P<agent>[A-Z]{2}': "
            "bad regular expression: missing ), unterminated subpattern at position 0"
        ),
        "agents[0].brands[1]: no brand named 'nope' (known: acme, other)",
        "agents[1].signatures[0]: 'jd' is already the signature of agents[0]",
        "apps[1].app_id: '263902037430900' is already apps[0]",
    ]


def test_the_attribution_of_a_brand_takes_its_roster_and_the_apps() -> None:
    config = parse(
        _config(
            {
                "agents": [
                    {"name": "Jane Doe", "signatures": ["JD"], "team": "care", "brands": ["acme"]},
                    {"name": "Kim Lee", "signatures": ["Kim"]},
                ],
                "apps": [{"app_id": "42", "name": "chatbot", "automatic": True}],
            },
            agents={"signatures": [r"~(?P<agent>[A-Z]{2})$"], "roster_only": True},
        ),
        environ={},
    )
    acme, other = config.attribution("acme", "default"), config.attribution("other", "default")
    assert acme.sender("ok ~JD") == Sender("Jane Doe", "care")
    assert other.sender("ok ~JD") == Sender()  # roster_only: JD is not other's
    assert other.sender("ok ^Kim", "42") == Sender("Kim Lee", None, "chatbot", True)


T = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def test_a_reply_by_an_automatic_app_closes_no_wait() -> None:
    """The bot answers at once, a person 20 minutes later: the wait lasts 20 minutes."""
    from monitor.domain.sla import Policy, Targets

    policy = Policy("p", Targets(1800, 3600), Targets(3600, 7200), business_hours_only=False)
    attribution = Attribution(apps={"9": App("9", "chatbot", automatic=True), "1": App("1", "native inbox")})
    account = AccountContext(1, "page", "acme", "facebook", policy, attribution=attribution)
    thread = ThreadInfo(1, 1, "private", "c", "c")
    messages = [
        ThreadMessage("q", "inbound", T, "Where is my order?"),
        ThreadMessage("bot", "outbound", T + timedelta(seconds=5), "Hi! An agent will answer soon.", app_id="9"),
        ThreadMessage("human", "outbound", T + timedelta(minutes=20), "It ships today -Bettina", app_id="1"),
    ]
    outcome = thread_outcome(account, thread, list(messages), T + timedelta(hours=1))
    [wait] = outcome.waits
    assert wait.closed_message == "human" and wait.wall_seconds == 1200
    assert outcome.flags["bot"][:3] == (False, True, "app:automatic")
    assert outcome.flags["bot"].app == "chatbot"
    assert outcome.flags["human"][1:] == (False, None, "Bettina", None, "native inbox")
    # Without the app's echo, the same bot message closes the wait (its words are no template).
    plain = AccountContext(1, "page", "acme", "facebook", policy)
    [early] = thread_outcome(plain, thread, list(messages), T + timedelta(hours=1)).waits
    assert early.closed_message == "bot"


def _delivery(*events: Any, obj: str = "page") -> bytes:
    import json

    return json.dumps({"object": obj, "entry": [{"id": "1001", "time": 1, "messaging": list(events)}]}).encode()


def _echo(mid: str, app_id: Any, **extra: Any) -> dict[str, Any]:
    return {
        "sender": {"id": "1001"},
        "recipient": {"id": "555"},
        "timestamp": 1,
        "message": {"is_echo": True, "app_id": app_id, "mid": mid, "text": "hi", **extra},
    }


def test_echoes_name_the_app_of_each_reply_and_nothing_else() -> None:
    body = _delivery(
        _echo("m_1", 263902037430900),
        _echo("m_2", "42"),
        _echo("m_1", 263902037430900),  # Meta may repeat an event
        _echo("m_3", True),
        _echo("m_4", "12ab"),
        _echo("m_5", 10**21),  # 22 digits: no app id
        _echo("bad id/", 1),
        {"sender": {"id": "555"}, "recipient": {"id": "1001"}, "message": {"mid": "m_6", "text": "a question"}},
        {"sender": {"id": "1001"}, "message": {"is_echo": "true", "app_id": 1, "mid": "m_7"}},
        "not an event",
    )
    assert read_echoes(body) == [Echo("1001", "m_1", "263902037430900"), Echo("1001", "m_2", "42")]
    assert read_echoes(_delivery(_echo("m_1", 1), obj="instagram")) == []
    assert read_echoes(b"not json") == [] and read_echoes(b"[1]") == []
    many = _delivery(*(_echo(f"m_{i}", 1) for i in range(ECHOES_MAX + 10)))
    assert len(read_echoes(many)) == ECHOES_MAX


@pytest.mark.parametrize("n", range(len(SIGNATURES)))
def test_the_demo_signs_its_replies_as_the_default_rules_read_them(n: int) -> None:
    """Every signature of the scripted traffic is its agent's, and a signed reply stays a human one."""
    agent = SIGNATURES[n].lstrip("^-/–") or None
    for text in mixed(REPLIES):
        reply = signed(text, n)
        assert NO_ATTRIBUTION.signature(reply) == agent and not is_automatic(reply)
