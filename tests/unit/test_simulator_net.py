"""The fake servers serve on loopback until their `async with` ends."""

from __future__ import annotations

import aiohttp
import pytest

from monitor.simulator.slack import FakeSlack


async def test_a_fake_serves_inside_its_block_and_not_after() -> None:
    async with aiohttp.ClientSession() as session:
        async with FakeSlack() as slack, session.post(slack.hook_url(), json={"text": "hi"}) as r:
            assert (r.status, await r.text()) == (200, "ok")
        assert [m.payload for m in slack.messages] == [{"text": "hi"}]
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.post(slack.hook_url(), json={"text": "again"})
