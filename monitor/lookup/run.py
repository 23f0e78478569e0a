"""Asking the X or Graph API about a target (`accounts lookup`), and saying what it answered."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta

import aiohttp

from monitor.logs import redact
from monitor.lookup.credentials import Credentials, token_of
from monitor.lookup.targets import Target, target_text
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
from monitor.sources.x.lookup import XUser, lookup_user

LOOKUP_TIMEOUT_SECONDS = 30.0
"""Seconds one lookup call may take, connection included (the pollers' own timeout)."""

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
