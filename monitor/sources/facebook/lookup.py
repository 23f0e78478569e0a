"""Finding a Facebook Page's id, and the Instagram professional account linked to it, from its
username or id (`inbox-monitor accounts lookup PAGE-URL`): `GET /{page}?fields=id,name,username`,
then `GET /{page-id}?fields=instagram_business_account`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.logs import excerpt
from monitor.sources.base import BadPayload, NotFound, SourceError, TemporaryFailure
from monitor.sources.graph.client import GraphClient, Json
from monitor.sources.graph.errors import ObjectGone
from monitor.sources.graph.ids import is_graph_id

PAGE_FIELDS = "id,name,username"
INSTAGRAM_FIELDS = "instagram_business_account"
NAME_CHARS = 100
"""Characters of a Page's name kept for display (Facebook allows 75)."""
_NODE_TYPE = re.compile(r"on node type \((\w+)\)")
"""How the Graph API names the kind of object that has no such field (`... node type (User)`)."""


@dataclass(frozen=True)
class FacebookPage:
    """A Page as the lookup found it, and what it learnt of its Instagram account."""

    page_id: str
    name: str
    username: str | None
    instagram_id: str | None = None
    """The linked Instagram professional account (`instagram_business_account`), if any."""
    instagram_error: str | None = None
    """Why the Instagram account could not be read (a permission missing), when it could not."""


def parse_page(body: Json, ref: str) -> FacebookPage:
    """The Page in a node's answer; BadPayload when its id is not a Page id."""
    page_id, name, username = body.get("id"), body.get("name"), body.get("username")
    if not isinstance(page_id, str) or not page_id.isdigit() or not is_graph_id(page_id):
        raise BadPayload(f"/{ref}: the answer's id is not a Page id", endpoint=f"/{ref}")
    return FacebookPage(page_id, str(name or "")[:NAME_CHARS], username if isinstance(username, str) else None)


def linked_instagram(body: Json) -> str | None:
    """The id of `instagram_business_account` in a Page's answer (absent: none linked)."""
    linked = body.get("instagram_business_account")
    found = linked.get("id") if isinstance(linked, dict) else None
    return found if isinstance(found, str) and found.isdigit() and is_graph_id(found) else None


async def lookup_page(client: GraphClient, ref: str) -> FacebookPage:
    """The Page `ref` (a username or an id) with `client`'s token. Raises SourceError: NotFound
    for no such Page (or one the token cannot see, or an object that is not a Page),
    CredentialsRejected, RateLimited, Unreachable, ... A failure to read its Instagram account
    is kept in `instagram_error`, not raised."""
    try:
        body = await client.get(ref, {"fields": PAGE_FIELDS})
    except ObjectGone as exc:
        raise NotFound(f"no Facebook Page {ref!r}: {exc}", endpoint=exc.endpoint) from None
    except TemporaryFailure as exc:
        kind = _NODE_TYPE.search(str(exc))
        if kind is not None and kind.group(1) != "Page":
            raise NotFound(f"{ref!r} is a Facebook {kind.group(1)}, not a Page", endpoint=exc.endpoint) from None
        raise
    page = parse_page(body, ref)
    try:
        linked = await client.get(page.page_id, {"fields": INSTAGRAM_FIELDS})
    except SourceError as exc:
        return FacebookPage(page.page_id, page.name, page.username, instagram_error=excerpt(str(exc), 300))
    return FacebookPage(page.page_id, page.name, page.username, instagram_id=linked_instagram(linked))
