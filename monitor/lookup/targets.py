"""What a person types for `accounts lookup` (an X handle, a Facebook Page's address), read as
the account to look up, or refused with the reason."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from monitor.sources.graph.ids import GRAPH_ID_MAX_DIGITS
from monitor.sources.x.lookup import HANDLE

LookupChannel = Literal["x", "facebook"]
"""The channels an account can be looked up on."""
TARGET_CHARS = 2000
"""Characters of a target read at most (a long URL with tracking parameters fits)."""
FACEBOOK_USERNAME = re.compile(r"[A-Za-z0-9.]{1,50}")
"""A Page username: letters, digits and periods (Facebook allows 5 to 50 of them)."""
PAGE_ID = re.compile(rf"[0-9]{{1,{GRAPH_ID_MAX_DIGITS}}}")
SLUG_WITH_ID = re.compile(rf"[^/]*-([0-9]{{6,{GRAPH_ID_MAX_DIGITS}}})")
"""An old Page address, `Acme-Shop-102345678901234`, or a new one's `/p/Acme-Shop-1000643/`."""
X_HOSTS = frozenset({"x.com", "twitter.com"})
FACEBOOK_HOSTS = frozenset({"facebook.com", "fb.com"})
HOST_PREFIXES = ("www.", "m.", "mobile.", "web.", "mbasic.", "touch.", "business.")
X_NOT_USERS = frozenset(
    {"i", "home", "search", "explore", "hashtag", "intent", "messages", "notifications", "settings"}
)
FACEBOOK_NOT_PAGES = {
    "groups": "group",
    "events": "event",
    "watch": "video",
    "reel": "reel",
    "share": "share link",
    "story.php": "post",
    "permalink.php": "post",
    "photo.php": "photo",
    "photo": "photo",
    "marketplace": "Marketplace listing",
    "hashtag": "hashtag",
    "stories": "story",
    "login": "login page",
}
"""First parts of Facebook addresses that are not a Page's, and what they are."""
HINT_FACEBOOK = "open the Page in a browser and copy its address (https://www.facebook.com/NAME)"


class TargetError(ValueError):
    """What was typed is neither an X handle nor a Facebook Page's address; the message says why."""


@dataclass(frozen=True)
class Target:
    """An account to look up: an X username (no @), or a Page's username or id."""

    channel: LookupChannel
    ref: str


def parse_target(text: str) -> Target:
    """`@handle`, an x.com / twitter.com address, a Facebook Page address (facebook.com/NAME,
    profile.php?id=N, /pages/NAME/N, /people/NAME/N, m.facebook.com/...), a Page username or id."""
    typed = text.strip()
    if not typed:
        raise TargetError("nothing to look up: give @handle (X) or a Facebook Page's address or username")
    if len(typed) > TARGET_CHARS:
        raise TargetError(f"{typed[:40]!r}... is longer than {TARGET_CHARS} characters")
    if typed.startswith("@"):
        return _x_handle(typed[1:], typed)
    if "://" in typed or "/" in typed or typed.lower().startswith(("www.", "m.facebook.")):
        return _from_url(typed)
    if PAGE_ID.fullmatch(typed):
        return Target("facebook", typed)
    if FACEBOOK_USERNAME.fullmatch(typed):
        return Target("facebook", typed)
    hint = f" (an X handle? write @{typed})" if HANDLE.fullmatch(typed) else ""
    raise TargetError(
        f"{typed!r} is neither an X handle (@name) nor a Facebook Page username "
        f"(letters, digits and periods) or address{hint}"
    )


def _x_handle(name: str, typed: str) -> Target:
    if HANDLE.fullmatch(name) is None:
        raise TargetError(f"{typed!r} is not an X handle: after the @, 1 to 15 letters, digits or _")
    return Target("x", name)


def _from_url(typed: str) -> Target:
    url = urlsplit(typed if "://" in typed else f"https://{typed}")
    if url.scheme not in ("http", "https"):
        raise TargetError(f"{typed!r} is not a web address (http or https)")
    host = (url.hostname or "").lower()
    for prefix in HOST_PREFIXES:
        host = host.removeprefix(prefix)
    parts = [p for p in url.path.split("/") if p]
    if host in X_HOSTS:
        if not parts or parts[0].lower() in X_NOT_USERS:
            raise TargetError(f"{typed!r} is not an X account's address (https://x.com/HANDLE)")
        return _x_handle(parts[0], typed)
    if host not in FACEBOOK_HOSTS:
        raise TargetError(f"{typed!r} is not an X or Facebook address (x.com, twitter.com, facebook.com)")
    if not parts:
        raise TargetError(f"{typed!r} names no Page: {HINT_FACEBOOK}")
    first = parts[0].lower()
    if first == "profile.php":
        ids = parse_qs(url.query).get("id", [])
        if len(ids) != 1 or PAGE_ID.fullmatch(ids[0]) is None:
            raise TargetError(f"{typed!r}: profile.php without a numeric id=")
        return Target("facebook", ids[0])
    if first in ("pages", "people", "p"):
        for part in reversed(parts[1:]):
            if PAGE_ID.fullmatch(part):
                return Target("facebook", part)
            slug = SLUG_WITH_ID.fullmatch(part)
            if slug is not None:
                return Target("facebook", slug.group(1))
        raise TargetError(f"{typed!r} holds no Page id: {HINT_FACEBOOK}")
    if first in FACEBOOK_NOT_PAGES:
        raise TargetError(f"{typed!r} is a Facebook {FACEBOOK_NOT_PAGES[first]}, not a Page: {HINT_FACEBOOK}")
    slug = SLUG_WITH_ID.fullmatch(parts[0])
    if slug is not None:
        return Target("facebook", slug.group(1))
    if PAGE_ID.fullmatch(parts[0]) or FACEBOOK_USERNAME.fullmatch(parts[0]):
        return Target("facebook", parts[0])
    raise TargetError(f"{typed!r}: {parts[0]!r} is not a Page username (letters, digits and periods)")


def target_text(target: Target) -> str:
    """The target as a person would write it."""
    return f"@{target.ref}" if target.channel == "x" else f"the Facebook Page {target.ref!r}"
