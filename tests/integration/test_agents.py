"""Who answered: signed replies on the local X API attributed to their agents, a chatbot's
Messenger reply (its app marked automatic, told by Meta's webhook echo) closing no wait, and the
report's per-agent and per-team figures equal to a direct SQL computation."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import aiohttp
import asyncpg
import pypdf
import pytest

from monitor.app import prepare
from monitor.config import Config, XAccount, parse
from monitor.engine import Engine
from monitor.reports.build import ReportRequest, build_report
from monitor.reports.i18n import Words
from monitor.reports.model import AgentFigures, Report
from monitor.reports.period import parse_period
from monitor.reports.render import render
from monitor.secrets import EnvSecret
from monitor.server import Webhooks
from monitor.simulator.graph_api import FakeGraphApi, Person
from monitor.simulator.meta_webhooks import MetaWebhooks
from monitor.simulator.x_api import FakeXApi
from monitor.sources.echoes import read_echoes
from monitor.sources.webhooks import WebhookError, read_meta
from monitor.sources.x import build_x_sources
from monitor.store.db import create_pool, migrate
from monitor.store.reports import ReportStore
from monitor.store.store import Store
from tests.waiting import ROOT, cli, cli_env, eventually, free_port, in_thread, serving, start_cli, stop_cli

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


BRAND_ID, BRAND = "100", "shop"
X_ENV = {"X_BEARER": "app-bearer-token"}
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
"""The X scenario's first question: yesterday (the report's period is the last seven days)."""

ROSTER: list[dict[str, Any]] = [
    {"name": "Jane Doe", "signatures": ["JD"], "team": "care"},
    {"name": "Bettina Roy", "signatures": ["Bettina"], "team": "care"},
    {"name": "Jehanne Martin", "signatures": ["Jeh"], "team": "social"},
    {"name": "Ana Barros", "signatures": ["AB"], "team": "social"},
]

# (reply text, minutes to answer, agent, team): each reply answers one customer's question.
SIGNED = [
    ("Sorry about that, a new card is on its way ^JD", 5, "Jane Doe", "care"),
    ("On it, check your DMs ^Jen", 12, "Jen", None),  # not in the roster: her signature, no team
    ("Refund sent, sorry for the wait -Bettina", 45, "Bettina Roy", "care"),
    ("C'est réglé, bonne journée –Jeh", 8, "Jehanne Martin", "social"),
    ("Merci, c'est noté /AB", 20, "Ana Barros", "social"),
    ("We have escalated this — JD", 40, "Jane Doe", "care"),
    ("Thanks for waiting, it ships today ^Jen", 3, "Jen", None),
]
UNSIGNED = [
    ("Yeah, our app is *totally* fast today /s", 3),
    ("It should be back in an hour-ish -ish", 7),
    ("Glad it works now ^^", 50),
    ("Everything is explained on https://help.shop.example/AB", 15),
    ("Sorry about that :-D", 25),
    ("We are looking into it, please DM us your order number", 31),
]


def x_scenario(fake: FakeXApi) -> dict[str, tuple[str | None, str | None]]:
    """Customers' questions to @shop, each answered by one reply; reply id -> (agent, team)."""
    fake.add_user(BRAND_ID, BRAND)
    out: dict[str, tuple[str | None, str | None]] = {}
    script: list[tuple[str, int, str | None, str | None]] = [*SIGNED]
    script += [(text, minutes, None, None) for text, minutes in UNSIGNED]
    for i, (text, minutes, agent, team) in enumerate(script):
        customer = str(5000 + i)
        fake.add_user(customer, f"cust{i}")
        asked = START + timedelta(minutes=90 * i)
        question = fake.add_tweet(
            customer, f"@{BRAND} my order {100000 + i} never arrived, can you help?", asked, mentions=[BRAND_ID]
        )
        reply = fake.add_tweet(BRAND_ID, f"@cust{i} {text}", asked + timedelta(minutes=minutes), reply_to=question)
        out[str(reply)] = (agent, team)
    return out


