"""Sources: every account's streams behind the one interface of `monitor.sources.base`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.sources.base import Source

if TYPE_CHECKING:
    import aiohttp

    from monitor.config import AnyAccount
    from monitor.sources.instagram import MentionsInbox


def build_sources(
    account: AnyAccount, session: aiohttp.ClientSession, *, mentions: MentionsInbox | None = None
) -> list[Source]:
    """The streams to poll for one configured account (`mentions`: the @mentions an Instagram
    account's webhooks named)."""
    if account.source == "demo":  # imported here, as the others: it brings the simulator's texts
        from monitor.sources.demo import DemoSource

        return [DemoSource(account.name, account.channel, seed=account.demo_seed, per_minute=account.demo_per_minute)]
    if account.channel == "x":
        from monitor.sources.x import build_x_sources

        return build_x_sources(account, session)
    if account.channel == "instagram":
        from monitor.sources.instagram import build_instagram_sources

        return build_instagram_sources(account, session, mentions=mentions)
    from monitor.sources.facebook import build_facebook_sources

    return build_facebook_sources(account, session)
