"""The decision: does an inbound message need a reply, and by which rule (`decide`, one of
`REASONS`)? Is an outbound one an automatic reply (`automatic_reason`)? The rules, their order
and the reasons they give are described in docs/questions.md."""

from __future__ import annotations

import re
from typing import NamedTuple

from monitor.domain.questions.alternation import alt, alt_longest, fast
from monitor.domain.questions.normalise import STRETCH_RE, destretch, fold, normalise
from monitor.domain.questions.rules import DEFAULT_RULES, QuestionRules, compiled_rules
from monitor.domain.questions.words import (
    AUTOMATIC,
    AUTOMATIC_START,
    BARE_YES_NO,
    CALLS,
    CLAUSE_WORDS,
    COMPLAINT,
    COMPLAINTS,
    CONTRAST,
    COURTESY_WORDS,
    DM_HINTS,
    DM_SENT,
    FIRST_PERSON,
    LAUGH,
    LAUGH_EMOJI,
    ME_TOO,
    NEGATION,
    NEUTRAL,
    NOT_A_NAME,
    PLACEHOLDER,
    POSITIVE,
    QUESTION,
    QUESTION_START,
    REQUEST,
    RHETORICAL,
    SAD_EMOJI,
    SARCASM_EMOJI,
    UNHAPPY_EMOJI,
)

MAX_CHARS = 10_000  # longer texts are judged on their beginning

_RT_RE = re.compile(r"\s*rt\s+@\w+")
_HAS_WORD_RE = re.compile(r"[^\W_]")
_EMOJI_RE = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2764]")
_LAUGH_EMOJI_RE = re.compile(f"[{LAUGH_EMOJI}]")
_LAUGH_RE = alt(*LAUGH)
_SARCASM_RE = re.compile(f"[{SARCASM_EMOJI}]")
_SAD_RE = re.compile(f"[{SAD_EMOJI}]")
_MIN_WORDS_FOR_DEFAULT = 4

# Praise, then a contrast word, then a clause with no praise of its own: the complaint wins
# ("love the app, however I'm seriously considering uninstalling"). A contrast followed by
# praise ("a bit pricey but worth it") does not count, nor one before any praise.
_CONTRAST_RE = alt(CONTRAST)
_MIN_CONTRAST_WORDS = 3  # "... but no" or "... mais bon" is not a complaint

_PLACEHOLDER_RE = re.compile(PLACEHOLDER)

# Clause starts: text start, after punctuation or one of CLAUSE_WORDS (the tagger below reads the
# text with one leading space, and every match starts at a space).
_CLAUSE = r"(?:(?<=^ )|[.!?,;:] |" + fast(CLAUSE_WORDS) + r" )"

# One pass over " " + the normalised text tags every cue. Every match starts at the space
# before a word: the literal prefix lets `re` jump from space to space instead of trying
# every position. At a given position the first family listed wins, and a match consumes
# its text: so "pas de souci" (neutral) hides "souci" (complaint), and "merci de me
# rappeler" (request) wins over "merci" (praise).
_TAGGER = re.compile(
    r" (?:"
    + "|".join(
        f"(?P<{name}>{fast(*parts)})"
        for name, parts in (
            ("neutral", NEUTRAL),
            ("need", (*COMPLAINT, *REQUEST, *NEGATION)),
            ("rhetorical", RHETORICAL),
            ("question", QUESTION),
            ("laugh", LAUGH),
            ("me_too", ME_TOO),
            ("positive", POSITIVE),
            ("first_person", FIRST_PERSON),
        )
    )
    + r"|(?P<question_start>"
    + _CLAUSE
    + fast(*QUESTION_START)
    + r"))\b"
)
# Which family a "need" match belongs to (read only once a message needs a reply): the
# complaint families in order, then requests, then the negation heuristic.
_NEED_FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (reason, re.compile(r" (?:" + fast(*parts) + r")\b"))
    for reason, parts in (
        *((f"complaint:{family}", tuple(parts)) for family, parts in COMPLAINTS.items()),
        ("request", tuple(REQUEST)),
        ("complaint:negation", tuple(NEGATION)),
    )
)

_COURTESY_WORDS_RE = alt_longest(*COURTESY_WORDS)
# "thanks Kim", "merci Léa": the agent's name after a thanks (unless the word carries meaning).
_THANKS_NAME_RE = re.compile(r"\b(thanks?|thank you|merci|cheers|ty|thx) ([a-z]{2,12})(?=$| [!.,;:])")
_BARE_YES_NO_MAX_LEN = 24  # "oui ! ! 👍👍" at most: longer texts hold more than a yes
_COURTESY_MAX_LEN = 120
_DM_SENT_RE = alt_longest(*DM_SENT)
_AUTOMATIC_RE = alt(*AUTOMATIC)
_AUTOMATIC_START_RE = re.compile(AUTOMATIC_START)


