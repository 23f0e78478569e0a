"""Who sent a brand's reply: the agent who signed it (signature rules, the roster) and the app that
sent it (its Meta `app_id`, named in the configuration). Method and limits: docs/agents.md."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

AGENT_GROUP = "agent"
"""The named group of a signature rule that captures the signature (`(?P<agent>...)`)."""

_NAME = r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]{1,19}(?:-[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]{1,19})?"
"""A first name: a capital, then small letters (accents too); "Marie-Claire" as well."""
_INITIALS = r"[A-Z]{2,3}"
"""Initials: two or three capitals ("JD", "ABC"); one letter is too often something else ("/S")."""

DEFAULT_SIGNATURES: tuple[str, ...] = (
    rf"(?:^|\s)\^\s?(?P<agent>{_INITIALS}|{_NAME})$",  # ^JD, ^Jen
    rf"(?:^|\s)[-–—]\s?(?P<agent>{_INITIALS}|{_NAME})$",  # -Bettina, –Jeh, — JD
    rf"(?:^|\s)/\s?(?P<agent>{_INITIALS}|{_NAME})$",  # /AB
)
"""The forms support teams sign with, at the very end of a reply, after a space (or alone): a caret,
a hyphen or dash, or a slash, then initials or a capitalised first name. Not "/s", "-ish", "^^",
":-D", "-_-", a URL's last segment ("https://x.co/AB": no space before the slash)."""

NOT_AGENTS = frozenset(
    s.casefold()
    for s in (
        "Thanks",
        "Thank",
        "Thx",
        "Cheers",
        "Regards",
        "Best",
        "Bye",
        "Ciao",
        "Merci",
        "Cordialement",
        "Bisous",
        "Bonne",
        "Salut",
        "Bonjour",
        "Bonsoir",
        "Hello",
        "Team",
        "Support",
        "Service",
        "Admin",
        "Ok",
        "Okay",
        "Yes",
        "No",
        "Oui",
        "Non",
        "Lol",
        "Mdr",
        "Ptdr",
        "Xd",
        "Ps",
        "Nb",
        "Faq",
        "Url",
        "Pdf",
        "Sms",
        "Dm",
        "Mp",
    )
)
"""Words that end a reply after a dash or slash and are no one's signature ("- Thanks", "/FAQ",
"- DM"); compared case-insensitively, for every rule."""

SIGNATURE_TAIL = 64
"""Characters at the end of a reply that a signature is looked for in: a signature is a few
characters at the very end, and a reply may be 10,000 characters long (Facebook comments)."""


class SignatureError(ValueError):
    """A signature rule that cannot be used: `index` in its list, and why."""

    def __init__(self, index: int, pattern: str, message: str) -> None:
        super().__init__(f"signature rule {pattern!r}: {message}")
        self.index, self.pattern, self.message = index, pattern, message


def compile_signature(pattern: str, index: int = 0) -> re.Pattern[str]:
    """A signature rule compiled; SignatureError when it is not a regex or has no `(?P<agent>...)`."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise SignatureError(index, pattern, f"bad regular expression: {exc}") from None
    if AGENT_GROUP not in compiled.groupindex:
        raise SignatureError(index, pattern, f"no named group (?P<{AGENT_GROUP}>...) that captures the signature")
    return compiled


@dataclass(frozen=True, slots=True)
class Member:
    """One person of the roster: the signatures they use, their name and team."""

    name: str
    signatures: tuple[str, ...]
    team: str | None = None


@dataclass(frozen=True, slots=True)
class App:
    """An application that sends a Page's messages (Meta's `app_id`): its name, and whether its
    replies are automatic (a bot: they never close a wait)."""

    app_id: str
    name: str
    automatic: bool = False


class Sender(NamedTuple):
    """Who sent a brand's reply, as far as it shows: the agent (the roster's name, else the
    signature as written), their team, the app's configured name (a tuple: one per reply)."""

    agent: str | None = None
    team: str | None = None
    app: str | None = None
    automatic_app: bool = False


UNKNOWN = Sender()


@dataclass(frozen=True)
class Attribution:
    """A brand's rules for telling who sent its replies (pure; built once per account)."""

    signatures: tuple[str, ...] = ()
    """The policy's own signature rules, tried first, in order."""
    default_signatures: bool = True
    """Try `DEFAULT_SIGNATURES` after the policy's own."""
    roster_only: bool = False
    """A signature the roster does not list is nobody's (no agent)."""
    roster: tuple[Member, ...] = ()
    apps: Mapping[str, App] = field(default_factory=dict)
    """App id -> app."""

    def __post_init__(self) -> None:
        _ = self._patterns  # fail fast on a bad rule
        _ = self._members  # and on a signature listed twice

    @cached_property
    def _patterns(self) -> tuple[re.Pattern[str], ...]:
        own = tuple(compile_signature(p, i) for i, p in enumerate(self.signatures))
        return own + (_DEFAULT_PATTERNS if self.default_signatures else ())

    @cached_property
    def _members(self) -> dict[str, Member]:
        out: dict[str, Member] = {}
        for member in self.roster:
            for signature in member.signatures:
                key = signature.casefold()
                if key in out and out[key] != member:
                    raise ValueError(f"signature {signature!r} is both {out[key].name!r}'s and {member.name!r}'s")
                out[key] = member
        return out

    def signature(self, text: str) -> str | None:
        """The signature at the end of `text` (as written), or None."""
        text = text.rstrip()
        start = max(0, len(text) - SIGNATURE_TAIL)
        for pattern in self._patterns:
            match = pattern.search(text, start)
            if match is None:
                continue
            found = match.group(AGENT_GROUP)
            if found and found.casefold() not in NOT_AGENTS:
                return str(found)
        return None

    def sender(self, text: str, app_id: str | None = None) -> Sender:
        """Who sent a reply of text `text`, sent by the app `app_id` (None: not known)."""
        app = self.apps.get(app_id) if app_id is not None else None
        signature = self.signature(text)
        agent = team = None
        if signature is not None:
            member = self._members.get(signature.casefold())
            if member is not None:
                agent, team = member.name, member.team
            elif not self.roster_only:
                agent = signature
        if agent is None and app is None:
            return UNKNOWN
        return Sender(agent, team, app.name if app else None, app.automatic if app else False)


_DEFAULT_PATTERNS = tuple(compile_signature(p, i) for i, p in enumerate(DEFAULT_SIGNATURES))

NO_ATTRIBUTION = Attribution()
"""The default rules, no roster, no app."""


def roster_for(brand: str, entries: Iterable[tuple[Member, tuple[str, ...]]]) -> tuple[Member, ...]:
    """The roster of `brand`: the entries listing it, or listing no brand (every brand's)."""
    return tuple(m for m, brands in entries if not brands or brand in brands)
