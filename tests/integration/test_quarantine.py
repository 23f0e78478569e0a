"""Items set aside: stored in the transaction of their page, once, and `inbox-monitor quarantine`
(list, retry) against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.app import prepare
from monitor.cli import main
from monitor.config import load
from monitor.domain.items import Rejected
from monitor.engine import Engine
from monitor.sources.x import ENDPOINT_MENTIONS, parse_tweets
from monitor.store.store import Store

DATA = Path(__file__).resolve().parent.parent / "data"
BRAND_ID = "1366662474757046272"
RECEIVED = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
CONFIG = """
[policies.default]
public = { first = "30m", next = "1h" }
private = { first = "1h", next = "2h" }
business_hours_only = false

[[brands]]
name = "acme"

[[brands.accounts]]
name = "acme-x"
channel = "x"
user_id = "1366662474757046272"
handle = "acme_support"
bearer_token_env = "QX_BEARER"

[[brands.accounts]]
name = "acme-fb"
channel = "facebook"
page_id = "5550001"
page_token_env = "QX_PAGE_TOKEN"
"""


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return {
        "INBOX_MONITOR_DATABASE_URL": database_url,
        "INBOX_MONITOR_CONFIG": str(path),
        "QX_BEARER": "bearer",
        "QX_PAGE_TOKEN": "page-token",
    }


async def setup(store: Store, env: dict[str, str]) -> tuple[Engine, dict[str, int]]:
    """The configured accounts registered, as the commands do."""
    return await prepare(load(env["INBOX_MONITOR_CONFIG"], environ=env), store)


async def invoke(env: dict[str, str], *args: str) -> Any:
    """Run the command line in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env, catch_exceptions=False)


async def rows(store: Store) -> list[dict[str, Any]]:
    async with store.pool.acquire() as conn:
        return [
            dict(r)
            for r in await conn.fetch(
                "SELECT q.*, a.name AS account FROM quarantine q JOIN accounts a ON a.id = q.account_id ORDER BY q.id"
            )
        ]


def recorded() -> dict[str, Any]:
    """A page of mentions as X served it, one reply without created_at."""
    body: dict[str, Any] = json.loads((DATA / "x_mentions_missing_created_at.json").read_text())
    return body


async def test_a_recorded_page_stores_its_tweets_quarantines_the_bad_one_and_moves_the_cursor(
    store: Store, env: dict[str, str]
) -> None:
    engine, ids = await setup(store, env)
    account_id = ids["acme-x"]
    page = parse_tweets(
        recorded(), user_id=BRAND_ID, handle="acme_support", endpoint=ENDPOINT_MENTIONS, received_at=RECEIVED
    )
    cursor = str(page.newest_id)
    first = await engine.ingest(
        account_id, "x.mentions", page.messages, cursor, rejected=page.rejected, received_at=RECEIVED
    )
    assert first.messages_new == 2 and first.quarantined == {"missing_created_at": 1}
    assert await store.load_cursor(account_id, "x.mentions") == cursor
    [row] = await rows(store)
    assert (row["account"], row["channel"], row["stream"], row["kind"], row["external_id"]) == (
        "acme-x",
        "x",
        "x.mentions",
        "tweet",
        "2123779850350415873",
    )
    assert (row["reason"], row["detail"]) == ("missing_created_at", "data[1].created_at: missing")
    assert row["raw"] == recorded()["data"][1] and row["received_at"] == RECEIVED
    assert row["resolved_at"] is None and row["retried_at"] is None
    # The same page read again: nothing new, the same row.
    again = await engine.ingest(
        account_id,
        "x.mentions",
        page.messages,
        cursor,
        rejected=page.rejected,
        received_at=RECEIVED + timedelta(minutes=1),
    )
    assert again.messages_new == 0 and again.quarantined == {}
    assert [r["id"] for r in await rows(store)] == [row["id"]]


