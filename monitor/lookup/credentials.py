"""The credentials `accounts lookup` uses: a configured account's, or a variable the person
names; refused with the reason when they cannot be used."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.lookup.targets import LookupChannel, Target, target_text
from monitor.secrets import EnvSecret

if TYPE_CHECKING:
    from monitor.config import Config

CHANNEL_NAMES: dict[str, str] = {"x": "X", "facebook": "Facebook"}
TOKEN_KINDS: dict[str, str] = {
    "x": "the X app's bearer token",
    "facebook": "a Facebook Page (or user) access token",
}


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


def token_of(credentials: Credentials, environ: Mapping[str, str] = os.environ) -> str:
    """The token's value; CredentialsError naming the variable when it is not set."""
    value = EnvSecret(credentials.token_env, environ).get()
    if value is None:
        raise CredentialsError(
            f"{credentials.origin}: environment variable {credentials.token_env} "
            f"(or {credentials.token_env}_FILE) is not set"
        )
    return value
