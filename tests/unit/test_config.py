"""Configuration: durations, the example file, every problem reported with its location."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import ConfigError, NoConfiguration, load, parse_duration
from tests.integration.helpers import SHOP_TOML

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"
EXAMPLE_ENV = {
    "ACME_X_BEARER_TOKEN": "b",
    "ACME_X_CONSUMER_KEY": "k",
    "ACME_X_CONSUMER_SECRET": "s",
    "ACME_X_ACCESS_TOKEN": "t",
    "ACME_X_ACCESS_TOKEN_SECRET": "ts",
    "ACME_FB_PAGE_TOKEN": "p",
    "ACME_FB_APP_SECRET": "a",
    "SMTP_PASSWORD": "m",
}

BROKEN = """
[database]
pool_min_size = 0

[policies.default]
public = { first = "30 minutes", next = "1h" }
private = { first = "1h" }

[policies.default.calendar]
timezone = "Europe/Pariss"
hours = { mon = ["09:00-18:00"] }

[[brands]]
name = "acme"

[[brands.accounts]]
name = "acme-x"
channel = "x"
user_id = "123"
bearer_token_env = "UNSET_TOKEN_VAR"

[[brands.accounts]]
name = "acme-fb"
channel = "facebook"
page_token_env = "FB_TOKEN"
policy = "nope"

[[brands.accounts]]
name = "acme-x"
channel = "mastodon"
"""

EXPECTED = [
    "database.pool_min_size: input should be greater than or equal to 1",
    "policies.default.public.first: '30 minutes' is not a duration",
    "policies.default.private.next: field required",
    "brands[0].accounts[1].page_id: field required",
    "brands[0].accounts[2].channel: channel must be 'x', 'facebook' or 'instagram'",
    "brands[0].accounts[0].bearer_token_env: environment variable UNSET_TOKEN_VAR (or UNSET_TOKEN_VAR_FILE) is not set",
    "brands[0].accounts[1].policy: no policy named 'nope' (known: default)",
    "brands[0].accounts[2].name: 'acme-x' is already the name of brands[0].accounts[0]",
    "policies.default.calendar:",
]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("1h30m", 5400), ("2d", 172800), ("45s", 45), ("1.5h", 5400), (90, 90)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "30", "30 minutes", "1x", "-5m", "0s", True, None])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_example_config_is_valid() -> None:
    config = load(EXAMPLE, environ=EXAMPLE_ENV)
    assert [a.name for _, a in config.accounts()] == ["acme-x", "acme-facebook", "acme-instagram"]
    assert [a.external_id for _, a in config.accounts()] == ["1234567890", "101234567890123", "17841401234567890"]
    policy = config.policy("default")
    assert policy.targets_for("x", "public").first == 900
    assert policy.targets_for("facebook", "public").first == 1800
    assert policy.targets_for("x", "public", ["je veux un remboursement"]).first == 600
    assert [r.name for r in config.reports] == ["weekly-directors"]


def test_example_config_has_two_peers_with_the_brands_defaults() -> None:
    config = load(EXAMPLE, environ=EXAMPLE_ENV)
    peers = config.peers()
    assert [(p.handle, p.label, p.daily_reads) for p in peers] == [
        ("globex", "globex", 500),
        ("InitechCare", "initech", 300),
    ]
    assert {(p.brand, p.policy, p.bearer_token_env) for p in peers} == {("acme", "default", "ACME_X_BEARER_TOKEN")}
    assert [p.account_name for p in peers] == ["peer:acme:globex", "peer:acme:initech"]


PEERS = """
[policies.default]
public = { first = "30m", next = "1h" }
private = { first = "1h", next = "2h" }

[[brands]]
name = "acme"

[[brands.accounts]]
name = "acme-x"
channel = "x"
user_id = "123"
handle = "Acme"
bearer_token_env = "TOKEN"

[[brands.peers]]
handle = "rival corp"

[[brands.peers]]
handle = "@acme"

[[brands.peers]]
handle = "globex"
daily_reads = 5

[[brands.peers]]
handle = "@GLOBEX"
policy = "nope"

[[brands.peers]]
handle = "other"
user_id = "123"
bearer_token_env = "UNSET"

[[brands]]
name = "fb-only"

[[brands.accounts]]
name = "fb"
channel = "facebook"
page_id = "1"
page_token_env = "TOKEN"