ENCRYPTED = "encrypted"
"""The reason of an encrypted chat's decision: set by the engine, no rule reads a text X never gives."""

REASONS: dict[str, str] = {
    # inbound, any channel
    "pattern:ignore": "matches the policy's ignore_patterns: never needs a reply",
    "pattern:extra": "matches the policy's extra_patterns: needs a reply",
    "retweet": "a retweet: never needs a reply",
    "corrected": "a person's correction decides (set by the engine, not by the rules)",
    ENCRYPTED: "an encrypted chat (XChat): its text is not available, so not classified; needs a reply",
    "private": "a private message (DM, Messenger): needs a reply unless a courtesy after the brand's reply",
    "courtesy": 'after the brand\'s reply, only thanks, praise, ok, "it works now" or "I\'ll try that": no reply',
    # inbound, public, after the brand's reply or replying to it
    "reply_to_brand": "answers the brand (after its reply in the thread) and is not a courtesy: needs a reply",
    "moved_to_dm": "after the brand's reply, says they wrote in private (the private thread has the wait): no reply",
    "banter": "laughter, or a question wrapped in laughter: no reply",
    # inbound, public, judged on its words
    "placeholder": 'a template\'s placeholder left in ("[TYPE YOUR QUESTION HERE]"): needs a reply',
    "no_words": "emoji only, bare @mentions or links: no reply",
    "unhappy_emoji": "an angry or sarcastic emoji, or a sad one without praise or laughter: needs a reply",
    **{
        f"complaint:{family}": f"a complaint ({what}): needs a reply"
        for family, what in (
            ("waiting", "no answer, still waiting"),
            ("not_working", "a service, app or device does not work"),
            ("order", "an order, parcel or trip not received, late, lost or wrong"),
            ("billing", "charges, refunds, prices"),
            ("damaged", "a damaged or spoilt product"),
            ("fraud", "scam, phishing, hacked account, impersonation, a payment they did not make"),
            ("abuse", "harassment, insults, threats, rude staff"),
            ("unhappy", "anger, disappointment, contempt"),
            ("problem", "a problem named as such"),
            ("negation", "a negated verb, once praise built on a negation is set aside"),
        )
    },
    "request": "a request (please, help, DM me, I need...): needs a reply",
    "question_mark": "a question with a question mark: needs a reply",
    "question": 'a question without a question mark ("how do I", "est-ce que"): needs a reply',
    "rhetorical": "a rhetorical question or an invitation to the crowd: no reply",
    "contrast": "praise, then but/however/mais/par contre and a clause without praise: needs a reply",
    "praise": "praise, thanks or a phrase of praise built on a negation: no reply",
    "cheerful_emoji": "no cue, and a cheerful emoji: no reply",
    "me_too": '"same here", "moi aussi": another report of a problem, needs a reply',
    "first_person_report": "no cue, in the first person, four words or more: probably a problem report",
    "stretched": 'stretched words ("heeeelp", "allôôô") that read as a request or a nudge: needs a reply',
    "no_cue": "no cue either way: no reply",
    # outbound
    "automatic": "an automatic reply in template wording: closes no wait",
    "pattern:automatic": "matches the policy's automatic_patterns: closes no wait",
    "app:automatic": "sent by an app marked automatic = true in [[apps]] (a bot): closes no wait",
}
"""Every reason a decision can give, with its meaning (docs/questions.md lists the same)."""


def _drop_name(match: re.Match[str]) -> str:
    return match.group(0) if match.group(2) in NOT_A_NAME else match.group(1)


def _only_courtesy(norm: str) -> bool:
    """Every word of `norm` is a courtesy word (true of a text without words)."""
    if _HAS_WORD_RE.search(_COURTESY_WORDS_RE.sub(" ", norm)) is None:
        return True
    if _THANKS_NAME_RE.search(norm) is None:
        return False
    return _HAS_WORD_RE.search(_COURTESY_WORDS_RE.sub(" ", _THANKS_NAME_RE.sub(_drop_name, norm))) is None


def _is_courtesy(norm: str) -> bool:
    # Empty text (a photo, a file) is not a courtesy: it may well show the problem.
    if not norm or len(norm) > _COURTESY_MAX_LEN or "?" in norm:
        return False
    if not norm.isascii() and (_SARCASM_RE.search(norm) is not None or _SAD_RE.search(norm) is not None):
        return False
    if len(norm) <= _BARE_YES_NO_MAX_LEN:
        words = [w for w in norm.split() if _HAS_WORD_RE.search(w) is not None]
        if len(words) == 1 and words[0] in BARE_YES_NO:
            return False
    return _only_courtesy(norm)


