"""What `accounts lookup` prints: what it found, and the configuration lines to paste."""

from __future__ import annotations

import json

from monitor.lookup.run import Found
from monitor.sources.facebook.lookup import FacebookPage
from monitor.sources.x.lookup import XUser


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