def x_config(base_url: str, roster: list[dict[str, Any]] = ROSTER) -> Config:
    account = {
        "name": "shop-x",
        "channel": "x",
        "user_id": BRAND_ID,
        "handle": BRAND,
        "bearer_token_env": "X_BEARER",
        "api_base_url": base_url,
    }
    return parse(
        {
            "policies": {
                "default": {
                    "public": {"first": "30m", "next": "1h"},
                    "private": {"first": "1h", "next": "2h"},
                    "business_hours_only": False,
                }
            },
            "brands": [{"name": "shop", "accounts": [account]}],
            "agents": roster,
        },
        environ=X_ENV,
    )


async def read_x(fake: FakeXApi, store: Store, config: Config) -> Engine:
    """Every stream of @shop read from the local X API and ingested."""
    engine, ids = await prepare(config, store)
    [(_, account)] = config.accounts()
    assert isinstance(account, XAccount)
    async with aiohttp.ClientSession() as session:
        for source in build_x_sources(account, session, environ=X_ENV):
            cursor: str | None = None
            while True:
                batch = await source.fetch(cursor)
                await engine.ingest(ids["shop-x"], source.stream, batch.messages, batch.cursor)
                cursor = batch.cursor
                if not batch.more:
                    break
    return engine


async def stored_senders(store: Store) -> dict[str, tuple[str | None, str | None]]:
    async with store.pool.acquire() as conn:
        found = await conn.fetch("SELECT external_id, agent, team FROM messages WHERE direction = 'outbound'")
    return {r["external_id"]: (r["agent"], r["team"]) for r in found}


async def test_every_signed_reply_is_attributed_and_no_unsigned_one(store: Store) -> None:
    fake = FakeXApi()
    await fake.start()
    fake.add_bearer_token(X_ENV["X_BEARER"])
    try:
        expected = x_scenario(fake)
        await read_x(fake, store, x_config(fake.base_url))
    finally:
        await fake.stop()
    async with store.pool.acquire() as conn:
        closing = {r[0] for r in await conn.fetch("SELECT closed_message FROM waits WHERE closed_at IS NOT NULL")}
    assert await stored_senders(store) == expected
    assert closing == set(expected)  # every reply answers its question

    # The roster changes (Jen joins it); a recompute applies it to the stored replies.
    jen = {"name": "Jen Park", "signatures": ["Jen"], "team": "social"}
    again, _ = await prepare(x_config(fake.base_url, roster=[*ROSTER, jen]), store)
    assert await again.recompute_since(START - timedelta(days=1)) == len(expected)
    assert await stored_senders(store) == {
        k: ("Jen Park", "social") if v == ("Jen", None) else v for k, v in expected.items()
    }


# The figures computed directly from the stored waits and the replies that closed them (the report
# reads the same tables its own way: GROUPING SETS over the answered waits of its cohort).
DIRECT_SQL = """
    SELECT m.agent, m.team, count(*) AS answers,
           count(*) FILTER (WHERE w.closed_at <= w.deadline) AS within_sla,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY w.wall_seconds) AS median,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY w.wall_seconds) AS p90
    FROM waits w JOIN messages m ON m.account_id = w.account_id AND m.external_id = w.closed_message
    WHERE w.closed_at IS NOT NULL AND m.agent IS NOT NULL
    GROUP BY 1, 2
"""
DIRECT_TEAM_SQL = """
    SELECT m.agent IS NOT NULL AS signed, CASE WHEN m.agent IS NOT NULL THEN m.team END AS team,
           count(*) AS answers, count(*) FILTER (WHERE w.closed_at <= w.deadline) AS within_sla,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY w.wall_seconds) AS median,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY w.wall_seconds) AS p90
    FROM waits w JOIN messages m ON m.account_id = w.account_id AND m.external_id = w.closed_message
    WHERE w.closed_at IS NOT NULL
    GROUP BY 1, 2
"""


def figures(f: AgentFigures) -> tuple[int, int, float | None, float | None]:
    return f.answers, f.within_sla, f.median_seconds, f.p90_seconds


