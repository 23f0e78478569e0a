"""Several processes on one PostgreSQL: each account polled by exactly one, and taken over when a
process dies."""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import time
from pathlib import Path

import asyncpg
import pytest

from monitor.leases import LeaseManager
from monitor.simulator.x_api import MENTIONS, TWEETS, FakeXApi
from monitor.store.leases import LeaseStore
from monitor.store.store import AccountRow, Store
from tests.waiting import cli_env, eventually, free_port, in_thread, scrape_sum, serving, start_cli


async def test_lease_managers_split_the_accounts_and_take_over_from_a_dead_one(store: Store) -> None:
    ids = sorted(
        (
            await store.sync_accounts(AccountRow(f"a{i:02d}", "b", "x", str(i), None, "default") for i in range(30))
        ).values()
    )
    ttl = 1.5
    holding: dict[str, set[int]] = {}

    def manager(name: str) -> LeaseManager:
        async def changed(gained: set[int], lost: set[int]) -> None:
            holding[name] = (holding.get(name, set()) | gained) - lost

        return LeaseManager(LeaseStore(store.pool), ids, on_change=changed, ttl=ttl, holder=name)

    managers = {n: manager(n) for n in ("p1", "p2", "p3")}
    tasks = {n: asyncio.create_task(m.run()) for n, m in managers.items()}
    overlaps: list[tuple[int, list[str]]] = []

    async def watch() -> None:  # at every moment: no account polled by two processes
        while True:
            for account in ids:
                polling = [n for n, m in managers.items() if not tasks[n].done() and m.holds(account)]
                if len(polling) > 1:
                    overlaps.append((account, polling))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        await eventually(
            lambda: (
                sorted(len(m.held) for m in managers.values()) == [10, 10, 10]
                and set().union(*(m.held for m in managers.values())) == set(ids)
            ),
            timeout=20,
            what="an even split",
        )
        dead = managers["p2"].held.copy()
        tasks["p2"].cancel()  # dies without giving its leases back
        died = time.monotonic()
        survivors = [managers["p1"], managers["p3"]]
        await eventually(
            lambda: set(survivors[0].held) | set(survivors[1].held) == set(ids),
            timeout=20,
            what="the dead process's accounts taken over",
        )
        took = time.monotonic() - died
        # The lease runs out, a survivor's next step (every ttl / 3) takes it: the rest is load.
        assert took <= ttl + ttl / 3 + LOAD_SLACK, took
        assert dead and all(survivors[0].holds(a) or survivors[1].holds(a) for a in dead)
        assert overlaps == []
    finally:
        watcher.cancel()
        for t in tasks.values():
            t.cancel()
        await asyncio.gather(*tasks.values(), watcher, return_exceptions=True)


async def test_a_lease_past_its_end_is_renewed_unless_another_process_took_it(store: Store) -> None:
    """A process stalled past its leases' end (a long first poll on a loaded machine) keeps what
    nobody took, without stopping its polls; what another process took is lost to it."""
    ids = sorted(
        (
            await store.sync_accounts(AccountRow(f"s{i:02d}", "b", "x", str(i), None, "default") for i in range(4))
        ).values()
    )
    changes: dict[str, list[tuple[set[int], set[int]]]] = {"p1": [], "p2": []}

    def manager(name: str) -> LeaseManager:
        async def changed(gained: set[int], lost: set[int]) -> None:
            changes[name].append((gained, lost))

        return LeaseManager(LeaseStore(store.pool), ids, on_change=changed, ttl=30.0, holder=name)

    async def stall_past_the_end() -> None:
        async with store.pool.acquire() as conn:
            await conn.execute("UPDATE account_leases SET expires_at = now() - interval '1 second'")

    p1 = manager("p1")
    await p1.step()
    assert set(p1.held) == set(ids) and changes["p1"] == [(set(ids), set())]
    await stall_past_the_end()
    await p1.step()  # nobody took them: still p1's, its polls never stopped
    assert set(p1.held) == set(ids) and changes["p1"] == [(set(ids), set())]

    await stall_past_the_end()
    p2 = manager("p2")
    await p2.step()  # a second process takes its share (half) of the ended leases
    taken = set(p2.held)
    assert len(taken) == 2
    await p1.step()
    assert set(p1.held) == set(ids) - taken and changes["p1"][1:] == [(set(), taken)]


LOAD_SLACK = 2.0
"""Real seconds the suite's load (two workers on two cores) may add to a takeover, beyond the
lease's end and the next renewal step that sees it."""
ACCOUNTS = 300
POLL = 2.0
LEASE = 6.0
"""Renewed every 2 s: a process may stall up to 4 s (three processes of 100 accounts polling every
2 s, beside the rest of the suite on 2 cores) before another takes its accounts. At 4 s (1.3 s of
slack) leases flapped between live processes under that load."""


