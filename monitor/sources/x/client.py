"""The plumbing of the X streams: tweepy's AsyncClient on the process' shared aiohttp session, each
answer read within a bound, every client error translated into a SourceError (see
docs/sources.md, "X" > "Requests")."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import tweepy
from aiohttp import hdrs
from tweepy.asynchronous import AsyncClient
from yarl import URL

from monitor.logs import excerpt
from monitor.runtime import UnixClock
from monitor.sources.base import (
    BadPayload,
    CredentialsRejected,
    PermissionMissing,
    RateLimited,
    SourceError,
    TemporaryFailure,
    Unreachable,
)
from monitor.sources.x.budget import retry_after

if TYPE_CHECKING:
    from aiohttp.client_middlewares import ClientHandlerType, ClientMiddlewareType

API_HOST = "api.twitter.com"
"""The host tweepy sends every request to (hard-coded in tweepy); `api_base_url` rewrites it."""
MAX_RESPONSE_BYTES = 4 << 20
"""Bytes of one answer read at most (4 MiB); a larger body is refused, unread. Honest pages are far
below: 100 tweets with their expansions are ~0.3 MB at most (280 characters of up to 4 bytes,
referenced tweets and users included), 100 DM events ~1 MB with 10,000-character messages. The cap
also bounds the memory a hostile body takes once decoded: 4 MiB of `{},` become ~100 MB of Python
objects (measured), 8 MiB would double it."""


class BodyTooLarge(Exception):
    """A response body larger than the bound (raised before it is all read)."""


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """A response's body read as it arrives, refused with BodyTooLarge once it passes `limit`
    bytes (or at once when its Content-Length says it will): never more than `limit` plus one
    chunk in memory. Decompressed bytes are counted."""
    length = response.content_length
    if length is not None and length > limit:
        raise BodyTooLarge(f"announces {length} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"passed {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def rewrite_middleware(base_url: str) -> ClientMiddlewareType:
    """An aiohttp client middleware sending requests for api.twitter.com to `base_url`."""
    base = URL(base_url)

    async def rewrite(request: aiohttp.ClientRequest, handler: ClientHandlerType) -> aiohttp.ClientResponse:
        if request.url.host == API_HOST:
            request.url = request.url.with_scheme(base.scheme).with_host(base.host or "").with_port(base.explicit_port)
            host = request.url.host_port_subcomponent
            if host is not None:
                request.headers[hdrs.HOST] = host
        return await handler(request)

    return rewrite


class ApiSession:
    """What a tweepy client takes for its session: the shared session, with this source's
    middlewares and timeout added to every request. tweepy does not close it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        middlewares: Sequence[ClientMiddlewareType],
        timeout: aiohttp.ClientTimeout,
    ) -> None:
        self.session = session
        self.middlewares = tuple(middlewares)
        self.timeout = timeout

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:
        # Per-request middlewares replace the session's own (the project's session has none).
        return self.session.request(method, url, middlewares=self.middlewares, timeout=self.timeout, **kwargs)


