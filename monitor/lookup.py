"""`inbox-monitor accounts lookup`: what a person types (an X handle, a Facebook Page's address)
turned into the ids the configuration needs, asked of the API with credentials the person names."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs, urlsplit

import aiohttp

from monitor.logs import redact
from monitor.secrets import EnvSecret
from monitor.sources.base import (
    CredentialsRejected,
    NotFound,
    PermissionMissing,
    RateLimited,
    SourceError,
    Unreachable,
)
from monitor.sources.facebook.lookup import FacebookPage, lookup_page
from monitor.sources.graph.client import GRAPH_URL, GraphClient
from monitor.sources.graph.ids import GRAPH_ID_MAX_DIGITS
from monitor.sources.x.lookup import HANDLE, XUser, lookup_user

if TYPE_CHECKING:
    from monitor.config import Config

LookupChannel = Literal["x", "facebook"]
CHANNEL_NAMES: dict[str, str] = {"x": "X", "facebook": "Facebook"}
TOKEN_KINDS: dict[str, str] = {
    "x": "the X app's bearer token",
    "facebook": "a Facebook Page (or user) access token",
}

LOOKUP_TIMEOUT_SECONDS = 30.0
"""Seconds one lookup call may take, connection included (the pollers' own timeout)."""
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


@dataclass(frozen=True)
class Credentials:
    """The token a lookup uses and where the calls go."""

    token_env: str
    """The environment variable holding it (`$NAME` or `$NAME_FILE`)."""
    origin: str
    """How the person named it, for messages: "account acme-x (bearer_token_env)", "--token-env X"."""
    api_base_url: str | None = None
    app_secret_env: str | None = None
    graph_api_version: str = "v23.0"


class CredentialsError(ValueError):
    """The credentials named cannot be used (not set, not of this channel); the message says why."""


def account_credentials(config: Config, name: str, target: Target) -> Credentials:
    """The credentials of the configured account `name`, which must be of the target's channel
    and read an API; CredentialsError saying what is wrong."""
    accounts = {a.name: a for _, a in config.accounts()}
    account = accounts.get(name)
    if account is None:
        raise CredentialsError(f"--account: no account named {name!r} (known: {', '.join(accounts) or 'none'})")
    if account.channel != target.channel:
        raise CredentialsError(
            f"--account: {name!r} is a {CHANNEL_NAMES.get(account.channel, account.channel)} account; "
            f"looking up {target_text(target)} needs {TOKEN_KINDS[target.channel]}"
        )
    if account.source != "api":
        raise CredentialsError(f"--account: {name!r} has source = {account.source!r}: it has no API credentials")
    if account.channel == "x":
        env, key, version, secret = account.bearer_token_env, "bearer_token_env", "v23.0", None
    else:
        env, key = account.page_token_env, "page_token_env"
        version, secret = account.graph_api_version, account.app_secret_env
    if env is None:
        raise CredentialsError(f"--account: {name!r} has no {key}")
    return Credentials(env, f"account {name} ({key})", account.api_base_url, secret, version)


def accounts_of(config: Config, channel: LookupChannel) -> list[str]:
    """The names of the configured accounts that read `channel`'s API (for messages)."""
    return [a.name for _, a in config.accounts() if a.channel == channel and a.source == "api"]


def missing_credentials(target: Target, candidates: list[str]) -> str:
    """What to say when neither --account nor --token-env was given."""
    known = f": {', '.join(candidates)}" if candidates else ""
    return (
        f"looking up {target_text(target)} needs {TOKEN_KINDS[target.channel]}: give --account NAME "
        f"(a configured {CHANNEL_NAMES[target.channel]} account{known}) or --token-env NAME "
        "(an environment variable, or NAME_FILE, holding the token)"
    )


def target_text(target: Target) -> str:
    """The target as a person would write it."""
    return f"@{target.ref}" if target.channel == "x" else f"the Facebook Page {target.ref!r}"


def failure_text(exc: SourceError, target: Target, credentials: Credentials, now: datetime) -> str:
    """One line saying what the API answered, what it concerns and where it came from."""
    api = "the X API" if target.channel == "x" else "the Graph API"
    where = f" ({exc.endpoint})" if exc.endpoint else ""
    if isinstance(exc, NotFound):
        text = f"{api}{where}: {exc}"
    elif isinstance(exc, PermissionMissing):
        missing = f" ({exc.permission})" if exc.permission else ""
        text = f"{api}{where} says the token of {credentials.origin} lacks a permission{missing}: {exc}"
    elif isinstance(exc, CredentialsRejected):
        text = f"{api}{where} rejected the token of {credentials.origin}: {exc}"
    elif isinstance(exc, RateLimited):
        when = ""
        if exc.retry_after is not None:
            when = f" until {now + timedelta(seconds=exc.retry_after):%Y-%m-%d %H:%M:%S} UTC"
        text = f"{api}{where} is rate-limiting {credentials.origin}{when}: {exc}"
    elif isinstance(exc, Unreachable):
        text = f"cannot reach {api} at {credentials.api_base_url or 'its public address'}{where}: {exc}"
    else:
        text = f"{api}{where} failed: {exc}"
    return redact(f"looking up {target_text(target)}: {text}")


def token_of(credentials: Credentials, environ: Mapping[str, str] = os.environ) -> str:
    """The token's value; CredentialsError naming the variable when it is not set."""
    value = EnvSecret(credentials.token_env, environ).get()
    if value is None:
        raise CredentialsError(
            f"{credentials.origin}: environment variable {credentials.token_env} "
            f"(or {credentials.token_env}_FILE) is not set"
        )
    return value


Found = XUser | FacebookPage


async def lookup(
    target: Target,
    credentials: Credentials,
    *,
    environ: Mapping[str, str] = os.environ,
    timeout_seconds: float = LOOKUP_TIMEOUT_SECONDS,
) -> Found:
    """Ask the API about `target` with `credentials`; SourceError when it says no."""
    token = token_of(credentials, environ)
    async with aiohttp.ClientSession() as session:
        if target.channel == "x":
            return await lookup_user(
                session,
                target.ref,
                bearer_token=token,
                base_url=credentials.api_base_url,
                timeout_seconds=timeout_seconds,
            )
        base = (credentials.api_base_url or GRAPH_URL).rstrip("/")
        secret = EnvSecret(credentials.app_secret_env, environ) if credentials.app_secret_env else None
        client = GraphClient(
            session,
            base_url=f"{base}/{credentials.graph_api_version}",
            token=EnvSecret(credentials.token_env, environ),
            app_secret=secret,
            timeout=timeout_seconds,
        )
        return await lookup_page(client, target.ref)


def toml_lines(found: Found) -> list[str]:
    """The configuration lines that name the account (to paste into its [[brands.accounts]])."""
    if isinstance(found, XUser):
        return ['channel = "x"', f'user_id = "{found.user_id}"', f'handle = "{found.username}"']
    return ['channel = "facebook"', f'page_id = "{found.page_id}"']


def instagram_lines(page: FacebookPage) -> list[str]:
    """The lines of an Instagram account read through the Page's token (channel "instagram")."""
    if page.instagram_id is None:
        return []
    return ['channel = "instagram"', f'page_id = "{page.page_id}"', f'ig_user_id = "{page.instagram_id}"']


def render_text(found: Found) -> str:
    """What `accounts lookup` prints: what was found, then the lines to paste."""
    out: list[str] = []
    if isinstance(found, XUser):
        kind = "protected account: only its approved followers see its posts" if found.protected else "public account"
        out.append(f"X user @{found.username} ({found.name}), id {found.user_id}, {kind}")
    else:
        where = f" (facebook.com/{found.username})" if found.username else ""
        out.append(f"Facebook Page {found.name!r}{where}, id {found.page_id}")
    out.append("Paste into the account's [[brands.accounts]] entry of the configuration:")
    out += [f"  {line}" for line in toml_lines(found)]
    if isinstance(found, FacebookPage):
        if found.instagram_id is not None:
            out.append(f"Its linked Instagram professional account, id {found.instagram_id} (an account of its own):")
            out += [f"  {line}" for line in instagram_lines(found)]
        elif found.instagram_error is not None:
            out.append(f"Its Instagram account could not be read: {found.instagram_error}")
        else:
            out.append("No Instagram professional account is linked to this Page.")
    return "\n".join(out) + "\n"


def render_json(found: Found) -> str:
    """The same as JSON, for scripts."""
    data: dict[str, object]
    if isinstance(found, XUser):
        data = {
            "channel": "x",
            "user_id": found.user_id,
            "handle": found.username,
            "name": found.name,
            "protected": found.protected,
        }
    else:
        data = {
            "channel": "facebook",
            "page_id": found.page_id,
            "name": found.name,
            "username": found.username,
            "instagram": {"ig_user_id": found.instagram_id, "toml": "\n".join(instagram_lines(found))}
            if found.instagram_id
            else None,
            "instagram_error": found.instagram_error,
        }
    data["toml"] = "\n".join(toml_lines(found))
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