[[brands.peers]]
handle = "rival"
"""


def test_peers_are_checked_each_problem_named_where(tmp_path: Path) -> None:
    path = tmp_path / "peers.toml"
    path.write_text(PEERS)
    with pytest.raises(ConfigError) as err:
        load(path, environ={"TOKEN": "t"})
    problems = [str(p) for p in err.value.problems]
    for expected in [
        "brands[0].peers[0].handle: 'rival corp' is not an X handle (1 to 15 letters, digits or underscores",
        "brands[0].peers[1].handle: @acme is the brand's own account (brands[0].accounts[0])",
        "brands[0].peers[2].daily_reads: input should be greater than or equal to 10",
        "brands[0].peers[3].handle: @globex is already a peer of this brand (brands[0].peers[2])",
        "brands[0].peers[3].policy: no policy named 'nope' (known: default)",
        "brands[0].peers[4].handle: @other is the brand's own account (brands[0].accounts[0])",
        "brands[0].peers[4].bearer_token_env: environment variable UNSET (or UNSET_FILE) is not set",
        "brands[1].peers[0].bearer_token_env: field required: the brand has no X account whose bearer token",
    ]:
        assert any(p.startswith(expected) for p in problems), f"missing {expected!r} in:\n" + "\n".join(problems)
    assert len(problems) == 8, problems


def test_example_config_names_missing_secrets() -> None:
    with pytest.raises(ConfigError) as err:
        load(EXAMPLE, environ={})
    assert (
        "brands[0].accounts[1].page_token_env: environment variable ACME_FB_PAGE_TOKEN"
        " (or ACME_FB_PAGE_TOKEN_FILE) is not set"
    ) in str(err.value)
    assert (
        "brands[0].accounts[2].page_token_env: environment variable ACME_FB_PAGE_TOKEN"
        " (or ACME_FB_PAGE_TOKEN_FILE) is not set"
    ) in str(err.value)
    assert len(err.value.problems) == len(EXAMPLE_ENV) + 2  # the Instagram account reads the Page's two


def test_every_problem_is_listed_with_its_location(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError) as err:
        load(path, environ={"FB_TOKEN": "x"})
    text = str(err.value)
    for expected in EXPECTED:
        assert expected in text, f"missing {expected!r} in:\n{text}"


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[database]\nurl_env = \n")
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 2"):
        load(path, environ={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load(tmp_path / "nope.toml", environ={})


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text(EXAMPLE.read_text().replace('poll_interval = "1m"', 'poll_intervall = "1m"'))
    with pytest.raises(ConfigError, match=r"brands\[0\]\.accounts\[0\]\.poll_intervall: extra inputs"):
        load(path, environ=EXAMPLE_ENV)


def test_there_is_no_builtin_configuration(tmp_path: Path) -> None:
    with pytest.raises(NoConfiguration, match=r"--config FILE or \$INBOX_MONITOR_CONFIG"):
        load(None, environ={})
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(missing))} \(named by \$INBOX_MONITOR_CONFIG\)"):
        load(None, environ={"INBOX_MONITOR_CONFIG": str(missing)})


def test_report_schedules_name_missing_secrets(tmp_path: Path) -> None:
    path = tmp_path / "reports.toml"
    path.write_text(
        EXAMPLE.read_text()
        + """
[[reports]]
name = "weekly"
cron = "0 8 * * mon"
timezone = "Europe/Paris"
period = "last-week"
slack = { webhook_url_env = "WEEKLY_SLACK_URL" }
"""
    )
    missing = r"reports\[1\]\.slack\.webhook_url_env: environment variable WEEKLY_SLACK_URL"
    with pytest.raises(ConfigError, match=missing):
        load(path, environ=EXAMPLE_ENV)
    assert load(path, environ={**EXAMPLE_ENV, "WEEKLY_SLACK_URL": "https://hooks.slack.test/x"}).reports


def test_an_instagram_account_needs_its_ids_and_the_page_token(tmp_path: Path) -> None:
    path = tmp_path / "ig.toml"
    account = '[[brands.accounts]]\nname = "shop-ig"\nchannel = "instagram"\npage_id = "1001"\n'
    path.write_text(SHOP_TOML.format(accounts=account))
    with pytest.raises(ConfigError) as err:
        load(path, environ={})
    assert [str(p) for p in err.value.problems] == [
        "brands[0].accounts[0].ig_user_id: field required",
        (
            "brands[0].accounts[0].page_token_env: field required (the name of the environment variable that holds"
            " this secret)"
        ),
    ]
