"""Decisions in a thread, through the engine's pure `thread_outcome` (no database): each message's
decision and reason, and the waits, follow from the thread's messages and their context -- not
from the order or the number of times they arrived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.domain.model import ThreadInfo, ThreadMessage
from monitor.domain.outcomes import ThreadOutcome
from monitor.domain.sla import Policy, Targets
from monitor.engine import AccountContext, thread_outcome

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=3)
POLICY = Policy("test", public=Targets(3600.0, 7200.0), private=Targets(3600.0, 7200.0))
X = AccountContext(1, "acme_x", "acme", "x", POLICY)
PUBLIC = ThreadInfo(1, 1, "public", "42", "sam")
PRIVATE = ThreadInfo(2, 1, "private", "42", "sam")


def msg(
    ext: str, minutes: float, text: str, *, outbound: bool = False, to_brand: bool = False, label: bool | None = None
) -> ThreadMessage:
    return ThreadMessage(
        ext,
        "outbound" if outbound else "inbound",
        T0 + timedelta(minutes=minutes),
        text,
        "brand" if outbound else "42",
        reply_to_brand=to_brand,
        label=label,
    )


def outcome(messages: list[ThreadMessage], thread: ThreadInfo = PUBLIC) -> ThreadOutcome:
    return thread_outcome(X, thread, messages, NOW)


def reasons(result: ThreadOutcome) -> dict[str, str | None]:
    return {ext: flags[2] for ext, flags in result.flags.items()}


def waits(result: ThreadOutcome) -> list[tuple[str, str, str | None]]:
    return [(w.kind, w.opened_message, w.closed_message) for w in result.waits]


def test_a_terse_answer_to_the_brand_opens_a_next_wait_and_thanks_open_none() -> None:
    thread = [
        msg("1", 0, "@NovaPlay game keeps crashing on the loading screen"),
        msg("2", 10, "@sam Sorry about that! Which platform are you playing on?", outbound=True),
        msg("3", 12, "@NovaPlay PS4", to_brand=True),
        msg("4", 40, "@sam Thanks! It's a known issue, the fix ships tomorrow ^JD", outbound=True),
        msg("5", 41, "@NovaPlay thanks!", to_brand=True),
    ]
    result = outcome(thread)
    assert waits(result) == [("first", "1", "2"), ("next", "3", "4")]
    assert reasons(result) == {
        "1": "complaint:not_working",
        "2": None,
        "3": "reply_to_brand",
        "4": None,
        "5": "courtesy",
    }


def test_thanks_but_still_broken_opens_a_next_wait() -> None:
    thread = [
        msg("1", 0, "@TelcoNova plus d'internet depuis ce matin"),
        msg("2", 5, "@sam Pouvez-vous débrancher la box 2 minutes ? ^Karim", outbound=True),
        msg("3", 30, "@TelcoNova merci mais ça ne marche toujours pas", to_brand=True),
    ]
    assert waits(outcome(thread)) == [("first", "1", "2"), ("next", "3", None)]


def test_an_automatic_reply_gives_no_context_and_closes_nothing() -> None:
    thread = [
        msg("1", 0, "@Brand where's my order?"),
        msg(
            "2",
            0.5,
            "@sam This is an automated reply: an agent will get back to you as soon as possible.",
            outbound=True,
        ),
        msg("3", 20, "@Brand PS4 version"),  # after an automatic reply only: judged on its words
        msg("4", 60, "@sam It's at the depot, delivery tomorrow ^Rob", outbound=True),
    ]
    result = outcome(thread)
    assert waits(result) == [("first", "1", "4")]
    assert reasons(result)["2"] == "automatic" and reasons(result)["3"] == "no_cue"


def test_moving_to_dm_closes_the_public_conversation() -> None:
    thread = [
        msg("1", 0, "@BrightBank card declined everywhere today"),
        msg("2", 9, "@sam We'd like to help. Please DM us your account email 📩", outbound=True),
        msg("3", 12, "@BrightBank DM sent 👍", to_brand=True),
    ]
    result = outcome(thread)
    assert waits(result) == [("first", "1", "2")]
    assert reasons(result)["3"] == "moved_to_dm"


def test_a_correction_wins_over_the_rules() -> None:
    thread = [msg("1", 0, "@Brand love the new collection"), msg("2", 3, "@Brand lol", label=True)]
    result = outcome(thread)
    assert waits(result) == [("first", "2", None)]
    assert reasons(result) == {"1": "praise", "2": "corrected"}


def test_private_threads_use_the_same_context() -> None:
    thread = [
        msg("1", 0, "bonjour"),
        msg("2", 5, "Bonjour, que puis-je faire pour vous ?", outbound=True),
        msg("3", 6, "ma commande 48213 n'est pas arrivée"),
        msg("4", 30, "Elle arrive demain ^Léa", outbound=True),
        msg("5", 31, "ça marche, merci !"),
    ]
    result = outcome(thread, PRIVATE)
    assert waits(result) == [("first", "1", "2"), ("next", "3", "4")]
    assert reasons(result)["5"] == "courtesy"


# ------------------------------------------------------------------------------------------------
# Any order, any repeats
# ------------------------------------------------------------------------------------------------

INBOUND = (
    "@Brand my order never arrived",
    "@Brand PS4",
    "@Brand thanks!",
    "@Brand thanks but it still doesn't work",
    "@Brand DM sent",
    "@Brand haha fair enough",
    "@Brand yes",
    "@Brand 👍",
    "@Brand heeeelp!!!!",
    "@Brand love the app, however I'm seriously considering uninstalling",
    "@Brand the green one!!",
    "@Marque merci beaucoup 🙏",
    "@Marque rien ne marche",
    "@Marque c'est bon ça remarche, merci !",
    "@Marque [TAPEZ VOTRE QUESTION ICI]",
    "",
    "@Brand https://t.co/abc",
)
OUTBOUND = (
    "@sam Which platform are you on?",
    "@sam Thanks, it's fixed now ^JD",
    "@sam This is an automated reply: we'll answer as soon as possible.",
    "@sam We don't have an out of office option, sorry ^AM",
    "Réponse automatique : nous sommes fermés.",
)


@st.composite
def threads(draw: st.DrawFn) -> list[ThreadMessage]:
    n = draw(st.integers(min_value=1, max_value=9))
    out = []
    for i in range(n):
        outbound = draw(st.booleans())
        text = draw(st.sampled_from(OUTBOUND if outbound else INBOUND))
        minute = draw(st.integers(min_value=0, max_value=6))  # ties happen: the order key settles them
        out.append(msg(f"m{i}", minute, text, outbound=outbound, to_brand=not outbound and draw(st.booleans())))
    return out


@settings(max_examples=300, deadline=None)
@given(thread=threads(), data=st.data(), private=st.booleans())
def test_decisions_reasons_and_waits_do_not_depend_on_order_or_repeats(
    thread: list[ThreadMessage], data: st.DataObject, private: bool
) -> None:
    info = PRIVATE if private else PUBLIC
    reference = outcome(thread, info)
    repeats = data.draw(st.lists(st.sampled_from(thread), max_size=len(thread)))
    arrived = data.draw(st.permutations(thread + repeats))
    again = outcome(list(arrived), info)
    assert dict(again.flags) == dict(reference.flags)
    assert again.waits == reference.waits