def config(port: int, api: str) -> str:
    head = f"""
[server]
listen = "127.0.0.1:{port}"
snapshot_interval = "1s"
lease_time = "{LEASE:.0f}s"

[policies.default]
public = {{ first = "30m", next = "1h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false

[[brands]]
name = "agency"
"""
    accounts = "".join(
        f"""
[[brands.accounts]]
name = "acc-{i:03d}"
channel = "x"
user_id = "{1000 + i}"
handle = "brand{i}"
bearer_token_env = "X_TOKEN"
api_base_url = "{api}"
poll_interval = "{POLL:.0f}s"
"""
        for i in range(ACCOUNTS)
    )
    return head + accounts


@pytest.mark.slow
async def test_three_processes_share_300_accounts(tmp_path: Path, database_url: str) -> None:
    api = FakeXApi(limits={MENTIONS: 10**9, TWEETS: 10**9})  # each process has its own app token
    base = await api.start()
    for i in range(ACCOUNTS):
        user = str(1000 + i)
        api.add_user(user, f"brand{i}")
        api.add_user(str(5000 + i), f"customer{i}")
        api.add_tweet(
            str(5000 + i), f"@brand{i} my order never arrived, can you check?", time.time() - 600, mentions=[user]
        )
    tokens = {"p1": "token-p1", "p2": "token-p2", "p3": "token-p3"}
    for token in tokens.values():
        api.add_bearer_token(token)
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for name, token in tokens.items():
            port = free_port()
            (tmp_path / f"{name}.toml").write_text(config(port, base))
            env = cli_env(
                INBOX_MONITOR_DATABASE_URL=database_url,
                X_TOKEN=token,
                INBOX_MONITOR_CONFIG=str(tmp_path / f"{name}.toml"),
            )
            procs[name] = (start_cli("run", env=env, log=tmp_path / f"{name}.log"), port)
        for proc, port in procs.values():
            await eventually(in_thread(serving(proc, port)), timeout=60, interval=0.2, what="the process ready")

        def recent_split(window: float) -> dict[str, set[str]]:
            now = time.time()
            out: dict[str, set[str]] = {}
            for r in api.requests:
                if r.at >= now - window and r.credential and r.user_id:
                    out.setdefault(r.credential, set()).add(r.user_id)
            return out

        def balanced() -> bool:
            split = recent_split(POLL + 1)
            return (
                len(split) == 3
                and all(abs(len(v) - ACCOUNTS / 3) <= 2 for v in split.values())
                and sum(len(v) for v in split.values()) == ACCOUNTS
            )

        await eventually(balanced, timeout=120, interval=0.5, what="300 accounts split among 3 processes")

        victim, (proc, _) = "p2", procs["p2"]
        victim_accounts = recent_split(POLL + 1)[tokens[victim]]
        proc.send_signal(signal.SIGKILL)
        killed = time.time()

        def taken_over() -> bool:
            seen = {r.user_id for r in api.requests if r.at > killed and r.credential != tokens[victim]}
            return victim_accounts <= seen

        await eventually(taken_over, timeout=60, interval=0.2, what="the killed process's accounts polled again")
        took = max(min(r.at for r in api.requests if r.at > killed and r.user_id == a) for a in victim_accounts)
        # The lease runs out, a survivor's next step (every LEASE / 3) takes the accounts, their
        # first polls are spread over 0.1 * POLL; the processes may stall up to 4 s (LEASE).
        assert took - killed <= LEASE + LEASE / 3 + 0.1 * POLL + 4.0, took - killed

        # At no moment did two processes poll one account: two pollers at once would alternate
        # poll after poll; a lease moves only a few times (start-up rebalancing, the kill).
        by_account: dict[str, list[tuple[float, str]]] = {}
        for r in api.requests:
            if r.credential and r.user_id:
                by_account.setdefault(r.user_id, []).append((r.at, r.credential))
        moves = []
        for account, calls in by_account.items():
            runs = [k for k, _ in itertools.groupby(c for _, c in sorted(calls))]
            moves.append(len(runs) - 1)
            assert len(runs) <= 3, (account, runs)
        assert len(by_account) == ACCOUNTS and sum(moves) >= 100  # the victim's accounts moved

        # Summed over the live processes, every account is exported once.
        live = [port for name, (_, port) in procs.items() if name != victim]
        await eventually(
            lambda: sum(scrape_sum(p, "social_inbox_account_info") for p in live) == ACCOUNTS,
            timeout=30,
            interval=0.5,
            what="each account exported by one process",
        )
        # ... and the sums are what one process would export: the open waits PostgreSQL holds.
        conn = await asyncpg.connect(database_url)
        try:
            open_waits = await conn.fetchval("SELECT count(*) FROM waits WHERE closed_at IS NULL")
        finally:
            await conn.close()
        assert open_waits == ACCOUNTS  # one unanswered question per account
        await eventually(
            lambda: sum(scrape_sum(p, "social_inbox_open_waits") for p in live) == open_waits,
            timeout=30,
            interval=0.5,
            what="summed open waits equal to PostgreSQL's",
        )
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        await api.stop()
