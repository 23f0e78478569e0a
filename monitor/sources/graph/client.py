"""The Graph API client: one token's calls, bounded answers, every error translated here
(docs/sources.md, "The Graph API client")."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiohttp

from monitor.logs import excerpt
from monitor.runtime import Clock, utcnow
from monitor.secrets import EnvSecret
from monitor.sources.base import BadPayload, CredentialsRejected, RateBudget, RateLimited, TemporaryFailure, Unreachable
from monitor.sources.graph.bounds import BODY_CHUNK, MAX_BODY_BYTES, MAX_JSON_DEPTH
from monitor.sources.graph.errors import DEFAULT_THROTTLE_SECONDS, graph_error, translate
from monitor.sources.graph.usage import UsageLimits

GRAPH_URL = "https://graph.facebook.com"
CLIENT_ERROR_CHARS = 300
"""Characters of an aiohttp error's text kept in the `TemporaryFailure` (logged and stored)."""

Json = dict[str, Any]


def appsecret_proof(app_secret: str, access_token: str) -> str:
    """Hex HMAC-SHA256 of the access token keyed with the app secret."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


async def read_body(resp: aiohttp.ClientResponse, endpoint: str) -> bytes:
    """The answer's body, refused (`BadPayload`) beyond `MAX_BODY_BYTES` without reading it all."""
    declared = resp.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise BadPayload(
            f"{endpoint}: answer of {declared} bytes refused (at most {MAX_BODY_BYTES})", endpoint=endpoint
        )
    body = bytearray()
    async for chunk in resp.content.iter_chunked(BODY_CHUNK):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BadPayload(
                f"{endpoint}: answer of more than {MAX_BODY_BYTES} bytes refused ({len(body)} read)", endpoint=endpoint
            )
    return bytes(body)


def decode_json(raw: bytes, endpoint: str) -> object:
    """`json.loads`; ValueError when it is not JSON, `BadPayload` when nested too deep."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadPayload(f"{endpoint}: JSON nested too deep to decode", endpoint=endpoint) from None
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise BadPayload(f"{endpoint}: JSON nested more than {MAX_JSON_DEPTH} levels", endpoint=endpoint)
    return value


def _deeper_than(value: object, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


class GraphClient:
    """Graph API calls with one token; shared by the streams that share its limits (a Page's)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        token: EnvSecret,
        app_secret: EnvSecret | None = None,
        interval: float = 60.0,
        timeout: float = 30.0,
        clock: Clock = utcnow,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.app_secret = app_secret
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.clock = clock
        self.limits = UsageLimits(interval=interval, clock=clock)

    @property
    def blocked_until(self) -> datetime | None:
        """Until when the Graph API blocks the token's app or Page: no call is made before."""
        return self.limits.blocked_until

    def next_poll_after(self) -> float | None:
        """Seconds the streams should wait before their next poll (usage, or a block)."""
        return self.limits.next_poll_after()

    def rate_budget(self) -> RateBudget:
        """What the last answer said is left (the `Source.rate_budget` of the client's streams)."""
        return self.limits.rate_budget()

    async def get(self, path: str, params: Mapping[str, str]) -> Json:
        """GET `path` (relative to the versioned base) and return the JSON object answered."""
        endpoint = f"/{path.lstrip('/')}"
        left = self.limits.blocked_for()
        if left > 0:
            raise RateLimited(f"blocked by the Graph API for {left:.0f}s more", retry_after=left, endpoint=endpoint)
        token = self.token.get()
        if token is None:
            raise CredentialsRejected(f"no Page access token: ${self.token.name} is not set", endpoint=endpoint)
        query = dict(params)
        secret = self.app_secret.get() if self.app_secret is not None else None
        if secret:
            query["appsecret_proof"] = appsecret_proof(secret, token)
        try:
            async with self.session.get(
                self.base_url + endpoint,
                params=query,
                timeout=self.timeout,
                headers={"Authorization": f"Bearer {token}"},
                allow_redirects=False,
            ) as resp:
                status = resp.status
                usage = self.limits.observe(resp.headers)
                raw = await read_body(resp, endpoint)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise Unreachable("timed out", endpoint=endpoint) from None
        except aiohttp.ClientConnectionError as exc:
            what = excerpt(f"{type(exc).__name__}: {exc}", CLIENT_ERROR_CHARS)
            raise Unreachable(what, endpoint=endpoint) from None
        except aiohttp.ClientError as exc:
            what = excerpt(f"{type(exc).__name__}: {exc}", CLIENT_ERROR_CHARS)
            raise TemporaryFailure(what, endpoint=endpoint) from None
        try:
            body = decode_json(raw, endpoint)
        except ValueError:
            body = None
            if status < 500:
                raise BadPayload(f"HTTP {status}: not JSON ({len(raw)} bytes)", endpoint=endpoint) from None
        error = graph_error(status, body)
        if error is not None:
            failure = translate(error, usage, endpoint)
            if isinstance(failure, RateLimited) and failure.retry_after:
                self.limits.block(failure.retry_after)
            raise failure
        if status >= 500:
            raise TemporaryFailure(f"HTTP {status}", endpoint=endpoint)
        if status == 429:
            retry = usage.regain_seconds or DEFAULT_THROTTLE_SECONDS
            self.limits.block(retry)
            raise RateLimited("HTTP 429", retry_after=retry, endpoint=endpoint)
        if status != 200 or not isinstance(body, dict):
            raise BadPayload(f"HTTP {status}: unexpected answer", endpoint=endpoint)
        return body


class GraphAccount(Protocol):
    """What a Graph API account's configuration gives its client (a Facebook Page's, ...)."""

    @property
    def api_base_url(self) -> str | None: ...
    @property
    def graph_api_version(self) -> str: ...
    @property
    def page_token_env(self) -> str | None: ...
    @property
    def app_secret_env(self) -> str | None: ...
    @property
    def poll_interval(self) -> timedelta: ...


def graph_client(
    account: GraphAccount,
    session: aiohttp.ClientSession,
    *,
    timeout: float,
    clock: Clock = utcnow,
    environ: Mapping[str, str] = os.environ,
) -> GraphClient:
    """The client of one account: its versioned base URL, its token and app secret from the
    environment (read at every call), its poll interval for the usage slowdown."""
    base = account.api_base_url.rstrip("/") if account.api_base_url else GRAPH_URL
    return GraphClient(
        session,
        base_url=f"{base}/{account.graph_api_version}",
        token=EnvSecret(account.page_token_env, environ),
        app_secret=EnvSecret(account.app_secret_env, environ) if account.app_secret_env else None,
        interval=account.poll_interval.total_seconds(),
        timeout=timeout,
        clock=clock,
    )