async def test_the_agent_and_team_tables_equal_a_direct_sql_computation(store: Store) -> None:
    fake = FakeXApi()
    await fake.start()
    fake.add_bearer_token(X_ENV["X_BEARER"])
    try:
        x_scenario(fake)
        await read_x(fake, store, x_config(fake.base_url))
    finally:
        await fake.stop()
    now = datetime.now(UTC)
    period = parse_period("last-7-days", now=now, timezone="UTC")
    report = await build_report(ReportStore(store.pool), ReportRequest(period, hours="wall"), as_of=now)
    async with store.pool.acquire() as conn:
        direct = {(r["agent"], r["team"]): tuple(r)[2:] for r in await conn.fetch(DIRECT_SQL)}
        direct_teams = {(r["signed"], r["team"]): tuple(r)[2:] for r in await conn.fetch(DIRECT_TEAM_SQL)}
    assert {(a.agent, a.team): figures(a) for a in report.agents} == direct
    assert {(t.signed, t.team): figures(t) for t in report.teams} == direct_teams
    # And both are what the script says: Jane Doe answered in 5 and 40 minutes (the target is 30).
    jane = next(a for a in report.agents if a.agent == "Jane Doe")
    minutes = [m for _, m, agent, _ in SIGNED if agent == "Jane Doe"]
    assert figures(jane) == (2, 1, statistics.median(minutes) * 60, (5 + 0.9 * (40 - 5)) * 60)
    assert [t.team for t in report.teams] == ["care", "social", None, None]  # (no team), then unsigned
    assert report.teams[-1].signed is False and report.teams[-1].answers == len(UNSIGNED)
    assert [a.agent for a in report.agents] == ["Jane Doe", "Bettina Roy", "Ana Barros", "Jehanne Martin", "Jen"]
    assert_rendered(report)
    async with store.pool.acquire() as conn:
        panel = await conn.fetch(team_panel_sql(period.start, now))
    shown = {
        r["Team"]: (r["Answers"], r["Median response"], r["p90 response"], round(float(r["Within SLA"]), 12))
        for r in panel
    }
    assert shown == {
        ((t.team or "(no team)") if t.signed else "(unsigned)"): (
            t.answers,
            t.median_seconds,
            t.p90_seconds,
            round(t.within_sla / t.answers, 12),  # PostgreSQL's avg of integers is a numeric
        )
        for t in report.teams
    }


def team_panel_sql(start: datetime, end: datetime) -> str:
    """The SLA dashboard's "Answers by team" query, as Grafana sends it for brand shop on X over
    [start, end] (its macros and variables substituted)."""
    board = json.loads((ROOT / "grafana" / "dashboards" / "inbox-sla.json").read_text(encoding="utf-8"))
    [panel] = [p for p in board["panels"] if p.get("title") == "Answers by team"]
    sql = str(panel["targets"][0]["rawSql"])
    sql = sql.replace("${brand:sqlstring}", "'shop'").replace("${channel:sqlstring}", "'x'")
    return re.sub(
        r"\$__timeFilter\(([^)]+)\)", lambda m: f"{m[1]} BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'", sql
    )


def one_line(text: str) -> str:
    """`text` with every run of spaces (no-break ones too, as French typesetting puts) one space."""
    return " ".join(text.split())


def assert_rendered(report: Report) -> None:
    """The table in the PDF and the HTML in French and English, and in the CSV and JSON."""
    for language in ("fr", "en"):
        words = Words(language)
        title, unsigned, no_team = (one_line(words(k)) for k in ("by_agent", "unsigned", "no_team"))
        html = one_line(render(report, "html", language).decode())
        assert title in html and "Jehanne Martin" in html and unsigned in html
        pdf = pypdf.PdfReader(io.BytesIO(render(report, "pdf", language)))
        text = one_line(" ".join(page.extract_text() for page in pdf.pages))
        assert title in text and "Jehanne Martin" in text and no_team in text
    lines = list(csv.DictReader(io.StringIO(render(report, "csv").decode())))
    jane = next(r for r in lines if r["scope"] == "agent" and r["agent"] == "Jane Doe")
    assert (jane["team"], jane["answers"], jane["within_sla"]) == ("care", "2", "1")
    assert float(jane["median_response_seconds"]) == pytest.approx(1350.0)
    assert [r["team"] for r in lines if r["scope"] == "team"] == ["care", "social", ""]
    assert [r["answers"] for r in lines if r["scope"] == "unsigned"] == [str(len(UNSIGNED))]
    data = json.loads(render(report, "json"))
    assert [a["agent"] for a in data["agents"]] == [a.agent for a in report.agents]


