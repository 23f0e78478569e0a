"""Footprint and soak: one `inbox-monitor run` process polling many X accounts on the fake X API.

Samples the process's resident memory and CPU (from /proc) and its event-loop task count (from
/metrics). Two uses:
  footprint: python bench/bench_footprint.py --accounts 1000 --poll 60 --minutes 3
             (target: < 200 MB resident, < 10 % of one core)
  soak:      python bench/bench_footprint.py --accounts 200 --poll 5 --minutes 10 --faults
             (target: memory flat, < 10 % growth after warm-up; no leaked tasks; no unclosed session)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from common import start_monitor, x_account

from monitor.simulator.net import free_port
from monitor.simulator.x_api import MENTIONS, TWEETS, FakeXApi

EVERY = 300  # seconds between two questions to one account
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def config(port: int, api: str, accounts: int, poll: int) -> str:
    head = f"""
[server]
listen = "127.0.0.1:{port}"
[policies.default]
public = {{ first = "30m", next = "1h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false
[[brands]]
name = "bench"
"""
    return head + "".join(x_account(f"acc-{i:04d}", str(10_000 + i), api, poll) for i in range(accounts))


def sample(pid: int) -> tuple[float, float]:
    """(resident MB, CPU seconds so far)."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / TICKS
    rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 1e6
    return rss, cpu


def tasks(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("social_inbox_asyncio_tasks "):
                return float(line.split()[1])
    return float("nan")


async def run(accounts: int, poll: int, minutes: float, faults: bool) -> list[tuple[str, str]]:
    import pgserver

    data = tempfile.mkdtemp(prefix="imfoot-")  # config and log
    db = pgserver.get_server(tempfile.mkdtemp(prefix="imfootdb-"), cleanup_mode="delete")
    rates = (
        {"connection_reset": 0.02, "http_500": 0.02, "truncated_json": 0.02, "http_503_html": 0.02} if faults else {}
    )
    async with FakeXApi(limits={MENTIONS: 10**9, TWEETS: 10**9}, fault_rates=rates) as api:
        base = api.url
        api.add_bearer_token("tok")
        now = time.time()
        for i in range(accounts):
            brand = str(10_000 + i)
            api.add_user(brand, f"brand{i}")
            api.add_user(str(90_000 + i), f"customer{i}")
            for k in range(int(minutes * 60 / EVERY) + 2):  # a question every 5 min per account, half answered
                asked = now - 60 + (i % EVERY) + k * EVERY
                tid = api.add_tweet(
                    str(90_000 + i), f"@brand{i} my order {k} never arrived, can you check?", asked, mentions=[brand]
                )
                if k % 2 == 0:
                    api.add_tweet(brand, "sorry, on it", asked + 120, reply_to=tid)
        port = free_port()
        cfg = Path(data) / "bench.toml"
        cfg.write_text(config(port, base, accounts, poll))
        log = Path(data) / "run.log"
        proc = await start_monitor(cfg, db.get_uri(), log)
        samples: list[tuple[float, float, float, float]] = []
        try:
            end = time.monotonic() + minutes * 60
            while time.monotonic() < end:
                await asyncio.sleep(10)  # a sampling period, not a wait for something
                rss, cpu = sample(proc.pid)
                try:
                    n = await asyncio.to_thread(tasks, port)
                except OSError:
                    n = float("nan")
                samples.append((time.monotonic(), rss, cpu, n))
                print(
                    f"t={samples[-1][0] - samples[0][0]:5.0f}s rss={rss:6.1f} MB cpu={cpu:7.1f}s tasks={n:.0f}",
                    flush=True,
                )
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), timeout=60)
            db.cleanup()
    text = log.read_text()
    warm = samples[len(samples) // 4]  # after warm-up: the first quarter
    last = samples[-1]
    cpu_share = (last[2] - warm[2]) / (last[0] - warm[0])
    rss_after = [s[1] for s in samples[len(samples) // 4 :]]
    task_counts = [s[3] for s in samples[len(samples) // 4 :]]
    mode = f"{accounts} accounts, poll every {poll} s, {minutes:g} min{', faults injected' if faults else ''}"
    return [
        (f"{mode}: resident memory after warm-up, max", f"{max(rss_after):.0f} MB"),
        (f"{mode}: memory growth after warm-up", f"{(last[1] - warm[1]) / warm[1]:+.1%}"),
        (f"{mode}: CPU after warm-up", f"{cpu_share:.1%} of one core"),
        (
            f"{mode}: event-loop tasks after warm-up (min / median / max)",
            f"{min(task_counts):.0f} / {statistics.median(task_counts):.0f} / {max(task_counts):.0f}",
        ),
        (f"{mode}: 'Unclosed' warnings at exit", str(text.count("Unclosed"))),
        (f"{mode}: requests served by the fake", f"{len(api.requests):,}"),
    ]


def main() -> list[tuple[str, str]]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--poll", type=int, default=60)
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--faults", action="store_true")
    args, _ = parser.parse_known_args()
    figures = asyncio.run(run(args.accounts, args.poll, args.minutes, args.faults))
    for name, value in figures:
        print(f"{name}: {value}")
    return figures


if __name__ == "__main__":
    main()
