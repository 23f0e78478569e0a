"""Local endpoints: an app served on loopback until the `async with` ends, and the fakes likewise."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from monitor.simulator.net import LocalServer
from monitor.simulator.slack import FakeSlack


async def test_an_app_is_served_on_a_port_of_its_own_until_the_block_ends() -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    async with aiohttp.ClientSession() as session:
        async with LocalServer(app) as url:
            assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
            async with session.get(url) as r:
                assert (r.status, await r.text()) == (200, "hello")
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(url)


async def test_a_fake_serves_inside_its_block_and_not_after() -> None:
    async with aiohttp.ClientSession() as session:
        async with FakeSlack() as slack:
            assert slack.port and slack.url == f"http://127.0.0.1:{slack.port}"
            async with session.post(slack.hook_url(), json={"text": "hi"}) as r:
                assert (r.status, await r.text()) == (200, "ok")
        assert slack.port == 0 and [m.payload for m in slack.messages] == [{"text": "hi"}]
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.post(slack.hook_url(), json={"text": "again"})
