"""What `accounts lookup` makes of what a person types, and the lines it prints to paste."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.lookup import Credentials, Target, TargetError, failure_text, parse_target, render_text, toml_lines
from monitor.sources.base import PermissionMissing, RateLimited
from monitor.sources.facebook.lookup import FacebookPage
from monitor.sources.x.lookup import XUser


@pytest.mark.parametrize(
    ("typed", "channel", "ref"),
    [
        ("@acme", "x", "acme"),
        ("  @Acme_Support  ", "x", "Acme_Support"),
        ("https://x.com/AcmeSupport", "x", "AcmeSupport"),
        ("https://twitter.com/acme/status/1234567890", "x", "acme"),
        ("mobile.twitter.com/acme", "x", "acme"),
        ("https://www.facebook.com/acme.shop", "facebook", "acme.shop"),
        ("https://www.facebook.com/acme.shop/?ref=page_internal", "facebook", "acme.shop"),
        ("m.facebook.com/acmeshop", "facebook", "acmeshop"),
        ("facebook.com/profile.php?id=100064123456789", "facebook", "100064123456789"),
        ("https://www.facebook.com/profile.php?id=100064123456789&sk=about", "facebook", "100064123456789"),
        ("https://www.facebook.com/pages/Acme-Shop/102345678901234", "facebook", "102345678901234"),
        ("https://www.facebook.com/pages/category/Shopping/Acme-Shop-102345678901234/", "facebook", "102345678901234"),
        ("https://www.facebook.com/people/Acme-Shop/100064123456789/", "facebook", "100064123456789"),
        ("https://www.facebook.com/p/Acme-Shop-100064123456789/", "facebook", "100064123456789"),
        ("https://www.facebook.com/Acme-Shop-102345678901234/", "facebook", "102345678901234"),
        ("https://fb.com/acme.shop", "facebook", "acme.shop"),
        ("acme.shop", "facebook", "acme.shop"),
        ("102345678901234", "facebook", "102345678901234"),
    ],
)
def test_handles_and_page_addresses_become_targets(typed: str, channel: str, ref: str) -> None:
    assert parse_target(typed) == Target(channel, ref)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "nothing to look up"),
        ("@", "is not an X handle"),
        ("@far_too_long_for_x", "1 to 15 letters, digits or _"),
        ("@acme.shop", "is not an X handle"),
        ("acme_support", "(an X handle? write @acme_support)"),
        ("not a handle!", "is neither an X handle (@name) nor a Facebook Page username"),
        ("https://x.com/i/web/status/123", "is not an X account's address"),
        ("https://x.com/", "is not an X account's address"),
        ("https://www.facebook.com/", "names no Page"),
        ("https://www.facebook.com/groups/123456", "is a Facebook group, not a Page"),
        ("https://www.facebook.com/events/123456", "is a Facebook event, not a Page"),
        ("https://www.facebook.com/share/abc123/", "is a Facebook share link, not a Page"),
        ("https://www.facebook.com/profile.php", "profile.php without a numeric id="),
        ("https://www.facebook.com/pages/Acme-Shop", "holds no Page id"),
        ("https://www.facebook.com/acme_shop", "is not a Page username"),
        ("https://example.com/acme", "is not an X or Facebook address"),
        ("ftp://facebook.com/acme", "is not a web address"),
        ("@" + "a" * 3000, "longer than 2000 characters"),
    ],
)
def test_what_is_neither_is_refused_with_the_reason(typed: str, message: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse_target(typed)
    assert message in str(caught.value), str(caught.value)


def test_the_lines_to_paste_name_the_account() -> None:
    user = XUser("1001", "AcmeSupport", "Acme Support", protected=False)
    assert toml_lines(user) == ['channel = "x"', 'user_id = "1001"', 'handle = "AcmeSupport"']
    page = FacebookPage("5001", "Acme", "acme.shop", instagram_id="17841400000000001")
    text = render_text(page)
    assert '  channel = "facebook"\n  page_id = "5001"\n' in text
    assert '  channel = "instagram"\n  page_id = "5001"\n  ig_user_id = "17841400000000001"\n' in text
    unread = render_text(FacebookPage("5001", "Acme", None, instagram_error="permission missing: instagram_basic"))
    assert "Its Instagram account could not be read: permission missing: instagram_basic" in unread


def test_a_failure_says_what_where_and_with_which_token() -> None:
    target, credentials = Target("facebook", "acme.shop"), Credentials("FB_TOKEN", "--token-env FB_TOKEN")
    now = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    limited = failure_text(
        RateLimited("Graph error 32", retry_after=600, endpoint="/acme.shop"), target, credentials, now
    )
    assert limited == (
        "looking up the Facebook Page 'acme.shop': the Graph API (/acme.shop) is rate-limiting --token-env FB_TOKEN "
        "until 2026-12-05 10:10:00 UTC: Graph error 32"
    )
    denied = failure_text(
        PermissionMissing("403", permission="client-not-enrolled"), Target("x", "acme"), credentials, now
    )
    assert "looking up @acme: the X API says the token of --token-env FB_TOKEN lacks a permission" in denied
