"""A local Graph API for Facebook Pages: what the Facebook sources read, as Meta serves it.

Serves, for the Pages it holds, under `/{version}/...` (or no version):

* `/{page-id}/conversations?platform=messenger` (newest-updated first),
  `/{conversation-id}/messages` (newest first), `/{page-id}/feed`, `/posts`, `/visitor_posts`
  (newest first, `since`/`until`),
  `/{post-id}/comments` and `/{comment-id}/comments` (`filter=toplevel|stream`,
  `order=chronological|reverse_chronological`), and the nodes themselves;
* `fields` with nested fields and modifiers (`messages.limit(2){id,from}`, `parent{id,parent{id}}`),
  `limit`, opaque base64 `before`/`after` cursors and absolute `paging.next`/`previous` URLs;
* `access_token` (query, or `Authorization: Bearer|OAuth`), `appsecret_proof` when an app secret is
  set; error bodies `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`;
* `X-App-Usage` and `X-Business-Use-Case-Usage` on every answer, with settable usage.

Faults: tokens expired or replaced at runtime (190), throttling (`throttle`: code 32/4/613/80001
with usage at 100 % and `estimated_time_to_regain_access`), 5xx, HTML and malformed JSON bodies,
answers that hang (`inject`, `random_faults`), and objects served malformed (`malform`).

Hostile answers (`misbehave`, until `behave`), as a broken or hostile Graph API gives them, in its
wire format: paging that repeats one `after` cursor or never ends, bodies of any size (with or
without `Content-Length`), JSON nested to any depth; an `estimated_time_to_regain_access` of any
value (`set_regain`) and a conversation `updated_time` of any date (`set_updated_time`).

Traffic is scripted (`add_conversation`, `add_message`, `add_post`, `add_comment`, or
`traffic.script_page` for a whole Page) and the server shows only what exists at its clock (injectable).
Every request is recorded in `requests`.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import hashlib
import hmac
import itertools
import json
import math
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from aiohttp import web

from monitor.runtime import Clock, utcnow
from monitor.simulator.net import FakeServer

_GRAPH_ZONE = ZoneInfo("America/Los_Angeles")

Json = dict[str, Any]

MAX_LIMIT = 100
DEFAULT_LIMIT = 25
PAGE_PERMISSIONS = frozenset(
    {
        "pages_show_list",
        "pages_messaging",
        "pages_manage_metadata",
        "pages_read_engagement",
        "pages_read_user_content",
        "instagram_basic",
        "instagram_manage_messages",
        "instagram_manage_comments",
    }
)
"""What a Page's token is granted unless `revoke` takes some away: all the monitor needs."""
_VERSION = re.compile(r"^v\d+\.\d+$")
_ALIAS = re.compile(r"[A-Za-z0-9.]+")
"""A Page username (letters, digits and periods), as opposed to an object id (`t_...`, `1_2`)."""


def graph_time(ts: int) -> str:
    """UNIX seconds -> `2026-06-01T12:00:00+0000`, the Graph API's format."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _ts(t: datetime) -> int:
    return math.floor(t.timestamp())


# ----------------------------------------------------------------------------------------------
# Objects
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    id: str
    name: str


@dataclass
class FakeMessage:
    id: str
    conversation_id: str
    created: int
    author: Person
    to: Person
    text: str
    app_id: str | None = None
    """The app that sent a Page's message: only its webhook echo tells (monitor/simulator/meta_webhooks.py)."""


@dataclass
class FakeConversation:
    id: str
    page_id: str
    customer: Person
    messages: list[FakeMessage] = field(default_factory=list)  # by (created, id)
    _times: list[int] = field(default_factory=list)
    updated_override: int | None = None
    """`updated_time` said (and sorted by) whatever the messages say (`set_updated_time`)."""

    def updated(self, now: int) -> int:
        """The `updated_time` shown at `now` (the conversation has visible messages)."""
        if self.updated_override is not None:
            return self.updated_override
        return self.visible(now)[-1].created

    def add(self, message: FakeMessage) -> None:
        i = bisect.bisect_right(self._times, message.created)
        self._times.insert(i, message.created)
        self.messages.insert(i, message)

    def visible(self, now: int) -> list[FakeMessage]:
        return self.messages[: bisect.bisect_right(self._times, now)]


@dataclass
class FakeComment:
    id: str
    post_id: str
    created: int
    author: Person
    text: str
    parent: str | None


@dataclass
class FakePost:
    id: str
    page_id: str
    created: int
    author: Person
    text: str
    comments: list[FakeComment] = field(default_factory=list)
    _times: list[int] = field(default_factory=list)
    deleted_at: int | None = None

    def gone(self, now: int) -> bool:
        return self.deleted_at is not None and self.deleted_at <= now

    def add(self, comment: FakeComment) -> None:
        i = bisect.bisect_right(self._times, comment.created)
        self._times.insert(i, comment.created)
        self.comments.insert(i, comment)

    def visible(self, now: int) -> list[FakeComment]:
        return self.comments[: bisect.bisect_right(self._times, now)]


