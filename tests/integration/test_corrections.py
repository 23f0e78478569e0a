"""Decisions, their reasons and people's corrections, through a real PostgreSQL.

- The decision and reason of every message of a thread do not depend on the order or the
  duplication of its ingest, and are those of the pure domain.
- A correction overrides the rules in later ingests and in `recompute`; back to the rules gives
  the rules' waits.
- `explain` shows a thread, its decisions with their reasons, and its waits.
- `mark` refuses an unknown id, an id of several accounts without --account, a message of another
  account and an outbound message, and changes nothing; the labels API checks its token, body and
  message the same way.
- `labels export` writes a TSV that scripts/question_eval.py --data reads unchanged.
- End to end: `mark` (another process) and the labels API change a running monitor's /metrics and
  the waits in PostgreSQL within 2 s; marking back restores the waits exactly.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from monitor.app import prepare
from monitor.config import Config, parse
from monitor.domain.model import Direction, Message, ThreadInfo, ThreadKind
from monitor.domain.outcomes import Flags
from monitor.engine import Engine, thread_outcome
from monitor.metrics import Metrics
from monitor.secrets import EnvSecret
from monitor.server import API_BODY_MAX, HttpServer
from monitor.simulator.x_api import FakeXApi
from monitor.store import nudges
from monitor.store.labels import find_messages
from monitor.store.store import Store
from tests.integration.helpers import FIXED_NOW, SHOP_TOML, engine_for, shuffled_batches
from tests.waiting import ROOT, cli, cli_env, eventually, free_port, in_thread, scrape_sum, serving, start_cli

# --- (1) decisions and reasons do not depend on the order of ingest ------------------------------

T0 = FIXED_NOW - timedelta(days=1)
INBOUND = [
    "where is my parcel?",
    "thanks!",
    "merci 👍",
    "still nothing...",
    "love it 😍",
    "lol 😂",
    "ok",
    "ma commande n'est toujours pas arrivée",
]
OUTBOUND = ["Hi, it ships today ^JD", "Auto-reply: we are closed, we will answer on Monday"]
_counter = itertools.count()


@st.composite
def a_thread(draw: st.DrawFn) -> list[Message]:
    """One public thread: a customer's messages (some replying to the brand) and the brand's
    replies (some automatic), ties in time included."""
    n = next(_counter)
    out = []
    for i in range(draw(st.integers(1, 9))):
        outbound = draw(st.booleans())
        minute = draw(st.integers(0, 240))
        out.append(
            Message(
                f"{n}-{i}",
                f"conv{n}:42",
                "public",
                "outbound" if outbound else "inbound",
                T0 + timedelta(minutes=minute),
                draw(st.sampled_from(OUTBOUND if outbound else INBOUND)),
                "1" if outbound else "42",
                "shop" if outbound else "cust",
                reply_to_brand=not outbound and draw(st.booleans()),
            )
        )
    return out


async def decisions(store: Store, account: str, ids: list[str]) -> dict[str, Flags]:
    """The stored flags of these messages: decision, reason, and who sent a reply."""
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT m.external_id, m.is_question, m.is_automatic, m.reason, m.agent, m.team, m.app FROM messages m"
            " JOIN accounts a ON a.id = m.account_id WHERE a.name = $1 AND m.external_id = ANY($2::text[])",
            account,
            ids,
        )
    return {r["external_id"]: Flags(*r[1:]) for r in rows}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=a_thread(), seed=st.integers(0, 2**32 - 1), batches=st.integers(1, 4))
def test_decisions_and_reasons_do_not_depend_on_the_order_of_ingest(
    db: tuple[asyncio.AbstractEventLoop, Store], messages: list[Message], seed: int, batches: int
) -> None:
    loop, store = db
    chunks = shuffled_batches(messages, random.Random(seed), batches)

    async def go() -> None:
        engine = await engine_for(store, ["ordered", "shuffled"])
        by_name = {c.name: i for i, c in engine.accounts.items()}
        await engine.ingest(by_name["ordered"], "s", sorted(messages, key=lambda m: m.created_at), None)
        for chunk in chunks:
            await engine.ingest(by_name["shuffled"], "s", chunk, None)
        ids = [m.external_id for m in messages]
        ctx = engine.accounts[by_name["ordered"]]
        pure = thread_outcome(ctx, ThreadInfo(0, ctx.id, "public", "42", "cust"), list(messages), FIXED_NOW).flags
        assert await decisions(store, "shuffled", ids) == await decisions(store, "ordered", ids) == pure

    loop.run_until_complete(go())


# --- (2) a correction overrides the rules, in ingests and recompute --------------------------------


async def test_a_label_overrides_the_rules_in_later_ingests_and_recompute_and_rules_gives_it_back(store: Store) -> None:
    engine = await engine_for(store, ["shop-x"])
    [account_id] = engine.accounts

    def tweet(ext: str, minute: int, text: str, direction: Direction = "inbound") -> Message:
        return Message(
            ext,
            "c:7",
            "public",
            direction,
            T0 + timedelta(minutes=minute),
            text,
            "7" if direction == "inbound" else "1",
            "cust",
        )

    await engine.ingest(account_id, "s", [tweet("q", 0, "where is my parcel?"), tweet("t", 5, "love it 😍")], None)

    async def waits() -> list[tuple[Any, ...]]:
        async with store.pool.acquire() as conn:
            return [
                tuple(r)
                for r in await conn.fetch(
                    "SELECT seq, opened_message, questions, closed_message FROM waits ORDER BY seq"
                )
            ]

    assert await waits() == [(0, "q", 1, None)]
    [praise] = await find_messages(store.pool, "t", [account_id])
    rules_said = (await decisions(store, "shop-x", ["t"]))["t"]
    assert rules_said[0] is False
    correction = await engine.correct(praise, True, by="alice", note="a question in disguise")
    assert (correction.old, correction.new) == ((False, rules_said[2]), (True, "corrected"))
    assert await waits() == [(0, "q", 2, None)]  # it joined the wait
    # A reply and a later message arrive; the waits are recomputed (a policy change): the label holds.
    await engine.ingest(
        account_id, "s", [tweet("r", 10, "Hi, it ships today ^JD", "outbound"), tweet("n", 20, "merci 👍")], None
    )
    assert await engine.recompute_since(T0 - timedelta(days=1)) == 1
    assert (await decisions(store, "shop-x", ["t"]))["t"] == Flags(True, False, "corrected")
    assert await waits() == [(0, "q", 2, "r")]
    # Back to the rules: the waits the rules give.
    back = await engine.correct(praise, None, by="alice", note=None)
    assert (back.old, back.new) == ((True, "corrected"), (False, rules_said[2]))
    assert (await decisions(store, "shop-x", ["t"]))["t"] == rules_said
    assert await waits() == [(0, "q", 1, "r")]
    async with store.pool.acquire() as conn:
        history = [
            tuple(r)
            for r in await conn.fetch(
                "SELECT label, labelled_by, note, old_is_question, new_is_question FROM message_labels ORDER BY id"
            )
        ]
    assert history == [(True, "alice", "a question in disguise", False, True), (None, "alice", None, True, False)]


# --- the command line on a stored inbox ------------------------------------------------------------

CONFIG = (
    """
