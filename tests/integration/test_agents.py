"""Who answered: signed replies on the local X API attributed to their agents, a chatbot's
Messenger reply (its app marked automatic, told by Meta's webhook echo) closing no wait, and the
report's per-agent and per-team figures equal to a direct SQL computation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import asyncpg

from monitor.simulator.graph_api import FakeGraphApi, Person
from monitor.simulator.meta_webhooks import MetaWebhooks
from tests.waiting import cli, cli_env, eventually, free_port, in_thread, serving, start_cli, stop_cli

PAGE = "1001"
APP_SECRET = "agents-test-app-secret"
CHATBOT = "555000111"

MESSENGER_TOML = """
[server]
listen = "127.0.0.1:{port}"

[server.webhooks]
facebook_app_secret_env = "AGENTS_TEST_APP_SECRET"

[policies.default]
public = {{ first = "30m", next = "1h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false

[[agents]]
name = "Bettina Roy"
signatures = ["Bettina"]
team = "care"

[[apps]]
app_id = "100000000000001"
name = "native inbox"

[[apps]]
app_id = "{chatbot}"
name = "chatbot"
automatic = true

[[brands]]
name = "shop"
[[brands.accounts]]
name = "shop-fb"
channel = "facebook"
page_id = "{page}"
page_token_env = "AGENTS_TEST_PAGE_TOKEN"
api_base_url = "{graph}"
poll_interval = "1h"
"""


def chatbot(api: FakeGraphApi, conversation: str, at: datetime) -> str:
    """The chatbot's instant answer, sent by its app."""
    return api.add_message(
        conversation, at, "Bonjour ! Un conseiller vous répond bientôt.", from_page=True, app_id=CHATBOT
    )


async def rows(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def wait_of(url: str, question: str) -> Callable[[], Awaitable[asyncpg.Record | None]]:
    """The stored wait opened by `question` (None until there is one)."""

    async def read() -> asyncpg.Record | None:
        found = await rows(
            url,
            "SELECT closed_message, wall_seconds FROM waits WHERE opened_message = $1",
            question,
        )
        return found[0] if found else None

    return read


async def test_a_reply_by_an_automatic_app_does_not_close_the_wait(tmp_path: Path, database_url: str) -> None:
    """inbox-monitor run against the local Graph API, Meta's echoes sent to its webhook: the chatbot
    answers at once, Bettina 50 s later through the Page inbox; the wait lasts 50 s. An echo that
    comes after its reply was polled reopens the wait the chatbot had closed."""
    api = FakeGraphApi()
    api.add_page(PAGE, token="page-token", name="Shop")
    graph = await api.start()
    port = free_port()
    hooks = MetaWebhooks(api, f"http://127.0.0.1:{port}/webhooks/facebook", APP_SECRET)
    config = tmp_path / "shop.toml"
    config.write_text(MESSENGER_TOML.format(port=port, page=PAGE, graph=graph, chatbot=CHATBOT))
    env = cli_env(
        INBOX_MONITOR_DATABASE_URL=database_url,
        INBOX_MONITOR_CONFIG=str(config),
        AGENTS_TEST_APP_SECRET=APP_SECRET,
        AGENTS_TEST_PAGE_TOKEN="page-token",
    )
    proc = start_cli("run", env=env, log=tmp_path / "run.log")
    try:
        await eventually(in_thread(serving(proc, port)), timeout=60, what="inbox-monitor serving")

        async def first_poll() -> bool:
            done = await rows(
                database_url, "SELECT 1 FROM poll_state WHERE stream = 'facebook.messenger' AND status = 'ok'"
            )
            return bool(done)

        await eventually(first_poll, timeout=60, what="the first Messenger poll")

        now = datetime.now(UTC).replace(microsecond=0)
        # The echoes come before the poll (Meta sends them as the replies leave; they nudge the poll).
        one = api.add_conversation(PAGE, Person("9001", "Camille"))
        q1 = api.add_message(one, now - timedelta(seconds=60), "Bonjour, où en est ma commande 123456 ?")
        bot1 = chatbot(api, one, now - timedelta(seconds=55))
        human1 = api.add_message(
            one, now - timedelta(seconds=10), "Elle part aujourd'hui, suivi envoyé par e-mail -Bettina", from_page=True
        )
        two = api.add_conversation(PAGE, Person("9002", "Hugo"))
        q2 = api.add_message(two, now - timedelta(seconds=60), "Hello, my parcel is lost, can you help?")
        api.add_message(
            two, now - timedelta(seconds=58), "Hi! An agent will answer soon.", from_page=True, app_id=CHATBOT
        )
        assert await hooks.echoes() == 3
        assert hooks.sent and set(hooks.sent) == {200}

        closed = cast(
            asyncpg.Record,
            await eventually(
                lambda: _closed(wait_of(database_url, q1)), timeout=60, what="the first conversation's wait, closed"
            ),
        )
        assert (closed["closed_message"], closed["wall_seconds"]) == (human1, 50.0)
        still = cast(
            asyncpg.Record,
            await eventually(wait_of(database_url, q2), timeout=30, what="the second conversation's wait"),
        )
        assert still["closed_message"] is None  # the chatbot's reply closes nothing
        stored = {
            r["external_id"]: tuple(r)[1:]
            for r in await rows(
                database_url,
                "SELECT external_id, is_automatic, reason, agent, team, app, app_id FROM messages"
                " WHERE external_id = ANY($1::text[])",
                [bot1, human1],
            )
        }
        assert stored[bot1] == (True, "app:automatic", None, None, "chatbot", CHATBOT)
        assert stored[human1] == (False, None, "Bettina Roy", "care", "native inbox", "100000000000001")

        # The echo comes after the poll: the chatbot's reply first closes the wait, then its echo
        # reopens it.
        three = api.add_conversation(PAGE, Person("9003", "Léa"))
        q3 = api.add_message(three, now - timedelta(seconds=30), "Bonjour, je n'ai pas reçu mon remboursement")
        bot3 = chatbot(api, three, now - timedelta(seconds=25))
        await hooks.messages([q3])  # a customer's message: the stream polls now, no echo yet
        early = cast(
            asyncpg.Record,
            await eventually(lambda: _closed(wait_of(database_url, q3)), timeout=60, what="the third wait"),
        )
        assert early["closed_message"] == bot3
        await hooks.echoes([bot3])

        async def reopened() -> bool:
            w = await wait_of(database_url, q3)()
            return w is not None and w["closed_message"] is None

        await eventually(reopened, timeout=30, what="the third wait reopened by the echo")

        shown = await asyncio.to_thread(cli, "explain", human1, "--account", "shop-fb", env=env)
        assert shown.returncode == 0, shown.stderr
        assert "Bettina Roy (care) via native inbox" in shown.stdout
        assert "via chatbot" in shown.stdout and "app:automatic" in shown.stdout
    finally:
        await asyncio.to_thread(stop_cli, proc)
        await api.stop()


async def _closed(read: Callable[[], Awaitable[asyncpg.Record | None]]) -> asyncpg.Record | None:
    w = await read()
    return w if w is not None and w["closed_message"] is not None else None
