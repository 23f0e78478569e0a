"""Going live without guesswork: `accounts lookup` finds the ids to configure and
`check-config --online` checks every account's credentials, both run as a user runs them (a
subprocess) against the fake X and Graph APIs of this test process, with no database."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.simulator.graph_api import FakeGraphApi
from monitor.simulator.x_api import DM_EVENTS, MENTIONS, TWEETS, USER_BY_USERNAME, FakeXApi, UserKeys
from tests.waiting import cli, cli_env, free_port

UNREACHABLE_DATABASE = "postgresql://monitor:secret@127.0.0.1:1/none"
"""Where the checks would fail if they opened a database: they must not need one."""

ENV = {
    "X_GOOD": "x-good-bearer-0123456789",
    "X_BAD": "x-revoked-bearer-0123456789",
    "X_NOT_ENROLLED": "x-standalone-app-bearer-0123456789",
    "X_CK": "consumer-key",
    "X_CS": "consumer-secret-0123456789",
    "X_AT": "1001-access-token",
    "X_ATS": "access-token-secret-0123456789",
    "FB_GOOD": "EAAB-good-page-token-0123456789",
    "FB_NO_MESSAGING": "EAAB-no-messaging-token-0123456789",
    "FB_EXPIRED": "EAAB-expired-token-0123456789",
    "FB_THROTTLED": "EAAB-throttled-token-0123456789",
    "INBOX_MONITOR_DATABASE_URL": UNREACHABLE_DATABASE,
}

CONFIG = """
[policies.default]
public = {{ first = "30m", next = "1h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false

[[brands]]
name = "acme"

[[brands.accounts]]
name = "good-x"
channel = "x"
user_id = "1001"
handle = "acme"
bearer_token_env = "X_GOOD"
dm = true
consumer_key_env = "X_CK"
consumer_secret_env = "X_CS"
access_token_env = "X_AT"
access_token_secret_env = "X_ATS"
api_base_url = "{x}"

[[brands.accounts]]
name = "revoked-x"
channel = "x"
user_id = "1002"
bearer_token_env = "X_BAD"
api_base_url = "{x}"

[[brands.accounts]]
name = "standalone-x"
channel = "x"
user_id = "1003"
bearer_token_env = "X_NOT_ENROLLED"
api_base_url = "{x}"

[[brands.accounts]]
name = "ghost-x"
channel = "x"
user_id = "1999"
bearer_token_env = "X_GOOD"
api_base_url = "{x}"

[[brands.accounts]]
name = "demo-x"
channel = "x"
user_id = "1"
source = "demo"

[[brands.accounts]]
name = "good-fb"
channel = "facebook"
page_id = "5001"
page_token_env = "FB_GOOD"
api_base_url = "{graph}"

[[brands.accounts]]
name = "no-messaging-fb"
channel = "facebook"
page_id = "5002"
page_token_env = "FB_NO_MESSAGING"
api_base_url = "{graph}"

[[brands.accounts]]
name = "expired-fb"
channel = "facebook"
page_id = "5003"
page_token_env = "FB_EXPIRED"
api_base_url = "{graph}"

[[brands.accounts]]
name = "throttled-fb"
channel = "facebook"
page_id = "5004"
page_token_env = "FB_THROTTLED"
api_base_url = "{graph}"

[[brands.accounts]]
name = "ghost-fb"
channel = "facebook"
page_id = "5999"
page_token_env = "FB_GOOD"
api_base_url = "{graph}"

[[brands.accounts]]
name = "offline-fb"
channel = "facebook"
page_id = "5001"
page_token_env = "FB_GOOD"
api_base_url = "http://127.0.0.1:{closed}"
"""


@dataclass
class Apis:
    x: FakeXApi
    graph: FakeGraphApi
    config: Path
    env: dict[str, str]


@pytest.fixture
async def apis(tmp_path: Path) -> AsyncIterator[Apis]:
    x, graph = FakeXApi(), FakeGraphApi()
    x_url, graph_url = await x.start(), await graph.start()
    x.add_user("1001", "AcmeSupport", name="Acme Support")
    x.add_user("1002", "acme_fr")
    x.add_user("1003", "acme_es")
    x.add_user("1004", "acme_private", protected=True)
    for name in ("X_GOOD", "X_BAD", "X_NOT_ENROLLED"):
        if name != "X_BAD":  # a token X no longer knows
            x.add_bearer_token(ENV[name])
    x.unenroll(ENV["X_NOT_ENROLLED"])
    x.add_user_keys(UserKeys("1001", ENV["X_CK"], ENV["X_CS"], ENV["X_AT"], ENV["X_ATS"]))
    graph.add_page("5001", token=ENV["FB_GOOD"], name="Acme", username="acme.shop", instagram_id="17841400000000001")
    graph.add_page("5002", token=ENV["FB_NO_MESSAGING"], name="Acme Belgique")
    graph.revoke("5002", "pages_messaging")
    graph.add_page("5003", token=ENV["FB_EXPIRED"], name="Acme Suisse")
    graph.expire_token("5003")
    graph.add_page("5004", token=ENV["FB_THROTTLED"], name="Acme Canada")
    graph.throttle("5004", minutes=30)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(x=x_url, graph=graph_url, closed=free_port()))
    try:
        yield Apis(x, graph, config, cli_env(**ENV))
    finally:
        await x.stop()
        await graph.stop()


async def run(apis: Apis, *args: str, config: bool = True) -> subprocess.CompletedProcess[str]:
    """The command in a subprocess, the fakes answering it from this process's event loop."""
    head = ("--config", str(apis.config)) if config else ()
    return await asyncio.to_thread(cli, *head, *args, env=apis.env)


async def test_check_config_online_reports_each_account_and_stream(apis: Apis) -> None:
    before = datetime.now(UTC)
    result = await run(apis, "check-config", "--online", "--format", "json")
    assert result.returncode == 1, result.stderr  # some accounts fail
    assert "configuration OK" in result.stderr
    checks = {(c["account"], c["stream"]): c for c in json.loads(result.stdout)}
    status = {key: c["status"] for key, c in checks.items()}
    assert status == {
        ("good-x", "x.mentions"): "ok",
        ("good-x", "x.replies"): "ok",
        ("good-x", "x.dm"): "ok",
        ("revoked-x", "x.mentions"): "rejected",
        ("revoked-x", "x.replies"): "rejected",
        ("standalone-x", "x.mentions"): "permission",
        ("standalone-x", "x.replies"): "permission",
        ("ghost-x", "x.mentions"): "not_found",
        ("ghost-x", "x.replies"): "not_found",
        ("demo-x", "demo"): "ok",
        ("good-fb", "facebook.messenger"): "ok",
        ("good-fb", "facebook.comments"): "ok",
        ("no-messaging-fb", "facebook.messenger"): "permission",
        ("no-messaging-fb", "facebook.comments"): "ok",
        ("expired-fb", "facebook.messenger"): "rejected",
        ("expired-fb", "facebook.comments"): "rejected",
        ("throttled-fb", "facebook.messenger"): "rate_limited",
        ("throttled-fb", "facebook.comments"): "rate_limited",
        ("ghost-fb", "facebook.messenger"): "not_found",
        ("ghost-fb", "facebook.comments"): "not_found",
        ("offline-fb", "facebook.messenger"): "unreachable",
        ("offline-fb", "facebook.comments"): "unreachable",
    }
    assert checks[("standalone-x", "x.mentions")]["permission"] == "client-not-enrolled"
    assert checks[("no-messaging-fb", "facebook.messenger")]["permission"] == "pages_messaging"
    assert "Session has expired" in checks[("expired-fb", "facebook.messenger")]["detail"]
    assert "Could not find user with id: [1999]" in checks[("ghost-x", "x.mentions")]["detail"]
    reset = datetime.fromisoformat(checks[("throttled-fb", "facebook.messenger")]["retry_at"])
    assert before + timedelta(minutes=29) <= reset <= datetime.now(UTC) + timedelta(minutes=31)
    assert not any(ENV[name] in result.stdout + result.stderr for name in ENV if name.startswith(("X_", "FB_")))

    # One cheap call per stream, answered by the fakes of this process (they recorded them).
    for endpoint, user in ((MENTIONS, "1001"), (TWEETS, "1001"), (MENTIONS, "1002"), (MENTIONS, "1999")):
        calls = apis.x.requests_to(endpoint, user)
        assert len(calls) == 1 and calls[0].params["max_results"] == "5", calls
        assert calls[0].params["end_time"].startswith("2010-11-06"), calls[0].params
    [dm] = apis.x.requests_to(DM_EVENTS)
    assert dm.params["max_results"] == "1" and dm.status == 200
    by_node: dict[tuple[str | None, str | None], int] = {}
    for r in apis.graph.requests:
        by_node[(r.node, r.edge)] = by_node.get((r.node, r.edge), 0) + 1
        assert r.params.get("limit") == "1" and r.params.get("fields") == "id", r
    pages = ("5001", "5002", "5003", "5999")
    assert by_node == {(page, edge): 1 for page in pages for edge in ("conversations", "feed")} | {
        ("5004", "conversations"): 1  # the throttled Page's feed is not called: calls would extend the block
    }
    assert "blocked by the Graph API" in checks[("throttled-fb", "facebook.comments")]["detail"]


async def test_check_config_online_text_and_exit_status(apis: Apis) -> None:
    good = await run(apis, "check-config", "--online", "--account", "good-x", "--account", "good-fb")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "5 of 5 stream(s) ok: nothing was stored" in good.stdout, good.stdout
    bad = await run(apis, "check-config", "--online", "--account", "no-messaging-fb", "--account", "standalone-x")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    lines = bad.stdout.splitlines()
    messenger = next(line for line in lines if "facebook.messenger" in line)
    assert "missing permission" in messenger and "needs pages_messaging" in messenger, bad.stdout
    assert "GET /5002/conversations" in messenger, messenger
    mentions = next(line for line in lines if "x.mentions" in line)
    assert "missing permission" in mentions and "client-not-enrolled" in mentions, bad.stdout
    assert "1 of 4 stream(s) ok, 3 failing" in bad.stdout, bad.stdout
    unknown = await run(apis, "check-config", "--online", "--account", "nobody")
    assert unknown.returncode == 2 and "no account named 'nobody'" in unknown.stderr, unknown.stderr


async def test_lookup_finds_an_x_user_and_a_facebook_page(apis: Apis) -> None:
    x_url, graph_url = apis.x.base_url, apis.graph.url
    x_user, x_json, protected, page, by_account = await asyncio.gather(
        run(apis, "accounts", "lookup", "@acmesupport", "--token-env", "X_GOOD", "--api-base-url", x_url, config=False),
        run(
            apis,
            "accounts",
            "lookup",
            "https://x.com/AcmeSupport?ref=home",
            "--token-env",
            "X_GOOD",
            "--api-base-url",
            x_url,
            "--format",
            "json",
            config=False,
        ),
        run(apis, "accounts", "lookup", "@acme_private", "--account", "good-x"),
        run(
            apis,
            "accounts",
            "lookup",
            "https://m.facebook.com/acme.shop/?locale=fr_FR",
            "--token-env",
            "FB_GOOD",
            "--api-base-url",
            graph_url,
            config=False,
        ),
        run(apis, "accounts", "lookup", "facebook.com/profile.php?id=5002", "--account", "no-messaging-fb"),
    )
    assert x_user.returncode == 0, x_user.stderr
    assert "X user @AcmeSupport (Acme Support), id 1001, public account" in x_user.stdout, x_user.stdout
    assert '  user_id = "1001"\n  handle = "AcmeSupport"' in x_user.stdout, x_user.stdout
    assert x_json.returncode == 0, x_json.stderr
    assert json.loads(x_json.stdout) | {"toml": ""} == {
        "channel": "x",
        "user_id": "1001",
        "handle": "AcmeSupport",
        "name": "Acme Support",
        "protected": False,
        "toml": "",
    }
    assert protected.returncode == 0 and "id 1004, protected account" in protected.stdout, protected.stdout
    [looked_up] = [r for r in apis.x.requests_to(USER_BY_USERNAME) if r.path.endswith("/acmesupport")]
    assert looked_up.credential == ENV["X_GOOD"] and looked_up.status == 200

    assert page.returncode == 0, page.stderr
    assert "Facebook Page 'Acme' (facebook.com/acme.shop), id 5001" in page.stdout, page.stdout
    assert '  channel = "facebook"\n  page_id = "5001"' in page.stdout, page.stdout
    assert 'ig_user_id = "17841400000000001"' in page.stdout, page.stdout
    assert by_account.returncode == 0, by_account.stderr
    assert 'page_id = "5002"' in by_account.stdout and "No Instagram professional account" in by_account.stdout


REFUSALS = [
    (["not a handle!"], 2, "is neither an X handle (@name) nor a Facebook Page username"),
    (["@acme"], 2, "needs the X app's bearer token: give --account NAME"),
    (["@acme", "--token-env", "NOT_SET_ANYWHERE"], 2, "environment variable NOT_SET_ANYWHERE"),
    (["@acme", "--account", "good-fb"], 2, "'good-fb' is a Facebook account"),
    (["@nobody_here", "--account", "good-x"], 1, "X has no user @nobody_here"),
    (["@acme", "--account", "revoked-x"], 1, "rejected the token of account revoked-x (bearer_token_env)"),
    (["@acme", "--account", "standalone-x"], 1, "lacks a permission (client-not-enrolled)"),
    (["facebook.com/no.such.page", "--account", "good-fb"], 1, "aliases you requested do not exist"),
    (["acme.shop", "--account", "expired-fb"], 1, "rejected the token of account expired-fb (page_token_env)"),
    (["acme.shop", "--account", "throttled-fb"], 1, "is rate-limiting account throttled-fb (page_token_env) until"),
    (["acme.shop", "--account", "offline-fb"], 1, "cannot reach the Graph API at http://127.0.0.1:"),
]
"""What `accounts lookup` refuses, its exit status (2: the input or the options, 1: the API said no)
and what it says (the addresses it cannot use are in tests/unit/test_lookup.py)."""


async def test_lookup_refuses_what_it_cannot_use_and_says_why(apis: Apis) -> None:
    results = await asyncio.gather(*(run(apis, "accounts", "lookup", *args) for args, _, _ in REFUSALS))
    for (args, status, message), result in zip(REFUSALS, results, strict=True):
        assert result.returncode == status, (args, result.stdout + result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert not result.stdout, (args, result.stdout)