@dataclass(frozen=True)
class Answer:
    """One response as it came, before tweepy read it."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def translate(exc: Exception, answer: Answer | None, endpoint: str, clock: UnixClock) -> SourceError | None:
    """The SourceError a request's failure amounts to (by the answer's status when there was one);
    None for an error that is not the API's nor the network's (a bug: it propagates)."""
    if isinstance(exc, SourceError):  # raised by our middleware (a body too large)
        return exc
    if answer is not None and not 200 <= answer.status < 300:
        status = answer.status
        detail = "; ".join(str(m) for m in getattr(exc, "api_messages", []) or []) or excerpt(
            " ".join(answer.body[:2000].decode("utf-8", "replace").split()), 120
        )
        if status == 429:
            return RateLimited(
                f"{endpoint}: 429 rate limited", retry_after=retry_after(answer.headers, clock()), endpoint=endpoint
            )
        if status == 403:
            what = forbidden(answer.body)
            return PermissionMissing(f"{endpoint}: 403 {detail}", permission=what, endpoint=endpoint)
        if status == 401:
            return CredentialsRejected(f"{endpoint}: {status} {detail}", endpoint=endpoint)
        if status >= 500 or status in (408, 425):
            return TemporaryFailure(f"{endpoint}: {status} {detail}", endpoint=endpoint)
        return BadPayload(f"{endpoint}: the API refused the request: {status} {detail}", endpoint=endpoint)
    if isinstance(exc, aiohttp.ClientConnectionError | TimeoutError | OSError):
        return Unreachable(excerpt(f"{endpoint}: {type(exc).__name__}: {exc}", 300), endpoint=endpoint)
    if isinstance(exc, aiohttp.ClientError | tweepy.TweepyException):
        return TemporaryFailure(excerpt(f"{endpoint}: {type(exc).__name__}: {exc}", 300), endpoint=endpoint)
    return None


FORBIDDEN_REASON_CHARS = 60
"""Characters of a 403's `reason` (or problem type) kept as the missing permission's name."""


def forbidden(body: bytes) -> str | None:
    """What a 403 problem body says is missing: its `reason` (`client-not-enrolled`: the app is not
    in a project with the access the endpoint needs) or the last part of its `type`
    (`unsupported-authentication`: the endpoint needs user context, not the app's bearer token)."""
    try:
        problem = json.loads(body)
    except ValueError:
        return None
    if not isinstance(problem, dict):
        return None
    for key in ("reason", "type"):
        value = problem.get(key)
        if isinstance(value, str) and value and value != "about:blank":
            return excerpt(value.rstrip("/").rsplit("/", 1)[-1], FORBIDDEN_REASON_CHARS)
    return None


class XClient:
    """One stream's tweepy client on the shared session. Each answer is kept (status, headers,
    body read within MAX_RESPONSE_BYTES) before tweepy reads it and handed to `on_answer`; a
    request fails only with a SourceError."""

    def __init__(
        self,
        client: AsyncClient,
        session: aiohttp.ClientSession,
        *,
        endpoint: str,
        on_answer: Callable[[Answer], None],
        clock: UnixClock,
        base_url: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.endpoint = endpoint
        self.on_answer = on_answer
        self.clock = clock
        middlewares: list[ClientMiddlewareType] = [self._keep]
        if base_url:
            middlewares.append(rewrite_middleware(base_url))
        self._session = ApiSession(session, middlewares, aiohttp.ClientTimeout(total=timeout))
        self._last: Answer | None = None
        self.client = client
        client.session = self._session

    def use(self, client: AsyncClient) -> None:
        """Send the next requests with `client` (made with new secrets), on the same session."""
        self.client = client
        client.session = self._session

    async def call(self, request: Callable[[AsyncClient], Awaitable[object]]) -> Answer:
        """One request made by `request` with the current client: its answer (2xx), or the
        SourceError it amounts to. Every client-library error is translated here, and only here."""
        self._last = None
        try:
            await request(self.client)
        except Exception as exc:
            error = translate(exc, self._last, self.endpoint, self.clock)
            if error is None:
                raise
            raise error from exc
        assert self._last is not None, "a response came without passing our middleware"
        return self._last

    async def _keep(self, request: aiohttp.ClientRequest, handler: ClientHandlerType) -> aiohttp.ClientResponse:
        """Middleware: keep the response's status, headers and body (at most MAX_RESPONSE_BYTES
        of it) before tweepy reads it."""
        response = await handler(request)
        try:
            body = await read_bounded(response, MAX_RESPONSE_BYTES)
        except BodyTooLarge as exc:
            response.close()  # the rest is never read: the connection is dropped, not reused
            raise BadPayload(
                f"{self.endpoint}: the response body {exc}, more than the {MAX_RESPONSE_BYTES} read at most; refused",
                endpoint=self.endpoint,
            ) from None
        response._body = body  # noqa: SLF001 - aiohttp caches a read body there; tweepy's read() returns it
        self._last = Answer(response.status, response.headers, body)
        self.on_answer(self._last)
        return response


def tweepy_client(
    consumer_key: str | None = None,
    consumer_secret: str | None = None,
    access_token: str | None = None,
    access_token_secret: str | None = None,
    *,
    bearer_token: str | None = None,
) -> AsyncClient:
    """A tweepy client returning the raw aiohttp response (we read headers and body ourselves)
    and never waiting on a rate limit itself (its waiting retries without bound)."""
    return AsyncClient(
        bearer_token=bearer_token,
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        access_token=access_token,
        access_token_secret=access_token_secret,
        return_type=aiohttp.ClientResponse,
        wait_on_rate_limit=False,
    )