async def test_an_item_without_a_readable_id_is_one_row_too_and_its_reason_follows_the_code(
    store: Store, env: dict[str, str]
) -> None:
    engine, ids = await setup(store, env)
    account_id = ids["acme-fb"]
    raw = {"created_time": "2026-11-20T14:00:00+0000", "message": "Bonjour \x00 ?", "from": {"id": "901"}}
    item = Rejected(
        "bad_id",
        "a comment of post 5550001_1.id: missing",
        raw,
        "comment",
        None,
        {"post": "5550001_1", "visitor": False},
    )
    results = [
        await engine.ingest(account_id, "facebook.comments", [], None, rejected=[item, item], received_at=RECEIVED)
        for _ in range(2)
    ]
    assert [r.quarantined for r in results] == [{"bad_id": 1}, {}]
    renamed = Rejected(
        "bad_field", "a comment of post 5550001_1: whatever a newer version says", raw, "comment", None, item.context
    )
    assert (await engine.ingest(account_id, "facebook.comments", [], None, rejected=[renamed])).quarantined == {}
    [row] = await rows(store)
    assert (row["reason"], row["detail"]) == ("bad_field", renamed.detail)
    assert row["raw"]["message"] == "Bonjour \ufffd ?"  # stored as PostgreSQL can hold it
    assert row["received_at"] == RECEIVED  # when it was first set aside


async def test_quarantine_lists_without_the_raw_text_unless_asked(store: Store, env: dict[str, str]) -> None:
    engine, ids = await setup(store, env)
    page = parse_tweets(
        recorded(), user_id=BRAND_ID, handle="acme_support", endpoint=ENDPOINT_MENTIONS, received_at=RECEIVED
    )
    await engine.ingest(ids["acme-x"], "x.mentions", page.messages, None, rejected=page.rejected, received_at=RECEIVED)
    await engine.ingest(
        ids["acme-fb"],
        "facebook.messenger",
        [],
        None,
        received_at=RECEIVED - timedelta(hours=1),
        rejected=[
            Rejected(
                "bad_text",
                "message m_1.message: not a string but a number",
                {"id": "m_1", "message": 42},
                "messenger_message",
                "m_1",
                {"conversation": "t_1"},
            )
        ],
    )
    listed = await invoke(env, "quarantine")
    assert listed.exit_code == 0, listed.output
    header, newest, oldest = listed.output.splitlines()
    assert header.split() == ["RECEIVED", "ACCOUNT", "STREAM", "ITEM", "REASON", "STATUS", "DETAIL"]
    assert newest.split() == [
        "2026-11-20T14:30:00+00:00",
        "acme-x",
        "x.mentions",
        "2123779850350415873",
        "missing_created_at",
        "new",
        "data[1].created_at:",
        "missing",
    ]
    assert oldest.split()[1:6] == ["acme-fb", "facebook.messenger", "m_1", "bad_text", "new"]
    assert "pareil pour moi" not in listed.output  # the customer's words stay in PostgreSQL
    only = await invoke(env, "quarantine", "--account", "acme-fb", "--limit", "5")
    assert len(only.output.splitlines()) == 2 and "acme-x" not in only.output
    raw = await invoke(env, "quarantine", "--account", "acme-x", "--raw")
    assert "pareil pour moi depuis lundi" in raw.output and raw.output.count("raw: ") == 1
    assert json.loads(raw.output.splitlines()[2].split("raw: ", 1)[1]) == recorded()["data"][1]
    unknown = await invoke(env, "quarantine", "--account", "nope")
    assert unknown.exit_code == 2
    assert "no account named 'nope' (known: acme-x, acme-fb)" in unknown.output


