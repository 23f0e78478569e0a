"""Done-when 4 of issue 19: over a scripted day on the fake X API, what `cost` counts equals what
the fake billed, to the unit (repeat reads of a UTC day, a restart and DMs included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp

from monitor.config import XAccount
from monitor.domain.cost import Prices
from monitor.poller import Poller, PollTarget
from monitor.simulator.x_api import FakeXApi, UserKeys
from monitor.sources.x import x_sources
from monitor.spending import account_costs
from monitor.store.store import Store
from tests.integration.helpers import engine_for

DAY = datetime(2026, 6, 1, tzinfo=UTC)
BRAND_ID, CUSTOMER_ID = "500", "900"
ENV = {"X_BEARER": "bearer", "X_CK": "ck", "X_CS": "cs", "X_AT": "500-access", "X_ATS": "ats"}


async def test_a_scripted_day_costs_what_the_fake_billed(store: Store) -> None:
    now = [DAY + timedelta(hours=8)]
    fake = FakeXApi(
        clock=lambda: now[0].timestamp(), limits={"mentions": 10_000, "tweets": 10_000, "dm_events": 10_000}
    )
    fake.add_user(BRAND_ID, "brand")
    fake.add_user(CUSTOMER_ID, "customer")
    fake.add_bearer_token(ENV["X_BEARER"])
    fake.add_user_keys(UserKeys(BRAND_ID, ENV["X_CK"], ENV["X_CS"], ENV["X_AT"], ENV["X_ATS"]))
    base = await fake.start()
    engine = await engine_for(store, ["brand-x"], now=DAY)
    engine.clock = lambda: now[0]
    account_id = next(iter(engine.accounts))
    account = XAccount(
        name="brand-x",
        channel="x",
        user_id=BRAND_ID,
        bearer_token_env="X_BEARER",
        api_base_url=base,
        dm=True,
        consumer_key_env="X_CK",
        consumer_secret_env="X_CS",
        access_token_env="X_AT",
        access_token_secret_env="X_ATS",
    )
    try:
        async with aiohttp.ClientSession() as session:

            async def poll_all(cursors: dict[str, str | None]) -> None:
                """One poll of every stream, as the poller does it (fetch, then ingest)."""
                poller = Poller(engine, [])
                for source in x_sources(account, session, environ=ENV, clock=lambda: now[0].timestamp()):
                    target = PollTarget(account_id, "brand-x", "brand", "x", source, 60.0)
                    batch, _ = await poller.poll_once(target, cursors.get(source.stream))
                    cursors[source.stream] = batch.cursor

            cursors: dict[str, str | None] = {}
            for hour in range(8, 20):  # a working day: questions, replies, DMs, a poll every half hour
                for half in (0, 30):
                    now[0] = DAY + timedelta(hours=hour, minutes=half)
                    q = fake.add_tweet(CUSTOMER_ID, f"@brand where is order {hour}{half}?", now[0], mentions=[BRAND_ID])
                    fake.add_tweet(BRAND_ID, "@customer on its way", now[0] + timedelta(seconds=5), reply_to=q)
                    fake.add_dm(CUSTOMER_ID, BRAND_ID, f"hello {hour}{half}?", now[0] + timedelta(seconds=7))
                    now[0] += timedelta(seconds=30)
                    await poll_all(cursors)
                if hour == 14:  # a restart that lost its cursors: every item of the day is read again
                    cursors = {}
            now[0] = DAY + timedelta(hours=23)
            await poll_all({})  # read everything again late in the same UTC day: nothing billed twice

        costs = await account_costs(store.pool, Prices(), DAY.date(), DAY.date())
    finally:
        await fake.stop()
    billed = {kind: n for (user, kind), n in fake.billed.items() if user == BRAND_ID}
    assert billed == {"owned_read": 48, "dm_event_read": 24}  # 24 mentions + 24 replies, 24 DMs
    assert len(costs) == 1
    assert costs[0].counts == billed
    assert abs(costs[0].dollars - (48 * 0.001 + 24 * 0.010)) < 1e-9