class Decision(NamedTuple):
    """Whether an inbound message needs a reply, and the rule that decided it (one of `REASONS`;
    stored with the message, shown by `explain`, the dashboards and the report)."""

    needs_reply: bool
    reason: str


def _need_family(tagged: str, start: int) -> str:
    """The reason of a "need" cue found at `start` of the tagged text."""
    for reason, pattern in _NEED_FAMILIES:
        if pattern.match(tagged, start) is not None:
            return reason
    return "request"  # not reached: every need cue belongs to a family


def _praise_after(text: str) -> bool:
    """The text holds praise, a phrase set aside as neutral, laughter, rhetoric or a cheerful emoji."""
    for match in _TAGGER.finditer(" " + text):
        if match.lastgroup in ("positive", "neutral", "laugh", "rhetorical"):
            return True
    return not text.isascii() and any(e not in UNHAPPY_EMOJI for e in _EMOJI_RE.findall(text))


def _contrast(norm: str, start: int) -> bool:
    """After praise ending at `start`, a contrast word and a clause with no praise of its own."""
    last = None
    for last in _CONTRAST_RE.finditer(norm, start):  # noqa: B007 (the last one counts)
        pass
    if last is None:
        return False
    after = norm[last.end() :]
    if sum(len(w) > 1 for w in after.split()) < _MIN_CONTRAST_WORDS:
        return False
    return not _praise_after(after)


def _text_decision(norm: str) -> Decision:
    """A public message that starts a conversation, judged on its words."""
    emoji = not norm.isascii()
    if _HAS_WORD_RE.search(norm) is None and "?" not in norm:
        if (
            emoji
            and (_SARCASM_RE.search(norm) or _SAD_RE.search(norm))
            and all(e in UNHAPPY_EMOJI for e in _EMOJI_RE.findall(norm))
        ):
            return Decision(True, "unhappy_emoji")
        return Decision(False, "no_words")  # emoji-only, bare @mentions, links only
    if emoji and _SARCASM_RE.search(norm) is not None:
        return Decision(True, "unhappy_emoji")
    tagged = " " + norm
    tags: set[str | None] = set()
    praise_end = -1
    for match in _TAGGER.finditer(tagged):
        group = match.lastgroup
        if group == "need":
            return Decision(True, _need_family(tagged, match.start()))  # a complaint or a request
        if group == "positive" and praise_end < 0:
            praise_end = match.end() - 1
        tags.add(group)
    laughs = "laugh" in tags or (emoji and _LAUGH_EMOJI_RE.search(norm) is not None)
    if (
        "question" in tags
        or "question_start" in tags
        or "?" in norm
        or (emoji and "\U0001f914" in norm)  # thinking face
    ):
        # rhetoric and invitations to the crowd, or a question wrapped in laughter (banter)
        if "rhetorical" in tags:
            return Decision(False, "rhetorical")
        if laughs:
            return Decision(False, "banter")
        return Decision(True, "question_mark" if "?" in norm else "question")
    if praise_end >= 0 and not laughs and _contrast(norm, praise_end):
        return Decision(True, "contrast")
    # No cue either way: a first-person message that is not praise, thanks, laughter or
    # cheerful emoji most likely reports a problem (missing one costs more than a false alarm).
    if "neutral" in tags or "positive" in tags or laughs:
        return Decision(False, "praise")
    if emoji and _SAD_RE.search(norm) is not None:
        return Decision(True, "unhappy_emoji")
    if emoji and any(e not in UNHAPPY_EMOJI for e in _EMOJI_RE.findall(norm)):
        return Decision(False, "cheerful_emoji")
    if "me_too" in tags:
        return Decision(True, "me_too")
    if "first_person" in tags and len(norm.split()) >= _MIN_WORDS_FOR_DEFAULT:
        return Decision(True, "first_person_report")
    return Decision(False, "no_cue")


def _stretched(norm: str) -> bool:
    """Read with its stretched words shortened, the message needs a reply, or is a stretched call
    ("helloooo", "allôôô il y a quelqu'un") with nothing that praises or laughs."""
    plain = destretch(norm)
    if _text_decision(plain).needs_reply:
        return True
    if not any(destretch(w) in CALLS for w in norm.split() if STRETCH_RE.search(w)):
        return False
    if not norm.isascii() and any(e not in UNHAPPY_EMOJI for e in _EMOJI_RE.findall(norm)):
        return False  # "heyyyy 😍"
    rest = " ".join(w for w in plain.split() if w not in CALLS)
    return _text_decision(rest).reason in ("no_words", "no_cue")