async def test_retry_stores_what_this_version_parses_and_keeps_the_rest_with_its_new_reason(
    store: Store, env: dict[str, str]
) -> None:
    """Rows an older version set aside: a tweet it wrongly refused (it parses now: stored, its wait
    opened, resolved), a tweet that still has no created_at (kept, with today's reason), and a
    Messenger conversation that parses now but holds one bad message (resolved; the message gets a
    row of its own)."""
    engine, ids = await setup(store, env)
    body = recorded()
    good, still = body["data"][2], body["data"][1]
    conversation = {
        "id": "t_5",
        "updated_time": "2026-11-20T14:10:00+0000",
        "messages": {
            "data": [
                {"id": "m_9", "created_time": "2026-11-20T14:10:00+0000", "from": {"id": "901"}, "message": 7},
                {
                    "id": "m_8",
                    "created_time": "2026-11-20T14:00:00+0000",
                    "from": {"id": "901", "name": "Ann"},
                    "message": "Bonjour, vous livrez en Belgique ?",
                },
            ]
        },
    }
    old = [
        (
            "acme-x",
            "x.mentions",
            Rejected(
                "bad_text",
                "data[2].text: too long (an old rule)",
                good,
                "tweet",
                good["id"],
                {"usernames": {"1469101279": "camille_dbs"}},
            ),
        ),
        ("acme-x", "x.mentions", Rejected("bad_field", "data[1]: an old reason", still, "tweet", still["id"])),
        (
            "acme-fb",
            "facebook.messenger",
            Rejected("bad_field", "conversation t_5: an old reason", conversation, "conversation", "t_5"),
        ),
    ]
    for account, stream, item in old:
        await engine.ingest(ids[account], stream, [], None, rejected=[item], received_at=RECEIVED)
    unknown = await invoke(env, "quarantine", "retry", "--account", "nope")
    assert unknown.exit_code == 2 and "no account named 'nope'" in unknown.output
    assert all(r["retried_at"] is None for r in await rows(store))

    done = await invoke(env, "quarantine", "retry", "--account", "acme-x")
    assert done.exit_code == 0, done.output
    assert done.output.strip() == (
        "retried 2 item(s): 1 resolved (1 new message(s)), 1 still set aside (missing_created_at: 1)"
    )
    by_id = {r["external_id"]: r for r in await rows(store)}
    assert by_id[good["id"]]["resolved_at"] is not None
    assert (by_id[still["id"]]["reason"], by_id[still["id"]]["detail"]) == (
        "missing_created_at",
        "data[0].created_at: missing",
    )
    assert by_id[still["id"]]["resolved_at"] is None and by_id[still["id"]]["retried_at"] is not None
    assert by_id["t_5"]["retried_at"] is None  # another account
    async with store.pool.acquire() as conn:
        stored = await conn.fetchrow(
            "SELECT m.external_id, m.author_handle, m.created_at, w.opened_at FROM messages m"
            " JOIN waits w ON w.opened_message = m.external_id"
        )
    assert stored is not None
    assert tuple(stored) == (
        good["id"],
        "camille_dbs",
        datetime(2026, 11, 20, 14, 3, 12, tzinfo=UTC),
        datetime(2026, 11, 20, 14, 3, 12, tzinfo=UTC),
    )

    everything = await invoke(env, "quarantine", "retry")
    assert everything.output.strip() == (
        "retried 2 item(s): 1 resolved (1 new message(s)), 1 still set aside (missing_created_at: 1)"
    )
    by_id = {r["external_id"]: r for r in await rows(store)}
    assert by_id["t_5"]["resolved_at"] is not None
    assert (by_id["m_9"]["kind"], by_id["m_9"]["reason"], by_id["m_9"]["resolved_at"]) == (
        "messenger_message",
        "bad_text",
        None,
    )
    listed = await invoke(env, "quarantine")
    assert {line.split()[3] for line in listed.output.splitlines()[1:]} == {still["id"], "m_9"}
    resolved = await invoke(env, "quarantine", "--resolved")
    assert len(resolved.output.splitlines()) == 1 + 4 and resolved.output.count(" resolved ") == 2
