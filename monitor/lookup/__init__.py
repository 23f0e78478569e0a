"""`inbox-monitor accounts lookup`: what a person types (an X handle, a Facebook Page's address)
turned into the ids the configuration needs, asked of the API with credentials the person names.

`targets` reads what was typed, `credentials` finds the token, `run` asks the API, `render`
prints the lines to paste."""

from monitor.lookup.credentials import (
    Credentials,
    CredentialsError,
    account_credentials,
    accounts_of,
    missing_credentials,
    token_of,
)
from monitor.lookup.render import instagram_lines, render_json, render_text, toml_lines
from monitor.lookup.run import LOOKUP_TIMEOUT_SECONDS, Found, failure_text, lookup
from monitor.lookup.targets import LookupChannel, Target, TargetError, parse_target, target_text

__all__ = [
    "LOOKUP_TIMEOUT_SECONDS",
    "Credentials",
    "CredentialsError",
    "Found",
    "LookupChannel",
    "Target",
    "TargetError",
    "account_credentials",
    "accounts_of",
    "failure_text",
    "instagram_lines",
    "lookup",
    "missing_credentials",
    "parse_target",
    "render_json",
    "render_text",
    "target_text",
    "token_of",
    "toml_lines",
]