@dataclass
class FakePage:
    id: str
    name: str
    token: str
    username: str | None = None
    """The Page's vanity name (facebook.com/NAME): `/{username}` is the Page itself."""
    instagram_id: str | None = None
    """The linked Instagram professional account (`instagram_business_account`)."""
    permissions: set[str] = field(default_factory=lambda: set(PAGE_PERMISSIONS))
    """What the Page's token is granted (`revoke` takes one away)."""
    expired: set[str] = field(default_factory=set)
    usage: dict[str, float] = field(
        default_factory=lambda: {"call_count": 0.0, "total_cputime": 0.0, "total_time": 0.0}
    )
    blocked_until: float | None = None
    block_code: int = 32
    regain: tuple[object] | None = None
    """(value,): `estimated_time_to_regain_access` says this, whatever the block (`set_regain`)."""
    conversations: list[FakeConversation] = field(default_factory=list)
    posts: list[FakePost] = field(default_factory=list)

    @property
    def person(self) -> Person:
        return Person(self.id, self.name)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it (`at` on the fake's clock; no token in `params`)."""

    at: datetime
    path: str
    version: str | None
    node: str | None
    edge: str | None
    params: dict[str, str]
    page_id: str | None
    status: int
    code: int | None
    items: int
    """Objects in the answer's `data` (0 for errors)."""


FaultKind = Literal["500", "503_html", "malformed", "html", "timeout", "rate_limit", "transient"]


@dataclass
class Fault:
    kind: FaultKind
    page_id: str | None = None
    edge: str | None = None
    remaining: int = 1


MisbehaviourKind = Literal["repeat_cursor", "endless_cursor", "huge_body", "deep_json"]


@dataclass
class Misbehaviour:
    """A hostile answer given to every matching request until `behave` (see `misbehave`)."""

    kind: MisbehaviourKind
    page_id: str | None = None
    edge: str | None = None
    """Also the edges embedded with `fields` (a conversation's `messages`) for the paging kinds."""
    size: int = 0
    """huge_body: bytes of the body."""
    chunked: bool = False
    """huge_body: sent in chunks, without `Content-Length`."""
    depth: int = 0
    """deep_json: levels of nested arrays in the first item."""
    served: int = 0


class GraphApiError(Exception):
    """An error answer of the fake (rendered as a Graph error body)."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        error_type: str = "OAuthException",
        subcode: int | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.type = status, code, message, error_type
        self.subcode, self.transient = subcode, transient

    def body(self) -> Json:
        e: Json = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
            "fbtrace_id": base64.b64encode(random.randbytes(9)).decode(),
        }
        if self.subcode is not None:
            e["error_subcode"] = self.subcode
        if self.transient:
            e["is_transient"] = True
        return {"error": e}


def _missing(node: str) -> GraphApiError:
    return GraphApiError(
        400,
        100,
        f"Unsupported get request. Object with ID '{node}' does not "
        "exist, cannot be loaded due to missing permissions, or does not support "
        "this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api",
        error_type="GraphMethodException",
        subcode=33,
    )


# ----------------------------------------------------------------------------------------------
# fields= syntax
# ----------------------------------------------------------------------------------------------


@dataclass
class FieldSpec:
    name: str
    modifiers: dict[str, str] = field(default_factory=dict)
    sub: list[FieldSpec] | None = None


def parse_fields(text: str) -> list[FieldSpec]:
    """`a,b.limit(2){c,d{e}}` -> specs; GraphApiError 100 on a syntax error."""
    pos = 0

    def fail() -> GraphApiError:
        return GraphApiError(
            400,
            100,
            f'Syntax error "Expected end of string instead of "{text[pos : pos + 1]}"." at character {pos}: {text}',
        )

    def name() -> str:
        nonlocal pos
        start = pos
        while pos < len(text) and (text[pos].isalnum() or text[pos] == "_"):
            pos += 1
        if start == pos:
            raise fail()
        return text[start:pos]

    def spec_list(closing: str | None) -> list[FieldSpec]:
        nonlocal pos
        out: list[FieldSpec] = []
        while True:
            spec = FieldSpec(name())
            while pos < len(text) and text[pos] in ".{":
                if text[pos] == "{":
                    pos += 1
                    spec.sub = spec_list("}")
                else:
                    pos += 1
                    mod = name()
                    if pos >= len(text) or text[pos] != "(":
                        raise fail()
                    end = text.find(")", pos)
                    if end < 0:
                        raise fail()
                    spec.modifiers[mod] = text[pos + 1 : end]
                    pos = end + 1
            out.append(spec)
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            if closing is not None:
                if pos < len(text) and text[pos] == closing:
                    pos += 1
                    return out
                raise fail()
            if pos != len(text):
                raise fail()
            return out

    text = text.replace(" ", "")
    return spec_list(None) if text else []


def _specs(names: str) -> list[FieldSpec]:
    return [FieldSpec(n) for n in names.split(",")]


DEFAULT_FIELDS = {
    "page": _specs("name,id"),
    "conversation": _specs("id,updated_time"),
    "message": _specs("id,created_time"),
    "post": _specs("created_time,message,id"),
    "comment": _specs("created_time,from,message,id"),
}
TYPE_NAMES = {
    "page": "Page",
    "conversation": "UnifiedThread",
    "message": "Message",
    "post": "Post",
    "comment": "Comment",
}


# ----------------------------------------------------------------------------------------------
# Cursors
# ----------------------------------------------------------------------------------------------


def _cursor(key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _uncursor(text: str) -> tuple[Any, ...]:
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except ValueError:
        value = None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int) and isinstance(value[1], str)):
        raise GraphApiError(400, 100, "(#100) The after/before cursor is invalid")
    return tuple(value)


# ----------------------------------------------------------------------------------------------
# The server
# ----------------------------------------------------------------------------------------------


class FakeGraphApi(FakeServer):
    """A local Graph API server; `await start()` returns its base URL (no version)."""

    def __init__(self, *, clock: Clock = utcnow, app_secret: str | None = None, hang_seconds: float = 5.0) -> None:
        self.clock = clock
        self.app_secret = app_secret
        self.hang_seconds = hang_seconds
        self.pages: dict[str, FakePage] = {}
        self.app_usage: dict[str, float] = {"call_count": 0.0, "total_cputime": 0.0, "total_time": 0.0}
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.malformed: dict[str, tuple[tuple[str, ...], Json]] = {}
        """Object id -> (fields left out, values served instead): see `malform`."""
        self.misbehaviours: list[Misbehaviour] = []
        self._random_faults: tuple[float, tuple[FaultKind, ...], random.Random] | None = None
        self.nodes: dict[str, tuple[str, Any]] = {}
        """Object id -> (its kind, the object): every page, conversation, message, post and comment."""
        self._aliases: dict[str, str] = {}
        """Page usernames (lower case) -> Page ids."""
        self._ids = itertools.count(1_000_001)

    # -- lifecycle -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        return app

    # -- traffic ---------------------------------------------------------------------------------

    def add_page(
        self,
        page_id: str,
        *,
        token: str,
        name: str | None = None,
        username: str | None = None,
        instagram_id: str | None = None,
    ) -> FakePage:
        page = FakePage(page_id, name or f"Page {page_id}", token, username, instagram_id)
        self.pages[page_id] = page
        self.nodes[page_id] = ("page", page)
        if username is not None:
            self._aliases[username.lower()] = page_id
        return page

    def revoke(self, page_id: str, permission: str) -> None:
        """The Page's token loses `permission`: the calls that need it get the Graph API's
        permission error (#230 for `pages_messaging`, #10 for `pages_read_engagement`)."""
        self.pages[page_id].permissions.discard(permission)

    def _new_id(self) -> int:
        return next(self._ids)

    def add_conversation(self, page_id: str, customer: Person) -> str:
        conv = FakeConversation(f"t_{self._new_id()}", page_id, customer)
        self.nodes[conv.id] = ("conversation", conv)
        self.pages[page_id].conversations.append(conv)
        return conv.id

    def add_message(
        self, conversation_id: str, at: datetime, text: str, *, from_page: bool = False, app_id: str | None = None
    ) -> str:
        kind, conv = self.nodes[conversation_id]
        assert kind == "conversation"
        page = self.pages[conv.page_id].person
        author, to = (page, conv.customer) if from_page else (conv.customer, page)
        msg = FakeMessage(f"m_{self._new_id()}", conv.id, _ts(at), author, to, text, app_id if from_page else None)
        conv.add(msg)
        self.nodes[msg.id] = ("message", msg)
        return msg.id

    def add_post(self, page_id: str, at: datetime, text: str, *, author: Person | None = None) -> str:
        post = FakePost(f"{page_id}_{self._new_id()}", page_id, _ts(at), author or self.pages[page_id].person, text)
        self.nodes[post.id] = ("post", post)
        self.pages[page_id].posts.append(post)
        return post.id

    def add_comment(
        self, post_id: str, at: datetime, text: str, *, author: Person | None = None, parent: str | None = None
    ) -> str:
        kind, post = self.nodes[post_id]
        assert kind == "post"
        comment = FakeComment(
            f"{post_id.rsplit('_', 1)[1]}_{self._new_id()}",
            post_id,
            _ts(at),
            author or self.pages[post.page_id].person,
            text,
            parent,
        )
        post.add(comment)
        self.nodes[comment.id] = ("comment", comment)
        return comment.id

    def delete_post(self, post_id: str, at: datetime | None = None) -> None:
        """The post (and its comments) is gone from `at` on (default: now)."""
        self.nodes[post_id][1].deleted_at = _ts(at or self.clock())

    # -- faults and limits -----------------------------------------------------------------------

    def set_token(self, page_id: str, token: str) -> None:
        """Replace the Page's token; the old one is now expired."""
        page = self.pages[page_id]
        page.expired.add(page.token)
        page.expired.discard(token)
        page.token = token

    def expire_token(self, page_id: str) -> None:
        """The Page's token stops working (190, subcode 463) until `set_token`."""
        page = self.pages[page_id]
        page.expired.add(page.token)

    def set_usage(self, page_id: str | None = None, **usage: float) -> None:
        """Usage (%) reported in `X-Business-Use-Case-Usage` (a Page) or `X-App-Usage` (None)."""
        target = self.pages[page_id].usage if page_id is not None else self.app_usage
        for key, value in usage.items():
            if key not in target:
                raise KeyError(key)
            target[key] = float(value)

    def throttle(self, page_id: str, *, minutes: float, code: int = 32) -> None:
        """Refuse the Page's calls for `minutes`: usage 100 %, `estimated_time_to_regain_access`."""
        page = self.pages[page_id]
        page.blocked_until = self.clock().timestamp() + minutes * 60
        page.block_code = code

    def malform(self, object_id: str, *, drop: Iterable[str] = (), values: Json | None = None) -> None:
        """Serve the object (a message, a conversation, a post, a comment) malformed from now on,
        wherever it is rendered: without the fields `drop`, with `values` in place of its own
        (`message=42`, `created_time="9999-12-31T23:59:59+0000"`)."""
        self.malformed[object_id] = (tuple(drop), dict(values or {}))

    def set_regain(self, page_id: str, value: object) -> None:
        """`estimated_time_to_regain_access` says `value` (any JSON: 1e9, -5, "soon", NaN) in the
        Page's `X-Business-Use-Case-Usage`, whether the Page is blocked or not."""
        self.pages[page_id].regain = (value,)

    def set_updated_time(self, conversation_id: str, at: datetime) -> None:
        """The conversation says this `updated_time` (a date in 2999) and is listed by it."""
        kind, conv = self.nodes[conversation_id]
        assert kind == "conversation"
        conv.updated_override = _ts(at)

    def misbehave(
        self,
        kind: MisbehaviourKind,
        *,
        page_id: str | None = None,
        edge: str | None = None,
        size: int = 64 * 1024 * 1024,
        chunked: bool = False,
        depth: int = 100_000,
    ) -> Misbehaviour:
        """Answer every matching request in a hostile way, until `behave`:

        * `repeat_cursor`: the list's first page, whatever the cursor asked, always with the same
          `after` cursor and a `next` URL (the list never ends, one cursor over and over);
        * `endless_cursor`: the first page again, each time with a new `after` cursor and `next`;
        * `huge_body`: the answer, its first item's text padded to `size` bytes in all;
        * `deep_json`: the answer, its first item holding arrays nested `depth` levels.
        """
        rule = Misbehaviour(kind, page_id, edge, size=size, chunked=chunked, depth=depth)
        self.misbehaviours.append(rule)
        return rule

    def behave(self) -> None:
        """Stop every misbehaviour."""
        self.misbehaviours.clear()

    def misbehaviour_for(self, kinds: tuple[str, ...], page_id: str | None, edge: str | None) -> Misbehaviour | None:
        """The first hostile answer of these kinds that applies to this Page's edge (None: behave)."""
        for rule in self.misbehaviours:
            if rule.kind in kinds and rule.page_id in (None, page_id) and rule.edge in (None, edge):
                return rule
        return None

    def inject(self, kind: FaultKind, *, count: int = 1, page_id: str | None = None, edge: str | None = None) -> None:
        """Answer the next `count` matching requests with a fault."""
        self.faults.append(Fault(kind, page_id, edge, count))

    def random_faults(self, rate: float, kinds: Iterable[FaultKind], *, seed: int = 0) -> None:
        """Answer a share `rate` of all requests with one of `kinds` (0 turns it off)."""
        self._random_faults = (rate, tuple(kinds), random.Random(seed)) if rate > 0 else None

    # -- serving ---------------------------------------------------------------------------------

    def _usage_headers(self, page: FakePage | None, now: float) -> dict[str, str]:
        headers = {"X-App-Usage": json.dumps({k: round(v) for k, v in self.app_usage.items()})}
        if page is not None:
            blocked = page.blocked_until is not None and page.blocked_until > now
            entry: Json = {"type": "pages"}
            entry.update({k: 100 if blocked else round(v) for k, v in page.usage.items()})
            entry["estimated_time_to_regain_access"] = (
                math.ceil((page.blocked_until - now) / 60) if blocked and page.blocked_until else 0
            )
            if page.regain is not None:
                entry["estimated_time_to_regain_access"] = page.regain[0]
            headers["X-Business-Use-Case-Usage"] = json.dumps({page.id: [entry]})
        return headers

    def _take_fault(self, page_id: str | None, edge: str | None) -> FaultKind | None:
        for fault in self.faults:
            if fault.remaining > 0 and fault.page_id in (None, page_id) and fault.edge in (None, edge):
                fault.remaining -= 1
                return fault.kind
        if self._random_faults is not None:
            rate, kinds, rng = self._random_faults
            if rng.random() < rate:
                return rng.choice(kinds)
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        now_dt = self.clock()
        now = now_dt.timestamp()
        params = {k: v for k, v in request.query.items() if k != "access_token"}
        parts = [p for p in request.path.split("/") if p]
        version = parts.pop(0) if parts and _VERSION.match(parts[0]) else None
        node = parts[0] if parts else None
        edge = parts[1] if len(parts) > 1 else None
        page: FakePage | None = None
        status, code, items = 200, None, 0
        try:
            token = self._token(request)
            page = self._page_of_token(token)
            if page is None:
                raise GraphApiError(400, 190, "Invalid OAuth access token - Cannot parse access token", subcode=None)
            if token in page.expired:
                pacific = now_dt.astimezone(_GRAPH_ZONE)  # the Graph API says its times in Pacific time
                raise GraphApiError(
                    400,
                    190,
                    f"Error validating access token: Session has expired on {pacific:%A, %d-%b-%y %H:%M:%S %Z}.",
                    subcode=463,
                )
            self._check_proof(request, token)
            if page.blocked_until is not None and page.blocked_until > now:
                what = "Application" if page.block_code == 4 else "User"
                raise GraphApiError(
                    400, page.block_code, f"(#{page.block_code}) {what} request limit reached", transient=True
                )
            fault = self._take_fault(page.id, edge)
            if fault is not None:
                response, code = await self._fault(fault, page, now)
                status = response.status
                return response
            if len(parts) > 2 or node is None:
                raise GraphApiError(
                    400, 2500, f"Unknown path components: /{'/'.join(parts[2:])}", error_type="OAuthException"
                )
            body = self._serve(request, version, node, edge, page, int(now))
            items = len(body["data"]) if isinstance(body.get("data"), list) else 1
            hostile = self.misbehaviour_for(("huge_body", "deep_json"), page.id, edge)
            if hostile is not None:
                hostile.served += 1
                return await self._hostile_body(request, hostile, body, edge, self._usage_headers(page, now))
            return web.json_response(body, headers=self._usage_headers(page, now))
        except GraphApiError as exc:
            status, code = exc.status, exc.code
            return web.json_response(exc.body(), status=exc.status, headers=self._usage_headers(page, now))
        except Exception:
            status = 500
            raise
        finally:
            self.requests.append(
                RecordedRequest(
                    now_dt, request.path, version, node, edge, params, page.id if page else None, status, code, items
                )
            )

    async def _fault(self, kind: FaultKind, page: FakePage, now: float) -> tuple[web.Response, int | None]:
        headers = self._usage_headers(page, now)
        errors = {
            "500": GraphApiError(
                500, 2, "An unexpected error has occurred. Please retry your request later.", transient=True
            ),
            "transient": GraphApiError(400, 1, "An unknown error occurred", subcode=99, transient=True),
            "rate_limit": GraphApiError(400, 613, "Calls to this api have exceeded the rate limit."),
        }
        if kind in errors:
            err = errors[kind]
            return web.json_response(err.body(), status=err.status, headers=headers), err.code
        if kind == "503_html":
            return web.Response(
                status=503,
                text="<html><body>Service Unavailable</body></html>",
                content_type="text/html",
                headers=headers,
            ), None
        if kind == "html":
            return web.Response(
                status=200,
                text="<!DOCTYPE html><html><body>Sorry, something went wrong.</body></html>",
                content_type="text/html",
                headers=headers,
            ), None
        if kind == "malformed":
            return web.Response(
                status=200,
                text='{"data": [{"id": "1", "updated_time": ',
                content_type="application/json",
                headers=headers,
            ), None
        await asyncio.sleep(self.hang_seconds)  # "timeout": answer too late
        return web.json_response({"data": []}, headers=headers), None

    async def _hostile_body(
        self, request: web.Request, rule: Misbehaviour, body: Json, edge: str | None, headers: dict[str, str]
    ) -> web.StreamResponse:
        """The answer with its first item padded to `rule.size` bytes, or nested `rule.depth`
        levels deep; the padding is streamed, never held whole."""
        data = body.get("data")
        first: Json = data[0] if isinstance(data, list) and data else body
        marker = "\u0000hostile\u0000"
        key = "attachments" if rule.kind == "deep_json" else "snippet" if edge == "conversations" else "message"
        first[key] = marker
        prefix, _, suffix = json.dumps(body).partition(json.dumps(marker))
        if rule.kind == "deep_json":
            nested = "[" * rule.depth + "]" * rule.depth
            return web.Response(
                body=(prefix + nested + suffix).encode(), headers=headers, content_type="application/json"
            )
        head, tail = (prefix + '"').encode(), ('"' + suffix).encode()
        padding = max(0, rule.size - len(head) - len(tail))
        response = web.StreamResponse(headers={**headers, "Content-Type": "application/json"})
        if rule.chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = len(head) + padding + len(tail)
        chunk = b"x" * 65536
        try:
            await response.prepare(request)
            await response.write(head)
            while padding > 0:
                await response.write(chunk[:padding])
                padding -= len(chunk)
            await response.write(tail)
            await response.write_eof()
        except ConnectionResetError:  # the client stopped reading: what a bounded client does
            pass
        return response

    def _token(self, request: web.Request) -> str:
        token = request.query.get("access_token")
        auth = request.headers.get("Authorization", "")
        if token is None and " " in auth:
            scheme, _, value = auth.partition(" ")
            if scheme.lower() in ("bearer", "oauth"):
                token = value.strip()
        if not token:
            raise GraphApiError(400, 104, "An access token is required to request this resource.")
        return token

    def _page_of_token(self, token: str) -> FakePage | None:
        for page in self.pages.values():
            if token == page.token or token in page.expired:
                return page
        return None

    def _check_proof(self, request: web.Request, token: str) -> None:
        if self.app_secret is None:
            return
        proof = request.query.get("appsecret_proof")
        if proof is None:
            raise GraphApiError(
                400,
                100,
                "API calls from the server require an appsecret_proof argument",
                error_type="GraphMethodException",
            )
        want = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(proof, want):
            raise GraphApiError(
                400, 100, "Invalid appsecret_proof provided in the API argument", error_type="GraphMethodException"
            )

    def _serve(
        self, request: web.Request, version: str | None, node: str, edge: str | None, page: FakePage, now: int
    ) -> Json:
        node = self._aliases.get(node.lower(), node)
        kind, obj = self.nodes.get(node, (None, None))
        if kind is None and _ALIAS.fullmatch(node) and not node.isdigit():  # a username, not an id
            raise GraphApiError(400, 803, f"(#803) Some of the aliases you requested do not exist: {node}")
        if kind == "page" and node != page.id:
            raise _needs_public_access()
        if kind is None or self.owner_of(kind, obj) != page.id or self._hidden(kind, obj, now):
            raise _missing(node)
        specs = parse_fields(request.query.get("fields", ""))
        ctx = _Ctx(self, request, version, now, granted=frozenset(page.permissions))
        if edge is None:
            return ctx.render(kind, obj, specs or DEFAULT_FIELDS[kind])
        return ctx.edge(kind, obj, edge, dict(request.query), specs or None)

    def owner_of(self, kind: str, obj: Any) -> str:
        """The id of the Page an object belongs to."""
        if kind == "page":
            return str(obj.id)
        if kind == "comment" or kind == "message":
            parent = obj.post_id if kind == "comment" else obj.conversation_id
            return self.owner_of(*self.nodes[parent])
        return str(obj.page_id)

    def _hidden(self, kind: str, obj: Any, now: int) -> bool:
        if kind == "post":
            return bool(obj.gone(now)) or obj.created > now
        if kind == "comment":
            post = self.nodes[obj.post_id][1]
            return bool(post.gone(now)) or obj.created > now
        if kind == "message":
            return bool(obj.created > now)
        if kind == "conversation":
            return not obj.visible(now)
        return False


class _Ctx:
    """Rendering of one request: fields, edges, paging URLs."""

    def __init__(
        self,
        api: FakeGraphApi,
        request: web.Request,
        version: str | None,
        now: int,
        *,
        granted: frozenset[str] = PAGE_PERMISSIONS,
    ) -> None:
        self.api, self.request, self.version, self.now = api, request, version, now
        self.granted = granted
        """The permissions of the request's token."""

    def render(self, kind: str, obj: Any, specs: list[FieldSpec]) -> Json:
        out: Json = {}
        for spec in specs:
            value = self._field(kind, obj, spec)
            if value is not None:
                out[spec.name] = value
        out.setdefault("id", obj.id)  # the Graph API always adds the id
        if obj.id in self.api.malformed:
            drop, values = self.api.malformed[obj.id]
            for key in drop:
                out.pop(key, None)
            out.update(values)
        return out

    def _field(self, kind: str, obj: Any, spec: FieldSpec) -> Any:
        name, now = spec.name, self.now
        if name == "id":
            return obj.id
        if name in EDGES.get(kind, ()):
            return self.edge(kind, obj, name, spec.modifiers, spec.sub)
        if kind == "page" and name == "name":
            return obj.name
        if kind == "page" and name == "username":
            return obj.username
        if kind == "page" and name == "link":
            return f"https://www.facebook.com/{obj.username or obj.id}"
        if kind == "page" and name == "instagram_business_account":
            return {"id": obj.instagram_id} if obj.instagram_id else None
        if kind == "conversation":
            visible = obj.visible(now)
            if name == "updated_time":
                return graph_time(obj.updated(now))
            if name == "message_count":
                return len(visible)
            if name == "link":
                return f"/{obj.page_id}/inbox/{obj.id}/"
            if name == "participants":
                page = self.api.pages[obj.page_id]
                return {"data": [_messenger_person(obj.customer), _messenger_person(page.person)]}
        if kind == "message":
            if name == "created_time":
                return graph_time(obj.created)
            if name == "from":
                return _sub(_messenger_person(obj.author), spec)
            if name == "to":
                return {"data": [_messenger_person(obj.to)]}
            if name == "message":
                return obj.text
        if kind == "post":
            if name == "created_time":
                return graph_time(obj.created)
            if name == "updated_time":
                visible = obj.visible(now)
                return graph_time(max([obj.created, *(c.created for c in visible[-1:])]))
            if name == "message":
                return obj.text
            if name == "from":
                return _sub({"name": obj.author.name, "id": obj.author.id}, spec)
            if name == "permalink_url":
                return f"https://www.facebook.com/{obj.id}"
        if kind == "comment":
            if name == "created_time":
                return graph_time(obj.created)
            if name == "message":
                return obj.text
            if name == "from":
                return _sub({"name": obj.author.name, "id": obj.author.id}, spec)
            if name == "parent":
                if obj.parent is None:
                    return None
                parent = self.api.nodes[obj.parent][1]
                return self.render("comment", parent, spec.sub or DEFAULT_FIELDS["comment"])
            if name == "permalink_url":
                return f"https://www.facebook.com/{obj.post_id}?comment_id={obj.id}"
        raise _no_field(name, kind)

    def edge(self, kind: str, obj: Any, edge: str, args: dict[str, str], specs: list[FieldSpec] | None) -> Json:
        if edge not in EDGES.get(kind, ()):
            raise _no_field(edge, kind)
        needed = EDGE_PERMISSIONS.get(edge)
        if needed is not None and needed not in self.granted:
            raise _permission_error(needed)
        child, items, key = EDGES[kind][edge](self, obj, args)
        limit = _int(args.get("limit"), DEFAULT_LIMIT, "limit")
        limit = max(1, min(limit, MAX_LIMIT))
        keys = [key(i) for i in items]
        order = sorted(range(len(items)), key=lambda i: keys[i])
        ordered = [items[i] for i in order]
        skeys = [keys[i] for i in order]
        hostile = self.api.misbehaviour_for(("repeat_cursor", "endless_cursor"), self.api.owner_of(kind, obj), edge)
        start, end = 0, len(ordered)
        if hostile is not None:  # whatever the cursor asked: the first page
            end = min(len(ordered), limit)
        elif args.get("after"):
            start = bisect.bisect_right(skeys, _uncursor(args["after"]))
            end = min(len(ordered), start + limit)
        elif args.get("before"):
            end = bisect.bisect_left(skeys, _uncursor(args["before"]))
            start = max(0, end - limit)
        else:
            end = min(len(ordered), limit)
        chosen = ordered[start:end]
        body: Json = {"data": [self.render(child, c, specs or DEFAULT_FIELDS[child]) for c in chosen]}
        if chosen:
            before, after = _cursor(skeys[start]), _cursor(skeys[end - 1])
            paging: Json = {"cursors": {"before": before, "after": after}}
            if end < len(ordered):
                paging["next"] = self._url(obj.id, edge, args, specs, after=after)
            if start > 0:
                paging["previous"] = self._url(obj.id, edge, args, specs, before=before)
            body["paging"] = paging
        if hostile is not None and chosen:
            hostile.served += 1
            if hostile.kind == "endless_cursor":  # a new cursor each time, never the last page
                after = _cursor((-(2**53) - hostile.served, f"endless-{hostile.served}"))
            body["paging"]["cursors"]["after"] = after
            body["paging"]["next"] = self._url(obj.id, edge, args, specs, after=after)
        return body

    def _url(self, node: str, edge: str, args: dict[str, str], specs: list[FieldSpec] | None, **cursor: str) -> str:
        query = {k: v for k, v in args.items() if k not in ("after", "before", "fields")}
        if specs:
            query["fields"] = _unparse(specs)
        token = self.request.query.get("access_token")
        if token is not None:
            query["access_token"] = token
        proof = self.request.query.get("appsecret_proof")
        if proof is not None:
            query["appsecret_proof"] = proof
        query.update(cursor)
        path = f"/{self.version}/{node}/{edge}" if self.version else f"/{node}/{edge}"
        return str(self.request.url.with_path(path).with_query(query))


def _int(value: str | None, default: int, what: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise GraphApiError(400, 100, f"(#100) Param {what} must be an integer") from None


def _time_param(value: str | None, what: str) -> int | None:
    if value is None or value == "":
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise GraphApiError(400, 100, f"(#100) The parameter {what} is not a valid time") from None
    return _ts(t if t.tzinfo else t.replace(tzinfo=UTC))


def _unparse(specs: list[FieldSpec]) -> str:
    out = []
    for s in specs:
        text = s.name + "".join(f".{k}({v})" for k, v in s.modifiers.items())
        if s.sub is not None:
            text += "{" + _unparse(s.sub) + "}"
        out.append(text)
    return ",".join(out)


def _messenger_person(p: Person) -> Json:
    return {"name": p.name, "email": f"{p.id}@facebook.com", "id": p.id}


def _sub(value: Json, spec: FieldSpec) -> Json:
    if spec.sub is None:
        return value
    return {s.name: value[s.name] for s in spec.sub if s.name in value}


def _permission_error(permission: str) -> GraphApiError:
    """The Graph API's answer to a call its token lacks `permission` for, in its own words."""
    if permission == "pages_messaging":
        return GraphApiError(400, 230, "(#230) Requires pages_messaging permission to manage the object")
    return GraphApiError(
        403,
        10,
        f"(#10) This endpoint requires the '{permission}' permission or the 'Page Public Content Access' "
        "feature. Refer to https://developers.facebook.com/docs/apps/review/login-permissions#manage-pages and "
        "https://developers.facebook.com/docs/apps/review/feature#reference-PAGES_ACCESS for details.",
    )


def _needs_public_access() -> GraphApiError:
    """The answer to a token reading another Page than its own (no Page Public Metadata Access)."""
    return GraphApiError(
        400,
        10,
        "(#10) This endpoint requires the 'pages_read_engagement' permission or the 'Page Public Content "
        "Access' feature or the 'Page Public Metadata Access' feature. Refer to "
        "https://developers.facebook.com/docs/apps/review/login-permissions#manage-pages, "
        "https://developers.facebook.com/docs/apps/review/feature#reference-PAGES_ACCESS and "
        "https://developers.facebook.com/docs/apps/review/feature#page-public-metadata-access for details.",
    )


def _no_field(name: str, kind: str) -> GraphApiError:
    return GraphApiError(
        400, 100, f"(#100) Tried accessing nonexisting field ({name}) on node type ({TYPE_NAMES[kind]})"
    )


SortKey = Callable[[Any], tuple[Any, ...]]
Edge = Callable[[_Ctx, Any, dict[str, str]], tuple[str, list[Any], SortKey]]


def _conversations(ctx: _Ctx, page: FakePage, args: dict[str, str]) -> tuple[str, list[Any], Any]:
    if args.get("platform", "messenger") != "messenger":
        return "conversation", [], lambda c: (c.id,)
    latest = {}
    for obj in page.conversations:
        if obj.visible(ctx.now):
            latest[obj.id] = (obj, obj.updated(ctx.now))
    items = [c for c, _ in latest.values()]
    return "conversation", items, lambda c: (-latest[c.id][1], c.id)


def _messages(ctx: _Ctx, conv: FakeConversation, args: dict[str, str]) -> tuple[str, list[Any], Any]:
    return "message", conv.visible(ctx.now), lambda m: (-m.created, m.id)


def _posts(which: str) -> Edge:
    def edge(ctx: _Ctx, page: FakePage, args: dict[str, str]) -> tuple[str, list[Any], Any]:
        since = _time_param(args.get("since"), "since")
        until = _time_param(args.get("until"), "until")
        items = []
        for obj in page.posts:
            if obj.gone(ctx.now) or obj.created > ctx.now:
                continue
            if (since is not None and obj.created < since) or (until is not None and obj.created > until):
                continue
            own = obj.author.id == page.id
            if (which == "posts" and not own) or (which == "visitor_posts" and own):
                continue
            items.append(obj)
        return "post", items, lambda p: (-p.created, p.id)

    return edge


def _comments(ctx: _Ctx, obj: Any, args: dict[str, str]) -> tuple[str, list[Any], Any]:
    if isinstance(obj, FakePost):
        visible = obj.visible(ctx.now)
        if args.get("filter", "toplevel") != "stream":
            visible = [c for c in visible if c.parent is None]
    else:
        post = ctx.api.nodes[obj.post_id][1]
        visible = [c for c in post.visible(ctx.now) if c.parent == obj.id]
    if args.get("order", "chronological") == "reverse_chronological":
        return "comment", visible, lambda c: (-c.created, c.id)
    return "comment", visible, lambda c: (c.created, c.id)


EDGE_PERMISSIONS = {
    "conversations": "pages_messaging",
    "feed": "pages_read_engagement",
    "posts": "pages_read_engagement",
    "visitor_posts": "pages_read_engagement",
    "published_posts": "pages_read_engagement",
    "comments": "pages_read_engagement",
}
"""The permission each edge needs of the token (what the Graph API names when it is missing)."""

EDGES: dict[str, dict[str, Edge]] = {
    "page": {
        "conversations": _conversations,
        "feed": _posts("feed"),
        "posts": _posts("posts"),
        "visitor_posts": _posts("visitor_posts"),
        "published_posts": _posts("posts"),
    },
    "conversation": {"messages": _messages},
    "post": {"comments": _comments},
    "comment": {"comments": _comments},
}