[server]
listen = "127.0.0.1:{port}"
snapshot_interval = "1h"

[server.api]
token_env = "LABELS_TOKEN"

"""
    + SHOP_TOML
)

ACCOUNT = """
[[brands.accounts]]
name = "{name}"
channel = "x"
user_id = "{user}"
handle = "{name}"
{source}
"""

DEMO = 'source = "demo"'
TOKEN = "labels-api-token-for-tests"


def write_config(path: Path, port: int, source: str = DEMO, **users: str) -> Config:
    users = users or {"shop-x": "1001", "other-x": "1002"}
    text = CONFIG.format(
        port=port, accounts="".join(ACCOUNT.format(name=n, user=u, source=source) for n, u in users.items())
    )
    path.write_text(text)
    return parse(tomllib.loads(text), str(path), environ={"X_TOKEN": "t", "LABELS_TOKEN": TOKEN})


NOW = datetime.now(UTC).replace(microsecond=0)


def post(
    ext: str,
    minutes_ago: int,
    text: str,
    *,
    customer: str = "7001",
    outbound: bool = False,
    reply_to_brand: bool = False,
    kind: ThreadKind = "public",
) -> Message:
    handle = "shop-x" if outbound else f"cust{customer}"
    thread = f"c{customer}:{customer}" if kind == "public" else f"dm-{customer}"
    return Message(
        ext,
        thread,
        kind,
        "outbound" if outbound else "inbound",
        NOW - timedelta(minutes=minutes_ago),
        text,
        "1001" if outbound else customer,
        handle,
        f"https://x.com/{handle}/status/{ext}",
        reply_to_brand=reply_to_brand,
    )


INBOX = [
    post("101", 180, "where is my parcel? order 4411"),
    post("102", 170, "Hi, it ships today ^JD", outbound=True),
    post("103", 165, "thanks!", reply_to_brand=True),
    post("201", 60, "my order never arrived, can you check?", customer="7002"),
    post("301", 20, "love the new collection 😍", customer="7003"),
    post("401", 30, "Bonjour, je voudrais changer mon adresse", customer="7004", kind="private"),
]


async def stored_inbox(database_url: str, config: Config) -> Engine:
    """The inbox above in shop-x, and 201 (a tweet that mentions both brands) in other-x too."""
    from monitor.store.db import create_pool

    pool = await create_pool(database_url, min_size=1, max_size=2)
    store = Store(pool)
    engine, ids = await prepare(config, store)
    await engine.ingest(ids["shop-x"], "x.mentions", INBOX, None)
    await engine.ingest(ids["other-x"], "x.mentions", [INBOX[3]], None)
    return engine


def fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    async def go() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(go())


STATE = (
    "SELECT 'wait', w::text FROM waits w UNION ALL"
    " SELECT 'message', concat_ws(' ', m.id, m.external_id, m.is_question, m.reason, m.label) FROM messages m"
    " UNION ALL SELECT 'label', l::text FROM message_labels l ORDER BY 1, 2"
)
"""Everything a correction changes, as rows of text."""


@pytest.fixture
def inbox(tmp_path: Path, database_url: str) -> dict[str, str]:
    """The inbox stored; the environment to run the command line on it."""
    config = write_config(tmp_path / "shop.toml", free_port())

    async def go() -> None:
        engine = await stored_inbox(database_url, config)
        await engine.store.pool.close()

    asyncio.run(go())
    return cli_env(INBOX_MONITOR_DATABASE_URL=database_url, INBOX_MONITOR_CONFIG=str(tmp_path / "shop.toml"))


MESSAGE_ROW = re.compile(r"^[> ]  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  (?:in |out)  (\S+) ")


def test_explain_shows_the_thread_its_decisions_with_reasons_and_its_waits(
    inbox: dict[str, str], database_url: str
) -> None:
    env = inbox
    stored = {
        r[0]: (r[1], r[2])
        for r in fetch(
            database_url,
            "SELECT m.external_id, m.is_question, m.reason FROM messages m"
            " JOIN accounts a ON a.id = m.account_id WHERE a.name = 'shop-x'",
        )
    }
    with ThreadPoolExecutor(2) as pool:  # two reads
        explained = pool.submit(cli, "explain", "201", "--account", "shop-x", "--format", "json", env=env)
        shown = cli("explain", "https://x.com/cust7001/status/103", env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "shop-x (shop, x): public thread c7001:7001, customer cust7001"
    rows = {m.group(1): line for line in lines if (m := MESSAGE_ROW.match(line))}
    assert set(rows) == {"101", "102", "103"}
    assert rows["103"].startswith(">")  # the message asked about
    for ext in ("101", "103"):
        is_question, reason = stored[ext]
        assert ("needs reply" if is_question else "no reply") in rows[ext] and f" {reason} " in rows[ext], rows[ext]
    assert "reply" in rows["102"] and "Hi, it ships today ^JD" in rows["102"]
    ask = INBOX[0].created_at.strftime("%Y-%m-%d %H:%M:%S")
    answer = INBOX[1].created_at.strftime("%Y-%m-%d %H:%M:%S")
    assert f"wait #0 (first): opened {ask} by 101 (1 question), closed {answer} by 102" in shown.stdout
    assert (
        "target 30m 00s" in shown.stdout and "waited 10m 00s (10m 00s in business hours), within target" in shown.stdout
    )

    data = json.loads(explained.result().stdout)
    assert data["asked"] == "201" and data["thread"]["kind"] == "public"
    assert [(m["id"], m["needs_reply"], m["reason"]) for m in data["messages"]] == [("201", *stored["201"])]
    [wait] = data["waits"]
    assert (wait["kind"], wait["opened_message"], wait["closed_at"], wait["breached"]) == ("first", "201", None, True)


def test_mark_refuses_what_it_cannot_correct_and_changes_nothing(inbox: dict[str, str], database_url: str) -> None:
    env = inbox
    before = fetch(database_url, STATE)
    refused = {
        ("999999", "--no-reply"): "no message '999999' in any configured account",
        ("201", "--no-reply"): "names messages of several accounts (other-x, shop-x)",
        ("101", "--no-reply", "--account", "other-x"): "no message '101' in account other-x",
        ("102", "--needs-reply"): "message 102 of shop-x is the brand's own (outbound)",
        ("101", "--rules", "--account", "nope"): "no account named 'nope'",
        ("101",): "--needs-reply, --no-reply or --rules",
        ("101", "--no-reply", "--note", "n" * 1001): "note: longer than 1000 characters",
    }
    with ThreadPoolExecutor(4) as pool:  # each is refused, nothing is written: side by side
        results = list(pool.map(lambda args: cli("mark", *args, env=env), refused))
    for (args, error), result in zip(refused.items(), results, strict=True):
        assert result.returncode == 2 and error in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert fetch(database_url, STATE) == before
    # The same id with its account: corrected.
    ok = cli("mark", "201", "--no-reply", "--account", "other-x", "--by", "bob", env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[0].startswith("other-x 201: needs a reply (") and ok.stdout.splitlines()[0].endswith(
        "→ no reply (corrected)"
    )
    assert "No wait: no message of this thread needs a reply." in ok.stdout
    assert fetch(
        database_url, "SELECT a.name, l.labelled_by FROM message_labels l JOIN accounts a ON a.id = l.account_id"
    ) == [("other-x", "bob")]


def test_labels_export_is_read_by_question_eval_unchanged(inbox: dict[str, str], tmp_path: Path) -> None:
    env = inbox
    for args in (
        ("103", "--needs-reply", "--note", "asks again"),
        ("301", "--needs-reply"),
        ("201", "--no-reply", "--account", "shop-x"),
        ("401", "--no-reply"),
        ("101", "--no-reply"),
        ("101", "--rules"),
    ):  # the last one undoes the one before
        assert cli("mark", *args, env=env).returncode == 0, args
    out = tmp_path / "mine.tsv"
    exported = cli("labels", "export", "--out", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    assert "wrote" in exported.stderr and "3 correction(s)" in exported.stderr
    rows = [line.split("\t") for line in out.read_text().splitlines() if not line.startswith("#")]
    assert rows == [
        ["label", "lang", "text"],
        ["1", "en", "thanks!"],
        ["1", "en", "love the new collection 😍"],
        ["0", "en", "my order never arrived, can you check?"],
    ]
    assert "1 correction(s) of private-thread messages left out" in out.read_text()
    scored = subprocess.run(
        [sys.executable, "scripts/question_eval.py", "--data", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert scored.returncode == 0, scored.stderr
    [total] = [line.split() for line in scored.stdout.splitlines() if line.startswith("all ")]
    assert total[1] == "3"  # every exported correction scored
    only_other = cli("labels", "export", "--account", "other-x", env=env)
    assert only_other.returncode == 0 and only_other.stdout.splitlines()[-1] == "label\tlang\ttext"


# --- the labels API --------------------------------------------------------------------------------


async def test_labels_api_checks_its_token_its_body_and_the_message(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path / "shop.toml", 0)
    engine = await stored_inbox(database_url, config)
    store = engine.store
    metrics = Metrics(engine.accounts, registry=None)
    by_name = {c.name: i for i, c in engine.accounts.items()}
    metrics.hold({by_name["shop-x"]})  # another process holds other-x
    servers = [
        HttpServer(
            "127.0.0.1",
            0,
            store=store,
            poller=None,  # type: ignore[arg-type]  # the labels API runs without pollers
            metrics=metrics,
            registry=CollectorRegistry(),
            engine=engine,
            api_token=token,
        )
        for token in (EnvSecret("LABELS_TOKEN", {"LABELS_TOKEN": TOKEN}), EnvSecret(None))
    ]
    notices: list[tuple[int, str]] = []  # every correction notice this process heard, held here or not

    def corrected(account_id: int, direction: str) -> None:
        notices.append((account_id, direction))
        metrics.corrected(account_id, direction)

    listener = asyncio.create_task(nudges.listener(store.pool, lambda a, s: None, corrected=corrected).run())
    for server in servers:
        await server.start()
    base, unconfigured = (f"http://127.0.0.1:{s.port}/api/messages" for s in servers)

    async def state() -> list[tuple[Any, ...]]:
        async with store.pool.acquire() as conn:
            return [tuple(r) for r in await conn.fetch(STATE)]

    try:
        async with aiohttp.ClientSession() as http:

            async def call(
                url: str, body: bytes | dict[str, Any], token: str | None = TOKEN, scheme: str = "Bearer"
            ) -> tuple[int, dict[str, Any]]:
                headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                async with http.post(url, data=data, headers=headers) as r:
                    return r.status, await r.json()

            before = await state()
            ok = {"needs_reply": False, "note": "spam", "by": "grafana"}
            refused: list[tuple[str, bytes | dict[str, Any], str | None, int, str]] = [
                (f"{unconfigured}/201/label", ok, TOKEN, 404, "set token_env in [server.api]"),
                (f"{base}/201/label?account=shop-x", ok, None, 401, "bearer token"),
                (f"{base}/201/label?account=shop-x", ok, "wrong", 401, "bearer token"),
                (f"{base}/201/label?account=shop-x", ok, TOKEN[:-1], 401, "bearer token"),
                (f"{base}/201/label?account=shop-x", b"needs_reply=false", TOKEN, 400, "body: not JSON"),
                (f"{base}/201/label?account=shop-x", b"[]", TOKEN, 400, "body: expected a JSON object"),
                (
                    f"{base}/201/label?account=shop-x",
                    b"[" * 5000 + b"]" * 5000,
                    TOKEN,
                    400,
                    "body: JSON nested too deep",
                ),
                (f"{base}/201/label?account=shop-x", {"note": "x"}, TOKEN, 400, "needs_reply: required"),
                (f"{base}/201/label?account=shop-x", {"needs_reply": "no"}, TOKEN, 400, "needs_reply: expected"),
                (
                    f"{base}/201/label?account=shop-x",
                    {"needs_reply": False, "lable": 1},
                    TOKEN,
                    400,
                    "lable: unknown field",
                ),
                (
                    f"{base}/201/label?account=shop-x",
                    {"needs_reply": False, "note": "n" * 1001},
                    TOKEN,
                    400,
                    "note: expected a text of at most 1000 characters",
                ),
                (f"{base}/201/label?account=shop-x", {"needs_reply": False, "by": 7}, TOKEN, 400, "by: expected"),
                (f"{base}/201/label?account=shop-x", b" " * (API_BODY_MAX + 1), TOKEN, 413, "body: larger than"),
                (f"{base}/999/label", ok, TOKEN, 404, "no message '999'"),
                (f"{base}/101/label?account=other-x", ok, TOKEN, 404, "no message '101' in account other-x"),
                (f"{base}/201/label", ok, TOKEN, 409, "several accounts"),
                (f"{base}/102/label", ok, TOKEN, 422, "outbound"),
            ]
            for url, body, token, status, error in refused:
                got = await call(url, body, token)
                assert got[0] == status and error in got[1]["error"], (url, body, got)
            assert await call(f"{base}/201/label", ok, TOKEN, scheme="Basic") == (
                401,
                {"error": "missing or wrong bearer token"},
            )
            assert await state() == before  # nothing changed

            status, answer = await call(f"{base}/201/label?account=shop-x", ok)
            assert status == 200, answer
            assert (answer["account"], answer["message"], answer["direction"], answer["new"]) == (
                "shop-x",
                "201",
                "no_reply",
                {"needs_reply": False, "reason": "corrected"},
            )
            assert answer["old"]["needs_reply"] is True
            # The notice reaches the holder: counted (the brand and channel only), gauges re-read.
            await eventually(
                lambda: metrics.corrections.series[("shop", "x", "no_reply")].value == 1,
                timeout=5,
                what="the correction counted",
            )
            status, _ = await call(f"{base}/201/label", {"needs_reply": None})
            assert status == 409  # still in two accounts
            assert (await call(f"{base}/201/label?account=other-x", {"needs_reply": True}))[0] == 200
            # The notice for an account held elsewhere arrives here too, and is not counted.
            await eventually(
                lambda: (by_name["other-x"], "needs_reply") in notices,
                timeout=5,
                what="the other account's correction notice",
            )
            assert metrics.corrections.series[("shop", "x", "needs_reply")].value == 0
            async with store.pool.acquire() as conn:
                assert [
                    tuple(r)
                    for r in await conn.fetch("SELECT labelled_by, note, label FROM message_labels ORDER BY id")
                ] == [("grafana", "spam", False), ("api", None, True)]
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        for server in servers:
            await server.stop()
        await store.pool.close()


# --- (3) end to end: a running monitor sees a correction within 2 s ------------------------------


def http(
    method: str, url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


WAIT_ROWS = "SELECT * FROM waits ORDER BY thread_id, seq"
WAIT_FACTS = (
    "SELECT thread_id, seq, kind, opened_at, opened_message, questions, closed_at, closed_message,"
    " target_seconds, deadline, at_risk_at, wall_seconds, business_seconds, at_risk_reached_at, breached_at"
    " FROM waits ORDER BY thread_id, seq"
)


@pytest.mark.slow
async def test_a_correction_reaches_a_running_monitor_within_2_s_and_marking_back_restores_the_waits(
    tmp_path: Path, database_url: str
) -> None:
    api = FakeXApi()
    base = await api.start()
    api.add_user("1001", "shop")
    for n in (1, 2):
        api.add_user(f"700{n}", f"cust{n}")
    api.add_bearer_token("x-token")
    now = time.time()
    asked = api.add_tweet("7001", "@shop where is my parcel? order 4411", now - 180 * 60, mentions=["1001"])
    answered = api.add_tweet("1001", "@cust1 it ships today ^JD", now - 170 * 60, reply_to=asked)
    thanks = api.add_tweet("7001", "@shop thanks!", now - 165 * 60, reply_to=answered, mentions=["1001"])
    late = api.add_tweet("7002", "@shop my order never arrived, can you check?", now - 60 * 60, mentions=["1001"])
    port = free_port()
    # Nothing new comes after the first poll; 30 s, not an hour: a first poll waits up to a tenth of it.
    source = f'bearer_token_env = "X_TOKEN"\napi_base_url = "{base}"\npoll_interval = "30s"'
    write_config(tmp_path / "run.toml", port, source, **{"shop-x": "1001"})
    env = cli_env(
        INBOX_MONITOR_DATABASE_URL=database_url,
        INBOX_MONITOR_CONFIG=str(tmp_path / "run.toml"),
        X_TOKEN="x-token",
        LABELS_TOKEN=TOKEN,
    )
    proc = start_cli("run", env=env, log=tmp_path / "run.log")
    loop = asyncio.get_running_loop()

    def metric(name: str, **labels: str) -> float:
        return scrape_sum(port, f"social_inbox_{name}", **labels)

    async def rows(sql: str) -> list[tuple[Any, ...]]:
        return await loop.run_in_executor(None, fetch, database_url, sql)

    async def within_2_s(condition: Any, what: str) -> float:
        """Seconds until `condition` holds, at most 2 (the correction has committed by now)."""
        start = time.monotonic()
        await eventually(condition, timeout=2, interval=0.05, what=what)
        return time.monotonic() - start

    try:
        # The monitor reads the inbox: one answered wait, one open and breached (counted).
        async def polled() -> bool:
            return await rows("SELECT count(*) FROM poll_state WHERE status = 'ok'") == [(2,)]

        await eventually(in_thread(serving(proc, port)), timeout=60, interval=0.2, what="the process ready")
        await eventually(polled, timeout=60, interval=0.3, what="both streams polled")
        await eventually(
            lambda: metric("open_waits", account="shop-x") == 1, timeout=10, what="the open wait in /metrics"
        )

        async def breach_counted() -> bool:
            return await rows("SELECT count(*) FROM waits WHERE breach_counted_at IS NOT NULL") == [(1,)]

        await eventually(breach_counted, timeout=10, what="the breach counted")
        original, facts = await rows(WAIT_ROWS), await rows(WAIT_FACTS)
        assert [(r[2], r[4]) for r in facts] == [("first", str(asked)), ("first", str(late))]

        # `mark` in another process: the courtesy needs a reply after all.
        marked = await loop.run_in_executor(
            None,
            lambda: cli(
                "mark",
                f"https://x.com/cust1/status/{thanks}",
                "--needs-reply",
                "--note",
                "asks again",
                "--by",
                "alice",
                env=env,
            ),
        )
        assert marked.returncode == 0, marked.stderr
        assert marked.stdout.splitlines()[0] == f"shop-x {thanks}: no reply (courtesy) → needs a reply (corrected)"
        assert "wait #1 (next): opened" in marked.stdout and f"by {thanks} (1 question), still open" in marked.stdout
        took = await within_2_s(lambda: metric("open_waits", account="shop-x") == 2, "/metrics after mark")
        assert metric("corrections_total", brand="shop", channel="x", direction="needs_reply") == 1
        assert [r[4] for r in await rows(WAIT_FACTS)] == [str(asked), str(thanks), str(late)]
        print(f"mark → /metrics: {took:.2f} s")

        # Back to the rules: the original waits, exactly (every column).
        back = await loop.run_in_executor(None, lambda: cli("mark", str(thanks), "--rules", env=env))
        assert back.returncode == 0, back.stderr
        assert back.stdout.splitlines()[0] == f"shop-x {thanks}: needs a reply (corrected) → no reply (courtesy)"
        await within_2_s(lambda: metric("open_waits", account="shop-x") == 1, "/metrics after --rules")
        assert await rows(WAIT_ROWS) == original

        # The labels API (as a Grafana data link calls it): a bad token changes nothing.
        url = f"http://127.0.0.1:{port}/api/messages/{late}/label"
        labels_before = await rows("SELECT count(*) FROM message_labels")
        status, _ = http("POST", url, {"needs_reply": False}, {"Authorization": "Bearer nope"})
        assert status == 401 and await rows("SELECT count(*) FROM message_labels") == labels_before
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        status, answer = http("POST", url, {"needs_reply": False, "note": "a bot", "by": "carol"}, auth)
        assert status == 200 and answer["new"] == {"needs_reply": False, "reason": "corrected"}, answer
        await within_2_s(lambda: metric("open_waits", account="shop-x") == 0, "/metrics after the API")
        assert [r[4] for r in await rows(WAIT_FACTS)] == [str(asked)]
        status, _ = http("POST", url, {"needs_reply": None, "by": "carol"}, auth)
        assert status == 200
        await within_2_s(lambda: metric("open_waits", account="shop-x") == 1, "/metrics after the API, back")
        assert await rows(WAIT_FACTS) == facts  # the wait is back, the same
        assert metric("corrections_total", brand="shop", channel="x") == 4
        assert metric("corrections_total", direction="rules") == 2

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        log = (tmp_path / "run.log").read_text()
        assert TOKEN not in log and "level=error" not in log, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await api.stop()