def _public_decision(folded: str, norm: str) -> Decision:
    """A public message that starts a conversation (the brand has not spoken in its thread)."""
    if _RT_RE.match(folded) is not None:  # classic "RT @user: ..." text
        return Decision(False, "retweet")
    if ("[" in folded or "<" in folded or "{" in folded) and _PLACEHOLDER_RE.search(folded) is not None:
        return Decision(True, "placeholder")
    decision = _text_decision(norm)
    if (
        not decision.needs_reply
        and decision.reason not in ("rhetorical", "banter")
        and STRETCH_RE.search(norm) is not None
        and _stretched(norm)
    ):
        return Decision(True, "stretched")
    return decision


def _answer_decision(norm: str) -> Decision:
    """A public message after the brand's reply in its thread: it answers the brand."""
    if _is_courtesy(norm):
        return Decision(False, "courtesy")
    if not norm or len(norm) > _COURTESY_MAX_LEN or "?" in norm:
        return Decision(True, "reply_to_brand")
    if (
        any(hint in norm for hint in DM_HINTS)
        and _DM_SENT_RE.search(norm) is not None
        and _only_courtesy(_DM_SENT_RE.sub(" ", norm))
    ):
        return Decision(False, "moved_to_dm")
    emoji = not norm.isascii()
    if emoji and (_SARCASM_RE.search(norm) is not None or _SAD_RE.search(norm) is not None):
        return Decision(True, "reply_to_brand")
    if not (emoji and _LAUGH_EMOJI_RE.search(norm) is not None) and _LAUGH_RE.search(norm) is None:
        return Decision(True, "reply_to_brand")
    for match in _TAGGER.finditer(" " + norm):  # laughter, unless around a question or a complaint
        if match.lastgroup in ("need", "question", "question_start"):
            return Decision(True, "reply_to_brand")
    return Decision(False, "banter")


def decide(
    text: str,
    *,
    private: bool,
    after_brand_reply: bool = False,
    brand_spoke: bool = False,
    reply_to_brand: bool = False,
    is_retweet: bool = False,
    rules: QuestionRules = DEFAULT_RULES,
) -> Decision:
    """Does an inbound message need a reply, and by which rule (see `REASONS`).

    `after_brand_reply`: the message comes right after a (non-automatic) brand reply in its
    thread; `brand_spoke`: the brand replied earlier in the thread; `reply_to_brand`: the
    message itself replies to one of the brand's replies (X: `in_reply_to_user_id` is the
    account and the tweet replied to is not the conversation's root; Facebook: its parent
    comment is the Page's) -- so another customer answering the brand's question counts too.

    A message that answers the brand needs a reply unless it is a courtesy ("thanks!", "it
    works now", "I'll try that"), says the conversation moved to private messages, or only
    laughs. Otherwise the text rules judge it -- also a reply to one of the brand's own posts
    (a campaign tweet gets praise and banter, not care questions)."""
    if is_retweet:
        return Decision(False, "retweet")
    compiled = compiled_rules(rules)
    text = text[:MAX_CHARS]
    folded = None
    if compiled.ignore.raw or compiled.extra.raw:
        folded = fold(text)
        if compiled.ignore.search(text, folded):
            return Decision(False, "pattern:ignore")
        if compiled.extra.search(text, folded):
            return Decision(True, "pattern:extra")
    answers = after_brand_reply or brand_spoke or reply_to_brand
    if private and not answers:
        return Decision(True, "private")
    if folded is None:
        folded = fold(text)
    norm = normalise(folded)
    if private:
        return Decision(False, "courtesy") if _is_courtesy(norm) else Decision(True, "private")
    if answers:
        return _answer_decision(norm)
    return _public_decision(folded, norm)


def needs_reply(
    text: str,
    *,
    private: bool,
    after_brand_reply: bool = False,
    is_retweet: bool = False,
    rules: QuestionRules = DEFAULT_RULES,
) -> bool:
    """True when an inbound message is a question that needs a reply (no thread context)."""
    return decide(
        text, private=private, after_brand_reply=after_brand_reply, is_retweet=is_retweet, rules=rules
    ).needs_reply


def automatic_reason(text: str, rules: QuestionRules = DEFAULT_RULES) -> str | None:
    """The rule that makes an outbound message an automatic reply (it closes no wait), or None."""
    compiled = compiled_rules(rules)
    text = text[:MAX_CHARS]
    folded = fold(text)
    if compiled.automatic.raw and compiled.automatic.search(text, folded):
        return "pattern:automatic"
    norm = normalise(folded)
    if _AUTOMATIC_START_RE.match(norm) is not None or _AUTOMATIC_RE.search(norm) is not None:
        return "automatic"
    return None


def is_automatic(text: str, rules: QuestionRules = DEFAULT_RULES) -> bool:
    """True when an outbound message is an automatic reply that does not close a wait."""
    return automatic_reason(text, rules) is not None