def echo_delivery(mid: str, app_id: int, at: float) -> bytes:
    """A Page delivery holding one message echo, as Meta sends it (times in milliseconds)."""
    event = {
        "sender": {"id": PAGE},
        "recipient": {"id": "9001"},
        "timestamp": int(at * 1000),
        "message": {"is_echo": True, "app_id": app_id, "mid": mid, "text": "hi"},
    }
    return json.dumps(
        {"object": "page", "entry": [{"id": PAGE, "time": int(at * 1000), "messaging": [event]}]}
    ).encode()


async def test_echoes_are_stored_even_late_once_each_and_a_failure_is_retried(database_url: str) -> None:
    """A delivery's echoes are stored before its nudge; an old one (Meta's retry after an outage) is
    stored though it nudges nothing; a replay stores nothing new; when PostgreSQL fails the delivery
    is refused with a 503 and its retry is not taken for a replay."""
    pool = await create_pool(database_url, min_size=1, max_size=2)
    await migrate(pool)
    config = parse(
        {
            "policies": {
                "default": {"public": {"first": "30m", "next": "1h"}, "private": {"first": "1h", "next": "2h"}}
            },
            "brands": [
                {
                    "name": "shop",
                    "accounts": [{"name": "shop-fb", "channel": "facebook", "page_id": PAGE, "source": "demo"}],
                }
            ],
            "apps": [{"app_id": CHATBOT, "name": "chatbot", "automatic": True}],
        },
        environ={},
    )
    engine, ids = await prepare(config, Store(pool))
    nudged: list[tuple[int, tuple[str, ...]]] = []

    async def deliver(account_id: int, streams: Sequence[str]) -> None:
        nudged.append((account_id, tuple(streams)))

    now = time.time()
    hooks = Webhooks(
        facebook_verify_token=EnvSecret(None),
        facebook_app_secrets=[],
        x_consumer_secret=EnvSecret(None),
        accounts={("facebook", PAGE): [ids["shop-fb"]]},
        deliver=deliver,
        record_apps=engine.record_apps,
        clock=lambda: now,
    )

    async def act(body: bytes) -> Any:
        answer = await hooks.act("facebook", body, read_meta(body), read_echoes(body))
        return json.loads(cast(bytes, answer.body))["status"]

    async def apps() -> dict[str, str]:
        found = await rows(database_url, "SELECT external_id, app_id FROM message_apps")
        return {r["external_id"]: r["app_id"] for r in found}

    fresh, old = echo_delivery("m_1", int(CHATBOT), now - 5), echo_delivery("m_2", int(CHATBOT), now - 7200)
    assert await act(fresh) == "ok" and await apps() == {"m_1": CHATBOT}
    assert nudged == [(ids["shop-fb"], ("facebook.messenger",))]
    assert await act(old) == "stale" and await apps() == {"m_1": CHATBOT, "m_2": CHATBOT}
    assert await act(fresh) == "replayed" and len(nudged) == 1
    await pool.close()
    down = echo_delivery("m_3", int(CHATBOT), now - 1)
    with pytest.raises(WebhookError) as refused:
        await act(down)
    assert (refused.value.status, refused.value.result) == (503, "unavailable")
    assert hooks.replays.first_time(down, time.monotonic())  # Meta's retry is acted on
    assert len(nudged) == 1  # nothing nudged without its apps


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
